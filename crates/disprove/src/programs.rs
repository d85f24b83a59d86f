//! Concrete programs. The first real one: "x is a root of P", a Horner evaluation of a
//! fixed polynomial over the BN254 base field, one multiply-add per coefficient.
//!
//! It stands in for the Groth16 verifier until that lands: the operator's input `x` plays the
//! proof, the polynomial plays the verifying key (constants baked into the scripts), the
//! Horner accumulators are the intermediate values, and the claim `P(x) = 0` plays the final
//! pairing check.

use std::sync::Arc;

use ark_bn254::Fq;
use ark_ff::{Field, PrimeField as _, Zero};
use bitcoin::hashes::{sha256, Hash};
use bitvm2_script::arith::FieldError;
use bitvm2_script::builder::Fragment;

use crate::leaf::{pick, roll};
use crate::program::{field, fq_to_nat, push_val, val_stack, CommitMode, Op, Operand, Program, Val};

/// How a multiplication mod p is done in script (see `bitvm2_script::arith::field`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum MulMode {
    /// Windowed double-and-add, reduced at every step, no hints; window in bits.
    Windowed(u32),
    /// Windowed with per-window quotient hints from the witness; window in bits.
    Hinted(u32),
}

impl std::fmt::Display for MulMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MulMode::Windowed(w) => write!(f, "windowed w={w}"),
            MulMode::Hinted(w) => write!(f, "hinted w={w}"),
        }
    }
}

impl MulMode {
    /// The multiplication fragment `[(hints) A B] -> [A*B mod p]`.
    pub fn fragment(&self) -> Result<Fragment, FieldError> {
        match *self {
            MulMode::Windowed(w) => field().mul_windowed(w),
            MulMode::Hinted(w) => field().mul_hinted(w),
        }
    }
}

/// `[A B] -> [A*B + c mod p]`.
#[derive(Debug, Clone)]
pub struct MulAdd {
    /// The constant added.
    pub c: Fq,
    /// How the product is computed.
    pub mode: MulMode,
    mul: Arc<Fragment>,
    hint_count: usize,
}

impl MulAdd {
    /// A multiply-add; fails if the multiplication mode is not available.
    pub fn new(c: Fq, mode: MulMode) -> Result<Self, FieldError> {
        let hint_count = match mode {
            MulMode::Windowed(_) => 0,
            MulMode::Hinted(w) => field().mul_hint_count(w)?,
        };
        Ok(MulAdd { c, mode, mul: Arc::new(mode.fragment()?), hint_count })
    }

    /// Same mode, other constant, sharing the multiplication fragment.
    pub fn with_const(&self, c: Fq) -> Self {
        MulAdd { c, mode: self.mode, mul: self.mul.clone(), hint_count: self.hint_count }
    }
}

impl Op for MulAdd {
    fn name(&self) -> String {
        format!("muladd ({})", self.mode)
    }
    fn input_elems(&self) -> Vec<usize> {
        vec![1, 1]
    }
    fn output_elems(&self) -> usize {
        1
    }
    fn native(&self, x: &[Val]) -> Val {
        vec![x[0][0] * x[1][0] + self.c]
    }
    fn script(&self) -> Fragment {
        let mut f = (*self.mul).clone();
        if !self.c.is_zero() {
            let fld = field();
            f = f.append(&fld.layout().push(&fq_to_nat(&self.c))).append(&fld.add());
        }
        f
    }
    fn hint_items(&self) -> usize {
        self.hint_count
    }
    fn hints(&self, x: &[Val]) -> Vec<Vec<u8>> {
        self.mul_hints(&x[0][0], &x[1][0])
    }
}

impl MulAdd {
    fn mul_hints(&self, a: &Fq, b: &Fq) -> Vec<Vec<u8>> {
        match self.mode {
            MulMode::Windowed(_) => Vec::new(),
            MulMode::Hinted(w) => {
                field().mul_hints(&fq_to_nat(a), &fq_to_nat(b), w).expect("window validated when the op was made")
            }
        }
    }
}

/// `[S X] -> [S_0 * X + c_0, S_1 * X + c_1]` for a two-element state `S` and one element `X`:
/// two multiply-adds sharing `X` (hints: those of the first, then of the second).
#[derive(Debug, Clone)]
pub struct PairMulAdd {
    /// The two multiply-adds (their constants and shared multiplication fragment).
    pub parts: [MulAdd; 2],
}

impl Op for PairMulAdd {
    fn name(&self) -> String {
        format!("pair muladd ({})", self.parts[0].mode)
    }
    fn input_elems(&self) -> Vec<usize> {
        vec![2, 1]
    }
    fn output_elems(&self) -> usize {
        2
    }
    fn native(&self, x: &[Val]) -> Val {
        vec![x[0][0] * x[1][0] + self.parts[0].c, x[0][1] * x[1][0] + self.parts[1].c]
    }
    fn script(&self) -> Fragment {
        let l = field().layout().limbs();
        let h = self.parts[0].hint_count;
        // [H0 H1 S0 S1 X]: raise H0 (at depth 3l + 2h - 1 .. ) then S0, copy X.
        let mut f = Fragment::new();
        for _ in 0..h {
            f = roll(f, 3 * l + 2 * h - 1);
        }
        for _ in 0..l {
            f = roll(f, 3 * l + h - 1);
        }
        // [H1 S1 X H0 S0]: copy X
        for _ in 0..l {
            f = pick(f, l + h + l - 1);
        }
        f = f.append(&self.parts[0].script());
        // [H1 S1 X R0] -> R0 parked, [H1 S1 X] -> [R1]
        for _ in 0..l {
            f = f.op(bitcoin::opcodes::all::OP_TOALTSTACK);
        }
        f = f.append(&self.parts[1].script());
        for _ in 0..l {
            f = f.op(bitcoin::opcodes::all::OP_FROMALTSTACK);
        }
        // [R1 R0] -> [R0 R1]
        for _ in 0..l {
            f = roll(f, 2 * l - 1);
        }
        f
    }
    fn hint_items(&self) -> usize {
        2 * self.parts[0].hint_count
    }
    fn hints(&self, x: &[Val]) -> Vec<Vec<u8>> {
        let mut v = self.parts[0].mul_hints(&x[0][0], &x[1][0]);
        v.extend(self.parts[1].mul_hints(&x[0][1], &x[1][0]));
        v
    }
}

/// Deterministic field element from a label (for test polynomials and roots).
pub fn fq_from_label(label: &str, i: u64) -> Fq {
    let mut data = label.as_bytes().to_vec();
    data.extend_from_slice(&i.to_le_bytes());
    Fq::from_be_bytes_mod_order(&sha256::Hash::hash(&data).to_byte_array())
}

/// The polynomial `P(X) = (X - r) * Q(X)` of the given degree with `Q` pseudo-random from
/// `seed`; coefficients lowest degree first, and the root `r`.
pub fn poly_with_root(degree: usize, seed: &str) -> (Vec<Fq>, Fq) {
    poly_with_root_at(degree, seed, fq_from_label(seed, u64::MAX))
}

/// Like [`poly_with_root`] with a given root.
pub fn poly_with_root_at(degree: usize, seed: &str, r: Fq) -> (Vec<Fq>, Fq) {
    assert!(degree >= 1);
    let mut q: Vec<Fq> = (0..degree as u64).map(|i| fq_from_label(seed, i)).collect();
    if q[degree - 1].is_zero() {
        q[degree - 1] = Fq::ONE;
    }
    // (X - r) Q = X Q - r Q
    let mut p = vec![Fq::zero(); degree + 1];
    for (i, qi) in q.iter().enumerate() {
        p[i + 1] += qi;
        p[i] -= r * qi;
    }
    (p, r)
}

/// Degree of [`first_program`].
pub const FIRST_PROGRAM_DEGREE: usize = 160;

/// The program the transaction graph and daemons use until the Groth16 verifier lands:
/// [`root_program`] of degree 160 with hinted multiplications (window 4) and a fixed seed, and
/// its root (the honest input). Chunked at the default limits it has 32 leaves (see
/// docs/disprove.md).
pub fn first_program() -> (Program, Fq) {
    root_program(FIRST_PROGRAM_DEGREE, "bitvm2/first-program", MulMode::Hinted(4)).expect("window 4 is supported")
}

/// The first real program: Horner evaluation of `P` at the input `x`, claim `P(x) = 0`.
/// One multiply-add per coefficient below the leading one (`degree` operations).
pub fn root_program(degree: usize, seed: &str, mode: MulMode) -> Result<(Program, Fq), FieldError> {
    let (p, r) = poly_with_root(degree, seed);
    let proto = MulAdd::new(Fq::zero(), mode)?;
    let mut prog = Program::new(format!("root-of-poly(deg {degree}, {mode})"));
    let x = prog.input("x", 1);
    let mut acc = Operand::Const(vec![p[degree]]);
    let mut last = x;
    for k in (0..degree).rev() {
        let op = Arc::new(proto.with_const(p[k]));
        last = prog.push_op(format!("acc{}", degree - k), op, vec![acc, Operand::Value(x)], CommitMode::Direct);
        acc = Operand::Value(last);
    }
    prog.claim(last, vec![Fq::zero()]);
    Ok((prog, r))
}

/// A program with two-element values: two polynomials `P`, `Q` of the same degree with a common
/// root, evaluated together by Horner at the input `x`; the state `(acc_P, acc_Q)` is committed
/// with `commit` (directly: 512 bits, or as a BLAKE3 digest); claim `(P(x), Q(x)) = (0, 0)`.
pub fn pair_program(degree: usize, seed: &str, mode: MulMode, commit: CommitMode) -> Result<(Program, Fq), FieldError> {
    let (p, r) = poly_with_root(degree, &format!("{seed}/P"));
    let (q, _) = poly_with_root_at(degree, &format!("{seed}/Q"), r);
    let proto = MulAdd::new(Fq::zero(), mode)?;
    let name = match commit {
        CommitMode::Direct => "direct".to_string(),
        CommitMode::Hash { bytes } => format!("BLAKE3-{bytes}"),
    };
    let mut prog = Program::new(format!("common-root-of-2-polys(deg {degree}, {mode}, state {name})"));
    let x = prog.input("x", 1);
    let mut acc = Operand::Const(vec![p[degree], q[degree]]);
    let mut last = x;
    for k in (0..degree).rev() {
        let op = Arc::new(PairMulAdd { parts: [proto.with_const(p[k]), proto.with_const(q[k])] });
        last = prog.push_op(format!("state{}", degree - k), op, vec![acc, Operand::Value(x)], commit);
        acc = Operand::Value(last);
    }
    prog.claim(last, vec![Fq::zero(), Fq::zero()]);
    Ok((prog, r))
}

/// Stack items of an op's inputs: hints then inputs.
pub fn op_stack(op: &dyn Op, inputs: &[Val]) -> Vec<Vec<u8>> {
    let mut s = op.hints(inputs);
    for x in inputs {
        s.extend(val_stack(x));
    }
    s
}

/// Fragment pushing a constant (re-exported for ops).
pub fn push_const(v: &[Fq]) -> Fragment {
    push_val(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitvm2_script::exec::{execute, ExecOptions};
    use proptest::prelude::*;

    fn horner(p: &[Fq], x: Fq) -> Fq {
        p.iter().rev().fold(Fq::zero(), |acc, c| acc * x + c)
    }

    #[test]
    fn poly_has_its_root_and_program_evaluates_it() {
        let (p, r) = poly_with_root(12, "t");
        assert_eq!(horner(&p, r), Fq::zero());
        assert_ne!(horner(&p, r + Fq::ONE), Fq::zero());
        let (prog, root) = root_program(12, "t", MulMode::Windowed(3)).unwrap();
        assert_eq!(root, r);
        let vals = prog.evaluate(&[vec![r]]).unwrap();
        assert!(prog.claims_hold(&vals));
        let bad = prog.evaluate(&[vec![r + Fq::ONE]]).unwrap();
        assert!(!prog.claims_hold(&bad));
        assert_eq!(bad[*prog.ops.last().map(|n| &n.out).unwrap()], vec![horner(&p, r + Fq::ONE)]);
        let (pair, r2) = pair_program(5, "t", MulMode::Hinted(4), CommitMode::Hash { bytes: 20 }).unwrap();
        let vals = pair.evaluate(&[vec![r2]]).unwrap();
        assert!(pair.claims_hold(&vals));
        assert!(!pair.claims_hold(&pair.evaluate(&[vec![r2 + Fq::ONE]]).unwrap()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(6))]
        #[test]
        fn muladd_script_matches_arkworks(a in any::<u64>(), b in any::<u64>(), c in any::<u64>(), hinted in any::<bool>()) {
            let (a, b, c) = (fq_from_label("a", a), fq_from_label("b", b), fq_from_label("c", c));
            let mode = if hinted { MulMode::Hinted(3) } else { MulMode::Windowed(3) };
            let op = MulAdd::new(c, mode).unwrap();
            let r = execute(&op.script().into_script(), &op_stack(&op, &[vec![a], vec![b]]), &ExecOptions::default());
            prop_assert!(r.outcome.is_ok(), "{:?}", r.outcome);
            prop_assert_eq!(r.final_stack, val_stack(&[a * b + c]));
        }

        #[test]
        fn pair_muladd_script_matches_arkworks(s0 in any::<u64>(), s1 in any::<u64>(), x in any::<u64>()) {
            let (s0, s1, x) = (fq_from_label("s0", s0), fq_from_label("s1", s1), fq_from_label("x", x));
            let proto = MulAdd::new(Fq::zero(), MulMode::Hinted(4)).unwrap();
            let op = PairMulAdd { parts: [proto.with_const(fq_from_label("c", 0)), proto.with_const(fq_from_label("c", 1))] };
            let inputs = [vec![s0, s1], vec![x]];
            let r = execute(&op.script().into_script(), &op_stack(&op, &inputs), &ExecOptions::default());
            prop_assert!(r.outcome.is_ok(), "{:?}", r.outcome);
            prop_assert_eq!(r.final_stack, val_stack(&op.native(&inputs)));
        }
    }
}
