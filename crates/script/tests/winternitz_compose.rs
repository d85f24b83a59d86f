//! The Winternitz verifier leaves the message in the form the arithmetic gadgets take: signed
//! 4-bit digits, most significant deepest, turned into field-element limbs and compared with
//! the natively computed value, all in one script run by the executor.

use bitvm2_script::arith::{nibbles_to_limbs, Layout, Nat};
use bitvm2_script::exec::{execute, ExecOptions};
use bitvm2_script::winternitz::{verify_script, Params, SecretKey};

#[test]
fn winternitz_digits_feed_limb_arithmetic() {
    let layout = Layout::new(256, 29);
    let p = Params::new(4, 32).unwrap();
    let sk = SecretKey::derive(&[3; 32], b"graph-7/value-2", p);
    for seed in 0u8..4 {
        let msg: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(91).wrapping_add(seed.wrapping_mul(57))).collect();
        let sig = sk.sign(&msg).unwrap();
        let value = Nat::from_be_bytes(&msg);
        let script = verify_script(&sk.public_key())
            .append(&nibbles_to_limbs(&layout))
            .append(&layout.push(&value))
            .append(&layout.equal());
        let r = execute(&script.to_script(), &sig.to_witness(), &ExecOptions::default());
        assert!(r.success(), "seed {seed}: {:?}", r.verdict());
        // A different value does not compare equal.
        let other = Nat::from_be_bytes(&msg).add(&Nat::from_u128(1));
        let bad = verify_script(&sk.public_key())
            .append(&nibbles_to_limbs(&layout))
            .append(&layout.push(&other))
            .append(&layout.equal());
        assert!(!execute(&bad.to_script(), &sig.to_witness(), &ExecOptions::default()).success());
    }
}
