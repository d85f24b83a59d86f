//! The BitVM2 operator as a library: it offers its part of every deposit's graph (stake, claim
//! coin, program commitments), hands over its Challenge signature, stores the presigned graph,
//! and then runs its duties as a state machine kept in the store: pay a withdrawal assigned to
//! it from its own coins, announce the payout, kick off, wait T1 and Take1; if challenged,
//! post AssertInitial, the asserts and AssertFinal and Take2 after T3. Presigned transactions
//! pay their fees by CPFP children from its wallet; every broadcast goes through the watcher's
//! outbox (re-sent until mined), decided in the store first.

mod prove;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use bitcoin::secp256k1::{Message, Secp256k1, XOnlyPublicKey};
use bitcoin::{Amount, OutPoint, Transaction, TxIn, TxOut};
use bitvm2_node::peer::HandlerError;
use bitvm2_node::runtime::NodeContext;
use bitvm2_node::{PeerHandler, Role, StoreTx, VerifiedMessage};
use bitvm2_disprove::claim::{ClaimFields, ClaimSecretKey};
use bitvm2_disprove::setup::OperatorKeys;
use bitvm2_verifier::real;
use bitvm2_txgraph::wallet::{p2tr_script, sign_p2tr_keypath};
use bitvm2_txgraph::{claim_funding_script, kickoff_funding_amount, Graph, OperatorParams, SigningTask, TxKind};
use bitvm2_verifier::common::{all_records, cpfp_package, load_record, queue, take_coin, wallet_script, DaemonError, Env, OPEN_FEE};
use bitvm2_verifier::protocol::*;
use bitvm2_verifier::{handle_common, handle_presigned, receive_graph, WithdrawalRecord, NS_WITHDRAWALS};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// kv namespace: offers made (deposit request id -> seed and params).
pub const NS_OFFERS: &str = "offers";
/// kv namespace: duties (one per withdrawal or claim).
pub const NS_DUTIES: &str = "duties";
/// kv namespace: fault injection, withdrawals whose Kickoff commits another amount (request id
/// -> extra satoshis, from [`kind::MISCLAIM`]).
pub const NS_MISCLAIMS: &str = "misclaims";
/// kv namespace: the committed values of a duty's assertion (duty id -> JSON list), decided
/// once: the one-time keys never sign two assertions.
pub const NS_ASSERTIONS: &str = "assertions";

/// An offer this operator made for a deposit request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Offer {
    /// Seed of its program secrets (derived from its master seed and the request id).
    pub program_seed: String,
    /// Domain of its program keys (the deposit request id, hex).
    pub domain: String,
    /// What it offered (without the program scripts).
    pub params: OperatorParams,
    /// Its program keys.
    pub program: real::ProgramKeys,
}

impl Offer {
    fn secrets(&self) -> Result<(OperatorKeys, ClaimSecretKey), String> {
        let seed: [u8; 32] = hex::decode(&self.program_seed).map_err(|e| e.to_string())?.try_into().map_err(|_| "seed length".to_string())?;
        let domain = hex::decode(&self.domain).map_err(|e| e.to_string())?;
        Ok((OperatorKeys::new(seed, &domain), ClaimSecretKey::derive(&seed, &domain)))
    }
}

/// One duty: a withdrawal to front and claim back (or, fault injection, a claim without one).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Duty {
    /// Deposit graph.
    pub graph_id: String,
    /// This operator's index in it.
    pub operator: usize,
    /// The withdrawal request (None: a claim without payout).
    pub request: Option<String>,
    /// Commit a wrong final value in the asserts (fault injection).
    pub wrong_asserts: bool,
    /// Payout output, once decided.
    pub payout: Option<OutPoint>,
    /// Payout announced to the verifiers.
    pub announced: bool,
    /// Steps whose transactions were queued.
    pub sent: BTreeSet<String>,
    /// Where it stands (for /status).
    pub state: String,
}

fn bad(e: impl ToString) -> HandlerError {
    HandlerError::BadPayload(e.to_string())
}

fn my_index(g: &Graph, me: &XOnlyPublicKey) -> Option<usize> {
    g.params().operators.iter().position(|o| o.key.x_only_public_key().0 == *me)
}

fn op_task(g: &Graph, i: usize, tx: TxKind, input: u32) -> Result<SigningTask, String> {
    g.operator_task(i, tx, input).map_err(|e| e.to_string())
}

fn sign_task(task: &SigningTask, kp: &bitcoin::secp256k1::Keypair) -> bitcoin::secp256k1::schnorr::Signature {
    Secp256k1::new().sign_schnorr_no_aux_rand(&Message::from_digest(task.sighash), kp)
}

/// The operator's peer handler.
pub struct OperatorHandler {
    ctx: Arc<NodeContext>,
    side_system: Option<XOnlyPublicKey>,
}

impl OperatorHandler {
    /// A handler over the node context.
    pub fn new(ctx: Arc<NodeContext>, side_system: Option<XOnlyPublicKey>) -> Self {
        OperatorHandler { ctx, side_system }
    }

    fn offer(&self, t: &StoreTx<'_>, req: DepositRequest) -> Result<Vec<u8>, HandlerError> {
        let rid = hex::encode(req.id());
        if let Some(b) = t.kv_get(NS_OFFERS, &rid)? {
            let o: Offer = serde_json::from_slice(&b).map_err(bad)?;
            return Ok(encode(&OperatorOffer { params: o.params, program: o.program }));
        }
        let keys = &self.ctx.keys;
        let seed = keys.derive("program", &req.id());
        let prog = offer_program(&self.ctx, &req).map_err(HandlerError::Refused)?;
        bitvm2_node::peer::put_blob(t, &prog.blob)?;
        let program = prog.keys.clone();
        let claim = ClaimSecretKey::derive(seed.expose(), &req.id());
        let key = keys.keypair().public_key();
        let mut params = OperatorParams {
            key,
            payout_script: p2tr_script(keys.public_key()),
            kickoff_funding: bitvm2_txgraph::FundingInput { outpoint: OutPoint::null(), txout: TxOut::NULL },
            stake: Amount::from_sat(2_000_000),
            challenge_amount: Amount::from_sat(10_000),
            // Pays the Disprove's fee (it cannot take a fee input): up to 100,000 vB at 2 sat/vB.
            disprover_reward: Amount::from_sat(400_000),
            watcher_reward: Amount::from_sat(20_000),
            claim: bitvm2_txgraph::ClaimCommitment { script: claim.public_key().script() },
            disprove: prog.scripts.clone(),
        };
        // The stake pays the commitment outputs: the amount depends on the program's layout.
        let probe = req.params(vec![]);
        let value = kickoff_funding_amount(&probe, &params).map_err(bad)?;
        let script = claim_funding_script(&Secp256k1::verification_only(), &params).map_err(bad)?;
        let coin = take_coin(t, value + OPEN_FEE + Amount::from_sat(1_000))?;
        let change = coin.txout.value - value - OPEN_FEE;
        let mut tx = Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![TxIn { previous_output: coin.outpoint, sequence: bitcoin::Sequence::ENABLE_RBF_NO_LOCKTIME, ..Default::default() }],
            output: vec![TxOut { value, script_pubkey: script }, TxOut { value: change, script_pubkey: wallet_script(keys) }],
        };
        sign_p2tr_keypath(&mut tx, 0, std::slice::from_ref(&coin.txout), keys.keypair()).map_err(bad)?;
        params.kickoff_funding = bitvm2_txgraph::FundingInput { outpoint: OutPoint { txid: tx.compute_txid(), vout: 0 }, txout: tx.output[0].clone() };
        queue(t, &[tx], "claim-coin")?;
        params.disprove = bitvm2_txgraph::DisproveScripts { assert_commitments: vec![], disprove_leaves: vec![] };
        let offer = Offer { program_seed: hex::encode(seed.expose()), domain: hex::encode(req.id()), params: params.clone(), program: program.clone() };
        t.kv_put(NS_OFFERS, &rid, &encode(&offer))?;
        Ok(encode(&OperatorOffer { params, program }))
    }
}

/// Records a [`kind::MISCLAIM`] switch: the Kickoff of withdrawal `m.request_id` will commit
/// its amount plus `m.extra_sat`. Refused for a zero offset, a malformed id, or a withdrawal
/// whose Kickoff is already signed (its claim is fixed).
fn misclaim(t: &StoreTx<'_>, m: &MisclaimMsg) -> Result<(), HandlerError> {
    if m.extra_sat == 0 {
        return Err(HandlerError::Refused("misclaim: extra_sat 0 commits the request's own amount".into()));
    }
    if hex::decode(&m.request_id).map(|b| b.len()) != Ok(32) {
        return Err(bad(format!("misclaim: request id {:?} is not 32 bytes of hex", m.request_id)));
    }
    if let Some(b) = t.kv_get(NS_DUTIES, &m.request_id)? {
        let d: Duty = serde_json::from_slice(&b).map_err(bad)?;
        if d.sent.contains("kickoff") {
            return Err(HandlerError::Refused(format!("misclaim: withdrawal {}'s Kickoff is already signed", m.request_id)));
        }
    }
    t.kv_put(NS_MISCLAIMS, &m.request_id, &encode(&m.extra_sat))?;
    Ok(())
}

/// The program part of an offer for a deposit request: the operator's Winternitz public keys
/// (as a blob) and the scripts they give. Computed before the store transaction (a Groth16
/// program's keys and leaves take seconds) and kept for the process.
struct OfferProgram {
    keys: real::ProgramKeys,
    blob: Vec<u8>,
    scripts: bitvm2_txgraph::DisproveScripts,
}

fn offer_program(ctx: &NodeContext, req: &DepositRequest) -> Result<Arc<OfferProgram>, String> {
    static C: OnceLock<Mutex<HashMap<[u8; 32], Arc<OfferProgram>>>> = OnceLock::new();
    let cache = C.get_or_init(Default::default);
    let rid = req.id();
    if let Some(p) = cache.lock().expect("offer cache").get(&rid) {
        return Ok(p.clone());
    }
    let spec = real::ProgramSpec::configured(&ctx.config);
    let deposit = bitvm2_txgraph::graph::deposit_outpoint(&req.params(vec![])).map_err(|e| format!("deposit: {e}"))?;
    let planned = real::planned(&spec, deposit)?;
    let seed = ctx.keys.derive("program", &rid);
    let wots = OperatorKeys::new(*seed.expose(), &rid);
    let claim = ClaimSecretKey::derive(seed.expose(), &rid);
    let t = std::time::Instant::now();
    let keys = wots.public_keys(&planned.planned);
    let blob = real::encode_keys(&keys);
    let inst = real::Instance::new(&spec, deposit, keys, claim.public_key())?;
    let p = Arc::new(OfferProgram {
        keys: real::ProgramKeys { spec, keys: real::remember_blob(blob.clone()), claim_key: hex::encode(claim.public_key().to_bytes()) },
        blob,
        scripts: inst.scripts(),
    });
    tracing::info!(secs = t.elapsed().as_secs_f64(), leaves = p.scripts.disprove_leaves.len(), "offer program keys and leaves");
    cache.lock().expect("offer cache").insert(rid, p.clone());
    Ok(p)
}

fn stripped(p: &OperatorParams) -> OperatorParams {
    let mut p = p.clone();
    p.disprove = bitvm2_txgraph::DisproveScripts { assert_commitments: vec![], disprove_leaves: vec![] };
    p
}

fn find_offer(t: &StoreTx<'_>, params: &OperatorParams) -> Result<Option<Offer>, HandlerError> {
    let p = stripped(params);
    Ok(t.kv_list(NS_OFFERS)?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice::<Offer>(&v).ok())
        .find(|o| o.params == p))
}

impl PeerHandler for OperatorHandler {
    fn prepare(&self, msg: &VerifiedMessage) -> Result<(), HandlerError> {
        if msg.kind == kind::OFFER {
            let req: DepositRequest = decode(&msg.kind, &msg.payload).map_err(bad)?;
            offer_program(&self.ctx, &req).map_err(HandlerError::Refused)?;
            return Ok(());
        }
        bitvm2_verifier::prepare_graph(&self.ctx, msg)
    }

    fn handle(&self, t: &StoreTx<'_>, msg: &VerifiedMessage) -> Result<Vec<u8>, HandlerError> {
        let me = self.ctx.keys.public_key();
        if let Some(a) = handle_common(t, self.side_system.as_ref(), msg)? {
            if msg.kind == kind::WITHDRAW {
                let id = String::from_utf8_lossy(&a).to_string();
                let rec: WithdrawalRecord = serde_json::from_slice(&t.kv_get(NS_WITHDRAWALS, &id)?.unwrap_or_default()).map_err(bad)?;
                let r = &rec.signed.request;
                let b = load_record(t, &r.graph_id.to_string())?.ok_or_else(|| HandlerError::Refused("unknown deposit".into()))?.graph().map_err(HandlerError::Refused)?;
                if my_index(&b.graph, &me) == Some(r.operator as usize) && t.kv_get(NS_DUTIES, &id)?.is_none() {
                    let d = Duty { graph_id: r.graph_id.to_string(), operator: r.operator as usize, request: Some(id.clone()), state: "assigned".into(), ..Default::default() };
                    t.kv_put(NS_DUTIES, &id, &encode(&d))?;
                }
            }
            return Ok(a);
        }
        match msg.kind.as_str() {
            kind::OFFER => {
                let req: DepositRequest = decode(&msg.kind, &msg.payload).map_err(bad)?;
                self.offer(t, req)
            }
            kind::GRAPH => {
                let b = receive_graph(t, &self.ctx, msg)?;
                let g = &b.graph;
                let i = my_index(g, &me).ok_or_else(|| HandlerError::Refused("this operator is not in the graph".into()))?;
                // The graph must carry exactly what this operator offered.
                find_offer(t, &g.params().operators[i])?
                    .ok_or_else(|| HandlerError::Refused(format!("graph {}: operator {i}'s parameters are not what this operator offered", g.id())))?;
                let task = op_task(g, i, TxKind::Challenge, 0).map_err(bad)?;
                Ok(encode(&GraphReply::ChallengeSig { operator: i as u32, sig: sign_task(&task, self.ctx.keys.keypair()) }))
            }
            kind::PRESIGNED => handle_presigned(t, msg),
            kind::CHEAT => {
                if msg.sender != me {
                    return Err(HandlerError::Refused("only this node's admin may inject faults".into()));
                }
                let c: CheatMsg = decode(&msg.kind, &msg.payload).map_err(bad)?;
                let gid = c.graph_id.to_string();
                let b = load_record(t, &gid)?.ok_or_else(|| HandlerError::Refused("unknown deposit".into()))?.graph().map_err(HandlerError::Refused)?;
                let i = my_index(&b.graph, &me).ok_or_else(|| HandlerError::Refused("not in graph".into()))?;
                let id = format!("cheat-{gid}");
                let d = Duty { graph_id: gid, operator: i, request: None, wrong_asserts: c.wrong_asserts, state: "assigned".into(), ..Default::default() };
                t.kv_put(NS_DUTIES, &id, &encode(&d))?;
                Ok(id.into_bytes())
            }
            kind::MISCLAIM => {
                if msg.sender != me {
                    return Err(HandlerError::Refused("only this node's admin may inject faults".into()));
                }
                let m: MisclaimMsg = decode(&msg.kind, &msg.payload).map_err(bad)?;
                misclaim(t, &m)?;
                Ok(b"ok".to_vec())
            }
            other => Err(HandlerError::UnknownKind(other.into())),
        }
    }

    fn status(&self) -> Value {
        let duties = self
            .ctx
            .store
            .with(|t| t.kv_list(NS_DUTIES))
            .map(|l| {
                l.into_iter()
                    .filter_map(|(k, v)| serde_json::from_slice::<Duty>(&v).ok().map(|d| json!({"id": k, "graph_id": d.graph_id, "operator": d.operator, "state": d.state, "sent": d.sent, "payout": d.payout.map(|p| p.to_string())})))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        json!({"role": "operator", "graphs": bitvm2_verifier::common::graphs_status(&self.ctx.store), "duties": duties})
    }
}

/// One round of the operator's duties.
pub async fn operator_tick(env: Arc<Env>) -> Result<(), DaemonError> {
    let duties: Vec<(String, Duty)> = env
        .ctx
        .store
        .with(|t| t.kv_list(NS_DUTIES))?
        .into_iter()
        .filter_map(|(k, v)| serde_json::from_slice(&v).ok().map(|d| (k, d)))
        .collect();
    for (id, d) in duties {
        if d.state.starts_with("done") {
            continue;
        }
        if let Err(e) = step(&env, &id, d).await {
            tracing::warn!(duty = id, error = %e, "duty step failed; retrying");
        }
    }
    Ok(())
}

fn save(env: &Env, id: &str, d: &Duty) -> Result<(), DaemonError> {
    env.ctx.store.with(|t| t.kv_put(NS_DUTIES, id, &encode(d)))?;
    Ok(())
}

/// Queues a zero-fee presigned transaction with its CPFP child (a package), decided in the same
/// store transaction as the duty's new state.
fn send_package(env: &Env, id: &str, d: &mut Duty, label: &str, parent: Transaction) -> Result<(), DaemonError> {
    let keys = &env.ctx.keys;
    let mut next = d.clone();
    next.sent.insert(label.to_string());
    next.state = format!("sent {label}");
    env.ctx.store.transaction(|t| {
        let pkg = cpfp_package(t, keys, parent).map_err(|e| DaemonError::Wallet(e.to_string()))?;
        queue(t, &pkg, label).map_err(|e| DaemonError::Wallet(e.to_string()))?;
        t.kv_put(NS_DUTIES, id, &encode(&next))?;
        Ok::<_, DaemonError>(())
    })?;
    *d = next;
    tracing::info!(duty = id, step = label, "queued");
    Ok(())
}

/// What the Kickoff of duty `d` claims: its payout, the request's amount and destination and
/// the checkpoint (the parent of the payout's confirming block, read from our node), or
/// [`ClaimFields::no_payout`] for a claim without a withdrawal (fault injection); with a
/// [`kind::MISCLAIM`] switch for the request, the amount plus the switch's extra satoshis
/// (fault injection: the payout itself pays the request as asked).
async fn claimed_fields(env: &Env, d: &Duty) -> Result<ClaimFields, DaemonError> {
    let (Some(rid), Some(payout)) = (&d.request, d.payout) else { return Ok(ClaimFields::no_payout()) };
    let (rec, extra) = env.ctx.store.with(|t| Ok((t.kv_get(NS_WITHDRAWALS, rid)?, t.kv_get(NS_MISCLAIMS, rid)?)))?;
    let rec: WithdrawalRecord = rec
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| DaemonError::Graph(format!("withdrawal {rid} not stored")))?;
    let r = rec.signed.request;
    let mut amount = r.amount;
    if let Some(b) = extra {
        let extra: u64 = serde_json::from_slice(&b).map_err(|e| DaemonError::Graph(format!("misclaim record of {rid}: {e}")))?;
        amount = amount
            .checked_add(Amount::from_sat(extra))
            .ok_or_else(|| DaemonError::Graph(format!("misclaim of {rid}: {} + {extra} sat overflows", r.amount)))?;
        tracing::warn!(duty = rid, requested = %r.amount, committed = %amount, "fault injection: the Kickoff commits another amount than the request's");
    }
    let confirmations = env.confirmations(&payout.txid).await?.unwrap_or(0);
    let checkpoint = bitvm2_verifier::checkpoint::payout_checkpoint(&env.rpc, &payout.txid, confirmations)
        .await?
        .ok_or_else(|| DaemonError::Graph(format!("the block that confirmed payout {} was not found", payout.txid)))?;
    Ok(ClaimFields { payout_txid: payout.txid, amount, destination: r.destination, checkpoint })
}

/// The committed values of duty `id`'s assertion, decided once and kept in the store with every
/// Winternitz message recorded before anything is signed (a second, different assertion is
/// refused by the one-time key records). `None` while the statement proof cannot be made yet.
async fn assertion(env: &Env, id: &str, d: &Duty, inst: &real::Instance) -> Result<Option<Vec<bitvm2_disprove::program::Committed>>, DaemonError> {
    if let Some(b) = env.ctx.store.with(|t| t.kv_get(NS_ASSERTIONS, id))? {
        return serde_json::from_slice(&b).map(Some).map_err(|e| DaemonError::Graph(format!("stored assertion of {id}: {e}")));
    }
    let inputs = match &inst.planned.statement {
        // The honest input is a root of the program's polynomial; a wrong one is not, and every
        // value computed from it honestly makes the last step (the claim) wrong.
        None => {
            let (_, root) = bitvm2_disprove::programs::first_program();
            vec![vec![if d.wrong_asserts { bitvm2_disprove::programs::fq_from_label("not a root", 0) } else { root }]]
        }
        Some(sp) => match (&d.request, d.payout) {
            (Some(rid), Some(payout)) if !d.wrong_asserts => {
                let rec: WithdrawalRecord = env
                    .ctx
                    .store
                    .with(|t| t.kv_get(NS_WITHDRAWALS, rid))?
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .ok_or_else(|| DaemonError::Graph(format!("withdrawal {rid} not stored")))?;
                let r = rec.signed.request;
                match prove::proven_inputs(env, sp, payout, r.amount, r.destination).await? {
                    Some(inputs) => inputs,
                    None => return Ok(None),
                }
            }
            _ => prove::unprovable_inputs(sp)?,
        },
    };
    let committed = inst.disprove.honest_commitments(&inputs).map_err(|e| DaemonError::Graph(e.to_string()))?;
    let (gid, i) = (&d.graph_id, d.operator);
    env.ctx.store.transaction(|t| {
        for (k, m) in committed.iter().enumerate() {
            t.record_winternitz(&format!("{gid}/assert/{i}/{k}"), m)?;
        }
        t.kv_put(NS_ASSERTIONS, id, &encode(&committed))?;
        Ok::<_, DaemonError>(())
    })?;
    tracing::info!(duty = id, values = committed.len(), "assertion decided");
    Ok(Some(committed))
}

async fn step(env: &Env, id: &str, mut d: Duty) -> Result<(), DaemonError> {
    let keys = &env.ctx.keys;
    let rec = env.ctx.store.with(all_records)?.into_iter().find(|(k, _)| *k == d.graph_id).map(|(_, r)| r);
    let Some(rec) = rec else { return Ok(()) };
    if !rec.complete {
        return Ok(());
    }
    let built = rec.graph().map_err(DaemonError::Graph)?;
    let g = &built.graph;
    let i = d.operator;
    let sigs = rec.sigs(i).ok_or_else(|| DaemonError::Graph("no signatures".into()))?;
    let po = g.peg_out(i)?.clone();
    let tl = g.params().timelocks;
    let finality = u64::from(env.ctx.config.params.finality_depth.max(1));

    // 1. Pay the withdrawal from our own coins.
    if let Some(rid) = d.request.clone() {
        if d.payout.is_none() {
            let rec: WithdrawalRecord = env
                .ctx
                .store
                .with(|t| t.kv_get(NS_WITHDRAWALS, &rid))?
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| DaemonError::Graph(format!("withdrawal {rid} not stored")))?;
            let r = rec.signed.request;
            env.ctx.store.transaction(|t| {
                let coin = take_coin(t, r.amount + OPEN_FEE + Amount::from_sat(1_000)).map_err(|e| DaemonError::Wallet(e.to_string()))?;
                let mut tx = Transaction {
                    version: bitcoin::transaction::Version::TWO,
                    lock_time: bitcoin::absolute::LockTime::ZERO,
                    input: vec![TxIn { previous_output: coin.outpoint, sequence: bitcoin::Sequence::ENABLE_RBF_NO_LOCKTIME, ..Default::default() }],
                    output: vec![
                        TxOut { value: r.amount, script_pubkey: r.destination.clone() },
                        TxOut { value: coin.txout.value - r.amount - OPEN_FEE, script_pubkey: wallet_script(keys) },
                    ],
                };
                sign_p2tr_keypath(&mut tx, 0, std::slice::from_ref(&coin.txout), keys.keypair()).map_err(|e| DaemonError::Wallet(e.to_string()))?;
                d.payout = Some(OutPoint { txid: tx.compute_txid(), vout: 0 });
                d.state = "payout sent".into();
                queue(t, &[tx], "payout").map_err(|e| DaemonError::Wallet(e.to_string()))?;
                t.kv_put(NS_DUTIES, id, &encode(&d))?;
                Ok::<_, DaemonError>(())
            })?;
            tracing::info!(duty = id, payout = %d.payout.unwrap(), "payout queued");
            return Ok(());
        }
        let payout = d.payout.expect("set");
        if env.confirmations(&payout.txid).await?.unwrap_or(0) < finality {
            return Ok(());
        }
        if !d.announced {
            env.send_to_role(Role::Verifier, kind::PAID, &encode(&PaidMsg { request_id: rid.clone(), payout })).await?;
            d.announced = true;
            d.state = "payout confirmed and announced".into();
            save(env, id, &d)?;
        }
    }

    // 2. Kickoff.
    let offer: Offer = env
        .ctx
        .store
        .with(|t| t.kv_list(NS_OFFERS))?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice::<Offer>(&v).ok())
        .find(|o| o.params == stripped(&g.params().operators[i]))
        .ok_or_else(|| DaemonError::Graph("no offer for this graph".into()))?;
    let (wots, claim) = offer.secrets().map_err(DaemonError::Graph)?;
    let kickoff_conf = env.confirmations(&po.kickoff.txid()).await?;
    if !d.sent.contains("kickoff") {
        let sig = sign_task(&op_task(g, i, TxKind::Kickoff, 0).map_err(DaemonError::Graph)?, keys.keypair());
        // The Kickoff commits (Winternitz) to the withdrawal claim: payout txid, amount and
        // destination of the request, and the checkpoint (the payout block's parent); a claim
        // without payout commits one that pays nobody.
        let claimed = claimed_fields(env, &d).await?;
        let messages = claimed.packed().map_err(|e| DaemonError::Graph(format!("claim: {e}")))?;
        // One-time keys (one per claim field): every message is recorded before anything is
        // signed; another message for a used key is refused (nothing is signed then).
        env.ctx.store.with(|t| {
            for (k, m) in messages.iter().enumerate() {
                t.record_winternitz(&format!("{}/claim/{i}/{k}", d.graph_id), m)?;
            }
            Ok(())
        })?;
        let witness = claim.sign(&claimed).map_err(|e| DaemonError::Graph(format!("claim: {e}")))?;
        let tx = g.kickoff_tx(i, &sig, witness)?;
        env.ctx.store.with(|t| t.watch_outpoint(&po.kickoff.outpoint(0), "challenge-connector"))?;
        return send_package(env, id, &mut d, "kickoff", tx);
    }
    let Some(kc) = kickoff_conf.filter(|c| *c > 0) else { return Ok(()) };
    let height = env.height().await?;
    let kickoff_height = height + 1 - kc;

    // 3. Unchallenged: Take1 after T1.
    let take1_conf = env.confirmations(&po.take1.txid()).await?;
    if let Some(c) = take1_conf {
        if c > 0 {
            d.state = "done: Take1".into();
            save(env, id, &d)?;
        }
        return Ok(());
    }
    let challenged = !env.unspent(&po.kickoff.outpoint(0)).await?;
    if !challenged {
        if height + 1 >= kickoff_height + u64::from(tl.take1) && !d.sent.contains("take1") {
            let tx = g.take1_tx(i, &sigs)?;
            return send_package(env, id, &mut d, "take1", tx);
        }
        if d.state != "kicked off, waiting T1" && !d.sent.contains("take1") {
            d.state = "kicked off, waiting T1".into();
            save(env, id, &d)?;
        }
        return Ok(());
    }

    // 4. Challenged: assert.
    if !d.sent.contains("assert-initial") {
        let sig = sign_task(&op_task(g, i, TxKind::AssertInitial, 0).map_err(DaemonError::Graph)?, keys.keypair());
        let tx = g.assert_initial_tx(i, &sigs, &sig)?;
        return send_package(env, id, &mut d, "assert-initial", tx);
    }
    if env.confirmations(&po.assert_initial.txid()).await?.unwrap_or(0) == 0 {
        return Ok(());
    }
    // The lanes that make the commitment outputs, once AssertInitial is mined.
    for (l, lane) in po.lanes.iter().enumerate() {
        let label = format!("assert-lane-{l}");
        if !d.sent.contains(&label) {
            let sig = sign_task(&op_task(g, i, TxKind::AssertLane(l as u32), 0).map_err(DaemonError::Graph)?, keys.keypair());
            send_package(env, id, &mut d, &label, g.assert_lane_tx(i, l, &sig)?)?;
        }
        if env.confirmations(&lane.txid()).await?.unwrap_or(0) == 0 {
            return Ok(());
        }
    }
    let unsent: Vec<usize> = (0..po.asserts.len()).filter(|k| !d.sent.contains(&format!("assert-{k}"))).collect();
    if !unsent.is_empty() {
        let inst = &built.instances[i];
        let Some(committed) = assertion(env, id, &d, inst).await? else { return Ok(()) };
        for &k in &unsent {
            let w = wots.assert_witness(&inst.disprove, &committed, k).map_err(|e| DaemonError::Graph(e.to_string()))?;
            let op_sigs = (0..w.len())
                .map(|j| op_task(g, i, TxKind::Assert(k as u32), j as u32).map(|t| sign_task(&t, keys.keypair())))
                .collect::<Result<Vec<_>, _>>()
                .map_err(DaemonError::Graph)?;
            let tx = g.assert_tx(i, k, &op_sigs, w)?;
            // Each package needs a confirmed wallet coin for its child: when they run out, the
            // rest go out after the next block (a block holds about ten asserts anyway).
            if let Err(e) = send_package(env, id, &mut d, &format!("assert-{k}"), tx) {
                tracing::info!(duty = id, assert = k, error = %e, "assert deferred to a later round");
                break;
            }
        }
    }
    for a in &po.asserts {
        if env.confirmations(&a.txid()).await?.unwrap_or(0) == 0 {
            return Ok(());
        }
    }
    if !d.sent.contains("assert-final") {
        let op_sigs = (1..po.assert_final.inputs.len())
            .map(|j| op_task(g, i, TxKind::AssertFinal, j as u32).map(|t| sign_task(&t, keys.keypair())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(DaemonError::Graph)?;
        let tx = g.assert_final_tx(i, &sigs, &op_sigs)?;
        return send_package(env, id, &mut d, "assert-final", tx);
    }
    let Some(fc) = env.confirmations(&po.assert_final.txid()).await?.filter(|c| *c > 0) else { return Ok(()) };
    let final_height = height + 1 - fc;
    if let Some(c) = env.confirmations(&po.take2.txid()).await? {
        if c > 0 {
            d.state = "done: Take2".into();
            save(env, id, &d)?;
        }
        return Ok(());
    }
    // Spent in a block (not only in the mempool) by something else than our Take2: disproved.
    if bitvm2_node::BitcoinRpc::get_tx_out(&env.rpc, &po.assert_final.outpoint(0), false).await?.is_none() {
        d.state = "done: disproved, stake slashed".into();
        save(env, id, &d)?;
        return Ok(());
    }
    if height + 1 >= final_height + u64::from(tl.take2) && !d.sent.contains("take2") {
        let tx = g.take2_tx(i, &sigs)?;
        return send_package(env, id, &mut d, "take2", tx);
    }
    if d.state != "asserted, waiting T3" && !d.sent.contains("take2") {
        d.state = "asserted, waiting T3".into();
        save(env, id, &d)?;
    }
    Ok(())
}

/// The duty records (for tools and tests).
pub fn duties(store: &bitvm2_node::Store) -> Result<Vec<(String, Duty)>, bitvm2_node::StoreError> {
    Ok(store.with(|t| t.kv_list(NS_DUTIES))?.into_iter().filter_map(|(k, v)| serde_json::from_slice(&v).ok().map(|d| (k, d))).collect())
}
