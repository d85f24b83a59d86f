//! The residue witness that replaces the final exponentiation ("On Proving Pairings",
//! Novakovic & Eagen, eprint 2024/640).
//!
//! Notation: `N = p^12 - 1` (order of `Fq12*`, a cyclic group), `h = N / r` (the final
//! exponent), `λ = 6x + 2 + p - p^2 + p^3` (the optimal-ate relation: `r | λ`), `m = λ / r`.
//! A Miller-loop value `f` passes the pairing check iff `f^h = 1`, i.e. iff `f` is an r-th power.
//! The prover instead shows `f · wi = c^λ`; since `λ = 6x+2 + ...` the verifier can fold
//! `c^-(6x+2)` into the Miller loop (sharing its squarings) and finish with three Frobenius
//! maps of `c`, so no exponentiation is left in script.
//!
//! Why `wi` is needed, and why it is small (figures checked in the tests):
//! `gcd(λ, h) = 3` for BN254, so `x -> x^λ` maps onto the cubes of the order-`h` subgroup, not
//! onto all of it. `27 || h` and `m = 3·m'` with `gcd(m', h) = 1`. An r-th residue `f` has
//! `f^(h/3)` a cube root of unity; multiplying by a power of a fixed primitive 27th root of
//! unity `w` (which lies in the sub-field `Fq6`, because `27 | p^6 - 1`) fixes that, and exactly
//! one `wi ∈ {1, w, w^2}` does. The verifier must accept only these three values of `wi`
//! (otherwise `wi = c^λ / f` would pass anything), so the witness carries the index `0..3`.
//!
//! Soundness of the error path: if `f · wi = c^λ` with `wi` a 27th root of unity then
//! `f^h = c^(m·N) · wi^-h = 1` (`27 | h`). So when `f^h != 1` no witness exists, and
//! [`ResidueWitness::compute`] returns [`ResidueError::NotAResidue`] instead of a wrong witness.
//!
//! Algorithm of [`ResidueWitness::compute`] (the paper's three root steps):
//! 1. `g = f^(h/3)`; if `g^3 != 1` then `f` is not an r-th residue: error.
//!    Else pick `k ∈ {0,1,2}` with `(f·w^k)^(h/3) = 1`; `F = f·w^k` is a cube of the order-h group.
//! 2. r-th root: `c1 = F^(r^-1 mod h)`, so `c1^r = F` (`F^h = 1`).
//! 3. m'-th root: `c2 = c1^(m'^-1 mod h)`, so `c2^m' = c1`.
//! 4. cube root in the cyclic group of order `h = 27·t` (`3 ∤ t`): split `c2` into its order-t
//!    part `c2^e_t` (`e_t ≡ 1 mod t`, `≡ 0 mod 27`) and its order-27 part `c2 / c2^e_t = w^j`
//!    (`j` found among 27 candidates, `3 | j` because `F` is a cube). The root is
//!    `(c2^e_t)^(3^-1 mod t) · w^(j/3)`. This replaces the paper's modified Tonelli-Shanks
//!    by an equivalent decomposition (the 3-Sylow subgroup has only 27 elements).
//!
//! Then `c^λ = c^(3·m'·r) = F = f·wi`.

use std::sync::OnceLock;

use ark_bn254::{Config as BnParams, Fq, Fq12, Fq2, Fq6, Fr};
use ark_ec::bn::BnConfig;
use ark_ff::{Field, One, PrimeField, Zero};

use super::nat::Nat;

/// Errors of the residue witness computation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResidueError {
    /// `f^h != 1`: the pairing product is not one, so no `(c, wi)` exists.
    #[error("the Miller-loop value is not an r-th residue: the pairing check fails, no residue witness exists")]
    NotAResidue,
    /// `f` was zero (cannot come out of a Miller loop over non-zero lines).
    #[error("the Miller-loop value is zero")]
    Zero,
}

/// The prover's hint: `c`, its inverse, and `wi = w^wi_power` with `w` the fixed 27th root of
/// unity, such that `f · wi = c^λ`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidueWitness {
    /// The λ-th root `c`.
    pub c: Fq12,
    /// `c^-1` (a hint; the script checks `c · c_inv = 1`).
    pub c_inv: Fq12,
    /// Which of `1, w, w^2` scales `f` (0, 1 or 2).
    pub wi_power: u8,
}

impl ResidueWitness {
    /// The scaling factor `wi = w^wi_power`; `None` if `wi_power > 2` (not an allowed value).
    pub fn wi(&self) -> Option<Fq12> {
        (self.wi_power < 3).then(|| constants().w_powers[self.wi_power as usize])
    }

    /// Computes the witness for a Miller-loop value `f` (see the module doc for the algorithm).
    pub fn compute(f: &Fq12) -> Result<ResidueWitness, ResidueError> {
        if f.is_zero() {
            return Err(ResidueError::Zero);
        }
        let k = constants();
        // Step 1: r-th residue test and choice of wi.
        let g = f.pow(k.h_div_3.limbs());
        if g * g * g != Fq12::one() {
            return Err(ResidueError::NotAResidue);
        }
        let zeta = k.w_powers[1].pow(k.h_div_3.limbs());
        let wi_power = (0..3u8)
            .find(|&i| g * zeta.pow([i as u64]) == Fq12::one())
            .expect("g is a cube root of unity and zeta a primitive one");
        let big_f = *f * k.w_powers[wi_power as usize];
        // Step 2: r-th root.
        let c1 = big_f.pow(k.r_inv_mod_h.limbs());
        // Step 3: m'-th root.
        let c2 = c1.pow(k.m_prime_inv_mod_h.limbs());
        // Step 4: cube root via the order-t / order-27 decomposition.
        let c2_t = c2.pow(k.e_t.limbs());
        let c2_27 = c2 * c2_t.inverse().expect("c2 is non-zero");
        let j = (0..27)
            .find(|&j| k.w_powers[j] == c2_27)
            .expect("the order-27 part of c2 is a power of the generator w");
        assert!(j % 3 == 0, "F was chosen a cube, so its 27-part is a cube");
        let c = c2_t.pow(k.three_inv_mod_t.limbs()) * k.w_powers[j / 3];
        let c_inv = c.inverse().expect("c is non-zero");
        Ok(ResidueWitness { c, c_inv, wi_power })
    }

    /// Checks `f · wi = c^λ` by plain exponentiation (an oracle for tests; the verifier uses the
    /// folded form in [`super::verifier`]).
    pub fn satisfies(&self, f: &Fq12) -> bool {
        match self.wi() {
            Some(wi) => *f * wi == self.c.pow(constants().lambda.limbs()),
            None => false,
        }
    }
}

/// Constants of the residue check, derived once from the curve parameters.
pub(crate) struct ResidueConstants {
    /// `λ = 6x + 2 + p - p^2 + p^3`.
    pub(crate) lambda: Nat,
    /// `h = (p^12 - 1) / r` (read by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) h: Nat,
    pub(crate) h_div_3: Nat,
    pub(crate) r_inv_mod_h: Nat,
    pub(crate) m_prime_inv_mod_h: Nat,
    /// `e_t ≡ 1 (mod t)`, `≡ 0 (mod 27)`, with `h = 27·t`.
    pub(crate) e_t: Nat,
    pub(crate) three_inv_mod_t: Nat,
    /// `w^0 .. w^26` for the fixed primitive 27th root of unity `w`.
    pub(crate) w_powers: Vec<Fq12>,
}

pub(crate) fn constants() -> &'static ResidueConstants {
    static K: OnceLock<ResidueConstants> = OnceLock::new();
    K.get_or_init(ResidueConstants::derive)
}

/// The fixed primitive 27th root of unity `w` (in the sub-field `Fq6`, so `c1 = 0`).
pub fn root_of_unity_27() -> Fq12 {
    constants().w_powers[1]
}

impl ResidueConstants {
    fn derive() -> ResidueConstants {
        let p = Nat::from_limbs(&Fq::MODULUS.0);
        let r = Nat::from_limbs(&Fr::MODULUS.0);
        let x = Nat::from_limbs(BnParams::X);
        let one = Nat::from_u64(1);
        let p2 = p.mul(&p);
        let p3 = p2.mul(&p);
        let p6 = p3.mul(&p3);
        let p12 = p6.mul(&p6);
        // 6x + 2 + p - p^2 + p^3 (x > 0 for BN254: BnParams::X_IS_NEGATIVE is false).
        const { assert!(!BnParams::X_IS_NEGATIVE) };
        let lambda = Nat::from_u64(6)
            .mul(&x)
            .add(&Nat::from_u64(2))
            .add(&p)
            .add(&p3)
            .sub(&p2);
        let h = p12.sub(&one).div_exact(&r);
        let m = lambda.div_exact(&r);
        let m_prime = m.div_exact(&Nat::from_u64(3));
        let n27 = Nat::from_u64(27);
        let t = h.div_exact(&n27);
        assert!(!t.rem(&Nat::from_u64(3)).is_zero(), "27 || h");
        let r_inv_mod_h = r.mod_inverse(&h).expect("gcd(r, h) = 1");
        let m_prime_inv_mod_h = m_prime.mod_inverse(&h).expect("gcd(m', h) = 1");
        let e_t = n27.mul(&n27.mod_inverse(&t).expect("3 does not divide t"));
        let three_inv_mod_t = Nat::from_u64(3)
            .mod_inverse(&t)
            .expect("3 does not divide t");
        // w = z^((p^6 - 1)/27) for the first z = v + k in Fq6 that is not a cube there.
        let e27 = p6.sub(&one).div_exact(&n27);
        let w = (1u64..)
            .map(|k| {
                let z = Fq6::new(Fq2::from(k), Fq2::one(), Fq2::zero());
                Fq12::new(z, Fq6::zero()).pow(e27.limbs())
            })
            .find(|w| w.pow([9u64]) != Fq12::one())
            .expect("a non-cube exists");
        let mut w_powers = Vec::with_capacity(27);
        let mut acc = Fq12::one();
        for _ in 0..27 {
            w_powers.push(acc);
            acc *= w;
        }
        assert!(acc == Fq12::one(), "w has order 27");
        ResidueConstants {
            h_div_3: h.div_exact(&Nat::from_u64(3)),
            lambda,
            h,
            r_inv_mod_h,
            m_prime_inv_mod_h,
            e_t,
            three_inv_mod_t,
            w_powers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{Bn254, G1Projective, G2Projective};
    use ark_ec::pairing::Pairing;
    use ark_ec::PrimeGroup;
    use ark_ff::UniformRand;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn constants_have_the_stated_structure() {
        let k = constants();
        let r = Nat::from_limbs(&Fr::MODULUS.0);
        // r | λ and λ / r = 3 m'.
        let (m, rem) = k.lambda.divrem(&r);
        assert!(rem.is_zero());
        assert!(m.rem(&Nat::from_u64(3)).is_zero());
        assert!(!m.rem(&Nat::from_u64(9)).is_zero());
        // 27 || h.
        assert!(k.h.rem(&Nat::from_u64(27)).is_zero());
        assert!(!k.h.rem(&Nat::from_u64(81)).is_zero());
        // w lives in Fq6 and has order exactly 27.
        let w = root_of_unity_27();
        assert!(w.c1.is_zero());
        assert!(w.pow([9u64]) != Fq12::one() && w.pow([27u64]) == Fq12::one());
    }

    #[test]
    fn a_random_field_element_is_not_a_residue() {
        let mut rng = StdRng::seed_from_u64(7);
        let f = Fq12::rand(&mut rng);
        assert_eq!(ResidueWitness::compute(&f), Err(ResidueError::NotAResidue));
    }

    #[test]
    fn witness_for_arkworks_miller_value_of_a_trivial_product() {
        // e(aG, Q) * e(-aG, Q) = 1: the arkworks Miller value of this product is an r-th residue.
        let mut rng = StdRng::seed_from_u64(8);
        let a = Fr::rand(&mut rng);
        let p = G1Projective::generator() * a;
        let q = G2Projective::generator() * Fr::rand(&mut rng);
        let f = Bn254::multi_miller_loop([p, -p], [q, q]).0;
        let wit = ResidueWitness::compute(&f).expect("product is one");
        assert!(wit.satisfies(&f));
        assert_eq!(wit.c * wit.c_inv, Fq12::one());
        // A wrong wi index must not satisfy the identity.
        for other in (0..3).filter(|&i| i != wit.wi_power) {
            let bad = ResidueWitness {
                wi_power: other,
                ..wit.clone()
            };
            assert!(!bad.satisfies(&f));
        }
        assert!(ResidueWitness { wi_power: 3, ..wit }.wi().is_none());
    }
}
