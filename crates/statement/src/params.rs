//! The circuit's shape. One setup (proving and verifying key) serves every claim proven with the
//! same parameters; the parameters' content hash names the key files.

use sha2::{Digest, Sha256};

use crate::StatementError;

/// Version tag of the circuit's constraints; bump it whenever the constraints change so that
/// cached keys for the old circuit are never reused.
pub const CIRCUIT_VERSION: &str = "bitvm2-statement/v2";

/// The fixed shape of the statement circuit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementParams {
    /// Capacity for the payout transaction's txid serialization (no witness), in SHA-256 blocks
    /// of 64 bytes; the transaction may be at most `64 * max_tx_blocks - 9` bytes long.
    pub max_tx_blocks: usize,
    /// Most inputs the payout transaction may have (all with empty scriptSig).
    pub max_inputs: usize,
    /// Deepest Merkle path supported: blocks with up to `2^merkle_depth` transactions.
    pub merkle_depth: usize,
    /// Number of headers in the chain from the checkpoint (exclusive) to the tip (inclusive).
    pub num_headers: usize,
    /// Least confirmations the payout block must have in that chain (the payout block counts
    /// as one, as in Bitcoin Core).
    pub min_confirmations: usize,
    /// The easiest target any header may state, as a 256-bit little-endian integer (the
    /// network's proof-of-work limit).
    pub pow_limit: [u8; 32],
}

/// Regtest's proof-of-work limit, 0x7fffff * 256^29 (compact 0x207fffff), little-endian.
pub const REGTEST_POW_LIMIT: [u8; 32] = {
    let mut t = [0u8; 32];
    t[29] = 0xff;
    t[30] = 0xff;
    t[31] = 0x7f;
    t
};

impl StatementParams {
    /// The defaults used on regtest and in the test suite: payout tx up to 3 blocks (183 bytes,
    /// enough for 2 inputs and 2 outputs), up to 2 inputs, blocks of up to 4 transactions,
    /// 3 headers after the checkpoint, 2 confirmations.
    pub fn regtest() -> Self {
        StatementParams {
            max_tx_blocks: 3,
            max_inputs: 2,
            merkle_depth: 2,
            num_headers: 3,
            min_confirmations: 2,
            pow_limit: REGTEST_POW_LIMIT,
        }
    }

    /// Largest payout transaction (txid serialization) in bytes.
    pub fn max_tx_len(&self) -> usize {
        64 * self.max_tx_blocks - 9
    }

    /// Checks the parameters describe a circuit that can be built.
    pub fn validate(&self) -> Result<(), StatementError> {
        let bad = |why: &str| Err(StatementError::BadParams(why.to_string()));
        if self.max_tx_blocks < 2 {
            return bad("max_tx_blocks must be at least 2 (a payout is longer than 64 bytes)");
        }
        if self.max_inputs == 0 || self.max_inputs > 252 {
            return bad("max_inputs must be in 1..=252");
        }
        // The first output (count byte, amount, script length, script) must fit in the buffer
        // for the largest input count.
        if crate::circuit::output_offset(self.max_inputs) + 9 + crate::claim::MAX_DEST_SCRIPT_LEN
            > 64 * self.max_tx_blocks
        {
            return bad("max_inputs too large for max_tx_blocks");
        }
        if self.merkle_depth > 24 {
            return bad("merkle_depth must be at most 24");
        }
        if self.min_confirmations == 0 || self.num_headers < self.min_confirmations {
            return bad("need 1 <= min_confirmations <= num_headers");
        }
        Ok(())
    }

    /// Canonical encoding of the parameters (with the circuit version).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(CIRCUIT_VERSION.as_bytes());
        for v in [self.max_tx_blocks, self.max_inputs, self.merkle_depth, self.num_headers, self.min_confirmations] {
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
        out.extend_from_slice(&self.pow_limit);
        out
    }

    /// Content hash of the circuit: SHA-256 of [`Self::encode`], hex, first 16 characters.
    /// Key files are named after it.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.encode())[..8])
    }
}
