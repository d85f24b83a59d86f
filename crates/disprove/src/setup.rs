//! Putting it together: the setup both sides derive (plan, keys, leaves, assert layout), the
//! operator (compute and sign every committed value), the verifier (read the signed values from
//! the assert witnesses, recompute natively, find the wrong step and the witness of its leaf)
//! and the plain data the transaction graph consumes ([`GraphData`]).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bitcoin::taproot::{LeafVersion, TapLeafHash};
use bitcoin::ScriptBuf;
use bitvm2_script::exec::encode_num;
use serde::{Deserialize, Serialize};

use crate::chunk::{chunk, ChunkError, ChunkLimits, CostModel, Plan, SpendShape, Step};
use crate::layout::{pack, AssertLayout, AssertShape, AssertTx, LayoutError};
use crate::leaf::{leaf_witness, LeafParts};
use crate::parallel::{par_map, par_map_with};
use crate::program::{val_stack, CommitMode, Committed, Operand, Program, ProgramError, Val, ValueId};
use crate::wots::{be_bytes_of_digits, digits_of_be_bytes, WotsError, WotsParams, WotsPublicKey, WotsSecret, WotsSignature};

/// Errors of setup, signing and reading assertions.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Chunking failed.
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    /// Packing the asserts failed.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The program failed.
    #[error(transparent)]
    Program(#[from] ProgramError),
    /// Wrong number of public keys.
    #[error("{got} public keys given, the plan has {expected} commitments")]
    KeyCount { got: usize, expected: usize },
    /// A public key has the wrong parameters.
    #[error("public key {index} has parameters {got:?}, expected {expected:?}")]
    KeyParams { index: usize, got: WotsParams, expected: WotsParams },
    /// The assert witnesses do not have the layout's shape.
    #[error("assert witness shape: {0}")]
    WitnessShape(String),
    /// A signature in an assert witness is invalid.
    #[error("commitment {commitment} (assert tx {tx}, input {input}): {source}")]
    BadSignature { commitment: usize, tx: usize, input: usize, source: WotsError },
    /// A signature of the assertion cannot be encoded for a leaf (wrong shape).
    #[error("commitment {commitment}: signature cannot be encoded for the leaf: {source}")]
    LeafSignature { commitment: usize, source: WotsError },
    /// A step index out of range.
    #[error("no step {0}")]
    NoStep(usize),
    /// A leaf reads a hash-committed value whose preimage nobody knows.
    #[error("step {step}: preimage of hash-committed value {value} is unknown (its producer is wrong)")]
    UnknownPreimage { step: usize, value: ValueId },
}

/// A program chunked under some limits, before keys are known.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The program.
    pub program: Program,
    /// Gadget measurements.
    pub model: CostModel,
    /// The steps and commitments.
    pub plan: Plan,
    /// The key-independent leaf pieces, built on first use from the fields above and shared by
    /// clones (a daemon plans once and clones per graph).
    parts: Arc<OnceLock<Arc<LeafParts>>>,
}

impl Planned {
    /// Measure and chunk.
    pub fn new(program: Program, limits: ChunkLimits) -> Result<Self, SetupError> {
        let model = CostModel::measure(&program)?;
        let plan = chunk(&program, &model, limits)?;
        Ok(Planned { program, model, plan, parts: Arc::default() })
    }

    /// Winternitz parameters of every commitment (by commitment index).
    pub fn commitment_params(&self) -> Vec<WotsParams> {
        self.plan.commitments.iter().map(|&v| self.program.values[v].kind.wots_params()).collect()
    }

    /// The key-independent pieces of the leaves, built on the first call (every operation's
    /// script once, on every core: about a second for a Groth16 verifier) and shared by every
    /// clone of this plan, so that per key set only the key-dependent parts are generated.
    pub fn leaf_parts(&self) -> &LeafParts {
        self.parts_arc()
    }

    fn parts_arc(&self) -> &Arc<LeafParts> {
        self.parts.get_or_init(|| Arc::new(LeafParts::new(&self.program, &self.plan)))
    }

    /// Generate leaves and assert layout for the operator's public keys.
    pub fn with_keys(self, keys: Vec<WotsPublicKey>, shape: AssertShape) -> Result<Disprove, SetupError> {
        self.with_keys_progress(keys, shape, &|_, _| {})
    }

    /// [`Planned::with_keys`] on every available core, calling `progress(done, total)` (from
    /// any thread) as leaves are finished, for long generations (a Groth16 verifier has
    /// thousands of leaves).
    pub fn with_keys_progress(self, keys: Vec<WotsPublicKey>, shape: AssertShape, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<Disprove, SetupError> {
        let leaves = self.generate(&keys, progress, true)?;
        self.into_disprove(keys, shape, leaves)
    }

    /// Like [`Planned::with_keys_progress`] but keeps only every leaf's [`TapLeafHash`] (all
    /// the transaction graph needs for the taproot tree): each leaf is generated, hashed and
    /// dropped, so memory stays at one leaf per thread on top of the plan instead of every
    /// script (1.75 GB for a Groth16 verifier). [`Disprove::leaf_script`] regenerates a leaf
    /// when it is to be spent; [`Disprove::leaf_scripts`] stays empty.
    pub fn with_keys_hashed(self, keys: Vec<WotsPublicKey>, shape: AssertShape, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<Disprove, SetupError> {
        let leaves = self.generate(&keys, progress, false)?;
        self.into_disprove(keys, shape, leaves)
    }

    /// Check the keys against the plan, then generate every leaf on every core (one reused
    /// buffer per thread): its script if `keep_scripts`, its hash and its peak estimate, by step.
    fn generate(&self, keys: &[WotsPublicKey], progress: &(dyn Fn(usize, usize) + Sync), keep_scripts: bool) -> Result<Vec<GeneratedLeaf>, SetupError> {
        let params = self.commitment_params();
        if keys.len() != params.len() {
            return Err(SetupError::KeyCount { got: keys.len(), expected: params.len() });
        }
        for (i, (k, p)) in keys.iter().zip(&params).enumerate() {
            if k.params != *p || k.chains.len() != p.chains() {
                return Err(SetupError::KeyParams { index: i, got: k.params, expected: *p });
            }
        }
        let parts = self.parts_arc();
        let ws = self.model.working_space_for(self.plan.limits.encoding);
        let index: HashMap<ValueId, usize> = self.plan.commitments.iter().enumerate().map(|(i, &v)| (v, i)).collect();
        let build = |buf: &mut Vec<u8>, st: &Step| {
            let ks: Vec<&WotsPublicKey> = st.leaf_values().iter().map(|v| &keys[index[v]]).collect();
            let leaf = parts.build(&self.program, st, &ks, ws, std::mem::take(buf));
            let hash = TapLeafHash::from_script(&leaf.script, LeafVersion::TapScript);
            let kept = keep_scripts.then(|| ScriptBuf::from_bytes(leaf.script.as_bytes().to_vec()));
            *buf = leaf.script.into_bytes();
            (kept, hash, leaf.peak_estimate)
        };
        Ok(par_map_with(&self.plan.steps, &Vec::new, &build, progress))
    }

    /// The instance from its generated leaves.
    fn into_disprove(self, keys: Vec<WotsPublicKey>, shape: AssertShape, leaves: Vec<GeneratedLeaf>) -> Result<Disprove, SetupError> {
        let layout = pack(&keys, shape)?;
        let parts = self.parts_arc().clone();
        let mut leaf_scripts = Vec::new();
        let (mut leaf_hashes, mut leaf_peak_estimates) = (Vec::with_capacity(leaves.len()), Vec::with_capacity(leaves.len()));
        for (script, hash, peak) in leaves {
            leaf_scripts.extend(script);
            leaf_hashes.push(hash);
            leaf_peak_estimates.push(peak);
        }
        Ok(Disprove {
            program: self.program,
            model: self.model,
            plan: self.plan,
            keys,
            leaf_scripts,
            leaf_peak_estimates,
            layout,
            leaf_hashes,
            parts,
        })
    }
}

/// A generated leaf: its script (if kept), tapleaf hash and peak-stack estimate.
type GeneratedLeaf = (Option<ScriptBuf>, TapLeafHash, usize);

/// Everything a verifier (and the operator) derives for one peg-out graph.
#[derive(Debug, Clone)]
pub struct Disprove {
    /// The program.
    pub program: Program,
    /// Gadget measurements.
    pub model: CostModel,
    /// Steps and commitments.
    pub plan: Plan,
    /// Operator's Winternitz public keys, by commitment index.
    pub keys: Vec<WotsPublicKey>,
    /// One disprove leaf per step ([`Planned::with_keys`]), or none when only the hashes are
    /// kept ([`Planned::with_keys_hashed`]; use [`Disprove::leaf_script`]).
    pub leaf_scripts: Vec<ScriptBuf>,
    /// Static peak-stack estimate per leaf.
    pub leaf_peak_estimates: Vec<usize>,
    /// The assert transactions.
    pub layout: AssertLayout,
    /// Tapleaf hash of every leaf.
    leaf_hashes: Vec<TapLeafHash>,
    /// The pieces that regenerate a leaf.
    parts: Arc<LeafParts>,
}

/// The operator's Winternitz key material: a master secret and a domain (e.g. graph id).
pub struct OperatorKeys {
    master: [u8; 32],
    domain: Vec<u8>,
}

impl std::fmt::Debug for OperatorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OperatorKeys(domain {}, master redacted)", hex::encode(&self.domain))
    }
}

impl OperatorKeys {
    /// Keys for one domain.
    pub fn new(master: [u8; 32], domain: &[u8]) -> Self {
        OperatorKeys { master, domain: domain.to_vec() }
    }

    fn secret(&self, index: usize, params: WotsParams) -> WotsSecret {
        WotsSecret::derive(&self.master, &self.domain, index as u32, params)
    }

    /// Public keys of every commitment of a plan.
    pub fn public_keys(&self, planned: &Planned) -> Vec<WotsPublicKey> {
        let params: Vec<(usize, WotsParams)> = planned.commitment_params().into_iter().enumerate().collect();
        par_map(&params, &|(i, p)| self.secret(*i, *p).public_key(), &|_, _| {})
    }

    /// Honest assertion: evaluate the program and sign every committed value.
    pub fn assert(&self, d: &Disprove, inputs: &[Val]) -> Result<SignedAssertion, SetupError> {
        Ok(self.sign(d, &d.honest_commitments(inputs)?))
    }

    /// Sign the given committed messages (by commitment index) - honest or not. Each must have
    /// its kind's length (`ValueKind::committed_len`).
    pub fn sign(&self, d: &Disprove, committed: &[Committed]) -> SignedAssertion {
        self.sign_with_keys(&d.keys, committed)
    }

    /// [`OperatorKeys::sign`] given the public keys by commitment index (e.g.
    /// [`OperatorKeys::public_keys`] of a plan) instead of a [`Disprove`] with every leaf.
    pub fn sign_with_keys(&self, keys: &[WotsPublicKey], committed: &[Committed]) -> SignedAssertion {
        let sigs = committed.iter().zip(keys).enumerate().map(|(i, (c, pk))| self.sign_one(i, pk, c)).collect();
        SignedAssertion { values: committed.to_vec(), sigs }
    }

    fn sign_one(&self, index: usize, pk: &WotsPublicKey, c: &Committed) -> WotsSignature {
        self.secret(index, pk.params).sign(&digits_of_be_bytes(c, pk.params.msg_digits)).expect("digits of a 32-byte value are in range")
    }

    /// The signature witness items of assert transaction `tx` only (`[input] -> items`, as
    /// [`Disprove::assert_witnesses`] gives them): signs just that transaction's commitments, so
    /// an operator publishing its asserts in waves does not sign thousands of values each time.
    pub fn assert_witness(&self, d: &Disprove, committed: &[Committed], tx: usize) -> Result<Vec<Vec<Vec<u8>>>, SetupError> {
        let t = d.layout.txs.get(tx).ok_or_else(|| SetupError::WitnessShape(format!("no assert transaction {tx}")))?;
        tx_witness(t, |c| {
            let v = committed.get(c).ok_or_else(|| SetupError::WitnessShape(format!("commitment {c} has no value")))?;
            Ok(self.sign_one(c, &d.keys[c], v).to_witness())
        })
    }
}

/// One assert transaction's signature witness items (`[input] -> items`): the signatures
/// of its inputs' commitments in layout order, `sig` giving one commitment's items by index.
fn tx_witness<E>(tx: &AssertTx, mut sig: impl FnMut(usize) -> Result<Vec<Vec<u8>>, E>) -> Result<Vec<Vec<Vec<u8>>>, E> {
    tx.inputs
        .iter()
        .map(|i| {
            let mut items = Vec::new();
            for &c in &i.commitments {
                items.extend(sig(c)?);
            }
            Ok(items)
        })
        .collect()
}

/// The committed values with their signatures, by commitment index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAssertion {
    /// The signed messages (big-endian integers or digests).
    pub values: Vec<Committed>,
    /// Their signatures.
    pub sigs: Vec<WotsSignature>,
}

/// A wrong step found by the verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The step (= leaf index).
    pub step: usize,
    /// What is wrong.
    pub reason: FaultReason,
    /// Witness items of the leaf (without script and control block).
    pub witness: Vec<Vec<u8>>,
}

/// The verifier's verdict on one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    /// The committed outputs and claims match the recomputation.
    Correct,
    /// The step is wrong: its leaf is spendable.
    Wrong(FaultReason),
    /// A hash-committed input's preimage is unknown (its producer step is wrong).
    Unreadable(ValueId),
}

/// Why a step is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultReason {
    /// A committed input is not a canonical field element.
    NonCanonicalInput(ValueId),
    /// A committed output differs from the recomputed one.
    WrongOutput(ValueId),
    /// A claimed value differs from its constant.
    ClaimFails(ValueId),
}

/// One assert input as the transaction graph needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertInputData {
    /// Commitment indices revealed here (witness order).
    pub commitments: Vec<usize>,
    /// The commitment script (the graph adds its own signature check).
    pub script: ScriptBuf,
}

/// Plain data for the transaction graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphData {
    /// Assert transactions, each a list of inputs.
    pub assert_txs: Vec<Vec<AssertInputData>>,
    /// Disprove leaf scripts, one per step (empty for an instance that keeps only hashes,
    /// [`Planned::with_keys_hashed`]).
    pub disprove_leaves: Vec<ScriptBuf>,
    /// Tapleaf hash of every disprove leaf, one per step: all the taproot tree needs.
    pub disprove_leaf_hashes: Vec<TapLeafHash>,
}

impl Disprove {
    /// Plain data for the transaction graph.
    pub fn graph_data(&self) -> GraphData {
        GraphData {
            assert_txs: self
                .layout
                .txs
                .iter()
                .map(|tx| {
                    tx.inputs
                        .iter()
                        .map(|i| AssertInputData { commitments: i.commitments.clone(), script: i.script.clone() })
                        .collect()
                })
                .collect(),
            disprove_leaves: self.leaf_scripts.clone(),
            disprove_leaf_hashes: self.leaf_hashes.clone(),
        }
    }

    /// Tapleaf hash (BIP-341, tapscript leaf version) of every disprove leaf, by step, whether
    /// the scripts are held or not.
    pub fn leaf_hashes(&self) -> &[TapLeafHash] {
        &self.leaf_hashes
    }

    /// The disprove leaf of `step`: the held script, or generated again (the same bytes; a
    /// few milliseconds) when only hashes are kept, e.g. to spend the leaf [`Disprove::find_fault`]
    /// names.
    pub fn leaf_script(&self, step: usize) -> Result<ScriptBuf, SetupError> {
        let st = self.plan.steps.get(step).ok_or(SetupError::NoStep(step))?;
        if let Some(s) = self.leaf_scripts.get(step) {
            return Ok(s.clone());
        }
        let keys: Vec<&WotsPublicKey> =
            st.leaf_values().iter().map(|&v| &self.keys[self.plan.commitment_of(v).expect("leaf values are committed")]).collect();
        let ws = self.model.working_space_for(self.plan.limits.encoding);
        Ok(self.parts.build(&self.program, st, &keys, ws, Vec::new()).script)
    }

    /// The signature witness items of every assert input: `[tx][input] -> items`.
    pub fn assert_witnesses(&self, a: &SignedAssertion) -> Vec<Vec<Vec<Vec<u8>>>> {
        self.layout
            .txs
            .iter()
            .map(|tx| tx_witness(tx, |c| Ok::<_, std::convert::Infallible>(a.sigs[c].to_witness())).unwrap_or_else(|e| match e {}))
            .collect()
    }

    /// Verifier: read the signed values from the assert witnesses (`[tx][input] -> items`,
    /// the signature items only), checking every signature against the operator's keys.
    pub fn read_assertion(&self, witnesses: &[Vec<Vec<Vec<u8>>>]) -> Result<SignedAssertion, SetupError> {
        let n = self.keys.len();
        let mut values: Vec<Committed> = vec![Vec::new(); n];
        let mut sigs: Vec<Option<WotsSignature>> = vec![None; n];
        if witnesses.len() != self.layout.txs.len() {
            return Err(SetupError::WitnessShape(format!(
                "{} transactions, layout has {}",
                witnesses.len(),
                self.layout.txs.len()
            )));
        }
        for (t, (tx, wtx)) in self.layout.txs.iter().zip(witnesses).enumerate() {
            if wtx.len() != tx.inputs.len() {
                return Err(SetupError::WitnessShape(format!(
                    "tx {t}: {} inputs, layout has {}",
                    wtx.len(),
                    tx.inputs.len()
                )));
            }
            for (i, (inp, items)) in tx.inputs.iter().zip(wtx).enumerate() {
                if items.len() != inp.witness_items {
                    return Err(SetupError::WitnessShape(format!(
                        "tx {t} input {i}: {} items, expected {}",
                        items.len(),
                        inp.witness_items
                    )));
                }
                let mut off = 0;
                for &c in &inp.commitments {
                    let pk = &self.keys[c];
                    let k = pk.params.witness_items();
                    let bad = |source| SetupError::BadSignature { commitment: c, tx: t, input: i, source };
                    let sig = WotsSignature::from_witness(pk.params, &items[off..off + k]).map_err(bad)?;
                    let digits = pk.verify(&sig).map_err(bad)?;
                    let len = self.program.values[self.plan.commitments[c]].kind.committed_len();
                    values[c] = be_bytes_of_digits(&digits, len);
                    sigs[c] = Some(sig);
                    off += k;
                }
            }
        }
        let sigs = sigs
            .into_iter()
            .enumerate()
            .map(|(c, s)| s.ok_or_else(|| SetupError::WitnessShape(format!("commitment {c} not revealed"))))
            .collect::<Result<_, _>>()?;
        Ok(SignedAssertion { values, sigs })
    }

    /// The honest committed messages for these program inputs (by commitment index).
    pub fn honest_commitments(&self, inputs: &[Val]) -> Result<Vec<Committed>, SetupError> {
        let vals = self.program.evaluate(inputs)?;
        Ok(self.plan.commitments.iter().map(|&v| self.program.values[v].kind.commit_native(&vals[v])).collect())
    }

    /// Verifier: recompute every step natively from the committed values; the first wrong
    /// step and the witness that spends its leaf, or `None` if the assertion is correct.
    pub fn find_fault(&self, a: &SignedAssertion) -> Option<Fault> {
        let (statuses, known) = self.walk(a);
        let step = statuses.iter().position(|st| matches!(st, StepStatus::Wrong(_)))?;
        let StepStatus::Wrong(reason) = statuses[step].clone() else { unreachable!() };
        let witness = self.witness_with(step, a, &known).expect("a wrong step's inputs are readable");
        Some(Fault { step, reason, witness })
    }

    fn committed<'a>(&self, a: &'a SignedAssertion, v: ValueId) -> &'a Committed {
        &a.values[self.plan.commitment_of(v).expect("committed value")]
    }

    /// Native evaluation of step `s` from committed inputs (hash-committed inputs from
    /// `known` preimages): all values it computes, or why it cannot be evaluated.
    fn run_step(&self, s: usize, a: &SignedAssertion, known: &[Option<Val>]) -> Result<Vec<Option<Val>>, StepStatus> {
        let st = &self.plan.steps[s];
        let mut vals: Vec<Option<Val>> = vec![None; self.program.values.len()];
        for &v in &st.inputs {
            let kind = self.program.values[v].kind;
            vals[v] = Some(match kind.commit {
                CommitMode::Direct => kind
                    .decode_direct(self.committed(a, v))
                    .ok_or(StepStatus::Wrong(FaultReason::NonCanonicalInput(v)))?,
                CommitMode::Hash { .. } => known[v].clone().ok_or(StepStatus::Unreadable(v))?,
            });
        }
        for node in &self.program.ops[st.ops.clone()] {
            let args: Vec<Val> = node
                .args
                .iter()
                .map(|x| match x {
                    Operand::Value(v) => vals[*v].clone().expect("defined in step or input"),
                    Operand::Const(c) => c.clone(),
                })
                .collect();
            vals[node.out] = Some(node.op.native(&args));
        }
        Ok(vals)
    }

    /// Check every step in order. A hash-committed value's preimage is known to the verifier
    /// once its producer step is checked correct (its recomputed value hashes to the digest).
    fn walk(&self, a: &SignedAssertion) -> (Vec<StepStatus>, Vec<Option<Val>>) {
        let mut known: Vec<Option<Val>> = vec![None; self.program.values.len()];
        let mut out = Vec::with_capacity(self.plan.steps.len());
        for s in 0..self.plan.steps.len() {
            let st = &self.plan.steps[s];
            let status = match self.run_step(s, a, &known) {
                Err(status) => status,
                Ok(vals) => {
                    let mut status = StepStatus::Correct;
                    for &v in &st.outputs {
                        let computed = vals[v].as_ref().expect("computed");
                        if self.program.values[v].kind.commit_native(computed) == *self.committed(a, v) {
                            known[v] = Some(computed.clone());
                        } else if status == StepStatus::Correct {
                            status = StepStatus::Wrong(FaultReason::WrongOutput(v));
                        }
                    }
                    for &c in &st.claims {
                        let (v, k) = &self.program.claims[c];
                        if status == StepStatus::Correct && vals[*v].as_ref() != Some(k) {
                            status = StepStatus::Wrong(FaultReason::ClaimFails(*v));
                        }
                    }
                    status
                }
            };
            out.push(status);
        }
        (out, known)
    }

    /// The verifier's verdict on every step.
    pub fn check_steps(&self, a: &SignedAssertion) -> Vec<StepStatus> {
        self.walk(a).0
    }

    /// Witness items that spend leaf `s` under this assertion (hints recomputed natively;
    /// placeholders if an input is non-canonical, where the leaf does not read them). Fails if
    /// a hash-committed input's preimage is unknown (its producer step is wrong).
    pub fn leaf_witness(&self, s: usize, a: &SignedAssertion) -> Result<Vec<Vec<u8>>, SetupError> {
        let (_, known) = self.walk(a);
        self.witness_with(s, a, &known)
    }

    /// [`Disprove::leaf_witness`] of every leaf, walking the assertion once (for running all
    /// leaves of a large program).
    pub fn leaf_witnesses(&self, a: &SignedAssertion) -> Result<Vec<Vec<Vec<u8>>>, SetupError> {
        let (_, known) = self.walk(a);
        (0..self.plan.steps.len()).map(|s| self.witness_with(s, a, &known)).collect()
    }

    fn witness_with(&self, s: usize, a: &SignedAssertion, known: &[Option<Val>]) -> Result<Vec<Vec<u8>>, SetupError> {
        let st = self.plan.steps.get(s).ok_or(SetupError::NoStep(s))?;
        let vals = match self.run_step(s, a, known) {
            Ok(v) => Some(v),
            Err(StepStatus::Unreadable(v)) => return Err(SetupError::UnknownPreimage { step: s, value: v }),
            Err(_) => None,
        };
        let hints: Vec<Vec<Vec<u8>>> = self.program.ops[st.ops.clone()]
            .iter()
            .map(|node| match &vals {
                Some(vals) => {
                    let args: Vec<Val> = node
                        .args
                        .iter()
                        .map(|x| match x {
                            Operand::Value(v) => vals[*v].clone().expect("defined"),
                            Operand::Const(c) => c.clone(),
                        })
                        .collect();
                    node.op.hints(&args)
                }
                None => vec![encode_num(0); node.op.hint_items()],
            })
            .collect();
        let mut preimages = Vec::new();
        for &v in &st.inputs {
            if self.program.values[v].kind.commit != CommitMode::Direct {
                let pre = known[v].as_ref().ok_or(SetupError::UnknownPreimage { step: s, value: v })?;
                preimages.push(val_stack(pre));
            }
        }
        let enc = self.plan.limits.encoding;
        let sigs: Vec<Vec<Vec<u8>>> = st
            .leaf_values()
            .iter()
            .map(|&v| {
                let c = self.plan.commitment_of(v).expect("committed");
                let kind = self.program.values[v].kind;
                a.sigs[c]
                    .to_leaf_witness(self.keys[c].params, enc, kind.commit)
                    .map_err(|source| SetupError::LeafSignature { commitment: c, source })
            })
            .collect::<Result<_, _>>()?;
        Ok(leaf_witness(&hints, &preimages, &sigs))
    }

    /// Shape of the transaction spending a leaf (the plan's base weight; control block depth
    /// from the leaf count and the plan's other leaves).
    pub fn spend_shape(&self) -> SpendShape {
        self.plan.limits.spend_shape(self.plan.steps.len())
    }
}

#[cfg(test)]
mod tests {
    //! The whole flow under both leaf encodings: honest assertions leave no leaf spendable,
    //! every corrupted commitment is caught by a spendable leaf, on programs with direct
    //! one-element, direct two-element and hash-committed values.
    use super::*;
    use crate::programs::{pair_program, root_program, MulMode};
    use crate::wots::LeafEncoding;
    use bitvm2_script::exec::{execute, ExecOptions, ExecReport};

    struct Fixture {
        d: Disprove,
        keys: OperatorKeys,
        root: ark_bn254::Fq,
    }

    fn make(prog: Program, root: ark_bn254::Fq, enc: LeafEncoding, max_spend_weight: usize) -> Fixture {
        let limits = ChunkLimits { encoding: enc, max_spend_weight, ..Default::default() };
        let planned = Planned::new(prog, limits).unwrap();
        let keys = OperatorKeys::new([42; 32], b"graph-under-test");
        let pks = keys.public_keys(&planned);
        let d = planned.with_keys(pks, AssertShape::default()).unwrap();
        Fixture { d, keys, root }
    }

    fn fixtures(enc: LeafEncoding) -> Vec<Fixture> {
        let (p, r) = root_program(10, "setup-enc", MulMode::Hinted(4)).unwrap();
        let (h, hr) = pair_program(6, "setup-enc", MulMode::Hinted(4), CommitMode::Hash { bytes: 20 }).unwrap();
        let (q, qr) = pair_program(6, "setup-enc", MulMode::Hinted(4), CommitMode::Direct).unwrap();
        // Root program: a tight weight limit, so that there are many leaves.
        vec![make(p, r, enc, 150_000), make(h, hr, enc, 400_000), make(q, qr, enc, 400_000)]
    }

    fn run_leaf(d: &Disprove, s: usize, w: &[Vec<u8>]) -> ExecReport {
        execute(&d.leaf_scripts[s], w, &ExecOptions::default())
    }

    fn through_chain(f: &Fixture, committed: &[Committed]) -> SignedAssertion {
        let signed = f.keys.sign(&f.d, committed);
        f.d.read_assertion(&f.d.assert_witnesses(&signed)).expect("operator signatures verify")
    }

    #[test]
    fn per_transaction_witnesses_equal_the_whole_assertion() {
        for f in fixtures(LeafEncoding::Standard) {
            let honest = f.d.honest_commitments(&[vec![f.root]]).unwrap();
            let all = f.d.assert_witnesses(&f.keys.sign(&f.d, &honest));
            assert!(!all.is_empty(), "no assert transaction");
            for (k, w) in all.iter().enumerate() {
                assert_eq!(&f.keys.assert_witness(&f.d, &honest, k).unwrap(), w, "assert {k}");
            }
            assert!(f.keys.assert_witness(&f.d, &honest, all.len()).is_err(), "a transaction past the layout");
            assert!(f.keys.assert_witness(&f.d, &[], 0).is_err(), "values missing");
        }
    }

    fn check_encoding(enc: LeafEncoding) {
        for f in fixtures(enc) {
            let honest = f.d.honest_commitments(&[vec![f.root]]).unwrap();
            let a = through_chain(&f, &honest);
            assert_eq!(f.d.find_fault(&a), None);
            for s in 0..f.d.plan.steps.len() {
                let w = f.d.leaf_witness(s, &a).unwrap();
                let r = run_leaf(&f.d, s, &w);
                assert!(r.outcome.is_ok(), "{enc:?} leaf {s} errored: {:?}", r.outcome);
                assert_eq!(r.final_stack, vec![Vec::<u8>::new()], "{enc:?} leaf {s}");
                assert!(r.peak_items <= f.d.leaf_peak_estimates[s], "{enc:?} leaf {s}: peak above the estimate");
                assert!(r.peak_items <= f.d.plan.estimates[s].peak_stack, "{enc:?} leaf {s}: peak above the plan");
                assert_eq!(w.len(), f.d.plan.estimates[s].witness_items, "{enc:?} leaf {s}");
            }
            for c in 0..honest.len() {
                let mut bad = honest.clone();
                *bad[c].last_mut().unwrap() ^= 1;
                let a = through_chain(&f, &bad);
                let fault = f.d.find_fault(&a).unwrap_or_else(|| panic!("{enc:?}: corrupting commitment {c} went unnoticed"));
                let r = run_leaf(&f.d, fault.step, &fault.witness);
                assert!(r.success(), "{enc:?} commitment {c}: leaf {} not spendable: {:?}", fault.step, r.verdict());
            }
        }
    }

    #[test]
    fn standard_encoding_end_to_end() {
        check_encoding(LeafEncoding::Standard);
    }

    #[test]
    fn compact_encoding_end_to_end() {
        check_encoding(LeafEncoding::Compact);
    }

    /// An Fq6 product over Fq2 products with the hinted multiplication: the compact encoding
    /// fits more operations into a leaf, so fewer leaves (8 instead of 18). Every leaf is
    /// built and run: honest values leave it unspendable within the consensus and standardness
    /// limits, a corrupted commitment makes its leaf spendable.
    #[test]
    fn compact_leaves_of_an_fq6_product_run_within_the_limits() {
        let (prog, inputs) = fq6_program("fq6-compact");
        let limits = ChunkLimits { encoding: LeafEncoding::Compact, ..Default::default() };
        let planned = Planned::new(prog.clone(), limits).unwrap();
        let standard = Planned::new(prog, ChunkLimits::default()).unwrap();
        assert!(planned.plan.steps.len() < standard.plan.steps.len());
        assert!(planned.plan.steps.iter().any(|s| s.ops.len() >= 3), "three or more operations in a leaf");
        let keys = OperatorKeys::new([5; 32], b"fq6-compact");
        let pks = keys.public_keys(&planned);
        let d = planned.with_keys(pks, AssertShape::default()).unwrap();
        let honest = d.honest_commitments(&inputs).unwrap();
        let a = keys.sign(&d, &honest);
        let shape = d.spend_shape();
        for s in 0..d.plan.steps.len() {
            let w = d.leaf_witness(s, &a).unwrap();
            let r = run_leaf(&d, s, &w);
            assert!(r.outcome.is_ok(), "leaf {s}: {:?}", r.outcome);
            assert_eq!(r.final_stack, vec![Vec::<u8>::new()], "leaf {s}");
            assert!(r.peak_items <= 1000 && r.peak_items <= d.plan.estimates[s].peak_stack, "leaf {s}: peak {}", r.peak_items);
            let weight = shape.weight(d.leaf_scripts[s].len(), w.iter().map(|i| i.len()));
            assert!(weight <= 400_000, "leaf {s}: {weight} WU");
            assert!(weight <= d.plan.estimates[s].spend_weight(&shape), "leaf {s}: weight above the estimate");
        }
        let last = honest.len() - 1;
        let mut bad = honest.clone();
        *bad[last].last_mut().unwrap() ^= 1;
        let fault = d.find_fault(&keys.sign(&d, &bad)).expect("a corrupted product is caught");
        assert!(run_leaf(&d, fault.step, &fault.witness).success());
    }

    /// An Fq6 product over the tower's Fq2 operations (several share one script) with its
    /// result claimed, and its inputs (derived from `label`).
    fn fq6_program(label: &str) -> (Program, Vec<Val>) {
        use crate::bn254::{fq2_val, hinted_mul, Tower};
        let tower = Tower::new(hinted_mul(), CommitMode::Direct);
        let mut prog = Program::new(label);
        let a = [0, 1, 2].map(|i| prog.input(format!("a{i}"), 2));
        let b = [0, 1, 2].map(|i| prog.input(format!("b{i}"), 2));
        let out = tower.fq6_mul(&mut prog, "mul6", a, b);
        let fq = |i: u64| crate::programs::fq_from_label(label, i);
        let inputs: Vec<Val> = (0..6).map(|i| fq2_val(&ark_bn254::Fq2::new(fq(2 * i), fq(2 * i + 1)))).collect();
        let vals = prog.evaluate(&inputs).unwrap();
        for id in out {
            let v = vals[id].clone();
            prog.claim(id, v);
        }
        (prog, inputs)
    }

    /// The hashed setup keeps exactly the tapleaf hashes of the full build's scripts and no
    /// script; `leaf_script` gives every leaf byte for byte (and the full build's scripts are
    /// those of the reference builder `build_leaf_with`); reading an assertion, the search,
    /// the witnesses and the spends work on the hashed instance as on the full one. Programs
    /// with one-element, two-element and hash-committed values and with shared operation
    /// scripts, under both encodings.
    #[test]
    fn hashed_setup_matches_the_full_build() {
        use crate::leaf::build_leaf_with;
        use bitcoin::taproot::{LeafVersion, TapLeafHash};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let mut shared = 0;
        for enc in [LeafEncoding::Standard, LeafEncoding::Compact] {
            let (p, r) = root_program(10, "setup-hashed", MulMode::Hinted(4)).unwrap();
            let (h, hr) = pair_program(6, "setup-hashed", MulMode::Hinted(4), CommitMode::Hash { bytes: 20 }).unwrap();
            let (fq6, fq6_inputs) = fq6_program("fq6-hashed");
            let cases = [(p, vec![vec![r]], 150_000), (h, vec![vec![hr]], 400_000), (fq6, fq6_inputs, 400_000)];
            for (prog, inputs, max_spend_weight) in cases {
                let name = format!("{} {enc:?}", prog.name);
                let planned = Planned::new(prog, ChunkLimits { encoding: enc, max_spend_weight, ..Default::default() }).unwrap();
                let keys = OperatorKeys::new([9; 32], b"hashed");
                let pks = keys.public_keys(&planned);
                let full = planned.clone().with_keys(pks.clone(), AssertShape::default()).unwrap();
                let done = AtomicUsize::new(0);
                let hashed = planned.clone().with_keys_hashed(pks, AssertShape::default(), &|d, _| {
                    done.fetch_max(d, Ordering::Relaxed);
                }).unwrap();
                shared += planned.leaf_parts().shared_ops();
                let n = full.plan.steps.len();
                assert_eq!(done.load(Ordering::Relaxed), n, "{name}: progress reaches the total");
                assert!(hashed.leaf_scripts.is_empty(), "{name}: no script held");
                assert_eq!(hashed.leaf_hashes(), full.leaf_hashes(), "{name}");
                assert_eq!(hashed.leaf_peak_estimates, full.leaf_peak_estimates, "{name}");
                assert_eq!(hashed.layout, full.layout, "{name}");
                let ws = planned.model.working_space_for(enc);
                for s in 0..n {
                    let script = &full.leaf_scripts[s];
                    assert_eq!(full.leaf_hashes()[s], TapLeafHash::from_script(script, LeafVersion::TapScript), "{name} leaf {s}");
                    assert_eq!(&hashed.leaf_script(s).unwrap(), script, "{name} leaf {s}");
                    assert_eq!(&full.leaf_script(s).unwrap(), script, "{name} leaf {s}");
                    let st = &planned.plan.steps[s];
                    let ks: Vec<&WotsPublicKey> = st.leaf_values().iter().map(|&v| &full.keys[full.plan.commitment_of(v).unwrap()]).collect();
                    assert_eq!(&build_leaf_with(&planned.program, st, &ks, ws, enc).script, script, "{name} leaf {s}: reference builder");
                }
                assert!(matches!(hashed.leaf_script(n), Err(SetupError::NoStep(_))));
                let (gf, gh) = (full.graph_data(), hashed.graph_data());
                assert_eq!(gh.disprove_leaf_hashes, gf.disprove_leaf_hashes, "{name}");
                assert_eq!(gh.assert_txs, gf.assert_txs, "{name}");
                assert!(gh.disprove_leaves.is_empty() && gf.disprove_leaves.len() == n, "{name}");
                assert_eq!(hashed.spend_shape(), full.spend_shape(), "{name}");
                // The verifier's side on the hashed instance.
                let honest = hashed.honest_commitments(&inputs).unwrap();
                let a = hashed.read_assertion(&hashed.assert_witnesses(&keys.sign(&hashed, &honest))).unwrap();
                assert_eq!(hashed.find_fault(&a), None, "{name}");
                for s in 0..n {
                    let w = hashed.leaf_witness(s, &a).unwrap();
                    let r = execute(&hashed.leaf_script(s).unwrap(), &w, &ExecOptions::default());
                    assert_eq!(r.final_stack, vec![Vec::<u8>::new()], "{name} leaf {s}: {:?}", r.outcome);
                }
                for c in 0..honest.len() {
                    let mut bad = honest.clone();
                    *bad[c].last_mut().unwrap() ^= 1;
                    let a = hashed.read_assertion(&hashed.assert_witnesses(&keys.sign(&hashed, &bad))).unwrap();
                    let fault = hashed.find_fault(&a).unwrap_or_else(|| panic!("{name}: commitment {c} corrupted went unnoticed"));
                    assert_eq!(Some(&fault), full.find_fault(&a).as_ref(), "{name}: commitment {c}");
                    let r = execute(&hashed.leaf_script(fault.step).unwrap(), &fault.witness, &ExecOptions::default());
                    assert!(r.success(), "{name}: commitment {c}: leaf {} not spendable", fault.step);
                }
            }
        }
        assert!(shared > 0, "some leaves take shared operation scripts");
    }

    #[test]
    fn compact_leaves_need_fewer_witness_items() {
        let (std_f, cmp_f) = (fixtures(LeafEncoding::Standard), fixtures(LeafEncoding::Compact));
        for (s, c) in std_f.iter().zip(&cmp_f) {
            // Same commitments, same keys: the encoding changes only how leaves read the
            // signatures (the chunking may differ, and with it the commitments).
            if s.d.plan.commitments == c.d.plan.commitments {
                assert!(s.d.keys == c.d.keys);
            }
            let items = |f: &Fixture| f.d.plan.estimates.iter().map(|e| e.witness_items).max().unwrap();
            assert!(c.d.plan.steps.len() <= s.d.plan.steps.len());
            if c.d.plan.steps.len() == s.d.plan.steps.len() {
                assert!(items(c) < items(s));
            }
        }
        // A leaf built for one encoding rejects the other's witness.
        let (s, c) = (&std_f[0], &cmp_f[0]);
        let a = through_chain(s, &s.d.honest_commitments(&[vec![s.root]]).unwrap());
        let w_std = s.d.leaf_witness(0, &a).unwrap();
        let w_cmp = c.d.leaf_witness(0, &a).unwrap();
        assert!(run_leaf(&c.d, 0, &w_std).outcome.is_err());
        assert!(run_leaf(&s.d, 0, &w_cmp).outcome.is_err());
    }
}
