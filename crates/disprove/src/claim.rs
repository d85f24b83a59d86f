//! The operator's claim, committed with Winternitz in Kickoff.
//!
//! A peg-out graph already fixes the deposit and the operator, so the one thing an operator
//! chooses when it claims is *which payout* it fronted. Kickoff reveals a Winternitz signature
//! of that payout's txid (32 bytes, 4-bit digits: 64 message + 3 checksum chains). Watchtowers
//! read the txid back from the Kickoff witness ([`ClaimPublicKey::read`]) and check the payout
//! on chain (destination, amount, confirmations) against the withdrawal request; the proof that
//! answers a challenge must bind the same txid in its public input. Because the key is one-time,
//! an operator that signs two different txids with it hands anyone two signatures of one key,
//! and a node must refuse to do so (the daemons record every Winternitz use).

use bitcoin::hashes::Hash;
use bitcoin::{ScriptBuf, Txid};
use bitvm2_script::winternitz::{self, Params, PublicKey, SecretKey, Signature, WinternitzError};

/// Domain separator of claim keys inside an operator's Winternitz master secret.
const CLAIM_DOMAIN: &[u8] = b"bitvm2/claim/v1";

/// Why a claim could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// The Winternitz layer refused (wrong item count, bad digit, chain mismatch, ...).
    #[error("claim commitment: {0}")]
    Winternitz(#[from] WinternitzError),
    /// A key made for other Winternitz parameters than claims use.
    #[error("claim key must use 4-bit digits over a 32-byte message")]
    Parameters,
    /// The signed message is not a 32-byte txid.
    #[error("claim commitment: signed message has {0} bytes, expected a 32-byte txid")]
    Length(usize),
}

fn params() -> Params {
    Params::new(4, 32).expect("4-bit digits over 32 bytes are valid Winternitz parameters")
}

/// The operator's secret claim key for one peg-out graph. Not `Debug`: it is a secret.
pub struct ClaimSecretKey(SecretKey);

impl ClaimSecretKey {
    /// Derives the claim key of the peg-out graph `graph_domain` (e.g. the peg-out graph id)
    /// from the operator's Winternitz master secret.
    pub fn derive(master: &[u8; 32], graph_domain: &[u8]) -> Self {
        let mut domain = CLAIM_DOMAIN.to_vec();
        domain.extend_from_slice(graph_domain);
        ClaimSecretKey(SecretKey::derive(master, &domain, params()))
    }

    /// The public half, which goes into the graph parameters at setup.
    pub fn public_key(&self) -> ClaimPublicKey {
        ClaimPublicKey(self.0.public_key())
    }

    /// Signs `payout` and returns the Kickoff witness items of the claim commitment.
    pub fn sign(&self, payout: &Txid) -> Vec<Vec<u8>> {
        let sig = self.0.sign(payout.as_byte_array()).expect("a txid is exactly the message length");
        sig.to_witness()
    }
}

/// The public claim key: what verifiers see and the Kickoff script checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPublicKey(PublicKey);

impl ClaimPublicKey {
    /// The commitment script for the graph's Kickoff input: verifies the signature and leaves
    /// nothing (the graph adds the operator's own signature check around it).
    pub fn script(&self) -> ScriptBuf {
        winternitz::verify_script_drop(&self.0).into_script()
    }

    /// Reads the claimed payout txid back from the claim commitment's witness items (as found
    /// in a Kickoff transaction on chain), checking every chain against this key.
    pub fn read(&self, witness_items: &[Vec<u8>]) -> Result<Txid, ClaimError> {
        let sig = Signature::from_witness(params(), witness_items)?;
        let msg = self.0.verify(&sig)?;
        let bytes: [u8; 32] = msg.as_slice().try_into().map_err(|_| ClaimError::Length(msg.len()))?;
        Ok(Txid::from_byte_array(bytes))
    }

    /// Number of witness items the claim commitment takes (two per chain).
    pub fn witness_items(&self) -> usize {
        2 * params().total_digits()
    }

    /// Serialized key (chain ends), for configuration and the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    /// Parses [`ClaimPublicKey::to_bytes`]; refuses keys with other parameters.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ClaimError> {
        let pk = PublicKey::from_bytes(bytes)?;
        if pk.params() != params() {
            return Err(ClaimError::Parameters);
        }
        Ok(ClaimPublicKey(pk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitvm2_script::exec::{execute, ExecOptions};

    fn txid(b: u8) -> Txid {
        Txid::from_byte_array([b; 32])
    }

    #[test]
    fn honest_claim_passes_the_script_and_reads_back() {
        let sk = ClaimSecretKey::derive(&[7; 32], b"graph-a");
        let pk = sk.public_key();
        let payout = Txid::from_byte_array(core::array::from_fn(|i| (i as u8).wrapping_mul(37)));
        let w = sk.sign(&payout);
        assert_eq!(w.len(), pk.witness_items());
        assert_eq!(pk.read(&w).unwrap(), payout);

        // The script leaves nothing: append OP_1 to get a spendable leaf shape.
        let mut script = pk.script().into_bytes();
        script.push(bitcoin::opcodes::OP_TRUE.to_u8());
        let report = execute(&ScriptBuf::from_bytes(script), &w, &ExecOptions::default());
        assert!(report.success(), "{:?}", report.outcome);
        assert!(report.peak_items <= 1000);
    }

    #[test]
    fn claims_of_other_graphs_keys_or_txids_are_refused() {
        let sk = ClaimSecretKey::derive(&[7; 32], b"graph-a");
        let other = ClaimSecretKey::derive(&[7; 32], b"graph-b");
        assert_ne!(sk.public_key(), other.public_key());
        let w = other.sign(&txid(1));
        assert!(sk.public_key().read(&w).is_err(), "signature under another graph's key");

        let mut script = sk.public_key().script().into_bytes();
        script.push(bitcoin::opcodes::OP_TRUE.to_u8());
        let script = ScriptBuf::from_bytes(script);
        assert!(!execute(&script, &w, &ExecOptions::default()).success());

        // Raising one digit of an honest signature (without being able to fix its checksum).
        let mut w = sk.sign(&txid(1));
        let digit_item = 1; // items are (element, digit) pairs
        w[digit_item] = vec![2];
        assert!(sk.public_key().read(&w).is_err());
        assert!(!execute(&script, &w, &ExecOptions::default()).success());
    }

    #[test]
    fn key_bytes_round_trip_and_foreign_parameters_are_refused() {
        let pk = ClaimSecretKey::derive(&[1; 32], b"g").public_key();
        assert_eq!(ClaimPublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
        let other = SecretKey::derive(&[1; 32], b"g", Params::new(4, 16).unwrap()).public_key();
        assert!(ClaimPublicKey::from_bytes(&other.to_bytes()).is_err());
        assert!(ClaimPublicKey::from_bytes(&[1, 2, 3]).is_err());
    }
}
