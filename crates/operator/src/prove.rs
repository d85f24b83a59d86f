//! The operator's assertion when it is challenged: the program inputs it commits.
//!
//! With the statement program the inputs are a Groth16 proof of the statement circuit (the
//! payout transaction pays the request, is in a block that extends the checkpoint by the
//! circuit's header chain) with the claim's public inputs and the residue witness. The proof is
//! made once, from the operator's own node, and the committed values derived from it are kept
//! in the store: a second proof would have other values, and the one-time Winternitz keys must
//! never sign two.

use std::sync::{Arc, Mutex, OnceLock};

use ark_bn254::{Bn254, Fq12, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::One;
use ark_groth16::{Proof, ProvingKey};
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, OutPoint, ScriptBuf, Txid};
use bitvm2_disprove::groth16::residue::ResidueWitness;
use bitvm2_disprove::program::Val;
use bitvm2_node::BitcoinRpc;
use bitvm2_statement::program::{program_inputs, program_inputs_with_witness, StatementProgram};
use bitvm2_statement::{keys, Claim, StatementWitness};
use bitvm2_verifier::checkpoint::confirming_block_at;
use bitvm2_verifier::common::{DaemonError, Env};
use bitvm2_verifier::real;

/// The proving key, loaded once per process (about 200 MB).
fn proving_key() -> Result<Arc<ProvingKey<Bn254>>, DaemonError> {
    static PK: OnceLock<Mutex<Option<Arc<ProvingKey<Bn254>>>>> = OnceLock::new();
    let slot = PK.get_or_init(Default::default);
    if let Some(pk) = slot.lock().expect("pk").as_ref() {
        return Ok(pk.clone());
    }
    let dir = real::statement_keys_dir().map_err(DaemonError::Graph)?;
    let t = std::time::Instant::now();
    let pk = Arc::new(keys::load_pk(dir, &real::statement_params()).map_err(|e| DaemonError::Graph(format!("statement proving key: {e}")))?);
    tracing::info!(secs = t.elapsed().as_secs_f64(), "statement proving key loaded");
    *slot.lock().expect("pk") = Some(pk.clone());
    Ok(pk)
}

/// The claim of an operator that paid nobody (fault injection): the Kickoff's
/// `ClaimFields::no_payout` on this deposit.
fn no_payout_claim(deposit: OutPoint) -> Claim {
    Claim {
        deposit,
        amount: bitcoin::Amount::ZERO,
        destination: ScriptBuf::from_bytes(vec![bitcoin::opcodes::all::OP_RETURN.to_u8()]),
        payout_txid: Txid::all_zeros(),
        checkpoint: BlockHash::all_zeros(),
    }
}

/// Program inputs of an operator that cannot prove (fault injection: it made no payout): the
/// group generators as "proof" and a residue witness of 1. Every step is computed honestly from
/// them, so the only wrong value is the final check, which a verifier's leaf disproves.
pub fn unprovable_inputs(sp: &StatementProgram) -> Result<Vec<Val>, DaemonError> {
    let proof = Proof::<Bn254> { a: G1Affine::generator(), b: G2Affine::generator(), c: G1Affine::generator() };
    let witness = ResidueWitness { c: Fq12::one(), c_inv: Fq12::one(), wi_power: 0 };
    program_inputs_with_witness(sp, &proof, &no_payout_claim(sp.deposit), &witness).map_err(|e| DaemonError::Graph(format!("assertion inputs: {e}")))
}

/// The honest program inputs for a paid withdrawal: the statement proof of `payout` paying
/// `destination` `amount`, with the checkpoint the Kickoff committed (the parent of the
/// payout's block). `None` while the chain does not yet hold the circuit's header count after
/// the checkpoint.
pub async fn proven_inputs(env: &Env, sp: &StatementProgram, payout: OutPoint, amount: bitcoin::Amount, destination: ScriptBuf) -> Result<Option<Vec<Val>>, DaemonError> {
    let params = real::statement_params();
    let tx = env.rpc.get_raw_transaction(&payout.txid).await?.ok_or_else(|| DaemonError::Graph(format!("payout {} not found", payout.txid)))?;
    let confirmations = env.confirmations(&payout.txid).await?.unwrap_or(0);
    let Some((height, block)) = confirming_block_at(&env.rpc, &payout.txid, confirmations).await? else {
        return Err(DaemonError::Graph(format!("the block that confirmed payout {} was not found", payout.txid)));
    };
    let last = height + params.num_headers as u64 - 1;
    if env.rpc.block_count().await? < last {
        return Ok(None);
    }
    let mut headers = vec![block.header];
    for h in height + 1..=last {
        headers.push(env.rpc.block_at(h).await?.header);
    }
    let claim = Claim { deposit: sp.deposit, amount, destination, payout_txid: payout.txid, checkpoint: block.header.prev_blockhash };
    let witness = StatementWitness::build(&params, claim.clone(), &tx, &block, &headers).map_err(|e| DaemonError::Graph(format!("statement witness: {e}")))?;
    let pk = proving_key()?;
    let t = std::time::Instant::now();
    let proof = tokio::task::spawn_blocking(move || keys::prove(&pk, &params, &witness, &mut rand::rngs::OsRng))
        .await
        .map_err(|e| DaemonError::Graph(format!("prover: {e}")))?
        .map_err(|e| DaemonError::Graph(format!("statement proof: {e}")))?;
    tracing::info!(payout = %payout.txid, secs = t.elapsed().as_secs_f64(), "statement proved");
    Ok(Some(program_inputs(sp, &proof, &claim).map_err(|e| DaemonError::Graph(format!("assertion inputs: {e}")))?))
}
