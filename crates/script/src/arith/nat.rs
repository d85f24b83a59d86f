//! A small native unsigned big integer used to build constants (the prime's limbs, tables of its
//! multiples), to compute hints, and as the native reference in tests. Not constant-time; not for
//! secrets.

use std::cmp::Ordering;

/// An unsigned integer of any size, little-endian base-2^32 words, no trailing zero words.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Nat(Vec<u32>);

impl Nat {
    /// Zero.
    pub fn zero() -> Self {
        Nat(Vec::new())
    }

    /// From a `u128`.
    pub fn from_u128(v: u128) -> Self {
        let mut w = Vec::new();
        let mut v = v;
        while v != 0 {
            w.push(v as u32);
            v >>= 32;
        }
        Nat(w)
    }

    /// From little-endian 32-bit words (trailing zeros allowed).
    pub fn from_words(words: &[u32]) -> Self {
        let mut n = Nat(words.to_vec());
        n.trim();
        n
    }

    /// From big-endian bytes (any length).
    pub fn from_be_bytes(bytes: &[u8]) -> Self {
        let mut words = Vec::with_capacity(bytes.len() / 4 + 1);
        for chunk in bytes.rchunks(4) {
            let mut w = 0u32;
            for &b in chunk {
                w = (w << 8) | b as u32;
            }
            words.push(w);
        }
        Self::from_words(&words)
    }

    /// Parse a hexadecimal string (optional `0x` prefix). `None` on a bad digit.
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let mut n = Nat::zero();
        for c in s.chars() {
            let d = c.to_digit(16)?;
            n = n.shl(4).add(&Nat::from_u128(d as u128));
        }
        Some(n)
    }

    /// Big-endian bytes, exactly `len` long (panics if the value does not fit).
    pub fn to_be_bytes(&self, len: usize) -> Vec<u8> {
        assert!(self.bits() <= 8 * len, "value of {} bits does not fit {} bytes", self.bits(), len);
        (0..len).rev().map(|i| self.byte(i)).collect()
    }

    fn byte(&self, i: usize) -> u8 {
        self.0.get(i / 4).map_or(0, |w| (w >> (8 * (i % 4))) as u8)
    }

    /// As `u128` if it fits.
    pub fn to_u128(&self) -> Option<u128> {
        if self.0.len() > 4 {
            return None;
        }
        Some(self.0.iter().rev().fold(0u128, |acc, &w| (acc << 32) | w as u128))
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of significant bits (0 for zero).
    pub fn bits(&self) -> usize {
        match self.0.last() {
            None => 0,
            Some(&top) => 32 * (self.0.len() - 1) + (32 - top.leading_zeros() as usize),
        }
    }

    /// Bit `i` (0 = least significant).
    pub fn bit(&self, i: usize) -> bool {
        self.0.get(i / 32).is_some_and(|w| (w >> (i % 32)) & 1 == 1)
    }

    /// Bits `[lo, lo + width)` as an integer (`width <= 64`).
    pub fn bits_at(&self, lo: usize, width: usize) -> u64 {
        (0..width).fold(0u64, |acc, j| acc | ((self.bit(lo + j) as u64) << j))
    }

    /// `self + other`.
    pub fn add(&self, other: &Nat) -> Nat {
        let n = self.0.len().max(other.0.len());
        let mut out = Vec::with_capacity(n + 1);
        let mut carry = 0u64;
        for i in 0..n {
            let s = *self.0.get(i).unwrap_or(&0) as u64 + *other.0.get(i).unwrap_or(&0) as u64 + carry;
            out.push(s as u32);
            carry = s >> 32;
        }
        out.push(carry as u32);
        Nat::from_words(&out)
    }

    /// `self - other`, `None` if it would be negative.
    pub fn checked_sub(&self, other: &Nat) -> Option<Nat> {
        if self < other {
            return None;
        }
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let mut d = self.0[i] as i64 - *other.0.get(i).unwrap_or(&0) as i64 - borrow;
            borrow = 0;
            if d < 0 {
                d += 1 << 32;
                borrow = 1;
            }
            out.push(d as u32);
        }
        Some(Nat::from_words(&out))
    }

    /// `self * other` (schoolbook).
    pub fn mul(&self, other: &Nat) -> Nat {
        let mut out = vec![0u64; self.0.len() + other.0.len() + 1];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in other.0.iter().enumerate() {
                let t = out[i + j] + a as u64 * b as u64 + carry;
                out[i + j] = t & 0xffff_ffff;
                carry = t >> 32;
            }
            let mut k = i + other.0.len();
            while carry != 0 {
                let t = out[k] + carry;
                out[k] = t & 0xffff_ffff;
                carry = t >> 32;
                k += 1;
            }
        }
        Nat::from_words(&out.iter().map(|&w| w as u32).collect::<Vec<_>>())
    }

    /// `self << k`.
    pub fn shl(&self, k: usize) -> Nat {
        if self.is_zero() {
            return Nat::zero();
        }
        let (words, bits) = (k / 32, k % 32);
        let mut out = vec![0u32; words];
        let mut carry = 0u32;
        for &w in &self.0 {
            out.push(if bits == 0 { w } else { (w << bits) | carry });
            carry = if bits == 0 { 0 } else { w >> (32 - bits) };
        }
        out.push(carry);
        Nat::from_words(&out)
    }

    /// `self >> k`.
    pub fn shr(&self, k: usize) -> Nat {
        let total = self.bits();
        if k >= total {
            return Nat::zero();
        }
        let mut out = Nat::zero();
        for i in (k..total).rev() {
            out = out.shl(1);
            if self.bit(i) {
                out = out.add(&Nat::from_u128(1));
            }
        }
        out
    }

    /// `(self / m, self % m)` by binary long division (panics if `m` is zero).
    pub fn div_rem(&self, m: &Nat) -> (Nat, Nat) {
        assert!(!m.is_zero(), "division by zero");
        let mut q = Nat::zero();
        let mut r = Nat::zero();
        for i in (0..self.bits()).rev() {
            r = r.shl(1);
            if self.bit(i) {
                r = r.add(&Nat::from_u128(1));
            }
            q = q.shl(1);
            if let Some(d) = r.checked_sub(m) {
                r = d;
                q = q.add(&Nat::from_u128(1));
            }
        }
        (q, r)
    }

    /// `self % m`.
    pub fn rem(&self, m: &Nat) -> Nat {
        self.div_rem(m).1
    }
}

impl PartialOrd for Nat {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Nat {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_u128(a in any::<u64>(), b in any::<u64>(), k in 0usize..60, m in 1u64..) {
            let (na, nb) = (Nat::from_u128(a as u128), Nat::from_u128(b as u128));
            prop_assert_eq!(na.add(&nb).to_u128(), Some(a as u128 + b as u128));
            prop_assert_eq!(na.mul(&nb).to_u128(), Some(a as u128 * b as u128));
            prop_assert_eq!(na.checked_sub(&nb).map(|d| d.to_u128().unwrap()), (a as u128).checked_sub(b as u128));
            prop_assert_eq!(na.shl(k).to_u128(), Some((a as u128) << k));
            prop_assert_eq!(na.shr(k).to_u128(), Some((a as u128) >> k));
            let p = (a as u128) * (b as u128 | 1);
            let (q, r) = Nat::from_u128(p).div_rem(&Nat::from_u128(m as u128));
            prop_assert_eq!((q.to_u128().unwrap(), r.to_u128().unwrap()), (p / m as u128, p % m as u128));
            prop_assert_eq!(na.cmp(&nb), a.cmp(&b));
            prop_assert_eq!(Nat::from_be_bytes(&na.to_be_bytes(8)), na.clone());
            prop_assert_eq!(Nat::from_hex(&format!("{a:x}")).unwrap(), na);
        }
    }
}
