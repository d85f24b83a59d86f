//! The claim data and the circuit's single public input derived from it.
//!
//! Encoding (`CLAIM_LEN` = 159 bytes), all hashes in Bitcoin's internal byte order (the order
//! they have inside transactions and headers, i.e. reversed from the usual hex display):
//!
//! | bytes | field |
//! |---|---|
//! | 0..16 | tag `b"BitVM2/claim/v1\0"` |
//! | 16..48 | deposit outpoint txid |
//! | 48..52 | deposit outpoint vout, u32 little-endian |
//! | 52..60 | withdrawal amount in satoshis, u64 little-endian |
//! | 60 | destination scriptPubKey length L, 1..=34 |
//! | 61..95 | destination scriptPubKey, zero-padded to 34 bytes |
//! | 95..127 | payout txid |
//! | 127..159 | checkpoint block hash |
//!
//! Public input: `x = SHA-256(encoding)` read as a 256-bit little-endian integer, reduced mod
//! 2^253 (clear the top three bits of the digest's last byte). `x < 2^253 < r`, so it is one BN254
//! scalar with no modular reduction.

use ark_bn254::Fr;
use ark_ff::PrimeField;
use bitcoin::hashes::Hash;
use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Txid};
use sha2::{Digest, Sha256};

use crate::StatementError;

/// Domain tag at the start of the claim encoding.
pub const CLAIM_TAG: &[u8; 16] = b"BitVM2/claim/v1\0";
/// Longest destination scriptPubKey (P2TR and P2WSH are 34 bytes).
pub const MAX_DEST_SCRIPT_LEN: usize = 34;
/// Length of the claim encoding.
pub const CLAIM_LEN: usize = 16 + 36 + 8 + 1 + MAX_DEST_SCRIPT_LEN + 32 + 32;
/// Offsets of the fields in the encoding.
pub(crate) const OFF_AMOUNT: usize = 52;
pub(crate) const OFF_SCRIPT_LEN: usize = 60;
pub(crate) const OFF_SCRIPT: usize = 61;
pub(crate) const OFF_PAYOUT_TXID: usize = 95;
pub(crate) const OFF_CHECKPOINT: usize = 127;

/// What the operator claims in Kickoff, plus the checkpoint agreed at setup.
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
    /// The checkpoint block the header chain starts from.
    pub checkpoint: BlockHash,
}

impl Claim {
    /// The canonical encoding (see the module doc).
    pub fn encode(&self) -> Result<[u8; CLAIM_LEN], StatementError> {
        let script = self.destination.as_bytes();
        if script.is_empty() || script.len() > MAX_DEST_SCRIPT_LEN {
            return Err(StatementError::DestinationLength(script.len()));
        }
        let mut out = [0u8; CLAIM_LEN];
        out[..16].copy_from_slice(CLAIM_TAG);
        out[16..48].copy_from_slice(self.deposit.txid.as_byte_array());
        out[48..52].copy_from_slice(&self.deposit.vout.to_le_bytes());
        out[OFF_AMOUNT..OFF_AMOUNT + 8].copy_from_slice(&self.amount.to_sat().to_le_bytes());
        out[OFF_SCRIPT_LEN] = script.len() as u8;
        out[OFF_SCRIPT..OFF_SCRIPT + script.len()].copy_from_slice(script);
        out[OFF_PAYOUT_TXID..OFF_PAYOUT_TXID + 32].copy_from_slice(self.payout_txid.as_byte_array());
        out[OFF_CHECKPOINT..OFF_CHECKPOINT + 32].copy_from_slice(self.checkpoint.as_byte_array());
        Ok(out)
    }

    /// The 32 bytes of the public input `x` in little-endian order (what a script or the
    /// disprove program commits to).
    pub fn public_input_bytes(&self) -> Result<[u8; 32], StatementError> {
        Ok(public_input_bytes_of(&self.encode()?))
    }

    /// The public input as a BN254 scalar.
    pub fn public_input(&self) -> Result<Fr, StatementError> {
        Ok(Fr::from_le_bytes_mod_order(&self.public_input_bytes()?))
    }
}

/// `SHA-256(encoding) mod 2^253` as 32 little-endian bytes.
pub fn public_input_bytes_of(encoding: &[u8]) -> [u8; 32] {
    let mut d: [u8; 32] = Sha256::digest(encoding).into();
    d[31] &= 0x1f;
    d
}
