//! Connector scripts: every locking script of the graph and its taproot tree.
//!
//! All script-path outputs use the BIP-341 NUMS point as internal key, so they have no key path;
//! only the vault is a plain n-of-n key-path output.

use bitcoin::opcodes::all::{OP_CHECKSIG, OP_CHECKSIGVERIFY, OP_CSV, OP_DROP, OP_RETURN};
use bitcoin::opcodes::OP_TRUE;
use bitcoin::script::Builder;
use bitcoin::secp256k1::{Secp256k1, Verification};
use bitcoin::taproot::{ControlBlock, LeafVersion, TapLeafHash, TaprootBuilder, TaprootSpendInfo};
use bitcoin::{Script, ScriptBuf, XOnlyPublicKey};

use crate::error::GraphError;

/// x coordinate of the BIP-341 "nothing up my sleeve" point H (no known discrete log).
pub const NUMS_X: [u8; 32] = [
    0x50, 0x92, 0x9b, 0x74, 0xc1, 0xa0, 0x49, 0x54, 0xb7, 0x8b, 0x4b, 0x60, 0x35, 0xe9, 0x7a, 0x5e,
    0x07, 0x8a, 0x5a, 0x0f, 0x28, 0xec, 0x96, 0xd5, 0x47, 0xbf, 0xee, 0x9a, 0xce, 0x80, 0x3a, 0xc0,
];

/// The NUMS internal key.
pub fn nums_key() -> XOnlyPublicKey {
    XOnlyPublicKey::from_slice(&NUMS_X).expect("NUMS point is on the curve")
}

/// `<key> OP_CHECKSIG`
pub fn checksig(key: &XOnlyPublicKey) -> ScriptBuf {
    Builder::new().push_x_only_key(key).push_opcode(OP_CHECKSIG).into_script()
}

/// `<blocks> OP_CSV OP_DROP <key> OP_CHECKSIG`
pub fn csv_checksig(blocks: u16, key: &XOnlyPublicKey) -> ScriptBuf {
    Builder::new()
        .push_int(i64::from(blocks))
        .push_opcode(OP_CSV)
        .push_opcode(OP_DROP)
        .push_x_only_key(key)
        .push_opcode(OP_CHECKSIG)
        .into_script()
}

/// `<a> OP_CHECKSIGVERIFY <b> OP_CHECKSIG` (witness: `[sig_b, sig_a]`, `sig_a` on top).
pub fn two_sigs(a: &XOnlyPublicKey, b: &XOnlyPublicKey) -> ScriptBuf {
    Builder::new()
        .push_x_only_key(a)
        .push_opcode(OP_CHECKSIGVERIFY)
        .push_x_only_key(b)
        .push_opcode(OP_CHECKSIG)
        .into_script()
}

/// `[<a> OP_CHECKSIGVERIFY] <b> OP_CHECKSIGVERIFY <commitment> OP_1`: the commitment script must
/// leave nothing. Witness: `[commitment items.., sig_b, sig_a]`.
pub fn signed_commitment(a: Option<&XOnlyPublicKey>, b: &XOnlyPublicKey, commitment: &Script) -> ScriptBuf {
    let mut bytes = Vec::with_capacity(commitment.len() + 70);
    if let Some(a) = a {
        bytes.extend_from_slice(
            Builder::new().push_x_only_key(a).push_opcode(OP_CHECKSIGVERIFY).as_bytes(),
        );
    }
    bytes.extend_from_slice(Builder::new().push_x_only_key(b).push_opcode(OP_CHECKSIGVERIFY).as_bytes());
    bytes.extend_from_slice(commitment.as_bytes());
    bytes.push(OP_TRUE.to_u8());
    ScriptBuf::from_bytes(bytes)
}

/// `<nofn> OP_CHECKSIGVERIFY <disprove leaf>`: the leaf must leave one true element exactly when
/// a committed value is wrong. Witness: `[leaf items.., sig_nofn]`.
pub fn disprove_leaf(nofn: &XOnlyPublicKey, leaf: &Script) -> ScriptBuf {
    let mut bytes = Builder::new().push_x_only_key(nofn).push_opcode(OP_CHECKSIGVERIFY).into_bytes();
    bytes.extend_from_slice(leaf.as_bytes());
    ScriptBuf::from_bytes(bytes)
}

/// The burn output script (value in an OP_RETURN output is destroyed).
pub fn burn_script() -> ScriptBuf {
    Builder::new().push_opcode(OP_RETURN).push_slice(b"bitvm2 slash").into_script()
}

/// Depths for `n` leaves of a balanced binary tree, in depth-first order.
pub fn balanced_depths(n: usize) -> Vec<u8> {
    fn rec(n: usize, depth: u8, out: &mut Vec<u8>) {
        if n == 1 {
            out.push(depth);
        } else {
            let left = n.div_ceil(2);
            rec(left, depth + 1, out);
            rec(n - left, depth + 1, out);
        }
    }
    let mut out = Vec::with_capacity(n);
    if n > 0 {
        rec(n, 0, &mut out);
    }
    out
}

/// A script-path-only taproot output: its leaves (in the order given) and spend info.
#[derive(Clone, Debug)]
pub struct Connector {
    /// The leaf scripts, indexed as given.
    pub leaves: Vec<ScriptBuf>,
    /// Taproot data (output key, merkle root, control blocks).
    pub spend_info: TaprootSpendInfo,
}

impl Connector {
    /// Builds a connector with the NUMS internal key and a balanced tree over `leaves`.
    pub fn new<C: Verification>(secp: &Secp256k1<C>, leaves: Vec<ScriptBuf>) -> Result<Self, GraphError> {
        if leaves.is_empty() {
            return Err(GraphError::Taproot("connector without leaves".into()));
        }
        let depths = balanced_depths(leaves.len());
        if depths.iter().any(|&d| d > 128) {
            return Err(GraphError::Taproot("tree deeper than 128".into()));
        }
        let mut builder = TaprootBuilder::new();
        for (leaf, depth) in leaves.iter().zip(depths) {
            builder = builder
                .add_leaf(depth, leaf.clone())
                .map_err(|e| GraphError::Taproot(e.to_string()))?;
        }
        let spend_info = builder
            .finalize(secp, nums_key())
            .map_err(|_| GraphError::Taproot("incomplete tree".into()))?;
        Ok(Connector { leaves, spend_info })
    }

    /// The P2TR script pubkey.
    pub fn script_pubkey(&self) -> ScriptBuf {
        ScriptBuf::new_p2tr_tweaked(self.spend_info.output_key())
    }

    /// Leaf `i`'s script.
    pub fn leaf(&self, i: usize) -> &ScriptBuf {
        &self.leaves[i]
    }

    /// Leaf `i`'s hash (what a script-path sighash commits to).
    pub fn leaf_hash(&self, i: usize) -> TapLeafHash {
        TapLeafHash::from_script(&self.leaves[i], LeafVersion::TapScript)
    }

    /// Control block proving leaf `i`.
    pub fn control_block(&self, i: usize) -> ControlBlock {
        self.spend_info
            .control_block(&(self.leaves[i].clone(), LeafVersion::TapScript))
            .expect("leaf is in the tree")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_depths_make_complete_trees() {
        for n in 1..200usize {
            let d = balanced_depths(n);
            assert_eq!(d.len(), n);
            // Kraft equality: a full binary tree's leaves satisfy sum 2^-depth = 1.
            let sum: f64 = d.iter().map(|&x| 2f64.powi(-(x as i32))).sum();
            assert!((sum - 1.0).abs() < 1e-12, "n={n}");
            let max = *d.iter().max().unwrap() as u32;
            assert!(max <= (n as f64).log2().ceil() as u32, "n={n} depth {max}");
        }
    }

    #[test]
    fn every_leaf_has_a_valid_control_block() {
        let secp = Secp256k1::new();
        let key = nums_key();
        let leaves: Vec<ScriptBuf> = (0..37).map(|i| csv_checksig(i + 1, &key)).collect();
        let c = Connector::new(&secp, leaves).unwrap();
        let out = c.spend_info.output_key().to_x_only_public_key();
        for i in 0..37 {
            assert!(c.control_block(i).verify_taproot_commitment(&secp, out, c.leaf(i)));
        }
    }
}
