//! Winternitz commitments of program values: a serializable face over
//! `bitvm2_script::winternitz` (which owns the signing scheme and the verifying script).
//!
//! A value of `n` 4-bit message digits is signed with `n + c` HASH160 chains, the `c` checksum
//! digits encoding `sum(15 - d_i)`. Chain element of digit `d`: `H^d(s_j)`; public key `H^15(s_j)`.
//! Secrets are derived by `bitvm2_script::winternitz::SecretKey::derive` from the operator's
//! master secret and the domain `domain || value index (u32 BE)`.
//!
//! Witness of one signed value (bottom first, the order of
//! `bitvm2_script::winternitz::Signature::to_witness`): message digits most significant
//! first, then checksum digits least significant first, each as `element, digit` with the
//! digit a minimal script number. [`verify_script`] consumes it and leaves the message digits,
//! most significant deepest (the input convention of `bitvm2_script::arith::nibbles_to_limbs`).

use bitvm2_script::builder::Fragment;
use bitvm2_script::exec::{decode_num_with, encode_num};
use bitvm2_script::winternitz as sw;
use serde::{Deserialize, Serialize};

use crate::program::{CommitMode, ValueKind};

/// Digit width in bits.
pub const DIGIT_BITS: u32 = 4;
/// Largest digit value (chain length).
pub const MAX_DIGIT: u8 = 15;
/// Size of one chain element (HASH160).
pub const HASH_LEN: usize = 20;

/// Why a Winternitz signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WotsError {
    /// The witness has the wrong number of items for these parameters.
    #[error("signature has {got} witness items, expected {expected}")]
    ItemCount { got: usize, expected: usize },
    /// A chain element is not 20 bytes.
    #[error("chain {chain}: signature element has {len} bytes, expected 20")]
    ElementSize { chain: usize, len: usize },
    /// A digit item is not a minimal script number in 0..=15.
    #[error("chain {chain}: digit item {item} is not a minimal number in 0..=15")]
    BadDigit { chain: usize, item: String },
    /// Hashing the signature up the chain does not reach the public key.
    #[error("chain {chain}: signature does not hash to the public key")]
    WrongChain { chain: usize },
    /// The checksum digits do not match the message digits.
    #[error("checksum digits say {signed}, message digits give {computed}")]
    Checksum { signed: u32, computed: u32 },
    /// Digits given to sign do not match the parameters.
    #[error("{got} digits given, parameters want {expected} (each <= 15)")]
    BadMessage { got: usize, expected: usize },
}

/// Parameters of one Winternitz key: the number of 4-bit message digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WotsParams {
    /// Number of message digits.
    pub msg_digits: usize,
}

impl WotsParams {
    /// Parameters for a `bits`-bit message.
    pub fn for_bits(bits: u32) -> Self {
        WotsParams { msg_digits: bits.div_ceil(DIGIT_BITS) as usize }
    }

    /// Number of checksum digits: enough base-16 digits for `15 * msg_digits`.
    pub fn checksum_digits(&self) -> usize {
        let mut max = MAX_DIGIT as usize * self.msg_digits;
        let mut n = 0;
        while max > 0 {
            max >>= DIGIT_BITS;
            n += 1;
        }
        n.max(1)
    }

    /// Total number of hash chains.
    pub fn chains(&self) -> usize {
        self.msg_digits + self.checksum_digits()
    }

    /// Witness items of one signature (two per chain).
    pub fn witness_items(&self) -> usize {
        2 * self.chains()
    }

    /// Largest serialized witness size of one signature in bytes (each item with its
    /// length prefix; digit items are at most 1 byte, digit 0 is the empty item).
    pub fn max_witness_bytes(&self) -> usize {
        self.chains() * (1 + HASH_LEN + 1 + 1)
    }

    fn checksum_of(&self, msg: &[u8]) -> u32 {
        msg.iter().map(|&d| (MAX_DIGIT - d) as u32).sum()
    }

}

fn hash_n(mut x: [u8; HASH_LEN], n: u8) -> [u8; HASH_LEN] {
    use bitcoin::hashes::{hash160, Hash};
    for _ in 0..n {
        x = hash160::Hash::hash(&x).to_byte_array();
    }
    x
}

/// A Winternitz secret key (one per committed value). Never logged.
#[derive(Clone)]
pub struct WotsSecret {
    params: WotsParams,
    inner: sw::SecretKey,
}

impl std::fmt::Debug for WotsSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WotsSecret({} chains, redacted)", self.params.chains())
    }
}

/// A Winternitz public key: the chain ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WotsPublicKey {
    /// Parameters of the key.
    pub params: WotsParams,
    /// `H^15(s_j)` for every chain: message chains (most significant first), then checksum
    /// chains (most significant first).
    pub chains: Vec<[u8; HASH_LEN]>,
}

/// A signature: the chain element and the digit of every chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WotsSignature {
    /// `(H^d_j(s_j), d_j)` per chain, in [`WotsPublicKey::chains`] order.
    pub chains: Vec<([u8; HASH_LEN], u8)>,
}

impl WotsParams {
    /// The `bitvm2_script` parameters (4-bit digits over `msg_digits / 2` bytes).
    pub fn to_script_params(&self) -> sw::Params {
        assert_eq!(self.msg_digits % 2, 0, "whole bytes only");
        sw::Params::new(DIGIT_BITS, self.msg_digits / 2).expect("supported Winternitz parameters")
    }
}

impl WotsSecret {
    /// Derive the secret of committed value `index` from a master secret and a domain (e.g. the
    /// graph id): `bitvm2_script::winternitz::SecretKey::derive(master, domain || index (u32 BE))`.
    pub fn derive(master: &[u8; 32], domain: &[u8], index: u32, params: WotsParams) -> Self {
        let mut d = domain.to_vec();
        d.extend_from_slice(&index.to_be_bytes());
        WotsSecret { params, inner: sw::SecretKey::derive(master, &d, params.to_script_params()) }
    }

    /// The public key.
    pub fn public_key(&self) -> WotsPublicKey {
        WotsPublicKey { params: self.params, chains: self.inner.public_key().hashes().to_vec() }
    }

    /// Sign message digits (most significant first, each <= 15).
    pub fn sign(&self, msg: &[u8]) -> Result<WotsSignature, WotsError> {
        if msg.len() != self.params.msg_digits || msg.iter().any(|&d| d > MAX_DIGIT) {
            return Err(WotsError::BadMessage { got: msg.len(), expected: self.params.msg_digits });
        }
        let sig = self
            .inner
            .sign(&be_bytes_of_digits(msg, self.params.msg_digits / 2))
            .map_err(|_| WotsError::BadMessage { got: msg.len(), expected: self.params.msg_digits })?;
        Ok(WotsSignature { chains: sig.items.iter().map(|(h, d)| (*h, *d as u8)).collect() })
    }
}

impl WotsSignature {
    /// Order of chains in the witness: message chains, then checksum chains reversed.
    fn witness_order(params: WotsParams) -> Vec<usize> {
        let n = params.msg_digits;
        (0..n).chain((n..params.chains()).rev()).collect()
    }

    /// Witness items, bottom first (see the module doc).
    pub fn to_witness(&self) -> Vec<Vec<u8>> {
        let params = WotsParams { msg_digits: self.chains.len() - checksum_len_for(self.chains.len()) };
        Self::witness_order(params)
            .into_iter()
            .flat_map(|j| [self.chains[j].0.to_vec(), encode_num(self.chains[j].1 as i64)])
            .collect()
    }

    /// Parse witness items: 20-byte elements, digits in 0..=15. Digits are read like consensus
    /// reads them (a non-minimal encoding such as `[0x05, 0x00]` is accepted), so a verifier can
    /// read any assert the chain accepted; [`WotsSignature::to_witness`] re-encodes minimally.
    pub fn from_witness(params: WotsParams, items: &[Vec<u8>]) -> Result<Self, WotsError> {
        if items.len() != params.witness_items() {
            return Err(WotsError::ItemCount { got: items.len(), expected: params.witness_items() });
        }
        let mut chains = vec![([0u8; HASH_LEN], 0u8); params.chains()];
        for (pair, j) in items.chunks(2).zip(Self::witness_order(params)) {
            let h: [u8; HASH_LEN] =
                pair[0].as_slice().try_into().map_err(|_| WotsError::ElementSize { chain: j, len: pair[0].len() })?;
            let d = decode_num_with(&pair[1], 4, false)
                .ok()
                .filter(|d| (0..=MAX_DIGIT as i64).contains(d))
                .ok_or_else(|| WotsError::BadDigit { chain: j, item: hex::encode(&pair[1]) })?;
            chains[j] = (h, d as u8);
        }
        Ok(WotsSignature { chains })
    }
}

/// Number of checksum chains of a signature with `total` chains.
fn checksum_len_for(total: usize) -> usize {
    (1..total).find(|&c| WotsParams { msg_digits: total - c }.checksum_digits() == c).unwrap_or(1)
}

impl WotsPublicKey {
    /// The `bitvm2_script` key.
    pub fn to_script_key(&self) -> sw::PublicKey {
        sw::PublicKey::from_parts(self.params.to_script_params(), self.chains.clone()).expect("chain count matches the parameters")
    }

    /// Check a signature and return the message digits it signs (most significant first).
    pub fn verify(&self, sig: &WotsSignature) -> Result<Vec<u8>, WotsError> {
        let p = self.params;
        if sig.chains.len() != p.chains() {
            return Err(WotsError::ItemCount { got: 2 * sig.chains.len(), expected: p.witness_items() });
        }
        for (j, ((h, d), pk)) in sig.chains.iter().zip(&self.chains).enumerate() {
            if *d > MAX_DIGIT {
                return Err(WotsError::BadDigit { chain: j, item: d.to_string() });
            }
            if hash_n(*h, MAX_DIGIT - d) != *pk {
                return Err(WotsError::WrongChain { chain: j });
            }
        }
        let msg: Vec<u8> = sig.chains[..p.msg_digits].iter().map(|(_, d)| *d).collect();
        let signed = sig.chains[p.msg_digits..].iter().fold(0u32, |acc, (_, d)| (acc << DIGIT_BITS) + *d as u32);
        let computed = p.checksum_of(&msg);
        if signed != computed {
            return Err(WotsError::Checksum { signed, computed });
        }
        Ok(msg)
    }
}

/// `[signature items]` -> `[d_0 .. d_{n-1}]`: verify a signature against `pk` in script and
/// leave its message digits (most significant deepest); fails unless every chain hashes to the
/// key and the checksum matches. This is `bitvm2_script::winternitz::verify_script`.
pub fn verify_script(pk: &WotsPublicKey) -> Fragment {
    sw::verify_script(&pk.to_script_key())
}

/// Like [`verify_script`] but leaves nothing (for assert commitment scripts).
pub fn verify_script_drop(pk: &WotsPublicKey) -> Fragment {
    sw::verify_script_drop(&pk.to_script_key())
}

/// How a leaf takes a committed value's signature from its witness. Both check the same
/// signature under the same key; assert transactions always use the standard encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum LeafEncoding {
    /// Two items per chain (element, digit): [`verify_script`], 134 items per 256-bit element.
    #[default]
    Standard,
    /// One item per chain plus the message in packed numbers
    /// (`bitvm2_script::winternitz::compact`): 76 items per 256-bit element, whose 29-bit limbs
    /// come out ready for arithmetic; a digest comes out in 28-bit items (7 digits each).
    Compact,
}

/// Width of the packed items of a hash-committed digest under [`LeafEncoding::Compact`]
/// (a multiple of 4, so the hash gadget's nibbles pack into them).
pub const DIGEST_ITEM_BITS: u32 = 28;

/// The compact packing of a commitment: a direct value as the limbs of its 256-bit elements
/// (`ValueKind::decode_layout`), a digest in [`DIGEST_ITEM_BITS`]-bit items.
pub fn compact_packing(params: WotsParams, commit: CommitMode) -> sw::compact::Packing {
    let sp = params.to_script_params();
    let packing = match commit {
        CommitMode::Direct => sw::compact::Packing::blocks(sp, 256, ValueKind::decode_layout().limb_bits),
        CommitMode::Hash { .. } => sw::compact::Packing::limbs(sp, DIGEST_ITEM_BITS),
    };
    packing.expect("whole 256-bit elements or whole-byte digests pack")
}

impl WotsParams {
    /// Witness items of one signature in a leaf under `enc`.
    pub fn leaf_witness_items(&self, enc: LeafEncoding, commit: CommitMode) -> usize {
        match enc {
            LeafEncoding::Standard => self.witness_items(),
            LeafEncoding::Compact => compact_packing(*self, commit).witness_items(),
        }
    }

    /// Largest serialized leaf witness of one signature under `enc` (items with length prefixes).
    pub fn leaf_witness_bytes(&self, enc: LeafEncoding, commit: CommitMode) -> usize {
        match enc {
            LeafEncoding::Standard => self.max_witness_bytes(),
            LeafEncoding::Compact => {
                let packing = compact_packing(*self, commit);
                self.chains() * (1 + HASH_LEN) + packing.widths().iter().map(|w| 1 + (*w as usize + 8) / 8).sum::<usize>()
            }
        }
    }
}

impl WotsSignature {
    /// The signature in the `bitvm2_script` form.
    fn to_script_signature(&self, params: WotsParams) -> Result<sw::Signature, WotsError> {
        let items = self.chains.iter().map(|(h, d)| (*h, *d as u32)).collect();
        sw::Signature::from_parts(params.to_script_params(), items)
            .map_err(|_| WotsError::ItemCount { got: 2 * self.chains.len(), expected: params.witness_items() })
    }

    /// Witness items of this signature in a leaf under `enc` (bottom first): [`Self::to_witness`]
    /// or the compact encoding (one item per chain plus the packed message).
    pub fn to_leaf_witness(&self, params: WotsParams, enc: LeafEncoding, commit: CommitMode) -> Result<Vec<Vec<u8>>, WotsError> {
        match enc {
            LeafEncoding::Standard => Ok(self.to_witness()),
            LeafEncoding::Compact => compact_packing(params, commit)
                .to_witness(&self.to_script_signature(params)?)
                .map_err(|_| WotsError::BadMessage { got: self.chains.len(), expected: params.chains() }),
        }
    }
}

/// `[leaf witness items of a signature under enc]` -> the value as the leaf uses it: under
/// [`LeafEncoding::Standard`] the message digits ([`verify_script`]); under
/// [`LeafEncoding::Compact`] the packed items of [`compact_packing`] (limbs of every element,
/// or the digest's 28-bit items). Fails on a bad signature or an out-of-range packed item.
pub fn leaf_verify_script(pk: &WotsPublicKey, enc: LeafEncoding, commit: CommitMode) -> Fragment {
    match enc {
        LeafEncoding::Standard => verify_script(pk),
        LeafEncoding::Compact => sw::compact::verify_script(&compact_packing(pk.params, commit), &pk.to_script_key())
            .expect("the key has the packing's parameters"),
    }
}

/// A script built from one Winternitz public key (a signature check), with the key's chain
/// ends cut out: filling in a key is a copy and a few 20-byte writes instead of generating the
/// check again (tens of thousands of checks per Groth16 graph).
pub(crate) struct KeyTemplate {
    bytes: Vec<u8>,
    /// `(offset, chain)`: where chain end `chain` of the key goes.
    slots: Vec<(usize, usize)>,
}

impl KeyTemplate {
    /// The template of `build` for keys of `params`, found by building the script for a probe
    /// key and locating its chain ends (pushed as `0x14 <20 bytes>`). Panics unless filling in
    /// a second probe key gives exactly the script `build` makes for it (a script that depends
    /// on the key in any other way cannot be a template).
    pub(crate) fn new(params: WotsParams, build: impl Fn(&WotsPublicKey) -> Fragment) -> Self {
        use bitcoin::hashes::{sha256, Hash};
        let probe = |tag: u8| WotsPublicKey {
            params,
            chains: (0..params.chains() as u32)
                .map(|j| {
                    let h = sha256::Hash::hash(&[&b"key-template-probe"[..], &[tag], &j.to_be_bytes()].concat()).to_byte_array();
                    h[..HASH_LEN].try_into().expect("20 of 32 bytes")
                })
                .collect(),
        };
        let a = probe(0);
        let bytes = build(&a).as_bytes().to_vec();
        let chain_of: std::collections::HashMap<&[u8], usize> = a.chains.iter().enumerate().map(|(j, c)| (&c[..], j)).collect();
        let slots = (0..bytes.len().saturating_sub(HASH_LEN))
            .filter(|&o| bytes[o] == HASH_LEN as u8)
            .filter_map(|o| chain_of.get(&bytes[o + 1..o + 1 + HASH_LEN]).map(|&j| (o + 1, j)))
            .collect();
        let t = KeyTemplate { bytes, slots };
        let b = probe(1);
        let mut filled = Vec::new();
        t.fill(&mut filled, &b);
        assert!(filled == build(&b).as_bytes(), "the script depends on the key only through its chain ends");
        t
    }

    /// Append the script for `key` (of the template's parameters) to `out`.
    pub(crate) fn fill(&self, out: &mut Vec<u8>, key: &WotsPublicKey) {
        let at = out.len();
        out.extend_from_slice(&self.bytes);
        for &(o, j) in &self.slots {
            out[at + o..at + o + HASH_LEN].copy_from_slice(&key.chains[j]);
        }
    }
}

/// Message digits (most significant first) of a big-endian byte string, `msg_digits` of them
/// (the leading digits are taken from the high nibbles; missing ones are zero).
pub fn digits_of_be_bytes(bytes: &[u8], msg_digits: usize) -> Vec<u8> {
    let nibbles: Vec<u8> = bytes.iter().flat_map(|b| [b >> 4, b & 0xf]).collect();
    if nibbles.len() >= msg_digits {
        nibbles[nibbles.len() - msg_digits..].to_vec()
    } else {
        let mut v = vec![0; msg_digits - nibbles.len()];
        v.extend(nibbles);
        v
    }
}

/// Inverse of [`digits_of_be_bytes`] into `len` big-endian bytes.
pub fn be_bytes_of_digits(digits: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for (i, d) in digits.iter().rev().enumerate() {
        let byte = len as isize - 1 - (i / 2) as isize;
        if byte < 0 {
            break;
        }
        out[byte as usize] |= if i % 2 == 0 { *d } else { *d << 4 };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitvm2_script::exec::{execute, ExecOptions};
    use proptest::prelude::*;

    fn key(bits: u32, index: u32) -> WotsSecret {
        WotsSecret::derive(&[7u8; 32], b"test", index, WotsParams::for_bits(bits))
    }

    #[test]
    fn non_minimal_digits_are_read_like_consensus_reads_them() {
        let sk = key(32, 1);
        let sig = sk.sign(&digits_of_be_bytes(&[0, 1, 2, 3], 8)).unwrap();
        let mut items = sig.to_witness();
        let i = (1..items.len()).step_by(2).find(|&i| !items[i].is_empty()).unwrap();
        let d = items[i][0];
        items[i] = vec![d, 0x00]; // same number, non-minimal
        assert_eq!(WotsSignature::from_witness(sig_params(&sig), &items).unwrap(), sig);
        items[i] = vec![0x10]; // 16: out of range
        assert!(WotsSignature::from_witness(sig_params(&sig), &items).is_err());
    }

    fn sig_params(sig: &WotsSignature) -> WotsParams {
        WotsParams { msg_digits: sig.chains.len() - checksum_len_for(sig.chains.len()) }
    }

    #[test]
    fn params_of_a_256_bit_value() {
        let p = WotsParams::for_bits(256);
        assert_eq!(p.msg_digits, 64);
        // 15 * 64 = 960 = 0x3c0: three base-16 digits
        assert_eq!(p.checksum_digits(), 3);
        assert_eq!(p.chains(), 67);
        assert_eq!(WotsParams::for_bits(32).checksum_digits(), 2); // 120 = 0x78
    }

    #[test]
    fn derivation_depends_on_every_input() {
        let p = WotsParams::for_bits(32);
        let a = WotsSecret::derive(&[1; 32], b"d", 0, p).public_key();
        assert_ne!(a, WotsSecret::derive(&[2; 32], b"d", 0, p).public_key());
        assert_ne!(a, WotsSecret::derive(&[1; 32], b"e", 0, p).public_key());
        assert_ne!(a, WotsSecret::derive(&[1; 32], b"d", 1, p).public_key());
        assert_eq!(a, WotsSecret::derive(&[1; 32], b"d", 0, p).public_key());
    }

    #[test]
    fn raising_a_digit_breaks_the_signature() {
        let sk = key(32, 0);
        let pk = sk.public_key();
        let msg = digits_of_be_bytes(&[0x12, 0x34, 0x56, 0x78], 8);
        let mut sig = sk.sign(&msg).unwrap();
        assert_eq!(pk.verify(&sig).unwrap(), msg);
        // Forge digit 0 upward by hashing its element once: chain ok, checksum wrong.
        sig.chains[0].0 = hash_n(sig.chains[0].0, 1);
        sig.chains[0].1 += 1;
        assert!(matches!(pk.verify(&sig), Err(WotsError::Checksum { .. })));
        // Claiming a smaller digit without the preimage fails the chain.
        let mut sig2 = sk.sign(&msg).unwrap();
        sig2.chains[1].1 -= 1;
        assert_eq!(pk.verify(&sig2), Err(WotsError::WrongChain { chain: 1 }));
    }

    #[test]
    fn compact_leaf_encoding_checks_the_same_signature() {
        use bitvm2_script::arith::Layout;
        for (bits, commit) in [(256, CommitMode::Direct), (512, CommitMode::Direct), (160, CommitMode::Hash { bytes: 20 })] {
            let sk = key(bits, 9);
            let pk = sk.public_key();
            let p = pk.params;
            let bytes: Vec<u8> = (0..bits / 8).map(|i| (i * 41 + 3) as u8).collect();
            let sig = sk.sign(&digits_of_be_bytes(&bytes, p.msg_digits)).unwrap();
            let w = sig.to_leaf_witness(p, LeafEncoding::Compact, commit).unwrap();
            assert_eq!(w.len(), p.leaf_witness_items(LeafEncoding::Compact, commit));
            assert!(w.iter().map(|i| 1 + i.len()).sum::<usize>() <= p.leaf_witness_bytes(LeafEncoding::Compact, commit));
            let r = execute(&leaf_verify_script(&pk, LeafEncoding::Compact, commit).into_script(), &w, &ExecOptions::default());
            assert!(r.outcome.is_ok(), "{bits}: {:?}", r.outcome);
            // Direct: the decode layout's limbs of every element; digest: its packed items.
            let want: Vec<Vec<u8>> = match commit {
                CommitMode::Direct => bytes
                    .chunks(32)
                    .flat_map(|e| Layout::new(256, 29).to_stack(&bitvm2_script::arith::Nat::from_be_bytes(e)))
                    .collect(),
                CommitMode::Hash { .. } => {
                    compact_packing(p, commit).pack(&bytes).unwrap().iter().map(|x| encode_num(*x as i64)).collect()
                }
            };
            assert_eq!(r.final_stack, want, "{bits}");
            // A forged digit fails.
            let mut forged = sig.clone();
            forged.chains[3] = (hash_n(forged.chains[3].0, 1), forged.chains[3].1 + 1);
            let w = forged.to_leaf_witness(p, LeafEncoding::Compact, commit).unwrap();
            let r = execute(&leaf_verify_script(&pk, LeafEncoding::Compact, commit).into_script(), &w, &ExecOptions::default());
            assert!(r.outcome.is_err());
        }
        assert_eq!(WotsParams::for_bits(256).leaf_witness_items(LeafEncoding::Compact, CommitMode::Direct), 76);
        assert_eq!(WotsParams::for_bits(160).leaf_witness_items(LeafEncoding::Compact, CommitMode::Hash { bytes: 20 }), 49);
    }

    /// A check filled in from its template is the check built for the key, for every kind of
    /// commitment, both leaf encodings and the assert check, for derived keys and for keys whose
    /// chain ends look like pushes (0x14 bytes) or are all zero.
    #[test]
    fn key_templates_give_the_built_scripts() {
        type Build = Box<dyn Fn(&WotsPublicKey) -> Fragment>;
        for (bits, commit) in [(256, CommitMode::Direct), (512, CommitMode::Direct), (160, CommitMode::Hash { bytes: 20 })] {
            let params = WotsParams::for_bits(bits);
            let builds: Vec<Build> = vec![
                Box::new(move |pk| leaf_verify_script(pk, LeafEncoding::Standard, commit)),
                Box::new(move |pk| leaf_verify_script(pk, LeafEncoding::Compact, commit)),
                Box::new(verify_script_drop),
            ];
            for build in builds {
                let t = KeyTemplate::new(params, &build);
                let mut keys: Vec<WotsPublicKey> = (0..4).map(|i| key(bits, 100 + i).public_key()).collect();
                keys.push(WotsPublicKey { params, chains: vec![[0x14; HASH_LEN]; params.chains()] });
                keys.push(WotsPublicKey { params, chains: vec![[0; HASH_LEN]; params.chains()] });
                for pk in &keys {
                    let mut filled = vec![0xab];
                    t.fill(&mut filled, pk);
                    assert_eq!(&filled[1..], build(pk).as_bytes(), "{bits} bits, {commit:?}");
                }
            }
        }
    }

    fn run(pk: &WotsPublicKey, sig: &WotsSignature) -> bitvm2_script::exec::ExecReport {
        let script = verify_script(pk).into_script();
        execute(&script, &sig.to_witness(), &ExecOptions::default())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn script_and_native_agree(bytes in proptest::collection::vec(any::<u8>(), 32), idx in 0u32..1000) {
            let sk = key(256, idx);
            let pk = sk.public_key();
            let msg = digits_of_be_bytes(&bytes, 64);
            prop_assert_eq!(be_bytes_of_digits(&msg, 32), bytes.clone());
            let sig = sk.sign(&msg).unwrap();
            prop_assert_eq!(WotsSignature::from_witness(pk.params, &sig.to_witness()).unwrap(), sig.clone());
            let r = run(&pk, &sig);
            prop_assert!(r.outcome.is_ok(), "{:?}", r.outcome);
            let want: Vec<Vec<u8>> = msg.iter().map(|&d| encode_num(d as i64)).collect();
            prop_assert_eq!(r.final_stack, want);
            prop_assert!(r.peak_items <= 1000);
        }

        #[test]
        fn script_rejects_a_forged_digit(bytes in proptest::collection::vec(any::<u8>(), 32), chain in 0usize..67) {
            let sk = key(256, 3);
            let pk = sk.public_key();
            let sig = sk.sign(&digits_of_be_bytes(&bytes, 64)).unwrap();
            let mut forged = sig.clone();
            let (h, d) = forged.chains[chain];
            if d < MAX_DIGIT {
                // hashing forward is what an attacker can do
                forged.chains[chain] = (hash_n(h, 1), d + 1);
            } else {
                forged.chains[chain] = (h, d - 1);
            }
            prop_assert!(pk.verify(&forged).is_err());
            prop_assert!(run(&pk, &forged).outcome.is_err());
        }
    }
}
