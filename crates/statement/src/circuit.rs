//! The statement circuit (R1CS over BN254's scalar field).
//!
//! Public input: one scalar `x` (see [`crate::claim`]). Private: the claim encoding, the payout
//! transaction's txid serialization, its Merkle path, and `num_headers` block headers. Enforced:
//!
//! 1. `x == SHA-256(claim) mod 2^253`.
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
use ark_r1cs_std::convert::ToBitsGadget;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::uint8::UInt8;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

use crate::claim::{
    CLAIM_LEN, MAX_DEST_SCRIPT_LEN, OFF_AMOUNT, OFF_CHECKPOINT, OFF_PAYOUT_TXID, OFF_SCRIPT, OFF_SCRIPT_LEN,
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
        let p = &self.params;
        p.validate().map_err(|_| SynthesisError::Unsatisfiable)?;
        let w = self.witness.as_ref();
        let depth = p.merkle_depth;
        let n_headers = p.num_headers;

        // ---- private and public inputs ----
        let claim_enc = w.map(|w| w.claim.encode()).transpose().map_err(|_| SynthesisError::Unsatisfiable)?;
        let x_val = w.map(|w| w.claim.public_input()).transpose().map_err(|_| SynthesisError::Unsatisfiable)?;
        let x = FpVar::new_input(cs.clone(), || x_val.ok_or_else(missing))?;
        let claim = alloc_bytes(&cs, claim_enc.as_ref().map(|c| &c[..]), CLAIM_LEN)?;

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

        // ---- 1. public input binds the claim ----
        let digest = sha256(&claim)?;
        let mut bits = Vec::with_capacity(253);
        for byte in &digest {
            bits.extend(byte.to_bits_le()?);
        }
        bits.truncate(253);
        Boolean::le_bits_to_fp(&bits)?.enforce_equal(&x)?;

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
        let len_val = claim_enc.as_ref().map(|c| (c[OFF_SCRIPT_LEN] as usize).wrapping_sub(1)).ok_or_else(missing);
        let len_sel = one_hot(&cs, MAX_DEST_SCRIPT_LEN, len_val)?;
        script_len.enforce_equal(&weighted(&len_sel, |i| i as u64 + 1))?;
        for j in 0..MAX_DEST_SCRIPT_LEN {
            // byte j is compared iff len > j, i.e. len_sel[k] for k >= j
            let mask = len_sel[j..].iter().fold(FpVar::zero(), |a, b| a + FpVar::from(b.clone()));
            let diff = select_at(9 + j as isize)? - byte_fp(&claim[OFF_SCRIPT + j])?;
            mask.mul_equals(&diff, &FpVar::zero())?;
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
