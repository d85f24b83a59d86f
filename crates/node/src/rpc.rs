//! Our own small view of bitcoind's RPC.
//!
//! [`BitcoinRpc`] lists exactly what the daemons need from a node. [`HttpRpc`] implements it
//! with JSON-RPC over HTTP (reqwest), cookie-file or user/password authentication, and reads
//! every answer leniently as `serde_json::Value`: Core's development versions change fields
//! (31.99 dropped `bip125-replaceable`, for one) and a strict struct would break on them.
//! Errors keep Core's code and message.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::{Amount, Block, BlockHash, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use serde_json::{json, Value};

/// An RPC call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The node answered with an error: Core's code (e.g. -26 rejected, -5 not found) and
    /// message (e.g. its reject reason).
    #[error("bitcoind {method}: {message} (code {code})")]
    Node { method: String, code: i32, message: String },
    /// The node was not reached or the HTTP exchange failed.
    #[error("bitcoind {method}: transport: {detail}")]
    Transport { method: String, detail: String },
    /// The node refused our credentials (or the cookie file could not be read).
    #[error("bitcoind {method}: authentication failed: {detail}")]
    Auth { method: String, detail: String },
    /// The node answered, but not in a shape we can use.
    #[error("bitcoind {method}: unexpected answer: {detail}")]
    Unexpected { method: String, detail: String },
}

impl RpcError {
    /// Core's error code, if the node answered with one.
    pub fn code(&self) -> Option<i32> {
        match self {
            RpcError::Node { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Result type of this module.
pub type Result<T, E = RpcError> = std::result::Result<T, E>;

/// Core's verdict on one transaction in `testmempoolaccept`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolVerdict {
    /// The transaction's id.
    pub txid: Txid,
    /// Whether it would be accepted.
    pub allowed: bool,
    /// Core's reject reason (with details when Core gives them).
    pub reject_reason: Option<String>,
}

/// Core's answer to `submitpackage`.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageResult {
    /// `success` or Core's package-level message.
    pub package_msg: String,
    /// Per transaction (keyed by wtxid in Core's answer): txid if known and error if any.
    pub tx_results: Vec<(String, Option<Txid>, Option<String>)>,
    /// The raw answer.
    pub raw: Value,
}

impl PackageResult {
    /// Whether Core accepted the whole package.
    pub fn is_success(&self) -> bool {
        self.package_msg == "success"
    }
    /// A one-line summary of the errors.
    pub fn errors(&self) -> String {
        let errs: Vec<String> =
            self.tx_results.iter().filter_map(|(w, _, e)| e.as_ref().map(|e| format!("{w}: {e}"))).collect();
        format!("{}; {}", self.package_msg, errs.join("; "))
    }
}

/// An unspent output as `gettxout` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtxoInfo {
    /// Value and script.
    pub txout: TxOut,
    /// Confirmations (0 = in the mempool).
    pub confirmations: u64,
}

/// What the daemons need from bitcoind. Implemented by [`HttpRpc`]; tests may implement it
/// over a simulated chain.
pub trait BitcoinRpc: Send + Sync {
    /// The hash of the best block.
    fn best_block_hash(&self) -> impl Future<Output = Result<BlockHash>> + Send;
    /// The height of the best block.
    fn block_count(&self) -> impl Future<Output = Result<u64>> + Send;
    /// The hash of the best chain's block at `height`.
    fn block_hash(&self, height: u64) -> impl Future<Output = Result<BlockHash>> + Send;
    /// The block with this hash (raw, decoded with the `bitcoin` crate).
    fn block(&self, hash: &BlockHash) -> impl Future<Output = Result<Block>> + Send;
    /// The best chain's block at `height`.
    fn block_at(&self, height: u64) -> impl Future<Output = Result<Block>> + Send {
        async move {
            let hash = self.block_hash(height).await?;
            self.block(&hash).await
        }
    }
    /// Broadcasts one transaction.
    fn send_raw_transaction(&self, tx: &Transaction) -> impl Future<Output = Result<Txid>> + Send;
    /// Submits a package (parents first, one child last).
    fn submit_package(&self, txs: &[Transaction]) -> impl Future<Output = Result<PackageResult>> + Send;
    /// Whether these transactions (a package, parents first) would enter the mempool.
    fn test_mempool_accept(&self, txs: &[Transaction]) -> impl Future<Output = Result<Vec<MempoolVerdict>>> + Send;
    /// The unspent output at `outpoint` (`include_mempool`: mempool spends count as spent).
    fn get_tx_out(&self, outpoint: &OutPoint, include_mempool: bool) -> impl Future<Output = Result<Option<UtxoInfo>>> + Send;
    /// The transaction from the mempool or the chain (chain lookups need `-txindex`), or
    /// `None` when the node does not know it.
    fn get_raw_transaction(&self, txid: &Txid) -> impl Future<Output = Result<Option<Transaction>>> + Send;
    /// The txids in the mempool.
    fn raw_mempool(&self) -> impl Future<Output = Result<Vec<Txid>>> + Send;
}

/// How to authenticate to bitcoind. `Debug` hides the password.
#[derive(Clone)]
pub enum RpcAuth {
    /// Read `user:password` from this cookie file at each call (bitcoind rewrites it on
    /// restart).
    Cookie(PathBuf),
    /// Fixed credentials.
    UserPass(String, String),
    /// No authentication header.
    None,
}

impl std::fmt::Debug for RpcAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RpcAuth::Cookie(p) => f.debug_tuple("Cookie").field(p).finish(),
            RpcAuth::UserPass(u, _) => f.debug_tuple("UserPass").field(u).field(&"<redacted>").finish(),
            RpcAuth::None => f.write_str("None"),
        }
    }
}

/// JSON-RPC over HTTP to bitcoind.
#[derive(Debug)]
pub struct HttpRpc {
    url: String,
    auth: RpcAuth,
    http: reqwest::Client,
    next_id: AtomicU64,
}

impl HttpRpc {
    /// A client for `url` (e.g. `http://127.0.0.1:18443`).
    ///
    /// Keeps no idle connection: every call opens its own (cheap on loopback, where bitcoind
    /// runs next to the daemons). A pooled connection can be one that was opened for a call
    /// and never used (the pool handed the call an older connection that became free first);
    /// bitcoind's HTTP server (31.99) counts a connection that has not sent a byte as busy and,
    /// on `stop`, waits up to 30 s for it to close: with five daemons polling, `stop` took
    /// 30 s in about one run out of three. With no pool it takes 0.1-0.2 s.
    pub fn new(url: impl Into<String>, auth: RpcAuth) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .pool_max_idle_per_host(0)
            .build()
            .expect("reqwest client builds");
        HttpRpc { url: url.into(), auth, http, next_id: AtomicU64::new(1) }
    }

    /// From the `[bitcoind]` section of the configuration.
    pub fn from_config(c: &crate::config::BitcoindSection) -> Self {
        let auth = match (&c.cookie_file, &c.rpc_user, &c.rpc_password) {
            (Some(p), _, _) => RpcAuth::Cookie(p.clone()),
            (None, Some(u), Some(p)) => RpcAuth::UserPass(u.clone(), p.clone()),
            _ => RpcAuth::None,
        };
        Self::new(c.rpc_url.clone(), auth)
    }

    /// Calls `method` and returns the raw JSON result.
    pub async fn call(&self, method: &str, params: Vec<Value>) -> Result<Value> {
        let transport = |detail: String| RpcError::Transport { method: method.into(), detail };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "1.0", "id": id, "method": method, "params": params});
        let mut req = self.http.post(&self.url).json(&body);
        match &self.auth {
            RpcAuth::Cookie(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| RpcError::Auth {
                    method: method.into(),
                    detail: format!("cookie file {}: {e}", path.display()),
                })?;
                let (u, p) = text.trim().split_once(':').ok_or_else(|| RpcError::Auth {
                    method: method.into(),
                    detail: format!("cookie file {} is not `user:password`", path.display()),
                })?;
                req = req.basic_auth(u, Some(p));
            }
            RpcAuth::UserPass(u, p) => req = req.basic_auth(u, Some(p)),
            RpcAuth::None => {}
        }
        let resp = req.send().await.map_err(|e| transport(e.to_string()))?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(RpcError::Auth { method: method.into(), detail: format!("HTTP {status}") });
        }
        let bytes = resp.bytes().await.map_err(|e| transport(e.to_string()))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
            let mut s = String::from_utf8_lossy(&bytes).into_owned();
            s.truncate(200);
            transport(format!("HTTP {status}, body is not JSON ({e}): {s:?}"))
        })?;
        match v.get("error") {
            Some(err) if !err.is_null() => Err(RpcError::Node {
                method: method.into(),
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0) as i32,
                message: err.get("message").and_then(Value::as_str).unwrap_or("(no message)").to_owned(),
            }),
            _ => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
        }
    }
}

fn unexpected(method: &str, v: &Value) -> RpcError {
    let mut detail = v.to_string();
    detail.truncate(300);
    RpcError::Unexpected { method: method.into(), detail }
}

fn parse_str<T: std::str::FromStr>(method: &str, v: &Value) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let s = v.as_str().ok_or_else(|| unexpected(method, v))?;
    s.parse().map_err(|e: T::Err| RpcError::Unexpected { method: method.into(), detail: format!("{s:?}: {e}") })
}

fn decode_hex<T: bitcoin::consensus::Decodable>(method: &str, v: &Value) -> Result<T> {
    let s = v.as_str().ok_or_else(|| unexpected(method, v))?;
    deserialize_hex(s).map_err(|e| RpcError::Unexpected { method: method.into(), detail: format!("does not decode: {e}") })
}

impl BitcoinRpc for HttpRpc {
    async fn best_block_hash(&self) -> Result<BlockHash> {
        let v = self.call("getbestblockhash", vec![]).await?;
        parse_str("getbestblockhash", &v)
    }

    async fn block_count(&self) -> Result<u64> {
        let v = self.call("getblockcount", vec![]).await?;
        v.as_u64().ok_or_else(|| unexpected("getblockcount", &v))
    }

    async fn block_hash(&self, height: u64) -> Result<BlockHash> {
        let v = self.call("getblockhash", vec![json!(height)]).await?;
        parse_str("getblockhash", &v)
    }

    async fn block(&self, hash: &BlockHash) -> Result<Block> {
        let v = self.call("getblock", vec![json!(hash.to_string()), json!(0)]).await?;
        decode_hex("getblock", &v)
    }

    async fn send_raw_transaction(&self, tx: &Transaction) -> Result<Txid> {
        let v = self.call("sendrawtransaction", vec![json!(serialize_hex(tx))]).await?;
        parse_str("sendrawtransaction", &v)
    }

    async fn submit_package(&self, txs: &[Transaction]) -> Result<PackageResult> {
        let hexes: Vec<String> = txs.iter().map(serialize_hex).collect();
        let v = self.call("submitpackage", vec![json!(hexes)]).await?;
        let package_msg = v.get("package_msg").and_then(Value::as_str).unwrap_or("(no package_msg)").to_owned();
        let mut tx_results = Vec::new();
        if let Some(map) = v.get("tx-results").and_then(Value::as_object) {
            for (wtxid, r) in map {
                let txid = r.get("txid").and_then(Value::as_str).and_then(|s| s.parse().ok());
                let err = r.get("error").and_then(Value::as_str).map(str::to_owned);
                tx_results.push((wtxid.clone(), txid, err));
            }
        }
        Ok(PackageResult { package_msg, tx_results, raw: v })
    }

    async fn test_mempool_accept(&self, txs: &[Transaction]) -> Result<Vec<MempoolVerdict>> {
        let hexes: Vec<String> = txs.iter().map(serialize_hex).collect();
        let v = self.call("testmempoolaccept", vec![json!(hexes)]).await?;
        let arr = v.as_array().ok_or_else(|| unexpected("testmempoolaccept", &v))?;
        arr.iter()
            .map(|r| {
                Ok(MempoolVerdict {
                    txid: parse_str("testmempoolaccept", r.get("txid").unwrap_or(&Value::Null))?,
                    allowed: r.get("allowed").and_then(Value::as_bool).unwrap_or(false),
                    reject_reason: r.get("reject-reason").and_then(Value::as_str).map(|s| {
                        match r.get("reject-details").and_then(Value::as_str) {
                            Some(d) if d != s => format!("{s} ({d})"),
                            _ => s.to_owned(),
                        }
                    }),
                })
            })
            .collect()
    }

    async fn get_tx_out(&self, outpoint: &OutPoint, include_mempool: bool) -> Result<Option<UtxoInfo>> {
        let m = "gettxout";
        let v = self
            .call(m, vec![json!(outpoint.txid.to_string()), json!(outpoint.vout), json!(include_mempool)])
            .await?;
        if v.is_null() {
            return Ok(None);
        }
        let btc = v.get("value").and_then(Value::as_f64).ok_or_else(|| unexpected(m, &v))?;
        let value = Amount::from_btc(btc).map_err(|e| RpcError::Unexpected { method: m.into(), detail: e.to_string() })?;
        let hex = v.pointer("/scriptPubKey/hex").and_then(Value::as_str).ok_or_else(|| unexpected(m, &v))?;
        let script_pubkey =
            ScriptBuf::from_hex(hex).map_err(|e| RpcError::Unexpected { method: m.into(), detail: e.to_string() })?;
        let confirmations = v.get("confirmations").and_then(Value::as_u64).unwrap_or(0);
        Ok(Some(UtxoInfo { txout: TxOut { value, script_pubkey }, confirmations }))
    }

    async fn get_raw_transaction(&self, txid: &Txid) -> Result<Option<Transaction>> {
        match self.call("getrawtransaction", vec![json!(txid.to_string()), json!(0)]).await {
            Ok(v) => decode_hex("getrawtransaction", &v).map(Some),
            // -5: no such mempool or blockchain transaction.
            Err(RpcError::Node { code: -5, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn raw_mempool(&self) -> Result<Vec<Txid>> {
        let v = self.call("getrawmempool", vec![]).await?;
        let arr = v.as_array().ok_or_else(|| unexpected("getrawmempool", &v))?;
        arr.iter().map(|t| parse_str("getrawmempool", t)).collect()
    }
}
