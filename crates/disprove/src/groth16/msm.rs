//! The public-input MSM `vk_x = IC[0] + Σ x_i·IC[i]` in affine coordinates with slope hints.
//!
//! `IC` is fixed at setup, so each `x_i·IC[i]` uses fixed-base windows: with window width `k`,
//! `x_i = Σ_j d_j·2^(k·j)` and table entry `T[i][j][d-1] = d·2^(k·j)·IC[i]`; then
//! `x_i·IC[i] = Σ_j T[i][j][d_j]` needs no doubling, only additions, and a zero digit is
//! skipped. The accumulator starts at `IC[0]`; each addition `acc + e` has the slope hint
//! `λ = (y_e - y_acc)/(x_e - x_acc)` (script check: `λ·(x_e - x_acc) = y_e - y_acc`), then
//! `x' = λ² - x_acc - x_e`, `y' = λ(x_acc - x') - y_acc`.
//!
//! Exceptional case: `x_acc = x_e` (acc = ±e) has no chord. With an honest setup the discrete
//! logs of IC are unknown, so hitting it means solving a discrete-log relation; we return
//! [`MsmError::ExceptionalAddition`] rather than switch formulas (the script has no branch for it).

use ark_bn254::{Fq, Fr, G1Affine, G1Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField};

/// Errors of the fixed-base MSM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsmError {
    #[error("window width {0} is outside 1..=8")]
    WindowWidth(u32),
    #[error("IC[{0}] is the point at infinity")]
    Infinity(usize),
    #[error("{got} public inputs for {expected} IC points beyond IC[0]")]
    InputCount { expected: usize, got: usize },
    #[error("affine addition with equal x coordinates at input {input}, window {window}")]
    ExceptionalAddition { input: usize, window: usize },
}

/// One affine addition of the MSM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsmStep {
    /// Public input index (0-based, multiplies `IC[input + 1]`).
    pub input: usize,
    pub window: usize,
    /// The window digit (1 ..= 2^k - 1).
    pub digit: u32,
    /// The table entry added: `digit·2^(k·window)·IC[input + 1]`.
    pub addend: G1Affine,
    /// The slope hint.
    pub slope: Fq,
    pub acc_after: G1Affine,
}

/// The ordered additions and the result `vk_x`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsmTrace {
    pub steps: Vec<MsmStep>,
    pub vk_x: G1Affine,
}

/// Fixed-base tables for `IC[1..]`.
#[derive(Clone, Debug)]
pub struct FixedBaseMsm {
    window_bits: u32,
    base: G1Affine,
    /// `tables[i][j][d - 1] = d·2^(k·j)·IC[i + 1]`.
    tables: Vec<Vec<Vec<G1Affine>>>,
}

impl FixedBaseMsm {
    /// Builds the tables (setup time).
    pub fn new(ic: &[G1Affine], window_bits: u32) -> Result<FixedBaseMsm, MsmError> {
        if !(1..=8).contains(&window_bits) {
            return Err(MsmError::WindowWidth(window_bits));
        }
        if let Some(i) = ic.iter().position(|p| p.is_zero()) {
            return Err(MsmError::Infinity(i));
        }
        let base = *ic.first().ok_or(MsmError::Infinity(0))?;
        let windows = Self::windows_for(window_bits);
        let entries = (1usize << window_bits) - 1;
        let tables = ic[1..]
            .iter()
            .map(|p| {
                let mut window_base = p.into_group();
                (0..windows)
                    .map(|_| {
                        let mut row = Vec::with_capacity(entries);
                        let mut acc = window_base;
                        for _ in 0..entries {
                            row.push(acc);
                            acc += window_base;
                        }
                        for _ in 0..window_bits {
                            window_base.double_in_place();
                        }
                        G1Projective::normalize_batch(&row)
                    })
                    .collect()
            })
            .collect();
        Ok(FixedBaseMsm {
            window_bits,
            base,
            tables,
        })
    }

    fn windows_for(window_bits: u32) -> usize {
        (Fr::MODULUS_BIT_SIZE as usize).div_ceil(window_bits as usize)
    }

    pub fn window_bits(&self) -> u32 {
        self.window_bits
    }

    /// Number of windows per scalar.
    pub fn windows(&self) -> usize {
        Self::windows_for(self.window_bits)
    }

    /// Number of public inputs the tables serve.
    pub fn inputs(&self) -> usize {
        self.tables.len()
    }

    /// The table entry for a digit (`None` for digit 0 or out of range).
    pub fn entry(&self, input: usize, window: usize, digit: u32) -> Option<G1Affine> {
        let d = (digit as usize).checked_sub(1)?;
        self.tables.get(input)?.get(window)?.get(d).copied()
    }

    /// The window digits of a scalar, least significant first.
    pub fn digits(&self, x: &Fr) -> Vec<u32> {
        let bits = x.into_bigint().to_bits_le();
        (0..self.windows())
            .map(|j| {
                (0..self.window_bits as usize)
                    .map(|b| {
                        bits.get(j * self.window_bits as usize + b)
                            .copied()
                            .unwrap_or(false)
                    })
                    .rev()
                    .fold(0u32, |acc, bit| 2 * acc + bit as u32)
            })
            .collect()
    }

    /// Computes `vk_x` with every addition and slope.
    pub fn run(&self, inputs: &[Fr]) -> Result<MsmTrace, MsmError> {
        if inputs.len() != self.tables.len() {
            return Err(MsmError::InputCount {
                expected: self.tables.len(),
                got: inputs.len(),
            });
        }
        let mut acc = self.base;
        let mut steps = Vec::new();
        for (input, x) in inputs.iter().enumerate() {
            for (window, digit) in self.digits(x).into_iter().enumerate() {
                let Some(addend) = self.entry(input, window, digit) else {
                    continue;
                };
                let slope = add_slope(&acc, &addend)
                    .ok_or(MsmError::ExceptionalAddition { input, window })?;
                acc = apply_slope(&acc, &addend, slope);
                steps.push(MsmStep {
                    input,
                    window,
                    digit,
                    addend,
                    slope,
                    acc_after: acc,
                });
            }
        }
        Ok(MsmTrace { steps, vk_x: acc })
    }
}

/// The chord slope, `None` if the x coordinates are equal.
pub fn add_slope(a: &G1Affine, b: &G1Affine) -> Option<Fq> {
    (b.x - a.x).inverse().map(|inv| (b.y - a.y) * inv)
}

/// What the script checks for an MSM slope hint.
pub fn is_add_slope(a: &G1Affine, b: &G1Affine, slope: &Fq) -> bool {
    a.x != b.x && *slope * (b.x - a.x) == b.y - a.y
}

/// `a + b` from the chord slope.
pub fn apply_slope(a: &G1Affine, b: &G1Affine, slope: Fq) -> G1Affine {
    let x = slope.square() - a.x - b.x;
    let y = slope * (a.x - x) - a.y;
    G1Affine::new_unchecked(x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::PrimeGroup;
    use ark_ff::UniformRand;
    use proptest::prelude::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn random_ic(rng: &mut StdRng, n: usize) -> Vec<G1Affine> {
        (0..=n)
            .map(|_| (G1Projective::generator() * Fr::rand(rng)).into_affine())
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        #[test]
        fn msm_matches_arkworks(seed in any::<u64>(), n in 1usize..4, k in 1u32..9) {
            let mut rng = StdRng::seed_from_u64(seed);
            let ic = random_ic(&mut rng, n);
            let xs: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            let msm = FixedBaseMsm::new(&ic, k).unwrap();
            let trace = msm.run(&xs).unwrap();
            let expected = xs.iter().zip(&ic[1..]).fold(ic[0].into_group(), |acc, (x, p)| acc + *p * x);
            prop_assert_eq!(trace.vk_x, expected.into_affine());
            let mut acc = ic[0];
            for s in &trace.steps {
                prop_assert!(is_add_slope(&acc, &s.addend, &s.slope));
                prop_assert_eq!(Some(s.addend), msm.entry(s.input, s.window, s.digit));
                acc = s.acc_after;
                prop_assert!(acc.is_on_curve());
            }
        }
    }

    #[test]
    fn zero_and_small_inputs() {
        let mut rng = StdRng::seed_from_u64(3);
        let ic = random_ic(&mut rng, 2);
        let msm = FixedBaseMsm::new(&ic, 4).unwrap();
        let t = msm.run(&[Fr::from(0u64), Fr::from(17u64)]).unwrap();
        assert_eq!(t.steps.len(), 2); // 17 = 0x11: two non-zero nibbles
        assert_eq!(t.vk_x, (ic[0] + ic[2] * Fr::from(17u64)).into_affine());
        assert!(!is_add_slope(&ic[0], &ic[0], &Fq::from(1u64)));
    }

    #[test]
    fn errors() {
        let mut rng = StdRng::seed_from_u64(4);
        let ic = random_ic(&mut rng, 1);
        assert_eq!(
            FixedBaseMsm::new(&ic, 0).unwrap_err(),
            MsmError::WindowWidth(0)
        );
        assert_eq!(
            FixedBaseMsm::new(&[ic[0], G1Affine::zero()], 4).unwrap_err(),
            MsmError::Infinity(1)
        );
        let msm = FixedBaseMsm::new(&ic, 4).unwrap();
        assert!(matches!(msm.run(&[]), Err(MsmError::InputCount { .. })));
        // IC[0] = IC[1]: the input 1 makes acc = e at the first addition.
        let msm = FixedBaseMsm::new(&[ic[1], ic[1]], 4).unwrap();
        assert_eq!(
            msm.run(&[Fr::from(1u64)]).unwrap_err(),
            MsmError::ExceptionalAddition {
                input: 0,
                window: 0
            }
        );
    }
}
