//! The BitVM2 verifier and watchtower as a library: it answers the setup rounds (checks every
//! graph it is asked to presign, MuSig2 with store-backed one-time nonces, PegInConfirm only
//! once every peg-out graph is presigned and stored), records the side system's signed
//! withdrawal requests and the operators' payouts, checks every kickoff against them and the
//! chain, challenges a faulty one with its own coins, reads the asserts back from the chain and
//! publishes the disprove of a wrong step. It also holds what the operator daemon shares: the
//! protocol messages ([`protocol`]), graph records, wallet, signing and the daemon loop
//! ([`common`]). `docs/protocol.md` describes the protocol.

pub mod checkpoint;
pub mod common;
pub mod program;
pub mod protocol;
pub mod real;

use std::sync::Arc;

use bitcoin::secp256k1::XOnlyPublicKey;
use bitcoin::hashes::Hash;
use bitcoin::{OutPoint, Transaction, Txid};
use bitvm2_disprove::claim::ClaimFields;
use bitvm2_node::peer::HandlerError;
use bitvm2_node::runtime::NodeContext;
use bitvm2_node::{PeerHandler, StoreTx, VerifiedMessage};
use bitvm2_txgraph::encode::encode_nonce_set;
use bitvm2_txgraph::{Graph, TxKind};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use common::{
    all_records, check_graph, complete_with_wallet, load_record, reward_to_wallet, nonce_set, queue, save_record, sign_round, DaemonError, Env,
    GraphRecord,
};
use protocol::*;

/// kv namespace of withdrawal records.
pub const NS_WITHDRAWALS: &str = "withdrawals";
/// kv namespace of the verifier's per-kickoff decisions.
pub const NS_WATCH: &str = "watch";
/// kv namespace of forced challenges.
pub const NS_FORCE: &str = "force-challenge";

/// A withdrawal as a node records it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WithdrawalRecord {
    /// The signed request.
    pub signed: SignedWithdrawal,
    /// The payout the operator announced.
    pub payout: Option<OutPoint>,
}

/// What a verifier decided about one operator's kickoff (write-ahead: stored before broadcast).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WatchRecord {
    /// Why the kickoff was challenged.
    pub challenge_reason: Option<String>,
    /// The challenge it broadcast.
    pub challenge: Option<Txid>,
    /// The disprove it broadcast (full transaction, re-sent until mined).
    pub disprove: Option<Transaction>,
    /// The faulty step.
    pub disprove_leaf: Option<usize>,
    /// Asserts read and found correct.
    pub asserts_ok: bool,
    /// A timeout (KickoffTimeout or AssertTimeout) it broadcast against a stalled operator.
    pub timeout: Option<Transaction>,
}

pub(crate) fn bad(e: impl ToString) -> HandlerError {
    HandlerError::BadPayload(e.to_string())
}

/// Handles messages every node (operator or verifier) accepts the same way: stores a checked
/// withdrawal request or payout announcement. `None`: not one of these kinds.
pub fn handle_common(t: &StoreTx<'_>, side_system: Option<&XOnlyPublicKey>, msg: &VerifiedMessage) -> Result<Option<Vec<u8>>, HandlerError> {
    match msg.kind.as_str() {
        kind::WITHDRAW => {
            let w: SignedWithdrawal = decode(&msg.kind, &msg.payload).map_err(bad)?;
            let key = side_system.ok_or_else(|| HandlerError::Refused("no side-system key configured (--side-system-key)".into()))?;
            w.verify(key).map_err(bad)?;
            // The Kickoff must be able to commit the destination (the statement packs 1..=34
            // bytes): refuse a request no operator could claim back.
            ClaimFields {
                payout_txid: Txid::all_zeros(),
                amount: w.request.amount,
                destination: w.request.destination.clone(),
                checkpoint: bitcoin::BlockHash::all_zeros(),
            }
                .packed()
                .map_err(|e| HandlerError::Refused(format!("withdrawal cannot be claimed: {e}")))?;
            let id = hex::encode(w.request.id());
            let rec = load_record(t, &w.request.graph_id.to_string())?
                .ok_or_else(|| HandlerError::Refused(format!("unknown deposit {}", w.request.graph_id)))?;
            let b = rec.graph().map_err(HandlerError::Refused)?;
            b.graph.peg_out(w.request.operator as usize).map_err(bad)?;
            if t.kv_get(NS_WITHDRAWALS, &id)?.is_none() {
                t.kv_put(NS_WITHDRAWALS, &id, &encode(&WithdrawalRecord { signed: w, payout: None }))?;
            }
            Ok(Some(id.into_bytes()))
        }
        kind::PAID => {
            let p: PaidMsg = decode(&msg.kind, &msg.payload).map_err(bad)?;
            let mut rec: WithdrawalRecord = t
                .kv_get(NS_WITHDRAWALS, &p.request_id)?
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| HandlerError::Refused(format!("unknown withdrawal {}", p.request_id)))?;
            let b = load_record(t, &rec.signed.request.graph_id.to_string())?
                .ok_or_else(|| HandlerError::Refused("unknown deposit".into()))?
                .graph()
                .map_err(HandlerError::Refused)?;
            let op = b.graph.params().operators[rec.signed.request.operator as usize].key.x_only_public_key().0;
            if op != msg.sender {
                return Err(HandlerError::Refused("only the assigned operator announces its payout".into()));
            }
            rec.payout = Some(p.payout);
            t.kv_put(NS_WITHDRAWALS, &p.request_id, &encode(&rec))?;
            Ok(Some(b"ok".to_vec()))
        }
        _ => Ok(None),
    }
}

/// Checks and stores aggregated peg-out signatures ([`kind::PRESIGNED`]).
pub fn handle_presigned(t: &StoreTx<'_>, msg: &VerifiedMessage) -> Result<Vec<u8>, HandlerError> {
    let p: PresignedMsg = decode(&msg.kind, &msg.payload).map_err(bad)?;
    let id = p.graph_id.to_string();
    let mut rec = load_record(t, &id)?.ok_or_else(|| HandlerError::Refused(format!("unknown graph {id}")))?;
    let b = rec.graph().map_err(HandlerError::Refused)?;
    let g = &b.graph;
    let m = g.params().operators.len();
    if p.sigs.len() != m || p.challenge_sigs.len() != m {
        return Err(bad(format!("expected signatures for {m} operators")));
    }
    for i in 0..m {
        check_challenge_sig(g, i, &p.challenge_sigs[i])?;
        g.verify_peg_out_presigned(i, &sigs_from_list(&p.sigs[i])).map_err(|e| bad(format!("operator {i}: {e}")))?;
    }
    rec.challenge_sigs = p.challenge_sigs;
    rec.sigs = p.sigs;
    rec.complete = true;
    save_record(t, &id, &rec)?;
    Ok(b"stored".to_vec())
}

/// Checks operator `i`'s Challenge signature.
pub fn check_challenge_sig(g: &Graph, i: usize, sig: &bitcoin::secp256k1::schnorr::Signature) -> Result<(), HandlerError> {
    let task = g.operator_task(i, TxKind::Challenge, 0).map_err(bad)?;
    g.verify_single_signature(&task, sig).map_err(|e| bad(format!("operator {i}'s Challenge signature: {e}")))
}

/// The long part of receiving a graph ([`kind::GRAPH`]), before the store transaction: every
/// operator's program is the one this node runs, its key blob is known (from this node's store,
/// else fetched from the operator and checked by hash, then stored), and the graph is rebuilt
/// (cached, so [`receive_graph`] finds it). Other kinds: nothing to do.
pub fn prepare_graph(ctx: &NodeContext, msg: &VerifiedMessage) -> Result<(), HandlerError> {
    if msg.kind != kind::GRAPH {
        return Ok(());
    }
    let gm: GraphMsg = decode(&msg.kind, &msg.payload).map_err(bad)?;
    let want = real::ProgramSpec::configured(&ctx.config);
    for (i, pk) in gm.programs.iter().enumerate() {
        if pk.spec != want {
            return Err(HandlerError::Refused(format!("operator {i}'s graph carries program {:?}, this node runs {want:?}", pk.spec)));
        }
    }
    let params = bitvm2_txgraph::encode::decode_params(&hex::decode(&gm.params).map_err(bad)?).map_err(bad)?;
    if params.operators.len() != gm.programs.len() {
        return Err(bad(format!("{} program key sets for {} operators", gm.programs.len(), params.operators.len())));
    }
    for (op, pk) in params.operators.iter().zip(&gm.programs) {
        common::blob_from(ctx, &pk.keys, &op.key.x_only_public_key().0).map_err(HandlerError::Refused)?;
    }
    gm.build().map_err(|e| bad(format!("graph: {e}")))?;
    Ok(())
}

/// Receives a graph in compact form, regenerates every operator's program scripts, rebuilds
/// and checks it; stores it unless known. Returns it.
pub fn receive_graph(t: &StoreTx<'_>, ctx: &NodeContext, msg: &VerifiedMessage) -> Result<Arc<real::Built>, HandlerError> {
    let gm: GraphMsg = decode(&msg.kind, &msg.payload).map_err(bad)?;
    let b = gm.build().map_err(|e| bad(format!("graph: {e}")))?;
    let g = &b.graph;
    check_graph(&ctx.config, g).map_err(|e| HandlerError::Refused(format!("graph {}: {e}", g.id())))?;
    let id = g.id().to_string();
    if load_record(t, &id)?.is_none() {
        save_record(t, &id, &GraphRecord { graph: serde_json::to_string(&gm).expect("serializes"), ..Default::default() })?;
    }
    Ok(b)
}

/// The verifier's peer handler.
pub struct VerifierHandler {
    ctx: Arc<NodeContext>,
    side_system: Option<XOnlyPublicKey>,
}

impl VerifierHandler {
    /// A handler over the node context; `side_system` is the key withdrawal requests are signed with.
    pub fn new(ctx: Arc<NodeContext>, side_system: Option<XOnlyPublicKey>) -> Self {
        VerifierHandler { ctx, side_system }
    }
}

impl PeerHandler for VerifierHandler {
    fn prepare(&self, msg: &VerifiedMessage) -> Result<(), HandlerError> {
        prepare_graph(&self.ctx, msg)
    }

    fn handle(&self, t: &StoreTx<'_>, msg: &VerifiedMessage) -> Result<Vec<u8>, HandlerError> {
        if let Some(a) = handle_common(t, self.side_system.as_ref(), msg)? {
            return Ok(a);
        }
        let keys = &self.ctx.keys;
        match msg.kind.as_str() {
            kind::GRAPH => {
                let b = receive_graph(t, &self.ctx, msg)?;
                let sets = sessions(&b.graph)
                    .map_err(bad)?
                    .iter()
                    .map(|s| nonce_set(t, keys, s).map(|n| hex::encode(encode_nonce_set(&n))))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(encode(&GraphReply::Nonces(sets)))
            }
            kind::SIGN => {
                let s: SignMsg = decode(&msg.kind, &msg.payload).map_err(bad)?;
                let id = s.graph_id.to_string();
                let mut rec = load_record(t, &id)?.ok_or_else(|| HandlerError::Refused(format!("unknown graph {id}")))?;
                let b = rec.graph().map_err(HandlerError::Refused)?;
                let g = &b.graph;
                let m = g.params().operators.len();
                if s.rounds.len() != m || s.challenge_sigs.len() != m {
                    return Err(bad(format!("expected {m} rounds and challenge signatures")));
                }
                // Without a valid Challenge signature nobody could challenge: Take1 would be
                // unconditional. Refuse to presign such a graph.
                for i in 0..m {
                    check_challenge_sig(g, i, &s.challenge_sigs[i])?;
                }
                let sess = sessions(g).map_err(bad)?;
                let mut out = Vec::new();
                for (i, (round, session)) in s.rounds.iter().zip(&sess).enumerate() {
                    if round.session != session.id {
                        return Err(bad(format!("round {i} is for another session")));
                    }
                    out.push(sign_round(t, keys, session, round)?);
                }
                rec.challenge_sigs = s.challenge_sigs;
                save_record(t, &id, &rec)?;
                Ok(encode(&PartialsReply(out)))
            }
            kind::PRESIGNED => handle_presigned(t, msg),
            kind::SIGN_PEGIN => {
                let s: SignPegInMsg = decode(&msg.kind, &msg.payload).map_err(bad)?;
                let id = s.graph_id.to_string();
                let rec = load_record(t, &id)?.ok_or_else(|| HandlerError::Refused(format!("unknown graph {id}")))?;
                if !rec.complete {
                    return Err(HandlerError::Refused(format!(
                        "graph {id}: PegInConfirm is signed only after every peg-out graph is presigned and stored here"
                    )));
                }
                let b = rec.graph().map_err(HandlerError::Refused)?;
                let sess = sessions(&b.graph).map_err(bad)?;
                let last = sess.last().expect("peg-in session");
                if s.round.session != last.id {
                    return Err(bad("round is not the PegInConfirm session"));
                }
                Ok(encode(&PartialsReply(vec![sign_round(t, keys, last, &s.round)?])))
            }
            kind::FORCE_CHALLENGE => {
                if msg.sender != keys.public_key() {
                    return Err(HandlerError::Refused("only this node's admin may force a challenge".into()));
                }
                let f: ForceChallengeMsg = decode(&msg.kind, &msg.payload).map_err(bad)?;
                t.kv_put(NS_FORCE, &format!("{}:{}", f.graph_id, f.operator), b"1")?;
                Ok(b"ok".to_vec())
            }
            other => Err(HandlerError::UnknownKind(other.into())),
        }
    }

    fn status(&self) -> Value {
        let watch = self
            .ctx
            .store
            .with(|t| t.kv_list(NS_WATCH))
            .map(|l| {
                l.into_iter()
                    .filter_map(|(k, v)| serde_json::from_slice::<WatchRecord>(&v).ok().map(|r| (k, r)))
                    .map(|(k, r)| {
                        json!({"kickoff": k, "challenge": r.challenge.map(|x| x.to_string()),
                               "challenge_reason": r.challenge_reason,
                               "disprove": r.disprove.map(|x| x.compute_txid().to_string()),
                               "disprove_leaf": r.disprove_leaf, "asserts_ok": r.asserts_ok,
                               "timeout": r.timeout.map(|x| x.compute_txid().to_string())})
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        json!({"role": "verifier", "graphs": common::graphs_status(&self.ctx.store), "watch": watch})
    }
}

/// Matches the claim a Kickoff commits against operator's withdrawal records (`mine`): the
/// record whose announced payout is the committed txid, and whose amount and destination are
/// the committed ones. `Err` says why no record backs the claim; `Ok` gives the payout to check
/// on chain and the request it must pay.
pub fn match_claim<'a>(committed: &ClaimFields, mine: &'a [WithdrawalRecord]) -> Result<(OutPoint, &'a WithdrawalRequest), String> {
    let mut reason = None;
    for r in mine {
        let Some(p) = r.payout else { continue };
        if p.txid != committed.payout_txid {
            continue;
        }
        let req = &r.signed.request;
        if committed.amount != req.amount {
            reason.get_or_insert(format!("the Kickoff commits amount {} for payout {}, the request asks {}", committed.amount, p.txid, req.amount));
        } else if committed.destination != req.destination {
            reason.get_or_insert(format!(
                "the Kickoff commits destination {} for payout {}, the request asks {}",
                committed.destination.to_hex_string(),
                p.txid,
                req.destination.to_hex_string()
            ));
        } else {
            return Ok((p, req));
        }
    }
    Err(reason.unwrap_or_else(|| format!("the Kickoff commits payout {}, which no withdrawal request of this operator announced", committed.payout_txid)))
}

/// Why a kickoff of operator `i` in graph `gid` is not backed by a valid payout (`None`: valid).
/// The Kickoff commits (Winternitz, read from the mined Kickoff's witness) the payout txid, the
/// amount, the destination and the checkpoint; the first three must be a request's announced
/// payout, amount and destination ([`match_claim`]), that payout must pay them and be
/// confirmed (spent since or not), and the checkpoint must be the parent of the payout's block on our chain
/// ([`checkpoint::check_checkpoint`]).
async fn claim_fault(env: &Env, gid: &str, b: &real::Built, i: u32) -> Result<Option<String>, DaemonError> {
    let recs: Vec<WithdrawalRecord> = env.ctx.store.with(|t| t.kv_list(NS_WITHDRAWALS))?.into_iter().filter_map(|(_, v)| serde_json::from_slice(&v).ok()).collect();
    let mine: Vec<_> = recs.into_iter().filter(|r| r.signed.request.graph_id.to_string() == gid && r.signed.request.operator == i).collect();
    if mine.is_empty() {
        return Ok(Some("no withdrawal request assigned to this operator for this deposit".into()));
    }
    let kickoff = b.graph.peg_out(i as usize)?.kickoff.txid();
    let Some(ktx) = bitvm2_node::BitcoinRpc::get_raw_transaction(&env.rpc, &kickoff).await? else {
        return Ok(None);
    };
    let items: Vec<Vec<u8>> = ktx.input[0].witness.iter().map(<[u8]>::to_vec).collect();
    let ck = b.claim_key(i as usize);
    let n = ck.witness_items();
    let committed = match items.get(..n).map(|w| ck.read(w)) {
        Some(Ok(c)) => c,
        Some(Err(e)) => return Ok(Some(format!("the Kickoff's claim commitment does not read back: {e}"))),
        None => return Ok(Some(format!("the Kickoff's witness has {} items, its claim commitment takes {n}", items.len()))),
    };
    let (p, req) = match match_claim(&committed, &mine) {
        Ok(m) => m,
        Err(reason) => return Ok(Some(reason)),
    };
    // The payout transaction itself (the node keeps a transaction index), not the output: the
    // user may well have spent what it was paid before the kickoff is checked.
    let finality = u64::from(env.ctx.config.params.finality_depth.max(1));
    let (pays, confirmations) = match env.tx_and_confirmations(&p.txid).await? {
        Some((tx, c)) => (tx.output.get(p.vout as usize).is_some_and(|o| o.script_pubkey == req.destination && o.value == req.amount), c),
        None => (false, 0),
    };
    if pays && confirmations >= finality {
        let parent = checkpoint::payout_checkpoint(&env.rpc, &p.txid, confirmations)
            .await?
            .ok_or_else(|| DaemonError::Graph(format!("the block that confirmed payout {} was not found on our chain", p.txid)))?;
        return Ok(checkpoint::check_checkpoint(&committed, &parent).err());
    }
    Ok(Some(format!("the Kickoff commits payout {p}, which does not pay the request's destination and amount with enough confirmations")))
}

/// One round of the verifier's duties over every complete graph.
pub async fn verifier_tick(env: Arc<Env>) -> Result<(), DaemonError> {
    let records = env.ctx.store.with(all_records)?;
    for (gid, rec) in records.into_iter().filter(|(_, r)| r.complete) {
        let b = rec.graph().map_err(DaemonError::Graph)?;
        for i in 0..b.graph.params().operators.len() {
            watch_kickoff(&env, &gid, &b, &rec, i).await?;
        }
    }
    Ok(())
}

async fn watch_kickoff(env: &Env, gid: &str, b: &real::Built, rec: &GraphRecord, i: usize) -> Result<(), DaemonError> {
    let g = &b.graph;
    let po = g.peg_out(i)?;
    let key = format!("{gid}:{i}");
    let kickoff = po.kickoff.txid();
    let kc = match env.confirmations(&kickoff).await? {
        None | Some(0) => return Ok(()),
        Some(c) => c,
    };
    let mut w: WatchRecord = env.ctx.store.with(|t| t.kv_get(NS_WATCH, &key))?.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let sigs = rec.sigs(i).ok_or_else(|| DaemonError::Graph("no signatures".into()))?;
    // 1. Challenge a kickoff that no valid payout backs.
    if w.challenge.is_none() && w.challenge_reason.is_none() && env.unspent(&po.kickoff.outpoint(0)).await? {
        let forced = env.ctx.store.with(|t| t.kv_get(NS_FORCE, &key))?.is_some();
        let fault = if forced { Some("challenge forced by this node's admin".to_string()) } else { claim_fault(env, gid, b, i as u32).await? };
        if let Some(reason) = fault {
            let base = g.challenge_tx(i, &rec.challenge_sigs[i])?;
            let prevout = po.challenge.inputs[0].prevout.clone();
            let keys = &env.ctx.keys;
            let txid = env.ctx.store.transaction(|t| {
                let tx = complete_with_wallet(t, keys, base, &[prevout]).map_err(|e| DaemonError::Wallet(e.to_string()))?;
                let txid = tx.compute_txid();
                w.challenge = Some(txid);
                w.challenge_reason = Some(reason.clone());
                t.kv_put(NS_WATCH, &key, &encode(&w))?;
                queue(t, &[tx], "challenge").map_err(|e| DaemonError::Wallet(e.to_string()))?;
                Ok::<_, DaemonError>(txid)
            })?;
            tracing::warn!(graph = gid, operator = i, %txid, reason, "kickoff challenged");
            env.watcher.poll_once().await?;
        }
    }
    // 2. Slash a stalled operator with the presigned timeouts (burns; the watcher adds a coin).
    let height = env.height().await?;
    let t2 = u64::from(g.params().timelocks.assert_timeout);
    if let Some(tx) = &w.timeout {
        if env.confirmations(&tx.compute_txid()).await?.is_none() && env.unspent(&tx.input[0].previous_output).await? {
            env.send_burning(tx).await?;
        }
    } else {
        let kickoff_height = height + 1 - kc;
        let ai_height = env.confirmations(&po.assert_initial.txid()).await?.filter(|c| *c > 0).map(|c| height + 1 - c);
        let due = if env.unspent(&po.kickoff.outpoint(1)).await? && height + 1 >= kickoff_height + t2 {
            Some(("KickoffTimeout", g.kickoff_timeout_tx(i, &sigs)?, po.kickoff_timeout.inputs[0].prevout.clone()))
        } else if ai_height.is_some_and(|h| height + 1 >= h + t2) && env.unspent(&po.assert_initial.outpoint(0)).await? {
            Some(("AssertTimeout", g.assert_timeout_tx(i, &sigs)?, po.assert_timeout.inputs[0].prevout.clone()))
        } else {
            None
        };
        if let Some((what, base, prevout)) = due {
            let keys = &env.ctx.keys;
            let tx = env.ctx.store.transaction(|t| {
                let tx = complete_with_wallet(t, keys, base, &[prevout]).map_err(|e| DaemonError::Wallet(e.to_string()))?;
                w.timeout = Some(tx.clone());
                t.kv_put(NS_WATCH, &key, &encode(&w))?;
                t.watch_tx(&tx.compute_txid(), what)?;
                Ok::<_, DaemonError>(tx)
            })?;
            tracing::warn!(graph = gid, operator = i, txid = %tx.compute_txid(), what, "operator stalled; stake slashed");
            env.send_burning(&tx).await?;
        }
    }
    // 3. After AssertFinal: read the asserts, disprove a wrong step.
    if let Some(tx) = &w.disprove {
        if env.confirmations(&tx.compute_txid()).await?.is_none() && env.unspent(&po.assert_final.outpoint(0)).await? {
            env.send_burning(tx).await?;
        }
        return Ok(());
    }
    if w.asserts_ok || env.confirmations(&po.assert_final.txid()).await?.unwrap_or(0) == 0 {
        return Ok(());
    }
    let lap = std::time::Instant::now();
    let mut asserts = Vec::new();
    for a in &po.asserts {
        let tx = bitvm2_node::BitcoinRpc::get_raw_transaction(&env.rpc, &a.txid()).await?.ok_or_else(|| DaemonError::Graph(format!("assert {} not found", a.txid())))?;
        asserts.push(tx);
    }
    // Another verifier's Disprove already spends the assert connector: nothing to add.
    if !env.unspent(&po.assert_final.outpoint(0)).await? {
        return Ok(());
    }
    let fetch_secs = lap.elapsed().as_secs_f64();
    let lap = std::time::Instant::now();
    let inst = &b.instances[i];
    let signed = real::read_from_chain(&inst.disprove, &asserts).map_err(DaemonError::Graph)?;
    let read_secs = lap.elapsed().as_secs_f64();
    let kickoff = bitvm2_node::BitcoinRpc::get_raw_transaction(&env.rpc, &po.kickoff.txid())
        .await?
        .ok_or_else(|| DaemonError::Graph(format!("kickoff {} not found", po.kickoff.txid())))?;
    let kickoff_items: Vec<Vec<u8>> = kickoff.input[0].witness.iter().map(<[u8]>::to_vec).collect();
    let lap = std::time::Instant::now();
    let found = inst.find_disprove(&signed, &kickoff_items).map_err(DaemonError::Graph)?;
    let search_secs = lap.elapsed().as_secs_f64();
    tracing::info!(graph = gid, operator = i, asserts = asserts.len(), fetch_secs, read_secs, search_secs, "assertion read from chain and searched");
    match found {
        None => {
            w.asserts_ok = true;
            env.ctx.store.with(|t| t.kv_put(NS_WATCH, &key, &encode(&w)))?;
            tracing::info!(graph = gid, operator = i, "asserts read back: every step correct, nothing to disprove");
        }
        Some((leaf, script, witness, why)) => {
            let base = g.disprove_tx(i, leaf, &script, &sigs, witness)?;
            let prevouts: Vec<bitcoin::TxOut> = po.disprove.inputs.iter().map(|x| x.prevout.clone()).collect();
            let keys = &env.ctx.keys;
            let tx = env.ctx.store.transaction(|t| {
                let tx = reward_to_wallet(keys, base, &prevouts).map_err(|e| DaemonError::Wallet(e.to_string()))?;
                w.disprove = Some(tx.clone());
                w.disprove_leaf = Some(leaf);
                t.kv_put(NS_WATCH, &key, &encode(&w))?;
                t.watch_tx(&tx.compute_txid(), "disprove")?;
                Ok::<_, DaemonError>(tx)
            })?;
            tracing::warn!(graph = gid, operator = i, leaf, why, weight = tx.weight().to_wu(), txid = %tx.compute_txid(), "wrong step found; disprove");
            env.send_burning(&tx).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::{Amount, ScriptBuf};
    use bitvm2_txgraph::toy::test_key;
    use bitvm2_txgraph::GraphId;

    fn dest(b: u8) -> ScriptBuf {
        ScriptBuf::from_bytes([&[0x51, 0x20][..], &[b; 32]].concat())
    }

    fn record(nonce: u64, amount: u64, destination: ScriptBuf, payout: Option<u8>) -> WithdrawalRecord {
        let request = WithdrawalRequest { graph_id: GraphId([1; 32]), operator: 0, destination, amount: Amount::from_sat(amount), nonce };
        WithdrawalRecord { signed: request.sign(&test_key(b"side")), payout: payout.map(|b| OutPoint { txid: Txid::from_byte_array([b; 32]), vout: 0 }) }
    }

    fn claim(payout: u8, amount: u64, destination: ScriptBuf) -> ClaimFields {
        ClaimFields {
            payout_txid: Txid::from_byte_array([payout; 32]),
            amount: Amount::from_sat(amount),
            destination,
            checkpoint: bitcoin::BlockHash::from_byte_array([0xcc; 32]),
        }
    }

    #[test]
    fn the_claim_must_be_an_announced_payout_with_its_requests_amount_and_destination() {
        let mine = vec![record(1, 300_000, dest(1), Some(7)), record(2, 500_000, dest(2), None)];
        // Honest: the announced payout, the request's amount and destination.
        let (p, req) = match_claim(&claim(7, 300_000, dest(1)), &mine).unwrap();
        assert_eq!((p.txid, req.nonce), (Txid::from_byte_array([7; 32]), 1));
        // Right payout, another amount (more, or less).
        for sat in [300_001, 1] {
            let e = match_claim(&claim(7, sat, dest(1)), &mine).unwrap_err();
            assert!(e.contains("commits amount") && e.contains("the request asks 0.00300000 BTC"), "{e}");
        }
        // Right payout and amount, another destination.
        let e = match_claim(&claim(7, 300_000, dest(2)), &mine).unwrap_err();
        assert!(e.contains("commits destination") && e.contains(&dest(1).to_hex_string()), "{e}");
        // A payout nobody announced (the second request has none), and the no-payout claim.
        let e = match_claim(&claim(8, 500_000, dest(2)), &mine).unwrap_err();
        assert!(e.contains("no withdrawal request of this operator announced"), "{e}");
        assert!(match_claim(&ClaimFields::no_payout(), &mine).is_err());
        assert!(match_claim(&claim(7, 300_000, dest(1)), &[]).is_err());
    }

    #[test]
    fn a_payout_announced_for_two_requests_matches_the_one_the_claim_names() {
        // Two requests announce the same payout txid (e.g. a payout with two outputs): the
        // claim's amount and destination choose which one it must pay.
        let mine = vec![record(1, 300_000, dest(1), Some(7)), record(2, 500_000, dest(2), Some(7))];
        assert_eq!(match_claim(&claim(7, 500_000, dest(2)), &mine).unwrap().1.nonce, 2);
        assert_eq!(match_claim(&claim(7, 300_000, dest(1)), &mine).unwrap().1.nonce, 1);
        // A mix of the two is no request's.
        assert!(match_claim(&claim(7, 300_000, dest(2)), &mine).is_err());
    }
}
