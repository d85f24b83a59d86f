//! Putting it together: the setup both sides derive (plan, keys, leaves, assert layout), the
//! operator (compute and sign every committed value), the verifier (read the signed values from
//! the assert witnesses, recompute natively, find the wrong step and the witness of its leaf)
//! and the plain data the transaction graph consumes ([`GraphData`]).

use bitcoin::ScriptBuf;
use bitvm2_script::exec::encode_num;
use serde::{Deserialize, Serialize};

use crate::chunk::{chunk, ChunkError, ChunkLimits, CostModel, Plan, SpendShape};
use crate::layout::{pack, AssertLayout, AssertShape, LayoutError};
use crate::leaf::{build_leaf_with, leaf_witness};
use crate::parallel::par_map;
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
}

impl Planned {
    /// Measure and chunk.
    pub fn new(program: Program, limits: ChunkLimits) -> Result<Self, SetupError> {
        let model = CostModel::measure(&program)?;
        let plan = chunk(&program, &model, limits)?;
        Ok(Planned { program, model, plan })
    }

    /// Winternitz parameters of every commitment (by commitment index).
    pub fn commitment_params(&self) -> Vec<WotsParams> {
        self.plan.commitments.iter().map(|&v| self.program.values[v].kind.wots_params()).collect()
    }

    /// Generate leaves and assert layout for the operator's public keys.
    pub fn with_keys(self, keys: Vec<WotsPublicKey>, shape: AssertShape) -> Result<Disprove, SetupError> {
        self.with_keys_progress(keys, shape, &|_, _| {})
    }

    /// [`Planned::with_keys`] on every available core, calling `progress(done, total)` (from
    /// any thread) as leaves are finished, for long generations (a Groth16 verifier has
    /// thousands of leaves).
    pub fn with_keys_progress(self, keys: Vec<WotsPublicKey>, shape: AssertShape, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<Disprove, SetupError> {
        let params = self.commitment_params();
        if keys.len() != params.len() {
            return Err(SetupError::KeyCount { got: keys.len(), expected: params.len() });
        }
        for (i, (k, p)) in keys.iter().zip(&params).enumerate() {
            if k.params != *p || k.chains.len() != p.chains() {
                return Err(SetupError::KeyParams { index: i, got: k.params, expected: *p });
            }
        }
        let enc = self.plan.limits.encoding;
        let ws = self.model.working_space_for(enc);
        let steps = &self.plan.steps;
        let index: std::collections::HashMap<ValueId, usize> = self.plan.commitments.iter().enumerate().map(|(i, &v)| (v, i)).collect();
        let build = |st: &crate::chunk::Step| {
            let ks: Vec<&WotsPublicKey> = st.leaf_values().iter().map(|v| &keys[index[v]]).collect();
            build_leaf_with(&self.program, st, &ks, ws, enc)
        };
        let leaves = par_map(steps, &build, progress);
        let layout = pack(&keys, shape)?;
        Ok(Disprove {
            program: self.program,
            model: self.model,
            plan: self.plan,
            keys,
            leaf_scripts: leaves.iter().map(|l| l.script.clone()).collect(),
            leaf_peak_estimates: leaves.iter().map(|l| l.peak_estimate).collect(),
            layout,
        })
    }
}

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
    /// One disprove leaf per step.
    pub leaf_scripts: Vec<ScriptBuf>,
    /// Static peak-stack estimate per leaf.
    pub leaf_peak_estimates: Vec<usize>,
    /// The assert transactions.
    pub layout: AssertLayout,
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
        let sigs = committed
            .iter()
            .zip(keys)
            .enumerate()
            .map(|(i, (c, pk))| {
                self.secret(i, pk.params)
                    .sign(&digits_of_be_bytes(c, pk.params.msg_digits))
                    .expect("digits of a 32-byte value are in range")
            })
            .collect();
        SignedAssertion { values: committed.to_vec(), sigs }
    }
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
    /// Disprove leaf scripts, one per step.
    pub disprove_leaves: Vec<ScriptBuf>,
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
        }
    }

    /// The signature witness items of every assert input: `[tx][input] -> items`.
    pub fn assert_witnesses(&self, a: &SignedAssertion) -> Vec<Vec<Vec<Vec<u8>>>> {
        self.layout
            .txs
            .iter()
            .map(|tx| {
                tx.inputs.iter().map(|i| i.commitments.iter().flat_map(|&c| a.sigs[c].to_witness()).collect()).collect()
            })
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
        self.plan.limits.spend_shape(self.leaf_scripts.len())
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
        use crate::bn254::{fq2_val, hinted_mul, Tower};
        let tower = Tower::new(hinted_mul(), CommitMode::Direct);
        let mut prog = Program::new("fq6-compact");
        let a = [0, 1, 2].map(|i| prog.input(format!("a{i}"), 2));
        let b = [0, 1, 2].map(|i| prog.input(format!("b{i}"), 2));
        let out = tower.fq6_mul(&mut prog, "mul6", a, b);
        let fq2 = |i: u64| {
            ark_bn254::Fq2::new(crate::programs::fq_from_label("fq6-compact", 2 * i), crate::programs::fq_from_label("fq6-compact", 2 * i + 1))
        };
        let inputs: Vec<Val> = (0..6).map(|i| fq2_val(&fq2(i))).collect();
        let vals = prog.evaluate(&inputs).unwrap();
        for id in out {
            let v = vals[id].clone();
            prog.claim(id, v);
        }
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
