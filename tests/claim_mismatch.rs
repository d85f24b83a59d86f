//! A Kickoff that commits another amount than the withdrawal request's, with the daemons as
//! real processes against a real bitcoind: op0 pays the user exactly as asked, but (fault
//! injection `ctl/misclaim`) signs amount + 1 sat in its Kickoff. Every verifier reads the
//! claim back from the mined Kickoff, finds that no request asks that amount and challenges;
//! the recorded reason names the amount mismatch.
//!
//! What follows depends on the program the graphs carry:
//! - the statement program (the Groth16 verifier of the payout statement with its public-input
//!   binding leaves): op0 proves its real payout (the request's amount), the verifiers find the
//!   asserted x2 differs from the Kickoff's and spend the x2 binding leaf: disproved, slashed;
//! - the small horner program, which has no binding leaves and proves nothing about payouts:
//!   op0's asserts are honest, nothing is disproved and Take2 pays op0 (pinned so that a change
//!   is seen).

mod common;

use anyhow::{ensure, Context, Result};
use bitcoin::hex::DisplayHex;
use bitcoin::{Amount, OutPoint};
use bitvm2_cli::demo::{user_script, Demo};
use bitvm2_node::ProgramKind;
use bitvm2_verifier::protocol::{encode, kind, MisclaimMsg, WithdrawalRequest};
use common::bitvm2_exe;
use serde_json::{json, Value};

struct Outcome {
    demo: Demo,
    duty: Value,
    watch: Vec<Value>,
    graph: bitvm2_txgraph::Graph,
    vault: bitcoin::Txid,
}

/// Deposit, then a withdrawal for op0 with the misclaim switch on; drives until op0's duty is
/// done and checks the claim read back from the Kickoff and the challenge and its reason.
fn misclaim(program: ProgramKind) -> Result<Outcome> {
    let demo = Demo::start_full(bitvm2_exe()?, true, false, program, &[])?;
    let d = &demo.d;
    let dep = d.deposit(&demo.depositor, Amount::from_sat(1_000_000), demo.timelocks, &|_| {}).inspect_err(|_| demo.dump_logs())?;
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
    demo.drive("op0's duty done", demo.blocks(40), |dm| Ok(state(dm)?.starts_with("done"))).inspect_err(|_| demo.dump_logs())?;
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
    let ck = v0_graph(&demo, g)?.claim_key(0).clone();
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
    let graph = g.clone();
    let vault = dep.peg_in_confirm;
    Ok(Outcome { demo, duty, watch: w, graph, vault })
}

/// The graph as v0 stored and rebuilt it.
fn v0_graph(demo: &Demo, g: &bitvm2_txgraph::Graph) -> Result<std::sync::Arc<bitvm2_verifier::real::Built>> {
    let store = bitvm2_node::Store::open(&demo.spec("v0").dir.join("node.sqlite"))?;
    let rec = store.with(bitvm2_verifier::common::all_records)?.into_iter().find(|(k, _)| *k == g.id().to_string()).context("v0's graph record")?.1;
    rec.graph().map_err(anyhow::Error::msg)
}

#[test]
fn statement_kickoff_committing_another_amount_is_disproved_by_its_binding_leaf() -> Result<()> {
    let o = misclaim(ProgramKind::Statement)?;
    let d = &o.demo.d;
    let po = o.graph.peg_out(0)?;
    ensure!(o.duty["state"] == json!("done: disproved, stake slashed"), "op0 ended in {}", o.duty["state"]);
    let (dis, rec) = o
        .watch
        .iter()
        .find_map(|r| r["disprove"].as_str().and_then(|t| t.parse::<bitcoin::Txid>().ok()).filter(|t| d.confirmations(t).ok().flatten().unwrap_or(0) > 0).map(|t| (t, r)))
        .context("no mined disprove")?;
    let leaf = rec["disprove_leaf"].as_u64().context("disprove leaf")? as usize;
    let built = v0_graph(&o.demo, &o.graph)?;
    let program_leaves = built.instances[0].disprove.leaf_hashes().len();
    // The binding leaves follow the program's, in claim-field order (x0..x5, x9, x10): x2 is
    // the third.
    ensure!(leaf == program_leaves + 2, "disproved through leaf {leaf}, the x2 binding leaf is {}", program_leaves + 2);
    // On chain: the assert connector and the stake are spent by a burn; the vault is intact.
    let dtx = d.tx(&dis)?;
    ensure!(dtx.input.iter().any(|i| i.previous_output == po.assert_final.outpoint(0)), "the disprove does not spend the assert connector");
    ensure!(dtx.output[0].script_pubkey.is_op_return(), "the disprove does not burn");
    ensure!(dtx.input.iter().any(|i| i.previous_output == po.assert_final.outpoint(1)), "the disprove does not take the stake");
    ensure!(d.utxo(&OutPoint { txid: o.vault, vout: 0 })?.is_some(), "the vault was taken");
    eprintln!("disproved through binding leaf {leaf} (x2), {} WU", dtx.weight().to_wu());
    Ok(())
}

#[test]
fn horner_kickoff_committing_another_amount_is_challenged_then_takes() -> Result<()> {
    let o = misclaim(ProgramKind::Horner)?;
    let d = &o.demo.d;
    let po = o.graph.peg_out(0)?;
    let (duty, w) = (&o.duty, &o.watch);
    // The horner program binds nothing: the asserts are honest, nothing is disproved, Take2
    // pays op0.
    ensure!(duty["state"] == json!("done: Take2"), "op0 ended in {}", duty["state"]);
    ensure!(w.iter().all(|r| r["disprove"].is_null()), "a disprove was attempted: {w:?}");
    ensure!(w.iter().any(|r| r["asserts_ok"] == json!(true)), "no verifier read the asserts as correct");
    let take2 = d.tx(&po.take2.txid())?;
    ensure!(take2.input.iter().any(|i| i.previous_output == OutPoint { txid: o.vault, vout: 0 }), "Take2 does not spend the vault");
    Ok(())
}
