//! The Groth16 verifier as a chunkable [`Program`]: the computation of [`super::verifier`]
//! expressed with the operations of `crate::msm`, `crate::bn254` and [`super::ops`], so the
//! chunker can split it into disprove leaves.
//!
//! Program inputs (committed directly by the operator, in this order): the proof's `A` (x, y),
//! `B` (x, y as Fq2 values), `C` (x, y), the committed public inputs (one element each; inputs
//! fixed when the program is built are folded into the MSM's start point), the residue
//! witness `c` and `c^-1` (six Fq2 values each) and the index of `wi` (0, 1 or 2).
//!
//! Claims (each makes its leaf spendable when false): `A`, `C` on G1, `B` on the twist and in
//! its prime-order subgroup G2 (El Housni-Guillevic-Piellard test, see [`claim_b_in_g2`]);
//! every public input below `2^bits`; `c * c^-1 = 1`; and the final accumulator equal to one.

use std::sync::Arc;

use ark_bn254::{Bn254, Fq, Fq12, Fq2, Fr, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{One, PrimeField, Zero};
use ark_groth16::Proof;

use super::miller::{self, StepKind};
use super::ops::{PairingKind, PairingOp, SelectFq2};
use super::residue::ResidueWitness;
use super::verifier::PreparedVerifyingKey;
use crate::bn254::{fq12_vals, fq2_val, Fq12Ids, Fq2Expr, FqMul, Tower};
use crate::msm::{push_msm, MsmTerm};
use crate::program::{CommitMode, Operand, Program, Val, ValueId};

/// How the program is built.
#[derive(Debug, Clone)]
pub struct ProgramOptions {
    /// The Fq multiplication of every operation.
    pub mul: Arc<dyn FqMul>,
    /// Commitment of values that cross a leaf boundary.
    pub commit: CommitMode,
    /// Each public input: committed by the operator (with its bit width; 254 when nothing
    /// smaller is known) or fixed when the program is built (folded into the MSM's start).
    pub public: Vec<PublicInput>,
}

/// How one public input of the verifying key enters the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicInput {
    /// A program input below `2^bits` (e.g. a claim field the Kickoff commits).
    Committed {
        /// Bit width (checked by a claim).
        bits: u32,
    },
    /// A constant of this program (e.g. the deposit outpoint a peg-out graph is built for).
    Fixed(Fr),
}

/// The program inputs' value ids.
#[derive(Debug, Clone)]
pub struct InputIds {
    /// Proof `A` (two elements).
    pub a: ValueId,
    /// Proof `B`: x and y (Fq2 each).
    pub b: [ValueId; 2],
    /// Proof `C` (two elements).
    pub c_point: ValueId,
    /// The committed public inputs: (index among the verifying key's inputs, program value).
    pub public: Vec<(usize, ValueId)>,
    /// Residue witness `c`.
    pub c: Fq12Ids,
    /// Its inverse.
    pub c_inv: Fq12Ids,
    /// Index of `wi` among `1, w, w^2`.
    pub wi: ValueId,
}

/// The verifier program of one verifying key.
#[derive(Debug, Clone)]
pub struct VerifierProgram {
    /// The program.
    pub program: Program,
    /// Where its inputs are.
    pub inputs: InputIds,
    /// The final accumulator (claimed equal to one).
    pub f_final: Fq12Ids,
    /// How each public input enters (as built).
    pub public: Vec<PublicInput>,
}

/// Why the program inputs cannot be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramInputError {
    /// A proof point is the point at infinity (not representable in affine coordinates).
    #[error("proof point {0} is the point at infinity")]
    Infinity(&'static str),
    /// Wrong number of public inputs.
    #[error("{got} public inputs, the verifying key takes {expected}")]
    PublicCount { expected: usize, got: usize },
    /// A public input fixed in the program differs from the one given.
    #[error("public input {index} is fixed to another value in this program")]
    FixedMismatch { index: usize },
    /// The `wi` index is not 0, 1 or 2.
    #[error("wi index {0} is not 0, 1 or 2")]
    WiIndex(u8),
}

fn one12() -> [[Fq2; 3]; 2] {
    [[Fq2::one(), Fq2::zero(), Fq2::zero()], [Fq2::zero(); 3]]
}

/// Build the program for `pvk`.
pub fn build(pvk: &PreparedVerifyingKey, opts: &ProgramOptions) -> VerifierProgram {
    let n_public = pvk.vk.gamma_abc_g1.len() - 1;
    assert_eq!(opts.public.len(), n_public, "one entry per public input of the verifying key");
    let mut prog = Program::new(format!("groth16-bn254({n_public} public inputs, {})", opts.mul.name()));
    let mul = opts.mul.clone();
    let tower = Tower::new(mul.clone(), opts.commit);
    let commit = opts.commit;
    let op = |k: PairingKind| Arc::new(PairingOp::new(k, mul.clone()));

    // Inputs.
    let a = prog.input("A", 2);
    let b = [prog.input("B.x", 2), prog.input("B.y", 2)];
    let c_point = prog.input("C", 2);
    let public: Vec<(usize, ValueId)> = opts
        .public
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p, PublicInput::Committed { .. }))
        .map(|(i, _)| (i, prog.input(format!("x{i}"), 1)))
        .collect();
    let fq12_input = |prog: &mut Program, name: &str| -> Fq12Ids {
        let mut ids = [[0; 3]; 2];
        for (i, half) in ids.iter_mut().enumerate() {
            for (j, id) in half.iter_mut().enumerate() {
                *id = prog.input(format!("{name}.c{i}{j}"), 2);
            }
        }
        ids
    };
    let c = fq12_input(&mut prog, "c");
    let c_inv = fq12_input(&mut prog, "c_inv");
    let wi = prog.input("wi index", 1);

    // Membership of the proof points.
    for (name, p) in [("A", a), ("C", c_point)] {
        let f = prog.push_op(format!("{name} on G1"), op(PairingKind::OnCurveG1), vec![Operand::Value(p)], commit);
        prog.claim(f, vec![Fq::one()]);
    }
    // B on the twist: y^2 - x^3 - b' = 0.
    let y2 = tower.fq2_square(&mut prog, "B.y^2", b[1]);
    let x2 = tower.fq2_square(&mut prog, "B.x^2", b[0]);
    let x3 = tower.fq2_mul(&mut prog, "B.x^3", x2, b[0]);
    let coeff_b = <ark_bn254::g2::Config as ark_ec::short_weierstrass::SWCurveConfig>::COEFF_B;
    let on_twist = Fq2Expr::value(y2).sub(&Fq2Expr::value(x3)).sub(&Fq2Expr::constant(coeff_b));
    let fb = tower.fq2_value(&mut prog, "B on twist", &on_twist);
    prog.claim(fb, vec![Fq::zero(), Fq::zero()]);
    claim_b_in_g2(&tower, &mut prog, &mul, b);

    // c * c^-1 = 1.
    let cc = tower.fq12_mul(&mut prog, "c*c_inv", c, c_inv);
    claim12(&mut prog, &cc, &one12());

    // Public-input MSM.
    let ic = &pvk.vk.gamma_abc_g1;
    let terms: Vec<MsmTerm> = public
        .iter()
        .map(|&(i, v)| match opts.public[i] {
            PublicInput::Committed { bits } => MsmTerm { scalar: v, bits, base: ic[i + 1] },
            PublicInput::Fixed(_) => unreachable!("only committed inputs are program inputs"),
        })
        .collect();
    let mut start = ark_bn254::G1Projective::from(ic[0]);
    for (i, p) in opts.public.iter().enumerate() {
        if let PublicInput::Fixed(x) = p {
            start += ic[i + 1] * x;
        }
    }
    let vk_x = push_msm(&mut prog, ark_ec::CurveGroup::into_affine(start), &terms, &mul, commit);

    // G1 line points (-x/y, 1/y) of A, vk_x, C.
    let pts: Vec<ValueId> = [("A", a), ("vk_x", vk_x), ("C", c_point)]
        .iter()
        .map(|(n, p)| prog.push_op(format!("{n} line point"), op(PairingKind::LinePoint), vec![Operand::Value(*p)], commit))
        .collect();
    // Their two coordinates as values of their own, once: every line of the loop reads them.
    let pts: Vec<(ValueId, ValueId)> = pts
        .iter()
        .zip(["A", "vk_x", "C"])
        .map(|(&pt, n)| {
            let nxy = prog.push_op(format!("{n}.-x/y"), fq_part(0), vec![Operand::Value(pt)], commit);
            let iy = prog.push_op(format!("{n}.1/y"), fq_part(1), vec![Operand::Value(pt)], commit);
            (nxy, iy)
        })
        .collect();

    // B's Frobenius images pi(B) and -pi^2(B) (pi acts as psi on the twist).
    let pi_b = g2_psi(&mut prog, "pi(B)", &mul, commit, b, 1, false);
    let npi2_b = g2_psi(&mut prog, "-pi^2(B)", &mul, commit, b, 2, true);
    let neg = Arc::new(crate::bn254::Fq2MulConst::new(mul.clone(), -Fq2::one(), false));
    let neg_by = prog.push_op("-B.y", neg, vec![Operand::Value(b[1])], commit);

    // The loop.
    let mut f = c_inv;
    let mut t = b;
    let schedule = miller::schedule();
    for (n, kind) in schedule.iter().enumerate() {
        let tag = format!("step{n}");
        let q: Option<[ValueId; 2]> = match kind {
            StepKind::Double { .. } => None,
            StepKind::Add { digit, .. } => Some(if *digit > 0 { b } else { [b[0], neg_by] }),
            StepKind::FrobeniusAdd => Some(pi_b),
            StepKind::FrobeniusNegAdd => Some(npi2_b),
        };
        let lambda = g2_slope(&tower, &mut prog, &tag, &mul, t, q);
        // B's line at A: c3 = lambda * (-x_A/y_A), c4 = (lambda x_T - y_T) / y_A.
        let lines = [
            b_line(&tower, &mut prog, &tag, lambda, t, pts[0]),
            const_line(&mut prog, &format!("{tag}.gamma"), &pvk.neg_gamma_lines[n], pts[1], &op, commit),
            const_line(&mut prog, &format!("{tag}.delta"), &pvk.neg_delta_lines[n], pts[2], &op, commit),
        ];
        // T update (not needed after the last step).
        if *kind != StepKind::FrobeniusNegAdd {
            let qx = q.map(|q| q[0]).unwrap_or(t[0]);
            t = g2_apply_slope(&tower, &mut prog, &tag, lambda, t, qx);
        }
        f = match kind {
            StepKind::Double { .. } => tower.fq12_square(&mut prog, &format!("{tag}.f^2"), f),
            StepKind::Add { digit, .. } => tower.fq12_mul(&mut prog, &format!("{tag}.f*c"), f, if *digit > 0 { c_inv } else { c }),
            _ => f,
        };
        for (k, (c3, c4)) in lines.iter().enumerate() {
            f = tower.fq12_mul_by_line(&mut prog, &format!("{tag}.line{k}"), f, *c3, *c4);
        }
    }

    // After the loop: f * (c^-1)^p * c^(p^2) * (c^-1)^(p^3) * wi * M_ab.
    for (label, x, power) in [("c_inv^p", c_inv, 1), ("c^p2", c, 2), ("c_inv^p3", c_inv, 3)] {
        let fr = tower.fq12_frobenius(&mut prog, label, x, power);
        f = tower.fq12_mul(&mut prog, &format!("f*{label}"), f, fr);
    }
    let factors: Vec<Fq12> = (0..3u8)
        .map(|k| ResidueWitness { c: Fq12::one(), c_inv: Fq12::one(), wi_power: k }.wi().expect("power below 3") * pvk.alpha_neg_beta)
        .collect();
    let mut w = [[0; 3]; 2];
    for (i, half) in w.iter_mut().enumerate() {
        for (j, id) in half.iter_mut().enumerate() {
            let table = [0, 1, 2].map(|k| coeff(&factors[k], i, j));
            *id = prog.push_op(format!("wi*M_ab.c{i}{j}"), Arc::new(SelectFq2 { table }), vec![Operand::Value(wi)], commit);
        }
    }
    f = tower.fq12_mul(&mut prog, "f*wi*M_ab", f, w);
    claim12(&mut prog, &f, &one12());

    VerifierProgram { program: prog, inputs: InputIds { a, b, c_point, public, c, c_inv, wi }, f_final: f, public: opts.public.clone() }
}

fn coeff(x: &Fq12, i: usize, j: usize) -> Fq2 {
    let half = if i == 0 { &x.c0 } else { &x.c1 };
    [half.c0, half.c1, half.c2][j]
}

fn claim12(prog: &mut Program, f: &Fq12Ids, want: &[[Fq2; 3]; 2]) {
    for i in 0..2 {
        for j in 0..3 {
            prog.claim(f[i][j], fq2_val(&want[i][j]));
        }
    }
}

/// `TWIST_MUL_BY_Q_X`, `TWIST_MUL_BY_Q_Y` of BN254.
fn frobenius_twist_constants() -> (Fq2, Fq2) {
    use ark_ec::bn::BnConfig;
    (ark_bn254::Config::TWIST_MUL_BY_Q_X, ark_bn254::Config::TWIST_MUL_BY_Q_Y)
}

/// The line of `B`'s accumulator through `t` with slope `lambda`, evaluated at the G1 point
/// `(-x/y, 1/y)`: `(c3, c4) = (lambda * (-x/y), (lambda x_T - y_T) * (1/y))`.
fn b_line(tower: &Tower, prog: &mut Program, tag: &str, lambda: ValueId, t: [ValueId; 2], (nxy, iy): (ValueId, ValueId)) -> (ValueId, ValueId) {
    let c3 = tower.fq2_mul_by_fq(prog, &format!("{tag}.B.c3"), lambda, nxy);
    let mu = tower.fq2_mul_sub(prog, &format!("{tag}.mu"), lambda, Some(t[0]), &[t[1]]);
    let c4 = tower.fq2_mul_by_fq(prog, &format!("{tag}.B.c4"), mu, iy);
    (c3, c4)
}

/// A fixed line (constants of the verifying key) evaluated at the G1 point `(-x/y, 1/y)`.
fn const_line(prog: &mut Program, tag: &str, line: &miller::Line, (nxy, iy): (ValueId, ValueId), op: &dyn Fn(PairingKind) -> Arc<PairingOp>, commit: CommitMode) -> (ValueId, ValueId) {
    let c3 = prog.push_op(format!("{tag}.c3"), op(PairingKind::ConstFq2TimesFq(line.slope)), vec![Operand::Value(nxy)], commit);
    let c4 = prog.push_op(format!("{tag}.c4"), op(PairingKind::ConstFq2TimesFq(line.mu)), vec![Operand::Value(iy)], commit);
    (c3, c4)
}

/// `T' = T + Q` from the slope: `x' = lambda^2 - x_T - x_Q`, `y' = lambda (x_T - x') - y_T`.
fn g2_apply_slope(tower: &Tower, prog: &mut Program, tag: &str, lambda: ValueId, t: [ValueId; 2], qx: ValueId) -> [ValueId; 2] {
    let x = tower.fq2_mul_sub(prog, &format!("{tag}.T.x"), lambda, None, &[t[0], qx]);
    let d = tower.fq2_sub(prog, &format!("{tag}.x_T-x'"), t[0], x);
    let y = tower.fq2_mul_sub(prog, &format!("{tag}.T.y"), lambda, Some(d), &[t[1]]);
    [x, y]
}

/// The slope of `T + Q` (`Q = None`: tangent `3 x_T^2 / (2 y_T)`; else chord
/// `(y_Q - y_T) / (x_Q - x_T)`) as a checked quotient.
fn g2_slope(tower: &Tower, prog: &mut Program, tag: &str, mul: &Arc<dyn FqMul>, t: [ValueId; 2], q: Option<[ValueId; 2]>) -> ValueId {
    let (num, den) = match q {
        None => {
            let sq = tower.fq2_square(prog, &format!("{tag}.x_T^2"), t[0]);
            let num = tower.fq2_value(prog, &format!("{tag}.num"), &Fq2Expr::value(sq).scale(3));
            let den = tower.fq2_value(prog, &format!("{tag}.den"), &Fq2Expr::value(t[1]).scale(2));
            (num, den)
        }
        Some(q) => (tower.fq2_sub(prog, &format!("{tag}.num"), q[1], t[1]), tower.fq2_sub(prog, &format!("{tag}.den"), q[0], t[0])),
    };
    let op = Arc::new(PairingOp::new(PairingKind::DivFq2, mul.clone()));
    prog.push_op(format!("{tag}.slope"), op, vec![Operand::Value(num), Operand::Value(den)], tower.commit)
}

/// `T + Q` (or `2T` for `Q = None`) in affine coordinates.
fn g2_add(tower: &Tower, prog: &mut Program, tag: &str, mul: &Arc<dyn FqMul>, t: [ValueId; 2], q: Option<[ValueId; 2]>) -> [ValueId; 2] {
    let lambda = g2_slope(tower, prog, tag, mul, t, q);
    g2_apply_slope(tower, prog, tag, lambda, t, q.map(|q| q[0]).unwrap_or(t[0]))
}

/// `[k]P` for a constant `k >= 1` (double-and-add from the top bit).
fn g2_mul_const(tower: &Tower, prog: &mut Program, tag: &str, mul: &Arc<dyn FqMul>, p: [ValueId; 2], k: u64) -> [ValueId; 2] {
    let mut t = p;
    for bit in (0..63 - k.leading_zeros()).rev() {
        t = g2_add(tower, prog, &format!("{tag}.dbl{bit}"), mul, t, None);
        if (k >> bit) & 1 == 1 {
            t = g2_add(tower, prog, &format!("{tag}.add{bit}"), mul, t, Some(p));
        }
    }
    t
}

/// `psi^n(P)` on the twist, or its negation: `(conj^n(x) kx, +-conj^n(y) ky)` with
/// `psi = (conj(x) gx, conj(y) gy)`.
fn g2_psi(prog: &mut Program, tag: &str, mul: &Arc<dyn FqMul>, commit: CommitMode, p: [ValueId; 2], n: u32, negate: bool) -> [ValueId; 2] {
    let (gx, gy) = frobenius_twist_constants();
    let power = |g: Fq2| -> Fq2 {
        // psi^n coefficient: g * conj(g) * g * ... (n factors, alternating conjugation)
        (0..n).fold(Fq2::one(), |acc, i| {
            let mut gi = g;
            if (n - 1 - i) % 2 == 1 {
                gi.conjugate_in_place();
            }
            acc * gi
        })
    };
    let conj = n % 2 == 1;
    let ky = if negate { -power(gy) } else { power(gy) };
    [("x", p[0], power(gx)), ("y", p[1], ky)].map(|(c, v, k)| {
        let o = Arc::new(crate::bn254::Fq2MulConst::new(mul.clone(), k, conj));
        prog.push_op(format!("{tag}.{c}"), o, vec![Operand::Value(v)], commit)
    })
}

/// Claim that `B` lies in the prime-order subgroup G2 of the twist, with the test of El Housni,
/// Guillevic and Piellard for BN curves (2022): `[x+1]B + psi([x]B) + psi^2([x]B) = psi^3([2x]B)`
/// (x the BN254 parameter, 63 bits): 62 doublings, the additions of x's set bits, four more
/// additions and constant products, instead of a scalar multiplication by r.
fn claim_b_in_g2(tower: &Tower, prog: &mut Program, mul: &Arc<dyn FqMul>, b: [ValueId; 2]) {
    use ark_ec::bn::BnConfig;
    let x = ark_bn254::Config::X[0];
    let commit = tower.commit;
    let xb = g2_mul_const(tower, prog, "G2 check [x]B", mul, b, x);
    let x1b = g2_add(tower, prog, "G2 check [x+1]B", mul, xb, Some(b));
    let psi1 = g2_psi(prog, "G2 check psi([x]B)", mul, commit, xb, 1, false);
    let psi2 = g2_psi(prog, "G2 check psi^2([x]B)", mul, commit, xb, 2, false);
    let l1 = g2_add(tower, prog, "G2 check lhs1", mul, x1b, Some(psi1));
    let lhs = g2_add(tower, prog, "G2 check lhs", mul, l1, Some(psi2));
    let x2b = g2_add(tower, prog, "G2 check [2x]B", mul, xb, None);
    let rhs = g2_psi(prog, "G2 check psi^3([2x]B)", mul, commit, x2b, 3, false);
    for (c, (l, r)) in ["x", "y"].iter().zip(lhs.iter().zip(rhs.iter())) {
        let d = tower.fq2_sub(prog, &format!("G2 check lhs.{c} - rhs.{c}"), *l, *r);
        prog.claim(d, vec![Fq::zero(), Fq::zero()]);
    }
}

/// `[x y] -> [x]` or `[y]` (one element of a two-element value).
fn fq_part(i: usize) -> Arc<crate::bn254::Linear> {
    let row = if i == 0 { vec![1, 0] } else { vec![0, 1] };
    Arc::new(crate::bn254::Linear::new(vec![2], vec![row], vec![Fq::zero()]).expect("valid shape"))
}

impl VerifierProgram {
    /// The program inputs for a proof, its public inputs and the residue witness.
    pub fn input_values(&self, proof: &Proof<Bn254>, public: &[Fr], w: &ResidueWitness) -> Result<Vec<Val>, ProgramInputError> {
        let g1 = |name: &'static str, p: &ark_bn254::G1Affine| -> Result<Val, ProgramInputError> {
            p.xy().map(|(x, y)| vec![x, y]).ok_or(ProgramInputError::Infinity(name))
        };
        let g2 = |p: &G2Affine| -> Result<[Val; 2], ProgramInputError> {
            p.xy().map(|(x, y)| [fq2_val(&x), fq2_val(&y)]).ok_or(ProgramInputError::Infinity("B"))
        };
        if public.len() != self.public.len() {
            return Err(ProgramInputError::PublicCount { expected: self.public.len(), got: public.len() });
        }
        for (index, (p, x)) in self.public.iter().zip(public).enumerate() {
            if matches!(p, PublicInput::Fixed(f) if f != x) {
                return Err(ProgramInputError::FixedMismatch { index });
            }
        }
        if w.wi_power > 2 {
            return Err(ProgramInputError::WiIndex(w.wi_power));
        }
        let [bx, by] = g2(&proof.b)?;
        let mut v = vec![g1("A", &proof.a)?, bx, by, g1("C", &proof.c)?];
        v.extend(self.inputs.public.iter().map(|&(i, _)| vec![Fq::from_le_bytes_mod_order(&ark_ff::BigInteger::to_bytes_le(&public[i].into_bigint()))]));
        v.extend(fq12_vals(&w.c));
        v.extend(fq12_vals(&w.c_inv));
        v.push(vec![Fq::from(w.wi_power as u64)]);
        Ok(v)
    }
}
