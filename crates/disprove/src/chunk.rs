//! The chunker: group consecutive operations into steps (one disprove leaf each) under a
//! weight and stack limit, planned with a cost model measured from the gadgets.
//!
//! The model ([`CostModel::measure`]) runs every gadget once in the executor to learn its
//! script bytes and working stack, and prices a candidate step additively: signature checks
//! and digit regrouping per leaf value, canonical checks per input, the operations and their
//! operand copies, comparisons and cleanup, the witness (signatures and hints) and the
//! spending transaction around it. The chunker extends each step greedily while the
//! estimated spending weight and peak stack stay within the limits (for contiguous steps with
//! monotone cost, greedy gives the fewest steps). The leaves that are then generated are
//! measured exactly ([`crate::setup`]); tests check the estimate never undershoots.
//! [`ChunkLimits::encoding`] chooses how leaves read the signatures; the model measures every
//! value kind under both encodings ([`KindCost::figures`]).

use std::ops::Range;

use bitvm2_script::builder::Fragment;
use bitvm2_script::exec::{execute, ExecOptions};
use serde::{Deserialize, Serialize};

use crate::leaf::{digest_items, hash_to_digest, WorkingSpace};
use crate::program::{field, CommitMode, Operand, Program, ValueId, ValueKind};
use crate::wots::{leaf_verify_script, verify_script, LeafEncoding, WotsParams, WotsSecret};

/// One step: a contiguous range of operations, with the committed values it reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The operations.
    pub ops: Range<usize>,
    /// Committed values read (produced before the step, or program inputs), ascending.
    pub inputs: Vec<ValueId>,
    /// Committed values produced here and read by later steps, ascending.
    pub outputs: Vec<ValueId>,
    /// Indices into [`Program::claims`] of the claimed values produced here.
    pub claims: Vec<usize>,
}

impl Step {
    /// The values whose signatures the leaf checks: inputs then outputs.
    pub fn leaf_values(&self) -> Vec<ValueId> {
        self.inputs.iter().chain(&self.outputs).copied().collect()
    }

    /// The step made of operations `ops` of `prog`.
    pub fn of_range(prog: &Program, ops: Range<usize>) -> Step {
        let produced: Vec<ValueId> = prog.ops[ops.clone()].iter().map(|n| n.out).collect();
        let mut inputs: Vec<ValueId> = prog.ops[ops.clone()]
            .iter()
            .flat_map(|n| n.args.iter())
            .filter_map(|a| match a {
                Operand::Value(v) if !produced.contains(v) => Some(*v),
                _ => None,
            })
            .collect();
        inputs.sort_unstable();
        inputs.dedup();
        let outputs: Vec<ValueId> = produced
            .iter()
            .copied()
            .filter(|v| prog.ops[ops.end..].iter().any(|n| n.args.contains(&Operand::Value(*v))))
            .collect();
        let claims = (0..prog.claims.len()).filter(|&c| produced.contains(&prog.claims[c].0)).collect();
        Step { ops, inputs, outputs, claims }
    }
}

/// Why chunking failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Even a step of one operation exceeds the limits.
    #[error("op {op} ({name}) alone needs ~{weight} WU and ~{stack} stack items; limits are {max_weight} WU, {max_stack} items")]
    OpTooLarge { op: usize, name: String, weight: usize, stack: usize, max_weight: usize, max_stack: usize },
    /// A step would have nothing to check.
    #[error("step of ops {0:?} has no committed output and no claim")]
    NothingToCheck(Range<usize>),
    /// Measuring a gadget failed (a script bug, not a limit).
    #[error("measuring {what}: {reason}")]
    Measure { what: String, reason: String },
    /// The program is malformed.
    #[error(transparent)]
    Program(#[from] crate::program::ProgramError),
}

/// Size of a Bitcoin compact-size integer.
pub fn varint_len(n: usize) -> usize {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x10000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// The transaction that spends a disprove leaf, minus the leaf's own witness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendShape {
    /// Weight of everything but the leaf input's witness (version, locktime, counts, all
    /// inputs' non-witness parts, outputs, segwit marker, other inputs' witnesses).
    pub base_weight: usize,
    /// Depth of the leaf in the taproot tree (control block = 33 + 32 * depth).
    pub tree_depth: usize,
}

impl SpendShape {
    /// The Disprove transaction of the reference graph: 2 inputs (this leaf; the stake, key
    /// path with a 64-byte signature), 3 outputs (disprover reward P2TR, burn P2TR, P2A
    /// anchor). Non-witness 10 + 2*41 + (43 + 43 + 13) = 191 bytes -> 764 WU, + 2 (marker,
    /// flag) + 66 (stake witness) = 832 WU.
    pub fn disprove_tx(leaves: usize) -> Self {
        Self::for_tree(DISPROVE_BASE_WEIGHT, leaves + 1)
    }

    /// A spend of one leaf of a tree of `tree_leaves` leaves with `base_weight` around it.
    pub fn for_tree(base_weight: usize, tree_leaves: usize) -> Self {
        SpendShape { base_weight, tree_depth: tree_depth(tree_leaves) }
    }

    /// Control block size.
    pub fn control_block_len(&self) -> usize {
        33 + 32 * self.tree_depth
    }

    /// Weight of the spending transaction for a leaf of `script_len` bytes and witness item
    /// sizes `items` (the control block is added here).
    pub fn weight(&self, script_len: usize, items: impl IntoIterator<Item = usize>) -> usize {
        let mut n = 2;
        let mut w = 0;
        for len in items {
            n += 1;
            w += varint_len(len) + len;
        }
        let cb = self.control_block_len();
        self.base_weight + varint_len(n) + w + varint_len(script_len) + script_len + varint_len(cb) + cb
    }
}

/// Weight of the reference Disprove transaction without the leaf input's witness (see
/// [`SpendShape::disprove_tx`]).
pub const DISPROVE_BASE_WEIGHT: usize = 832;

/// Depth of a balanced taproot tree with `leaves` leaves.
pub fn tree_depth(leaves: usize) -> usize {
    let mut d = 0;
    while (1usize << d) < leaves {
        d += 1;
    }
    d
}

/// Limits a step must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkLimits {
    /// Largest weight of the transaction spending a leaf (standard: 400,000).
    pub max_spend_weight: usize,
    /// Largest stack + altstack item count (consensus: 1000).
    pub max_stack: usize,
    /// At most this many operations per step (to explore the trade-off; `usize::MAX` = none).
    pub max_ops_per_step: usize,
    /// Weight of the spending (Disprove) transaction without the leaf input's witness:
    /// set it to the transaction graph's real shape ([`DISPROVE_BASE_WEIGHT`] by default).
    pub spend_base_weight: usize,
    /// Leaves of the same taproot tree besides the disprove leaves (timeouts, ...): they
    /// deepen the control block.
    pub other_leaves: usize,
    /// How leaves take the signatures from their witness (standard by default; the compact
    /// encoding needs about 43% fewer items per value).
    #[serde(default)]
    pub encoding: LeafEncoding,
}

impl ChunkLimits {
    /// The spending transaction's shape for a tree holding `disprove_leaves` disprove leaves.
    pub fn spend_shape(&self, disprove_leaves: usize) -> SpendShape {
        SpendShape::for_tree(self.spend_base_weight, disprove_leaves + self.other_leaves)
    }
}

impl Default for ChunkLimits {
    fn default() -> Self {
        ChunkLimits {
            max_spend_weight: 400_000,
            max_stack: 1000,
            max_ops_per_step: usize::MAX,
            spend_base_weight: DISPROVE_BASE_WEIGHT,
            other_leaves: 1,
            encoding: LeafEncoding::Standard,
        }
    }
}

/// Measured cost of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpCost {
    /// Script bytes.
    pub script_bytes: usize,
    /// Hint items it takes from the witness.
    pub hint_items: usize,
    /// Serialized hint bytes (items with their length prefixes), measured on a sample.
    pub hint_bytes: usize,
    /// Peak items while it runs minus its hints and operands.
    pub working_items: usize,
}

/// Measured cost of committing one kind of value, per leaf that touches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCost {
    /// The kind.
    pub kind: ValueKind,
    /// Winternitz parameters of its commitment.
    pub wots: WotsParams,
    /// Script bytes of: verify the signature, regroup digits to limbs (direct), park.
    pub check_bytes: usize,
    /// Working items of that beyond the signature's own items.
    pub check_working: usize,
    /// Largest serialized signature (items with length prefixes).
    pub witness_bytes: usize,
    /// Script bytes of hashing the value (0 for direct commitments).
    pub hash_bytes: usize,
    /// Working items of the hash beyond its input.
    pub hash_working: usize,
    /// The figures under [`LeafEncoding::Compact`] (`None` in models saved before it existed).
    #[serde(default)]
    pub compact: Option<CheckFigures>,
}

/// What one leaf value costs under one signature encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckFigures {
    /// Script bytes of: verify the signature, regroup to limbs if needed, park.
    pub check_bytes: usize,
    /// Working items of that beyond the signature's own items.
    pub check_working: usize,
    /// Witness items of the signature.
    pub witness_items: usize,
    /// Largest serialized signature (items with length prefixes).
    pub witness_bytes: usize,
    /// Items of a digest in the leaf (0 for direct commitments).
    pub digest_items: usize,
    /// Script bytes of hashing the value into that form (0 for direct commitments).
    pub hash_bytes: usize,
    /// Working items of the hash beyond its input.
    pub hash_working: usize,
}

/// Script bytes and working items of `check` run on `items`.
fn measure_check(kind: ValueKind, check: &Fragment, items: &[Vec<u8>]) -> Result<(usize, usize), ChunkError> {
    let r = execute(&check.to_script(), items, &ExecOptions::default());
    r.outcome.map_err(|e| ChunkError::Measure { what: format!("signature check of {kind:?}"), reason: e.to_string() })?;
    Ok((check.len(), r.peak_items.saturating_sub(items.len())))
}

/// Script bytes and working items of the hash of a hash-committed value into its leaf form.
fn measure_hash(kind: ValueKind, enc: LeafEncoding) -> Result<(usize, usize), ChunkError> {
    if kind.commit == CommitMode::Direct {
        return Ok((0, 0));
    }
    let h = hash_to_digest(kind, enc);
    let input = crate::program::val_stack(&vec![crate::programs::fq_from_label("cost-model", 1); kind.elems]);
    let r = execute(&h.to_script(), &input, &ExecOptions::default());
    r.outcome.map_err(|e| ChunkError::Measure { what: format!("hash of {kind:?}"), reason: e.to_string() })?;
    Ok((h.len(), r.peak_items.saturating_sub(input.len())))
}

impl KindCost {
    /// The figures under `enc`. Panics for [`LeafEncoding::Compact`] on a model without them
    /// (saved before they existed): measure it again.
    pub fn figures(&self, enc: LeafEncoding) -> CheckFigures {
        match enc {
            LeafEncoding::Standard => CheckFigures {
                check_bytes: self.check_bytes,
                check_working: self.check_working,
                witness_items: self.wots.witness_items(),
                witness_bytes: self.witness_bytes,
                digest_items: digest_items(self.kind, enc),
                hash_bytes: self.hash_bytes,
                hash_working: self.hash_working,
            },
            LeafEncoding::Compact => self.compact.expect("cost model measured with the compact encoding"),
        }
    }

    /// Measure the compact encoding's figures of a kind.
    fn measure_compact(kind: ValueKind) -> Result<CheckFigures, ChunkError> {
        let enc = LeafEncoding::Compact;
        let wots = kind.wots_params();
        let sk = WotsSecret::derive(&[0; 32], b"cost-model", 0, wots);
        let pk = sk.public_key();
        let sig = sk.sign(&vec![0xf; wots.msg_digits]).expect("digits in range");
        let parked = match kind.commit {
            CommitMode::Direct => kind.limbs(),
            CommitMode::Hash { .. } => digest_items(kind, enc),
        };
        let check = (0..parked)
            .fold(leaf_verify_script(&pk, enc, kind.commit), |f, _| f.op(bitcoin::opcodes::all::OP_TOALTSTACK));
        let items = sig
            .to_leaf_witness(wots, enc, kind.commit)
            .map_err(|e| ChunkError::Measure { what: format!("compact witness of {kind:?}"), reason: e.to_string() })?;
        let (check_bytes, check_working) = measure_check(kind, &check, &items)?;
        let (hash_bytes, hash_working) = measure_hash(kind, enc)?;
        Ok(CheckFigures {
            check_bytes,
            check_working,
            witness_items: wots.leaf_witness_items(enc, kind.commit),
            witness_bytes: wots.leaf_witness_bytes(enc, kind.commit),
            digest_items: digest_items(kind, enc),
            hash_bytes,
            hash_working,
        })
    }

    /// Measure a kind (executes the signature check and the hash once).
    pub fn measure(kind: ValueKind) -> Result<KindCost, ChunkError> {
        let fld = field();
        let limbs = fld.layout().limbs();
        let wots = kind.wots_params();
        let sk = WotsSecret::derive(&[0; 32], b"cost-model", 0, wots);
        let pk = sk.public_key();
        let sig = sk.sign(&vec![0xf; wots.msg_digits]).expect("digits in range");
        let mut check = verify_script(&pk);
        if kind.commit == CommitMode::Direct {
            for _ in 0..kind.elems {
                check = check.append(&bitvm2_script::arith::nibbles_to_limbs(&ValueKind::decode_layout()));
                check = (0..limbs).fold(check, |f, _| f.op(bitcoin::opcodes::all::OP_TOALTSTACK));
            }
        }
        let items = sig.to_witness();
        let r = execute(&check.to_script(), &items, &ExecOptions::default());
        r.outcome.map_err(|e| ChunkError::Measure { what: format!("signature check of {kind:?}"), reason: e.to_string() })?;
        let (mut hash_bytes, mut hash_working) = (0, 0);
        if let CommitMode::Hash { bytes } = kind.commit {
            let h = crate::leaf::hash_value(kind.elems, bytes);
            let input = crate::program::val_stack(&vec![crate::programs::fq_from_label("cost-model", 1); kind.elems]);
            let r = execute(&h.to_script(), &input, &ExecOptions::default());
            r.outcome.map_err(|e| ChunkError::Measure { what: format!("hash of {kind:?}"), reason: e.to_string() })?;
            hash_bytes = h.len();
            hash_working = r.peak_items.saturating_sub(input.len());
        }
        Ok(KindCost {
            kind,
            wots,
            check_bytes: check.len(),
            check_working: r.peak_items.saturating_sub(items.len()),
            witness_bytes: wots.max_witness_bytes(),
            hash_bytes,
            hash_working,
            compact: Some(Self::measure_compact(kind)?),
        })
    }
}

/// The gadget measurements the chunker plans with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostModel {
    /// Limbs of a field element.
    pub limbs: usize,
    /// Per value kind used by the program.
    pub kinds: Vec<KindCost>,
    /// Script bytes of one canonical check of an element (copy, push p, compare, combine).
    pub canonical_bytes: usize,
    /// Per operation (same order as the program's ops).
    pub ops: Vec<OpCost>,
}

impl CostModel {
    /// Measure every gadget the program uses (each distinct op name and value kind is
    /// executed once).
    pub fn measure(prog: &Program) -> Result<CostModel, ChunkError> {
        prog.validate()?;
        let fld = field();
        let limbs = fld.layout().limbs();
        let mut kinds: Vec<KindCost> = Vec::new();
        for v in &prog.values {
            if !kinds.iter().any(|k| k.kind == v.kind) {
                kinds.push(KindCost::measure(v.kind)?);
            }
        }
        let lt = bitvm2_script::arith::Layout::less_than(&ValueKind::decode_layout()).len();
        let canonical_bytes = 3 * limbs + 6 * limbs + lt + 1;
        let mut cache: Vec<(String, OpCost)> = Vec::new();
        let mut ops = Vec::with_capacity(prog.ops.len());
        let sample_inputs: Vec<_> = prog
            .inputs
            .iter()
            .map(|&i| vec![crate::programs::fq_from_label("cost-model", 0); prog.values[i].kind.elems])
            .collect();
        let sample = prog.evaluate(&sample_inputs)?;
        for (i, node) in prog.ops.iter().enumerate() {
            let name = node.op.name();
            let script = node.op.script();
            if let Some((_, c)) = cache.iter().find(|(n, _)| *n == name) {
                ops.push(OpCost { script_bytes: script.len(), ..*c });
                continue;
            }
            let args = prog.operands(node, &sample);
            let stack = crate::programs::op_stack(node.op.as_ref(), &args);
            let hints = node.op.hints(&args);
            let r = execute(&script.to_script(), &stack, &ExecOptions::default());
            r.outcome.map_err(|e| ChunkError::Measure { what: format!("op {i} ({name})"), reason: e.to_string() })?;
            let c = OpCost {
                script_bytes: script.len(),
                hint_items: hints.len(),
                hint_bytes: hints.iter().map(|h| varint_len(h.len()) + h.len()).sum(),
                working_items: r.peak_items.saturating_sub(stack.len()),
            };
            cache.push((name, c));
            ops.push(c);
        }
        Ok(CostModel { limbs, kinds, canonical_bytes, ops })
    }

    /// The measurements of a kind.
    pub fn kind(&self, kind: ValueKind) -> &KindCost {
        self.kinds.iter().find(|k| k.kind == kind).expect("every kind of the program is measured")
    }

    /// Working space figures for the leaf generator (standard encoding).
    pub fn working_space(&self) -> WorkingSpace {
        self.working_space_for(LeafEncoding::Standard)
    }

    /// Working space figures for the leaf generator under `enc`.
    pub fn working_space_for(&self, enc: LeafEncoding) -> WorkingSpace {
        WorkingSpace {
            per_value_check: self.kinds.iter().map(|k| k.figures(enc).check_working).max().unwrap_or(0),
            per_op: self.ops.iter().map(|c| c.working_items).max().unwrap_or(0),
            per_hash: self.kinds.iter().map(|k| k.figures(enc).hash_working).max().unwrap_or(0),
        }
    }

    /// Estimate a step under the standard encoding: script bytes, witness items and bytes,
    /// peak stack items.
    pub fn estimate(&self, prog: &Program, step: &Step) -> Estimate {
        self.estimate_for(prog, step, LeafEncoding::Standard)
    }

    /// Estimate a step whose leaf takes the signatures under `enc`.
    pub fn estimate_for(&self, prog: &Program, step: &Step, enc: LeafEncoding) -> Estimate {
        let l = self.limbs;
        let ops = &self.ops[step.ops.clone()];
        let kind = |v: &ValueId| self.kind(prog.values[*v].kind);
        let fig = |v: &ValueId| kind(v).figures(enc);
        let mut script = 16;
        let mut witness_items = 0;
        let mut witness_bytes = 0;
        let mut value_items = 0; // items of committed values/digests after phase 1
        let mut preimage_items = 0;
        let mut hash_work = 0;
        for v in step.leaf_values() {
            let (k, f) = (kind(&v), fig(&v));
            // + FROMALTSTACK (the standard figure counts a direct value's digits, an upper bound)
            script += f.check_bytes
                + match enc {
                    LeafEncoding::Standard => k.kind.limbs().max(2 * k.kind.committed_len()),
                    LeafEncoding::Compact => k.kind.limbs().max(f.digest_items),
                };
            witness_items += f.witness_items;
            witness_bytes += f.witness_bytes;
            value_items += match k.kind.commit {
                CommitMode::Direct => k.kind.limbs(),
                CommitMode::Hash { .. } => f.digest_items,
            };
        }
        for v in &step.inputs {
            let (k, f) = (kind(v), fig(v));
            script += k.kind.elems * self.canonical_bytes;
            if let CommitMode::Hash { .. } = k.kind.commit {
                // preimage in the witness (limbs <= 5 bytes each), copy, hash, compare
                preimage_items += k.kind.limbs();
                witness_bytes += 5 * k.kind.limbs();
                script += 3 * k.kind.limbs() + f.hash_bytes + 4 * f.digest_items;
                hash_work = hash_work.max(f.hash_working + k.kind.limbs());
            }
        }
        for v in &step.outputs {
            let (k, f) = (kind(v), fig(v));
            script += 3 * k.kind.limbs() + 1;
            // copies (<= 3 bytes per item) and equal_items (<= 7 bytes per item)
            script += match k.kind.commit {
                CommitMode::Direct => 3 * k.kind.limbs() + 7 * k.kind.limbs(),
                CommitMode::Hash { .. } => {
                    hash_work = hash_work.max(f.hash_working + k.kind.limbs());
                    f.hash_bytes + 3 * f.digest_items + 7 * f.digest_items
                }
            };
        }
        for c in &step.claims {
            let n = prog.claims[*c].1.len() * l;
            script += 3 * n + 6 * n + 7 * n + 1;
        }
        let arg_items: usize = prog.ops[step.ops.clone()]
            .iter()
            .flat_map(|n| n.op.input_elems())
            .map(|e| e * l)
            .sum();
        let out_items: usize = prog.ops[step.ops.clone()].iter().map(|n| n.op.output_elems() * l).sum();
        let hint_items: usize = ops.iter().map(|c| c.hint_items).sum();
        script += ops.iter().map(|c| c.script_bytes).sum::<usize>()
            + arg_items * 6 // operand copies or constant pushes
            + hint_items * 3 // hint rolls
            + out_items * 4 // dead-value drops
            + (value_items + preimage_items + out_items + hint_items); // cleanup, both branches
        witness_items += hint_items + preimage_items;
        witness_bytes += ops.iter().map(|c| c.hint_bytes).sum::<usize>();
        let check_work = step.leaf_values().iter().map(|v| fig(v).check_working).max().unwrap_or(0);
        let verify_peak = witness_items + check_work;
        let max_out = prog.ops[step.ops.clone()].iter().map(|n| n.op.output_elems() * l).max().unwrap_or(0);
        let op_peak = arg_items.min(3 * max_out.max(l)) + ops.iter().map(|c| c.working_items).max().unwrap_or(0);
        let compute_peak = hint_items + preimage_items + value_items + 3 * max_out + op_peak.max(hash_work) + 2;
        Estimate { script_bytes: script, witness_items, witness_bytes, peak_stack: verify_peak.max(compute_peak) }
    }
}

/// A priced step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Estimate {
    /// Leaf script bytes.
    pub script_bytes: usize,
    /// Witness items (hints + signatures).
    pub witness_items: usize,
    /// Serialized witness bytes of those items (with length prefixes).
    pub witness_bytes: usize,
    /// Peak stack + altstack items.
    pub peak_stack: usize,
}

impl Estimate {
    /// Weight of the spending transaction.
    pub fn spend_weight(&self, shape: &SpendShape) -> usize {
        let cb = shape.control_block_len();
        shape.base_weight
            + varint_len(self.witness_items + 2)
            + self.witness_bytes
            + varint_len(self.script_bytes)
            + self.script_bytes
            + varint_len(cb)
            + cb
    }
}

/// A chunked program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Steps in order; leaf `i` disproves step `i`.
    pub steps: Vec<Step>,
    /// Committed values; the position is the commitment index (program inputs first, then
    /// step outputs in step order).
    pub commitments: Vec<ValueId>,
    /// The estimate of every step.
    pub estimates: Vec<Estimate>,
    /// The limits it was planned for.
    pub limits: ChunkLimits,
}

impl Plan {
    /// Commitment index of a value.
    pub fn commitment_of(&self, v: ValueId) -> Option<usize> {
        self.commitments.iter().position(|&c| c == v)
    }
}

/// Chunk `prog` under `limits` with the measured `model`.
pub fn chunk(prog: &Program, model: &CostModel, limits: ChunkLimits) -> Result<Plan, ChunkError> {
    prog.validate()?;
    let n = prog.ops.len();
    // The tree depth depends on the number of leaves; plan with the worst case (one per op).
    let shape = limits.spend_shape(n);
    let fits = |e: &Estimate| e.spend_weight(&shape) <= limits.max_spend_weight && e.peak_stack <= limits.max_stack;
    let mut steps = Vec::new();
    let mut estimates = Vec::new();
    let mut s = 0;
    while s < n {
        let first = Step::of_range(prog, s..s + 1);
        let est = model.estimate_for(prog, &first, limits.encoding);
        if !fits(&est) {
            return Err(ChunkError::OpTooLarge {
                op: s,
                name: prog.ops[s].op.name(),
                weight: est.spend_weight(&shape),
                stack: est.peak_stack,
                max_weight: limits.max_spend_weight,
                max_stack: limits.max_stack,
            });
        }
        let (mut best, mut best_est) = (first, est);
        let mut e = s + 1;
        while e < n && e + 1 - s <= limits.max_ops_per_step {
            let cand = Step::of_range(prog, s..e + 1);
            let est = model.estimate_for(prog, &cand, limits.encoding);
            if !fits(&est) {
                break;
            }
            best = cand;
            best_est = est;
            e += 1;
        }
        if best.outputs.is_empty() && best.claims.is_empty() {
            return Err(ChunkError::NothingToCheck(best.ops.clone()));
        }
        s = best.ops.end;
        steps.push(best);
        estimates.push(best_est);
    }
    let mut commitments: Vec<ValueId> =
        prog.inputs.iter().copied().filter(|v| steps.iter().any(|st| st.inputs.contains(v))).collect();
    for st in &steps {
        commitments.extend(st.outputs.iter().copied());
    }
    Ok(Plan { steps, commitments, estimates, limits })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::programs::{root_program, MulMode};

    fn program() -> Program {
        root_program(12, "chunk-test", MulMode::Hinted(4)).unwrap().0
    }

    #[test]
    fn every_step_fits_and_tighter_limits_give_more_steps() {
        let prog = program();
        let model = CostModel::measure(&prog).unwrap();
        let mut last_steps = 0;
        for limit in [400_000, 300_000, 200_000, 150_000] {
            let limits = ChunkLimits { max_spend_weight: limit, ..Default::default() };
            let plan = chunk(&prog, &model, limits).unwrap();
            let shape = limits.spend_shape(prog.ops.len());
            for (st, est) in plan.steps.iter().zip(&plan.estimates) {
                assert!(est.spend_weight(&shape) <= limit);
                assert!(est.peak_stack <= 1000);
                // a greedy step cannot be extended by one more op within the limit
                if st.ops.end < prog.ops.len() {
                    let bigger = Step::of_range(&prog, st.ops.start..st.ops.end + 1);
                    assert!(model.estimate(&prog, &bigger).spend_weight(&shape) > limit);
                }
            }
            assert!(plan.steps.len() >= last_steps, "limit {limit}");
            last_steps = plan.steps.len();
            // commitments: x plus one per step boundary
            assert_eq!(plan.commitments.len(), plan.steps.len());
        }
        let one = chunk(&prog, &model, ChunkLimits { max_ops_per_step: 1, ..Default::default() }).unwrap();
        assert_eq!(one.steps.len(), prog.ops.len());
    }

    #[test]
    fn a_limit_below_one_op_is_an_error_naming_it() {
        let prog = program();
        let model = CostModel::measure(&prog).unwrap();
        let err = chunk(&prog, &model, ChunkLimits { max_spend_weight: 50_000, ..Default::default() }).unwrap_err();
        assert!(matches!(err, ChunkError::OpTooLarge { op: 0, .. }), "{err}");
    }

    #[test]
    fn step_io_of_a_range() {
        let prog = program();
        let st = Step::of_range(&prog, 2..5);
        // reads x (value 0) and acc2 (value 2), writes acc5 (read by op 5)
        assert_eq!(st.inputs, vec![0, 2]);
        assert_eq!(st.outputs, vec![5]);
        assert!(st.claims.is_empty());
        let last = Step::of_range(&prog, 10..12);
        assert_eq!(last.outputs, Vec::<ValueId>::new());
        assert_eq!(last.claims, vec![0]);
    }

    #[test]
    fn weights() {
        assert_eq!(tree_depth(1), 0);
        assert_eq!(tree_depth(2), 1);
        assert_eq!(tree_depth(33), 6);
        assert_eq!(varint_len(252), 1);
        assert_eq!(varint_len(253), 3);
        let s = SpendShape { base_weight: 100, tree_depth: 1 };
        // items: count(1+2=3 -> 1) + (1+20) ; script 1+10 ; control block 1+65
        assert_eq!(s.weight(10, [20]), 100 + 1 + 21 + 11 + 66);
    }
}
