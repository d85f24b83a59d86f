//! A Kickoff that commits another amount than the withdrawal request's, with the daemons as
//! real processes against a real bitcoind: op0 pays the user exactly as asked, but (fault
//! injection `ctl/misclaim`) signs amount + 1 sat in its Kickoff. Every verifier reads the
//! claim back from the mined Kickoff, finds that no request asks that amount and challenges;
//! the recorded reason names the amount mismatch.
//!
//! What follows today: the daemons' disprove tree is the first program's (no public-input
//! binding leaves, `bitvm2_disprove::binding`, in it), and op0's asserts of that program are
//! honest, so nothing is disproved and op0 takes the vault by Take2 after T3. The test pins
//! that outcome so a change to it is seen.

mod common;

use anyhow::{ensure, Context, Result};
use bitcoin::hex::DisplayHex;
use bitcoin::{Amount, OutPoint};
use bitvm2_cli::demo::{user_script, Demo};
use bitvm2_verifier::protocol::{encode, kind, MisclaimMsg, WithdrawalRequest};
use common::bitvm2_exe;
use serde_json::json;

#[test]
fn kickoff_committing_another_amount_is_challenged_for_the_amount() -> Result<()> {
    let demo = Demo::start(bitvm2_exe()?, true, false)?;
    let d = &demo.d;
    let dep = d.deposit(&demo.depositor, Amount::from_sat(1_000_000), bitvm2_txgraph::Timelocks::REGTEST, &|_| {}).inspect_err(|_| demo.dump_logs())?;
    let g = &dep.graph;
    let dest = user_script();
    let amount = Amount::from_sat(300_000);
    let req = WithdrawalRequest { graph_id: g.id(), operator: 0, destination: dest.clone(), amount, nonce: 11 };
    let id = req.id().to_lower_hex_string();
    // The switch goes first (the operator refuses it once the Kickoff is signed).
    let ok = d.send_as(&demo.admin("op0"), &demo.member("op0"), kind::MISCLAIM, &encode(&MisclaimMsg { request_id: id.clone(), extra_sat: 1 }))?;
    ensure!(ok == b"ok", "misclaim switch answered {}", String::from_utf8_lossy(&ok));
    ensure!(d.withdraw(&demo.side, req)? == id, "request id");

    let state = |dm: &Demo| -> Result<String> {
        Ok(dm.duty_state("op0", |x| x["id"] == json!(id))?.and_then(|x| x["state"].as_str().map(String::from)).unwrap_or_default())
    };
    demo.drive("op0's duty done", 40, |dm| Ok(state(dm)?.starts_with("done"))).inspect_err(|_| demo.dump_logs())?;
    let duty = demo.duty_state("op0", |x| x["id"] == json!(id))?.context("duty")?;
    let po = g.peg_out(0)?;

    // The payout pays the request as asked.
    let payout: OutPoint = duty["payout"].as_str().context("no payout")?.parse()?;
    let p = d.tx(&payout.txid)?;
    ensure!(p.output[payout.vout as usize].script_pubkey == dest && p.output[payout.vout as usize].value == amount, "payout does not pay the request");

    // The Kickoff on chain commits the payout, the destination and amount + 1 sat.
    let ktx = d.tx(&po.kickoff.txid())?;
    let items: Vec<Vec<u8>> = ktx.input[0].witness.iter().map(<[u8]>::to_vec).collect();
    // Read with the claim key of op0 as v0 stored it (the graph it presigned).
    let store = bitvm2_node::Store::open(&demo.spec("v0").dir.join("node.sqlite"))?;
    let rec = store.with(bitvm2_verifier::common::all_records)?.into_iter().find(|(k, _)| *k == g.id().to_string()).context("v0's graph record")?.1;
    let ck = rec.graph().map_err(anyhow::Error::msg)?.claim_keys[0].clone();
    let claimed = ck.read(items.get(..ck.witness_items()).context("kickoff witness too short")?)?;
    ensure!(claimed.amount == amount + Amount::from_sat(1) && claimed.destination == dest && claimed.payout_txid == payout.txid, "{claimed:?}");

    // A verifier read that claim and challenged it for the amount (the others see the
    // challenge connector spent and do not challenge again); its challenge is mined.
    let key = format!("{}:0", g.id());
    let w = demo.watch_records()?.into_iter().filter(|w| w["kickoff"] == json!(key)).collect::<Vec<_>>();
    let ch = w
        .iter()
        .find_map(|r| r["challenge"].as_str().and_then(|c| c.parse::<bitcoin::Txid>().ok()).filter(|c| d.confirmations(c).ok().flatten().unwrap_or(0) > 0))
        .context("no mined challenge")?;
    let challenger = w.iter().find(|r| r["challenge"] == json!(ch.to_string())).context("challenger")?;
    let named = |reason: &str| reason.contains(&format!("commits amount {}", amount + Amount::from_sat(1))) && reason.contains(&format!("the request asks {amount}"));
    let reason = challenger["challenge_reason"].as_str().context("challenge without a recorded reason")?;
    ensure!(named(reason), "{}: reason {reason:?} does not name the amount mismatch", challenger["verifier"]);
    eprintln!("challenged by {}: {reason}", challenger["verifier"]);
    for r in &w {
        if let Some(reason) = r["challenge_reason"].as_str() {
            ensure!(named(reason), "{}: reason {reason:?}", r["verifier"]);
        }
    }
    ensure!(d.tx(&ch)?.input[0].previous_output == po.kickoff.outpoint(0), "challenge does not spend the challenge connector");
    let kh = d.tx_height(&po.kickoff.txid())?.context("kickoff height")?;
    ensure!(d.tx_height(&ch)? == Some(kh + 1), "challenge not mined in the block after the Kickoff");

    // Today's outcome: the asserts are honest, nothing is disproved, Take2 pays op0.
    ensure!(duty["state"] == json!("done: Take2"), "op0 ended in {}", duty["state"]);
    ensure!(w.iter().all(|r| r["disprove"].is_null()), "a disprove was attempted: {w:?}");
    ensure!(w.iter().any(|r| r["asserts_ok"] == json!(true)), "no verifier read the asserts as correct");
    let take2 = d.tx(&po.take2.txid())?;
    ensure!(take2.input.iter().any(|i| i.previous_output == OutPoint { txid: dep.peg_in_confirm, vout: 0 }), "Take2 does not spend the vault");
    Ok(())
}
