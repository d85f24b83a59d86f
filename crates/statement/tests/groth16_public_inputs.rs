//! A real Groth16 proof of the statement (synthetic regtest-like chain, no node needed) is bound
//! to every claim field through the public inputs: verifying it against inputs with any one
//! field changed fails, as does a vector of the wrong length. Keys are cached by content hash
//! under the target directory (the same parameters as the regtest test, so they share them).

mod common;

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field};
use bitcoin::hashes::Hash;
use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Txid};
use bitvm2_statement::{keys, Claim, StatementError, NUM_PUBLIC_INPUTS};
use common::small_circuit;

#[test]
fn proof_is_rejected_for_public_inputs_with_any_field_changed() {
    let (p, w, k) = small_circuit();
    let mut rng = rand::rngs::OsRng;
    assert_eq!(k.vk.gamma_abc_g1.len(), 1 + NUM_PUBLIC_INPUTS, "one IC point per public input");
    let proof = keys::prove(&k.pk, &p, &w, &mut rng).unwrap();
    let c = w.claim.clone();
    let x = c.public_inputs().unwrap();
    assert!(keys::verify(&k.vk, &x, &proof).unwrap(), "the honest claim verifies");

    // One claim field changed at a time (each still a canonical claim, so the change is in
    // what is claimed, not in its encoding).
    let mut txid = c.payout_txid.to_byte_array();
    txid[31] ^= 1; // in x1
    let mut dest = c.destination.to_bytes();
    dest[1] ^= 1; // in x3
    let changed: [(&str, Claim); 7] = [
        ("payout txid", Claim { payout_txid: Txid::from_byte_array(txid), ..c.clone() }),
        ("amount", Claim { amount: c.amount + Amount::from_sat(1), ..c.clone() }),
        ("destination bytes", Claim { destination: ScriptBuf::from_bytes(dest), ..c.clone() }),
        ("destination length", Claim { destination: ScriptBuf::from_bytes(c.destination.as_bytes()[..33].to_vec()), ..c.clone() }),
        ("deposit txid", Claim { deposit: OutPoint { txid: Txid::from_byte_array([0x43; 32]), ..c.deposit }, ..c.clone() }),
        ("deposit vout", Claim { deposit: OutPoint { vout: c.deposit.vout + 1, ..c.deposit }, ..c.clone() }),
        ("checkpoint", Claim { checkpoint: BlockHash::from_byte_array([9; 32]), ..c.clone() }),
    ];
    for (what, other) in &changed {
        let y = other.public_inputs().unwrap();
        assert_ne!(y, x, "{what}: the inputs differ");
        assert!(!keys::verify(&k.vk, &y, &proof).unwrap(), "{what}: proof must not verify");
    }
    // Every single input perturbed, including to non-canonical values (out of byte range).
    for i in 0..NUM_PUBLIC_INPUTS {
        for delta in [Fr::ONE, Fr::from(2u64).pow([128u64])] {
            let mut y = x;
            y[i] += delta;
            assert!(!keys::verify(&k.vk, &y, &proof).unwrap(), "x{i} + {delta}");
        }
    }
    // The zero vector and a wrong-length vector.
    assert!(!keys::verify(&k.vk, &[Fr::ZERO; NUM_PUBLIC_INPUTS], &proof).unwrap());
    assert!(matches!(
        keys::verify(&k.vk, &x[..NUM_PUBLIC_INPUTS - 1], &proof),
        Err(StatementError::PublicInputCount { got: 10, want: 11 })
    ));
}
