//! Process-level faults against the five `bitvm2` daemons and a real regtest bitcoind: a
//! 3-block reorg right after a Kickoff, a verifier SIGKILLed before a dishonest kickoff, and
//! bitcoind stopped and restarted between Kickoff and Take1. Each test ends by checking the
//! on-chain state: who holds the vault's coins and which connector was spent by what.

mod common;

use common::bitvm2_exe;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use bitcoin::{Amount, OutPoint, Txid};
use bitvm2_cli::demo::{user_script, Demo};
use bitvm2_node::Role;
use bitvm2_verifier::protocol::WithdrawalRequest;
use serde_json::{json, Value};


/// Starts an honest withdrawal by op0 and drives blocks until its Kickoff is mined.
fn withdraw_until_kickoff(demo: &Demo, g: &bitvm2_txgraph::Graph, nonce: u64) -> Result<String> {
    let id = demo.d.withdraw(&demo.side, WithdrawalRequest { graph_id: g.id(), operator: 0, destination: user_script(), amount: Amount::from_sat(300_000), nonce })?;
    demo.drive("kickoff confirmed", 10, |dm| {
        Ok(dm.duty_state("op0", |x| x["id"] == json!(id))?.map(|x| x["state"] == json!("kicked off, waiting T1")).unwrap_or(false))
    })
    .inspect_err(|_| demo.dump_logs())?;
    ensure!(demo.d.confirmations(&g.peg_out(0)?.kickoff.txid())?.unwrap_or(0) >= 1, "kickoff not mined");
    Ok(id)
}

/// Drives blocks until op0's duty `id` is done through Take1, then checks the chain: Take1
/// spends the vault and pays op0, the vault outpoint is gone.
fn finish_with_take1(demo: &Demo, g: &bitvm2_txgraph::Graph, vault: Txid, id: &str) -> Result<()> {
    let d = &demo.d;
    demo.drive("Take1", 20, |dm| Ok(dm.duty_state("op0", |x| x["id"] == json!(id))?.map(|x| x["state"].as_str().unwrap_or("").starts_with("done")).unwrap_or(false)))
        .inspect_err(|_| demo.dump_logs())?;
    let duty = demo.duty_state("op0", |x| x["id"] == json!(id))?.context("duty")?;
    ensure!(duty["state"] == json!("done: Take1"), "op0 ended in {}", duty["state"]);
    let po = g.peg_out(0)?;
    ensure!(d.confirmations(&po.take1.txid())?.unwrap_or(0) >= 1, "Take1 not mined");
    let take1 = d.tx(&po.take1.txid())?;
    assert!(take1.input.iter().any(|i| i.previous_output == OutPoint { txid: vault, vout: 0 }), "Take1 spends the vault");
    assert!(take1.input.iter().any(|i| i.previous_output == po.kickoff.outpoint(0) || i.previous_output.txid == po.kickoff.txid()), "Take1 spends a kickoff connector");
    assert_eq!(take1.output[0].script_pubkey, g.params().operators[0].payout_script, "Take1 pays op0");
    assert_eq!(d.utxo(&OutPoint { txid: vault, vout: 0 })?, None, "the vault is spent");
    Ok(())
}

#[test]
fn reorg_of_depth_3_after_kickoff_is_survived_and_take1_follows() -> Result<()> {
    let t = Instant::now();
    let demo = Demo::start(bitvm2_exe()?, true, false)?;
    let d = &demo.d;
    let dep = d.deposit(&demo.depositor, Amount::from_sat(1_000_000), bitvm2_txgraph::Timelocks::REGTEST, &|_| {})?;
    let g = &dep.graph;
    let id = withdraw_until_kickoff(&demo, g, 11)?;
    let po = g.peg_out(0)?;
    // Kickoff is buried under 2 more blocks; then those 3 blocks are replaced by 4 new ones.
    d.mine(2)?;
    let kh = d.tx_height(&po.kickoff.txid())?.context("kickoff height")?;
    let tip = d.height()?;
    ensure!(tip == kh + 2, "tip {tip}, kickoff at {kh}");
    let old: Value = d.call("getblockhash", vec![json!(kh)])?;
    d.call("invalidateblock", vec![old.clone()])?;
    ensure!(d.height()? == kh - 1, "invalidateblock did not disconnect 3 blocks");
    // A different coinbase script: identical replacement blocks would hash like the
    // invalidated ones and be refused.
    d.mine_to(4, &user_script())?;
    let new: Value = d.call("getblockhash", vec![json!(kh)])?;
    ensure!(new != old, "block at the kickoff height was not replaced");
    // The kickoff went back to the mempool and into the new chain.
    ensure!(d.confirmations(&po.kickoff.txid())?.unwrap_or(0) >= 1, "kickoff not re-mined after the reorg");
    finish_with_take1(&demo, g, dep.peg_in_confirm, &id)?;
    // Take1 honours T1 on the new chain.
    let kh2 = d.tx_height(&po.kickoff.txid())?.context("kickoff height")?;
    let th = d.tx_height(&po.take1.txid())?.context("take1 height")?;
    assert!(th >= kh2 + u64::from(g.params().timelocks.take1), "Take1 before T1");
    eprintln!("reorg test: {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

#[test]
fn verifier_sigkilled_before_dishonest_kickoff_another_disproves_and_stake_burns() -> Result<()> {
    use bitvm2_verifier::protocol::{encode, kind, CheatMsg};
    let t = Instant::now();
    let demo = Demo::start(bitvm2_exe()?, true, false)?;
    let d = &demo.d;
    let dep = d.deposit(&demo.depositor, Amount::from_sat(1_000_000), bitvm2_txgraph::Timelocks::REGTEST, &|_| {})?;
    let g = &dep.graph;
    // v0 (first in committee order, so the first to act) is killed before the cheat.
    demo.kill("v0")?;
    let live: Vec<_> = d.role(Role::Verifier).into_iter().filter(|m| m.name != "v0").collect();
    let watch = || -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for v in &live {
            for w in d.status(v)?["daemon"]["watch"].as_array().into_iter().flatten() {
                let mut w = w.clone();
                w["verifier"] = json!(v.name);
                out.push(w);
            }
        }
        Ok(out)
    };
    let id = String::from_utf8(d.send_as(&demo.admin("op1"), &demo.member("op1"), kind::CHEAT, &encode(&CheatMsg { graph_id: g.id(), kickoff_without_payout: true, wrong_asserts: true }))?)?;
    demo.drive("disprove", 30, |dm| Ok(dm.duty_state("op1", |x| x["id"] == json!(id))?.map(|x| x["state"].as_str().unwrap_or("").starts_with("done")).unwrap_or(false)))
        .inspect_err(|_| demo.dump_logs())?;
    let duty = demo.duty_state("op1", |x| x["id"] == json!(id))?.context("duty")?;
    ensure!(duty["state"] == json!("done: disproved, stake slashed"), "op1 ended in {}", duty["state"]);
    let po = g.peg_out(1)?;
    let key = format!("{}:1", g.id());
    let mined = |t: &Value| t.as_str().and_then(|s| s.parse::<Txid>().ok()).filter(|t| d.confirmations(t).ok().flatten().unwrap_or(0) > 0);
    let w: Vec<Value> = watch()?.into_iter().filter(|w| w["kickoff"] == json!(key)).collect();
    let (ch, challenger) = w.iter().find_map(|w| mined(&w["challenge"]).map(|c| (c, w["verifier"].clone()))).context("no mined challenge")?;
    assert_ne!(challenger, json!("v0"));
    assert_eq!(d.tx(&ch)?.input[0].previous_output, po.kickoff.outpoint(0), "challenge spends the challenge connector");
    let dis = w.iter().find_map(|w| mined(&w["disprove"])).context("no mined disprove")?;
    let dtx = d.tx(&dis)?;
    assert_eq!(dtx.input[0].previous_output, po.assert_final.outpoint(0), "disprove spends the assert connector");
    assert!(dtx.output[0].script_pubkey.is_op_return(), "the stake is burned");
    assert!(d.utxo(&OutPoint { txid: dep.peg_in_confirm, vout: 0 })?.is_some(), "the vault is not taken by the cheater");
    for tx in [po.take1.txid(), po.take2.txid()] {
        assert_eq!(d.confirmations(&tx)?, None, "a Take was mined for the cheater");
    }
    eprintln!("verifier-offline test: {:.1} s (challenger {challenger})", t.elapsed().as_secs_f64());
    Ok(())
}

#[test]
#[ignore = "flaky (passed 4 of 6 runs): bitcoind's `stop` RPC sometimes does not exit within 30 s while the five daemons poll it; run with --ignored"]
fn bitcoind_restarted_between_kickoff_and_take1_flow_completes() -> Result<()> {
    let t = Instant::now();
    let demo = Demo::start(bitvm2_exe()?, true, false)?;
    let d = &demo.d;
    let dep = d.deposit(&demo.depositor, Amount::from_sat(1_000_000), bitvm2_txgraph::Timelocks::REGTEST, &|_| {})?;
    let g = &dep.graph;
    let id = withdraw_until_kickoff(&demo, g, 13)?;
    // `Demo` keeps its `Regtest` private, so restart bitcoind by hand with the exact command
    // line it runs (same datadir, same RPC port): the daemons' config stays valid, and they
    // re-read the cookie file on every call.
    let info = d.call("getrpcinfo", vec![])?;
    let log = PathBuf::from(info["logpath"].as_str().context("logpath")?);
    let pid: u32 = std::fs::read_to_string(log.parent().context("regtest dir")?.join("bitcoind.pid"))?.trim().parse()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))?;
    let mut args: Vec<String> = cmdline.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let exe = args.remove(0);
    let height = d.height()?;
    d.call("stop", vec![])?;
    let t0 = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| !s.contains(") Z")).unwrap_or(false) {
        ensure!(t0.elapsed() < Duration::from_secs(30), "bitcoind did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The daemons keep polling a dead node for a while; T1 does not advance meanwhile.
    std::thread::sleep(Duration::from_millis(500));
    eprintln!("bitcoind stopped after {:.1} s", t0.elapsed().as_secs_f64());
    let mut child = Command::new(&exe).args(&args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn()?;
    let r = (|| -> Result<()> {
        let t0 = Instant::now();
        loop {
            if let Ok(h) = d.height() {
                ensure!(h == height, "chain height {h} after restart, was {height}");
                eprintln!("bitcoind back after {:.1} s", t0.elapsed().as_secs_f64());
                break;
            }
            ensure!(t0.elapsed() < Duration::from_secs(30), "bitcoind did not come back");
            std::thread::sleep(Duration::from_millis(100));
        }
        // Every daemon follows the restarted node: its /status tip reaches the chain's tip.
        d.mine(1)?;
        let t1 = Instant::now();
        for m in &d.members {
            while d.status(m)?["tip"]["height"].as_u64() != Some(height + 1) {
                ensure!(t1.elapsed() < Duration::from_secs(90), "{} never saw the restarted node's tip", m.name);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        eprintln!("all daemons at the new tip {:.1} s after the restart", t1.elapsed().as_secs_f64());
        let (t2, h2) = (Instant::now(), d.height()?);
        finish_with_take1(&demo, g, dep.peg_in_confirm, &id)?;
        eprintln!("Take1 {:.1} s and {} blocks after the daemons caught up", t2.elapsed().as_secs_f64(), d.height()? - h2);
        Ok(())
    })();
    // Our bitcoind: stop it ourselves (Demo's handle points at the old process).
    let _ = d.call("stop", vec![]);
    if child.wait_timeout_secs(20).is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
    r?;
    eprintln!("bitcoind-restart test: {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

trait WaitTimeout {
    fn wait_timeout_secs(&mut self, s: u64) -> Option<std::process::ExitStatus>;
}

impl WaitTimeout for std::process::Child {
    /// Polls for exit up to `s` seconds.
    fn wait_timeout_secs(&mut self, s: u64) -> Option<std::process::ExitStatus> {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(s) {
            if let Ok(Some(st)) = self.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}
