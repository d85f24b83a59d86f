//! The operator's withdrawal claim, committed with Winternitz in Kickoff.
//!
//! A peg-out graph already fixes the deposit and the operator, so what an operator chooses when
//! it claims is the withdrawal it fronted (the payout txid, the amount and the destination) and
//! the checkpoint its statement proof starts from: the parent of the block that confirmed the
//! payout, so that the proof's header chain starts at the payout block however long after the
//! graph's setup the withdrawal happens. Kickoff reveals one Winternitz signature (4-bit digits)
//! per claim field `x0..x5, x9, x10` of the statement's public inputs, each over a message as
//! wide as the field's span: 16 bytes (32 message + 3 checksum chains) for x0, x1, x3, x4, x9,
//! x10, 8 bytes (16 + 2) for the amount x2 and 3 bytes (6 + 2) for x5, 236 chains in all (472
//! witness items). The statement's x6..x8 (the deposit outpoint) are fixed per graph and are not
//! committed here.
//! Watchtowers read the fields back from the Kickoff witness ([`ClaimPublicKey::read`]) and
//! check the payout on chain against the withdrawal request, and the checkpoint against the
//! payout's block on their own chain; the Groth16 proof that answers a challenge has the same
//! fields as its public inputs, so a disprove leaf can bind them to what the Kickoff committed.
//! Because the keys are one-time, an operator that signs a second claim with them hands anyone
//! two signatures of one key, and a node must refuse to do so (the daemons record every
//! Winternitz use).
//!
//! # Packing (the statement's, `bitvm2-statement` `claim` module)
//!
//! The claim bytes, in order: payout txid (32 bytes, internal byte order), amount in satoshis
//! (u64 little-endian), destination (35 bytes: the scriptPubKey length `L` in `1..=34`, then the
//! scriptPubKey zero-padded to 34 bytes), checkpoint block hash (32 bytes, internal byte order).
//! Field `x_k` is a span of these bytes read **little-endian**:
//!
//! | field | bytes |
//! |---|---|
//! | x0 | txid `[0..16)` |
//! | x1 | txid `[16..32)` |
//! | x2 | amount, 8 bytes |
//! | x3 | destination `[0..16)` |
//! | x4 | destination `[16..32)` |
//! | x5 | destination `[32..35)` |
//! | x9 | checkpoint `[0..16)` |
//! | x10 | checkpoint `[16..32)` |
//!
//! ([`FIELD_INPUTS`] maps each claim field to its public input.) The Winternitz message of
//! field `k` is the integer `x_k` as **big-endian bytes of its span's
//! width** ([`FIELD_MESSAGE_LENS`]: the span reversed), so the digits the verifying script
//! leaves are `x_k`'s hex digits, most significant deepest: the same convention as every other
//! committed value of this crate (`bitvm2_script::arith::nibbles_to_limbs` takes them as they
//! are). A narrower message has fewer digits of the same integer: a binding leaf
//! (`crate::binding`) compares them with the low digits of a 256-bit asserted value and
//! requires the asserted value's higher digits to be zero. A message is canonical only if the
//! destination length is in `1..=34` and the destination padding is zero;
//! [`ClaimPublicKey::read`] refuses anything else (the statement cannot be proven for it
//! either), and the Kickoff script checks the signatures only, so such a Kickoff is on chain but
//! unreadable, which verifiers treat as a fault. Every checkpoint value is canonical.
//!
//! A claim without payout (fault injection in the operator) commits [`ClaimFields::no_payout`]:
//! all-zero txid, amount 0, destination `OP_RETURN`, all-zero checkpoint. It is a canonical
//! claim and reads back like any other; no withdrawal request is paid by it, which is what makes
//! it a fault.

use bitcoin::hashes::Hash;
use bitcoin::opcodes::all::OP_RETURN;
use bitcoin::{Amount, BlockHash, ScriptBuf, Txid};
use bitvm2_script::builder::Fragment;
use bitvm2_script::winternitz::{self, Params, PublicKey, SecretKey, Signature, WinternitzError, HASH_LEN};

/// Domain separator of claim keys inside an operator's Winternitz master secret (v4: the
/// checkpoint x9, x10 committed too; v3 had one key per field x0..x5, as wide as its span; v2
/// signed every field as 16 bytes; v1 signed the payout txid only).
const CLAIM_DOMAIN: &[u8] = b"bitvm2/claim/v4";

/// Number of claim fields the Kickoff commits (the statement's public inputs `x0..x5`, `x9`,
/// `x10`).
pub const CLAIM_FIELDS: usize = 8;
/// The statement's public-input index `i` of each claim field (`x_i`), in commitment order.
pub const FIELD_INPUTS: [usize; CLAIM_FIELDS] = [0, 1, 2, 3, 4, 5, 9, 10];
/// Bytes of each field's Winternitz message: the width of its span in the claim bytes (x2 is
/// the 8-byte amount, x5 the last 3 destination bytes, the others 16 bytes).
pub const FIELD_MESSAGE_LENS: [usize; CLAIM_FIELDS] = [16, 16, 8, 16, 16, 3, 16, 16];
/// The widest field message: every field is below `2^128`.
pub const MAX_FIELD_MESSAGE_LEN: usize = 16;
/// Longest destination scriptPubKey the statement packs (P2TR and P2WSH are 34 bytes).
pub const MAX_DESTINATION_LEN: usize = 34;
/// Names of the fields, for errors.
pub const FIELD_NAMES: [&str; CLAIM_FIELDS] = [
    "x0 (payout txid bytes 0..16)",
    "x1 (payout txid bytes 16..32)",
    "x2 (amount)",
    "x3 (destination bytes 0..16)",
    "x4 (destination bytes 16..32)",
    "x5 (destination bytes 32..35)",
    "x9 (checkpoint block hash bytes 0..16)",
    "x10 (checkpoint block hash bytes 16..32)",
];

/// Length of the claim bytes: txid 32, amount 8, destination 1 + 34, checkpoint 32.
const CLAIM_BYTES: usize = 32 + 8 + 1 + MAX_DESTINATION_LEN + 32;
const OFF_AMOUNT: usize = 32;
const OFF_DEST_LEN: usize = 40;
const OFF_DEST: usize = 41;
const OFF_CHECKPOINT: usize = OFF_DEST + MAX_DESTINATION_LEN;
/// Offset of each field's span in the claim bytes (the statement's spans of x0..x5, x9, x10;
/// their lengths are [`FIELD_MESSAGE_LENS`]).
const FIELD_OFFSETS: [usize; CLAIM_FIELDS] =
    [0, 16, OFF_AMOUNT, OFF_DEST_LEN, OFF_DEST_LEN + 16, OFF_DEST_LEN + 32, OFF_CHECKPOINT, OFF_CHECKPOINT + 16];

/// The Winternitz messages of a claim, x0 first, each [`FIELD_MESSAGE_LENS`]`[k]` bytes.
pub type ClaimMessages = [Vec<u8>; CLAIM_FIELDS];

/// Why a claim could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// A key could not be parsed.
    #[error("claim key: {0}")]
    Winternitz(#[from] WinternitzError),
    /// A field key made for other Winternitz parameters than that field uses.
    #[error("claim key of field {field}: {digit_bits}-bit digits over {message_len}-byte messages, expected 4-bit digits over {want} bytes")]
    FieldParameters {
        /// Which field.
        field: &'static str,
        /// Digit width the key announces.
        digit_bits: u32,
        /// Message length the key announces.
        message_len: usize,
        /// The field's message length.
        want: usize,
    },
    /// A serialized key with another number of field keys (6: a key of the format before the
    /// checkpoint was committed).
    #[error("claim key has {got} field keys, this claim format has {CLAIM_FIELDS} (x0..x5 and the checkpoint x9, x10; a 6-field key predates the committed checkpoint)")]
    FieldCount {
        /// Field keys announced.
        got: usize,
    },
    /// A serialized key with bytes missing or left over.
    #[error("claim key is {got} bytes, expected {want}")]
    KeyLength {
        /// Bytes given.
        got: usize,
        /// Bytes expected.
        want: usize,
    },
    /// The commitment's witness has the wrong number of items.
    #[error("claim commitment has {got} witness items, expected {want}")]
    ItemCount {
        /// Items given.
        got: usize,
        /// Items expected.
        want: usize,
    },
    /// One field's signature is malformed or does not verify under its key.
    #[error("claim field {field}: {source}")]
    Signature {
        /// Which field.
        field: &'static str,
        /// What the Winternitz layer found.
        source: WinternitzError,
    },
    /// A field message of another length than the field's span.
    #[error("claim field {field}: message of {got} bytes, expected {want}")]
    MessageLength {
        /// Which field.
        field: &'static str,
        /// Bytes given.
        got: usize,
        /// The field's message length.
        want: usize,
    },
    /// A destination scriptPubKey length outside `1..=34` (given, or read from x3's low byte).
    #[error("claim destination is {0} bytes, must be 1..=34")]
    DestinationLength(usize),
    /// Non-zero bytes after the destination scriptPubKey.
    #[error("claim destination has non-zero bytes after its scriptPubKey")]
    DestinationPadding,
}

/// Winternitz parameters of field `k`: 4-bit digits over its span's width.
fn params(k: usize) -> Params {
    Params::new(4, FIELD_MESSAGE_LENS[k]).expect("4-bit digits over 3..=16 bytes are valid Winternitz parameters")
}

/// Witness items of field `k`'s signature (an element and a digit per chain).
fn field_items(k: usize) -> usize {
    2 * params(k).total_digits()
}

/// Serialized size of field `k`'s key (`PublicKey::to_bytes`: width, length, chain ends).
fn field_key_len(k: usize) -> usize {
    5 + HASH_LEN * params(k).total_digits()
}

/// What the operator claims in Kickoff: the payout it made, the withdrawal it paid and the
/// checkpoint its statement proof starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimFields {
    /// The operator's payout transaction.
    pub payout_txid: Txid,
    /// The withdrawal amount.
    pub amount: Amount,
    /// The withdrawal destination (1..=34 bytes).
    pub destination: ScriptBuf,
    /// The parent of the block that confirmed the payout (the statement's x9, x10): verifiers
    /// accept it only if it is exactly that on their own chain.
    pub checkpoint: BlockHash,
}

impl ClaimFields {
    /// The claim of an operator that made no payout (fault injection): all-zero txid, amount 0,
    /// destination `OP_RETURN` (pays nobody), all-zero checkpoint. Canonical: it signs and reads
    /// back.
    pub fn no_payout() -> Self {
        ClaimFields {
            payout_txid: Txid::all_zeros(),
            amount: Amount::ZERO,
            destination: ScriptBuf::from_bytes(vec![OP_RETURN.to_u8()]),
            checkpoint: BlockHash::all_zeros(),
        }
    }

    /// The Winternitz messages: field `x_k` as a big-endian integer of
    /// [`FIELD_MESSAGE_LENS`]`[k]` bytes (see the module doc). Refuses an empty destination or
    /// one longer than 34 bytes.
    pub fn packed(&self) -> Result<ClaimMessages, ClaimError> {
        let script = self.destination.as_bytes();
        if script.is_empty() || script.len() > MAX_DESTINATION_LEN {
            return Err(ClaimError::DestinationLength(script.len()));
        }
        let mut bytes = [0u8; CLAIM_BYTES];
        bytes[..32].copy_from_slice(self.payout_txid.as_byte_array());
        bytes[OFF_AMOUNT..OFF_AMOUNT + 8].copy_from_slice(&self.amount.to_sat().to_le_bytes());
        bytes[OFF_DEST_LEN] = script.len() as u8;
        bytes[OFF_DEST..OFF_DEST + script.len()].copy_from_slice(script);
        bytes[OFF_CHECKPOINT..].copy_from_slice(self.checkpoint.as_byte_array());
        Ok(core::array::from_fn(|k| {
            let (off, len) = (FIELD_OFFSETS[k], FIELD_MESSAGE_LENS[k]);
            bytes[off..off + len].iter().rev().copied().collect()
        }))
    }

    /// Inverse of [`ClaimFields::packed`]: refuses a message of another length than its
    /// field's, a destination length outside `1..=34` and non-zero destination padding, so
    /// exactly the outputs of [`ClaimFields::packed`] are accepted.
    pub fn from_packed(messages: &ClaimMessages) -> Result<Self, ClaimError> {
        let mut bytes = [0u8; CLAIM_BYTES];
        for (k, m) in messages.iter().enumerate() {
            let (off, len) = (FIELD_OFFSETS[k], FIELD_MESSAGE_LENS[k]);
            if m.len() != len {
                return Err(ClaimError::MessageLength { field: FIELD_NAMES[k], got: m.len(), want: len });
            }
            for (i, b) in m.iter().rev().enumerate() {
                bytes[off + i] = *b;
            }
        }
        let len = bytes[OFF_DEST_LEN] as usize;
        if len == 0 || len > MAX_DESTINATION_LEN {
            return Err(ClaimError::DestinationLength(len));
        }
        if bytes[OFF_DEST + len..OFF_CHECKPOINT].iter().any(|b| *b != 0) {
            return Err(ClaimError::DestinationPadding);
        }
        let arr32 = |off: usize| -> [u8; 32] { bytes[off..off + 32].try_into().expect("32-byte span") };
        let mut sat = [0u8; 8];
        sat.copy_from_slice(&bytes[OFF_AMOUNT..OFF_AMOUNT + 8]);
        Ok(ClaimFields {
            payout_txid: Txid::from_byte_array(arr32(0)),
            amount: Amount::from_sat(u64::from_le_bytes(sat)),
            destination: ScriptBuf::from_bytes(bytes[OFF_DEST..OFF_DEST + len].to_vec()),
            checkpoint: BlockHash::from_byte_array(arr32(OFF_CHECKPOINT)),
        })
    }
}

/// The operator's secret claim keys for one peg-out graph, one per field. Not `Debug`: secret.
pub struct ClaimSecretKey([SecretKey; CLAIM_FIELDS]);

impl ClaimSecretKey {
    /// Derives the claim keys of the peg-out graph `graph_domain` (e.g. the peg-out graph id)
    /// from the operator's Winternitz master secret; field `k`'s domain is
    /// `"bitvm2/claim/v3" || graph_domain || k (u32 BE)`, and its parameters (so its message
    /// length, which `winternitz::SecretKey::derive` also hashes in) are field `k`'s.
    pub fn derive(master: &[u8; 32], graph_domain: &[u8]) -> Self {
        ClaimSecretKey(core::array::from_fn(|k| {
            let mut domain = CLAIM_DOMAIN.to_vec();
            domain.extend_from_slice(graph_domain);
            domain.extend_from_slice(&(k as u32).to_be_bytes());
            SecretKey::derive(master, &domain, params(k))
        }))
    }

    /// The public half, which goes into the graph parameters at setup.
    pub fn public_key(&self) -> ClaimPublicKey {
        ClaimPublicKey(core::array::from_fn(|k| self.0[k].public_key()))
    }

    /// Signs `claim` and returns the Kickoff witness items of the claim commitment (bottom
    /// first: field x0's signature deepest, x10's on top). Refuses a destination the statement
    /// cannot pack (empty or longer than 34 bytes).
    pub fn sign(&self, claim: &ClaimFields) -> Result<Vec<Vec<u8>>, ClaimError> {
        let messages = claim.packed()?;
        let mut items = Vec::with_capacity((0..CLAIM_FIELDS).map(field_items).sum());
        for (key, m) in self.0.iter().zip(&messages) {
            let sig = key.sign(m).expect("a packed field is exactly the message length");
            items.extend(sig.to_witness());
        }
        Ok(items)
    }
}

/// The public claim keys: what verifiers see and the Kickoff script checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPublicKey([PublicKey; CLAIM_FIELDS]);

impl ClaimPublicKey {
    /// The commitment script for the graph's Kickoff input: verifies the eight signatures (x10's,
    /// on top of the witness, first) and leaves nothing (the graph adds the operator's own
    /// signature check around it). It checks signatures only, not the packing (see the module
    /// doc).
    pub fn script(&self) -> ScriptBuf {
        let parts: Vec<Fragment> = self.0.iter().rev().map(winternitz::verify_script_drop).collect();
        Fragment::concat(&parts).into_script()
    }

    /// The signed messages (big-endian field values, [`FIELD_MESSAGE_LENS`] bytes), read
    /// from the claim commitment's witness items as found in a Kickoff on chain; every chain of
    /// every field is checked against this key. The packing is not checked (see
    /// [`ClaimPublicKey::read`]).
    pub fn read_messages(&self, witness_items: &[Vec<u8>]) -> Result<ClaimMessages, ClaimError> {
        let mut out: ClaimMessages = Default::default();
        for (k, (key, items)) in self.0.iter().zip(self.field_witnesses(witness_items)?).enumerate() {
            let field = FIELD_NAMES[k];
            out[k] = Signature::from_witness(params(k), items)
                .and_then(|sig| key.verify(&sig))
                .map_err(|source| ClaimError::Signature { field, source })?;
        }
        Ok(out)
    }

    /// The Winternitz key of each field, x0 first (e.g. for a leaf that binds a field to an
    /// asserted value).
    pub fn field_keys(&self) -> &[PublicKey; CLAIM_FIELDS] {
        &self.0
    }

    /// The claim commitment's witness items split per field, x0 first, each laid out as
    /// `winternitz::Signature::to_witness` (e.g. the claim half of a binding leaf's witness).
    /// Checks the item count only.
    pub fn field_witnesses<'a>(&self, witness_items: &'a [Vec<u8>]) -> Result<Vec<&'a [Vec<u8>]>, ClaimError> {
        let want = self.witness_items();
        if witness_items.len() != want {
            return Err(ClaimError::ItemCount { got: witness_items.len(), want });
        }
        let mut rest = witness_items;
        Ok((0..CLAIM_FIELDS)
            .map(|k| {
                let (field, tail) = rest.split_at(field_items(k));
                rest = tail;
                field
            })
            .collect())
    }

    /// Reads the claim back from the claim commitment's witness items: checks every chain
    /// ([`ClaimPublicKey::read_messages`]) and the packing ([`ClaimFields::from_packed`]), and
    /// names the field or rule that fails.
    pub fn read(&self, witness_items: &[Vec<u8>]) -> Result<ClaimFields, ClaimError> {
        ClaimFields::from_packed(&self.read_messages(witness_items)?)
    }

    /// Number of witness items the claim commitment takes (two per chain: 35 chains for a
    /// 16-byte field, 18 for the amount, 8 for x5; 472 items).
    pub fn witness_items(&self) -> usize {
        (0..CLAIM_FIELDS).map(field_items).sum()
    }

    /// Serialized keys, for configuration and the wire: the field count (one byte), then each
    /// field key as `winternitz::PublicKey::to_bytes` (whose header carries its digit width and
    /// message length).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + (0..CLAIM_FIELDS).map(field_key_len).sum::<usize>());
        out.push(CLAIM_FIELDS as u8);
        for key in &self.0 {
            out.extend_from_slice(&key.to_bytes());
        }
        out
    }

    /// Parses [`ClaimPublicKey::to_bytes`]; refuses another field count, a field key with
    /// other parameters than its field's (named; e.g. a 16-byte amount key of the earlier
    /// format), and missing or trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ClaimError> {
        let (&count, body) = bytes.split_first().ok_or(ClaimError::FieldCount { got: 0 })?;
        if count as usize != CLAIM_FIELDS {
            return Err(ClaimError::FieldCount { got: count as usize });
        }
        let want = 1 + (0..CLAIM_FIELDS).map(field_key_len).sum::<usize>();
        let short = ClaimError::KeyLength { got: bytes.len(), want };
        let mut rest = body;
        let mut keys = Vec::with_capacity(CLAIM_FIELDS);
        for k in 0..CLAIM_FIELDS {
            // The key's header (digit width, message length) decides its length: check it
            // against the field's before cutting, so a foreign key is named as such.
            let header = rest.get(..5).ok_or_else(|| short.clone())?;
            let digit_bits = header[0] as u32;
            let message_len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            if digit_bits != params(k).digit_bits() || message_len != FIELD_MESSAGE_LENS[k] {
                return Err(ClaimError::FieldParameters { field: FIELD_NAMES[k], digit_bits, message_len, want: FIELD_MESSAGE_LENS[k] });
            }
            let n = field_key_len(k);
            let chunk = rest.get(..n).ok_or_else(|| short.clone())?;
            let pk = PublicKey::from_bytes(chunk)?;
            debug_assert_eq!(pk.params(), params(k), "the header checked is the key's parameters");
            keys.push(pk);
            rest = &rest[n..];
        }
        if !rest.is_empty() {
            return Err(short);
        }
        let keys: [PublicKey; CLAIM_FIELDS] = keys.try_into().expect("exactly CLAIM_FIELDS keys");
        Ok(ClaimPublicKey(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitvm2_script::exec::{execute, ExecOptions};
    use proptest::prelude::*;

    fn p2wpkh() -> ScriptBuf {
        ScriptBuf::from_bytes([&[0x00, 0x14][..], &[0x11; 20]].concat())
    }
    fn p2tr() -> ScriptBuf {
        ScriptBuf::from_bytes([&[0x51, 0x20][..], &[0xab; 32]].concat())
    }
    fn p2wsh() -> ScriptBuf {
        ScriptBuf::from_bytes([&[0x00, 0x20][..], &[0xcd; 32]].concat())
    }

    fn claim(dest: ScriptBuf, sat: u64) -> ClaimFields {
        ClaimFields {
            payout_txid: Txid::from_byte_array(core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(1))),
            amount: Amount::from_sat(sat),
            destination: dest,
            checkpoint: BlockHash::from_byte_array(core::array::from_fn(|i| (i as u8).wrapping_mul(53) ^ 0xa5)),
        }
    }

    /// The Kickoff leaf shape around the claim script: append OP_1 (the graph adds the
    /// operator's signature check in front and OP_1 after).
    fn leaf(pk: &ClaimPublicKey) -> ScriptBuf {
        let mut script = pk.script().into_bytes();
        script.push(bitcoin::opcodes::OP_TRUE.to_u8());
        ScriptBuf::from_bytes(script)
    }

    /// Native oracle of the statement's packing: the field values as little-endian u128s of
    /// the claim bytes built by hand.
    fn oracle_fields(c: &ClaimFields) -> [u128; CLAIM_FIELDS] {
        let t = c.payout_txid.as_byte_array();
        let le = |b: &[u8]| b.iter().rev().fold(0u128, |a, v| (a << 8) | *v as u128);
        let mut dest = vec![c.destination.len() as u8];
        dest.extend_from_slice(c.destination.as_bytes());
        dest.resize(35, 0);
        let cp = c.checkpoint.as_byte_array();
        [
            le(&t[..16]),
            le(&t[16..]),
            c.amount.to_sat() as u128,
            le(&dest[..16]),
            le(&dest[16..32]),
            le(&dest[32..]),
            le(&cp[..16]),
            le(&cp[16..]),
        ]
    }

    #[test]
    fn honest_claims_pass_the_script_and_read_back() {
        let sk = ClaimSecretKey::derive(&[7; 32], b"graph-a");
        let pk = sk.public_key();
        let script = leaf(&pk);
        let dests = [p2wpkh(), p2tr(), p2wsh(), ScriptBuf::from_bytes(vec![0x51])];
        let mut claims: Vec<ClaimFields> = dests.into_iter().map(|d| claim(d, 1_234_567)).collect();
        claims.push(claim(p2tr(), 0));
        claims.push(claim(p2wpkh(), u64::MAX));
        claims.push(ClaimFields::no_payout());
        for c in claims {
            let w = sk.sign(&c).unwrap();
            assert_eq!(w.len(), pk.witness_items());
            assert_eq!(pk.read(&w).unwrap(), c);
            // Per field: the split witness verifies under that field's key as its message.
            let packed = c.packed().unwrap();
            for (k, items) in pk.field_witnesses(&w).unwrap().into_iter().enumerate() {
                assert_eq!(packed[k].len(), FIELD_MESSAGE_LENS[k]);
                let sig = Signature::from_witness(params(k), items).unwrap();
                assert_eq!(pk.field_keys()[k].verify(&sig).unwrap(), packed[k]);
            }
            let report = execute(&script, &w, &ExecOptions::default());
            assert!(report.success(), "{:?}", report.outcome);
            assert!(report.peak_items <= 1000, "peak {}", report.peak_items);
        }
    }

    #[test]
    fn kickoff_claim_check_figures() {
        // Not a limit test: prints the figures the report and docs quote.
        let pk = ClaimSecretKey::derive(&[7; 32], b"graph-a").public_key();
        let w = ClaimSecretKey::derive(&[7; 32], b"graph-a").sign(&claim(p2tr(), 50_000)).unwrap();
        let report = execute(&leaf(&pk), &w, &ExecOptions::default());
        let witness_bytes: usize = w.iter().map(|i| 1 + i.len()).sum();
        eprintln!(
            "claim commitment: {} items, {} witness bytes, {} script bytes, peak {} items",
            w.len(),
            witness_bytes,
            pk.script().len(),
            report.peak_items
        );
        // The Kickoff input adds the operator's signature (one item) to this witness.
        assert!(report.peak_items < 1000, "peak {} plus the operator signature", report.peak_items);
    }

    #[test]
    fn claims_of_other_graphs_or_keys_are_refused() {
        let sk = ClaimSecretKey::derive(&[7; 32], b"graph-a");
        let script = leaf(&sk.public_key());
        for other in [ClaimSecretKey::derive(&[7; 32], b"graph-b"), ClaimSecretKey::derive(&[8; 32], b"graph-a")] {
            assert_ne!(sk.public_key(), other.public_key());
            let w = other.sign(&claim(p2tr(), 5)).unwrap();
            assert!(matches!(sk.public_key().read(&w), Err(ClaimError::Signature { .. })), "signature under another key");
            assert!(!execute(&script, &w, &ExecOptions::default()).success());
        }
        // Field keys are distinct: field 0's signature does not verify as field 1's.
        let w = sk.sign(&claim(p2tr(), 5)).unwrap();
        let n = field_items(0);
        let mut swapped = w.clone();
        swapped[..n].clone_from_slice(&w[n..2 * n]);
        swapped[n..2 * n].clone_from_slice(&w[..n]);
        match sk.public_key().read(&swapped) {
            Err(ClaimError::Signature { field, .. }) => assert_eq!(field, FIELD_NAMES[0]),
            other => panic!("swapped fields read as {other:?}"),
        }
        assert!(!execute(&script, &swapped, &ExecOptions::default()).success());
        // Missing or extra items.
        assert!(matches!(sk.public_key().read(&w[1..]), Err(ClaimError::ItemCount { got, want: 472 }) if got == 471));
        assert!(!execute(&script, &w[2..], &ExecOptions::default()).success());
    }

    #[test]
    fn a_raised_digit_in_any_field_is_refused_and_named() {
        let sk = ClaimSecretKey::derive(&[7; 32], b"graph-a");
        let pk = sk.public_key();
        let script = leaf(&pk);
        let c = claim(p2wsh(), 1_000);
        let honest = sk.sign(&c).unwrap();
        for (k, name) in FIELD_NAMES.iter().enumerate() {
            // Raise the first message digit of field k by one: hash its element once more, so
            // the chain still reaches the key but the checksum no longer matches.
            let mut w = honest.clone();
            let base: usize = (0..k).map(field_items).sum();
            let d = bitvm2_script::exec::decode_num(&w[base + 1], 4).unwrap();
            if d == 15 {
                continue;
            }
            w[base] = bitcoin::hashes::hash160::Hash::hash(&w[base]).to_byte_array().to_vec();
            w[base + 1] = bitvm2_script::exec::encode_num(d + 1);
            match pk.read(&w) {
                Err(ClaimError::Signature { field, .. }) => assert_eq!(field, *name),
                other => panic!("field {k}: raised digit read as {other:?}"),
            }
            assert!(!execute(&script, &w, &ExecOptions::default()).success(), "field {k}");
            // A digit out of range (16) is refused too.
            let mut w = honest.clone();
            w[base + 1] = vec![16];
            assert!(matches!(pk.read(&w), Err(ClaimError::Signature { .. })));
            assert!(!execute(&script, &w, &ExecOptions::default()).success());
        }
    }

    #[test]
    fn destinations_the_statement_cannot_pack_are_refused_at_signing() {
        let sk = ClaimSecretKey::derive(&[7; 32], b"graph-a");
        assert_eq!(sk.sign(&claim(ScriptBuf::new(), 1)), Err(ClaimError::DestinationLength(0)));
        assert_eq!(sk.sign(&claim(ScriptBuf::from_bytes(vec![0x51; 35]), 1)), Err(ClaimError::DestinationLength(35)));
        assert!(sk.sign(&claim(ScriptBuf::from_bytes(vec![0x51; 34]), 1)).is_ok());
    }

    #[test]
    fn validly_signed_non_canonical_packings_are_refused_by_read() {
        // An operator can sign any messages of its fields' lengths with its field keys; read
        // must refuse the ones the statement cannot have as public inputs.
        let sk = ClaimSecretKey::derive(&[7; 32], b"graph-a");
        let pk = sk.public_key();
        let sign_raw = |m: &ClaimMessages| -> Vec<Vec<u8>> {
            sk.0.iter().zip(m).flat_map(|(k, m)| k.sign(m).unwrap().to_witness()).collect()
        };
        let honest = claim(p2wpkh(), 77).packed().unwrap();
        assert_eq!(pk.read(&sign_raw(&honest)).unwrap(), claim(p2wpkh(), 77));
        // Destination length byte (x3's least significant byte) 0, 35 and 255.
        for len in [0u8, 35, 255] {
            let mut m = honest.clone();
            m[3][15] = len;
            assert_eq!(pk.read(&sign_raw(&m)), Err(ClaimError::DestinationLength(len as usize)));
        }
        // A 22-byte script with a non-zero byte in its padding (in x4 and in x5, whose
        // least significant byte is destination byte 31).
        for (k, i) in [(4, 0), (5, 2)] {
            let mut m = honest.clone();
            m[k][i] = 9;
            assert_eq!(pk.read(&sign_raw(&m)), Err(ClaimError::DestinationPadding));
        }
        // All of them still pass the script: it checks signatures only.
        let mut m = honest.clone();
        m[3][15] = 0;
        assert!(execute(&leaf(&pk), &sign_raw(&m), &ExecOptions::default()).success());
    }

    #[test]
    fn key_bytes_round_trip_and_foreign_keys_are_refused() {
        let pk = ClaimSecretKey::derive(&[1; 32], b"g").public_key();
        let bytes = pk.to_bytes();
        // Six 16-byte keys (5 + 35 * 20), the amount's (5 + 18 * 20) and x5's (5 + 8 * 20).
        assert_eq!(bytes.len(), 1 + 6 * 705 + 365 + 165);
        assert_eq!(ClaimPublicKey::from_bytes(&bytes).unwrap(), pk);
        let keys_of = |lens: &[usize]| -> Vec<u8> {
            let mut out = vec![lens.len() as u8];
            for (k, &len) in lens.iter().enumerate() {
                out.extend(SecretKey::derive(&[1; 32], &[k as u8], Params::new(4, len).unwrap()).public_key().to_bytes());
            }
            out
        };
        assert!(ClaimPublicKey::from_bytes(&keys_of(&FIELD_MESSAGE_LENS)).is_ok());
        // The v3 format (x0..x5 only, without the checkpoint) is refused by its field count,
        // and the error says why.
        let v3 = keys_of(&[16, 16, 8, 16, 16, 3]);
        let e = ClaimPublicKey::from_bytes(&v3).unwrap_err();
        assert_eq!(e, ClaimError::FieldCount { got: 6 });
        assert!(e.to_string().contains("checkpoint"), "{e}");
        // A v3 key announced as eight fields ends after x5: missing bytes.
        let mut v3_as_8 = v3.clone();
        v3_as_8[0] = 8;
        assert!(matches!(ClaimPublicKey::from_bytes(&v3_as_8), Err(ClaimError::KeyLength { .. })));
        // Foreign parameters: keys over 32-byte messages (the v1 claim's), named at x0.
        let field_key = |field, message_len, want| ClaimError::FieldParameters { field, digit_bits: 4, message_len, want };
        assert_eq!(ClaimPublicKey::from_bytes(&keys_of(&[32; 8])), Err(field_key(FIELD_NAMES[0], 32, 16)));
        // Every field 16 bytes (the v2 widths) is refused at the amount key.
        assert_eq!(ClaimPublicKey::from_bytes(&keys_of(&[16; 8])), Err(field_key(FIELD_NAMES[2], 16, 8)));
        // Right lengths in the wrong places: x5's 3-byte key in x2's slot and back, and the
        // checkpoint's keys narrower than 16 bytes.
        assert_eq!(ClaimPublicKey::from_bytes(&keys_of(&[16, 16, 3, 16, 16, 8, 16, 16])), Err(field_key(FIELD_NAMES[2], 3, 8)));
        assert_eq!(ClaimPublicKey::from_bytes(&keys_of(&[16, 16, 8, 16, 16, 8, 16, 16])), Err(field_key(FIELD_NAMES[5], 8, 3)));
        assert_eq!(ClaimPublicKey::from_bytes(&keys_of(&[16, 16, 8, 16, 16, 3, 8, 16])), Err(field_key(FIELD_NAMES[6], 8, 16)));
        assert_eq!(ClaimPublicKey::from_bytes(&keys_of(&[16, 16, 8, 16, 16, 3, 16, 3])), Err(field_key(FIELD_NAMES[7], 3, 16)));
        // x10's key with 3-bit digits (the header is checked per key).
        let at = bytes.len() - field_key_len(7);
        let mut last_foreign = bytes.clone();
        last_foreign[at] = 3;
        assert_eq!(
            ClaimPublicKey::from_bytes(&last_foreign),
            Err(ClaimError::FieldParameters { field: FIELD_NAMES[7], digit_bits: 3, message_len: 16, want: 16 })
        );
        // The v1 format (one 32-byte key) starts with its digit width, 4: a wrong field count.
        let v1 = SecretKey::derive(&[1; 32], b"g", Params::new(4, 32).unwrap()).public_key().to_bytes();
        assert_eq!(ClaimPublicKey::from_bytes(&v1), Err(ClaimError::FieldCount { got: 4 }));
        // Seven or nine field keys, trailing or missing bytes, nothing.
        let mut seven = bytes[..at].to_vec();
        seven[0] = 7;
        assert_eq!(ClaimPublicKey::from_bytes(&seven), Err(ClaimError::FieldCount { got: 7 }));
        let mut nine = bytes.clone();
        nine[0] = 9;
        assert_eq!(ClaimPublicKey::from_bytes(&nine), Err(ClaimError::FieldCount { got: 9 }));
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(ClaimPublicKey::from_bytes(&long), Err(ClaimError::KeyLength { .. })));
        assert!(matches!(ClaimPublicKey::from_bytes(&bytes[..bytes.len() - 1]), Err(ClaimError::KeyLength { .. })));
        assert_eq!(ClaimPublicKey::from_bytes(&[]), Err(ClaimError::FieldCount { got: 0 }));
    }

    #[test]
    fn fields_are_signed_at_their_spans_width() {
        let pk = ClaimSecretKey::derive(&[7; 32], b"graph-a").public_key();
        let chains: Vec<usize> = pk.field_keys().iter().map(|k| k.params().total_digits()).collect();
        assert_eq!(chains, [35, 35, 18, 35, 35, 8, 35, 35]);
        for (k, key) in pk.field_keys().iter().enumerate() {
            assert_eq!(key.params().message_len(), FIELD_MESSAGE_LENS[k]);
        }
        assert_eq!(pk.witness_items(), 2 * 236);
        // The amount's message is the 8-byte big-endian amount; x5's the last 3 destination
        // bytes reversed (zero for every destination of at most 31 bytes).
        let m = claim(p2tr(), 0x0102_0304_0506_0708).packed().unwrap();
        assert_eq!(m[2], 0x0102_0304_0506_0708u64.to_be_bytes());
        assert_eq!(m[5], [0xab, 0xab, 0xab]);
        assert_eq!(claim(p2wpkh(), 1).packed().unwrap()[5], [0, 0, 0]);
        // The checkpoint's messages are its two 16-byte halves (internal byte order), each
        // reversed: x9 = bytes [0..16) read little-endian.
        let c = claim(p2tr(), 1);
        let cp = c.checkpoint.to_byte_array();
        let m = c.packed().unwrap();
        assert_eq!(m[6], cp[..16].iter().rev().copied().collect::<Vec<u8>>());
        assert_eq!(m[7], cp[16..].iter().rev().copied().collect::<Vec<u8>>());
        assert_eq!(ClaimFields::no_payout().packed().unwrap()[6..], [vec![0; 16], vec![0; 16]]);
        assert_eq!(FIELD_INPUTS, [0, 1, 2, 3, 4, 5, 9, 10]);
    }

    #[test]
    fn messages_of_another_length_than_their_field_are_refused_and_named() {
        let honest = claim(p2tr(), 9).packed().unwrap();
        assert_eq!(ClaimFields::from_packed(&honest).unwrap(), claim(p2tr(), 9));
        for k in 0..CLAIM_FIELDS {
            let want = FIELD_MESSAGE_LENS[k];
            for got in [0, want - 1, want + 1, 32] {
                let mut m = honest.clone();
                m[k] = vec![0; got];
                assert_eq!(ClaimFields::from_packed(&m), Err(ClaimError::MessageLength { field: FIELD_NAMES[k], got, want }));
            }
        }
        // The earlier 16-byte amount message (the same integer, zero-extended) is refused too.
        let mut m = honest.clone();
        m[2] = [vec![0; 8], m[2].clone()].concat();
        assert_eq!(ClaimFields::from_packed(&m), Err(ClaimError::MessageLength { field: FIELD_NAMES[2], got: 16, want: 8 }));
    }

    #[test]
    fn every_field_key_serves_a_binding_leaf() {
        // A binding leaf built from a Kickoff field key and a 256-bit asserted value's key is
        // unspendable when the asserted value is the field's and spendable when it differs,
        // in the field's own digits or in the digits above its width.
        use crate::binding::{binding_leaf, binding_witness};
        use crate::wots::{digits_of_be_bytes, WotsParams, WotsSecret};
        let sk = ClaimSecretKey::derive(&[7; 32], b"graph-a");
        let pk = sk.public_key();
        let c = claim(p2wsh(), 0x0123_4567_89ab_cdef);
        let w = sk.sign(&c).unwrap();
        let items = pk.field_witnesses(&w).unwrap();
        let messages = c.packed().unwrap();
        for (k, field_key) in pk.field_keys().iter().enumerate() {
            let asserted = WotsSecret::derive(&[2; 32], b"claim binding test", k as u32, WotsParams::for_bits(256));
            let leaf = binding_leaf(field_key, &asserted.public_key()).unwrap();
            let run = |be32: &[u8; 32]| {
                let sig = asserted.sign(&digits_of_be_bytes(be32, 64)).unwrap();
                let witness = binding_witness(field_key, items[k], &sig).unwrap();
                execute(&leaf, &witness, &ExecOptions::default())
            };
            let len = FIELD_MESSAGE_LENS[k];
            let mut equal = [0u8; 32];
            equal[32 - len..].copy_from_slice(&messages[k]);
            let r = run(&equal);
            assert!(r.outcome.is_ok() && !r.success(), "field {k}: equal value: {:?}", r.outcome);
            assert!(r.peak_items <= 1000, "field {k}: peak {}", r.peak_items);
            // Lowest byte, the field's highest byte, the byte just above the field, the top byte.
            for i in [31, 32 - len, 31 - len, 0] {
                let mut other = equal;
                other[i] ^= 0x10;
                let r = run(&other);
                assert!(r.success(), "field {k}: asserted byte {i} differs: {:?}", r.outcome);
            }
        }
    }

    fn claim_strategy() -> impl Strategy<Value = ClaimFields> {
        (any::<[u8; 32]>(), any::<u64>(), proptest::collection::vec(any::<u8>(), 1..=MAX_DESTINATION_LEN), any::<[u8; 32]>()).prop_map(
            |(t, sat, script, cp)| ClaimFields {
                payout_txid: Txid::from_byte_array(t),
                amount: Amount::from_sat(sat),
                destination: ScriptBuf::from_bytes(script),
                checkpoint: BlockHash::from_byte_array(cp),
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn packing_matches_the_statement_layout_and_round_trips(c in claim_strategy()) {
            let m = c.packed().unwrap();
            // Each message is its field's value as a big-endian integer (native oracle).
            for (k, (mk, xk)) in m.iter().zip(oracle_fields(&c)).enumerate() {
                prop_assert_eq!(mk.len(), FIELD_MESSAGE_LENS[k]);
                prop_assert_eq!(mk.iter().fold(0u128, |a, b| (a << 8) | *b as u128), xk);
            }
            prop_assert_eq!(ClaimFields::from_packed(&m).unwrap(), c);
        }

        #[test]
        fn only_canonical_messages_read_back(c in claim_strategy(), k in 0..CLAIM_FIELDS, i in 0..MAX_FIELD_MESSAGE_LEN, v in any::<u8>()) {
            // One byte of an honest claim's messages changed: either it is refused, or it is
            // another canonical claim that packs to exactly the changed messages (injective,
            // and nothing outside the packing's image is accepted).
            let honest = c.packed().unwrap();
            let mut m = honest.clone();
            m[k][i % FIELD_MESSAGE_LENS[k]] = v;
            match ClaimFields::from_packed(&m) {
                Ok(other) => {
                    prop_assert_eq!(other.packed().unwrap(), m.clone());
                    prop_assert_eq!(other == c, m == honest);
                }
                Err(_) => prop_assert!(m != honest),
            }
        }
    }
}
