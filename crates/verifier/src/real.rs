//! The first real chunked program of `crates/disprove` (`first_program()`: BN254 Horner
//! evaluation, Winternitz commitments, 32 disprove leaves, 6 TRUC asserts), planned for this
//! graph's shapes, as the daemons use it. Every party derives the leaves and assert layout from
//! the program and the operator's Winternitz public keys: the graph's wire form carries the keys,
//! not the ~12.5 MB of leaf scripts, and a party that regenerates them also checks them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bitcoin::Transaction;
use bitvm2_disprove::claim::ClaimPublicKey;
use bitvm2_disprove::layout::AssertShape;
use bitvm2_disprove::setup::{Disprove, Planned, SignedAssertion};
use bitvm2_disprove::wots::WotsPublicKey;
use bitvm2_txgraph::{DisproveScripts, Graph, GraphId};
use serde::{Deserialize, Serialize};

/// The program planned with the graph's numbers (once per process).
pub fn planned() -> Result<Planned, String> {
    static P: OnceLock<Result<Planned, String>> = OnceLock::new();
    P.get_or_init(|| {
        let (program, _) = bitvm2_disprove::programs::first_program();
        let limits = bitvm2_txgraph::program::chunk_limits();
        Planned::new(program, limits).map_err(|e| e.to_string())
    })
    .clone()
}

/// Assert transactions as the graph builds them (TRUC, at most 10,000 vB).
pub fn shape() -> AssertShape {
    bitvm2_txgraph::program::assert_shape()
}

/// The operator's program instance from its Winternitz public keys.
pub fn disprove(keys: Vec<WotsPublicKey>) -> Result<Disprove, String> {
    planned()?.with_keys_hashed(keys, shape(), &|_, _| {}).map_err(|e| e.to_string())
}

/// What the graph takes.
pub fn scripts(d: &Disprove) -> DisproveScripts {
    bitvm2_txgraph::program::disprove_scripts(d)
}

/// An operator's program keys as they travel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgramKeys {
    /// Winternitz public keys of every committed value.
    pub keys: Vec<WotsPublicKey>,
    /// Claim key (hex of `ClaimPublicKey::to_bytes`): the Kickoff commits the withdrawal claim (payout txid, amount, destination, checkpoint) with it.
    pub claim_key: String,
}

/// A graph with every operator's program, rebuilt and checked.
pub struct Built {
    /// The graph.
    pub graph: Graph,
    /// Per operator: its program instance.
    pub disproves: Vec<Disprove>,
    /// Per operator: its claim key.
    pub claim_keys: Vec<ClaimPublicKey>,
}

fn cache() -> &'static Mutex<HashMap<GraphId, Arc<Built>>> {
    static C: OnceLock<Mutex<HashMap<GraphId, Arc<Built>>>> = OnceLock::new();
    C.get_or_init(Default::default)
}

/// Rebuilds a graph from parameters without leaves plus each operator's program keys: the
/// leaves and assert commitments are regenerated (so they are what the program says), the
/// claim script must be the claim key's. `expect`: the id the sender announced.
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
    let mut disproves = Vec::new();
    let mut claim_keys = Vec::new();
    for (i, (op, pk)) in p.operators.iter_mut().zip(programs).enumerate() {
        let d = disprove(pk.keys.clone()).map_err(|e| format!("operator {i}'s program: {e}"))?;
        op.disprove = scripts(&d);
        let ck = ClaimPublicKey::from_bytes(&hex::decode(&pk.claim_key).map_err(|e| e.to_string())?).map_err(|e| format!("operator {i}'s claim key: {e}"))?;
        if op.claim.script != ck.script() {
            return Err(format!("operator {i}'s claim script is not its claim key's"));
        }
        disproves.push(d);
        claim_keys.push(ck);
    }
    let graph = Graph::build(p).map_err(|e| e.to_string())?;
    if let Some(id) = expect {
        if graph.id() != id {
            return Err(format!("rebuilt graph id {} differs from the announced {id}", graph.id()));
        }
    }
    let b = Arc::new(Built { graph, disproves, claim_keys });
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
