//! Constraint gadgets the statement circuit is built from: one-hot selectors, byte selection,
//! 256-bit little-endian comparison, compact-target decoding, and a SHA-256 over a message of
//! variable length (a whole number of blocks chosen by the prover, padding checked in-circuit).

use ark_bn254::Fr;
use ark_ff::{BigInteger, Field, PrimeField};
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::convert::ToBitsGadget;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::select::CondSelectGadget;
use ark_r1cs_std::uint32::UInt32;
use ark_r1cs_std::uint8::UInt8;
use ark_r1cs_std::GR1CSVar;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

/// A byte variable.
pub type Byte = UInt8<Fr>;

/// The byte as a field element (a linear combination of its bits: no constraint).
pub fn byte_fp(b: &Byte) -> Result<FpVar<Fr>, SynthesisError> {
    b.to_fp()
}

/// Little-endian bytes as a field element; at most 31 bytes so that it cannot wrap.
pub fn le_bytes_fp(bytes: &[Byte]) -> Result<FpVar<Fr>, SynthesisError> {
    assert!(bytes.len() <= 31, "le_bytes_fp: {} bytes could wrap the field", bytes.len());
    let mut acc = FpVar::zero();
    let mut coeff = Fr::ONE;
    for b in bytes {
        acc += byte_fp(b)? * coeff;
        coeff *= Fr::from(256u64);
    }
    Ok(acc)
}

/// Allocates a one-hot vector of `n` booleans with the bit `chosen` set (as witnesses) and
/// enforces that exactly one is set. If `chosen` is `Some(i)` with `i >= n`, every bit is false
/// and the constraint system is unsatisfied: out-of-range choices cannot be proven.
pub fn one_hot(
    cs: &ConstraintSystemRef<Fr>,
    n: usize,
    chosen: Result<usize, SynthesisError>,
) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    let mut bits = Vec::with_capacity(n);
    for i in 0..n {
        let v = chosen.as_ref().map(|c| *c == i).map_err(|e| *e);
        bits.push(Boolean::new_witness(cs.clone(), || v)?);
    }
    let sum = bits.iter().fold(FpVar::zero(), |acc, b| acc + FpVar::from(b.clone()));
    sum.enforce_equal(&FpVar::one())?;
    Ok(bits)
}

/// `sum_i weights[i] * sel[i]` as a field element, for constant weights (linear, no constraint).
pub fn weighted(sel: &[Boolean<Fr>], weights: impl Fn(usize) -> u64) -> FpVar<Fr> {
    sel.iter()
        .enumerate()
        .fold(FpVar::zero(), |acc, (i, b)| acc + FpVar::from(b.clone()) * Fr::from(weights(i)))
}

/// `sum_i sel[i] * values[i]`: one constraint per non-constant term.
pub fn select_fp(sel: &[Boolean<Fr>], values: &[FpVar<Fr>]) -> Result<FpVar<Fr>, SynthesisError> {
    assert_eq!(sel.len(), values.len());
    let mut acc = FpVar::zero();
    for (s, v) in sel.iter().zip(values) {
        acc += FpVar::from(s.clone()) * v;
    }
    Ok(acc)
}

/// Enforces `a <= b` for two 128-bit limbs given as field elements, or returns the flag.
fn limb_flag(
    cs: &ConstraintSystemRef<Fr>,
    a: &FpVar<Fr>,
    b: &FpVar<Fr>,
    strict: bool,
) -> Result<Boolean<Fr>, SynthesisError> {
    // d = b - a + 2^128 (- 1 if strict) lies in [0, 2^129) when a, b < 2^128; its bit 128 is
    // set exactly when a <= b (a < b if strict).
    let two128 = Fr::from(2u64).pow([128u64]);
    let mut d = b - a + FpVar::constant(two128);
    if strict {
        d -= FpVar::one();
    }
    let dv = d.value();
    let mut bits = Vec::with_capacity(129);
    for i in 0..129 {
        let bit = dv.map(|v| v.into_bigint().get_bit(i));
        bits.push(Boolean::new_witness(cs.clone(), || bit)?);
    }
    Boolean::le_bits_to_fp(&bits)?.enforce_equal(&d)?;
    Ok(bits[128].clone())
}

/// `a <= b` for two 256-bit unsigned integers given as 32 little-endian bytes each.
/// About 270 constraints (two 129-bit decompositions and an equality test).
pub fn le_u256_leq(
    cs: &ConstraintSystemRef<Fr>,
    a: &[FpVar<Fr>; 2],
    b: &[FpVar<Fr>; 2],
) -> Result<Boolean<Fr>, SynthesisError> {
    let lt_hi = limb_flag(cs, &a[1], &b[1], true)?;
    let eq_hi = a[1].is_eq(&b[1])?;
    let le_lo = limb_flag(cs, &a[0], &b[0], false)?;
    Boolean::kary_or(&[lt_hi, Boolean::kary_and(&[eq_hi, le_lo])?])
}

/// Splits 32 little-endian bytes (as field elements < 256) into (low, high) 128-bit limbs.
pub fn limbs_from_fp_bytes(bytes: &[FpVar<Fr>]) -> [FpVar<Fr>; 2] {
    assert_eq!(bytes.len(), 32);
    let limb = |part: &[FpVar<Fr>]| {
        let mut acc = FpVar::zero();
        let mut c = Fr::ONE;
        for b in part {
            acc += b * c;
            c *= Fr::from(256u64);
        }
        acc
    };
    [limb(&bytes[..16]), limb(&bytes[16..])]
}

/// Limbs of 32 little-endian byte variables.
pub fn limbs_from_bytes(bytes: &[Byte]) -> Result<[FpVar<Fr>; 2], SynthesisError> {
    let fps = bytes.iter().map(byte_fp).collect::<Result<Vec<_>, _>>()?;
    Ok(limbs_from_fp_bytes(&fps))
}

/// Decodes a compact target (`nBits`, the four header bytes 72..76 in order: three mantissa
/// bytes little-endian, then the exponent) into 32 little-endian target bytes as field elements.
/// Enforces the mantissa's sign bit clear and the exponent in 3..=32 (every target any Bitcoin
/// network uses); other encodings make the system unsatisfied.
pub fn decode_compact(
    cs: &ConstraintSystemRef<Fr>,
    nbits: &[Byte],
) -> Result<Vec<FpVar<Fr>>, SynthesisError> {
    assert_eq!(nbits.len(), 4);
    let m2_bits = nbits[2].to_bits_le()?;
    m2_bits[7].enforce_equal(&Boolean::FALSE)?;
    let exp_value = nbits[3].value().map(|e| (e as usize).wrapping_sub(3));
    // sel[i] <=> exponent == i + 3, i in 0..30
    let sel = one_hot(cs, 30, exp_value)?;
    byte_fp(&nbits[3])?.enforce_equal(&weighted(&sel, |i| i as u64 + 3))?;
    let m = nbits[..3].iter().map(byte_fp).collect::<Result<Vec<_>, _>>()?;
    let mut target = Vec::with_capacity(32);
    for j in 0..32usize {
        // byte j of mantissa * 256^(e-3) is mantissa byte j - (e - 3) = j - i.
        let mut acc = FpVar::zero();
        for (i, s) in sel.iter().enumerate() {
            if j >= i && j - i < 3 {
                acc += FpVar::from(s.clone()) * &m[j - i];
            }
        }
        target.push(acc);
    }
    Ok(target)
}

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// SHA-256 initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// One SHA-256 compression (FIPS 180-4, 6.2.2) of a 64-byte block into `state`. The fixed-length
/// hashes of the circuit use ark-crypto-primitives' `Sha256Gadget`; this exists because that
/// gadget does not expose its intermediate state, which a variable-length message needs.
pub fn sha256_compress(state: &[UInt32<Fr>], block: &[Byte]) -> Result<Vec<UInt32<Fr>>, SynthesisError> {
    assert_eq!(block.len(), 64);
    let mut w: Vec<UInt32<Fr>> = Vec::with_capacity(64);
    for chunk in block.chunks(4) {
        w.push(UInt32::from_bytes_be(chunk)?);
    }
    for t in 16..64 {
        let s0 = w[t - 15].rotate_right(7) ^ &w[t - 15].rotate_right(18) ^ &(&w[t - 15] >> 3u8);
        let s1 = w[t - 2].rotate_right(17) ^ &w[t - 2].rotate_right(19) ^ &(&w[t - 2] >> 10u8);
        let next = UInt32::wrapping_add_many(&[w[t - 16].clone(), s0, w[t - 7].clone(), s1])?;
        w.push(next);
    }
    let mut v = state.to_vec();
    for t in 0..64 {
        let (a, b, c, d, e, f, g, h) =
            (&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
        let big_s1 = e.rotate_right(6) ^ &e.rotate_right(11) ^ &e.rotate_right(25);
        let ch = (e & f) ^ &((!e) & g);
        let t1 = UInt32::wrapping_add_many(&[h.clone(), big_s1, ch, UInt32::constant(K[t]), w[t].clone()])?;
        let big_s0 = a.rotate_right(2) ^ &a.rotate_right(13) ^ &a.rotate_right(22);
        let maj = (a & b) ^ &(a & c) ^ &(b & c);
        let t2 = big_s0.wrapping_add(&maj);
        let new_e = d.wrapping_add(&t1);
        let new_a = t1.wrapping_add(&t2);
        v = vec![new_a, a.clone(), b.clone(), c.clone(), new_e, e.clone(), f.clone(), g.clone()];
    }
    Ok(state.iter().zip(v.iter()).map(|(s, x)| s.wrapping_add(x)).collect())
}

/// SHA-256 of a message of private length `len` held in `buf` (a whole number of 64-byte
/// blocks, at least `min_len + 9` long); `buf` must be the message followed by its standard
/// padding and anything after the last block. Enforced in-circuit: `min_len <= len`,
/// `buf[len] == 0x80`, zero bytes up to the length field, the 64-bit big-endian bit length at the
/// end of the chosen last block, and the digest is the state after exactly that block.
/// Returns the 32 digest bytes.
#[allow(clippy::needless_range_loop)]
pub fn sha256_var(
    cs: &ConstraintSystemRef<Fr>,
    buf: &[Byte],
    len: Result<usize, SynthesisError>,
    min_len: usize,
) -> Result<Vec<Byte>, SynthesisError> {
    assert!(buf.len() & 63 == 0 && !buf.is_empty());
    let n = buf.len();
    let blocks = n / 64;
    // eq[i] <=> len == i, for i in min_len..=n-9 (positions where the 0x80 byte may sit).
    let positions: Vec<usize> = (min_len..=n - 9).collect();
    let eq = one_hot(cs, positions.len(), len.map(|l| l.wrapping_sub(min_len)))?;
    let len_fp = weighted(&eq, |k| positions[k] as u64);
    // last[b] <=> the last block is block b (0-based); it is determined by len.
    let last_choice = len.map(|l| (l + 8) / 64);
    let last = one_hot(cs, blocks, last_choice)?;
    // The length field of the last block: 8 big-endian bytes = 8 * len.
    for (b, s) in last.iter().enumerate() {
        let field = &buf[64 * b + 56..64 * b + 64];
        let mut be = FpVar::zero();
        for byte in field {
            be = be * Fr::from(256u64) + byte_fp(byte)?;
        }
        FpVar::from(s.clone()).mul_equals(&(be - &len_fp * Fr::from(8u64)), &FpVar::zero())?;
    }
    // Position classes, as 0/1 field elements that are linear in the selectors.
    for i in 0..n {
        let b_of_i = i / 64;
        let is_pad_start = positions.iter().position(|&p| p == i).map(|k| FpVar::from(eq[k].clone()));
        // after = len < i
        let after = positions
            .iter()
            .enumerate()
            .filter(|(_, &p)| p < i)
            .fold(FpVar::zero(), |acc, (k, _)| acc + FpVar::from(eq[k].clone()));
        // in the length field of the last block, or beyond the last block
        let in_len_field = if i % 64 >= 56 { FpVar::from(last[b_of_i].clone()) } else { FpVar::zero() };
        let beyond = (0..b_of_i).fold(FpVar::zero(), |acc, b| acc + FpVar::from(last[b].clone()));
        let byte = byte_fp(&buf[i])?;
        if let Some(start) = &is_pad_start {
            // 0x80 at position len, which must lie before the last block's length field.
            start.mul_equals(&(byte.clone() - FpVar::constant(Fr::from(0x80u64))), &FpVar::zero())?;
            start.mul_equals(&(in_len_field.clone() + &beyond), &FpVar::zero())?;
        }
        // zero bytes strictly after len, before the length field of the last block.
        let zero_region = after - in_len_field - beyond;
        zero_region.mul_equals(&byte, &FpVar::zero())?;
    }
    // Compress every block; the digest is the state after the last one.
    let mut state: Vec<UInt32<Fr>> = IV.iter().map(|&x| UInt32::constant(x)).collect();
    let mut digest: Option<Vec<UInt32<Fr>>> = None;
    for (b, s) in last.iter().enumerate() {
        state = sha256_compress(&state, &buf[64 * b..64 * b + 64])?;
        digest = Some(match digest {
            None => state.clone(),
            Some(prev) => state
                .iter()
                .zip(prev.iter())
                .map(|(new, old)| UInt32::conditionally_select(s, new, old))
                .collect::<Result<Vec<_>, _>>()?,
        });
    }
    let digest = digest.expect("at least one block");
    let mut out = Vec::with_capacity(32);
    for word in &digest {
        out.extend(word.to_bytes_be()?);
    }
    Ok(out)
}

/// Double SHA-256 (Bitcoin's hash256) of a fixed-length message with ark-crypto-primitives'
/// SHA-256 gadget.
pub fn hash256(data: &[Byte]) -> Result<Vec<Byte>, SynthesisError> {
    use ark_crypto_primitives::crh::sha256::constraints::Sha256Gadget;
    let inner = Sha256Gadget::<Fr>::digest(data)?;
    Ok(Sha256Gadget::<Fr>::digest(&inner.0)?.0)
}

/// Single SHA-256 of a fixed-length message with ark-crypto-primitives' gadget.
pub fn sha256(data: &[Byte]) -> Result<Vec<Byte>, SynthesisError> {
    use ark_crypto_primitives::crh::sha256::constraints::Sha256Gadget;
    Ok(Sha256Gadget::<Fr>::digest(data)?.0)
}

/// Enforces two byte strings equal.
pub fn enforce_bytes_equal(a: &[Byte], b: &[Byte]) -> Result<(), SynthesisError> {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        x.enforce_equal(y)?;
    }
    Ok(())
}

/// Selects `cond ? a : b` bytewise.
pub fn select_bytes(cond: &Boolean<Fr>, a: &[Byte], b: &[Byte]) -> Result<Vec<Byte>, SynthesisError> {
    a.iter().zip(b).map(|(x, y)| UInt8::conditionally_select(cond, x, y)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::witness::{compact_target_le, le_u256_leq_native};
    use ark_relations::gr1cs::ConstraintSystem;
    use proptest::prelude::*;
    use sha2::Digest;

    fn bytes(cs: &ConstraintSystemRef<Fr>, v: &[u8]) -> Vec<Byte> {
        UInt8::new_witness_vec(cs.clone(), v).unwrap()
    }

    /// Returns (gadget's answer, whether enforcing "a <= b" is satisfiable).
    fn leq(a: [u8; 32], b: [u8; 32]) -> (bool, bool) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let av = limbs_from_bytes(&bytes(&cs, &a)).unwrap();
        let bv = limbs_from_bytes(&bytes(&cs, &b)).unwrap();
        let r = le_u256_leq(&cs, &av, &bv).unwrap();
        let answer = r.value().unwrap();
        assert!(cs.is_satisfied().unwrap(), "the flag itself is always provable");
        r.enforce_equal(&Boolean::TRUE).unwrap();
        (answer, cs.is_satisfied().unwrap())
    }

    #[test]
    fn leq_hand_made_cases() {
        let zero = [0u8; 32];
        let max = [0xffu8; 32];
        let mut one = zero;
        one[0] = 1;
        let mut lo_limb_top = zero; // 2^120
        lo_limb_top[15] = 1;
        let mut hi_limb_bottom = zero; // 2^128
        hi_limb_bottom[16] = 1;
        let mut hi_and_lo = hi_limb_bottom; // 2^128 + 1
        hi_and_lo[0] = 1;
        let mut top = zero; // 2^255
        top[31] = 0x80;
        let cases = [
            (zero, zero, true),
            (max, max, true),
            (zero, max, true),
            (max, zero, false),
            (one, zero, false),
            (zero, one, true),
            (lo_limb_top, hi_limb_bottom, true),
            (hi_limb_bottom, lo_limb_top, false),
            (hi_and_lo, hi_limb_bottom, false),
            (hi_limb_bottom, hi_and_lo, true),
            (top, max, true),
            (max, top, false),
            // same high limb, low limbs differ in their top byte
            (lo_limb_top, one, false),
        ];
        for (a, b, want) in cases {
            let (got, sat) = leq(a, b);
            assert_eq!(got, want, "a={} b={}", hex::encode(a), hex::encode(b));
            assert_eq!(sat, want, "enforcing a<=b satisfiable iff a<=b");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn leq_matches_native(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), share_hi in any::<bool>()) {
            let mut b = b;
            if share_hi { b[16..].copy_from_slice(&a[16..]); }
            let want = le_u256_leq_native(&a, &b);
            let (got, sat) = leq(a, b);
            prop_assert_eq!(got, want);
            prop_assert_eq!(sat, want);
        }
    }

    fn decode(bits: u32) -> (Option<[u8; 32]>, bool) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let v = bytes(&cs, &bits.to_le_bytes());
        let t = decode_compact(&cs, &v).unwrap();
        let sat = cs.is_satisfied().unwrap();
        let vals: Option<Vec<u8>> = t.iter().map(|x| x.value().ok().map(|f| f.into_bigint().as_ref()[0] as u8)).collect();
        (vals.map(|v| v.try_into().unwrap()), sat)
    }

    #[test]
    fn compact_targets_decode_like_bitcoin() {
        for bits in [0x207f_ffffu32, 0x1d00_ffff, 0x1b04_04cb, 0x1703_a30c, 0x0312_3456, 0x0400_0001] {
            let (t, sat) = decode(bits);
            assert!(sat, "{bits:#x}");
            let native = compact_target_le(bits).unwrap();
            assert_eq!(t.unwrap(), native, "{bits:#x}");
            let theirs = bitcoin::Target::from_compact(bitcoin::CompactTarget::from_consensus(bits)).to_le_bytes();
            assert_eq!(native, theirs, "{bits:#x} against rust-bitcoin");
        }
    }

    #[test]
    fn compact_targets_outside_the_supported_range_are_unsatisfiable() {
        // exponent 2, exponent 33, negative mantissa
        for bits in [0x0200_8000u32, 0x2100_0001, 0x1d80_0000] {
            assert!(!decode(bits).1, "{bits:#x}");
            assert!(compact_target_le(bits).is_err());
        }
    }

    fn var_hash(msg: &[u8], claimed_len: usize, blocks: usize) -> (Vec<u8>, bool) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let buf = crate::circuit::padded_tx(msg, 64 * blocks);
        let bv = bytes(&cs, &buf);
        let d = sha256_var(&cs, &bv, Ok(claimed_len), 65).unwrap();
        (d.iter().map(|b| b.value().unwrap()).collect(), cs.is_satisfied().unwrap())
    }

    #[test]
    fn variable_length_sha256_matches_sha2() {
        for len in [65usize, 100, 119, 120, 150, 183] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let (d, sat) = var_hash(&msg, len, 3);
            assert!(sat, "len {len}");
            assert_eq!(d, sha2::Sha256::digest(&msg).to_vec(), "len {len}");
        }
    }

    #[test]
    fn variable_length_sha256_rejects_wrong_length_or_padding() {
        let msg: Vec<u8> = (0..100).map(|i| i as u8).collect();
        assert!(!var_hash(&msg, 99, 3).1, "length one short");
        assert!(!var_hash(&msg, 101, 3).1, "length one long");
        assert!(!var_hash(&msg[..64], 64, 3).1, "64-byte messages are below the minimum");
        // corrupt a padding zero: the buffer no longer is message || padding
        let cs = ConstraintSystem::<Fr>::new_ref();
        let mut buf = crate::circuit::padded_tx(&msg, 192);
        buf[110] = 1;
        let bv = bytes(&cs, &buf);
        sha256_var(&cs, &bv, Ok(100), 65).unwrap();
        assert!(!cs.is_satisfied().unwrap(), "non-zero padding byte");
    }
}
