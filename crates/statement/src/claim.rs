//! The claim data and the circuit's public inputs, which are the claim fields themselves.
//!
//! # Normative encoding of the public inputs
//!
//! The circuit has [`NUM_PUBLIC_INPUTS`] = 11 public inputs `x0..x10`, BN254 scalars packed
//! from the claim's bytes. All hashes are in Bitcoin's internal byte order (the order they have
//! inside transactions and headers, i.e. reversed from the usual hex display). A scalar holds at
//! most 16 bytes read **little-endian** (`x = sum b[i] * 256^i`), so every scalar is below
//! `2^128 < r` and no modular reduction ever happens:
//!
//! | input | bytes | field |
//! |---|---|---|
//! | x0 | 16 | payout txid bytes `[0..16)` |
//! | x1 | 16 | payout txid bytes `[16..32)` |
//! | x2 | 8 | withdrawal amount in satoshis (u64) |
//! | x3 | 16 | destination `[0..16)` |
//! | x4 | 16 | destination `[16..32)` |
//! | x5 | 3 | destination `[32..35)` |
//! | x6 | 16 | deposit outpoint txid `[0..16)` |
//! | x7 | 16 | deposit outpoint txid `[16..32)` |
//! | x8 | 4 | deposit outpoint vout (u32) |
//! | x9 | 16 | checkpoint block hash `[0..16)` |
//! | x10 | 16 | checkpoint block hash `[16..32)` |
//!
//! "Destination" is 35 bytes: the scriptPubKey length `L` (1..=34), then the scriptPubKey
//! zero-padded to 34 bytes. A scalar at or above `2^(8 * bytes)`, a length outside 1..=34 or a
//! non-zero padding byte is not a claim ([`Claim::from_public_inputs`] refuses it, and the
//! circuit cannot be satisfied with it).
//!
//! x0..x5 and x9, x10 are what the operator commits (Winternitz) in Kickoff (the checkpoint is
//! the parent of the payout's block, chosen when the operator claims); x6..x8 are fixed when
//! the peg-out graph is set up, so the verifier program folds `IC_6..IC_8` into one constant
//! point (`crate::program`).
//! Concatenated in input order, the bytes form the [`FIELDS_LEN`]-byte string of
//! [`Claim::field_bytes`], which is the circuit's private copy of the claim.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use bitcoin::hashes::Hash;
use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Txid};

use crate::StatementError;

/// Longest destination scriptPubKey (P2TR and P2WSH are 34 bytes).
pub const MAX_DEST_SCRIPT_LEN: usize = 34;
/// Number of public inputs of the statement circuit.
pub const NUM_PUBLIC_INPUTS: usize = 11;
/// Most bytes packed into one public input (so every input is below 2^128 < r).
pub const MAX_INPUT_BYTES: usize = 16;
/// Length of [`Claim::field_bytes`]: txid 32, amount 8, destination 1 + 34, outpoint 36,
/// checkpoint 32.
pub const FIELDS_LEN: usize = 32 + 8 + 1 + MAX_DEST_SCRIPT_LEN + 36 + 32;

/// Offsets of the fields in [`Claim::field_bytes`].
pub(crate) const OFF_PAYOUT_TXID: usize = 0;
pub(crate) const OFF_AMOUNT: usize = 32;
pub(crate) const OFF_SCRIPT_LEN: usize = 40;
pub(crate) const OFF_SCRIPT: usize = 41;
pub(crate) const OFF_DEPOSIT_TXID: usize = 75;
pub(crate) const OFF_DEPOSIT_VOUT: usize = 107;
pub(crate) const OFF_CHECKPOINT: usize = 111;

/// `(offset, length)` in [`Claim::field_bytes`] of the bytes packed into each public input,
/// in input order (x0 first).
pub const PUBLIC_INPUT_SPANS: [(usize, usize); NUM_PUBLIC_INPUTS] = [
    (OFF_PAYOUT_TXID, 16),
    (OFF_PAYOUT_TXID + 16, 16),
    (OFF_AMOUNT, 8),
    (OFF_SCRIPT_LEN, 16),
    (OFF_SCRIPT_LEN + 16, 16),
    (OFF_SCRIPT_LEN + 32, 3),
    (OFF_DEPOSIT_TXID, 16),
    (OFF_DEPOSIT_TXID + 16, 16),
    (OFF_DEPOSIT_VOUT, 4),
    (OFF_CHECKPOINT, 16),
    (OFF_CHECKPOINT + 16, 16),
];

/// What the operator claims in Kickoff (payout, amount, destination, checkpoint), plus the
/// deposit fixed at setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The deposit the operator wants to take.
    pub deposit: OutPoint,
    /// The withdrawal amount the user must receive.
    pub amount: Amount,
    /// The withdrawal destination.
    pub destination: ScriptBuf,
    /// The operator's payout transaction.
    pub payout_txid: Txid,
    /// The checkpoint block the header chain starts from (the parent of the payout's block).
    pub checkpoint: BlockHash,
}

impl Claim {
    /// The claim fields concatenated in public-input order (see the module doc); the circuit
    /// holds these bytes as private witnesses and packs them into the public inputs.
    pub fn field_bytes(&self) -> Result<[u8; FIELDS_LEN], StatementError> {
        let script = self.destination.as_bytes();
        if script.is_empty() || script.len() > MAX_DEST_SCRIPT_LEN {
            return Err(StatementError::DestinationLength(script.len()));
        }
        let mut out = [0u8; FIELDS_LEN];
        out[OFF_PAYOUT_TXID..OFF_PAYOUT_TXID + 32].copy_from_slice(self.payout_txid.as_byte_array());
        out[OFF_AMOUNT..OFF_AMOUNT + 8].copy_from_slice(&self.amount.to_sat().to_le_bytes());
        out[OFF_SCRIPT_LEN] = script.len() as u8;
        out[OFF_SCRIPT..OFF_SCRIPT + script.len()].copy_from_slice(script);
        out[OFF_DEPOSIT_TXID..OFF_DEPOSIT_TXID + 32].copy_from_slice(self.deposit.txid.as_byte_array());
        out[OFF_DEPOSIT_VOUT..OFF_DEPOSIT_VOUT + 4].copy_from_slice(&self.deposit.vout.to_le_bytes());
        out[OFF_CHECKPOINT..OFF_CHECKPOINT + 32].copy_from_slice(self.checkpoint.as_byte_array());
        Ok(out)
    }

    /// The public inputs `x0..x10` (see the module doc for the order and packing).
    pub fn public_inputs(&self) -> Result<[Fr; NUM_PUBLIC_INPUTS], StatementError> {
        Ok(pack_fields(&self.field_bytes()?))
    }

    /// The claim whose public inputs are `inputs`. Refuses a wrong count, a scalar at or above
    /// `2^(8 * bytes)` for its field, a destination length outside 1..=34 and non-zero
    /// destination padding, so that exactly the outputs of [`Self::public_inputs`] are accepted.
    pub fn from_public_inputs(inputs: &[Fr]) -> Result<Self, StatementError> {
        if inputs.len() != NUM_PUBLIC_INPUTS {
            return Err(StatementError::PublicInputCount { got: inputs.len(), want: NUM_PUBLIC_INPUTS });
        }
        let mut bytes = [0u8; FIELDS_LEN];
        for (index, (x, (off, len))) in inputs.iter().zip(PUBLIC_INPUT_SPANS).enumerate() {
            let le = x.into_bigint().to_bytes_le();
            if le[len..].iter().any(|b| *b != 0) {
                return Err(StatementError::PublicInputRange { index, bytes: len });
            }
            bytes[off..off + len].copy_from_slice(&le[..len]);
        }
        let script_len = bytes[OFF_SCRIPT_LEN] as usize;
        if script_len == 0 || script_len > MAX_DEST_SCRIPT_LEN {
            return Err(StatementError::DestinationLength(script_len));
        }
        if bytes[OFF_SCRIPT + script_len..OFF_SCRIPT + MAX_DEST_SCRIPT_LEN].iter().any(|b| *b != 0) {
            return Err(StatementError::DestinationPadding);
        }
        let arr32 = |off: usize| -> [u8; 32] { bytes[off..off + 32].try_into().expect("32-byte span") };
        let u_le = |off: usize, n: usize| bytes[off..off + n].iter().rev().fold(0u64, |acc, b| (acc << 8) | *b as u64);
        Ok(Claim {
            deposit: OutPoint {
                txid: Txid::from_byte_array(arr32(OFF_DEPOSIT_TXID)),
                vout: u_le(OFF_DEPOSIT_VOUT, 4) as u32,
            },
            amount: Amount::from_sat(u_le(OFF_AMOUNT, 8)),
            destination: ScriptBuf::from_bytes(bytes[OFF_SCRIPT..OFF_SCRIPT + script_len].to_vec()),
            payout_txid: Txid::from_byte_array(arr32(OFF_PAYOUT_TXID)),
            checkpoint: BlockHash::from_byte_array(arr32(OFF_CHECKPOINT)),
        })
    }
}

/// Packs field bytes into the public inputs (each span little-endian, at most 16 bytes, so
/// never reduced mod r).
pub(crate) fn pack_fields(bytes: &[u8; FIELDS_LEN]) -> [Fr; NUM_PUBLIC_INPUTS] {
    PUBLIC_INPUT_SPANS.map(|(off, len)| Fr::from_le_bytes_mod_order(&bytes[off..off + len]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{AdditiveGroup, Field};
    use proptest::prelude::*;

    fn claim_strategy() -> impl Strategy<Value = Claim> {
        (
            any::<[u8; 32]>(),
            any::<u32>(),
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), 1..=MAX_DEST_SCRIPT_LEN),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
        )
            .prop_map(|(dep, vout, sat, script, payout, cp)| Claim {
                deposit: OutPoint { txid: Txid::from_byte_array(dep), vout },
                amount: Amount::from_sat(sat),
                destination: ScriptBuf::from_bytes(script),
                payout_txid: Txid::from_byte_array(payout),
                checkpoint: BlockHash::from_byte_array(cp),
            })
    }

    fn sample() -> Claim {
        Claim {
            deposit: OutPoint { txid: Txid::from_byte_array([0x42; 32]), vout: 7 },
            amount: Amount::from_sat(1_234_567),
            destination: ScriptBuf::from_bytes([&[0x51, 0x20][..], &[0xab; 32]].concat()),
            payout_txid: Txid::from_byte_array(core::array::from_fn(|i| i as u8)),
            checkpoint: BlockHash::from_byte_array([0xee; 32]),
        }
    }

    /// 2^k as a scalar.
    fn pow2(k: u64) -> Fr {
        Fr::from(2u64).pow([k])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn public_inputs_round_trip(c in claim_strategy()) {
            let x = c.public_inputs().unwrap();
            prop_assert_eq!(Claim::from_public_inputs(&x).unwrap(), c.clone());
            // every scalar is below 2^(8 * its byte count), hence below 2^128
            for (xi, (_, len)) in x.iter().zip(PUBLIC_INPUT_SPANS) {
                prop_assert!(xi.into_bigint().num_bits() as usize <= 8 * len);
            }
        }

        #[test]
        fn packing_matches_native_u128(c in claim_strategy()) {
            // oracle: each span read as a little-endian u128 natively, then lifted into Fr
            let bytes = c.field_bytes().unwrap();
            let x = c.public_inputs().unwrap();
            for (xi, (off, len)) in x.iter().zip(PUBLIC_INPUT_SPANS) {
                let v = bytes[off..off + len].iter().rev().fold(0u128, |a, b| (a << 8) | *b as u128);
                prop_assert_eq!(*xi, Fr::from(v));
            }
        }
    }

    #[test]
    fn inputs_follow_the_normative_layout() {
        let c = sample();
        let x = c.public_inputs().unwrap();
        let le = |b: &[u8]| Fr::from(b.iter().rev().fold(0u128, |a, v| (a << 8) | *v as u128));
        let txid: Vec<u8> = (0..32).collect();
        assert_eq!(x[0], le(&txid[..16]));
        assert_eq!(x[1], le(&txid[16..]));
        assert_eq!(x[2], Fr::from(1_234_567u64));
        let mut dest = vec![34u8, 0x51, 0x20];
        dest.extend([0xab; 32]);
        assert_eq!(x[3], le(&dest[..16]));
        assert_eq!(x[4], le(&dest[16..32]));
        assert_eq!(x[5], le(&dest[32..35]));
        assert_eq!(x[6], le(&[0x42; 16]));
        assert_eq!(x[7], le(&[0x42; 16]));
        assert_eq!(x[8], Fr::from(7u64));
        assert_eq!(x[9], le(&[0xee; 16]));
        assert_eq!(x[10], le(&[0xee; 16]));
        // a short script is zero-padded: P2WPKH (22 bytes) leaves x5 = 0
        let short = Claim { destination: ScriptBuf::from_bytes(vec![0x00; 22]), ..c };
        let xs = short.public_inputs().unwrap();
        assert_eq!(xs[3], Fr::from(22u64));
        assert_eq!(xs[5], Fr::ZERO);
    }

    #[test]
    fn out_of_range_scalars_are_rejected() {
        let x = sample().public_inputs().unwrap();
        for (index, (_, len)) in PUBLIC_INPUT_SPANS.iter().enumerate() {
            // the smallest value that does not fit, and a huge one (r - 1)
            for bad in [pow2(8 * *len as u64), -Fr::ONE, x[index] + pow2(8 * *len as u64)] {
                let mut y = x;
                y[index] = bad;
                match Claim::from_public_inputs(&y) {
                    Err(StatementError::PublicInputRange { index: i, bytes }) => {
                        assert_eq!((i, bytes), (index, *len));
                    }
                    other => panic!("x{index} = {bad}: {other:?}"),
                }
            }
            // the largest value that fits is accepted unless it breaks the destination rules
            let mut y = x;
            y[index] = pow2(8 * *len as u64) - Fr::ONE;
            if !(3..=5).contains(&index) {
                assert!(Claim::from_public_inputs(&y).is_ok(), "x{index} at its maximum");
            }
        }
    }

    #[test]
    fn non_canonical_destinations_are_rejected() {
        let c = sample();
        let x = c.public_inputs().unwrap();
        // length 0 and 35 (x3's low byte is the length)
        for len in [0u64, 35, 255] {
            let mut y = x;
            y[3] = x[3] - Fr::from(34u64) + Fr::from(len);
            assert!(matches!(Claim::from_public_inputs(&y), Err(StatementError::DestinationLength(l)) if l == len as usize));
        }
        // a 22-byte script with a non-zero byte in its padding
        let short = Claim { destination: ScriptBuf::from_bytes(vec![0x00; 22]), ..c };
        let mut y = short.public_inputs().unwrap();
        y[5] += Fr::ONE;
        assert!(matches!(Claim::from_public_inputs(&y), Err(StatementError::DestinationPadding)));
        let mut y = short.public_inputs().unwrap();
        y[4] += pow2(8 * 15); // byte 31 of the destination = script byte 30 > 22
        assert!(matches!(Claim::from_public_inputs(&y), Err(StatementError::DestinationPadding)));
        // wrong counts
        assert!(matches!(Claim::from_public_inputs(&x[..10]), Err(StatementError::PublicInputCount { got: 10, want: 11 })));
        // an empty or too long script has no public inputs
        let empty = Claim { destination: ScriptBuf::new(), ..sample() };
        assert!(matches!(empty.public_inputs(), Err(StatementError::DestinationLength(0))));
        let long = Claim { destination: ScriptBuf::from_bytes(vec![1; 35]), ..sample() };
        assert!(matches!(long.public_inputs(), Err(StatementError::DestinationLength(35))));
    }
}
