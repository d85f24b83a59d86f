//! The daemons as real processes against a real bitcoind: 2 operators and 3 verifiers, each
//! its own `bitvm2` process with its own SQLite store and port, driven by the protocol's client
//! side (coordinator, depositor, side system) from `bitvm2_cli`.

mod common;

use common::bitvm2_exe;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use bitcoin::{Amount, OutPoint};
use bitvm2_cli::demo::{scenarios, user_script, Demo};
use bitvm2_verifier::protocol::{sessions, WithdrawalRequest};
use serde_json::json;


fn start() -> Result<Demo> {
    Demo::start(bitvm2_exe()?, true, false)
}

/// The processes started and one deposit of 0.01 BTC made through them.
fn deposited() -> Result<(Demo, bitvm2_cli::driver::Deposit)> {
    let demo = start()?;
    let dep = demo.d.deposit(&demo.depositor, Amount::from_sat(1_000_000), bitvm2_txgraph::Timelocks::REGTEST, &|_| {})?;
    Ok((demo, dep))
}

/// The first transaction of the verifiers' watch records on kickoff `key` ("graph:operator")
/// under `field` (`challenge`, `timeout`) that is mined.
fn mined_record(demo: &Demo, key: &str, field: &str) -> Result<Option<bitcoin::Txid>> {
    for w in demo.watch_records()?.iter().filter(|w| w["kickoff"] == json!(key)) {
        if let Some(t) = w[field].as_str().and_then(|t| t.parse::<bitcoin::Txid>().ok()) {
            if demo.d.confirmations(&t)?.unwrap_or(0) > 0 {
                return Ok(Some(t));
            }
        }
    }
    Ok(None)
}

#[test]
fn deposit_with_3_verifiers_then_honest_dishonest_and_challenged_honest() -> Result<()> {
    let demo = start()?;
    let rows = scenarios(&demo).inspect_err(|_| demo.dump_logs())?;
    // Each scenario checked its final on-chain state (who holds the vault, which connector was
    // spent by what) and failed otherwise; here: the table has all four, with their outcomes.
    let names: Vec<&str> = rows.iter().map(|r| r.scenario.as_str()).collect();
    assert_eq!(names, ["1 deposit (x2)", "2 honest withdrawal", "3 dishonest claim", "4 challenged honest"]);
    assert!(rows[1].outcome.contains("via Take1"), "{}", rows[1].outcome);
    assert!(rows[2].outcome.contains("within 1 block") && rows[2].outcome.contains("stake slashed"), "{}", rows[2].outcome);
    assert!(rows[3].outcome.contains("via Take2"), "{}", rows[3].outcome);
    let txs: Vec<&str> = rows[2].txs.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(txs.first(), Some(&"Kickoff"));
    assert_eq!(txs.last(), Some(&"Disprove"));
    // `bitvm2 status --json` sees all five daemons at the node's height, op0's two duties done.
    let out = Command::new(bitvm2_exe()?).args(["status", "--json", "--config"]).arg(demo.spec("op0").dir.join("config.toml")).output()?;
    ensure!(out.status.success(), "status failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let members = v.as_array().context("array")?;
    assert_eq!(members.len(), 5);
    let height = demo.d.height()?;
    for m in members {
        let h = m["status"]["tip"]["height"].as_u64().context("height")?;
        assert!(h + 1 >= height, "{} is behind: {h} < {height}", m["name"]);
    }
    let op0 = members.iter().find(|m| m["name"] == json!("op0")).context("op0")?;
    let states: Vec<&str> = op0["status"]["daemon"]["duties"].as_array().context("duties")?.iter().filter_map(|d| d["state"].as_str()).collect();
    assert!(states.contains(&"done: Take1") && states.contains(&"done: Take2"), "{states:?}");
    // Every Winternitz message op0 signed was recorded first: its two Kickoff claims and every
    // commitment of the challenged withdrawal's asserts (the first program has 32).
    let wots = op0["status"]["rows"]["winternitz"].as_u64().context("winternitz rows")?;
    assert!(wots >= 2 + 32, "op0 recorded {wots} Winternitz uses");
    Ok(())
}

#[test]
fn operator_sigkilled_between_kickoff_and_take1_restarts_and_finishes() -> Result<()> {
    let (demo, dep) = deposited()?;
    let d = &demo.d;
    let g = &dep.graph;
    let dest = user_script();
    let id = d.withdraw(&demo.side, WithdrawalRequest { graph_id: g.id(), operator: 0, destination: dest, amount: Amount::from_sat(300_000), nonce: 7 })?;
    demo.drive("kickoff confirmed", 10, |dm| {
        Ok(dm.duty_state("op0", |x| x["id"] == json!(id))?.map(|x| x["state"] == json!("kicked off, waiting T1")).unwrap_or(false))
    })?;
    let po = g.peg_out(0)?;
    ensure!(d.confirmations(&po.kickoff.txid())?.unwrap_or(0) >= 1, "kickoff not mined");
    demo.kill("op0")?;
    // T1 passes while the operator is down.
    d.mine(u64::from(g.params().timelocks.take1))?;
    ensure!(d.confirmations(&po.take1.txid())?.is_none(), "Take1 appeared without the operator");
    demo.spawn("op0")?;
    demo.wait_up("op0")?;
    demo.drive("Take1 after restart", 10, |dm| {
        Ok(dm.duty_state("op0", |x| x["id"] == json!(id))?.map(|x| x["state"] == json!("done: Take1")).unwrap_or(false))
    })
    .inspect_err(|_| demo.dump_logs())?;
    let take1 = d.tx(&po.take1.txid())?;
    assert!(take1.input.iter().any(|i| i.previous_output == OutPoint { txid: dep.peg_in_confirm, vout: 0 }), "Take1 spends the vault");
    assert_eq!(take1.output[0].script_pubkey, g.params().operators[0].payout_script);
    assert_eq!(d.utxo(&OutPoint { txid: dep.peg_in_confirm, vout: 0 })?, None);
    Ok(())
}

#[test]
fn verifier_sigkilled_during_musig2_rounds_restarts_setup_completes_no_nonce_reused() -> Result<()> {
    let demo = start()?;
    let d = &demo.d;
    let kills = std::cell::Cell::new(0);
    // Kill v1 right after it issued its nonces (before it signs), and again right after it
    // signed (before the presigned graph is stored); restart it each time.
    let dep = d.deposit(&demo.depositor, Amount::from_sat(1_000_000), bitvm2_txgraph::Timelocks::REGTEST, &|s| {
        if s.starts_with("graph ") || s.contains("peg-out graphs presigned") {
            demo.kill("v1").expect("kill v1");
            demo.spawn("v1").expect("restart v1");
            kills.set(kills.get() + 1);
        }
    })
    .inspect_err(|_| demo.dump_logs())?;
    assert_eq!(kills.get(), 2);
    // Setup completed: the vault is funded and every peg-out graph verifies.
    assert!(d.utxo(&OutPoint { txid: dep.peg_in_confirm, vout: 0 })?.is_some());
    // v1's store: one nonce per session, each from a distinct counter, each spent once.
    let store = bitvm2_node::Store::open(&demo.spec("v1").dir.join("node.sqlite"))?;
    let mut counters = Vec::new();
    for s in sessions(&dep.graph).map_err(anyhow::Error::msg)? {
        let rec = store.with(|t| t.nonce(&s.id.to_string()))?.context("nonce record")?;
        assert!(rec.spent, "session {} not spent", s.id);
        counters.push(rec.counter);
    }
    let mut uniq = counters.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), counters.len(), "a nonce counter was reused: {counters:?}");
    Ok(())
}

#[test]
fn faulty_kickoff_challenged_within_one_block_and_stalled_operator_slashed_by_timeout() -> Result<()> {
    use bitvm2_verifier::protocol::{encode, kind, CheatMsg};
    let (demo, dep) = deposited()?;
    let d = &demo.d;
    let g = &dep.graph;
    let po = g.peg_out(1)?;
    let admin = bitvm2_node::PeerClient::new(*demo.spec("op1").keys.keypair(), std::time::Duration::from_secs(10));
    d.send_as(&admin, &demo.member("op1"), kind::CHEAT, &encode(&CheatMsg { graph_id: g.id(), kickoff_without_payout: true, wrong_asserts: false }))?;
    // The operator's Kickoff (no payout behind it) reaches the mempool; then the operator dies
    // and never asserts.
    let t = std::time::Instant::now();
    while d.confirmations(&po.kickoff.txid())?.is_none() {
        ensure!(t.elapsed().as_secs() < 20, "kickoff never broadcast");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    demo.kill("op1")?;
    let key = format!("{}:1", g.id());
    demo.drive("KickoffTimeout", 15, |dm| Ok(mined_record(dm, &key, "timeout")?.is_some())).inspect_err(|_| demo.dump_logs())?;
    let ch = mined_record(&demo, &key, "challenge")?.context("mined challenge")?;
    let kh = d.tx_height(&po.kickoff.txid())?.context("kickoff height")?;
    assert_eq!(d.tx_height(&ch)?, Some(kh + 1), "the watchtower's challenge is mined in the block after the kickoff");
    assert_eq!(d.tx(&ch)?.input[0].previous_output, po.kickoff.outpoint(0));
    let to = mined_record(&demo, &key, "timeout")?.context("timeout")?;
    let tx = d.tx(&to)?;
    assert_eq!(tx.input[0].previous_output, po.kickoff.outpoint(1), "KickoffTimeout spends the stake connector");
    assert!(tx.output[0].script_pubkey.is_op_return(), "the stake is burned");
    let th = d.tx_height(&to)?.context("timeout height")?;
    assert!(th >= kh + u64::from(g.params().timelocks.assert_timeout), "not before T2");
    assert!(d.utxo(&OutPoint { txid: dep.peg_in_confirm, vout: 0 })?.is_some(), "the vault is untouched");
    Ok(())
}

#[test]
fn user_who_moves_the_payout_at_once_does_not_get_the_honest_operator_challenged() -> Result<()> {
    use bitcoin::secp256k1::{rand, Keypair, Secp256k1};
    use bitcoin::{absolute::LockTime, transaction::Version, Transaction, TxIn, TxOut};
    use bitvm2_txgraph::wallet::{p2tr_script, sign_p2tr_keypath};
    let (demo, dep) = deposited()?;
    let d = &demo.d;
    let g = &dep.graph;
    let user = Keypair::new(&Secp256k1::new(), &mut rand::thread_rng());
    let dest = p2tr_script(user.x_only_public_key().0);
    let amount = Amount::from_sat(300_000);
    let id = d.withdraw(&demo.side, WithdrawalRequest { graph_id: g.id(), operator: 0, destination: dest.clone(), amount, nonce: 11 })?;
    // The payout confirms and the user moves it on at once. Verifiers check the kickoff on
    // every block until Take1, so they all see the payout output spent.
    let mut payout = None;
    demo.drive("payout confirmed", 10, |dm| {
        payout = dm.duty_state("op0", |x| x["id"] == json!(id))?.and_then(|x| x["payout"].as_str()?.parse::<OutPoint>().ok());
        Ok(match payout {
            Some(p) => dm.d.confirmations(&p.txid)?.unwrap_or(0) >= 1,
            None => false,
        })
    })
    .inspect_err(|_| demo.dump_logs())?;
    let payout = payout.context("payout")?;
    let paid = d.tx(&payout.txid)?.output.get(payout.vout as usize).cloned().context("payout output")?;
    ensure!(paid.script_pubkey == dest && paid.value == amount, "the payout does not pay the request");
    let mut moved = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn { previous_output: payout, ..Default::default() }],
        output: vec![TxOut { value: amount - Amount::from_sat(1_000), script_pubkey: user_script() }],
    };
    sign_p2tr_keypath(&mut moved, 0, &[paid], &user)?;
    d.send_tx(&moved)?;
    d.mine(1)?;
    ensure!(d.utxo(&payout)?.is_none(), "the user's spend of the payout was not mined");
    demo.drive("Take1", 20, |dm| Ok(dm.duty_state("op0", |x| x["id"] == json!(id))?.map(|x| x["state"] == json!("done: Take1")).unwrap_or(false)))
        .inspect_err(|_| demo.dump_logs())?;
    // Take1 spends the challenge connector: nobody challenged.
    let po = g.peg_out(0)?;
    let take1 = d.tx(&po.take1.txid())?;
    ensure!(take1.input.iter().any(|i| i.previous_output == po.kickoff.outpoint(0)), "Take1 did not spend the challenge connector");
    Ok(())
}

#[test]
fn challenged_operator_that_stops_after_assert_initial_is_slashed_by_assert_timeout() -> Result<()> {
    use bitvm2_verifier::protocol::{encode, kind, ForceChallengeMsg};
    let (demo, dep) = deposited()?;
    let d = &demo.d;
    let g = &dep.graph;
    let po = g.peg_out(0)?;
    // v2 challenges op0's (paid) kickoff; op0 answers with AssertInitial, then stops for good.
    d.send_as(&demo.admin("v2"), &demo.member("v2"), kind::FORCE_CHALLENGE, &encode(&ForceChallengeMsg { graph_id: g.id(), operator: 0 }))?;
    d.withdraw(&demo.side, WithdrawalRequest { graph_id: g.id(), operator: 0, destination: user_script(), amount: Amount::from_sat(300_000), nonce: 31 })?;
    demo.drive("AssertInitial mined", 20, |dm| Ok(dm.d.tx_height(&po.assert_initial.txid())?.is_some())).inspect_err(|_| demo.dump_logs())?;
    demo.kill("op0")?;
    let ai_height = d.tx_height(&po.assert_initial.txid())?.context("AssertInitial height")?;
    let t2 = u64::from(g.params().timelocks.assert_timeout);
    let key = format!("{}:0", g.id());
    demo.drive("AssertTimeout", t2 + 10, |dm| Ok(mined_record(dm, &key, "timeout")?.is_some())).inspect_err(|_| demo.dump_logs())?;
    let to = mined_record(&demo, &key, "timeout")?.context("timeout")?;
    let tx = d.tx(&to)?;
    assert_eq!(tx.input[0].previous_output, po.assert_initial.outpoint(0), "AssertTimeout spends AssertInitial's carry");
    assert!(tx.output[0].script_pubkey.is_op_return(), "the carry is burned");
    assert!(d.tx_height(&to)?.context("timeout height")? >= ai_height + t2, "not before T2 after AssertInitial");
    ensure!(d.confirmations(&po.assert_final.txid())?.is_none(), "AssertFinal appeared without the operator");
    assert!(d.utxo(&OutPoint { txid: dep.peg_in_confirm, vout: 0 })?.is_some(), "the vault is untouched");
    Ok(())
}
