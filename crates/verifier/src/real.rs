//! The disprove programs the daemons' graphs carry, and how every party derives them.
//!
//! Two programs ([`ProgramSpec`]): the **statement** program, the Groth16 verifier of the
//! statement circuit (`bitvm2_statement`: the payout happened) for the deposit the graph is
//! built for, with its public-input binding leaves tying the asserted proof to the claim the
//! Kickoff committed; and **horner**, the small BN254 program of `crates/disprove` (32 leaves)
//! kept for exercising the daemons' fault handling quickly.
//!
//! Every party derives the leaves and the assert layout from the program and the operator's
//! Winternitz public keys; only their hashes enter the graph. The keys travel as a
//! content-addressed blob (`bitvm2_node::peer::BLOB_PATH`, ~9.5 MB for the statement program),
//! not inside the signed messages: [`ProgramKeys`] names the blob and the receiver fetches it
//! from the operator and checks its hash ([`remember_blob`] keeps it for this process).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ark_bn254::Bn254;
use ark_groth16::VerifyingKey;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::taproot::{LeafVersion, TapLeafHash};
use bitcoin::{OutPoint, ScriptBuf, Transaction};
use bitvm2_disprove::chunk::ChunkLimits;
use bitvm2_disprove::claim::{ClaimPublicKey, CLAIM_FIELDS};
use bitvm2_disprove::layout::AssertShape;
use bitvm2_disprove::setup::{Disprove, Planned, SignedAssertion};
use bitvm2_disprove::wots::{LeafEncoding, WotsParams, WotsPublicKey, HASH_LEN};
use bitvm2_statement::program::{binding_leaves_for, claim_bindings, find_claim_binding_fault, verifier_program, ClaimBinding, StatementProgram, StatementProgramOptions};
use bitvm2_statement::StatementParams;
use bitvm2_txgraph::{DisproveScripts, Graph, GraphId};
use serde::{Deserialize, Serialize};

/// Which disprove program an operator's graph carries, as it travels.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProgramSpec {
    /// `bitvm2_disprove::programs::first_program()`.
    Horner,
    /// The statement's Groth16 verifier for the circuit `circuit` (`StatementParams::id`).
    Statement {
        /// Content id of the circuit (names its key files).
        circuit: String,
    },
}

impl ProgramSpec {
    /// The program a node's configuration asks for.
    pub fn configured(cfg: &bitvm2_node::Config) -> ProgramSpec {
        match cfg.params.program {
            bitvm2_node::ProgramKind::Horner => ProgramSpec::Horner,
            bitvm2_node::ProgramKind::Statement => ProgramSpec::Statement { circuit: statement_params().id() },
        }
    }
}

/// The statement circuit the daemons use: the regtest defaults with blocks of up to 16
/// transactions (a demo block holds several parties' transactions).
pub fn statement_params() -> StatementParams {
    StatementParams { merkle_depth: 4, ..StatementParams::regtest() }
}

static KEYS_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Where this process finds the statement circuit's key files (set once, from the
/// configuration, before any statement graph is built).
pub fn set_statement_keys_dir(dir: &Path) -> Result<(), String> {
    let dir = dir.to_path_buf();
    if let Err(d) = KEYS_DIR.set(dir.clone()) {
        if d != *KEYS_DIR.get().expect("set") {
            return Err(format!("statement keys folder already set to {}", KEYS_DIR.get().expect("set").display()));
        }
    }
    Ok(())
}

/// The statement keys folder set for this process.
pub fn statement_keys_dir() -> Result<&'static Path, String> {
    KEYS_DIR.get().map(PathBuf::as_path).ok_or_else(|| "no statement keys folder configured (params.statement_keys_dir)".to_string())
}

fn statement_vk(circuit: &str) -> Result<Arc<VerifyingKey<Bn254>>, String> {
    static VK: OnceLock<Mutex<HashMap<String, Arc<VerifyingKey<Bn254>>>>> = OnceLock::new();
    let params = statement_params();
    if circuit != params.id() {
        return Err(format!("statement circuit {circuit} is not this node's ({})", params.id()));
    }
    let cache = VK.get_or_init(Default::default);
    if let Some(vk) = cache.lock().expect("vk cache").get(circuit) {
        return Ok(vk.clone());
    }
    let vk = Arc::new(bitvm2_statement::keys::load_vk(statement_keys_dir()?, &params).map_err(|e| format!("statement verifying key: {e}"))?);
    cache.lock().expect("vk cache").insert(circuit.to_string(), vk.clone());
    Ok(vk)
}

// ------------------------------------------------------------------ blobs

fn blobs() -> &'static Mutex<HashMap<String, Arc<Vec<u8>>>> {
    static B: OnceLock<Mutex<HashMap<String, Arc<Vec<u8>>>>> = OnceLock::new();
    B.get_or_init(Default::default)
}

/// Keeps `bytes` for this process under its content id (SHA-256 hex), which it returns. Blobs
/// are named by their hash, so processes and nodes can share them safely.
pub fn remember_blob(bytes: Vec<u8>) -> String {
    let id = hex::encode(sha256::Hash::hash(&bytes).to_byte_array());
    blobs().lock().expect("blobs").entry(id.clone()).or_insert_with(|| Arc::new(bytes));
    id
}

/// A blob this process knows.
pub fn known_blob(id: &str) -> Option<Arc<Vec<u8>>> {
    blobs().lock().expect("blobs").get(id).cloned()
}

/// The Winternitz public keys as one blob: every chain end, in commitment order.
pub fn encode_keys(keys: &[WotsPublicKey]) -> Vec<u8> {
    keys.iter().flat_map(|k| k.chains.iter().flatten().copied()).collect()
}

/// Reads [`encode_keys`] back for commitments of parameters `params`; a wrong length is an
/// error naming both lengths.
pub fn decode_keys(params: &[WotsParams], bytes: &[u8]) -> Result<Vec<WotsPublicKey>, String> {
    let want: usize = params.iter().map(|p| p.chains() * HASH_LEN).sum();
    if bytes.len() != want {
        return Err(format!("key blob of {} bytes, the program's {} commitments take {want}", bytes.len(), params.len()));
    }
    let mut off = 0;
    Ok(params
        .iter()
        .map(|&p| {
            let chains = (0..p.chains())
                .map(|_| {
                    let c: [u8; HASH_LEN] = bytes[off..off + HASH_LEN].try_into().expect("length checked");
                    off += HASH_LEN;
                    c
                })
                .collect();
            WotsPublicKey { params: p, chains }
        })
        .collect())
}

// ------------------------------------------------------------------ programs

/// A program chunked for the graph, before any operator's keys.
pub struct PlannedProgram {
    /// The chunked program.
    pub planned: Planned,
    /// The statement program (verifying key, deposit) for [`ProgramSpec::Statement`].
    pub statement: Option<StatementProgram>,
}

/// Chunk limits of the graph; the statement program's leaves use the compact encoding and sit
/// beside its eight binding leaves.
fn limits(spec: &ProgramSpec) -> ChunkLimits {
    let base = bitvm2_txgraph::program::chunk_limits();
    match spec {
        ProgramSpec::Horner => base,
        ProgramSpec::Statement { .. } => ChunkLimits { encoding: LeafEncoding::Compact, other_leaves: base.other_leaves + CLAIM_FIELDS, ..base },
    }
}

/// The program `spec` for the graph of deposit output `deposit`, planned once per process.
pub fn planned(spec: &ProgramSpec, deposit: OutPoint) -> Result<Arc<PlannedProgram>, String> {
    type Cache = Mutex<HashMap<(ProgramSpec, Option<OutPoint>), Arc<PlannedProgram>>>;
    static P: OnceLock<Cache> = OnceLock::new();
    // Horner does not depend on the deposit.
    let key = (spec.clone(), matches!(spec, ProgramSpec::Statement { .. }).then_some(deposit));
    let cache = P.get_or_init(Default::default);
    if let Some(p) = cache.lock().expect("plan cache").get(&key) {
        return Ok(p.clone());
    }
    let t = std::time::Instant::now();
    let p = match spec {
        ProgramSpec::Horner => {
            let (program, _) = bitvm2_disprove::programs::first_program();
            PlannedProgram { planned: Planned::new(program, limits(spec)).map_err(|e| e.to_string())?, statement: None }
        }
        ProgramSpec::Statement { circuit } => {
            let vk = statement_vk(circuit)?;
            let sp = verifier_program(&vk, deposit, &StatementProgramOptions::default()).map_err(|e| format!("statement program: {e}"))?;
            let planned = Planned::new(sp.verifier.program.clone(), limits(spec)).map_err(|e| format!("statement program: {e}"))?;
            PlannedProgram { planned, statement: Some(sp) }
        }
    };
    tracing::info!(program = ?spec, leaves = p.planned.plan.steps.len(), commitments = p.planned.plan.commitments.len(), secs = t.elapsed().as_secs_f64(), "program planned");
    let p = Arc::new(p);
    cache.lock().expect("plan cache").insert(key, p.clone());
    Ok(p)
}

/// Assert transactions as the graph builds them.
pub fn shape() -> AssertShape {
    bitvm2_txgraph::program::assert_shape()
}

/// An operator's program keys as they travel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgramKeys {
    /// The program.
    pub spec: ProgramSpec,
    /// Blob id of its Winternitz public keys ([`encode_keys`]), served by the operator.
    pub keys: String,
    /// Claim key (hex of `ClaimPublicKey::to_bytes`): the Kickoff commits the withdrawal claim
    /// (payout txid, amount, destination, checkpoint) with it.
    pub claim_key: String,
}

/// A disprove the verifier can spend: the leaf's index among the graph's disprove leaves, its
/// script, its witness and why the step is wrong.
pub type DisproveSpend = (usize, ScriptBuf, Vec<Vec<u8>>, String);

/// One operator's program in a graph.
pub struct Instance {
    /// The chunked program with the operator's keys (leaf hashes only).
    pub disprove: Disprove,
    /// The operator's claim key.
    pub claim_key: ClaimPublicKey,
    /// The program as planned (shared by every graph of the deposit).
    pub planned: Arc<PlannedProgram>,
    /// Statement program only: the public-input bindings and their leaves (after the
    /// program's leaves in the graph, in this order).
    pub bindings: Vec<ClaimBinding>,
    /// The binding leaves' scripts.
    pub binding_leaves: Vec<ScriptBuf>,
}

impl Instance {
    /// Builds an operator's instance for the graph of `deposit`.
    pub fn new(spec: &ProgramSpec, deposit: OutPoint, keys: Vec<WotsPublicKey>, claim_key: ClaimPublicKey) -> Result<Instance, String> {
        let planned = planned(spec, deposit)?;
        let d = planned.planned.clone().with_keys_hashed(keys, shape(), &|_, _| {}).map_err(|e| e.to_string())?;
        let (bindings, binding_leaves) = match &planned.statement {
            None => (vec![], vec![]),
            Some(sp) => (
                claim_bindings(&claim_key, sp, &planned.planned.plan).map_err(|e| e.to_string())?,
                binding_leaves_for(&claim_key, sp, &planned.planned.plan, &d.keys).map_err(|e| e.to_string())?,
            ),
        };
        Ok(Instance { disprove: d, claim_key, planned, bindings, binding_leaves })
    }

    /// What the graph takes: the assert commitments and every leaf hash (program, then binding).
    pub fn scripts(&self) -> DisproveScripts {
        let mut s = bitvm2_txgraph::program::disprove_scripts(&self.disprove);
        s.disprove_leaves.extend(self.binding_leaves.iter().map(|l| TapLeafHash::from_script(l, LeafVersion::TapScript)));
        s
    }

    /// The first disprovable leaf for an assertion read from chain, with the Kickoff's claim
    /// items (for the binding leaves): its index among the graph's disprove leaves, its script,
    /// its witness and why. `None` when every step and every binding holds.
    pub fn find_disprove(&self, a: &SignedAssertion, kickoff_items: &[Vec<u8>]) -> Result<Option<DisproveSpend>, String> {
        if let Some(f) = self.disprove.find_fault(a) {
            let script = self.disprove.leaf_script(f.step).map_err(|e| e.to_string())?;
            return Ok(Some((f.step, script, f.witness, format!("step {}: {:?}", f.step, f.reason))));
        }
        if self.bindings.is_empty() {
            return Ok(None);
        }
        let n = self.claim_key.witness_items();
        let items = kickoff_items.get(..n).ok_or_else(|| format!("the Kickoff's witness has {} items, its claim takes {n}", kickoff_items.len()))?;
        match find_claim_binding_fault(&self.bindings, &self.claim_key, items, a).map_err(|e| e.to_string())? {
            None => Ok(None),
            Some(b) => Ok(Some((
                self.disprove.leaf_hashes().len() + b.binding,
                self.binding_leaves[b.binding].clone(),
                b.witness,
                format!("public input x{} asserted differs from the Kickoff's claim", b.input),
            ))),
        }
    }
}

/// A graph with every operator's program, rebuilt and checked.
pub struct Built {
    /// The graph.
    pub graph: Graph,
    /// Per operator: its program instance.
    pub instances: Vec<Instance>,
}

impl Built {
    /// Operator `i`'s claim key.
    pub fn claim_key(&self, i: usize) -> &ClaimPublicKey {
        &self.instances[i].claim_key
    }
}

fn cache() -> &'static Mutex<HashMap<GraphId, Arc<Built>>> {
    static C: OnceLock<Mutex<HashMap<GraphId, Arc<Built>>>> = OnceLock::new();
    C.get_or_init(Default::default)
}

/// Operator `i`'s keys blob, from this process's blobs.
fn keys_of(pk: &ProgramKeys, planned: &PlannedProgram, i: usize) -> Result<Vec<WotsPublicKey>, String> {
    let blob = known_blob(&pk.keys).ok_or_else(|| format!("operator {i}'s key blob {} is not here (fetch it first)", pk.keys))?;
    decode_keys(&planned.planned.commitment_params(), &blob).map_err(|e| format!("operator {i}'s keys: {e}"))
}

/// Rebuilds a graph from parameters without the programs' scripts plus each operator's program
/// keys (whose blobs must be known: [`remember_blob`]): the leaves and assert commitments are
/// regenerated (so they are what the program says), the claim script must be the claim key's.
/// `expect`: the id the sender announced.
pub fn build(params: &[u8], programs: &[ProgramKeys], expect: Option<GraphId>) -> Result<Arc<Built>, String> {
    if let Some(id) = expect {
        if let Some(b) = cache().lock().expect("cache").get(&id) {
            return Ok(b.clone());
        }
    }
    let mut p = bitvm2_txgraph::encode::decode_params(params).map_err(|e| format!("parameters: {e}"))?;
    if programs.len() != p.operators.len() {
        return Err(format!("{} program key sets for {} operators", programs.len(), p.operators.len()));
    }
    let deposit = bitvm2_txgraph::graph::deposit_outpoint(&p).map_err(|e| format!("deposit: {e}"))?;
    let mut instances = Vec::new();
    for (i, (op, pk)) in p.operators.iter_mut().zip(programs).enumerate() {
        let ck = ClaimPublicKey::from_bytes(&hex::decode(&pk.claim_key).map_err(|e| e.to_string())?).map_err(|e| format!("operator {i}'s claim key: {e}"))?;
        if op.claim.script != ck.script() {
            return Err(format!("operator {i}'s claim script is not its claim key's"));
        }
        let keys = keys_of(pk, &*planned(&pk.spec, deposit)?, i)?;
        let inst = Instance::new(&pk.spec, deposit, keys, ck).map_err(|e| format!("operator {i}'s program: {e}"))?;
        op.disprove = inst.scripts();
        instances.push(inst);
    }
    let graph = Graph::build(p).map_err(|e| e.to_string())?;
    if let Some(id) = expect {
        if graph.id() != id {
            return Err(format!("rebuilt graph id {} differs from the announced {id}", graph.id()));
        }
    }
    let b = Arc::new(Built { graph, instances });
    cache().lock().expect("cache").insert(b.graph.id(), b.clone());
    Ok(b)
}

/// Parameters without the program's scripts (what travels; the graph id covers the full ones).
pub fn strip(p: &bitvm2_txgraph::GraphParams) -> bitvm2_txgraph::GraphParams {
    let mut p = p.clone();
    for op in &mut p.operators {
        op.disprove = DisproveScripts { assert_commitments: vec![], disprove_leaves: vec![] };
    }
    p
}

/// The committed values as the mined asserts reveal them (each input's witness without the
/// graph's items: the operator's signature, script, control block).
pub fn read_from_chain(d: &Disprove, asserts: &[Transaction]) -> Result<SignedAssertion, String> {
    let w: Vec<Vec<Vec<Vec<u8>>>> = asserts
        .iter()
        .map(|tx| {
            tx.input
                .iter()
                .map(|i| {
                    let v: Vec<Vec<u8>> = i.witness.iter().map(<[u8]>::to_vec).collect();
                    v[..v.len().saturating_sub(bitvm2_txgraph::graph::budget::ASSERT_INPUT_EXTRA_ITEMS + 2)].to_vec()
                })
                .collect()
        })
        .collect();
    d.read_assertion(&w).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitvm2_disprove::setup::OperatorKeys;

    #[test]
    fn keys_blob_round_trips_and_a_wrong_length_is_named() {
        let p = planned(&ProgramSpec::Horner, OutPoint::null()).unwrap();
        let keys = OperatorKeys::new([3; 32], b"blob").public_keys(&p.planned);
        let blob = encode_keys(&keys);
        assert_eq!(decode_keys(&p.planned.commitment_params(), &blob).unwrap(), keys);
        let err = decode_keys(&p.planned.commitment_params(), &blob[1..]).unwrap_err();
        assert!(err.contains(&format!("{} bytes", blob.len() - 1)) && err.contains(&blob.len().to_string()), "{err}");
        let id = remember_blob(blob.clone());
        assert_eq!(known_blob(&id).unwrap().as_slice(), blob.as_slice());
        assert_eq!(id, bitvm2_node::peer::blob_id(&blob));
    }
}
