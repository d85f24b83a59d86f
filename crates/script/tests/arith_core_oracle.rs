//! The arithmetic and hash gadgets judged by Bitcoin Core (libbitcoinkernel): each gadget is put
//! in a leaf `gadget, push expected outputs, compare them all, OP_TRUE`, spent from a one-leaf
//! taproot output with its inputs (and hints) as witness, and `bitcoinkernel::verify` must accept
//! it exactly when our executor does; a tampered witness (wrong hint, out-of-range digit, wrong
//! expected value) must be rejected by both.
//!
//! Run: `cargo test -p bitvm2-script --features core-oracle --test arith_core_oracle`.
#![cfg(feature = "core-oracle")]

use bitcoin::ScriptBuf;
use bitvm2_script::arith::{bn254_fq, limbs_to_nibbles, nibbles_to_limbs, Layout, Nat};
use bitvm2_script::builder::Fragment;
use bitvm2_script::exec::encode_num;
use bitvm2_script::hash::{blake3, blake3_native, bytes_to_nibbles};

fn verdicts(script: &ScriptBuf, items: &[Vec<u8>]) -> (bool, bool, String) {
    let v = bitvm2_script::oracle::verdicts(script, items);
    (v.core, v.ours, v.detail)
}

fn leaf(gadget: &Fragment, expected: &[Vec<u8>]) -> ScriptBuf {
    bitvm2_script::oracle::expecting(gadget, expected)
}

/// Core and ours agree; the honest witness passes and every tampered one fails.
fn judge(name: &str, gadget: &Fragment, witness: &[Vec<u8>], expected: &[Vec<u8>], tampered: &[Vec<Vec<u8>>]) {
    let script = leaf(gadget, expected);
    let (core, ours, detail) = verdicts(&script, witness);
    assert_eq!(core, ours, "{name}: disagreement ({detail})");
    assert!(core, "{name}: honest witness rejected ({detail})");
    for (i, bad) in tampered.iter().enumerate() {
        let (core, ours, detail) = verdicts(&script, bad);
        assert_eq!(core, ours, "{name} tampered #{i}: disagreement ({detail})");
        assert!(!core, "{name} tampered #{i}: accepted");
    }
    // a wrong expected value must fail too
    if let Some(first) = expected.first() {
        let mut wrong = expected.to_vec();
        wrong[0] = if first.is_empty() { encode_num(1) } else { encode_num(0) };
        let (core, ours, detail) = verdicts(&leaf(gadget, &wrong), witness);
        assert_eq!(core, ours, "{name} wrong expectation: disagreement ({detail})");
        assert!(!core, "{name}: wrong expectation accepted");
    }
}

fn nat(hex: &str) -> Nat {
    Nat::from_hex(hex).unwrap()
}

#[test]
fn bigint_and_field_gadgets_agree_with_core() {
    let l = Layout::new(254, 29);
    let fq = bn254_fq();
    let p = fq.modulus().clone();
    let a = p.checked_sub(&Nat::from_u128(1)).unwrap();
    let b = nat("1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcde");
    let mut ab = l.to_stack(&a);
    ab.extend(l.to_stack(&b));
    let two = Nat::from_u128(1).shl(254);
    // add: (a + b) mod 2^254 and the carry
    let s = a.add(&b);
    let mut want = l.to_stack(&s.rem(&two));
    want.push(encode_num(s.bit(254) as i64));
    judge("u254 add", &l.add(), &ab, &want, &[]);
    let d = a.add(&two).checked_sub(&b).unwrap().rem(&two);
    let mut want = l.to_stack(&d);
    want.push(encode_num(0));
    judge("u254 sub", &l.sub(), &ab, &want, &[]);
    judge("u254 less-than", &l.less_than(), &ab, &[encode_num(0)], &[]);
    let mut bad = l.to_stack(&a);
    bad[2] = encode_num(1 << 29);
    judge("u254 range check", &l.range_check(), &l.to_stack(&a), &l.to_stack(&a), &[bad]);
    judge("Fq add", &fq.add(), &ab, &l.to_stack(&a.add(&b).rem(&p)), &[]);
    judge("Fq sub", &fq.sub(), &ab, &l.to_stack(&a.add(&p).checked_sub(&b).unwrap().rem(&p)), &[]);
    judge("Fq mul by 9", &fq.mul_small(9), &l.to_stack(&a), &l.to_stack(&a.mul(&Nat::from_u128(9)).rem(&p)), &[]);
    let prod = l.to_stack(&a.mul(&b).rem(&p));
    // hinted multiplication, B as limbs and as nibbles; tampered: one hint off by one, and a hint
    // out of range
    let hints = fq.mul_hints(&a, &b, 4).unwrap();
    let mut w = hints.clone();
    w.extend(ab.clone());
    let mut t1 = w.clone();
    t1[10] = encode_num(bitvm2_script::exec::decode_num(&t1[10], 4).unwrap() + 1);
    let mut t2 = w.clone();
    t2[3] = encode_num(-1);
    judge("Fq mul hinted w=4", &fq.mul_hinted(4).unwrap(), &w, &prod, &[t1, t2]);
    let mut w = hints;
    w.extend(l.to_stack(&a));
    w.extend((0..64).rev().map(|i| encode_num(b.bits_at(4 * i, 4) as i64)));
    let mut t = w.clone();
    let n = t.len();
    t[n - 5] = encode_num(16);
    judge("Fq mul hinted w=4, nibbles", &fq.mul_hinted_digits(4).unwrap(), &w, &prod, &[t]);
    judge("Fq mul windowed w=3", &fq.mul_windowed(3).unwrap(), &ab, &prod, &[]);
    // conversions
    let nibbles: Vec<Vec<u8>> = (0..64).rev().map(|i| encode_num(a.bits_at(4 * i, 4) as i64)).collect();
    let mut bad = nibbles.clone();
    bad[0] = encode_num(4); // the top nibble of a 254-bit value holds 2 bits
    judge("nibbles -> limbs", &nibbles_to_limbs(&l), &nibbles, &l.to_stack(&a), &[bad]);
    judge("limbs -> nibbles", &limbs_to_nibbles(&l), &l.to_stack(&a), &nibbles, &[]);
}

#[test]
fn blake3_agrees_with_core() {
    let data: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37).wrapping_add(5)).collect();
    let want = bytes_to_nibbles(&blake3_native(&data).unwrap()[..20]);
    let w = bytes_to_nibbles(&data);
    let mut bad = w.clone();
    bad[7] = encode_num(16);
    judge("BLAKE3 64 -> 20 bytes", &blake3(64, 20).unwrap(), &w, &want, &[bad]);
}
