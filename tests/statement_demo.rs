//! The bridge as `bitvm2 demo` runs it: every peg-out graph carries the Groth16 verifier of the
//! payout statement (`program = "statement"`), with the daemons as real processes against a
//! real bitcoind. The four scenarios check their final on-chain state themselves; here, on top:
//! the dishonest operator (no payout, so no proof) is disproved through a leaf of the verifier
//! program (not a binding leaf: its Kickoff and asserted public inputs agree), and the challenged
//! honest operator's proof and assertion are read back as correct by every verifier, nobody
//! disproves, and Take2 pays it.

mod common;

use anyhow::{ensure, Context, Result};
use bitvm2_cli::demo::{scenarios, Demo};
use bitvm2_node::ProgramKind;
use common::bitvm2_exe;
use serde_json::json;

#[test]
fn statement_program_deposit_honest_dishonest_and_challenged_honest() -> Result<()> {
    let demo = Demo::start_full(bitvm2_exe()?, true, false, ProgramKind::Statement, &[])?;
    let rows = scenarios(&demo).inspect_err(|_| demo.dump_logs())?;
    let names: Vec<&str> = rows.iter().map(|r| r.scenario.as_str()).collect();
    assert_eq!(names, ["1 deposit (x2)", "2 honest withdrawal", "3 dishonest claim", "4 challenged honest"]);
    for r in &rows {
        eprintln!("{}: {} ({} blocks, {:.1} s)", r.scenario, r.outcome, r.blocks, r.wall_secs);
        for t in &r.txs {
            eprintln!("    {} {} vB", t.name, t.vsize);
        }
    }
    assert!(rows[2].outcome.contains("stake slashed"), "{}", rows[2].outcome);
    assert!(rows[3].outcome.contains("via Take2"), "{}", rows[3].outcome);
    // The Groth16 assertion: about 230 asserts, each standard, summed in one row.
    let asserts = rows[3].txs.iter().find(|t| t.name.starts_with("Asserts x")).context("no assert summary row")?;
    let n: usize = asserts.name.trim_start_matches("Asserts x").parse()?;
    ensure!(n > 100, "{n} asserts");
    ensure!(asserts.vsize <= n * 100_000, "asserts of {} vB in all", asserts.vsize);

    // op1's disprove went through a program leaf (the final check), not a binding leaf.
    let watch = demo.watch_records()?;
    let graphs: Vec<String> = watch.iter().filter_map(|w| w["kickoff"].as_str().map(String::from)).collect();
    let dishonest = watch.iter().find(|w| w["kickoff"].as_str().is_some_and(|k| k.ends_with(":1")) && w["disprove_leaf"].is_u64()).context("no disprove of op1")?;
    let leaf = dishonest["disprove_leaf"].as_u64().context("leaf")? as usize;
    let gid = dishonest["kickoff"].as_str().context("kickoff key")?.trim_end_matches(":1").to_string();
    let store = bitvm2_node::Store::open(&demo.spec("v0").dir.join("node.sqlite"))?;
    let rec = store.with(bitvm2_verifier::common::all_records)?.into_iter().find(|(k, _)| *k == gid).context("v0's graph")?.1;
    let built = rec.graph().map_err(anyhow::Error::msg)?;
    ensure!(leaf < built.instances[1].disprove.leaf_hashes().len(), "op1 disproved through leaf {leaf}, a binding leaf");
    // Every verifier that watched op0's challenged claim read the assertion as correct.
    let honest: Vec<_> = watch.iter().filter(|w| w["kickoff"] == json!(format!("{gid}:0"))).collect();
    ensure!(!honest.is_empty(), "no watch record of op0's challenged claim ({graphs:?})");
    ensure!(honest.iter().all(|w| w["disprove"].is_null()), "a disprove was attempted against op0's correct assertion");
    ensure!(honest.iter().any(|w| w["asserts_ok"] == json!(true)), "no verifier read op0's assertion as correct");
    Ok(())
}
