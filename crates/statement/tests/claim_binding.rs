//! The Kickoff commits exactly the statement's claim fields: the eight Winternitz messages of
//! `bitvm2_disprove::claim` (big-endian integers as wide as each field's span: 16 bytes, 8 for
//! the amount x2, 3 for x5) are the public inputs `x0..x5, x9, x10` of `Claim::public_inputs`
//! (in that order, `FIELD_INPUTS`), and a claim read back from a Kickoff witness is the
//! statement's claim. The deposit outpoint x6..x8 is fixed per graph and not committed.
//! No key setup: only the packing and the (cheap) Winternitz claim keys.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use bitcoin::hashes::Hash;
use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Txid};
use bitvm2_disprove::claim::{ClaimError, ClaimFields, ClaimSecretKey, CLAIM_FIELDS, FIELD_INPUTS, FIELD_MESSAGE_LENS};
use bitvm2_statement::claim::{MAX_DEST_SCRIPT_LEN, NUM_PUBLIC_INPUTS, PUBLIC_INPUT_SPANS};
use bitvm2_statement::Claim;
use proptest::prelude::*;

/// The statement's claim with the fields the Kickoff commits, plus a setup-time deposit (which
/// the Kickoff does not commit, so any value must give the same committed inputs).
fn statement_claim(c: &ClaimFields, setup_byte: u8) -> Claim {
    Claim {
        deposit: OutPoint { txid: Txid::from_byte_array([setup_byte; 32]), vout: setup_byte as u32 },
        amount: c.amount,
        destination: c.destination.clone(),
        payout_txid: c.payout_txid,
        checkpoint: c.checkpoint,
    }
}

/// The committed public inputs of a statement claim, in the Kickoff's field order.
fn committed_inputs(x: &[Fr; NUM_PUBLIC_INPUTS]) -> [Fr; CLAIM_FIELDS] {
    FIELD_INPUTS.map(|i| x[i])
}

/// A Winternitz message as the integer it signs (big-endian), in Fr.
fn message_scalar(m: &[u8]) -> Fr {
    Fr::from_be_bytes_mod_order(m)
}

#[test]
fn the_kickoff_fields_are_the_statement_inputs_outside_the_deposit() {
    // The committed inputs and the fixed ones partition x0..x10, and each field's message is
    // as wide as the statement's span of its input.
    let mut all: Vec<usize> = FIELD_INPUTS.into_iter().chain(6..=8).collect();
    all.sort();
    assert_eq!(all, (0..NUM_PUBLIC_INPUTS).collect::<Vec<_>>());
    for (k, i) in FIELD_INPUTS.into_iter().enumerate() {
        assert_eq!(FIELD_MESSAGE_LENS[k], PUBLIC_INPUT_SPANS[i].1, "x{i}");
    }
}

/// Asserts the binding for one claim: packed messages = x0..x5, x9, x10, and the same after
/// signing and reading back.
fn check(c: &ClaimFields) {
    let x = statement_claim(c, 0x42).public_inputs().unwrap();
    let messages = c.packed().unwrap();
    for (k, i) in FIELD_INPUTS.into_iter().enumerate() {
        assert_eq!(messages[k].len(), FIELD_MESSAGE_LENS[k], "x{i} width");
        assert_eq!(message_scalar(&messages[k]), x[i], "x{i} of {c:?}");
        // and byte for byte: the message is the scalar's low bytes, big-endian, and the
        // scalar's bytes above the message's width are zero (what a binding leaf requires of
        // the asserted value's higher digits)
        let mut le = x[i].into_bigint().to_bytes_le();
        assert!(le[FIELD_MESSAGE_LENS[k]..].iter().all(|b| *b == 0), "x{i} above its width");
        le.truncate(FIELD_MESSAGE_LENS[k]);
        le.reverse();
        assert_eq!(le, messages[k], "x{i} bytes");
    }
    // The setup-time deposit does not move the committed inputs.
    let other = statement_claim(c, 0x07).public_inputs().unwrap();
    assert_ne!(other[6..9], x[6..9]);
    assert_eq!(committed_inputs(&other), committed_inputs(&x));
    // What a verifier reads from a Kickoff witness is this claim, and its messages are the
    // committed inputs.
    let sk = ClaimSecretKey::derive(&[3; 32], b"claim-binding");
    let w = sk.sign(c).unwrap();
    let read = sk.public_key().read_messages(&w).unwrap();
    assert_eq!(read, messages);
    assert_eq!(read.map(|m| message_scalar(&m)), committed_inputs(&x));
    let back = sk.public_key().read(&w).unwrap();
    assert_eq!(&back, c);
    assert_eq!(Claim::from_public_inputs(&statement_claim(&back, 0x42).public_inputs().unwrap()).unwrap(), statement_claim(c, 0x42));
}

fn fields(dest: Vec<u8>, sat: u64) -> ClaimFields {
    ClaimFields {
        payout_txid: Txid::from_byte_array(core::array::from_fn(|i| (i as u8).wrapping_mul(29) ^ 0x5c)),
        amount: Amount::from_sat(sat),
        destination: ScriptBuf::from_bytes(dest),
        checkpoint: BlockHash::from_byte_array(core::array::from_fn(|i| (i as u8).wrapping_mul(71) ^ 0x3e)),
    }
}

#[test]
fn standard_destinations_and_extreme_amounts_bind() {
    let p2wpkh = [&[0x00, 0x14][..], &[0x11; 20]].concat();
    let p2tr = [&[0x51, 0x20][..], &[0xab; 32]].concat();
    let p2wsh = [&[0x00, 0x20][..], &[0xcd; 32]].concat();
    for dest in [p2wpkh, p2tr, p2wsh, vec![0x51]] {
        for sat in [0, 1, 300_000, 21_000_000 * 100_000_000, u64::MAX] {
            check(&fields(dest.clone(), sat));
        }
    }
    // Extreme checkpoints: all zero (the no-payout claim's), all 0xff.
    check(&ClaimFields::no_payout());
    check(&ClaimFields { checkpoint: BlockHash::from_byte_array([0xff; 32]), ..fields(vec![0x51], 1) });
}

#[test]
fn the_statement_and_the_kickoff_refuse_the_same_destination_lengths() {
    assert_eq!(MAX_DEST_SCRIPT_LEN, bitvm2_disprove::claim::MAX_DESTINATION_LEN);
    for len in [0, MAX_DEST_SCRIPT_LEN + 1] {
        let c = fields(vec![0x51; len], 1);
        assert!(statement_claim(&c, 1).public_inputs().is_err());
        assert_eq!(c.packed(), Err(ClaimError::DestinationLength(len)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_claim_binds(
        t in any::<[u8; 32]>(),
        sat in any::<u64>(),
        dest in proptest::collection::vec(any::<u8>(), 1..=MAX_DEST_SCRIPT_LEN),
        cp in any::<[u8; 32]>(),
    ) {
        let c = ClaimFields {
            payout_txid: Txid::from_byte_array(t),
            amount: Amount::from_sat(sat),
            destination: ScriptBuf::from_bytes(dest),
            checkpoint: BlockHash::from_byte_array(cp),
        };
        let x = statement_claim(&c, 9).public_inputs().unwrap();
        let m = c.packed().unwrap();
        for (k, i) in FIELD_INPUTS.into_iter().enumerate() {
            prop_assert_eq!(m[k].len(), FIELD_MESSAGE_LENS[k]);
            prop_assert_eq!(message_scalar(&m[k]), x[i]);
        }
    }
}
