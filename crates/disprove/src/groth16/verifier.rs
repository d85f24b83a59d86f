//! The Groth16 check as a sequence of script-sized steps, and its native trace.
//!
//! Check: `e(A, B) · e(vk_x, -γ) · e(C, -δ) · e(α, -β) = 1` as one multi Miller loop whose
//! final exponentiation is replaced by the residue witness of [`super::residue`]:
//!
//! ```text
//! f  = c^-1                                   (top NAF digit of 6x+2)
//! for each step of miller::schedule():
//!   Double:  f = f² · ℓ_B,T(A) · ℓ_-γ(vk_x) · ℓ_-δ(C)   ; T = 2T  (slope hint)
//!   Add(±1): f = f  · ℓ_B,T(A) · ℓ_-γ(vk_x) · ℓ_-δ(C) · c^∓1 ; T = T ± B
//!   FrobeniusAdd / FrobeniusNegAdd: f = f · (3 lines)   ; T = T + π(B), then line with -π²(B)
//! f = f · (c^-1)^p · c^(p²) · (c^-1)^(p³) · wi · M_αβ
//! accept iff f == 1
//! ```
//!
//! `f` after the loop is `Miller(A,B,vk_x,C) · c^-(6x+2)`, so the end value is
//! `Miller · M_αβ · wi · c^-λ`, which is one iff `Miller · M_αβ · wi = c^λ`.
//! The lines of the fixed points `-γ`, `-δ` are setup constants ([`PreparedVerifyingKey`]);
//! `M_αβ` is the (constant) Miller value of `(α, -β)` with the same line formulas.
//!
//! What a script program must check besides recomputing each step (every hint is also
//! range-checked below p):
//! - MSM: each slope `λ` satisfies `λ·(x_e - x_acc) = y_e - y_acc` for the table entry of the
//!   committed digit (digits of the committed public inputs, each below r);
//! - G1 hints of `A`, `vk_x`, `C`: `y·inv_y = 1`, `x·inv_y = x_over_y`;
//! - B's slopes: `λ·2y_T = 3x_T²` (doubling) or `λ·(x_Q - x_T) = y_Q - y_T` (addition, with
//!   `Q = ±B`, `π(B)`, `-π²(B)`);
//! - the witness: `c·c_inv = 1` and `wi` one of the three constants `1, w, w²` (an index, never
//!   a free value: a free `wi` would let any proof pass);
//! - the end: `f == 1`.

use ark_bn254::{Bn254, Fq12, Fq2, Fr, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{Field, One};
use ark_groth16::{Proof, VerifyingKey};

use super::miller::{self, G1LinePoint, Line, LineEval, MillerError, StepKind};
use super::msm::{FixedBaseMsm, MsmError, MsmTrace};
use super::residue::{ResidueError, ResidueWitness};

/// Default MSM window width: 15 table points (30 `Fq`) per window.
pub const DEFAULT_WINDOW_BITS: u32 = 4;

/// Errors of the native verifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifierError {
    #[error("public-input MSM: {0}")]
    Msm(#[from] MsmError),
    #[error("Miller loop: {0}")]
    Miller(#[from] MillerError),
    #[error("residue witness: {0}")]
    Residue(#[from] ResidueError),
    #[error("{0} is the point at infinity (not supported by the affine verifier)")]
    Infinity(&'static str),
    #[error("bad residue witness: {0}")]
    BadWitness(&'static str),
}

/// Setup-time data: MSM tables, the constant lines of `-γ` and `-δ`, and `M_αβ`.
#[derive(Clone, Debug)]
pub struct PreparedVerifyingKey {
    pub vk: VerifyingKey<Bn254>,
    pub msm: FixedBaseMsm,
    pub neg_gamma_lines: Vec<Line>,
    pub neg_delta_lines: Vec<Line>,
    /// Miller value of `(α, -β)` (a constant of the verifying key).
    pub alpha_neg_beta: Fq12,
}

impl PreparedVerifyingKey {
    pub fn new(vk: &VerifyingKey<Bn254>, window_bits: u32) -> Result<Self, VerifierError> {
        for (name, zero) in [
            ("vk.alpha_g1", vk.alpha_g1.is_zero()),
            ("vk.beta_g2", vk.beta_g2.is_zero()),
            ("vk.gamma_g2", vk.gamma_g2.is_zero()),
            ("vk.delta_g2", vk.delta_g2.is_zero()),
        ] {
            if zero {
                return Err(VerifierError::Infinity(name));
            }
        }
        let lines = |q: G2Affine| -> Result<Vec<Line>, MillerError> {
            Ok(miller::walk_g2(&q)?.into_iter().map(|s| s.line).collect())
        };
        Ok(PreparedVerifyingKey {
            vk: vk.clone(),
            msm: FixedBaseMsm::new(&vk.gamma_abc_g1, window_bits)?,
            neg_gamma_lines: lines(-vk.gamma_g2)?,
            neg_delta_lines: lines(-vk.delta_g2)?,
            alpha_neg_beta: miller::multi_miller_loop(&[(vk.alpha_g1, -vk.beta_g2)])?,
        })
    }
}

/// One Miller-loop step of the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopStep {
    pub kind: StepKind,
    /// Slope hint of the line through `T` (for the proof's `B`).
    pub b_slope: Fq2,
    /// `T` after the step.
    pub t_after: G2Affine,
    /// Evaluated lines, in pair order `(A, B)`, `(vk_x, -γ)`, `(C, -δ)`.
    pub lines: [LineEval; 3],
    /// The accumulator after the step.
    pub f_after: Fq12,
}

/// The steps after the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalKind {
    /// `f *= (c^-1)^p`
    CInvFrobenius1,
    /// `f *= c^(p²)`
    CFrobenius2,
    /// `f *= (c^-1)^(p³)`
    CInvFrobenius3,
    /// `f *= wi` (an `Fq6` constant, one of three)
    Wi,
    /// `f *= M_αβ` (constant)
    AlphaBeta,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalStep {
    pub kind: FinalKind,
    pub factor: Fq12,
    pub f_after: Fq12,
}

/// Everything a script program commits and checks, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub msm: MsmTrace,
    /// Line-evaluation hints for `A`, `vk_x`, `C` (pair order).
    pub g1_points: [G1LinePoint; 3],
    /// `π(B)` and `-π²(B)`.
    pub b_frobenius: (G2Affine, G2Affine),
    pub witness: ResidueWitness,
    /// `f` before the first step (`c^-1`).
    pub f_start: Fq12,
    pub steps: Vec<LoopStep>,
    pub finals: Vec<FinalStep>,
}

impl Trace {
    /// The last accumulator value.
    pub fn final_value(&self) -> Fq12 {
        self.finals
            .last()
            .map(|s| s.f_after)
            .unwrap_or(self.f_start)
    }

    /// The check passes iff the last value is one.
    pub fn accepts(&self) -> bool {
        self.final_value() == Fq12::one()
    }

    /// Number of `Fq` elements in the trace: MSM (slope + accumulator per addition), G1 hints,
    /// `π(B)`, `-π²(B)`, `c`, `c_inv`, `f_start`, and per loop step a slope, `T`, two `Fq2` per
    /// line and `f`; per final step `f` (the factors are derived, not committed).
    pub fn fq_elements(&self) -> usize {
        3 * self.msm.steps.len()
            + 2 * self.g1_points.len()
            + 8
            + 3 * 12
            + self.steps.len() * (2 + 4 + 3 * 4 + 12)
            + self.finals.len() * 12
    }

    /// Operation counts of the traced computation.
    pub fn counts(&self) -> OpCounts {
        let doublings = self
            .steps
            .iter()
            .filter(|s| matches!(s.kind, StepKind::Double { .. }))
            .count();
        let loop_adds = self
            .steps
            .iter()
            .filter(|s| matches!(s.kind, StepKind::Add { .. }))
            .count();
        OpCounts {
            miller_steps: self.steps.len(),
            doublings,
            additions: self.steps.len() - doublings,
            fq12_squarings: doublings,
            // c^±1 per loop addition, three Frobenius products, M_αβ.
            fq12_muls: loop_adds + 3 + 1,
            fq12_by_fq6_muls: 1,
            frobenius_maps: 3,
            sparse_line_muls: 3 * self.steps.len(),
            fq2_slope_hints: self.steps.len(),
            g1_msm_additions: self.msm.steps.len(),
            fq_msm_slope_hints: self.msm.steps.len(),
            fq_g1_hints: 2 * self.g1_points.len(),
            trace_fq_elements: self.fq_elements(),
        }
    }
}

/// Operation counts (what a script program has to do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpCounts {
    pub miller_steps: usize,
    pub doublings: usize,
    /// Loop additions plus the two Frobenius additions.
    pub additions: usize,
    pub fq12_squarings: usize,
    /// Dense `Fq12 × Fq12` multiplications (by `c^±1`, Frobenius images of `c`, `M_αβ`).
    pub fq12_muls: usize,
    /// Multiplication by `wi` (which lies in `Fq6`).
    pub fq12_by_fq6_muls: usize,
    pub frobenius_maps: usize,
    /// Multiplications by a sparse line `1 + c3·w + c4·v·w`.
    pub sparse_line_muls: usize,
    /// Slope hints for `B`'s lines (one `Fq2` per step).
    pub fq2_slope_hints: usize,
    pub g1_msm_additions: usize,
    pub fq_msm_slope_hints: usize,
    /// `x/y`, `1/y` for `A`, `vk_x`, `C`.
    pub fq_g1_hints: usize,
    /// Base-field elements in the whole trace (what committing every value would cost).
    pub trace_fq_elements: usize,
}

/// The plain Miller product `Miller(A,B) · Miller(vk_x,-γ) · Miller(C,-δ) · M_αβ` (no residue
/// folding): the value the residue witness is computed for.
pub fn miller_value(
    pvk: &PreparedVerifyingKey,
    proof: &Proof<Bn254>,
    public_inputs: &[Fr],
) -> Result<Fq12, VerifierError> {
    let witness = ResidueWitness {
        c: Fq12::one(),
        c_inv: Fq12::one(),
        wi_power: 0,
    };
    Ok(trace(pvk, proof, public_inputs, &witness)?.final_value())
}

/// The operator's side: computes the residue witness (fails with
/// [`ResidueError::NotAResidue`] for an invalid proof) and the full trace.
pub fn prove(
    pvk: &PreparedVerifyingKey,
    proof: &Proof<Bn254>,
    public_inputs: &[Fr],
) -> Result<Trace, VerifierError> {
    let f = miller_value(pvk, proof, public_inputs)?;
    let witness = ResidueWitness::compute(&f)?;
    trace(pvk, proof, public_inputs, &witness)
}

/// Runs the check with a given witness and records every step (a verifier recomputes this).
pub fn trace(
    pvk: &PreparedVerifyingKey,
    proof: &Proof<Bn254>,
    public_inputs: &[Fr],
    witness: &ResidueWitness,
) -> Result<Trace, VerifierError> {
    let wi = witness
        .wi()
        .ok_or(VerifierError::BadWitness("wi index is not 0, 1 or 2"))?;
    if witness.c * witness.c_inv != Fq12::one() {
        return Err(VerifierError::BadWitness("c · c_inv != 1"));
    }
    for (name, zero) in [
        ("proof.a", proof.a.is_zero()),
        ("proof.b", proof.b.is_zero()),
        ("proof.c", proof.c.is_zero()),
    ] {
        if zero {
            return Err(VerifierError::Infinity(name));
        }
    }
    let msm = pvk.msm.run(public_inputs)?;
    if msm.vk_x.is_zero() {
        return Err(VerifierError::Infinity("vk_x"));
    }
    let g1_points = [
        G1LinePoint::new(&proof.a)?,
        G1LinePoint::new(&msm.vk_x)?,
        G1LinePoint::new(&proof.c)?,
    ];
    let b_steps = miller::walk_g2(&proof.b)?;
    let mut f = witness.c_inv;
    let f_start = f;
    let mut steps = Vec::with_capacity(b_steps.len());
    for (n, b_step) in b_steps.iter().enumerate() {
        let lines = [
            b_step.line.evaluate(&g1_points[0]),
            pvk.neg_gamma_lines[n].evaluate(&g1_points[1]),
            pvk.neg_delta_lines[n].evaluate(&g1_points[2]),
        ];
        match b_step.kind {
            StepKind::Double { .. } => {
                f.square_in_place();
            }
            StepKind::Add { digit, .. } => f *= if digit > 0 { witness.c_inv } else { witness.c },
            StepKind::FrobeniusAdd | StepKind::FrobeniusNegAdd => {}
        }
        for line in &lines {
            line.mul_into(&mut f);
        }
        steps.push(LoopStep {
            kind: b_step.kind,
            b_slope: b_step.line.slope,
            t_after: b_step.t_after,
            lines,
            f_after: f,
        });
    }
    let finals = final_factors(pvk, witness, wi)
        .into_iter()
        .map(|(kind, factor)| {
            f *= factor;
            FinalStep {
                kind,
                factor,
                f_after: f,
            }
        })
        .collect();
    Ok(Trace {
        msm,
        g1_points,
        b_frobenius: (
            miller::frobenius(&proof.b),
            miller::neg_frobenius2(&proof.b),
        ),
        witness: witness.clone(),
        f_start,
        steps,
        finals,
    })
}

/// The factors of the steps after the loop, in order.
pub(crate) fn final_factors(
    pvk: &PreparedVerifyingKey,
    witness: &ResidueWitness,
    wi: Fq12,
) -> [(FinalKind, Fq12); 5] {
    [
        (FinalKind::CInvFrobenius1, witness.c_inv.frobenius_map(1)),
        (FinalKind::CFrobenius2, witness.c.frobenius_map(2)),
        (FinalKind::CInvFrobenius3, witness.c_inv.frobenius_map(3)),
        (FinalKind::Wi, wi),
        (FinalKind::AlphaBeta, pvk.alpha_neg_beta),
    ]
}

/// Native verification with a supplied witness: `Ok(true)` iff the trace ends at one.
pub fn verify_with_witness(
    pvk: &PreparedVerifyingKey,
    proof: &Proof<Bn254>,
    public_inputs: &[Fr],
    witness: &ResidueWitness,
) -> Result<bool, VerifierError> {
    Ok(trace(pvk, proof, public_inputs, witness)?.accepts())
}
