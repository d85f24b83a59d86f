//! Figures of the first real program (Horner evaluation of a degree-160 polynomial over BN254
//! Fq, claim P(x) = 0) and of the direct-vs-hashed commitment trade-off, for docs/disprove.md.
//!
//! `cargo run -p bitvm2-disprove --example program_table --release` prints the tables;
//! add `-- --write docs/disprove.md` to replace the generated section of that file.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use bitvm2_disprove::chunk::ChunkLimits;
use bitvm2_disprove::layout::AssertShape;
use bitvm2_disprove::program::{CommitMode, Program};
use bitvm2_disprove::programs::{first_program, pair_program, root_program, MulMode};
use bitvm2_disprove::setup::{Disprove, OperatorKeys, Planned};
use bitvm2_script::exec::{execute, ExecOptions};

const DEGREE: usize = 160;
const PAIR_DEGREE: usize = 48;
const BEGIN: &str = "<!-- program_table:begin -->";
const END: &str = "<!-- program_table:end -->";

struct Row {
    label: String,
    sign_ms: f64,
    search_ms: f64,
    limit: usize,
    max_ops: usize,
    d: Disprove,
    setup_ms: f64,
    largest_script: usize,
    largest_weight: usize,
    peak: usize,
    honest_ok: bool,
}

fn build(label: &str, make: impl Fn() -> Result<(Program, ark_bn254::Fq)>, limit: usize, max_ops: usize) -> Result<Row> {
    let t = Instant::now();
    let (prog, root) = make()?;
    let planned =
        Planned::new(prog, ChunkLimits { max_spend_weight: limit, max_ops_per_step: max_ops, ..Default::default() })?;
    let keys = OperatorKeys::new([9; 32], b"program-table");
    let pks = keys.public_keys(&planned);
    let d = planned.with_keys(pks, AssertShape::default())?;
    let setup_ms = t.elapsed().as_secs_f64() * 1e3;
    // Execute every leaf with the honest assertion: measured peak, and none spendable.
    let t = Instant::now();
    let a = keys.sign(&d, &d.honest_commitments(&[vec![root]])?);
    let sign_ms = t.elapsed().as_secs_f64() * 1e3;
    // Verifier search, worst case: only the last committed value is wrong.
    let mut bad = d.honest_commitments(&[vec![root]])?;
    *bad.last_mut().expect("commitments").last_mut().expect("bytes") ^= 1;
    let bad = keys.sign(&d, &bad);
    let t = Instant::now();
    let fault = d.find_fault(&bad);
    let search_ms = t.elapsed().as_secs_f64() * 1e3;
    if fault.is_none() {
        bail!("{label}: the corrupted last value was not found");
    }
    let shape = d.spend_shape();
    let (mut largest_script, mut largest_weight, mut peak, mut honest_ok) = (0, 0, 0, true);
    for s in 0..d.plan.steps.len() {
        let w = d.leaf_witness(s, &a)?;
        let r = execute(&d.leaf_scripts[s], &w, &ExecOptions::default());
        honest_ok &= r.outcome.is_ok() && !r.success();
        peak = peak.max(r.peak_items);
        largest_script = largest_script.max(d.leaf_scripts[s].len());
        largest_weight = largest_weight.max(shape.weight(d.leaf_scripts[s].len(), w.iter().map(|x| x.len())));
    }
    Ok(Row { label: label.to_string(), sign_ms, search_ms, limit, max_ops, d, setup_ms, largest_script, largest_weight, peak, honest_ok })
}

const HEADER: &str = "| variant | leaf weight limit | max ops/leaf | leaves | commitments | assert txs | assert vB | largest leaf WU | peak stack | setup ms |\n|---|---|---|---|---|---|---|---|---|---|\n";

fn row(r: &Row) -> Result<String> {
    if !r.honest_ok {
        bail!("{}: an honest leaf did not end with a clean false", r.label);
    }
    Ok(format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} |\n",
        r.label,
        r.limit,
        if r.max_ops == usize::MAX { "-".to_string() } else { r.max_ops.to_string() },
        r.d.plan.steps.len(),
        r.d.plan.commitments.len(),
        r.d.layout.txs.len(),
        r.d.layout.total_vbytes(),
        r.largest_weight,
        r.peak,
        r.setup_ms
    ))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let write = match args.iter().position(|a| a == "--write") {
        Some(i) => Some(args.get(i + 1).context("--write needs a file")?.clone()),
        None => None,
    };
    let mut out = String::new();
    let root = |mode: MulMode| move || Ok(root_program(DEGREE, "program-table", mode)?);
    let pair = |commit: CommitMode| move || Ok(pair_program(PAIR_DEGREE, "program-table", MulMode::Hinted(4), commit)?);
    let main_row = build("hinted w=4", || Ok(first_program()), 400_000, usize::MAX)?;
    if !main_row.honest_ok {
        bail!("an honest leaf did not end with a clean false");
    }
    let d = &main_row.d;
    let m = &d.model;
    out += &format!(
        "First program: `{}` - {} multiply-adds mod p (BN254 Fq), input x, claim P(x) = 0.\n\n",
        d.program.name,
        d.program.ops.len()
    );
    out += "| figure | value |\n|---|---|\n";
    out += &format!("| operations | {} |\n", d.program.ops.len());
    out += &format!("| steps = disprove leaves | {} |\n", d.plan.steps.len());
    out += &format!(
        "| operations per leaf | {} |\n",
        d.plan.steps.iter().map(|s| s.ops.len().to_string()).collect::<Vec<_>>().dedup_join()
    );
    out += &format!("| Winternitz commitments (256-bit, 67 chains) | {} |\n", d.plan.commitments.len());
    out += &format!(
        "| assert transactions (inputs) | {} ({}) |\n",
        d.layout.txs.len(),
        d.layout.txs.iter().map(|t| t.inputs.len()).sum::<usize>()
    );
    out += &format!("| assert weight / vbytes | {} WU / {} vB |\n", d.layout.total_weight(), d.layout.total_vbytes());
    out += &format!(
        "| largest assert tx | {} WU |\n",
        d.layout.txs.iter().map(|t| t.weight).max().unwrap_or(0)
    );
    out += &format!("| largest leaf script | {} bytes |\n", main_row.largest_script);
    out += &format!("| largest leaf spending tx | {} WU (limit 400,000) |\n", main_row.largest_weight);
    out += &format!("| peak stack + altstack, measured over all leaves | {} (limit 1000) |\n", main_row.peak);
    out += &format!(
        "| all leaf scripts | {} bytes |\n",
        d.leaf_scripts.iter().map(|s| s.len()).sum::<usize>()
    );
    out += &format!("| setup (measure, chunk, generate leaves and asserts) | {:.0} ms |\n", main_row.setup_ms);
    out += &format!("| operator: evaluate and sign every commitment | {:.1} ms |\n", main_row.sign_ms);
    out += &format!(
        "| verifier: find the wrong step (last value wrong: every step recomputed) and its witness | {:.1} ms |\n",
        main_row.search_ms
    );
    out += "\nGadget costs the chunker planned with (measured by executing each gadget once):\n\n";
    out += "| gadget | script bytes | witness | working stack items |\n|---|---|---|---|\n";
    let fq = m.kinds[0];
    out += &format!(
        "| Winternitz check of one Fq + digits -> 9 limbs | {} | {} B, {} items | {} |\n",
        fq.check_bytes,
        fq.witness_bytes,
        fq.wots.witness_items(),
        fq.check_working
    );
    let op = m.ops[1];
    out += &format!(
        "| multiply-add mod p (hinted w=4) | {} | {} B, {} hint items | {} |\n",
        op.script_bytes, op.hint_bytes, op.hint_items, op.working_items
    );
    out += &format!("| canonical check (< p) per input element | ~{} | - | - |\n", m.canonical_bytes);

    out += "\nTrade-off 1: the first program under other limits and multiplication variants\n\n";
    out += HEADER;
    let mut rows = vec![main_row];
    for (label, mode, limit, max_ops) in [
        ("hinted w=4", MulMode::Hinted(4), 400_000, 2),
        ("hinted w=4", MulMode::Hinted(4), 400_000, 1),
        ("hinted w=4", MulMode::Hinted(4), 250_000, usize::MAX),
        ("hinted w=3", MulMode::Hinted(3), 400_000, usize::MAX),
        ("windowed w=4", MulMode::Windowed(4), 400_000, usize::MAX),
    ] {
        rows.push(build(label, root(mode), limit, max_ops)?);
    }
    for r in &rows {
        out += &row(r)?;
    }
    out += &format!(
        "\nTrade-off 2: direct vs hashed commitments. `common-root-of-2-polys`: two degree-{PAIR_DEGREE} \
         polynomials evaluated together; the state (2 field elements) crosses every step boundary, \
         committed directly (512 bits, 131 chains) or as a 20-byte BLAKE3 digest (43 chains; the \
         leaf hashes the preimage of an input and the recomputed output).\n\n"
    );
    out += HEADER;
    for (label, commit) in [("direct", CommitMode::Direct), ("BLAKE3-20", CommitMode::Hash { bytes: 20 })] {
        let r = build(label, pair(commit), 400_000, usize::MAX)?;
        out += &row(&r)?;
        let k = r.d.model.kinds.iter().find(|k| k.kind.elems == 2).expect("state kind");
        out += &format!(
            "| | per state value: Winternitz check {} B script, {} B witness; hash {} B script | | | | | | | | |\n",
            k.check_bytes, k.witness_bytes, k.hash_bytes
        );
    }
    print!("{out}");
    if let Some(path) = write {
        let doc = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let (a, b) = (doc.find(BEGIN), doc.find(END));
        let (Some(a), Some(b)) = (a, b) else { bail!("{path} has no {BEGIN} ... {END} section") };
        let new = format!("{}{BEGIN}\n{out}{}", &doc[..a], &doc[b..]);
        std::fs::write(&path, new).with_context(|| format!("writing {path}"))?;
        eprintln!("wrote {path}");
    }
    Ok(())
}

trait DedupJoin {
    fn dedup_join(self) -> String;
}

impl DedupJoin for Vec<String> {
    /// "3 x 32, 1 x 1"-style run-length summary.
    fn dedup_join(self) -> String {
        let mut runs: Vec<(String, usize)> = Vec::new();
        for s in self {
            match runs.last_mut() {
                Some((last, n)) if *last == s => *n += 1,
                _ => runs.push((s, 1)),
            }
        }
        runs.iter().map(|(s, n)| format!("{s} (x{n})")).collect::<Vec<_>>().join(", ")
    }
}
