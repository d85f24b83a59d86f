//! `bitvm2 demo`: a regtest bitcoind, 2 operators and 3 verifiers as child processes of this
//! binary (own configs, keys, SQLite stores, ports), and four scenarios played on the real
//! node: a deposit into the vault through fully presigned graphs, an honest withdrawal, a
//! dishonest claim that is challenged and disproved, and a challenged honest operator that
//! takes through Take2. Blocks are mined on demand (when the mempool has something, or when the
//! daemons wait on a timelock); every process it starts is killed on exit, failure or Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use bitcoin::secp256k1::{Keypair, Secp256k1};
use bitcoin::{Amount, OutPoint, Txid};
use bitvm2_harness::Regtest;
use bitvm2_node::{Config, Member, NodeKeys, PeerClient, ProgramKind, Role};
use bitvm2_txgraph::wallet::p2tr_script;
use bitvm2_txgraph::{Graph, Timelocks};
use bitvm2_verifier::protocol::{encode, kind, CheatMsg, ForceChallengeMsg, WithdrawalRequest};
use serde::Serialize;
use serde_json::{json, Value};

use crate::driver::Driver;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn check_interrupt() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    Ok(())
}

impl Drop for Demo {
    /// Kills every child (normal exit, error, or Ctrl-C turned into an error), then bitcoind.
    fn drop(&mut self) {
        for (_, c) in self.children.borrow_mut().iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.node.borrow_mut().take();
        if let Some(d) = self.dir.take() {
            if self.keep {
                eprintln!("kept demo directory {}", d.keep().display());
            }
        }
    }
}

/// One node of the demo.
pub struct NodeSpec {
    /// Its name (op0, op1, v0, v1, v2).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Its keys.
    pub keys: NodeKeys,
    /// Peer API port.
    pub port: u16,
    /// Its directory (config, keys, store, log).
    pub dir: PathBuf,
}

/// A loopback port for a daemon's peer API. Taken below Linux's ephemeral range
/// (32768..) so that neither outgoing connections nor other `bind(0)` callers can take it
/// between now and the daemon's bind, and from a process-wide sequence (offset by the pid)
/// so that two demos in one test process never pick the same one; a port something already
/// listens on is skipped.
fn free_port() -> Result<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(u32::MAX, (std::process::id() * 97) % SPAN, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free loopback port in {LOW}..{}", LOW + SPAN)
}

/// A scenario's line in the final table.
#[derive(Serialize)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// What happened, checked on chain.
    pub outcome: String,
    /// Its transactions.
    pub txs: Vec<TxRow>,
    /// Blocks mined during it.
    pub blocks: u64,
    /// Wall time.
    pub wall_secs: f64,
}

#[derive(Serialize)]
pub struct TxRow {
    /// Transaction name.
    pub name: String,
    /// Txid.
    pub txid: String,
    /// Virtual size (vB).
    pub vsize: usize,
}

/// A running cluster: bitcoind, 2 operators and 3 verifiers as child processes, and the
/// driver (coordinator, depositor, side system). Dropping it kills every process.
pub struct Demo {
    /// The driver.
    pub d: Driver,
    /// The nodes.
    pub specs: Vec<NodeSpec>,
    /// The side system's key.
    pub side: Keypair,
    /// The depositor's key.
    pub depositor: Keypair,
    json: bool,
    exe: PathBuf,
    children: std::cell::RefCell<Vec<(String, Child)>>,
    node: std::cell::RefCell<Option<Regtest>>,
    dir: Option<tempfile::TempDir>,
    keep: bool,
    /// The disprove program the daemons run.
    pub program: ProgramKind,
    /// The timelocks of every graph (in the daemons' configuration too).
    pub timelocks: Timelocks,
}

impl Demo {
    /// Starts bitcoind, writes keys and configs, funds every wallet and spawns the five
    /// daemons from `exe` (the `bitvm2` binary); returns once every daemon answers /status.
    /// The daemons run the small `horner` program (fast; for fault tests).
    pub fn start(exe: PathBuf, json: bool, keep: bool) -> Result<Demo> {
        Self::start_full(exe, json, keep, ProgramKind::Horner, &[])
    }

    /// Like [`Demo::start`], with extra bitcoind flags (e.g. `-debug=http` to see its HTTP
    /// server's connection handling in `debug.log`).
    pub fn start_with_node_args(exe: PathBuf, json: bool, keep: bool, node_args: &[&str]) -> Result<Demo> {
        Self::start_full(exe, json, keep, ProgramKind::Horner, node_args)
    }

    /// Like [`Demo::start`] with the daemons running `program`. The statement program (the
    /// Groth16 verifier of the payout statement) needs the statement circuit's keys: made once
    /// per machine and cached ([`statement_keys_dir`]); its challenged operator proves and
    /// asserts for seconds while blocks go on, so its assert timeout (T2) is 300 blocks.
    pub fn start_full(exe: PathBuf, json: bool, keep: bool, program: ProgramKind, node_args: &[&str]) -> Result<Demo> {
        let timelocks = match program {
            ProgramKind::Horner => Timelocks::REGTEST,
            ProgramKind::Statement => Timelocks { assert_timeout: 300, ..Timelocks::REGTEST },
        };
        let keys_dir = match program {
            ProgramKind::Horner => None,
            ProgramKind::Statement => Some(ensure_statement_keys(json)?),
        };
        let node = Regtest::start_with_args(node_args).context("starting bitcoind (set BITCOIND_EXE or run scripts/demo.sh)")?;
        let dir = tempfile::Builder::new().prefix("bitvm2-demo-").tempdir()?;
        let mut specs = Vec::new();
        for (name, role) in [("op0", Role::Operator), ("op1", Role::Operator), ("v0", Role::Verifier), ("v1", Role::Verifier), ("v2", Role::Verifier)] {
            let ndir = dir.path().join(name);
            std::fs::create_dir_all(&ndir)?;
            let keys = NodeKeys::generate();
            keys.write_new(&ndir.join("keys.json"))?;
            specs.push(NodeSpec { name: name.into(), role, keys, port: free_port()?, dir: ndir });
        }
        let mut cfgs = Vec::new();
        for s in &specs {
            cfgs.push(write_config(s, &specs, &node, timelocks, keys_dir.as_deref())?);
        }
        let cfg0 = Config::load(&cfgs[0])?;
        let secp = Secp256k1::new();
        let side = Keypair::new(&secp, &mut bitcoin::secp256k1::rand::thread_rng());
        let depositor = Keypair::new(&secp, &mut bitcoin::secp256k1::rand::thread_rng());
        let d = Driver::new(&cfg0, *specs[0].keys.keypair())?;
        let demo = Demo {
            d,
            specs,
            side,
            depositor,
            json,
            exe,
            children: Default::default(),
            node: std::cell::RefCell::new(Some(node)),
            dir: Some(dir),
            keep,
            program,
            timelocks,
        };
        demo.say(&format!("disprove program: {program:?}"));
        demo.say(&format!("bitcoind regtest at {} ; demo dir {}", demo.node().rpc_url(), demo.dir.as_ref().expect("dir").path().display()));
        // Coins: operators front withdrawals and pay CPFP fees, verifiers fund challenges and
        // disproves, the depositor deposits.
        for s in &demo.specs {
            // Operators pay a CPFP child per presigned package: a Groth16 assertion is 225
            // packages, sent as wallet coins allow (a wave per block).
            demo.d.mine_to(if s.role == Role::Operator { 60 } else { 6 }, &p2tr_script(s.keys.public_key()))?;
        }
        demo.d.mine_to(4, &p2tr_script(demo.depositor.x_only_public_key().0))?;
        demo.d.mine(101)?;
        let t = Instant::now();
        let names: Vec<String> = demo.specs.iter().map(|s| s.name.clone()).collect();
        for n in &names {
            demo.spawn(n)?;
        }
        for n in &names {
            demo.wait_up(n)?;
        }
        demo.say(&format!("5 daemons up (2 operators, 3 verifiers) in {:.1} s", t.elapsed().as_secs_f64()));
        Ok(demo)
    }

    /// The regtest bitcoind (for reorgs, datadir, pid). Do not hold it across
    /// [`Demo::node_mut`].
    pub fn node(&self) -> std::cell::Ref<'_, Regtest> {
        std::cell::Ref::map(self.node.borrow(), |n| n.as_ref().expect("bitcoind lives as long as the demo"))
    }

    /// The regtest bitcoind, mutably: [`Regtest::shut_down`] and [`Regtest::start_again`]
    /// take it down and back on the same RPC port and datadir, so the daemons' configuration
    /// stays valid (they re-read the cookie file on every call).
    pub fn node_mut(&self) -> std::cell::RefMut<'_, Regtest> {
        std::cell::RefMut::map(self.node.borrow_mut(), |n| n.as_mut().expect("bitcoind lives as long as the demo"))
    }

    /// The pid of daemon `name`'s current process, if it runs.
    pub fn daemon_pid(&self, name: &str) -> Option<u32> {
        self.children.borrow().iter().find(|(n, _)| n == name).map(|(_, c)| c.id())
    }

    /// The spec of `name`.
    pub fn spec(&self, name: &str) -> &NodeSpec {
        self.specs.iter().find(|s| s.name == name).expect("known node")
    }

    /// Starts (or restarts) daemon `name` on its config and store.
    pub fn spawn(&self, name: &str) -> Result<()> {
        let child = spawn(&self.exe, self.spec(name), &self.side)?;
        self.children.borrow_mut().push((name.to_string(), child));
        Ok(())
    }

    /// SIGKILLs daemon `name`.
    pub fn kill(&self, name: &str) -> Result<()> {
        let mut ch = self.children.borrow_mut();
        for (n, c) in ch.iter_mut().filter(|(n, _)| n == name) {
            c.kill().with_context(|| format!("killing {n}"))?;
            c.wait()?;
        }
        ch.retain(|(n, _)| n != name);
        Ok(())
    }

    /// Waits until `name` answers /status with a chain tip.
    pub fn wait_up(&self, name: &str) -> Result<()> {
        let t = Instant::now();
        loop {
            check_interrupt()?;
            if let Some((n, c)) = self.children.borrow_mut().iter_mut().find(|(n, _)| n == name) {
                if let Some(exit) = c.try_wait()? {
                    bail!("{n} exited ({exit}) while starting; see {}", self.spec(name).dir.join("daemon.log").display());
                }
            }
            if let Ok(st) = self.d.status(&self.member(name)) {
                // Whoever answers must be this daemon, not another process on its port.
                let want = self.spec(name).keys.public_key().to_string();
                let got = st["pubkey"].as_str().unwrap_or_default();
                ensure!(got == want, "{name}'s port {} is answered by another node (pubkey {got:?}, expected {want})", self.spec(name).port);
                if st["tip"]["height"].as_u64().is_some() {
                    return Ok(());
                }
            }
            ensure!(t.elapsed() < Duration::from_secs(60), "{name} did not come up; see {}", self.spec(name).dir.join("daemon.log").display());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Prints the last lines of every daemon's log (on failure).
    pub fn dump_logs(&self) {
        for s in &self.specs {
            eprintln!("--- last lines of {} ---", s.name);
            let log = std::fs::read_to_string(s.dir.join("daemon.log")).unwrap_or_default();
            for l in log.lines().rev().take(8).collect::<Vec<_>>().into_iter().rev() {
                eprintln!("{l}");
            }
        }
    }

    /// Progress line.
    pub fn say(&self, s: &str) {
        if !self.json {
            println!("{s}");
        } else {
            eprintln!("{s}");
        }
    }

    /// Helper (see the module doc).
    pub fn member(&self, name: &str) -> Member {
        self.d.members.iter().find(|m| m.name == name).cloned().expect("member")
    }

    /// Helper (see the module doc).
    pub fn admin(&self, name: &str) -> PeerClient {
        let s = self.specs.iter().find(|s| s.name == name).expect("spec");
        PeerClient::new(*s.keys.keypair(), Duration::from_secs(30))
    }

    /// Helper (see the module doc).
    pub fn tx_row(&self, name: &str, txid: &Txid) -> Result<TxRow> {
        let tx = self.d.tx(txid)?;
        Ok(TxRow { name: name.into(), txid: txid.to_string(), vsize: tx.vsize() })
    }

    /// Helper (see the module doc).
    pub fn mempool_len(&self) -> Result<usize> {
        Ok(self.d.call("getrawmempool", vec![])?.as_array().map(|a| a.len()).unwrap_or(0))
    }

    /// Mines on demand until `done` holds: a block when the mempool has transactions, or when
    /// nothing arrived for a while (the daemons wait on a relative timelock).
    /// Helper (see the module doc).
    pub fn drive(&self, what: &str, max_blocks: u64, mut done: impl FnMut(&Demo) -> Result<bool>) -> Result<u64> {
        let mut blocks = 0;
        let mut idle = Instant::now();
        let mut at_tip_since: Option<Instant> = None;
        let deadline = Instant::now() + Duration::from_secs(if self.program == ProgramKind::Statement { 1_200 } else { 120 });
        loop {
            check_interrupt()?;
            if done(self)? {
                return Ok(blocks);
            }
            ensure!(Instant::now() < deadline, "timed out waiting for {what}");
            let pending = self.mempool_len()?;
            // An empty block only moves timelocks on: mine it once every daemon that answers has
            // followed the chain to the tip and had a moment to react, so a slow (or just
            // restarted) watcher is never raced past a deadline it could have met.
            at_tip_since = match (self.daemons_at_tip()?, at_tip_since) {
                (true, Some(t)) => Some(t),
                (true, None) => Some(Instant::now()),
                (false, _) => None,
            };
            let settled = at_tip_since.is_some_and(|t| t.elapsed() > Duration::from_millis(500));
            if pending > 0 && idle.elapsed() > Duration::from_millis(150) || settled && idle.elapsed() > Duration::from_millis(600) {
                ensure!(blocks < max_blocks, "{what}: not reached after {blocks} blocks");
                self.d.mine(1)?;
                blocks += 1;
                idle = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// A scenario's block budget for this program: a Groth16 assertion spans about 25 blocks
    /// (225 transactions of up to 400,000 WU) and idle blocks go on while the operator proves.
    pub fn blocks(&self, horner: u64) -> u64 {
        match self.program {
            ProgramKind::Horner => horner,
            ProgramKind::Statement => horner + 400,
        }
    }

    /// Whether every daemon that answers `/status` has processed the node's tip.
    pub fn daemons_at_tip(&self) -> Result<bool> {
        let h = self.d.height()?;
        for m in &self.d.members {
            if let Ok(s) = self.d.status(m) {
                if s["tip"]["height"].as_u64() != Some(h) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Helper (see the module doc).
    pub fn duty_state(&self, op: &str, pred: impl Fn(&Value) -> bool) -> Result<Option<Value>> {
        let s = self.d.status(&self.member(op))?;
        Ok(s["daemon"]["duties"].as_array().into_iter().flatten().find(|d| pred(d)).cloned())
    }

    /// Helper (see the module doc).
    pub fn watch_records(&self) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for v in self.d.role(Role::Verifier) {
            let s = self.d.status(&v)?;
            for w in s["daemon"]["watch"].as_array().into_iter().flatten() {
                let mut w = w.clone();
                w["verifier"] = json!(v.name);
                out.push(w);
            }
        }
        Ok(out)
    }
}

fn write_config(spec: &NodeSpec, all: &[NodeSpec], node: &Regtest, tl: Timelocks, statement_keys: Option<&Path>) -> Result<PathBuf> {
    let role = |r: Role| if r == Role::Operator { "operator" } else { "verifier" };
    let mut text = format!(
        "[node]\nrole = \"{}\"\nkeys_file = \"keys.json\"\nstore_path = \"node.sqlite\"\nlisten = \"127.0.0.1:{}\"\n\n[bitcoind]\nrpc_url = {:?}\ncookie_file = {:?}\npoll_interval_ms = 100\n\n[peer]\nrequest_timeout_ms = 30000\n\n[params]\nfinality_depth = 1\ndeposit_refund = {}\ntake1 = {}\nassert_timeout = {}\ntake2 = {}\n",
        role(spec.role),
        spec.port,
        node.rpc_url(),
        node.cookie_file().display().to_string(),
        tl.deposit_refund,
        tl.take1,
        tl.assert_timeout,
        tl.take2,
    );
    if let Some(dir) = statement_keys {
        text += &format!("program = \"statement\"\nstatement_keys_dir = {:?}\n", dir.display().to_string());
    }
    for s in all {
        text += &format!("\n[[committee]]\nname = {:?}\nrole = \"{}\"\npubkey = \"{}\"\nurl = \"http://127.0.0.1:{}\"\n", s.name, role(s.role), s.keys.public_key(), s.port);
    }
    let path = spec.dir.join("config.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

fn spawn(exe: &Path, spec: &NodeSpec, side: &Keypair) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let log = std::fs::File::create(spec.dir.join("daemon.log"))?;
    let role = if spec.role == Role::Operator { "operator" } else { "verifier" };
    let mut cmd = Command::new(exe);
    cmd.args([role, "run", "--config"])
        .arg(spec.dir.join("config.toml"))
        .args(["--side-system-key", &side.x_only_public_key().0.to_string()])
        .env("RUST_LOG", std::env::var("BITVM2_DAEMON_LOG").unwrap_or_else(|_| "info".into()))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // The daemons die with the demo, even if it is killed.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn().with_context(|| format!("starting {}", spec.name))
}

/// Where the statement circuit's keys are cached: `$BITVM2_CACHE_DIR/statement` (default
/// `~/.cache/bitvm2/statement`).
pub fn statement_keys_dir() -> PathBuf {
    let cache = std::env::var_os("BITVM2_CACHE_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
        base.join("bitvm2")
    });
    cache.join("statement")
}

/// Makes sure the statement circuit's keys exist (generated once per machine, named by the
/// circuit's content hash) and returns their folder.
pub fn ensure_statement_keys(json: bool) -> Result<PathBuf> {
    let dir = statement_keys_dir();
    let params = bitvm2_verifier::real::statement_params();
    let (pk, vk) = bitvm2_statement::keys::key_paths(&dir, &params);
    if !(pk.exists() && vk.exists()) {
        let say = |s: &str| if json { eprintln!("{s}") } else { println!("{s}") };
        say(&format!("statement circuit {}: generating its Groth16 keys once (a minute or two) into {}", params.id(), dir.display()));
        let t = Instant::now();
        let (_, files) = bitvm2_statement::keys::load_or_setup(&dir, &params, &mut rand::rngs::OsRng).context("statement key setup")?;
        say(&format!("statement keys written in {:.0} s: {}", t.elapsed().as_secs_f64(), files.pk_path.display()));
    }
    Ok(dir)
}

/// Runs the demo with this binary as the daemons' executable.
pub fn run(json_out: bool, keep: bool, program: ProgramKind) -> Result<()> {
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as usize);
        libc::signal(libc::SIGTERM, on_signal as *const () as usize);
    }
    let t_all = Instant::now();
    let demo = Demo::start_full(std::env::current_exe()?, json_out, keep, program, &[])?;
    match scenarios(&demo) {
        Ok(rows) => print_table(&rows, json_out, t_all.elapsed()),
        Err(e) => {
            demo.dump_logs();
            Err(e)
        }
    }
}

/// The four scenarios in order; each checks the final on-chain state.
pub fn scenarios(demo: &Demo) -> Result<Vec<Row>> {
    let depositor = &demo.depositor;
    let mut rows = Vec::new();
    let tl = demo.timelocks;
    let d = &demo.d;
    let h0 = d.height()?;

    // 1. Two deposits (the honest withdrawal empties the first vault).
    let t = Instant::now();
    demo.say("[1] deposit A: setup with 2 operators and 3 verifiers");
    let a = d.deposit(depositor, Amount::from_sat(1_000_000), tl, &|s| demo.say(&format!("    {s}")))?;
    let wall_a = t.elapsed();
    demo.say(&format!("    deposit A done in {:.2} s (setup rounds {:.2} s)", wall_a.as_secs_f64(), a.setup.as_secs_f64()));
    let b = d.deposit(depositor, Amount::from_sat(1_000_000), tl, &|s| demo.say(&format!("    {s}")))?;
    demo.say(&format!("    deposit B done ({:.2} s setup)", b.setup.as_secs_f64()));
    for g in [&a, &b] {
        let vault = d.utxo(&OutPoint { txid: g.peg_in_confirm, vout: 0 })?.ok_or_else(|| anyhow!("vault output missing"))?;
        ensure!(vault.script_pubkey == g.graph.committee().vault_script_pubkey(), "vault not owned by the committee key");
    }
    rows.push(Row {
        scenario: "1 deposit (x2)".into(),
        outcome: format!("vaults funded; per deposit {:.2} s (setup rounds {:.2} s)", wall_a.as_secs_f64(), a.setup.as_secs_f64()),
        txs: vec![demo.tx_row("Deposit A", &a.deposit)?, demo.tx_row("PegInConfirm A", &a.peg_in_confirm)?, demo.tx_row("Deposit B", &b.deposit)?, demo.tx_row("PegInConfirm B", &b.peg_in_confirm)?],
        blocks: d.height()? - h0,
        wall_secs: t.elapsed().as_secs_f64(),
    });

    // 2. Honest withdrawal from A by op0.
    rows.push(honest(demo, &a.graph, &a.peg_in_confirm)?);
    // 3. Dishonest claim on B by op1.
    rows.push(dishonest(demo, &b.graph, &b.peg_in_confirm)?);
    // 4. Challenged honest operator op0 on B.
    rows.push(challenged_honest(demo, &b.graph, &b.peg_in_confirm)?);
    Ok(rows)
}

/// Scenario step (see the module doc).
pub fn user_script() -> bitcoin::ScriptBuf {
    let k = Keypair::new(&Secp256k1::new(), &mut bitcoin::secp256k1::rand::thread_rng());
    p2tr_script(k.x_only_public_key().0)
}

/// Scenario step (see the module doc).
pub fn honest(demo: &Demo, g: &Graph, vault_tx: &Txid) -> Result<Row> {
    let d = &demo.d;
    let t = Instant::now();
    demo.say("[2] honest withdrawal: op0 pays the user, kicks off, Take1 after T1");
    let dest = user_script();
    let amount = Amount::from_sat(500_000);
    let id = d.withdraw(&demo.side, WithdrawalRequest { graph_id: g.id(), operator: 0, destination: dest.clone(), amount, nonce: 1 })?;
    let blocks = demo.drive("Take1", 20, |dm| Ok(dm.duty_state("op0", |x| x["id"] == json!(id))?.map(|x| x["state"] == json!("done: Take1")).unwrap_or(false)))?;
    let duty = demo.duty_state("op0", |x| x["id"] == json!(id))?.expect("duty");
    let payout: OutPoint = duty["payout"].as_str().ok_or_else(|| anyhow!("no payout"))?.parse()?;
    let po = g.peg_out(0)?;
    // Final state: the user holds the payout, op0 holds the vault's coins through Take1.
    let p = d.tx(&payout.txid)?;
    ensure!(p.output[0].script_pubkey == dest && p.output[0].value == amount, "payout does not pay the request");
    let take1 = d.tx(&po.take1.txid())?;
    ensure!(take1.input.iter().any(|i| i.previous_output == OutPoint { txid: *vault_tx, vout: 0 }), "Take1 does not spend the vault");
    ensure!(take1.output[0].script_pubkey == g.params().operators[0].payout_script, "Take1 does not pay op0");
    ensure!(d.utxo(&OutPoint { txid: *vault_tx, vout: 0 })?.is_none(), "vault still unspent");
    ensure!(take1.input.iter().any(|i| i.previous_output == po.kickoff.outpoint(0)), "Take1 did not spend the challenge connector");
    let kh = d.tx_height(&po.kickoff.txid())?.unwrap_or(0);
    let th = d.tx_height(&po.take1.txid())?.unwrap_or(0);
    ensure!(th >= kh + u64::from(g.params().timelocks.take1), "Take1 before T1");
    demo.say(&format!("    Take1 {} mined {} blocks after Kickoff; vault -> op0 ({})", po.take1.txid(), th - kh, take1.output[0].value));
    Ok(Row {
        scenario: "2 honest withdrawal".into(),
        outcome: format!("user paid {amount}; op0 took {} via Take1", take1.output[0].value),
        txs: vec![demo.tx_row("Payout", &payout.txid)?, demo.tx_row("Kickoff", &po.kickoff.txid())?, demo.tx_row("Take1", &po.take1.txid())?],
        blocks,
        wall_secs: t.elapsed().as_secs_f64(),
    })
}

/// Scenario step (see the module doc).
pub fn assert_rows(demo: &Demo, g: &Graph, i: usize) -> Result<Vec<TxRow>> {
    let po = g.peg_out(i)?;
    let mut v = vec![demo.tx_row("AssertInitial", &po.assert_initial.txid())?];
    for (l, lane) in po.lanes.iter().enumerate() {
        v.push(demo.tx_row(&format!("AssertLane {l}"), &lane.txid())?);
    }
    if po.asserts.len() <= 8 {
        for (k, a) in po.asserts.iter().enumerate() {
            v.push(demo.tx_row(&format!("Assert {k}"), &a.txid())?);
        }
    } else {
        // A Groth16 assertion: one line for all of them (first txid, total size).
        let mut total = 0;
        for a in &po.asserts {
            total += demo.tx_row("", &a.txid())?.vsize;
        }
        v.push(TxRow { name: format!("Asserts x{}", po.asserts.len()), txid: format!("{}..", po.asserts[0].txid()), vsize: total });
    }
    v.push(demo.tx_row("AssertFinal", &po.assert_final.txid())?);
    Ok(v)
}

/// Scenario step (see the module doc).
pub fn dishonest(demo: &Demo, g: &Graph, vault_tx: &Txid) -> Result<Row> {
    let d = &demo.d;
    let t = Instant::now();
    demo.say("[3] dishonest claim: op1 kicks off without a payout and asserts a wrong value");
    let admin = demo.admin("op1");
    let id = String::from_utf8(d.send_as(&admin, &demo.member("op1"), kind::CHEAT, &encode(&CheatMsg { graph_id: g.id(), kickoff_without_payout: true, wrong_asserts: true }))?)?;
    let blocks = demo.drive("disprove", demo.blocks(30), |dm| Ok(dm.duty_state("op1", |x| x["id"] == json!(id))?.map(|x| x["state"].as_str().unwrap_or("").starts_with("done")).unwrap_or(false)))?;
    let duty = demo.duty_state("op1", |x| x["id"] == json!(id))?.expect("duty");
    ensure!(duty["state"] == json!("done: disproved, stake slashed"), "op1 ended in {}", duty["state"]);
    let po = g.peg_out(1)?;
    let key = format!("{}:1", g.id());
    let w = demo.watch_records()?.into_iter().filter(|w| w["kickoff"] == json!(key)).collect::<Vec<_>>();
    let ch = w.iter().find_map(|w| w["challenge"].as_str().and_then(|c| c.parse::<Txid>().ok()).filter(|c| d.confirmations(c).ok().flatten().unwrap_or(0) > 0)).ok_or_else(|| anyhow!("no mined challenge"))?;
    let challenger = w.iter().find(|w| w["challenge"] == json!(ch.to_string())).map(|w| w["verifier"].clone()).unwrap_or_default();
    let kh = d.tx_height(&po.kickoff.txid())?.unwrap_or(0);
    let chh = d.tx_height(&ch)?.unwrap_or(0);
    ensure!(chh == kh + 1, "challenge mined {} blocks after the kickoff, not within one block", chh - kh);
    ensure!(d.tx(&ch)?.input[0].previous_output == po.kickoff.outpoint(0), "challenge does not spend the challenge connector");
    let dis = w.iter().find_map(|w| w["disprove"].as_str().and_then(|c| c.parse::<Txid>().ok()).filter(|c| d.confirmations(c).ok().flatten().unwrap_or(0) > 0)).ok_or_else(|| anyhow!("no mined disprove"))?;
    let leaf = w.iter().find(|w| w["disprove"] == json!(dis.to_string())).map(|w| w["disprove_leaf"].clone()).unwrap_or_default();
    let dtx = d.tx(&dis)?;
    ensure!(dtx.input[1].previous_output == po.assert_final.outpoint(0), "disprove does not spend the assert connector");
    ensure!(dtx.output[0].script_pubkey.is_op_return(), "disprove does not burn");
    ensure!(d.utxo(&OutPoint { txid: *vault_tx, vout: 0 })?.is_some(), "vault B was touched");
    demo.say(&format!("    challenged by {challenger} one block after Kickoff; disprove through leaf {leaf} mined; stake burned ({}); vault B intact", dtx.output[0].value));
    let mut txs = vec![demo.tx_row("Kickoff", &po.kickoff.txid())?, demo.tx_row("Challenge", &ch)?];
    txs.extend(assert_rows(demo, g, 1)?);
    txs.push(demo.tx_row("Disprove", &dis)?);
    Ok(Row { scenario: "3 dishonest claim".into(), outcome: format!("challenged by {challenger} within 1 block; disproved (leaf {leaf}); stake slashed"), txs, blocks, wall_secs: t.elapsed().as_secs_f64() })
}

/// Scenario step (see the module doc).
pub fn challenged_honest(demo: &Demo, g: &Graph, vault_tx: &Txid) -> Result<Row> {
    let d = &demo.d;
    let t = Instant::now();
    demo.say("[4] challenged honest operator: op0 pays, a griefing verifier challenges, asserts are correct, Take2");
    d.send_as(&demo.admin("v2"), &demo.member("v2"), kind::FORCE_CHALLENGE, &encode(&ForceChallengeMsg { graph_id: g.id(), operator: 0 }))?;
    let dest = user_script();
    let amount = Amount::from_sat(400_000);
    let id = d.withdraw(&demo.side, WithdrawalRequest { graph_id: g.id(), operator: 0, destination: dest.clone(), amount, nonce: 2 })?;
    let blocks = demo.drive("Take2", demo.blocks(40), |dm| Ok(dm.duty_state("op0", |x| x["id"] == json!(id))?.map(|x| x["state"].as_str().unwrap_or("").starts_with("done")).unwrap_or(false)))?;
    let duty = demo.duty_state("op0", |x| x["id"] == json!(id))?.expect("duty");
    ensure!(duty["state"] == json!("done: Take2"), "op0 ended in {}", duty["state"]);
    let payout: OutPoint = duty["payout"].as_str().ok_or_else(|| anyhow!("no payout"))?.parse()?;
    let po = g.peg_out(0)?;
    let key = format!("{}:0", g.id());
    let w = demo.watch_records()?.into_iter().filter(|w| w["kickoff"] == json!(key)).collect::<Vec<_>>();
    let ch = w.iter().find_map(|w| w["challenge"].as_str().and_then(|c| c.parse::<Txid>().ok()).filter(|c| d.confirmations(c).ok().flatten().unwrap_or(0) > 0)).ok_or_else(|| anyhow!("no mined challenge"))?;
    ensure!(w.iter().filter(|w| w["verifier"] != json!("v2")).all(|w| w["challenge"].is_null()), "an honest verifier challenged a paid claim");
    ensure!(w.iter().any(|w| w["asserts_ok"] == json!(true)), "no verifier read the asserts as correct");
    ensure!(w.iter().all(|w| w["disprove"].is_null()), "a disprove was attempted against correct asserts");
    let take2 = d.tx(&po.take2.txid())?;
    ensure!(take2.input.iter().any(|i| i.previous_output == OutPoint { txid: *vault_tx, vout: 0 }), "Take2 does not spend vault B");
    ensure!(take2.input.iter().any(|i| i.previous_output == po.assert_final.outpoint(0)), "Take2 does not spend the assert connector");
    ensure!(take2.output[0].script_pubkey == g.params().operators[0].payout_script, "Take2 does not pay op0");
    let fh = d.tx_height(&po.assert_final.txid())?.unwrap_or(0);
    let th = d.tx_height(&po.take2.txid())?.unwrap_or(0);
    ensure!(th >= fh + u64::from(g.params().timelocks.take2), "Take2 before T3");
    demo.say(&format!("    asserts correct (no leaf spendable); Take2 {} mined {} blocks after AssertFinal; vault B -> op0", po.take2.txid(), th - fh));
    let mut txs = vec![demo.tx_row("Payout", &payout.txid)?, demo.tx_row("Kickoff", &po.kickoff.txid())?, demo.tx_row("Challenge", &ch)?];
    txs.extend(assert_rows(demo, g, 0)?);
    txs.push(demo.tx_row("Take2", &po.take2.txid())?);
    Ok(Row { scenario: "4 challenged honest".into(), outcome: format!("challenged by v2 (forced); asserts correct; op0 took {} via Take2", take2.output[0].value), txs, blocks, wall_secs: t.elapsed().as_secs_f64() })
}

fn print_table(rows: &[Row], json_out: bool, total: Duration) -> Result<()> {
    if json_out {
        println!("{}", serde_json::to_string_pretty(&json!({"scenarios": rows, "total_wall_secs": total.as_secs_f64()}))?);
        return Ok(());
    }
    println!();
    println!("{:<22} {:<16} {:<64} {:>6} {:>6} {:>8}", "scenario", "transaction", "txid", "vB", "blocks", "wall s");
    for r in rows {
        for (k, t) in r.txs.iter().enumerate() {
            if k == 0 {
                println!("{:<22} {:<16} {:<64} {:>6} {:>6} {:>8.2}", r.scenario, t.name, t.txid, t.vsize, r.blocks, r.wall_secs);
            } else {
                println!("{:<22} {:<16} {:<64} {:>6}", "", t.name, t.txid, t.vsize);
            }
        }
        println!("{:<22} -> {}", "", r.outcome);
    }
    println!("total wall time {:.1} s", total.as_secs_f64());
    Ok(())
}
