//! Process-level faults against the five `bitvm2` daemons and a real regtest bitcoind: a
//! 3-block reorg right after a Kickoff, a verifier SIGKILLed before a dishonest kickoff,
//! bitcoind stopped and restarted between Kickoff and Take1, an operator SIGKILLed and
//! restarted at each step of a challenged withdrawal, verifiers SIGKILLed and restarted during
//! PegInConfirm signing, before challenging and before disproving, and garbage, forged and
//! replayed peer messages posted to every daemon while a scenario runs. Each test ends by
//! checking the on-chain state: who holds the vault's coins and which connector was spent by
//! what; the kill tests also check the stores: no MuSig2 nonce and no Winternitz one-time key
//! used twice.

mod common;

use common::bitvm2_exe;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use bitcoin::{Amount, OutPoint, Txid};
use bitvm2_cli::demo::{user_script, Demo};
use bitvm2_harness::Shutdown;
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
    // The 3 blocks from the Kickoff's up are replaced by 4 new ones (harness-mined with fresh
    // coinbase scripts, so none equals an invalidated block).
    let old = demo.node().reorg(3, 4)?;
    let new = demo.node().call("getblockhash", &[json!(kh)])?;
    ensure!(new != json!(old[0].to_string()), "block at the kickoff height was not replaced");
    ensure!(d.height()? == kh + 3, "the new branch is not the best chain");
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
    assert_eq!(dtx.input[1].previous_output, po.assert_final.outpoint(0), "disprove spends the assert connector");
    assert!(dtx.output[0].script_pubkey.is_op_return(), "the stake is burned");
    assert!(d.utxo(&OutPoint { txid: dep.peg_in_confirm, vout: 0 })?.is_some(), "the vault is not taken by the cheater");
    for tx in [po.take1.txid(), po.take2.txid()] {
        assert_eq!(d.confirmations(&tx)?, None, "a Take was mined for the cheater");
    }
    eprintln!("verifier-offline test: {:.1} s (challenger {challenger})", t.elapsed().as_secs_f64());
    Ok(())
}

/// The last `n` lines of bitcoind's debug.log (diagnostics on failure).
fn node_log_tail(demo: &Demo, n: usize) -> String {
    let log = std::fs::read_to_string(demo.node().datadir().join("regtest").join("debug.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn bitcoind_sigkilled_with_payout_in_mempool_then_stopped_before_take1_flow_completes() -> Result<()> {
    let t = Instant::now();
    let demo = Demo::start_with_node_args(bitvm2_exe()?, true, false, &["-debug=http"])?;
    let d = &demo.d;
    let dep = d.deposit(&demo.depositor, Amount::from_sat(1_000_000), bitvm2_txgraph::Timelocks::REGTEST, &|_| {})?;
    let g = &dep.graph;
    // 1. SIGKILL of bitcoind with op0's payout in its mempool: the mempool is lost (Core
    // saves it on a clean shutdown only); op0 must broadcast the payout again from its outbox.
    let (dest, amount) = (user_script(), Amount::from_sat(300_000));
    let id = d.withdraw(&demo.side, WithdrawalRequest { graph_id: g.id(), operator: 0, destination: dest.clone(), amount, nonce: 13 })?;
    let payout = std::cell::Cell::new(None);
    wait_for(&demo, "payout in the mempool", |dm| {
        let p: Option<OutPoint> = duty(dm, "op0", &id)?["payout"].as_str().and_then(|p| p.parse().ok());
        payout.set(p);
        Ok(match p {
            Some(p) => dm.d.confirmations(&p.txid)? == Some(0),
            None => false,
        })
    })?;
    let payout = payout.get().context("payout")?;
    let height = d.height()?;
    let took = demo.node_mut().shut_down(Shutdown::Kill)?;
    demo.node_mut().start_again()?;
    ensure!(d.height()? == height, "blocks lost across the SIGKILL");
    eprintln!("bitcoind SIGKILLed ({:.2} s) and back; payout in its mempool after the restart: {}", took.as_secs_f64(), d.confirmations(&payout.txid)?.is_some());
    demo.drive("kickoff confirmed", 10, |dm| Ok(duty(dm, "op0", &id)?["state"] == json!("kicked off, waiting T1"))).inspect_err(|_| demo.dump_logs())?;
    ensure!(d.confirmations(&payout.txid)?.unwrap_or(0) >= 1, "payout not mined");
    let p = d.tx(&payout.txid)?;
    ensure!(p.output[0].script_pubkey == dest && p.output[0].value == amount, "the payout does not pay the user");
    // 2. A graceful `stop` between Kickoff and Take1 while five daemons and the driver poll.
    let height = d.height()?;
    let took = demo.node_mut().shut_down(Shutdown::Graceful(Duration::from_secs(25)));
    let took = took.inspect_err(|_| eprintln!("--- bitcoind debug.log ---\n{}", node_log_tail(&demo, 60)))?;
    eprintln!("bitcoind stopped in {:.2} s", took.as_secs_f64());
    // While the node is down the daemons keep answering their peers.
    for m in &d.members {
        d.status(m).with_context(|| format!("{} does not answer while bitcoind is down", m.name))?;
    }
    let t0 = Instant::now();
    demo.node_mut().start_again()?;
    ensure!(d.height()? == height, "chain height changed across the restart");
    eprintln!("bitcoind back after {:.2} s", t0.elapsed().as_secs_f64());
    // Every daemon follows the restarted node: its /status tip reaches the new block.
    d.mine(1)?;
    let t1 = Instant::now();
    for m in &d.members {
        while d.status(m)?["tip"]["height"].as_u64() != Some(height + 1) {
            ensure!(t1.elapsed() < Duration::from_secs(60), "{} never saw the restarted node's tip", m.name);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    eprintln!("all daemons at the new tip {:.2} s after the restart", t1.elapsed().as_secs_f64());
    let (t2, h2) = (Instant::now(), d.height()?);
    finish_with_take1(&demo, g, dep.peg_in_confirm, &id)?;
    eprintln!("Take1 {:.2} s and {} blocks after the daemons caught up", t2.elapsed().as_secs_f64(), d.height()? - h2);
    eprintln!("bitcoind-restart test: {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

// ---- helpers of the kill/restart and junk tests ----

/// SIGKILLs daemon `name`, runs `while_down` (e.g. mines), restarts it on its store and
/// waits until it answers again.
fn kill_restart(demo: &Demo, name: &str, while_down: impl FnOnce() -> Result<()>) -> Result<()> {
    demo.kill(name)?;
    while_down()?;
    demo.spawn(name)?;
    demo.wait_up(name)
}

/// Polls (no mining) until `done` holds; for states the daemons reach without a block.
fn wait_for(demo: &Demo, what: &str, done: impl Fn(&Demo) -> Result<bool>) -> Result<()> {
    let t = Instant::now();
    while !done(demo)? {
        ensure!(t.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Waits until every daemon in `names` has followed the chain to the node's tip: a restarted
/// daemon gets to see the blocks mined while it was down before the chain moves on (on a
/// real chain its catch-up takes seconds, a block ten minutes).
fn wait_caught_up(demo: &Demo, names: &[&str]) -> Result<()> {
    let h = demo.d.height()?;
    wait_for(demo, "daemons at the tip", |dm| {
        for n in names {
            if dm.d.status(&dm.member(n))?["tip"]["height"].as_u64() != Some(h) {
                return Ok(false);
            }
        }
        Ok(true)
    })
}

/// Operator `op`'s duty `id` as its /status shows it (Null if unknown).
fn duty(demo: &Demo, op: &str, id: &str) -> Result<Value> {
    Ok(demo.duty_state(op, |x| x["id"] == json!(id))?.unwrap_or(Value::Null))
}

/// Whether the duty has queued the transaction labelled `label`.
fn sent(duty: &Value, label: &str) -> bool {
    duty["sent"].as_array().is_some_and(|a| a.iter().any(|l| l == label))
}

/// The store of daemon `name` (opened next to the running daemon; SQLite serialises).
fn store(demo: &Demo, name: &str) -> Result<bitvm2_node::Store> {
    Ok(bitvm2_node::Store::open(&demo.spec(name).dir.join("node.sqlite"))?)
}

/// The tables a peer message can write to (the chain tables move with blocks only).
const MESSAGE_TABLES: [&str; 5] = ["peer_messages", "kv", "nonces", "winternitz", "outbox"];

fn message_rows(demo: &Demo, name: &str) -> Result<Vec<(String, u64)>> {
    let all = store(demo, name)?.row_counts()?;
    Ok(MESSAGE_TABLES.iter().map(|t| (t.to_string(), all.get(*t).copied().unwrap_or(0))).collect())
}

/// Every verifier's MuSig2 nonces for the deposit's sessions: each issued from its own
/// counter and spent (signed with) exactly once.
fn check_nonces_used_once(demo: &Demo, g: &bitvm2_txgraph::Graph) -> Result<()> {
    use bitvm2_verifier::protocol::sessions;
    for v in ["v0", "v1", "v2"] {
        let st = store(demo, v)?;
        let mut counters = Vec::new();
        for s in sessions(g).map_err(anyhow::Error::msg)? {
            let rec = st.with(|t| t.nonce(&s.id.to_string()))?.with_context(|| format!("{v}: no nonce record for {}", s.id))?;
            ensure!(rec.spent, "{v}: session {} not spent", s.id);
            counters.push(rec.counter);
        }
        let mut uniq = counters.clone();
        uniq.sort();
        uniq.dedup();
        ensure!(uniq.len() == counters.len(), "{v}: a nonce counter was reused: {counters:?}");
    }
    Ok(())
}

/// Operator `op`'s Winternitz commitments (Kickoff: the payout txid; Asserts: the program's
/// values) were each signed once: its outbox holds exactly one entry per label, and the
/// transaction mined for each is that entry's (same wtxid: same witness, same signature).
fn check_winternitz_signed_once(demo: &Demo, op: &str, mined: &[(&str, Txid)]) -> Result<()> {
    let entries = store(demo, op)?.with(|t| t.outbox_active())?;
    for (label, txid) in mined {
        let e: Vec<_> = entries.iter().filter(|e| e.label == *label).collect();
        ensure!(e.len() == 1, "{op}: {} outbox entries labelled {label} (a one-time key signed twice?)", e.len());
        let queued = e[0].txs.first().context("empty outbox entry")?;
        ensure!(queued.compute_txid() == *txid, "{op}: {label} entry is not the graph's transaction");
        let chain = demo.d.tx(txid)?;
        ensure!(chain.compute_wtxid() == queued.compute_wtxid(), "{op}: the mined {label} carries another witness than the one signed");
    }
    Ok(())
}

/// The HTTP status of a rejected peer message (`None`: accepted).
fn rejected<T>(r: std::result::Result<T, bitvm2_node::peer::PeerClientError>) -> Option<u16> {
    match r {
        Err(bitvm2_node::peer::PeerClientError::Rejected { status, .. }) => Some(status),
        Err(e) => Some(u16::MAX).inspect(|_| eprintln!("transport error: {e}")),
        Ok(_) => None,
    }
}

/// Posts junk to every daemon's peer API: garbage bytes (400), a well-formed message signed by
/// a key outside the committee (403), one that names a member as sender but carries another
/// key's signature (401). Each must be refused and leave the daemon's message tables as they
/// were. Returns the number of junk messages posted.
fn junk_round(demo: &Demo) -> Result<usize> {
    use bitcoin::secp256k1::{rand, Keypair, Secp256k1};
    use bitvm2_node::PeerClient;
    use bitvm2_verifier::protocol::kind;
    let d = &demo.d;
    let outsider = PeerClient::new(Keypair::new(&Secp256k1::new(), &mut rand::thread_rng()), Duration::from_secs(10));
    let member_key = demo.spec("op0").keys.public_key().to_string();
    let mut n = 0;
    for m in &d.members {
        let before = message_rows(demo, &m.name)?;
        let garbage = d.rt.block_on(outsider.post_unchecked(&m.url, b"\x00\xffnot an envelope{".to_vec()));
        ensure!(rejected(garbage) == Some(400), "{}: garbage not refused with 400", m.name);
        let stranger = d.rt.block_on(outsider.send(m, kind::WITHDRAW, b"{}"));
        ensure!(rejected(stranger) == Some(403), "{}: a non-member's message not refused with 403", m.name);
        let mut forged = outsider.envelope(kind::PRESIGNED, [7u8; 32], b"{}");
        forged.sender = member_key.clone();
        ensure!(rejected(d.rt.block_on(outsider.post(&m.url, &m.public_key().map_err(anyhow::Error::msg)?, &forged))) == Some(401), "{}: a forged signature not refused with 401", m.name);
        n += 3;
        ensure!(message_rows(demo, &m.name)? == before, "{}: junk changed the store", m.name);
    }
    Ok(n)
}

type Captured = Vec<(bitvm2_node::Member, bitvm2_node::Envelope, Vec<u8>)>;

/// Sends op0's withdrawal request `req` (signed by the side system) to every member as the
/// coordinator does, keeping each envelope as sent (to replay it later). Returns the request
/// id and the envelopes with the answers.
fn withdraw_captured(demo: &Demo, req: WithdrawalRequest) -> Result<(String, Captured)> {
    use bitvm2_node::peer::content_id;
    use bitvm2_verifier::protocol::{encode, kind};
    let d = &demo.d;
    let signed = req.sign(&demo.side);
    let id = to_hex(&signed.request.id());
    let payload = encode(&signed);
    let mut out = Vec::new();
    for m in &d.members {
        let env = d.client.envelope(kind::WITHDRAW, content_id(kind::WITHDRAW, &payload), &payload);
        let r = d.rt.block_on(d.client.post(&m.url, &m.public_key().map_err(anyhow::Error::msg)?, &env)).with_context(|| format!("withdrawal to {}", m.name))?;
        ensure!(!r.replay, "first withdrawal message taken for a replay");
        out.push((m.clone(), env, r.payload));
    }
    Ok((id, out))
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn from_hex(s: &str) -> Result<Vec<u8>> {
    ensure!(s.len().is_multiple_of(2), "odd hex");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(anyhow::Error::from)).collect()
}

/// Replays each captured envelope byte for byte (answered from the records, marked as a
/// replay), re-signed with a later timestamp (the same), with its id reused for another
/// payload (409), and posts a withdrawal whose side-system signature is forged (422). The
/// message tables must not change (on op0, busy paying meanwhile: no message recorded).
/// Returns the number of messages posted.
fn replay_round(demo: &Demo, captured: &Captured, g: &bitvm2_txgraph::Graph) -> Result<usize> {
    use bitcoin::secp256k1::{rand, Keypair, Secp256k1};
    use bitvm2_verifier::protocol::{encode, kind};
    let d = &demo.d;
    let mut n = 0;
    let forged_side = Keypair::new(&Secp256k1::new(), &mut rand::thread_rng());
    let forged = encode(&WithdrawalRequest { graph_id: g.id(), operator: 1, destination: user_script(), amount: Amount::from_sat(900_000), nonce: 99 }.sign(&forged_side));
    let peer_rows = |rows: &[(String, u64)]| rows.iter().find(|(t, _)| t == "peer_messages").map(|r| r.1);
    // A later timestamp (the envelope counts seconds).
    std::thread::sleep(Duration::from_millis(1100));
    for (m, env, answer) in captured {
        let before = message_rows(demo, &m.name)?;
        let key = m.public_key().map_err(anyhow::Error::msg)?;
        let exact = d.rt.block_on(d.client.post(&m.url, &key, env)).with_context(|| format!("replay to {}", m.name))?;
        ensure!(exact.replay && exact.payload == *answer, "{}: an exact replay was not answered from the records", m.name);
        let payload = from_hex(&env.payload)?;
        let resigned = d.rt.block_on(d.client.send(m, kind::WITHDRAW, &payload))?;
        ensure!(resigned.replay && resigned.payload == *answer, "{}: a re-signed replay was processed again", m.name);
        let id: [u8; 32] = from_hex(&env.id)?.try_into().map_err(|_| anyhow::anyhow!("id length"))?;
        let other = d.client.envelope(kind::WITHDRAW, id, &forged);
        ensure!(rejected(d.rt.block_on(d.client.post(&m.url, &key, &other))) == Some(409), "{}: an id reused for another payload not refused with 409", m.name);
        ensure!(rejected(d.rt.block_on(d.client.send(m, kind::WITHDRAW, &forged))) == Some(422), "{}: a withdrawal with a forged side-system signature not refused with 422", m.name);
        n += 4;
        let after = message_rows(demo, &m.name)?;
        if m.name == "op0" {
            ensure!(peer_rows(&after) == peer_rows(&before), "op0: replays or forgeries were recorded as messages");
        } else {
            ensure!(after == before, "{}: replays or forgeries changed the store", m.name);
        }
    }
    Ok(n)
}

#[test]
fn operator_sigkilled_at_each_step_of_a_challenged_withdrawal_and_junk_peer_messages_take2_follows() -> Result<()> {
    use bitvm2_verifier::protocol::{encode, kind, ForceChallengeMsg};
    let t = Instant::now();
    let demo = Demo::start(bitvm2_exe()?, true, false)?;
    let d = &demo.d;
    // Junk to every daemon while the deposit's setup runs (after the nonce round and after
    // the peg-out graphs are presigned).
    let junk = std::cell::Cell::new(0);
    let dep = d
        .deposit(&demo.depositor, Amount::from_sat(1_000_000), bitvm2_txgraph::Timelocks::REGTEST, &|s| {
            if s.starts_with("graph ") || s.contains("peg-out graphs presigned") {
                junk.set(junk.get() + junk_round(&demo).expect("junk round"));
            }
        })
        .inspect_err(|_| demo.dump_logs())?;
    ensure!(junk.get() == 30, "junk rounds did not run twice");
    let g = &dep.graph;
    let po = g.peg_out(0)?;
    let tl = g.params().timelocks;
    // v2 challenges op0's (paid) kickoff: op0 must assert and take through Take2.
    d.send_as(&demo.admin("v2"), &demo.member("v2"), kind::FORCE_CHALLENGE, &encode(&ForceChallengeMsg { graph_id: g.id(), operator: 0 }))?;
    let dest = user_script();
    let amount = Amount::from_sat(300_000);
    let (id, captured) = withdraw_captured(&demo, WithdrawalRequest { graph_id: g.id(), operator: 0, destination: dest.clone(), amount, nonce: 21 })?;
    let replays = replay_round(&demo, &captured, g)?;
    let mut kills = Vec::new();
    // 1. Right after the payout is queued and broadcast; it confirms while op0 is down.
    wait_for(&demo, "payout", |dm| Ok(duty(dm, "op0", &id)?["payout"].is_string()))?;
    kill_restart(&demo, "op0", || d.mine(1))?;
    kills.push("after payout");
    // 2. Right after the Kickoff is queued; it confirms while op0 is down, and v2 challenges.
    demo.drive("kickoff queued", 10, |dm| Ok(sent(&duty(dm, "op0", &id)?, "kickoff"))).inspect_err(|_| demo.dump_logs())?;
    kill_restart(&demo, "op0", || d.mine(1))?;
    kills.push("after Kickoff");
    // (Killed before its broadcast, op0 re-broadcasts the Kickoff from its outbox.)
    demo.drive("kickoff mined", 5, |dm| Ok(dm.d.tx_height(&po.kickoff.txid())?.is_some())).inspect_err(|_| demo.dump_logs())?;
    // v2 reacts to the mined Kickoff before any further block (T1 is 3 blocks here).
    wait_for(&demo, "v2's challenge queued", |dm| Ok(dm.watch_records()?.iter().any(|w| w["verifier"] == json!("v2") && !w["challenge"].is_null())))?;
    // 3. After op0's watcher has seen the Challenge in a block.
    let challenged = |dm: &Demo| -> Result<Option<u64>> {
        let w = dm.watch_records()?;
        match w.iter().find_map(|w| w["challenge"].as_str().and_then(|c| c.parse::<Txid>().ok())) {
            Some(c) => dm.d.tx_height(&c),
            None => Ok(None),
        }
    };
    demo.drive("challenge mined", 10, |dm| Ok(challenged(dm)?.is_some())).inspect_err(|_| demo.dump_logs())?;
    let ch_height = challenged(&demo)?.context("challenge height")?;
    wait_for(&demo, "op0 sees the challenge", |dm| Ok(dm.d.status(&dm.member("op0"))?["tip"]["height"].as_u64() >= Some(ch_height)))?;
    kill_restart(&demo, "op0", || Ok(()))?;
    kills.push("after Challenge seen");
    // The restarted op0 answers the challenge (AssertInitial) before any further block.
    wait_for(&demo, "AssertInitial queued after the restart", |dm| Ok(sent(&duty(dm, "op0", &id)?, "assert-initial")))?;
    // 4. Between the asserts: some queued, AssertFinal not yet.
    demo.drive("asserts queued", 10, |dm| {
        let du = duty(dm, "op0", &id)?;
        Ok(sent(&du, "assert-0") && !sent(&du, "assert-final"))
    })
    .inspect_err(|_| demo.dump_logs())?;
    kill_restart(&demo, "op0", || d.mine(1))?;
    kills.push("between asserts");
    wait_caught_up(&demo, &["op0"])?;
    // 5. Waiting for T3 after AssertFinal: T3 passes while op0 is down.
    demo.drive("asserted", 15, |dm| Ok(duty(dm, "op0", &id)?["state"] == json!("asserted, waiting T3"))).inspect_err(|_| demo.dump_logs())?;
    kill_restart(&demo, "op0", || d.mine(u64::from(tl.take2)))?;
    kills.push("before Take2");
    ensure!(d.confirmations(&po.take2.txid())?.is_none(), "Take2 appeared without the operator");
    demo.drive("Take2", 10, |dm| Ok(duty(dm, "op0", &id)?["state"].as_str().unwrap_or("").starts_with("done"))).inspect_err(|_| demo.dump_logs())?;
    // Final state: the user is paid once, op0 holds the vault through Take2, the challenge
    // spent the challenge connector, nobody disproved correct asserts.
    let du = duty(&demo, "op0", &id)?;
    ensure!(du["state"] == json!("done: Take2"), "op0 ended in {}", du["state"]);
    let payout: OutPoint = du["payout"].as_str().context("payout")?.parse()?;
    let p = d.tx(&payout.txid)?;
    assert!(p.output[0].script_pubkey == dest && p.output[0].value == amount, "the payout pays the request");
    let vault = OutPoint { txid: dep.peg_in_confirm, vout: 0 };
    let take2 = d.tx(&po.take2.txid())?;
    assert!(take2.input.iter().any(|i| i.previous_output == vault), "Take2 spends the vault");
    assert!(take2.input.iter().any(|i| i.previous_output == po.assert_final.outpoint(0)), "Take2 spends the assert connector");
    assert_eq!(take2.output[0].script_pubkey, g.params().operators[0].payout_script, "Take2 pays op0");
    assert_eq!(d.utxo(&vault)?, None, "the vault is spent");
    assert_eq!(d.confirmations(&po.take1.txid())?, None, "Take1 was mined after a challenge");
    let w = demo.watch_records()?;
    let mined_ch: Vec<Txid> = w.iter().filter_map(|w| w["challenge"].as_str()?.parse().ok()).filter(|c| d.confirmations(c).ok().flatten().unwrap_or(0) > 0).collect();
    ensure!(mined_ch.len() == 1, "{} challenges mined", mined_ch.len());
    assert_eq!(d.tx(&mined_ch[0])?.input[0].previous_output, po.kickoff.outpoint(0), "the challenge spends the challenge connector");
    assert!(w.iter().all(|w| w["disprove"].is_null()), "a disprove was attempted against correct asserts");
    let fh = d.tx_height(&po.assert_final.txid())?.context("AssertFinal height")?;
    assert!(d.tx_height(&po.take2.txid())?.context("Take2 height")? >= fh + u64::from(tl.take2), "Take2 before T3");
    // One signing per one-time key: Kickoff, AssertInitial, each Assert, AssertFinal.
    let mut labels: Vec<(String, Txid)> = vec![("kickoff".into(), po.kickoff.txid()), ("assert-initial".into(), po.assert_initial.txid())];
    labels.extend(po.asserts.iter().enumerate().map(|(k, a)| (format!("assert-{k}"), a.txid())));
    labels.push(("assert-final".into(), po.assert_final.txid()));
    let labels: Vec<(&str, Txid)> = labels.iter().map(|(l, t)| (l.as_str(), *t)).collect();
    check_winternitz_signed_once(&demo, "op0", &labels)?;
    check_nonces_used_once(&demo, g)?;
    eprintln!("operator-kill test: {:.1} s; op0 killed {} times ({}); {} junk and {} replayed/forged messages refused", t.elapsed().as_secs_f64(), kills.len(), kills.join(", "), junk.get(), replays);
    Ok(())
}

#[test]
fn verifiers_sigkilled_during_peg_in_signing_before_challenge_and_before_disprove_stake_still_burns() -> Result<()> {
    use bitvm2_verifier::protocol::{encode, kind, CheatMsg};
    let t = Instant::now();
    let demo = Demo::start(bitvm2_exe()?, true, false)?;
    let d = &demo.d;
    // 1. v1 is SIGKILLed once every member stored the presigned graphs, i.e. while the
    // coordinator collects the PegInConfirm partial signatures, and restarted at once; the
    // coordinator's request reaches it when it is back.
    let killed = std::cell::Cell::new(false);
    let dep = d
        .deposit(&demo.depositor, Amount::from_sat(1_000_000), bitvm2_txgraph::Timelocks::REGTEST, &|s| {
            if s.starts_with("every member checked") {
                demo.kill("v1").expect("kill v1");
                demo.spawn("v1").expect("restart v1");
                killed.set(true);
            }
        })
        .inspect_err(|_| demo.dump_logs())?;
    ensure!(killed.get(), "v1 was not killed during PegInConfirm signing");
    let g = &dep.graph;
    let po = g.peg_out(1)?;
    let tl = g.params().timelocks;
    let vault = OutPoint { txid: dep.peg_in_confirm, vout: 0 };
    ensure!(d.utxo(&vault)?.is_some(), "the vault is not funded");
    // 2. op1 kicks off without a payout. v1 and v2 are SIGKILLed while the faulty Kickoff
    // waits in the mempool; it is mined; v0 is SIGKILLed the moment its watcher has the
    // Kickoff's block (it has seen the Kickoff; its challenge may or may not be queued yet).
    // They restart and one challenges.
    let id = String::from_utf8(d.send_as(&demo.admin("op1"), &demo.member("op1"), kind::CHEAT, &encode(&CheatMsg { graph_id: g.id(), kickoff_without_payout: true, wrong_asserts: true }))?)?;
    wait_for(&demo, "faulty kickoff broadcast", |dm| Ok(dm.d.confirmations(&po.kickoff.txid())? == Some(0)))?;
    for v in ["v1", "v2"] {
        demo.kill(v)?;
    }
    d.mine(1)?;
    let kh = d.tx_height(&po.kickoff.txid())?.context("kickoff not mined")?;
    wait_for(&demo, "v0 sees the kickoff", |dm| Ok(dm.d.status(&dm.member("v0"))?["tip"]["height"].as_u64() >= Some(kh)))?;
    demo.kill("v0")?;
    let key = format!("{}:1", g.id());
    let v0_had_challenged = store(&demo, "v0")?.with(|t| t.kv_get(bitvm2_verifier::NS_WATCH, &key))?.is_some_and(|w| serde_json::from_slice::<Value>(&w).map(|w| !w["challenge"].is_null()).unwrap_or(false));
    for v in ["v0", "v1", "v2"] {
        demo.spawn(v)?;
    }
    for v in ["v0", "v1", "v2"] {
        demo.wait_up(v)?;
    }
    wait_caught_up(&demo, &["v0", "v1", "v2"])?;
    // No block until a restarted verifier has reacted: on a real chain T1 is many blocks, a
    // restart seconds; here T1 is 3 blocks and idle blocks come every 0.6 s.
    let recorded = |dm: &Demo, field: &str| -> Result<bool> { Ok(dm.watch_records()?.iter().any(|w| w["kickoff"] == json!(key) && !w[field].is_null())) };
    wait_for(&demo, "a challenge queued after the restart", |dm| recorded(dm, "challenge"))?;
    let mined_of = |dm: &Demo, field: &str| -> Result<Vec<(Txid, Value)>> {
        let mut out = Vec::new();
        for w in dm.watch_records()?.into_iter().filter(|w| w["kickoff"] == json!(key)) {
            if let Some(tx) = w[field].as_str().and_then(|c| c.parse::<Txid>().ok()) {
                if dm.d.confirmations(&tx)?.unwrap_or(0) > 0 {
                    out.push((tx, w["verifier"].clone()));
                }
            }
        }
        Ok(out)
    };
    demo.drive("challenge after restart", 5, |dm| Ok(!mined_of(dm, "challenge")?.is_empty())).inspect_err(|_| demo.dump_logs())?;
    let (ch, challenger) = mined_of(&demo, "challenge")?.remove(0);
    let chh = d.tx_height(&ch)?.context("challenge height")?;
    ensure!(chh < kh + u64::from(tl.take1), "challenge mined at {chh}, Take1 possible from {}", kh + u64::from(tl.take1));
    // 3. The challenger is SIGKILLed after its challenge; the others are SIGKILLed while the
    // (wrong) AssertFinal waits in the mempool; it is mined while every verifier is down.
    let challenger = challenger.as_str().context("challenger")?.to_string();
    demo.kill(&challenger)?;
    demo.drive("AssertFinal broadcast", 20, |dm| Ok(dm.d.confirmations(&po.assert_final.txid())? == Some(0))).inspect_err(|_| demo.dump_logs())?;
    for v in ["v0", "v1", "v2"].into_iter().filter(|v| *v != challenger) {
        demo.kill(v)?;
    }
    d.mine(1)?;
    let fh = d.tx_height(&po.assert_final.txid())?.context("AssertFinal not mined")?;
    for v in ["v0", "v1", "v2"] {
        demo.spawn(v)?;
    }
    for v in ["v0", "v1", "v2"] {
        demo.wait_up(v)?;
    }
    let t_up = Instant::now();
    wait_caught_up(&demo, &["v0", "v1", "v2"])?;
    eprintln!("verifiers caught up {:.2} s after the restart; AssertFinal at {fh}, tip {}", t_up.elapsed().as_secs_f64(), d.height()?);
    // Again no block until one of them has found the wrong step and queued its disprove (T3
    // is 3 blocks here; without this wait the cheater's Take2 won 1 run in 2 under load).
    wait_for(&demo, "a disprove queued after the restart", |dm| recorded(dm, "disprove"))?;
    eprintln!("disprove queued {:.2} s after the restart", t_up.elapsed().as_secs_f64());
    demo.drive("disprove after restart", 5, |dm| Ok(duty(dm, "op1", &id)?["state"].as_str().unwrap_or("").starts_with("done"))).inspect_err(|_| demo.dump_logs())?;
    eprintln!("op1 done {:.2} s after the verifiers caught up, tip {}", t_up.elapsed().as_secs_f64(), d.height()?);
    let du = duty(&demo, "op1", &id)?;
    if du["state"] != json!("done: disproved, stake slashed") {
        demo.dump_logs();
        eprintln!("watch records: {:#}", json!(demo.watch_records()?));
    }
    ensure!(du["state"] == json!("done: disproved, stake slashed"), "op1 ended in {}", du["state"]);
    // Final state: one challenge (challenge connector), one disprove (assert connector,
    // burned) before T3, the vault untouched, no Take.
    let chs = mined_of(&demo, "challenge")?;
    ensure!(chs.iter().all(|(c, _)| *c == ch), "more than one challenge mined: {chs:?}");
    assert_eq!(d.tx(&ch)?.input[0].previous_output, po.kickoff.outpoint(0), "the challenge spends the challenge connector");
    let dis = mined_of(&demo, "disprove")?;
    let (dtx_id, _) = dis.first().context("no mined disprove")?;
    let dtx = d.tx(dtx_id)?;
    assert_eq!(dtx.input[1].previous_output, po.assert_final.outpoint(0), "the disprove spends the assert connector");
    assert!(dtx.output[0].script_pubkey.is_op_return(), "the stake is burned");
    assert!(d.tx_height(dtx_id)?.context("disprove height")? < fh + u64::from(tl.take2), "disprove after T3");
    assert!(d.utxo(&vault)?.is_some(), "the vault is not taken by the cheater");
    for tx in [po.take1.txid(), po.take2.txid()] {
        assert_eq!(d.confirmations(&tx)?, None, "a Take was mined for the cheater");
    }
    check_nonces_used_once(&demo, g)?;
    eprintln!(
        "verifier-kill test: {:.1} s (v0 killed {} its challenge was queued; challenger {challenger}, challenge {} block(s) after the kickoff)",
        t.elapsed().as_secs_f64(),
        if v0_had_challenged { "after" } else { "before" },
        chh - kh
    );
    Ok(())
}
