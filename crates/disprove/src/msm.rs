//! The Groth16 public-input MSM `vk_x = IC_0 + sum_i x_i * IC_i` as program operations over
//! BN254 G1 in affine coordinates.
//!
//! The bases `IC_i` are fixed by the verifying key, so every window of every scalar gets its
//! own table of constants: [`G1AddWindow`] reads 4 bits of a committed scalar and adds
//! `d * 16^j * IC_i` (`d` in 1..=15, nothing for `d = 0`) to the accumulator. The addition is
//! affine with the slope `lambda` supplied by the witness and checked
//! (`lambda * (x2 - x1) == y2 - y1`, `lambda` canonical, `x2 != x1`): three field
//! multiplications per window.
//!
//! Degenerate additions (accumulator equal to plus or minus the table point) are avoided by
//! starting the accumulator at `R + IC_0` for a point `R` found by hashing to the curve
//! ([`offset_point`], nobody knows its discrete logarithm) and subtracting `R` at the end: a
//! degenerate step would reveal a discrete-logarithm relation between `R` and the bases. If
//! one happened anyway the script fails (`x2 != x1` is checked), so a leaf can never be spent
//! with a made-up slope.
//!
//! A scalar is read in `bits / 4` windows; [`FitsBits`] plus a program claim make a committed
//! scalar of `2^bits` or more a fault, so what the pairing check uses is the committed value.

use std::sync::Arc;

use ark_bn254::{Fq, G1Affine, G1Projective};
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{BigInteger, Field, PrimeField as _, Zero};
use bitcoin::hashes::{sha256, Hash};
use bitcoin::opcodes::all::*;
use bitvm2_script::builder::Fragment;

use crate::bn254::FqMul;
use crate::program::{field, fq_to_nat, push_val, CommitMode, Op, Operand, Program, Val, ValueId};
use crate::stack::Frame;

/// Window width of the MSM in bits.
pub const WINDOW: u32 = 4;

/// Bits `[lo, hi)` of a field element (as an integer).
fn bits_of(x: &Fq, lo: u32, hi: u32) -> u64 {
    let n = fq_to_nat(x);
    n.bits_at(lo as usize, (hi - lo) as usize)
}

/// `[v] -> [bits lo..hi of v]` for a limb `0 <= v < 2^width` (`hi <= width`, `hi - lo <= 8`):
/// strips the bits from the top with compare-and-subtract, collecting those in range.
fn limb_bits(width: u32, lo: u32, hi: u32) -> Fragment {
    let mut f = Fragment::new().push_int(0).op(OP_SWAP); // [acc v]
    for k in (lo..width).rev() {
        let bit = 1i64 << k;
        // [acc v] -> [acc' v']
        f = f.op(OP_DUP).push_int(bit).op(OP_GREATERTHANOREQUAL); // [acc v b]
        if k < hi {
            f = f.op(OP_DUP).op(OP_TOALTSTACK);
        }
        f = f.op(OP_IF).push_int(bit).op(OP_SUB).op(OP_ENDIF);
        if k < hi {
            f = f.op(OP_FROMALTSTACK).op(OP_IF).op(OP_SWAP).push_int(1i64 << (k - lo)).op(OP_ADD).op(OP_SWAP).op(OP_ENDIF);
        }
    }
    f.op(OP_DROP)
}

/// `[X] -> [X, d]`: the 4-bit window `j` of a canonical field element (limbs kept).
fn window_digit(j: u32) -> Fragment {
    let lay = field().layout();
    let (w, l) = (lay.limb_bits, lay.limbs());
    let lo = WINDOW * j;
    let hi = lo + WINDOW;
    let mut f = Fragment::new();
    let mut parts = 0;
    let mut shift = 0u32;
    let mut bit = lo;
    while bit < hi {
        let limb = (bit / w) as usize;
        let width = lay.limb_width(limb);
        let a = bit % w;
        let b = (hi - limb as u32 * w).min(width);
        if limb >= l || a >= width {
            break; // above the element's bits: zero
        }
        // limb `limb` sits at depth `limb + parts` (least significant on top)
        f = crate::leaf::pick(f, limb + parts).append(&limb_bits(width, a, b));
        for _ in 0..shift {
            f = f.op(OP_DUP).op(OP_ADD);
        }
        if parts > 0 {
            f = f.op(OP_ADD);
        } else {
            parts = 1;
        }
        shift += b - a;
        bit = limb as u32 * w + b;
    }
    if parts == 0 {
        f = f.push_int(0);
    }
    f
}

/// `P + Q` with the slope for `P != +-Q`, both finite; `None` when degenerate.
fn add_with_slope(p: (Fq, Fq), q: (Fq, Fq)) -> Option<((Fq, Fq), Fq)> {
    let dx = q.0 - p.0;
    let inv = dx.inverse()?;
    let lambda = (q.1 - p.1) * inv;
    let x3 = lambda.square() - p.0 - q.0;
    let y3 = lambda * (p.0 - x3) - p.1;
    Some(((x3, y3), lambda))
}

fn coords(p: &G1Affine) -> (Fq, Fq) {
    p.xy().expect("table points are finite")
}

/// Add a table point to the G1 accumulator: `[hints, acc(2), x(1)] -> [acc + T[d]]` where `d`
/// is window `window` of the scalar `x` (`T[0]` = nothing added), or, with no window,
/// `[hints, acc(2)] -> [acc + T]` for a single constant point.
#[derive(Debug, Clone)]
pub struct G1AddWindow {
    /// `table[d-1]` is added for digit `d`; a single entry when `window` is `None`.
    pub table: Vec<G1Affine>,
    /// Which 4-bit window of the scalar selects the entry.
    pub window: Option<u32>,
    mul: Arc<dyn FqMul>,
}

impl G1AddWindow {
    /// Window `j` of scalar `i`: entries `d * 16^j * base`.
    pub fn window(base: G1Affine, j: u32, mul: Arc<dyn FqMul>) -> Self {
        let step = G1Projective::from(base) * ark_bn254::Fr::from(2u64).pow([(WINDOW * j) as u64]);
        let table = (1..16u64).map(|d| (step * ark_bn254::Fr::from(d)).into_affine()).collect();
        G1AddWindow { table, window: Some(j), mul }
    }

    /// Add one constant point.
    pub fn constant(point: G1Affine, mul: Arc<dyn FqMul>) -> Self {
        G1AddWindow { table: vec![point], window: None, mul }
    }

    fn entry(&self, inputs: &[Val]) -> Option<&G1Affine> {
        match self.window {
            None => self.table.first(),
            Some(j) => {
                let d = bits_of(&inputs[1][0], WINDOW * j, WINDOW * (j + 1)) as usize;
                if d == 0 {
                    None
                } else {
                    self.table.get(d - 1)
                }
            }
        }
    }
}

impl Op for G1AddWindow {
    fn name(&self) -> String {
        match self.window {
            Some(j) => format!("g1 add window {j}"),
            None => "g1 add point".into(),
        }
    }
    fn input_elems(&self) -> Vec<usize> {
        if self.window.is_some() {
            vec![2, 1]
        } else {
            vec![2]
        }
    }
    fn output_elems(&self) -> usize {
        2
    }
    fn native(&self, inputs: &[Val]) -> Val {
        let acc = (inputs[0][0], inputs[0][1]);
        match self.entry(inputs) {
            None => vec![acc.0, acc.1],
            Some(t) => match add_with_slope(acc, coords(t)) {
                Some(((x, y), _)) => vec![x, y],
                // Degenerate (needs a discrete log, see the module doc): the script fails, so no
                // leaf can be spent over this op; give the group sum as the reference value.
                None => {
                    let s = (G1Affine::new_unchecked(acc.0, acc.1) + t).into_affine();
                    s.xy().map(|(x, y)| vec![x, y]).unwrap_or_else(|| vec![Fq::zero(), Fq::zero()])
                }
            },
        }
    }
    fn script(&self) -> Fragment {
        let fld = field();
        let l = fld.layout().limbs();
        let h = self.mul.hint_count();
        let mut pre = Fragment::new();
        if let Some(j) = self.window {
            // [.. x] -> [.. x d] -> [.. d]
            pre = crate::leaf::drop_n(pre.append(&window_digit(j)).op(OP_TOALTSTACK), l).op(OP_FROMALTSTACK);
        }
        // The addition proper, with the table point (tx, ty) pushed on top.
        let mut add = Frame::new();
        let (mh1, mh2, mh3, lam, ax, ay) = (add.input(h), add.input(h), add.input(h), add.input(l), add.input(l), add.input(l));
        let tx = add.input(l);
        let ty = add.input(l);
        let lam = add.apply(&fld.check_canonical(), &[lam], l);
        // dx = tx - ax, nonzero
        let tx_c = add.copy(tx);
        let ax_c = add.copy(ax);
        let dx = add.apply(&fld.sub(), &[tx_c, ax_c], l);
        let dx = add.apply(&nonzero_check(l), &[dx], l);
        let ay_c = add.copy(ay);
        let dy = add.apply(&fld.sub(), &[ty, ay_c], l);
        let lam_c = add.copy(lam);
        let prod = add.apply(self.mul.fragment(), &[mh1, lam_c, dx], l);
        add.consume(&fld.layout().equal().op(OP_VERIFY), &[prod, dy]);
        // x3 = lambda^2 - ax - tx
        let l1 = add.copy(lam);
        let l2 = add.copy(lam);
        let sq = add.apply(self.mul.fragment(), &[mh2, l1, l2], l);
        let ax_c = add.copy(ax);
        let t = add.apply(&fld.sub(), &[sq, ax_c], l);
        let x3 = add.apply(&fld.sub(), &[t, tx], l);
        // y3 = lambda * (ax - x3) - ay
        let x3_c = add.copy(x3);
        let dxx = add.apply(&fld.sub(), &[ax, x3_c], l);
        let p = add.apply(self.mul.fragment(), &[mh3, lam, dxx], l);
        let y3 = add.apply(&fld.sub(), &[p, ay], l);
        let add_script = add.finish(&[x3, y3]);

        let push_point = |t: &G1Affine| {
            let (x, y) = coords(t);
            push_val(&[x, y])
        };
        match self.window {
            None => push_point(&self.table[0]).append(&add_script),
            Some(_) => {
                // [H lam ax ay d]: d != 0 -> push T[d], add; d == 0 -> drop hints and lambda.
                let mut f = pre.op(OP_DUP).op(OP_0NOTEQUAL).op(OP_IF);
                for (k, t) in self.table.iter().enumerate() {
                    f = f.op(OP_DUP).push_int(k as i64 + 1).op(OP_EQUAL).op(OP_IF);
                    f = f.op(OP_DROP).append(&push_point(t)).push_int(0).op(OP_ENDIF);
                }
                // [.. ax ay tx ty 0] (exactly one entry matched since 1 <= d <= 15)
                f = f.op(OP_DROP).append(&add_script).op(OP_ELSE).op(OP_DROP);
                // [mh1 mh2 mh3 lam ax ay] -> [ax ay]
                let mut skip = Frame::new();
                let ins: Vec<_> = [h, h, h, l, l, l].iter().map(|&n| skip.input(n)).collect();
                f = f.append(&skip.finish(&[ins[4], ins[5]]));
                f.op(OP_ENDIF)
            }
        }
    }
    fn hint_items(&self) -> usize {
        3 * self.mul.hint_count() + field().layout().limbs()
    }
    fn hints(&self, inputs: &[Val]) -> Vec<Vec<u8>> {
        let acc = (inputs[0][0], inputs[0][1]);
        let (lam, x3) = match self.entry(inputs).and_then(|t| add_with_slope(acc, coords(t))) {
            Some(((x3, _), lam)) => (lam, x3),
            None => (Fq::zero(), Fq::zero()),
        };
        let t = self.entry(inputs).map(coords).unwrap_or((Fq::zero(), Fq::zero()));
        let mut v = self.mul.hints(&lam, &(t.0 - acc.0));
        v.extend(self.mul.hints(&lam, &lam));
        v.extend(self.mul.hints(&lam, &(acc.0 - x3)));
        v.extend(crate::program::val_stack(&[lam]));
        v
    }
}

/// `[A] -> [A]`, failing if `A` is zero.
fn nonzero_check(l: usize) -> Fragment {
    let mut f = Fragment::new().op(OP_DUP);
    for i in 1..l {
        f = crate::leaf::pick(f, i).op(OP_BOOLOR);
    }
    f.op(OP_VERIFY)
}

/// `[x] -> [1]` if the canonical element `x` is below `2^bits`, else `[0]`.
#[derive(Debug, Clone)]
pub struct FitsBits {
    /// The bound.
    pub bits: u32,
}

impl Op for FitsBits {
    fn name(&self) -> String {
        format!("fits {} bits", self.bits)
    }
    fn input_elems(&self) -> Vec<usize> {
        vec![1]
    }
    fn output_elems(&self) -> usize {
        1
    }
    fn native(&self, inputs: &[Val]) -> Val {
        let fits = fq_to_nat(&inputs[0][0]).bits() <= self.bits as usize;
        vec![if fits { Fq::from(1u64) } else { Fq::zero() }]
    }
    fn script(&self) -> Fragment {
        let lay = field().layout();
        let (w, l) = (lay.limb_bits, lay.limbs());
        // limbs least significant on top: limb i at depth i. Every limb above the bound must be
        // zero; the limb holding the bound must be below 2^(bits mod w).
        let mut f = Fragment::new().push_int(1);
        for i in 0..l {
            let lo = i as u32 * w;
            let d = i + 1;
            if lo + lay.limb_width(i) <= self.bits {
                continue;
            }
            let cap = self.bits.saturating_sub(lo);
            f = crate::leaf::pick(f, d).push_int(1i64 << cap).op(OP_LESSTHAN).op(OP_BOOLAND);
        }
        // [x.. ok] -> [0.. ok]: drop x, keep the flag as a field element (limbs 0..0 ok)
        f = f.op(OP_TOALTSTACK);
        f = crate::leaf::drop_n(f, l);
        for _ in 0..l - 1 {
            f = f.push_int(0);
        }
        f.op(OP_FROMALTSTACK)
    }
}

/// A point of G1 with no known discrete logarithm: the first `x = SHA-256(tag || i) mod p`
/// (i = 0, 1, ..) with `x^3 + 3` a square, and the even `y`.
pub fn offset_point(tag: &str) -> G1Affine {
    for i in 0u32.. {
        let mut data = tag.as_bytes().to_vec();
        data.extend_from_slice(&i.to_be_bytes());
        let x = Fq::from_be_bytes_mod_order(&sha256::Hash::hash(&data).to_byte_array());
        if let Some(y) = (x.square() * x + Fq::from(3u64)).sqrt() {
            let y = if y.into_bigint().is_even() { y } else { -y };
            let p = G1Affine::new_unchecked(x, y);
            debug_assert!(p.is_on_curve());
            return p;
        }
    }
    unreachable!("a square is found within a few tries")
}

/// Tag of the MSM's offset point.
pub const OFFSET_TAG: &str = "bitvm2/groth16/msm-offset/v1";

/// One public input of the MSM: the value holding the scalar, its width in bits and its base.
#[derive(Debug, Clone, Copy)]
pub struct MsmTerm {
    /// Program value (one field element) holding the scalar.
    pub scalar: ValueId,
    /// The scalar is below `2^bits` (checked by a claim).
    pub bits: u32,
    /// The base `IC_i`.
    pub base: G1Affine,
}

/// Append `ic0 + sum x_i * IC_i` to `prog`; returns the value holding the affine result.
/// Intermediate accumulators are committed with `commit`.
pub fn push_msm(prog: &mut Program, ic0: G1Affine, terms: &[MsmTerm], mul: &Arc<dyn FqMul>, commit: CommitMode) -> ValueId {
    let r = offset_point(OFFSET_TAG);
    let start = (G1Projective::from(r) + ic0).into_affine();
    let (sx, sy) = coords(&start);
    let mut acc = Operand::Const(vec![sx, sy]);
    for (i, t) in terms.iter().enumerate() {
        let fits = prog.push_op(format!("x{i} fits {} bits", t.bits), Arc::new(FitsBits { bits: t.bits }), vec![Operand::Value(t.scalar)], CommitMode::Direct);
        prog.claim(fits, vec![Fq::from(1u64)]);
        for j in 0..t.bits.div_ceil(WINDOW) {
            let op = G1AddWindow::window(t.base, j, mul.clone());
            let v = prog.push_op(format!("msm x{i} window {j}"), Arc::new(op), vec![acc, Operand::Value(t.scalar)], commit);
            acc = Operand::Value(v);
        }
    }
    let neg_r = -r;
    let op = G1AddWindow::constant(neg_r, mul.clone());
    prog.push_op("vk_x", Arc::new(op), vec![acc], commit)
}

/// Native reference: `ic0 + sum x_i * IC_i` in affine coordinates.
pub fn msm_native(ic0: G1Affine, terms: &[(Fq, G1Affine)]) -> G1Affine {
    let mut acc = G1Projective::from(ic0);
    for (x, b) in terms {
        let s = ark_bn254::Fr::from_le_bytes_mod_order(&x.into_bigint().to_bytes_le());
        acc += G1Projective::from(*b) * s;
    }
    acc.into_affine()
}

/// A G1 point as a program value.
pub fn g1_val(p: &G1Affine) -> Val {
    let (x, y) = coords(p);
    vec![x, y]
}

/// The generator of G1 (tests and examples).
pub fn g1_generator() -> G1Affine {
    G1Projective::generator().into_affine()
}

/// A small MSM program for tests and demonstrations: `vk_x = IC0 + x0 IC1 + x1 IC2` with
/// `x0` of 8 bits and `x1` of 12 bits (5 windows), fixed pseudo-random bases, and a claim that
/// `vk_x` equals its value for the honest inputs (it stands in for the pairing check that
/// consumes `vk_x`). Returns the program, the value id of `vk_x`, and the honest inputs.
pub fn demo_program(mul: &Arc<dyn FqMul>) -> (Program, ValueId, Vec<Val>) {
    let base = |k: u64| (G1Projective::from(g1_generator()) * ark_bn254::Fr::from(k * 1_000_003 + 17)).into_affine();
    let (a, b) = (0xd3u64, 0x9a5u64);
    let mut prog = Program::new("msm-demo");
    let x0 = prog.input("x0", 1);
    let x1 = prog.input("x1", 1);
    let terms = [MsmTerm { scalar: x0, bits: 8, base: base(1) }, MsmTerm { scalar: x1, bits: 12, base: base(2) }];
    let out = push_msm(&mut prog, base(0), &terms, mul, CommitMode::Direct);
    prog.claim(out, g1_val(&msm_native(base(0), &[(Fq::from(a), base(1)), (Fq::from(b), base(2))])));
    (prog, out, vec![vec![Fq::from(a)], vec![Fq::from(b)]])
}

#[cfg(test)]
mod tests;
