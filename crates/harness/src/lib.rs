//! Regtest harness: a real Bitcoin Core node per test.
//!
//! [`Regtest`] starts the project's own `bitcoind` build (see `regtest/build-bitcoind.sh`) on a
//! free loopback RPC port with a temporary datadir, no P2P listening, default relay policy and a
//! transaction index, and kills it on drop, also when the test panics. It offers what protocol
//! tests need from a node with no wallet: mining on demand, funding an address we hold the keys
//! for with a mature coinbase, mempool acceptance checks with Core's own reject reasons, package
//! submission, confirmations, reorgs and restarts that keep the chain. Process management is
//! `corepc-node`'s; RPC answers are read leniently as JSON so that field changes in Core's
//! development versions cannot break the harness.

mod exe;
mod rpc;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::{Address, Amount, Block, BlockHash, Network, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use corepc_node::{Conf, Node, P2P};
use serde_json::{json, Value};

pub use exe::{bitcoind_exe, default_cache_dir};
pub use rpc::RpcError;

/// Everything that can go wrong while driving a regtest node.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// No usable bitcoind binary was found.
    #[error("no bitcoind binary: {0}")]
    NoBitcoind(String),
    /// bitcoind did not come up; carries what the process printed on stderr.
    #[error("bitcoind failed to start: {reason}\n--- bitcoind stderr ---\n{stderr}")]
    Start { reason: String, stderr: String },
    /// The node answered an RPC with an error.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The node answered, but not in the shape we expected.
    #[error("unexpected answer to `{method}`: {detail}")]
    Unexpected { method: String, detail: String },
    /// A filesystem operation on the node's datadir failed.
    #[error("I/O on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Shorthand result type of this crate.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

/// The flags every harness node runs with: regtest, index of all transactions, default relay
/// policy (no `-acceptnonstdtxn`), RPC on loopback only. Ports, datadir and `-listen=0` are
/// added by `corepc-node`.
pub const NODE_ARGS: &[&str] = &[
    "-regtest",
    "-txindex=1",
    "-rpcbind=127.0.0.1",
    "-rpcallowip=127.0.0.1",
    "-fallbackfee=0.0001",
    "-printtoconsole=0",
    "-debug=0",
];

/// A coin that the harness created for a test: a mature coinbase output paying the requested
/// script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funded {
    /// The coinbase output.
    pub outpoint: OutPoint,
    /// Its value and script.
    pub txout: TxOut,
}

impl Funded {
    /// An unsigned version-2 transaction spending this coin alone (RBF, no lock time, empty
    /// witness) to `outputs`; the caller fills in the witness.
    pub fn spend_to(&self, outputs: Vec<TxOut>) -> bitcoin::Transaction {
        bitcoin::Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![bitcoin::TxIn {
                previous_output: self.outpoint,
                script_sig: bitcoin::ScriptBuf::new(),
                sequence: bitcoin::Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: bitcoin::Witness::new(),
            }],
            output: outputs,
        }
    }
}

/// Core's verdict on one transaction in `testmempoolaccept`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolVerdict {
    /// The transaction's id.
    pub txid: Txid,
    /// Whether it would be accepted.
    pub allowed: bool,
    /// Core's reject reason when not allowed (e.g. `non-BIP68-final`).
    pub reject_reason: Option<String>,
    /// Core's virtual size when allowed.
    pub vsize: Option<u64>,
}

/// Where a transaction stands from the node's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// Neither in the mempool nor in the active chain.
    Unknown,
    /// In the mempool, unconfirmed.
    Mempool,
    /// In the active chain with this many confirmations (at least 1).
    Confirmed(u32),
}

/// A running regtest bitcoind owned by one test. Killed on drop; its datadir is removed then.
pub struct Regtest {
    node: Option<Node>,
    exe: PathBuf,
    // The flags added to NODE_ARGS at start, kept for restarts.
    extra_args: Vec<String>,
    // The first RPC endpoint and cookie file: what clients were configured with, kept valid
    // across `shut_down` + `start_again` (the node then listens on this port too).
    first_rpc_url: String,
    cookie_file: PathBuf,
    // Declared after `node` so the process is gone before the directory is removed.
    datadir: tempfile::TempDir,
    mine_calls: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Regtest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Regtest")
            .field("rpc_url", &self.node.as_ref().map(|n| n.rpc_url()))
            .field("datadir", &self.datadir.path())
            .finish()
    }
}

impl Regtest {
    /// Starts a node with [`NODE_ARGS`] on free loopback ports and a fresh datadir.
    pub fn start() -> Result<Self> {
        Self::start_with_args(&[])
    }

    /// Starts a node with [`NODE_ARGS`] plus `extra_args` (e.g. `-minrelaytxfee=0`).
    pub fn start_with_args(extra_args: &[&str]) -> Result<Self> {
        let exe = bitcoind_exe()?;
        let datadir = tempfile::Builder::new()
            .prefix("bitvm2-regtest-")
            .tempdir()
            .map_err(|source| HarnessError::Io { path: std::env::temp_dir(), source })?;
        let node = spawn(&exe, datadir.path(), extra_args)?;
        let (first_rpc_url, cookie_file) = (node.rpc_url(), node.params.cookie_file.clone());
        let extra_args = extra_args.iter().map(|a| a.to_string()).collect();
        let me = Regtest { node: Some(node), exe, extra_args, first_rpc_url, cookie_file, datadir, mine_calls: Default::default() };
        me.check_chain()?;
        Ok(me)
    }

    fn check_chain(&self) -> Result<()> {
        // The node must be on regtest: everything in this crate assumes it.
        let info = self.call("getblockchaininfo", &[])?;
        match info.get("chain").and_then(Value::as_str) {
            Some("regtest") => Ok(()),
            other => Err(HarnessError::Unexpected {
                method: "getblockchaininfo".into(),
                detail: format!("chain is {other:?}, expected regtest"),
            }),
        }
    }

    fn client(&self, method: &str) -> Result<&corepc_node::Client> {
        self.node.as_ref().map(|n| &n.client).ok_or_else(|| HarnessError::Unexpected {
            method: method.into(),
            detail: "bitcoind is shut down (see Regtest::shut_down)".into(),
        })
    }

    /// The RPC endpoint, e.g. `http://127.0.0.1:40123`: the one of the first start, which
    /// stays valid across [`Regtest::shut_down`] + [`Regtest::start_again`] (not across
    /// [`Regtest::restart`], which moves to a new port).
    pub fn rpc_url(&self) -> String {
        self.first_rpc_url.clone()
    }

    /// The cookie file holding the RPC credentials (`user:password`); bitcoind rewrites it
    /// with new credentials on every start.
    pub fn cookie_file(&self) -> PathBuf {
        self.cookie_file.clone()
    }

    /// The process id of the running bitcoind (from its pid file), `None` when shut down.
    pub fn pid(&self) -> Option<u32> {
        self.node.as_ref()?;
        std::fs::read_to_string(self.datadir.path().join("regtest").join("bitcoind.pid")).ok()?.trim().parse().ok()
    }

    /// Whether the node is running (not shut down).
    pub fn is_running(&self) -> bool {
        self.node.is_some()
    }

    /// The node's datadir (kept across [`Regtest::restart`]).
    pub fn datadir(&self) -> &Path {
        self.datadir.path()
    }

    /// Calls an RPC method and returns the raw JSON result.
    pub fn call(&self, method: &str, args: &[Value]) -> Result<Value> {
        rpc::call(self.client(method)?, method, args).map_err(HarnessError::from)
    }

    /// The height of the best block.
    pub fn height(&self) -> Result<u64> {
        let v = self.call("getblockcount", &[])?;
        v.as_u64().ok_or_else(|| unexpected("getblockcount", &v))
    }

    /// The hash of the best block.
    pub fn best_block_hash(&self) -> Result<BlockHash> {
        let v = self.call("getbestblockhash", &[])?;
        parse_str("getbestblockhash", &v)
    }

    /// Mines `n` blocks whose rewards nobody in the test needs.
    ///
    /// Each call pays a different P2WSH(`<k> OP_DROP OP_TRUE`) script, so that a block mined
    /// after a reorg never equals (and is never rejected as) a block that was invalidated.
    pub fn mine(&self, n: u64) -> Result<Vec<BlockHash>> {
        let k = self.mine_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let script = bitcoin::script::Builder::new()
            .push_int(k as i64)
            .push_opcode(bitcoin::opcodes::all::OP_DROP)
            .push_opcode(bitcoin::opcodes::OP_TRUE)
            .into_script();
        self.mine_to(n, &Address::p2wsh(&script, Network::Regtest))
    }

    /// Mines `n` blocks paying their coinbase to `address`.
    pub fn mine_to(&self, n: u64, address: &Address) -> Result<Vec<BlockHash>> {
        let v = self.call("generatetoaddress", &[json!(n), json!(address.to_string())])?;
        let arr = v.as_array().ok_or_else(|| unexpected("generatetoaddress", &v))?;
        arr.iter().map(|h| parse_str("generatetoaddress", h)).collect()
    }

    /// Mines a block paying `address`, then 100 more so that the coinbase is spendable, and
    /// returns the coin.
    pub fn fund(&self, address: &Address) -> Result<Funded> {
        Ok(self.fund_many(address, 1)?.remove(0))
    }

    /// Like [`Regtest::fund`] for `count` coins (one block each), made mature together.
    pub fn fund_many(&self, address: &Address, count: u64) -> Result<Vec<Funded>> {
        let hashes = self.mine_to(count, address)?;
        let mut coins = Vec::with_capacity(hashes.len());
        for hash in &hashes {
            let block = self.block(hash)?;
            let coinbase = block.txdata.first().ok_or_else(|| HarnessError::Unexpected {
                method: "getblock".into(),
                detail: format!("block {hash} has no coinbase"),
            })?;
            let vout = coinbase
                .output
                .iter()
                .position(|o| o.script_pubkey == address.script_pubkey())
                .ok_or_else(|| HarnessError::Unexpected {
                    method: "getblock".into(),
                    detail: format!("coinbase of {hash} does not pay {address}"),
                })?;
            coins.push(Funded {
                outpoint: OutPoint { txid: coinbase.compute_txid(), vout: vout as u32 },
                txout: coinbase.output[vout].clone(),
            });
        }
        self.mine(100)?;
        Ok(coins)
    }

    /// The block with this hash.
    pub fn block(&self, hash: &BlockHash) -> Result<Block> {
        let v = self.call("getblock", &[json!(hash.to_string()), json!(0)])?;
        let hex = v.as_str().ok_or_else(|| unexpected("getblock", &v))?;
        deserialize_hex(hex).map_err(|e| HarnessError::Unexpected {
            method: "getblock".into(),
            detail: format!("block does not decode: {e}"),
        })
    }

    /// Asks Core whether these transactions (a package, parents first) would enter the mempool.
    pub fn test_mempool_accept(&self, txs: &[Transaction]) -> Result<Vec<MempoolVerdict>> {
        let hexes: Vec<String> = txs.iter().map(serialize_hex).collect();
        let v = self.call("testmempoolaccept", &[json!(hexes)])?;
        let arr = v.as_array().ok_or_else(|| unexpected("testmempoolaccept", &v))?;
        arr.iter()
            .map(|r| {
                let txid = parse_str("testmempoolaccept", r.get("txid").unwrap_or(&Value::Null))?;
                Ok(MempoolVerdict {
                    txid,
                    allowed: r.get("allowed").and_then(Value::as_bool).unwrap_or(false),
                    reject_reason: r
                        .get("reject-reason")
                        .and_then(Value::as_str)
                        .map(|s| match r.get("reject-details").and_then(Value::as_str) {
                            Some(d) if d != s => format!("{s} ({d})"),
                            _ => s.to_owned(),
                        }),
                    vsize: r.get("vsize").and_then(Value::as_u64),
                })
            })
            .collect()
    }

    /// Broadcasts one transaction; Core's rejection comes back as [`HarnessError::Rpc`], whose
    /// message is Core's reject reason.
    pub fn send(&self, tx: &Transaction) -> Result<Txid> {
        let v = self.call("sendrawtransaction", &[json!(serialize_hex(tx))])?;
        parse_str("sendrawtransaction", &v)
    }

    /// Submits a package (parents first, one child last) with `submitpackage`. Returns the
    /// node's answer; fails unless `package_msg` is `success`, naming each rejected
    /// transaction's error.
    pub fn submit_package(&self, txs: &[Transaction]) -> Result<Value> {
        let hexes: Vec<String> = txs.iter().map(serialize_hex).collect();
        let v = self.call("submitpackage", &[json!(hexes)])?;
        if v.get("package_msg").and_then(Value::as_str) == Some("success") {
            return Ok(v);
        }
        let mut errors = Vec::new();
        if let Some(results) = v.get("tx-results").and_then(Value::as_object) {
            for (wtxid, r) in results {
                if let Some(e) = r.get("error").and_then(Value::as_str) {
                    errors.push(format!("{wtxid}: {e}"));
                }
            }
        }
        Err(HarnessError::Rpc(RpcError {
            method: "submitpackage".into(),
            code: 0,
            message: format!(
                "{}; {}",
                v.get("package_msg").and_then(Value::as_str).unwrap_or("no package_msg"),
                errors.join("; ")
            ),
        }))
    }

    /// Mines one block and checks that it contains `txid`; returns the block hash.
    pub fn confirm(&self, txid: &Txid) -> Result<BlockHash> {
        let hash = self.mine(1)?.remove(0);
        let block = self.block(&hash)?;
        if block.txdata.iter().any(|t| t.compute_txid() == *txid) {
            Ok(hash)
        } else {
            Err(HarnessError::Unexpected {
                method: "generatetoaddress".into(),
                detail: format!("mined block {hash} does not contain {txid} (not in the mempool?)"),
            })
        }
    }

    /// Where `txid` stands: unknown, in the mempool, or confirmed with N confirmations.
    pub fn tx_status(&self, txid: &Txid) -> Result<TxStatus> {
        match rpc::call(self.client("getrawtransaction")?, "getrawtransaction", &[json!(txid.to_string()), json!(1)]) {
            Ok(v) => match v.get("confirmations").and_then(Value::as_u64) {
                Some(n) if n > 0 => Ok(TxStatus::Confirmed(n as u32)),
                _ => Ok(TxStatus::Mempool),
            },
            // -5: "No such mempool or blockchain transaction" (also after a reorg that dropped
            // it from the active chain and the mempool).
            Err(e) if e.code == -5 => Ok(TxStatus::Unknown),
            Err(e) => Err(e.into()),
        }
    }

    /// The number of confirmations of `txid` (0 when in the mempool or unknown).
    pub fn confirmations(&self, txid: &Txid) -> Result<u32> {
        Ok(match self.tx_status(txid)? {
            TxStatus::Confirmed(n) => n,
            _ => 0,
        })
    }

    /// The transaction, from the mempool or the chain (the node runs with `-txindex`).
    pub fn get_tx(&self, txid: &Txid) -> Result<Transaction> {
        let v = self.call("getrawtransaction", &[json!(txid.to_string()), json!(0)])?;
        let hex = v.as_str().ok_or_else(|| unexpected("getrawtransaction", &v))?;
        deserialize_hex(hex).map_err(|e| HarnessError::Unexpected {
            method: "getrawtransaction".into(),
            detail: format!("tx does not decode: {e}"),
        })
    }

    /// The unspent output at `outpoint` (mempool spends count as spent), or `None`.
    pub fn utxo(&self, outpoint: &OutPoint) -> Result<Option<TxOut>> {
        let v = self.call(
            "gettxout",
            &[json!(outpoint.txid.to_string()), json!(outpoint.vout), json!(true)],
        )?;
        if v.is_null() {
            return Ok(None);
        }
        let value = v.get("value").and_then(Value::as_f64).ok_or_else(|| unexpected("gettxout", &v))?;
        let script_hex = v
            .pointer("/scriptPubKey/hex")
            .and_then(Value::as_str)
            .ok_or_else(|| unexpected("gettxout", &v))?;
        let script = ScriptBuf::from_hex(script_hex).map_err(|e| HarnessError::Unexpected {
            method: "gettxout".into(),
            detail: format!("scriptPubKey hex: {e}"),
        })?;
        let value = Amount::from_btc(value).map_err(|e| HarnessError::Unexpected {
            method: "gettxout".into(),
            detail: format!("value: {e}"),
        })?;
        Ok(Some(TxOut { value, script_pubkey: script }))
    }

    /// Whether `txid` is in the mempool.
    pub fn in_mempool(&self, txid: &Txid) -> Result<bool> {
        let v = self.call("getrawmempool", &[])?;
        let arr = v.as_array().ok_or_else(|| unexpected("getrawmempool", &v))?;
        Ok(arr.iter().any(|t| t.as_str() == Some(&txid.to_string())))
    }

    /// Marks `hash` invalid: the chain falls back to its parent, and transactions of the
    /// disconnected blocks return to the mempool where they are still valid.
    pub fn invalidate_block(&self, hash: &BlockHash) -> Result<()> {
        self.call("invalidateblock", &[json!(hash.to_string())]).map(|_| ())
    }

    /// Undoes [`Regtest::invalidate_block`].
    pub fn reconsider_block(&self, hash: &BlockHash) -> Result<()> {
        self.call("reconsiderblock", &[json!(hash.to_string())]).map(|_| ())
    }

    /// Disconnects the last `depth` blocks and mines `new_len` new ones in their place (the new
    /// blocks take whatever the mempool holds, including the disconnected transactions).
    /// Returns the disconnected block hashes, oldest first.
    pub fn reorg(&self, depth: u64, new_len: u64) -> Result<Vec<BlockHash>> {
        let tip = self.height()?;
        if depth == 0 || depth > tip {
            return Err(HarnessError::Unexpected {
                method: "reorg".into(),
                detail: format!("cannot reorg {depth} blocks at height {tip}"),
            });
        }
        let mut old = Vec::new();
        for h in (tip - depth + 1)..=tip {
            let v = self.call("getblockhash", &[json!(h)])?;
            old.push(parse_str::<BlockHash>("getblockhash", &v)?);
        }
        self.invalidate_block(&old[0])?;
        self.mine(new_len)?;
        Ok(old)
    }

    /// Coins paying `script` in the UTXO set (confirmed only), via `scantxoutset`.
    pub fn scan_utxos(&self, script: &ScriptBuf) -> Result<Vec<Funded>> {
        let desc = format!("raw({})", script.to_hex_string());
        let v = self.call("scantxoutset", &[json!("start"), json!([desc])])?;
        let arr = v.get("unspents").and_then(Value::as_array).ok_or_else(|| unexpected("scantxoutset", &v))?;
        arr.iter()
            .map(|u| {
                let txid = parse_str("scantxoutset", u.get("txid").unwrap_or(&Value::Null))?;
                let vout = u.get("vout").and_then(Value::as_u64).ok_or_else(|| unexpected("scantxoutset", u))?;
                let amount = u.get("amount").and_then(Value::as_f64).ok_or_else(|| unexpected("scantxoutset", u))?;
                Ok(Funded {
                    outpoint: OutPoint { txid, vout: vout as u32 },
                    txout: TxOut {
                        value: Amount::from_btc(amount).map_err(|e| HarnessError::Unexpected {
                            method: "scantxoutset".into(),
                            detail: e.to_string(),
                        })?,
                        script_pubkey: script.clone(),
                    },
                })
            })
            .collect()
    }

    /// Stops the node gracefully and starts it again on the same datadir and flags; chain
    /// and mempool (as persisted by Core) survive, [`Regtest::rpc_url`] stays valid.
    pub fn restart(&mut self) -> Result<()> {
        self.shut_down(Shutdown::Graceful(std::time::Duration::from_secs(60)))?;
        self.start_again()
    }

    /// Takes the node down, keeping its datadir, and returns how long the process took to
    /// exit. [`Shutdown::Graceful`] sends `stop` and waits for the exit up to its timeout (an
    /// error names the timeout; the process is then killed); [`Shutdown::Kill`] sends SIGKILL
    /// (what survives is what Core had flushed). Calls fail until [`Regtest::start_again`].
    pub fn shut_down(&mut self, how: Shutdown) -> Result<std::time::Duration> {
        let Some(pid) = self.pid() else { return Ok(std::time::Duration::ZERO) };
        let t = std::time::Instant::now();
        let timeout = match how {
            Shutdown::Graceful(timeout) => {
                self.call("stop", &[])?;
                timeout
            }
            Shutdown::Kill => {
                signal(pid, "KILL")?;
                std::time::Duration::from_secs(10)
            }
        };
        let exited = wait_exit(pid, timeout);
        let took = t.elapsed();
        if !exited {
            let _ = signal(pid, "KILL");
            wait_exit(pid, std::time::Duration::from_secs(10));
        }
        // Dropping a corepc node with a persistent datadir sends `stop` and waits: the process
        // is gone, so that call fails at once and only the (dead) child is reaped.
        self.node.take();
        if !exited {
            return Err(HarnessError::Unexpected {
                method: "stop".into(),
                detail: format!("bitcoind did not exit within {timeout:?} (killed)"),
            });
        }
        Ok(took)
    }

    /// Starts the node again after [`Regtest::shut_down`], on the same datadir and flags, and
    /// listening on its first RPC port as well, so that [`Regtest::rpc_url`] (and every client
    /// configured with it) reaches it again. Returns once it answers RPC.
    pub fn start_again(&mut self) -> Result<()> {
        if self.node.is_some() {
            return Ok(());
        }
        let port = self.first_rpc_url.rsplit(':').next().unwrap_or_default().to_string();
        let bind = format!("-rpcbind=127.0.0.1:{port}");
        let mut args: Vec<&str> = self.extra_args.iter().map(String::as_str).collect();
        args.push(&bind);
        // A SIGKILLed node leaves its cookie behind; corepc-node takes an existing cookie file
        // for the new node's and would log in with the dead node's password.
        match std::fs::remove_file(&self.cookie_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(HarnessError::Io { path: self.cookie_file.clone(), source: e })
            }
            _ => {}
        }
        self.node = Some(spawn(&self.exe, self.datadir.path(), &args)?);
        self.check_chain()
    }
}

/// How [`Regtest::shut_down`] takes the node down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// The `stop` RPC, then wait for the process to exit up to this long.
    Graceful(std::time::Duration),
    /// SIGKILL.
    Kill,
}

fn signal(pid: u32, sig: &str) -> Result<()> {
    let st = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .map_err(|source| HarnessError::Io { path: PathBuf::from("kill"), source })?;
    if st.success() {
        Ok(())
    } else {
        Err(HarnessError::Unexpected { method: "kill".into(), detail: format!("kill -{sig} {pid}: {st}") })
    }
}

/// Waits until process `pid` (our child) has exited (gone or a zombie), up to `timeout`.
fn wait_exit(pid: u32, timeout: std::time::Duration) -> bool {
    let t = std::time::Instant::now();
    loop {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            // The state follows the parenthesised command name.
            Ok(s) if s.rsplit_once(')').map(|(_, r)| r.trim_start().starts_with('Z')).unwrap_or(true) => return true,
            Ok(_) => {}
        }
        if t.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn spawn(exe: &Path, datadir: &Path, extra_args: &[&str]) -> Result<Node> {
    let mut conf = Conf::default();
    conf.args = NODE_ARGS.iter().chain(extra_args).copied().collect();
    conf.p2p = P2P::No;
    conf.wallet = None; // this bitcoind is built without a wallet
    conf.staticdir = Some(datadir.to_path_buf());
    conf.attempts = 3;
    conf.view_stdout = false;
    match Node::with_conf(exe, &conf) {
        Ok(node) => Ok(node),
        Err(e) => {
            let stderr = exe::probe_stderr(exe, datadir, &conf.args);
            Err(HarnessError::Start { reason: format!("{e:#}"), stderr })
        }
    }
}

fn unexpected(method: &str, v: &Value) -> HarnessError {
    let mut detail = v.to_string();
    detail.truncate(300);
    HarnessError::Unexpected { method: method.into(), detail }
}

fn parse_str<T: FromStr>(method: &str, v: &Value) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let s = v.as_str().ok_or_else(|| unexpected(method, v))?;
    s.parse().map_err(|e: T::Err| HarnessError::Unexpected {
        method: method.into(),
        detail: format!("{s:?}: {e}"),
    })
}
