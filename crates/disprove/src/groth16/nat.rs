//! A minimal unsigned big integer (little-endian `u64` limbs) for the exponents of the residue
//! witness: `h = (p^12 - 1) / r` has about 3,000 bits and the witness needs inverses modulo it.
//! Only what those constants need: add, sub, mul, division with remainder, modular inverse.
//! Speed is irrelevant (the constants are computed once per process).

use std::cmp::Ordering;

/// An unsigned integer; limbs little-endian, no most-significant zero limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Nat(Vec<u64>);

impl Nat {
    pub(crate) fn from_u64(v: u64) -> Nat {
        Nat::from_limbs(&[v])
    }

    pub(crate) fn from_limbs(limbs: &[u64]) -> Nat {
        let mut n = Nat(limbs.to_vec());
        n.normalize();
        n
    }

    /// Limbs, little-endian (what `Field::pow` takes as an exponent).
    pub(crate) fn limbs(&self) -> &[u64] {
        &self.0
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn normalize(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    pub(crate) fn bits(&self) -> usize {
        match self.0.last() {
            None => 0,
            Some(top) => 64 * self.0.len() - top.leading_zeros() as usize,
        }
    }

    fn bit(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|l| (l >> (i % 64)) & 1 == 1)
    }

    pub(crate) fn add(&self, o: &Nat) -> Nat {
        let n = self.0.len().max(o.0.len());
        let mut out = Vec::with_capacity(n + 1);
        let mut carry = 0u128;
        for i in 0..n {
            let s =
                *self.0.get(i).unwrap_or(&0) as u128 + *o.0.get(i).unwrap_or(&0) as u128 + carry;
            out.push(s as u64);
            carry = s >> 64;
        }
        out.push(carry as u64);
        Nat::from_limbs(&out)
    }

    /// `self - o`; panics if `o > self` (internal invariant: only used on known orderings).
    pub(crate) fn sub(&self, o: &Nat) -> Nat {
        assert!(self.cmp(o) != Ordering::Less, "Nat::sub underflow");
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i128;
        for i in 0..self.0.len() {
            let d = self.0[i] as i128 - *o.0.get(i).unwrap_or(&0) as i128 - borrow;
            if d < 0 {
                out.push((d + (1i128 << 64)) as u64);
                borrow = 1;
            } else {
                out.push(d as u64);
                borrow = 0;
            }
        }
        Nat::from_limbs(&out)
    }

    pub(crate) fn mul(&self, o: &Nat) -> Nat {
        if self.is_zero() || o.is_zero() {
            return Nat(Vec::new());
        }
        let mut out = vec![0u64; self.0.len() + o.0.len()];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &b) in o.0.iter().enumerate() {
                let t = out[i + j] as u128 + a as u128 * b as u128 + carry;
                out[i + j] = t as u64;
                carry = t >> 64;
            }
            out[i + o.0.len()] = carry as u64;
        }
        Nat::from_limbs(&out)
    }

    fn shl1_or(&mut self, low_bit: bool) {
        let mut carry = low_bit as u64;
        for l in self.0.iter_mut() {
            let next = *l >> 63;
            *l = (*l << 1) | carry;
            carry = next;
        }
        if carry != 0 {
            self.0.push(carry);
        }
    }

    /// Quotient and remainder; panics on division by zero (internal invariant).
    pub(crate) fn divrem(&self, d: &Nat) -> (Nat, Nat) {
        assert!(!d.is_zero(), "Nat::divrem by zero");
        let mut q = vec![0u64; self.0.len()];
        let mut r = Nat(Vec::new());
        for i in (0..self.bits()).rev() {
            r.shl1_or(self.bit(i));
            if r.cmp(d) != Ordering::Less {
                r = r.sub(d);
                q[i / 64] |= 1 << (i % 64);
            }
        }
        (Nat::from_limbs(&q), r)
    }

    pub(crate) fn rem(&self, d: &Nat) -> Nat {
        self.divrem(d).1
    }

    /// Exact division; panics if `d` does not divide `self` (internal invariant).
    pub(crate) fn div_exact(&self, d: &Nat) -> Nat {
        let (q, r) = self.divrem(d);
        assert!(r.is_zero(), "Nat::div_exact: not divisible");
        q
    }

    /// `self^-1 mod m`, or `None` when `gcd(self, m) != 1` (extended Euclid, coefficients
    /// kept reduced modulo `m`).
    pub(crate) fn mod_inverse(&self, m: &Nat) -> Option<Nat> {
        let (mut r0, mut r1) = (m.clone(), self.rem(m));
        let (mut t0, mut t1) = (Nat(Vec::new()), Nat::from_u64(1));
        while !r1.is_zero() {
            let (q, r2) = r0.divrem(&r1);
            // t2 = t0 - q*t1 (mod m)
            let qt1 = q.mul(&t1).rem(m);
            let t2 = t0.add(m).sub(&qt1).rem(m);
            (r0, r1) = (r1, r2);
            (t0, t1) = (t1, t2);
        }
        (r0 == Nat::from_u64(1)).then_some(t0)
    }
}

impl PartialOrd for Nat {
    fn partial_cmp(&self, o: &Nat) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Nat {
    fn cmp(&self, o: &Nat) -> Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn to_u128(n: &Nat) -> u128 {
        n.0.iter()
            .enumerate()
            .map(|(i, &l)| (l as u128) << (64 * i))
            .sum()
    }

    fn nat(v: u128) -> Nat {
        Nat::from_limbs(&[v as u64, (v >> 64) as u64])
    }

    proptest! {
        #[test]
        fn arithmetic_matches_u128(a in 0u64.., b in 1u64.., c in 0u64..) {
            let (na, nb, nc) = (nat(a as u128), nat(b as u128), nat(c as u128));
            prop_assert_eq!(to_u128(&na.mul(&nb)), a as u128 * b as u128);
            prop_assert_eq!(to_u128(&na.add(&nc)), a as u128 + c as u128);
            let big = na.mul(&nb).add(&nc);
            let (q, r) = big.divrem(&nb);
            let v = a as u128 * b as u128 + c as u128;
            prop_assert_eq!(to_u128(&q), v / b as u128);
            prop_assert_eq!(to_u128(&r), v % b as u128);
            prop_assert_eq!(to_u128(&big.sub(&nc)), a as u128 * b as u128);
        }

        #[test]
        fn mod_inverse_is_an_inverse(a in 1u64.., m in 2u64..) {
            let (na, nm) = (nat(a as u128), nat(m as u128));
            match na.mod_inverse(&nm) {
                Some(inv) => prop_assert_eq!(to_u128(&na.mul(&inv).rem(&nm)), 1),
                None => {
                    let g = { let (mut x, mut y) = (a, m); while y != 0 { (x, y) = (y, x % y); } x };
                    prop_assert!(g != 1);
                }
            }
        }
    }
}
