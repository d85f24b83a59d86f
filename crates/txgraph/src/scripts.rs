//! Connector scripts: every locking script of the graph and its taproot tree.
//!
//! All script-path outputs use the BIP-341 NUMS point as internal key, so they have no key path;
//! only the vault is a plain n-of-n key-path output.

use bitcoin::opcodes::all::{OP_CHECKSIG, OP_CHECKSIGVERIFY, OP_CSV, OP_DROP, OP_RETURN};
use bitcoin::opcodes::OP_TRUE;
use bitcoin::script::Builder;
use bitcoin::secp256k1::{Secp256k1, Verification};
use bitcoin::key::{Parity, TapTweak, TweakedPublicKey};
use bitcoin::taproot::{ControlBlock, LeafVersion, TapLeafHash, TapNodeHash, TaprootMerkleBranch};
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

/// One leaf of a connector: its script, or only its hash when the script is large and lives
/// elsewhere (the disprove leaves: the graph needs their hashes, a disprover brings the script).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leaf {
    /// A script the graph holds.
    Script(ScriptBuf),
    /// A tapscript leaf known by its hash.
    Hash(TapLeafHash),
}

impl Leaf {
    /// The leaf's hash (tapscript leaf version).
    pub fn hash(&self) -> TapLeafHash {
        match self {
            Leaf::Script(s) => TapLeafHash::from_script(s, LeafVersion::TapScript),
            Leaf::Hash(h) => *h,
        }
    }
}

/// A script-path-only taproot output: its leaves (in the order given) in a balanced tree under
/// the NUMS internal key. Leaves may be given by hash only ([`Leaf::Hash`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connector {
    leaves: Vec<Leaf>,
    hashes: Vec<TapLeafHash>,
    root: TapNodeHash,
    output_key: TweakedPublicKey,
    parity: Parity,
}

impl Connector {
    /// Builds a connector with the NUMS internal key and a balanced tree over `leaves`.
    pub fn new<C: Verification>(secp: &Secp256k1<C>, leaves: Vec<ScriptBuf>) -> Result<Self, GraphError> {
        Self::with_leaves(secp, leaves.into_iter().map(Leaf::Script).collect())
    }

    /// Builds a connector whose leaves may be known by hash only.
    pub fn with_leaves<C: Verification>(secp: &Secp256k1<C>, leaves: Vec<Leaf>) -> Result<Self, GraphError> {
        if leaves.is_empty() {
            return Err(GraphError::Taproot("connector without leaves".into()));
        }
        if balanced_depths(leaves.len()).iter().any(|&d| d > 128) {
            return Err(GraphError::Taproot("tree deeper than 128".into()));
        }
        let hashes: Vec<TapLeafHash> = leaves.iter().map(Leaf::hash).collect();
        let root = subtree_root(&hashes);
        let (output_key, parity) = nums_key().tap_tweak(secp, Some(root));
        Ok(Connector { leaves, hashes, root, output_key, parity })
    }

    /// The P2TR script pubkey.
    pub fn script_pubkey(&self) -> ScriptBuf {
        ScriptBuf::new_p2tr_tweaked(self.output_key)
    }

    /// The taproot output key.
    pub fn output_key(&self) -> TweakedPublicKey {
        self.output_key
    }

    /// The taproot merkle root.
    pub fn merkle_root(&self) -> TapNodeHash {
        self.root
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    /// Whether the connector has no leaf (never: [`Connector::with_leaves`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Leaf `i` as given.
    pub fn leaf_entry(&self, i: usize) -> &Leaf {
        &self.leaves[i]
    }

    /// Leaf `i`'s script. Panics for a leaf given by hash only (a graph bug, never input).
    pub fn leaf(&self, i: usize) -> &ScriptBuf {
        match &self.leaves[i] {
            Leaf::Script(s) => s,
            Leaf::Hash(h) => panic!("leaf {i} is known by its hash {h} only"),
        }
    }

    /// Leaf `i`'s hash (what a script-path sighash commits to).
    pub fn leaf_hash(&self, i: usize) -> TapLeafHash {
        self.hashes[i]
    }

    /// Control block proving leaf `i`.
    pub fn control_block(&self, i: usize) -> ControlBlock {
        let mut branch = Vec::new();
        merkle_path(&self.hashes, i, &mut branch);
        ControlBlock {
            leaf_version: LeafVersion::TapScript,
            output_key_parity: self.parity,
            internal_key: nums_key(),
            merkle_branch: TaprootMerkleBranch::try_from(branch).expect("balanced tree of depth <= 128"),
        }
    }
}

/// Root of the balanced subtree over `leaves` (the left half takes the larger half, as
/// [`balanced_depths`] lays it out).
fn subtree_root(leaves: &[TapLeafHash]) -> TapNodeHash {
    if leaves.len() == 1 {
        return TapNodeHash::from(leaves[0]);
    }
    let left = leaves.len().div_ceil(2);
    TapNodeHash::from_node_hashes(subtree_root(&leaves[..left]), subtree_root(&leaves[left..]))
}

/// Sibling hashes from leaf `i` up to (not including) the root of the subtree over `leaves`,
/// deepest first.
fn merkle_path(leaves: &[TapLeafHash], i: usize, out: &mut Vec<TapNodeHash>) {
    if leaves.len() == 1 {
        return;
    }
    let left = leaves.len().div_ceil(2);
    if i < left {
        merkle_path(&leaves[..left], i, out);
        out.push(subtree_root(&leaves[left..]));
    } else {
        merkle_path(&leaves[left..], i - left, out);
        out.push(subtree_root(&leaves[..left]));
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
        let out = c.output_key().to_x_only_public_key();
        for i in 0..37 {
            assert!(c.control_block(i).verify_taproot_commitment(&secp, out, c.leaf(i)));
        }
    }

    #[test]
    fn tree_equals_rust_bitcoins_builder_and_hash_leaves_prove_like_scripts() {
        use bitcoin::taproot::TaprootBuilder;
        let secp = Secp256k1::new();
        let key = nums_key();
        for n in [1usize, 2, 3, 5, 8, 13, 64, 100] {
            let scripts: Vec<ScriptBuf> = (0..n).map(|i| csv_checksig(i as u16 + 1, &key)).collect();
            let mut b = TaprootBuilder::new();
            for (s, d) in scripts.iter().zip(balanced_depths(n)) {
                b = b.add_leaf(d, s.clone()).unwrap();
            }
            let info = b.finalize(&secp, key).unwrap();
            let c = Connector::new(&secp, scripts.clone()).unwrap();
            assert_eq!(c.output_key(), info.output_key(), "n={n}");
            // The same tree with every odd leaf given by hash only.
            let mixed: Vec<Leaf> = scripts
                .iter()
                .enumerate()
                .map(|(i, s)| if i % 2 == 1 { Leaf::Hash(Leaf::Script(s.clone()).hash()) } else { Leaf::Script(s.clone()) })
                .collect();
            let h = Connector::with_leaves(&secp, mixed).unwrap();
            assert_eq!(h.script_pubkey(), c.script_pubkey());
            for (i, s) in scripts.iter().enumerate() {
                let cb = h.control_block(i);
                assert_eq!(cb, info.control_block(&(s.clone(), LeafVersion::TapScript)).unwrap(), "n={n} leaf {i}");
                assert!(cb.verify_taproot_commitment(&secp, h.output_key().to_x_only_public_key(), s));
            }
            // A script that is not a leaf does not verify against any leaf's control block.
            let stranger = csv_checksig(999, &key);
            assert!(!h.control_block(0).verify_taproot_commitment(&secp, h.output_key().to_x_only_public_key(), &stranger));
        }
    }
}
