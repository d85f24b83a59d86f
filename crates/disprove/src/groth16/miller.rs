//! The optimal-ate Miller loop of BN254 with G2 in affine coordinates and normalized lines.
//!
//! Loop shape (same as arkworks' `Bn::multi_miller_loop`, whose `ATE_LOOP_COUNT` holds the NAF
//! digits of `6x + 2`, least significant first): for each digit below the top one, a doubling
//! step, then an addition step of `±Q` if the digit is `±1`; then two additions of the
//! Frobenius-twisted points `π(Q)` and `-π²(Q)`. See [`schedule`].
//!
//! Affine G2 steps (on the twist `E': y² = x³ + 3/ξ`, `ξ = 9 + u`, twist type D): the slope
//! `λ` is a hint, checked by `λ·2y = 3x²` (doubling) or `λ·(x_Q - x_T) = y_Q - y_T`
//! (addition); then `x' = λ² - x_T - x_Q`, `y' = λ(x_T - x') - y_T`.
//!
//! Line evaluation. With `Fq12 = Fq6[w]/(w² - v)`, `Fq6 = Fq2[v]/(v³ - ξ)`, the untwist is
//! `(x, y) -> (x·w², y·w³)`; the line through `T` of slope `λ`, evaluated at `P = (x_P, y_P)` in
//! G1, is `y_P - λ·x_P·w + (λ·x_T - y_T)·w³`, and `w³ = v·w`. We divide it by `y_P` (an `Fq`
//! factor, which the final exponentiation and the residue check both ignore: every proper
//! sub-field element is an r-th residue). With the per-point hints `x̄ = x_P/y_P`,
//! `ȳ = 1/y_P` ([`G1LinePoint`]) the line is the sparse `1 + c3·w + c4·v·w` with
//! `c3 = -λ·x̄`, `c4 = μ·ȳ`, `μ = λ·x_T - y_T` — arkworks' `mul_by_034(1, c3, c4)`.
//! Vertical lines are dropped as usual (they lie in `Fq6`).

use ark_bn254::{Config as BnParams, Fq, Fq12, Fq2, G1Affine, G2Affine};
use ark_ec::bn::BnConfig;
use ark_ec::AffineRepr;
use ark_ff::{AdditiveGroup, Field, One};

/// Errors of the affine Miller loop (exceptional inputs that honest data never produces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MillerError {
    #[error("a point at infinity cannot enter the affine Miller loop")]
    Infinity,
    #[error("affine G2 addition with equal x coordinates (T = ±Q) at step {step}")]
    ExceptionalAddition { step: usize },
    #[error("G1 point with y = 0 cannot be normalized")]
    ZeroY,
}

/// One step of the loop; the same schedule drives every pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Square `f`, double `T`, multiply by the tangent lines (`digit_index` into `ATE_LOOP_COUNT`).
    Double { digit_index: usize },
    /// `T += digit·Q` (`digit = ±1`), multiply by the chord lines; in the verifier `f` is also
    /// multiplied by `c^-digit`.
    Add { digit_index: usize, digit: i8 },
    /// `T += π(Q)`.
    FrobeniusAdd,
    /// Line through `T` and `-π²(Q)` (the last step; the new `T` is not needed).
    FrobeniusNegAdd,
}

/// The ordered steps of the optimal-ate loop of BN254.
pub fn schedule() -> Vec<StepKind> {
    let digits = BnParams::ATE_LOOP_COUNT;
    let mut steps = Vec::new();
    for i in (0..digits.len() - 1).rev() {
        steps.push(StepKind::Double { digit_index: i });
        if digits[i] != 0 {
            steps.push(StepKind::Add {
                digit_index: i,
                digit: digits[i],
            });
        }
    }
    steps.push(StepKind::FrobeniusAdd);
    steps.push(StepKind::FrobeniusNegAdd);
    steps
}

/// A line on the twist through `T` with slope `λ`: `ℓ(x, y) = y - λ·x + μ`, `μ = λ·x_T - y_T`.
/// For the fixed G2 points of the verifying key these are setup constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    pub slope: Fq2,
    pub mu: Fq2,
}

impl Line {
    /// The line through `t` with slope `slope`.
    pub fn through(t: &G2Affine, slope: Fq2) -> Line {
        Line {
            slope,
            mu: slope * t.x - t.y,
        }
    }

    /// The normalized value at a G1 point: `1 + c3·w + c4·v·w`.
    pub fn evaluate(&self, p: &G1LinePoint) -> LineEval {
        let mut c3 = -self.slope;
        c3.mul_assign_by_fp(&p.x_over_y);
        let mut c4 = self.mu;
        c4.mul_assign_by_fp(&p.inv_y);
        LineEval { c3, c4 }
    }
}

/// A G1 point prepared for line evaluation: `x/y` and `1/y` (two `Fq` hints per point, checked
/// in script by `y·inv_y = 1` and `x·inv_y = x_over_y`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct G1LinePoint {
    pub x_over_y: Fq,
    pub inv_y: Fq,
}

impl G1LinePoint {
    /// Whether these hints belong to `p` (the script's check).
    pub fn is_for(&self, p: &G1Affine) -> bool {
        !p.is_zero() && self.inv_y * p.y == Fq::one() && p.x * self.inv_y == self.x_over_y
    }

    pub fn new(p: &G1Affine) -> Result<G1LinePoint, MillerError> {
        if p.is_zero() {
            return Err(MillerError::Infinity);
        }
        let inv_y = p.y.inverse().ok_or(MillerError::ZeroY)?;
        Ok(G1LinePoint {
            x_over_y: p.x * inv_y,
            inv_y,
        })
    }
}

/// An evaluated line: the sparse `Fq12` value `1 + c3·w + c4·v·w`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineEval {
    pub c3: Fq2,
    pub c4: Fq2,
}

impl LineEval {
    /// `f *= 1 + c3·w + c4·v·w` (one sparse multiplication).
    pub fn mul_into(&self, f: &mut Fq12) {
        f.mul_by_034(&Fq2::one(), &self.c3, &self.c4);
    }

    /// The dense `Fq12` value (for tests and documentation).
    pub fn to_fq12(&self) -> Fq12 {
        let mut f = Fq12::one();
        self.mul_into(&mut f);
        f
    }
}

/// One step of a G2 accumulator: the slope hint, the line, and `T` after the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct G2Step {
    pub kind: StepKind,
    pub line: Line,
    pub t_after: G2Affine,
}

/// `π(Q)`: the p-power Frobenius on the twist, `(conj(x)·γ_x, conj(y)·γ_y)` with arkworks'
/// `TWIST_MUL_BY_Q_X/Y`.
pub fn frobenius(q: &G2Affine) -> G2Affine {
    let mut x = q.x;
    x.frobenius_map_in_place(1);
    let mut y = q.y;
    y.frobenius_map_in_place(1);
    G2Affine::new_unchecked(
        x * BnParams::TWIST_MUL_BY_Q_X,
        y * BnParams::TWIST_MUL_BY_Q_Y,
    )
}

/// `-π²(Q)`.
pub fn neg_frobenius2(q: &G2Affine) -> G2Affine {
    let q2 = frobenius(&frobenius(q));
    G2Affine::new_unchecked(q2.x, -q2.y)
}

/// The doubling slope `3x²/(2y)`.
pub fn double_slope(t: &G2Affine) -> Option<Fq2> {
    t.y.double()
        .inverse()
        .map(|inv| t.x.square() * Fq2::from(3u64) * inv)
}

/// The chord slope `(y_Q - y_T)/(x_Q - x_T)`, `None` if `x_Q = x_T`.
pub fn add_slope(t: &G2Affine, q: &G2Affine) -> Option<Fq2> {
    (q.x - t.x).inverse().map(|inv| (q.y - t.y) * inv)
}

/// What the script checks for a doubling slope hint.
pub fn is_double_slope(t: &G2Affine, slope: &Fq2) -> bool {
    *slope * t.y.double() == t.x.square() * Fq2::from(3u64)
}

/// What the script checks for an addition slope hint.
pub fn is_add_slope(t: &G2Affine, q: &G2Affine, slope: &Fq2) -> bool {
    q.x != t.x && *slope * (q.x - t.x) == q.y - t.y
}

/// `T' = T + Q` from the slope (for doubling `q = t`).
pub fn apply_slope(t: &G2Affine, q: &G2Affine, slope: Fq2) -> G2Affine {
    let x = slope.square() - t.x - q.x;
    let y = slope * (t.x - x) - t.y;
    G2Affine::new_unchecked(x, y)
}

/// Runs the G2 side of the loop for `q`: every step's slope, line and new `T`.
pub fn walk_g2(q: &G2Affine) -> Result<Vec<G2Step>, MillerError> {
    if q.is_zero() {
        return Err(MillerError::Infinity);
    }
    let neg_q = -*q;
    let q1 = frobenius(q);
    let q2 = neg_frobenius2(q);
    let mut t = *q;
    let mut out = Vec::new();
    for (n, kind) in schedule().into_iter().enumerate() {
        let addend = match kind {
            StepKind::Double { .. } => None,
            StepKind::Add { digit, .. } => Some(if digit > 0 { *q } else { neg_q }),
            StepKind::FrobeniusAdd => Some(q1),
            StepKind::FrobeniusNegAdd => Some(q2),
        };
        let (slope, other) = match addend {
            None => (double_slope(&t), t),
            Some(a) => (add_slope(&t, &a), a),
        };
        let slope = slope.ok_or(MillerError::ExceptionalAddition { step: n })?;
        let line = Line::through(&t, slope);
        t = apply_slope(&t, &other, slope);
        out.push(G2Step {
            kind,
            line,
            t_after: t,
        });
    }
    Ok(out)
}

/// The plain multi Miller loop (no residue folding) over `(P_i, Q_i)` with our affine,
/// normalized lines. Its value differs from arkworks' `multi_miller_loop` by sub-field factors
/// only, so both give the same final exponentiation.
pub fn multi_miller_loop(pairs: &[(G1Affine, G2Affine)]) -> Result<Fq12, MillerError> {
    let prepared = pairs
        .iter()
        .map(|(p, q)| Ok((G1LinePoint::new(p)?, walk_g2(q)?)))
        .collect::<Result<Vec<_>, MillerError>>()?;
    let mut f = Fq12::one();
    for (n, kind) in schedule().into_iter().enumerate() {
        if matches!(kind, StepKind::Double { .. }) {
            f.square_in_place();
        }
        for (p, steps) in &prepared {
            steps[n].line.evaluate(p).mul_into(&mut f);
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{Bn254, Fr, G1Projective, G2Projective};
    use ark_ec::pairing::Pairing;
    use ark_ec::{CurveGroup, PrimeGroup};
    use ark_ff::UniformRand;
    use proptest::prelude::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn schedule_matches_the_ate_loop_count() {
        let s = schedule();
        let doublings = s
            .iter()
            .filter(|k| matches!(k, StepKind::Double { .. }))
            .count();
        let adds = s
            .iter()
            .filter(|k| matches!(k, StepKind::Add { .. }))
            .count();
        assert_eq!(doublings, BnParams::ATE_LOOP_COUNT.len() - 1);
        let nonzero = BnParams::ATE_LOOP_COUNT[..BnParams::ATE_LOOP_COUNT.len() - 1]
            .iter()
            .filter(|d| **d != 0)
            .count();
        assert_eq!(adds, nonzero);
        // NAF value of the digits is 6x + 2.
        let v: i128 = BnParams::ATE_LOOP_COUNT
            .iter()
            .rev()
            .fold(0i128, |acc, d| 2 * acc + *d as i128);
        assert_eq!(v, 6 * BnParams::X[0] as i128 + 2);
    }

    #[test]
    fn walk_ends_at_minus_p3_q_and_slopes_check() {
        // T after the loop of 6x+2 and + π(Q) - π²(Q) is [6x+2+p-p²]Q = [-p³]Q (mod r).
        let mut rng = StdRng::seed_from_u64(1);
        let q = (G2Projective::generator() * Fr::rand(&mut rng)).into_affine();
        let steps = walk_g2(&q).unwrap();
        let last = steps.last().unwrap().t_after;
        let p3 = frobenius(&frobenius(&frobenius(&q)));
        assert_eq!(last, -p3);
        let mut t = q;
        for s in &steps {
            let ok = match s.kind {
                StepKind::Double { .. } => is_double_slope(&t, &s.line.slope),
                StepKind::Add { digit, .. } => {
                    is_add_slope(&t, &if digit > 0 { q } else { -q }, &s.line.slope)
                }
                StepKind::FrobeniusAdd => is_add_slope(&t, &frobenius(&q), &s.line.slope),
                StepKind::FrobeniusNegAdd => is_add_slope(&t, &neg_frobenius2(&q), &s.line.slope),
            };
            assert!(ok, "{:?}", s.kind);
            // A wrong slope fails the same check.
            assert!(
                !is_double_slope(&t, &(s.line.slope + Fq2::one()))
                    || !matches!(s.kind, StepKind::Double { .. })
            );
            t = s.t_after;
            assert!(t.is_on_curve() && t.is_in_correct_subgroup_assuming_on_curve());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(6))]
        /// Our affine normalized multi Miller loop, final-exponentiated, equals arkworks'
        /// pairing product for random points.
        #[test]
        fn miller_loop_matches_arkworks_after_final_exponentiation(seed in any::<u64>(), n in 1usize..4) {
            let mut rng = StdRng::seed_from_u64(seed);
            let pairs: Vec<(G1Affine, G2Affine)> = (0..n)
                .map(|_| {
                    ((G1Projective::generator() * Fr::rand(&mut rng)).into_affine(),
                     (G2Projective::generator() * Fr::rand(&mut rng)).into_affine())
                })
                .collect();
            let ours = multi_miller_loop(&pairs).unwrap();
            let theirs = Bn254::multi_miller_loop(pairs.iter().map(|p| p.0), pairs.iter().map(|p| p.1));
            let ours_fe = Bn254::final_exponentiation(ark_ec::pairing::MillerLoopOutput(ours)).unwrap();
            let theirs_fe = Bn254::final_exponentiation(theirs).unwrap();
            prop_assert_eq!(ours_fe, theirs_fe);
        }
    }

    #[test]
    fn line_value_matches_dense_formula() {
        // 1 + c3 w + c4 v w built densely from the tower basis equals the sparse product.
        use ark_bn254::Fq6;
        use ark_ff::Zero;
        let mut rng = StdRng::seed_from_u64(2);
        let e = LineEval {
            c3: Fq2::rand(&mut rng),
            c4: Fq2::rand(&mut rng),
        };
        let dense = Fq12::new(
            Fq6::new(Fq2::one(), Fq2::zero(), Fq2::zero()),
            Fq6::new(e.c3, e.c4, Fq2::zero()),
        );
        assert_eq!(e.to_fq12(), dense);
    }
}
