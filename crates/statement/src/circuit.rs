//! The statement circuit (R1CS over BN254's scalar field).
//!
//! Public inputs: the 11 scalars `x0..x10` packing the claim fields (see [`crate::claim`] for
//! the normative order and packing). Private: the claim's field bytes, the payout transaction's
//! txid serialization, its Merkle path, and `num_headers` block headers. Enforced:
//!
//! 1. Each `x_i` equals its span of the claim's field bytes read little-endian (every byte is
//!    bit-decomposed, so each `x_i < 2^(8 * span)`); the destination length byte is in 1..=34
//!    and the padding after the script is zero, so the inputs are a canonical claim.
//! 2. The payout transaction hashes (double SHA-256, variable length with checked padding, at
//!    least 65 bytes so that no 64-byte inner Merkle node can pose as a transaction) to the
//!    claim's payout txid.
//! 3. It has 1..=`max_inputs` inputs, all with empty scriptSig, 1..=252 outputs, and its first
//!    output pays exactly the claim's amount to the claim's destination script.
//! 4. A Merkle path of depth 0..=`merkle_depth` from the txid reaches the Merkle root of the
//!    payout header.
//! 5. The headers form a chain: the first one's previous-block hash is the claim's checkpoint,
//!    each later one's is the double SHA-256 of the one before; each header's hash is at most
//!    its target decoded from nBits, and that target is at most `pow_limit`.
//! 6. The payout header is header number p (0-based) with `num_headers - p >= min_confirmations`.

use ark_bn254::Fr;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::uint8::UInt8;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

use crate::claim::{
    pack_fields, FIELDS_LEN, MAX_DEST_SCRIPT_LEN, NUM_PUBLIC_INPUTS, OFF_AMOUNT, OFF_CHECKPOINT, OFF_PAYOUT_TXID,
    OFF_SCRIPT, OFF_SCRIPT_LEN, PUBLIC_INPUT_SPANS,
};
use crate::gadgets::*;
use crate::params::StatementParams;
use crate::witness::StatementWitness;

/// Shortest payout transaction the circuit accepts (longer than a 64-byte Merkle node).
pub const MIN_TX_LEN: usize = 65;

/// Offset of the first output in a txid serialization with `n` inputs whose scriptSigs are
/// empty: version (4), input count (1), n * (outpoint 36 + scriptSig length 1 + sequence 4),
/// output count (1).
pub fn output_offset(n: usize) -> usize {
    6 + 41 * n
}

/// The circuit: parameters plus, when proving, the witness. `witness: None` is the shape used
/// for key generation.
#[derive(Debug, Clone)]
pub struct StatementCircuit {
    /// The circuit's shape.
    pub params: StatementParams,
    /// The private inputs (None during setup).
    pub witness: Option<StatementWitness>,
}

fn missing() -> SynthesisError {
    SynthesisError::AssignmentMissing
}

fn alloc_bytes(cs: &ConstraintSystemRef<Fr>, values: Option<&[u8]>, n: usize) -> Result<Vec<Byte>, SynthesisError> {
    let vals: Vec<Option<u8>> = match values {
        Some(v) => {
            assert_eq!(v.len(), n, "witness buffer length");
            v.iter().map(|b| Some(*b)).collect()
        }
        None => vec![None; n],
    };
    UInt8::new_witness_vec(cs.clone(), &vals)
}

/// Counts the constraints of the circuit for `params` (no witness, setup mode).
pub fn count_constraints(params: &StatementParams) -> Result<usize, SynthesisError> {
    let cs = ark_relations::gr1cs::ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(ark_relations::gr1cs::SynthesisMode::Setup);
    StatementCircuit { params: params.clone(), witness: None }.generate_constraints(cs.clone())?;
    cs.finalize();
    Ok(cs.num_constraints())
}

impl ConstraintSynthesizer<Fr> for StatementCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let fields = match &self.witness {
            Some(w) => Some(w.claim.field_bytes().map_err(|_| SynthesisError::Unsatisfiable)?),
            None => None,
        };
        self.synthesize(cs, fields)
    }
}

impl StatementCircuit {
    /// The constraints, with the claim's field bytes given separately from the witness (they
    /// come from `witness.claim`; tests pass non-canonical bytes to show the circuit refuses
    /// them). The public inputs are assigned by packing `fields`.
    fn synthesize(self, cs: ConstraintSystemRef<Fr>, fields: Option<[u8; FIELDS_LEN]>) -> Result<(), SynthesisError> {
        let p = &self.params;
        p.validate().map_err(|_| SynthesisError::Unsatisfiable)?;
        let w = self.witness.as_ref();
        let depth = p.merkle_depth;
        let n_headers = p.num_headers;

        // ---- public inputs and private inputs ----
        let x_val = fields.as_ref().map(pack_fields);
        let mut x = Vec::with_capacity(NUM_PUBLIC_INPUTS);
        for i in 0..NUM_PUBLIC_INPUTS {
            x.push(FpVar::new_input(cs.clone(), || x_val.map(|v| v[i]).ok_or_else(missing))?);
        }
        let claim = alloc_bytes(&cs, fields.as_ref().map(|c| &c[..]), FIELDS_LEN)?;

        let buf_len = 64 * p.max_tx_blocks;
        let tx_buf_val = w.map(|w| padded_tx(&w.tx_bytes, buf_len));
        let tx = alloc_bytes(&cs, tx_buf_val.as_deref(), buf_len)?;
        let tx_len = w.map(|w| w.tx_bytes.len()).ok_or_else(missing);

        let sib_val = w.map(|w| {
            let mut v = Vec::with_capacity(32 * depth);
            for l in 0..depth {
                v.extend_from_slice(w.merkle_siblings.get(l).unwrap_or(&[0u8; 32]));
            }
            v
        });
        let siblings = alloc_bytes(&cs, sib_val.as_deref(), 32 * depth)?;
        let mut index_bits = Vec::with_capacity(depth);
        for l in 0..depth {
            let bit = w.map(|w| (w.merkle_index >> l) & 1 == 1).ok_or_else(missing);
            index_bits.push(Boolean::new_witness(cs.clone(), || bit)?);
        }
        let depth_sel = one_hot(&cs, depth + 1, w.map(|w| w.merkle_siblings.len()).ok_or_else(missing))?;

        let hdr_val = w.map(|w| {
            let mut v = Vec::with_capacity(80 * n_headers);
            for h in &w.headers {
                v.extend_from_slice(&bitcoin::consensus::serialize(h));
            }
            v.resize(80 * n_headers, 0);
            v
        });
        let headers = alloc_bytes(&cs, hdr_val.as_deref(), 80 * n_headers)?;
        let positions = n_headers - p.min_confirmations + 1;
        let pos_sel = one_hot(&cs, positions, w.map(|w| w.payout_position).ok_or_else(missing))?;

        // ---- 1. the public inputs are the claim's field bytes (padding checked in step 3) ----
        for (xi, (off, len)) in x.iter().zip(PUBLIC_INPUT_SPANS) {
            le_bytes_fp(&claim[off..off + len])?.enforce_equal(xi)?;
        }

        // ---- 2. txid ----
        let inner = sha256_var(&cs, &tx, tx_len, MIN_TX_LEN)?;
        let txid = sha256(&inner)?;
        enforce_bytes_equal(&txid, &claim[OFF_PAYOUT_TXID..OFF_PAYOUT_TXID + 32])?;

        // ---- 3. first output pays the destination the amount ----
        let n_in_sel = one_hot(&cs, p.max_inputs, tx_len.and_then(|_| {
            let n = w.map(|w| w.tx_bytes.get(4).copied().unwrap_or(0) as usize).ok_or_else(missing)?;
            Ok(n.wrapping_sub(1))
        }))?;
        byte_fp(&tx[4])?.enforce_equal(&weighted(&n_in_sel, |i| i as u64 + 1))?;
        for i in 0..p.max_inputs {
            // input i exists iff n > i, i.e. n_in_sel[k] for k >= i; its scriptSig must be empty.
            let exists = n_in_sel[i..].iter().fold(FpVar::zero(), |a, b| a + FpVar::from(b.clone()));
            exists.mul_equals(&byte_fp(&tx[41 + 41 * i])?, &FpVar::zero())?;
        }
        let select_at = |rel: isize| -> Result<FpVar<Fr>, SynthesisError> {
            let vals = (1..=p.max_inputs)
                .map(|n| byte_fp(&tx[(output_offset(n) as isize + rel) as usize]))
                .collect::<Result<Vec<_>, _>>()?;
            select_fp(&n_in_sel, &vals)
        };
        // output count in 1..=252: c * (c-253) * (c-254) * (c-255) != 0
        let c = select_at(-1)?;
        let prod = &c
            * (&c - FpVar::constant(Fr::from(253u64)))
            * (&c - FpVar::constant(Fr::from(254u64)))
            * (&c - FpVar::constant(Fr::from(255u64)));
        let inv = FpVar::new_witness(cs.clone(), || {
            use ark_ff::Field;
            use ark_r1cs_std::GR1CSVar;
            Ok(prod.value()?.inverse().unwrap_or_default())
        })?;
        prod.mul_equals(&inv, &FpVar::one())?;
        for j in 0..8 {
            select_at(j as isize)?.enforce_equal(&byte_fp(&claim[OFF_AMOUNT + j])?)?;
        }
        let script_len = byte_fp(&claim[OFF_SCRIPT_LEN])?;
        select_at(8)?.enforce_equal(&script_len)?;
        let len_val = fields.as_ref().map(|c| (c[OFF_SCRIPT_LEN] as usize).wrapping_sub(1)).ok_or_else(missing);
        let len_sel = one_hot(&cs, MAX_DEST_SCRIPT_LEN, len_val)?;
        script_len.enforce_equal(&weighted(&len_sel, |i| i as u64 + 1))?;
        for j in 0..MAX_DEST_SCRIPT_LEN {
            // byte j is compared iff len > j, i.e. len_sel[k] for k >= j
            let mask = len_sel[j..].iter().fold(FpVar::zero(), |a, b| a + FpVar::from(b.clone()));
            let claimed = byte_fp(&claim[OFF_SCRIPT + j])?;
            let diff = select_at(9 + j as isize)? - &claimed;
            mask.mul_equals(&diff, &FpVar::zero())?;
            // beyond the script the claimed bytes are zero padding (canonical public inputs)
            (FpVar::one() - &mask).mul_equals(&claimed, &FpVar::zero())?;
        }

        // ---- 4. Merkle path ----
        let mut cur = txid.clone();
        let mut roots = vec![cur.clone()];
        for l in 0..depth {
            let sib = &siblings[32 * l..32 * l + 32];
            let left = select_bytes(&index_bits[l], sib, &cur)?;
            let right = select_bytes(&index_bits[l], &cur, sib)?;
            let mut node = left;
            node.extend(right);
            cur = hash256(&node)?;
            roots.push(cur.clone());
        }
        let root_fp: Vec<FpVar<Fr>> = (0..32)
            .map(|j| {
                let vals = roots.iter().map(|r| byte_fp(&r[j])).collect::<Result<Vec<_>, _>>()?;
                select_fp(&depth_sel, &vals)
            })
            .collect::<Result<_, _>>()?;

        // ---- 5. header chain with valid work ----
        let pow_limit: Vec<FpVar<Fr>> =
            p.pow_limit.iter().map(|b| FpVar::constant(Fr::from(*b as u64))).collect();
        let pow_limit = limbs_from_fp_bytes(&pow_limit);
        let mut prev: Vec<Byte> = claim[OFF_CHECKPOINT..OFF_CHECKPOINT + 32].to_vec();
        for h in 0..n_headers {
            let hdr = &headers[80 * h..80 * h + 80];
            enforce_bytes_equal(&hdr[4..36], &prev)?;
            let hash = hash256(hdr)?;
            let target = decode_compact(&cs, &hdr[72..76])?;
            let target = limbs_from_fp_bytes(&target);
            le_u256_leq(&cs, &limbs_from_bytes(&hash)?, &target)?.enforce_equal(&Boolean::TRUE)?;
            le_u256_leq(&cs, &target, &pow_limit)?.enforce_equal(&Boolean::TRUE)?;
            prev = hash;
        }

        // ---- 6. payout block is deep enough and holds the Merkle root ----
        for j in 0..32 {
            let vals = (0..positions)
                .map(|pos| byte_fp(&headers[80 * pos + 36 + j]))
                .collect::<Result<Vec<_>, _>>()?;
            select_fp(&pos_sel, &vals)?.enforce_equal(&root_fp[j])?;
        }
        Ok(())
    }
}

/// The transaction followed by SHA-256 padding, zero-filled to `buf_len` (or truncated to it if
/// the transaction is too long, which then cannot satisfy the circuit).
pub fn padded_tx(tx: &[u8], buf_len: usize) -> Vec<u8> {
    let mut v = tx.to_vec();
    v.push(0x80);
    while v.len() % 64 != 56 {
        v.push(0);
    }
    v.extend_from_slice(&((tx.len() as u64) * 8).to_be_bytes());
    v.resize(buf_len, 0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{self, relink};
    use crate::StatementError;
    use ark_relations::gr1cs::ConstraintSystem;
    use bitcoin::hashes::Hash;
    use bitcoin::{Amount, BlockHash, CompactTarget, ScriptBuf};

    /// Two headers after the checkpoint, payout needs both: small enough for quick checks.
    fn params() -> StatementParams {
        StatementParams { num_headers: 2, min_confirmations: 2, ..StatementParams::regtest() }
    }

    /// Whether the circuit is satisfied by `w` (no native pre-check).
    fn satisfied(p: &StatementParams, w: &StatementWitness) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        match (StatementCircuit { params: p.clone(), witness: Some(w.clone()) }).generate_constraints(cs.clone()) {
            Ok(()) => cs.is_satisfied().unwrap(),
            Err(SynthesisError::Unsatisfiable) => false,
            Err(e) => panic!("synthesis failed: {e}"),
        }
    }

    /// Whether the circuit is satisfied when its claim bytes are `fields` instead of the
    /// canonical bytes of `w.claim` (the public inputs are packed from `fields`).
    fn satisfied_with_fields(p: &StatementParams, w: &StatementWitness, fields: [u8; FIELDS_LEN]) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        (StatementCircuit { params: p.clone(), witness: Some(w.clone()) }).synthesize(cs.clone(), Some(fields)).unwrap();
        cs.is_satisfied().unwrap()
    }

    #[test]
    fn good_witness_satisfies_and_public_inputs_are_the_claim_fields() {
        let p = params();
        let (w, _, _) = fixture::synthetic(&p);
        let cs = ConstraintSystem::<Fr>::new_ref();
        StatementCircuit { params: p.clone(), witness: Some(w.clone()) }.generate_constraints(cs.clone()).unwrap();
        assert!(cs.is_satisfied().unwrap());
        // the public inputs (after the constant 1) are exactly x0..x10, in order
        let inputs = cs.instance_assignment().unwrap();
        assert_eq!(inputs.len(), 1 + NUM_PUBLIC_INPUTS);
        assert_eq!(inputs[1..], w.claim.public_inputs().unwrap()[..]);
        assert_eq!(crate::Claim::from_public_inputs(&inputs[1..]).unwrap(), w.claim);
    }

    #[test]
    fn non_canonical_claim_bytes_are_unsatisfiable() {
        let p = params();
        let (w, _, _) = fixture::synthetic(&p);
        let good = w.claim.field_bytes().unwrap();
        assert!(satisfied_with_fields(&p, &w, good));
        // A 34-byte destination has no padding: use a payout to a 22-byte P2WPKH script.
        let dest = ScriptBuf::from_bytes([&[0x00, 0x14][..], &[0x33; 20]].concat());
        let tx = fixture::payout_tx(dest.clone(), w.claim.amount);
        let (short, _, _) = fixture::synthetic_with(&p, &tx);
        let good = short.claim.field_bytes().unwrap();
        assert!(satisfied_with_fields(&p, &short, good));
        for j in [22usize, 23, 33] {
            // non-zero padding byte after a 22-byte script: the tx still matches bytes 0..22
            let mut bad = good;
            bad[OFF_SCRIPT + j] = 1;
            assert!(!satisfied_with_fields(&p, &short, bad), "padding byte {j}");
        }
        // length byte 0 or 35..: no one-hot choice exists
        for len in [0u8, 35, 255] {
            let mut bad = good;
            bad[OFF_SCRIPT_LEN] = len;
            assert!(!satisfied_with_fields(&p, &short, bad), "length {len}");
        }
    }

    #[test]
    fn wrong_amount_is_rejected() {
        let p = params();
        let (mut w, _, _) = fixture::synthetic(&p);
        w.claim.amount += Amount::from_sat(1);
        assert!(matches!(w.check(&p), Err(StatementError::OutputMismatch("amount"))));
        assert!(!satisfied(&p, &w));
    }

    #[test]
    fn wrong_destination_is_rejected() {
        let p = params();
        let (w, _, _) = fixture::synthetic(&p);
        let mut other = w.claim.destination.to_bytes();
        other[33] ^= 1; // last byte of the P2TR key
        let shorter = ScriptBuf::from_bytes(other[..22].to_vec()); // a P2WPKH-length prefix
        for dest in [ScriptBuf::from_bytes(other), shorter] {
            let mut bad = w.clone();
            bad.claim.destination = dest;
            assert!(matches!(bad.check(&p), Err(StatementError::OutputMismatch("destination"))));
            assert!(!satisfied(&p, &bad));
        }
    }

    #[test]
    fn tx_not_in_block_is_rejected() {
        let p = params();
        let (w, _, _) = fixture::synthetic(&p);
        // a wrong sibling
        let mut bad = w.clone();
        bad.merkle_siblings[0][0] ^= 1;
        assert!(matches!(bad.check(&p), Err(StatementError::TxNotInBlock)));
        assert!(!satisfied(&p, &bad));
        // a different payout transaction (claim updated to its txid) that no block holds
        let mut bad = w.clone();
        let tx = fixture::payout_tx(w.claim.destination.clone(), w.claim.amount);
        let mut tx2 = tx.clone();
        tx2.lock_time = bitcoin::absolute::LockTime::from_consensus(1);
        bad.tx_bytes = crate::witness::txid_bytes(&tx2);
        bad.claim.payout_txid = tx2.compute_txid();
        assert!(matches!(bad.check(&p), Err(StatementError::TxNotInBlock)));
        assert!(!satisfied(&p, &bad));
        // the right transaction, but the claim points at the next block
        let mut bad = w.clone();
        bad.payout_position = 1;
        assert!(!satisfied(&StatementParams { min_confirmations: 1, ..p.clone() }, &bad));
    }

    #[test]
    fn tampered_tx_bytes_are_rejected() {
        let p = params();
        let (mut w, _, _) = fixture::synthetic(&p);
        let o = output_offset(1);
        w.tx_bytes[o] ^= 1; // amount in the tx, claim unchanged: txid no longer matches
        assert!(matches!(w.check(&p), Err(StatementError::TxidMismatch)));
        assert!(!satisfied(&p, &w));
    }

    #[test]
    fn header_chain_with_bad_work_is_rejected() {
        let p = params();
        let (w, _, _) = fixture::synthetic(&p);
        // header 1 claims mainnet difficulty but was ground only to regtest's target
        let mut bad = w.clone();
        bad.headers[1].bits = CompactTarget::from_consensus(0x1d00_ffff);
        assert!(matches!(bad.check(&p), Err(StatementError::BadWork(1))));
        assert!(!satisfied(&p, &bad));
        // header 0's hash above its target: find a nonce that fails, then relink header 1
        let mut bad = w.clone();
        let target = crate::witness::compact_target_le(fixture::REGTEST_BITS).unwrap();
        while crate::witness::le_u256_leq_native(&bad.headers[0].block_hash().to_byte_array(), &target) {
            bad.headers[0].nonce += 1;
        }
        relink(&mut bad.headers, 1);
        assert!(matches!(bad.check(&p), Err(StatementError::BadWork(0))));
        assert!(!satisfied(&p, &bad));
        // a valid hash, but for a target easier than the network's limit
        let strict = StatementParams { pow_limit: crate::witness::compact_target_le(0x1d00_ffff).unwrap(), ..p.clone() };
        assert!(matches!(w.check(&strict), Err(StatementError::BadWork(0))));
        assert!(!satisfied(&strict, &w));
        // a broken link
        let mut bad = w.clone();
        bad.headers[1].prev_blockhash = BlockHash::all_zeros();
        bad.headers[1] = fixture::grind(bad.headers[1]);
        assert!(matches!(bad.check(&p), Err(StatementError::ChainBroken(1))));
        assert!(!satisfied(&p, &bad));
    }

    #[test]
    fn too_few_confirmations_is_rejected() {
        let p = params();
        let (w, block, _) = fixture::synthetic(&p);
        // chain: [an empty block on the checkpoint, the payout block]: 1 confirmation
        let mut first = fixture::next_header(w.claim.checkpoint, bitcoin::TxMerkleNode::all_zeros(), 1);
        first = fixture::grind(first);
        let mut payout = block.header;
        payout.prev_blockhash = first.block_hash();
        let payout = fixture::grind(payout);
        let mut bad = w.clone();
        bad.headers = vec![first, payout];
        bad.payout_position = 1;
        assert!(matches!(bad.check(&p), Err(StatementError::TooFewConfirmations { got: 1, want: 2 })));
        assert!(!satisfied(&p, &bad));
        // the same witness is fine when one confirmation suffices: the failure is the depth
        let one = StatementParams { min_confirmations: 1, ..p.clone() };
        bad.check(&one).unwrap();
        assert!(satisfied(&one, &bad));
    }

    #[test]
    fn different_checkpoint_is_rejected() {
        let p = params();
        let (mut w, _, _) = fixture::synthetic(&p);
        w.claim.checkpoint = BlockHash::from_byte_array([9; 32]);
        assert!(matches!(w.check(&p), Err(StatementError::ChainBroken(0))));
        assert!(!satisfied(&p, &w));
    }

    #[test]
    fn oversized_or_tiny_params_are_refused() {
        let mut p = params();
        p.max_tx_blocks = 1;
        assert!(p.validate().is_err());
        let mut p = params();
        p.max_inputs = 4; // first output of a 4-input tx does not fit 3 blocks
        assert!(p.validate().is_err());
        let mut p = params();
        p.min_confirmations = 3;
        assert!(p.validate().is_err());
        assert_ne!(params().id(), StatementParams::regtest().id(), "ids follow the parameters");
    }
}
