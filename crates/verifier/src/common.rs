//! Plumbing both daemons share: the graph records in the store, graph checks, the node's own
//! key-path wallet, MuSig2 rounds with store-backed one-time nonces, chain queries, CPFP
//! packages through the watcher's outbox, and the daemon loop.

use std::sync::Arc;
use std::time::Duration;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::{rand::SeedableRng, XOnlyPublicKey};
use bitcoin::{Amount, OutPoint, ScriptBuf, Transaction, Txid};
use bitvm2_node::peer::HandlerError;
use bitvm2_node::runtime::NodeContext;
use bitvm2_node::{BitcoinRpc, Config, HttpRpc, NodeKeys, PeerClient, PeerHandler, Role, StoreTx, Watcher};
use bitvm2_txgraph::encode::{decode_nonce_set, decode_partials, encode_nonce_set, encode_partials};
use bitvm2_txgraph::wallet::{cpfp_child, p2tr_script, sign_p2tr_keypath};
use bitvm2_txgraph::{FundingInput, Graph, NonceRound, NonceSet, PartialSigSet, Session, SignerState, Signatures};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::protocol::{round_digest, sigs_from_list};

/// kv namespace of graph records.
pub const NS_GRAPHS: &str = "graphs";
/// kv namespace of the wallet's coin list.
pub const NS_WALLET: &str = "wallet";
/// kv namespace of coins already used.
pub const NS_RESERVED: &str = "reserved";
/// kv namespace of recorded partial signatures.
pub const NS_PARTIALS: &str = "daemon-partials";
/// Fee of a CPFP child for its package (regtest).
pub const CHILD_FEE: Amount = Amount::from_sat(20_000);
/// Fee a completer adds for its own input and change.
pub const OPEN_FEE: Amount = Amount::from_sat(10_000);

/// Daemon errors.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// bitcoind.
    #[error("bitcoind: {0}")]
    Rpc(#[from] bitvm2_node::RpcError),
    /// Store.
    #[error(transparent)]
    Store(#[from] bitvm2_node::StoreError),
    /// Watcher.
    #[error(transparent)]
    Watcher(#[from] bitvm2_node::WatcherError),
    /// Graph.
    #[error("graph: {0}")]
    Graph(String),
    /// Wallet.
    #[error("wallet: {0}")]
    Wallet(String),
    /// Peer.
    #[error("peer {peer}: {detail}")]
    Peer { peer: String, detail: String },
}

impl From<bitvm2_txgraph::GraphError> for DaemonError {
    fn from(e: bitvm2_txgraph::GraphError) -> Self {
        DaemonError::Graph(e.to_string())
    }
}

/// A graph as this node stores it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GraphRecord {
    /// The compact graph message (JSON of [`crate::protocol::GraphMsg`]).
    pub graph: String,
    /// Challenge signature per operator, once known.
    pub challenge_sigs: Vec<bitcoin::secp256k1::schnorr::Signature>,
    /// Aggregated committee signatures per operator, once presigned.
    pub sigs: Vec<Vec<(bitvm2_txgraph::TaskId, bitcoin::secp256k1::schnorr::Signature)>>,
    /// Every peg-out graph presigned, checked and stored.
    pub complete: bool,
}

impl GraphRecord {
    /// Rebuilds the graph and its programs (cached per process; checks the id).
    pub fn graph(&self) -> Result<std::sync::Arc<crate::real::Built>, String> {
        let m: crate::protocol::GraphMsg = serde_json::from_str(&self.graph).map_err(|e| e.to_string())?;
        m.build()
    }

    /// Committee signatures of operator `i`'s graph.
    pub fn sigs(&self, i: usize) -> Option<Signatures> {
        self.sigs.get(i).map(|l| sigs_from_list(l))
    }
}

fn bad(e: impl ToString) -> HandlerError {
    HandlerError::BadPayload(e.to_string())
}

/// Loads a graph record.
pub fn load_record(t: &StoreTx<'_>, id: &str) -> Result<Option<GraphRecord>, HandlerError> {
    match t.kv_get(NS_GRAPHS, id)? {
        None => Ok(None),
        Some(b) => Ok(Some(serde_json::from_slice(&b).map_err(|e| HandlerError::Refused(format!("stored graph {id}: {e}")))?)),
    }
}

/// Stores a graph record.
pub fn save_record(t: &StoreTx<'_>, id: &str, r: &GraphRecord) -> Result<(), HandlerError> {
    t.kv_put(NS_GRAPHS, id, &serde_json::to_vec(r).expect("serializes"))?;
    Ok(())
}

/// All graph records.
pub fn all_records(t: &StoreTx<'_>) -> Result<Vec<(String, GraphRecord)>, bitvm2_node::StoreError> {
    Ok(t.kv_list(NS_GRAPHS)?
        .into_iter()
        .filter_map(|(k, v)| serde_json::from_slice(&v).ok().map(|r| (k, r)))
        .collect())
}

/// Checks a graph against this node's configuration before it signs anything for it: the
/// committee is exactly the configured verifiers, every operator is a configured operator paid
/// to its own key, the timelocks are the configured ones.
pub fn check_graph(cfg: &Config, g: &Graph) -> Result<(), String> {
    let p = g.params();
    let xs = |role: Role| -> Vec<XOnlyPublicKey> {
        let mut v: Vec<_> = cfg.committee.iter().filter(|m| m.role == role).filter_map(|m| m.public_key().ok()).collect();
        v.sort();
        v
    };
    let mut committee: Vec<_> = p.committee.iter().map(|k| k.x_only_public_key().0).collect();
    committee.sort();
    if committee != xs(Role::Verifier) {
        return Err("committee differs from the configured verifiers".into());
    }
    let ops = xs(Role::Operator);
    for (i, op) in p.operators.iter().enumerate() {
        let x = op.key.x_only_public_key().0;
        if !ops.contains(&x) {
            return Err(format!("operator {i} ({x}) is not a configured operator"));
        }
        if op.payout_script != p2tr_script(x) {
            return Err(format!("operator {i}: payout script does not pay its own key"));
        }
    }
    let c = &cfg.params;
    let t = p.timelocks;
    if (t.deposit_refund, t.take1, t.assert_timeout, t.take2) != (c.deposit_refund, c.take1, c.assert_timeout, c.take2) {
        return Err(format!("timelocks {t:?} differ from the configured ones"));
    }
    if p.network != bitcoin::Network::Regtest {
        return Err("only regtest is supported".into());
    }
    Ok(())
}

/// The node's own wallet script (BIP-86 key path of its key).
pub fn wallet_script(keys: &NodeKeys) -> ScriptBuf {
    p2tr_script(keys.public_key())
}

/// Spendable coins of the wallet (matured), as last scanned.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Coins(pub Vec<FundingInput>);

/// Picks an unused coin worth at least `min` and marks it used (in the caller's transaction).
pub fn take_coin(t: &StoreTx<'_>, min: Amount) -> Result<FundingInput, HandlerError> {
    let coins: Coins = t.kv_get(NS_WALLET, "coins")?.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    for c in coins.0 {
        let key = c.outpoint.to_string();
        if c.txout.value >= min && t.kv_get(NS_RESERVED, &key)?.is_none() {
            t.kv_put(NS_RESERVED, &key, b"1")?;
            return Ok(c);
        }
    }
    Err(HandlerError::Refused(format!("wallet: no unused coin of at least {min}")))
}

/// A CPFP package for a zero-fee TRUC parent, paid from the wallet.
pub fn cpfp_package(t: &StoreTx<'_>, keys: &NodeKeys, parent: Transaction) -> Result<Vec<Transaction>, HandlerError> {
    // 2 sat/vB for the package, at least CHILD_FEE.
    let fee = CHILD_FEE.max(Amount::from_sat((parent.vsize() as u64 + 200) * 2));
    let coin = take_coin(t, fee + Amount::from_sat(10_000))?;
    let (mut child, prevouts) = cpfp_child(&parent, &coin, wallet_script(keys), fee).map_err(bad)?;
    sign_p2tr_keypath(&mut child, 1, &prevouts, keys.keypair()).map_err(bad)?;
    Ok(vec![parent, child])
}

/// Adds a wallet input and change to a SINGLE|ACP transaction and signs it.
pub fn complete_with_wallet(t: &StoreTx<'_>, keys: &NodeKeys, tx: Transaction, prevouts: &[bitcoin::TxOut]) -> Result<Transaction, HandlerError> {
    // 2 sat/vB (a Disprove weighs up to 400,000 WU), at least OPEN_FEE.
    let fee = OPEN_FEE.max(Amount::from_sat((tx.vsize() as u64 + 150) * 2));
    let coin = take_coin(t, fee + Amount::from_sat(10_000))?;
    let (mut tx, all) = bitvm2_txgraph::wallet::add_funding(tx, prevouts, &coin, wallet_script(keys), fee).map_err(bad)?;
    let last = tx.input.len() - 1;
    sign_p2tr_keypath(&mut tx, last, &all, keys.keypair()).map_err(bad)?;
    Ok(tx)
}

/// Makes blob `id` known to this process: from this node's store, else fetched from the
/// committee member with key `owner` (checked by hash) and stored.
pub fn blob_from(ctx: &NodeContext, id: &str, owner: &XOnlyPublicKey) -> Result<(), String> {
    if crate::real::known_blob(id).is_some() {
        return Ok(());
    }
    if let Some(b) = ctx.store.with(|t| t.kv_get(bitvm2_node::peer::NS_BLOBS, id)).map_err(|e| e.to_string())? {
        if bitvm2_node::peer::blob_id(&b) == id {
            crate::real::remember_blob(b);
            return Ok(());
        }
    }
    let m = ctx
        .config
        .committee
        .iter()
        .find(|m| m.public_key().ok().as_ref() == Some(owner))
        .ok_or_else(|| format!("blob {id}: its owner {owner} is not in the committee"))?;
    let client = PeerClient::new(*ctx.keys.keypair(), Duration::from_millis(ctx.config.peer.request_timeout_ms.max(60_000)));
    let bytes = tokio::runtime::Handle::current()
        .block_on(client.fetch_blob(&m.url, id))
        .map_err(|e| format!("blob {id} from {}: {e}", m.name))?;
    ctx.store.with(|t| bitvm2_node::peer::put_blob(t, &bytes)).map_err(|e| e.to_string())?;
    crate::real::remember_blob(bytes);
    Ok(())
}

/// Loads every blob of this node's store into the process (after a restart, graphs rebuild from
/// them).
pub fn load_stored_blobs(store: &bitvm2_node::Store) -> Result<usize, DaemonError> {
    let all = store.with(|t| t.kv_list(bitvm2_node::peer::NS_BLOBS))?;
    let n = all.len();
    for (_, b) in all {
        crate::real::remember_blob(b);
    }
    Ok(n)
}

/// Completes a Disprove with the verifier's reward output, paying the fee (2 sat/vB, at least
/// OPEN_FEE) from the reward: the committee's signature commits to the inputs.
pub fn reward_to_wallet(keys: &NodeKeys, tx: Transaction, prevouts: &[bitcoin::TxOut]) -> Result<Transaction, HandlerError> {
    let fee = OPEN_FEE.max(Amount::from_sat((tx.vsize() as u64 + 50) * 2));
    bitvm2_txgraph::wallet::add_reward(tx, prevouts, wallet_script(keys), fee).map_err(bad)
}

/// Queues transactions (a package, parents first) for broadcast: watched and in the outbox,
/// in the caller's transaction; the watcher sends them on its next poll and keeps them sent.
pub fn queue(t: &StoreTx<'_>, txs: &[Transaction], label: &str) -> Result<Txid, HandlerError> {
    for tx in txs {
        t.watch_tx(&tx.compute_txid(), label)?;
    }
    Ok(t.outbox_add(txs, label)?)
}

fn signer(session: &Session, keys: &NodeKeys, seed: &bitvm2_node::Secret32) -> Result<(SignerState, NonceSet), HandlerError> {
    let mut rng = bitcoin::secp256k1::rand::rngs::StdRng::from_seed(*seed.expose());
    SignerState::new(session, even_keypair(keys), &mut rng).map_err(|e| HandlerError::Refused(e.to_string()))
}

/// The node's keypair with an even-y public key (same x-only key, secret negated if needed):
/// committee keys are the even lifts of the configured x-only keys.
pub fn even_keypair(keys: &NodeKeys) -> bitcoin::secp256k1::Keypair {
    let kp = *keys.keypair();
    if kp.x_only_public_key().1 == bitcoin::secp256k1::Parity::Odd {
        bitcoin::secp256k1::Keypair::from_secret_key(&bitcoin::secp256k1::Secp256k1::new(), &kp.secret_key().negate())
    } else {
        kp
    }
}

/// This node's nonce set for `session`: issued once (store counter, derived seed), the same
/// set on every later request.
pub fn nonce_set(t: &StoreTx<'_>, keys: &NodeKeys, session: &Session) -> Result<NonceSet, HandlerError> {
    let sid = session.id.to_string();
    let rec = t.issue_nonce(&sid, |counter| {
        let seed = keys.musig2_nonce_seed(&sid, counter);
        Ok::<_, HandlerError>(encode_nonce_set(&signer(session, keys, &seed)?.1))
    })?;
    decode_nonce_set(&rec.pub_nonce).map_err(|e| HandlerError::Refused(format!("stored nonce set: {e}")))
}

/// Signs `round` of `session` at most once. Same discipline as
/// `bitvm2_node::signing::musig2_sign_once`, inside the peer message's store transaction: the
/// nonce is marked spent and the partial signatures recorded in the transaction that also
/// records the answer, which commits before the answer leaves the process. The same round again
/// gets the recorded partials; any other round for a spent nonce is refused.
pub fn sign_round(t: &StoreTx<'_>, keys: &NodeKeys, session: &Session, round: &NonceRound) -> Result<PartialSigSet, HandlerError> {
    let sid = session.id.to_string();
    let message = round_digest(round);
    let rec = t.nonce(&sid)?.ok_or_else(|| HandlerError::Refused(format!("no nonce issued for session {sid}")))?;
    if rec.spent {
        if rec.message.as_deref() == Some(&message[..]) {
            if let Some(b) = t.kv_get(NS_PARTIALS, &sid)? {
                return decode_partials(&b).map_err(|e| HandlerError::Refused(e.to_string()));
            }
        }
        return Err(HandlerError::Refused(format!("nonce of session {sid} already spent on another round")));
    }
    let counter = t.spend_nonce(&sid, &message)?;
    let seed = keys.musig2_nonce_seed(&sid, counter);
    let (mut st, set) = signer(session, keys, &seed)?;
    if encode_nonce_set(&set) != rec.pub_nonce {
        return Err(HandlerError::Refused(format!("session {sid}: re-derived nonces differ from the issued ones")));
    }
    let p = st.sign(session, round).map_err(|e| HandlerError::Refused(e.to_string()))?;
    t.kv_put(NS_PARTIALS, &sid, &encode_partials(&p))?;
    Ok(p)
}

/// Everything a duty loop uses.
pub struct Env {
    /// Node context (config, keys, store).
    pub ctx: Arc<NodeContext>,
    /// Chain watcher.
    pub watcher: Watcher<HttpRpc>,
    /// bitcoind.
    pub rpc: HttpRpc,
    /// Signed peer client.
    pub client: PeerClient,
}

/// The `confirmations` of a verbose `getrawtransaction` answer (absent in the mempool: 0).
fn confirmations_of(v: &Value) -> u64 {
    v.get("confirmations").and_then(Value::as_u64).unwrap_or(0)
}

impl Env {
    /// Opens everything.
    pub fn new(ctx: NodeContext) -> Self {
        let rpc = ctx.rpc();
        let watcher = ctx.watcher();
        let client = ctx.peer_client();
        Env { ctx: Arc::new(ctx), watcher, rpc, client }
    }

    /// Confirmations of a transaction (`None`: unknown to the node; 0: in the mempool).
    pub async fn confirmations(&self, txid: &Txid) -> Result<Option<u64>, DaemonError> {
        Ok(self.verbose_tx(txid).await?.map(|v| confirmations_of(&v)))
    }

    /// A transaction and its confirmations, in one call (`None`: unknown to the node).
    pub async fn tx_and_confirmations(&self, txid: &Txid) -> Result<Option<(Transaction, u64)>, DaemonError> {
        let Some(v) = self.verbose_tx(txid).await? else { return Ok(None) };
        let unexpected = |detail: String| bitvm2_node::RpcError::Unexpected { method: "getrawtransaction".into(), detail };
        let hex = v.get("hex").and_then(Value::as_str).ok_or_else(|| unexpected(format!("{txid}: no hex field")))?;
        let tx = bitcoin::consensus::encode::deserialize_hex(hex).map_err(|e| unexpected(format!("{txid}: does not decode: {e}")))?;
        Ok(Some((tx, confirmations_of(&v))))
    }

    /// `getrawtransaction <txid> true` (the node keeps a transaction index); `None`: unknown.
    async fn verbose_tx(&self, txid: &Txid) -> Result<Option<Value>, DaemonError> {
        match self.rpc.call("getrawtransaction", vec![json!(txid.to_string()), json!(true)]).await {
            Ok(v) => Ok(Some(v)),
            Err(bitvm2_node::RpcError::Node { code: -5, .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether an output is unspent (mempool spends count as spent).
    pub async fn unspent(&self, o: &OutPoint) -> Result<bool, DaemonError> {
        Ok(self.rpc.get_tx_out(o, true).await?.is_some())
    }

    /// Current height.
    pub async fn height(&self) -> Result<u64, DaemonError> {
        Ok(self.rpc.block_count().await?)
    }

    /// Scans the chain for the wallet's matured coins and stores the list.
    pub async fn refresh_wallet(&self) -> Result<usize, DaemonError> {
        let script = wallet_script(&self.ctx.keys);
        // bitcoind runs one scan at a time (node-wide): retry while another daemon scans.
        let mut tries = 0;
        let v = loop {
            match self.rpc.call("scantxoutset", vec![json!("start"), json!([format!("raw({})", script.to_hex_string())])]).await {
                Ok(v) => break v,
                Err(bitvm2_node::RpcError::Node { code: -8, .. }) if tries < 200 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20 + (tries % 7) * 5)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let tip = self.height().await?;
        let mut coins = Vec::new();
        for u in v.get("unspents").and_then(Value::as_array).cloned().unwrap_or_default() {
            let coinbase = u.get("coinbase").and_then(Value::as_bool).unwrap_or(false);
            let height = u.get("height").and_then(Value::as_u64).unwrap_or(0);
            if coinbase && tip < height + 100 {
                continue;
            }
            let txid: Txid = u["txid"].as_str().unwrap_or_default().parse().map_err(|e| DaemonError::Wallet(format!("scantxoutset txid: {e}")))?;
            let vout = u["vout"].as_u64().unwrap_or(0) as u32;
            let value = Amount::from_btc(u["amount"].as_f64().unwrap_or(0.0)).map_err(|e| DaemonError::Wallet(e.to_string()))?;
            coins.push(FundingInput { outpoint: OutPoint { txid, vout }, txout: bitcoin::TxOut { value, script_pubkey: script.clone() } });
        }
        // Small coins last: keep big ones for payouts.
        coins.sort_by_key(|c| c.txout.value);
        let n = coins.len();
        self.ctx.store.with(|t| t.kv_put(NS_WALLET, "coins", &serde_json::to_vec(&Coins(coins)).expect("serializes")))?;
        Ok(n)
    }

    /// Sends a transaction that burns (OP_RETURN with value): `sendrawtransaction` with
    /// `maxburnamount`. Already known: Ok.
    pub async fn send_burning(&self, tx: &Transaction) -> Result<Txid, DaemonError> {
        match self.rpc.call("sendrawtransaction", vec![json!(serialize_hex(tx)), json!(0.10), json!(1.0)]).await {
            Ok(_) => Ok(tx.compute_txid()),
            Err(bitvm2_node::RpcError::Node { message, .. }) if message.contains("already") => Ok(tx.compute_txid()),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends a signed message to every member with `role` (except this node); retried by the caller.
    pub async fn send_to_role(&self, role: Role, kind: &str, payload: &[u8]) -> Result<(), DaemonError> {
        let me = self.ctx.keys.public_key();
        for m in self.ctx.config.committee.iter().filter(|m| m.role == role) {
            if m.public_key().ok() == Some(me) {
                continue;
            }
            self.client
                .send(m, kind, payload)
                .await
                .map_err(|e| DaemonError::Peer { peer: m.name.clone(), detail: e.to_string() })?;
        }
        Ok(())
    }
}

/// Runs a daemon: the peer API with `handler`, and every `poll_interval_ms` a watcher poll,
/// a wallet rescan on a new block, then `tick`. Errors of a round are logged and retried.
pub async fn run_daemon<F, Fut>(env: Arc<Env>, handler: Arc<dyn PeerHandler>, mut tick: F, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), DaemonError>
where
    F: FnMut(Arc<Env>) -> Fut,
    Fut: std::future::Future<Output = Result<(), DaemonError>>,
{
    // Graphs rebuild from the stored key blobs; statement graphs need the keys folder.
    let blobs = load_stored_blobs(&env.ctx.store)?;
    tracing::info!(blobs, "stored key blobs loaded");
    if let Some(dir) = &env.ctx.config.params.statement_keys_dir {
        crate::real::set_statement_keys_dir(dir).map_err(DaemonError::Graph)?;
    }
    // Know the wallet before answering anything that spends from it.
    let mut tries = 0;
    while let Err(e) = env.refresh_wallet().await {
        tries += 1;
        if tries > 100 {
            return Err(e);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listener = tokio::net::TcpListener::bind(env.ctx.config.node.listen)
        .await
        .map_err(|e| DaemonError::Peer { peer: env.ctx.config.node.listen.to_string(), detail: format!("bind: {e}") })?;
    let router = env.ctx.peer_api(handler).router();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(bitvm2_node::peer::serve(listener, router, async move {
        let _ = server_stop.wait_for(|s| *s).await;
    }));
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    tracing::info!(listen = %env.ctx.config.node.listen, "daemon running");
    let interval = Duration::from_millis(env.ctx.config.bitcoind.poll_interval_ms);
    let mut last_tip = None;
    loop {
        if *stop_rx.borrow() {
            break;
        }
        match env.watcher.poll_once().await {
            Ok(r) => {
                let tip = r.tip.map(|t| t.hash);
                if tip != last_tip {
                    match env.refresh_wallet().await {
                        Ok(_) => last_tip = tip,
                        Err(e) => tracing::warn!(error = %e, "wallet scan failed"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "chain poll failed"),
        }
        if let Err(e) = tick(env.clone()).await {
            tracing::warn!(error = %e, "duty round failed; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop_rx.changed() => {}
        }
    }
    let _ = server.await;
    Ok(())
}

/// Reads the daemon's records for `/status`.
pub fn graphs_status(store: &bitvm2_node::Store) -> Value {
    store
        .with(all_records)
        .map(|rs| {
            Value::Array(
                rs.into_iter()
                    .map(|(id, r)| json!({"graph_id": id, "complete": r.complete, "operators": r.sigs.len()}))
                    .collect(),
            )
        })
        .unwrap_or(Value::Null)
}
