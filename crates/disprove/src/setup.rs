//! Putting it together: the setup both sides derive (plan, keys, leaves, assert layout), the
//! operator (compute and sign every committed value), the verifier (read the signed values from
//! the assert witnesses, recompute natively, find the wrong step and the witness of its leaf)
//! and the plain data the transaction graph consumes ([`GraphData`]).

use ark_bn254::Fq;
use bitcoin::ScriptBuf;
use bitvm2_script::exec::encode_num;
use serde::{Deserialize, Serialize};

use crate::chunk::{chunk, ChunkError, ChunkLimits, CostModel, Plan, SpendShape};
use crate::layout::{pack, AssertLayout, AssertShape, LayoutError};
use crate::leaf::{build_leaf, leaf_witness};
use crate::program::{fq_from_committed, fq_to_committed, Committed, Program, ProgramError, ValueId};
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
    /// A step index out of range.
    #[error("no step {0}")]
    NoStep(usize),
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
        let params = self.commitment_params();
        if keys.len() != params.len() {
            return Err(SetupError::KeyCount { got: keys.len(), expected: params.len() });
        }
        for (i, (k, p)) in keys.iter().zip(&params).enumerate() {
            if k.params != *p || k.chains.len() != p.chains() {
                return Err(SetupError::KeyParams { index: i, got: k.params, expected: *p });
            }
        }
        let ws = self.model.working_space();
        let leaves = self
            .plan
            .steps
            .iter()
            .map(|st| {
                let ks: Vec<&WotsPublicKey> =
                    st.leaf_values().iter().map(|v| &keys[self.plan.commitment_of(*v).expect("committed")]).collect();
                build_leaf(&self.program, st, &ks, ws)
            })
            .collect::<Vec<_>>();
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
        planned.commitment_params().iter().enumerate().map(|(i, p)| self.secret(i, *p).public_key()).collect()
    }

    /// Honest assertion: evaluate the program and sign every committed value.
    pub fn assert(&self, d: &Disprove, inputs: &[Fq]) -> Result<SignedAssertion, SetupError> {
        let vals = d.program.evaluate(inputs)?;
        let committed: Vec<Committed> = d.plan.commitments.iter().map(|&v| fq_to_committed(&vals[v])).collect();
        Ok(self.sign(d, &committed))
    }

    /// Sign the given committed integers (by commitment index) - honest or not.
    pub fn sign(&self, d: &Disprove, committed: &[Committed]) -> SignedAssertion {
        let sigs = committed
            .iter()
            .zip(&d.keys)
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
    /// The signed integers.
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
        let mut values = vec![[0u8; 32]; n];
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
                    values[c].copy_from_slice(&be_bytes_of_digits(&digits, 32));
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

    /// Verifier: recompute every step natively from the committed values; the first wrong
    /// step and the witness that spends its leaf, or `None` if the assertion is correct.
    pub fn find_fault(&self, a: &SignedAssertion) -> Option<Fault> {
        for s in 0..self.plan.steps.len() {
            if let Some(reason) = self.check_step(s, a) {
                let witness = self.leaf_witness(s, a).expect("step exists");
                return Some(Fault { step: s, reason, witness });
            }
        }
        None
    }

    fn committed(&self, a: &SignedAssertion, v: ValueId) -> Committed {
        a.values[self.plan.commitment_of(v).expect("committed value")]
    }

    /// Native evaluation of step `s` from committed inputs: all values it computes, or the
    /// first non-canonical input.
    fn run_step(&self, s: usize, a: &SignedAssertion) -> Result<Vec<Option<Fq>>, ValueId> {
        let st = &self.plan.steps[s];
        let mut vals: Vec<Option<Fq>> = vec![None; self.program.values.len()];
        for &v in &st.inputs {
            vals[v] = Some(fq_from_committed(&self.committed(a, v)).ok_or(v)?);
        }
        for node in &self.program.ops[st.ops.clone()] {
            let args: Vec<Fq> = node
                .args
                .iter()
                .map(|x| match x {
                    crate::program::Operand::Value(v) => vals[*v].expect("defined in step or input"),
                    crate::program::Operand::Const(c) => *c,
                })
                .collect();
            vals[node.out] = Some(node.op.native(&args));
        }
        Ok(vals)
    }

    /// Whether step `s` is wrong under this assertion.
    pub fn check_step(&self, s: usize, a: &SignedAssertion) -> Option<FaultReason> {
        let st = &self.plan.steps[s];
        let vals = match self.run_step(s, a) {
            Ok(v) => v,
            Err(v) => return Some(FaultReason::NonCanonicalInput(v)),
        };
        for &v in &st.outputs {
            if fq_to_committed(&vals[v].expect("computed")) != self.committed(a, v) {
                return Some(FaultReason::WrongOutput(v));
            }
        }
        for &c in &st.claims {
            let (v, k) = self.program.claims[c];
            if vals[v] != Some(k) {
                return Some(FaultReason::ClaimFails(v));
            }
        }
        None
    }

    /// Witness items that spend leaf `s` under this assertion (hints recomputed natively;
    /// placeholders if an input is non-canonical, where the leaf does not read them).
    pub fn leaf_witness(&self, s: usize, a: &SignedAssertion) -> Result<Vec<Vec<u8>>, SetupError> {
        let st = self.plan.steps.get(s).ok_or(SetupError::NoStep(s))?;
        let vals = self.run_step(s, a).ok();
        let hints: Vec<Vec<Vec<u8>>> = self.program.ops[st.ops.clone()]
            .iter()
            .map(|node| match &vals {
                Some(vals) => {
                    let args: Vec<Fq> = node
                        .args
                        .iter()
                        .map(|x| match x {
                            crate::program::Operand::Value(v) => vals[*v].expect("defined"),
                            crate::program::Operand::Const(c) => *c,
                        })
                        .collect();
                    node.op.hints(&args)
                }
                None => vec![encode_num(0); node.op.hint_items()],
            })
            .collect();
        let sigs: Vec<Vec<Vec<u8>>> = st
            .leaf_values()
            .iter()
            .map(|&v| a.sigs[self.plan.commitment_of(v).expect("committed")].to_witness())
            .collect();
        Ok(leaf_witness(&hints, &sigs))
    }

    /// Shape of the transaction spending a leaf (control block depth from the leaf count).
    pub fn spend_shape(&self) -> SpendShape {
        SpendShape::disprove_tx(self.leaf_scripts.len())
    }
}
