//! Native (out-of-circuit) witness generation from a real block and transaction, and a native
//! check of everything the circuit enforces, so that a bad claim is reported with a reason
//! instead of an unsatisfiable proof.

use bitcoin::block::Header;
use bitcoin::consensus::serialize;
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{Block, Transaction, Txid};

use crate::circuit::{output_offset, MIN_TX_LEN};
use crate::claim::Claim;
use crate::params::StatementParams;
use crate::StatementError;

/// The private inputs of the statement circuit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementWitness {
    /// The claim (also determines the public inputs).
    pub claim: Claim,
    /// The payout transaction's txid serialization (no witness data).
    pub tx_bytes: Vec<u8>,
    /// Merkle siblings from the leaf upwards (internal byte order); their count is the depth.
    pub merkle_siblings: Vec<[u8; 32]>,
    /// The transaction's index in its block (bit l = 1: the node is a right child at level l).
    pub merkle_index: u32,
    /// The headers following the checkpoint, oldest first.
    pub headers: Vec<Header>,
    /// Index in `headers` of the block holding the payout.
    pub payout_position: usize,
}

/// The txid serialization of a transaction (witness data stripped).
pub fn txid_bytes(tx: &Transaction) -> Vec<u8> {
    let mut stripped = tx.clone();
    for input in &mut stripped.input {
        input.witness.clear();
    }
    serialize(&stripped)
}

/// Merkle siblings (leaf upwards) of transaction `index` among `txids`, Bitcoin's rule (an odd
/// last node is paired with itself).
pub fn merkle_path(txids: &[Txid], index: usize) -> Vec<[u8; 32]> {
    let mut level: Vec<[u8; 32]> = txids.iter().map(|t| t.to_byte_array()).collect();
    let mut idx = index;
    let mut path = Vec::new();
    while level.len() > 1 {
        let sib = if idx ^ 1 < level.len() { level[idx ^ 1] } else { level[idx] };
        path.push(sib);
        level = level
            .chunks(2)
            .map(|pair| {
                let mut buf = [0u8; 64];
                buf[..32].copy_from_slice(&pair[0]);
                buf[32..].copy_from_slice(pair.get(1).unwrap_or(&pair[0]));
                sha256d::Hash::hash(&buf).to_byte_array()
            })
            .collect();
        idx /= 2;
    }
    path
}

/// Decodes a compact target into 32 little-endian bytes, with the circuit's restrictions
/// (exponent 3..=32, sign bit clear).
pub fn compact_target_le(bits: u32) -> Result<[u8; 32], StatementError> {
    let exp = (bits >> 24) as usize;
    let mant = bits & 0x00ff_ffff;
    if !(3..=32).contains(&exp) || mant & 0x0080_0000 != 0 {
        return Err(StatementError::BadCompactTarget(bits));
    }
    let mut t = [0u8; 32];
    for k in 0..3 {
        let pos = exp - 3 + k;
        if pos < 32 {
            t[pos] = (mant >> (8 * k)) as u8;
        } else if (mant >> (8 * k)) as u8 != 0 {
            return Err(StatementError::BadCompactTarget(bits));
        }
    }
    Ok(t)
}

/// `a <= b` for 256-bit little-endian integers.
pub fn le_u256_leq_native(a: &[u8; 32], b: &[u8; 32]) -> bool {
    for i in (0..32).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    true
}

impl StatementWitness {
    /// Builds the witness for `claim` from the payout transaction, the block that holds it and
    /// the `params.num_headers` headers following the checkpoint (oldest first), then checks it.
    pub fn build(
        params: &StatementParams,
        claim: Claim,
        payout_tx: &Transaction,
        payout_block: &Block,
        chain: &[Header],
    ) -> Result<Self, StatementError> {
        let txid = payout_tx.compute_txid();
        let txids: Vec<Txid> = payout_block.txdata.iter().map(|t| t.compute_txid()).collect();
        let index = txids.iter().position(|t| *t == txid).ok_or(StatementError::TxNotInBlock)?;
        let block_hash = payout_block.block_hash();
        let payout_position = chain
            .iter()
            .position(|h| h.block_hash() == block_hash)
            .ok_or(StatementError::BlockNotInChain)?;
        let w = StatementWitness {
            claim,
            tx_bytes: txid_bytes(payout_tx),
            merkle_siblings: merkle_path(&txids, index),
            merkle_index: index as u32,
            headers: chain.to_vec(),
            payout_position,
        };
        w.check(params)?;
        Ok(w)
    }

    /// Checks natively everything the circuit enforces; the error names the first failure.
    pub fn check(&self, params: &StatementParams) -> Result<(), StatementError> {
        params.validate()?;
        let c = &self.claim;
        let dest = c.destination.as_bytes();
        c.field_bytes()?;
        let tx = &self.tx_bytes;
        if tx.len() < MIN_TX_LEN || tx.len() > params.max_tx_len() {
            return Err(StatementError::TxSize { len: tx.len(), max: params.max_tx_len() });
        }
        if Txid::from_byte_array(sha256d::Hash::hash(tx).to_byte_array()) != c.payout_txid {
            return Err(StatementError::TxidMismatch);
        }
        let n = tx[4] as usize;
        if n == 0 || n > params.max_inputs {
            return Err(StatementError::InputCount { n, max: params.max_inputs });
        }
        if (0..n).any(|i| tx.get(41 + 41 * i).is_none_or(|b| *b != 0)) {
            return Err(StatementError::ScriptSigNotEmpty);
        }
        let o = output_offset(n);
        if o + 9 + dest.len() > tx.len() || tx[o - 1] == 0 || tx[o - 1] > 252 {
            return Err(StatementError::OutputMismatch("output count or layout"));
        }
        if tx[o..o + 8] != c.amount.to_sat().to_le_bytes() {
            return Err(StatementError::OutputMismatch("amount"));
        }
        if tx[o + 8] as usize != dest.len() || &tx[o + 9..o + 9 + dest.len()] != dest {
            return Err(StatementError::OutputMismatch("destination"));
        }
        if self.merkle_siblings.len() > params.merkle_depth {
            return Err(StatementError::MerkleTooDeep { depth: self.merkle_siblings.len(), max: params.merkle_depth });
        }
        let mut node = c.payout_txid.to_byte_array();
        for (l, sib) in self.merkle_siblings.iter().enumerate() {
            let mut buf = [0u8; 64];
            if (self.merkle_index >> l) & 1 == 1 {
                buf[..32].copy_from_slice(sib);
                buf[32..].copy_from_slice(&node);
            } else {
                buf[..32].copy_from_slice(&node);
                buf[32..].copy_from_slice(sib);
            }
            node = sha256d::Hash::hash(&buf).to_byte_array();
        }
        if self.headers.len() != params.num_headers {
            return Err(StatementError::ChainLength { got: self.headers.len(), want: params.num_headers });
        }
        let mut prev = c.checkpoint;
        for (i, h) in self.headers.iter().enumerate() {
            if h.prev_blockhash != prev {
                return Err(StatementError::ChainBroken(i));
            }
            let target = compact_target_le(h.bits.to_consensus())?;
            let hash = h.block_hash().to_byte_array();
            if !le_u256_leq_native(&hash, &target) || !le_u256_leq_native(&target, &params.pow_limit) {
                return Err(StatementError::BadWork(i));
            }
            prev = h.block_hash();
        }
        let pos = self.payout_position;
        if pos >= self.headers.len() || self.headers.len() - pos < params.min_confirmations {
            return Err(StatementError::TooFewConfirmations {
                got: self.headers.len().saturating_sub(pos),
                want: params.min_confirmations,
            });
        }
        if self.headers[pos].merkle_root.to_byte_array() != node {
            return Err(StatementError::TxNotInBlock);
        }
        Ok(())
    }
}
