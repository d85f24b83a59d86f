//! Plan the chunked Groth16 verifier program (`groth16::program`) at the standard limits and
//! print its figures beside BitVM's: operations, Fq products, leaves, commitments, the assert
//! footprint estimated from the measured per-commitment cost, the largest leaf, and times.
//! Leaves are planned (cost model + chunker), not generated.
//!
//! `cargo run --release -p bitvm2-disprove --example groth16_plan -- [public inputs] [checked] [hash] [compact] [stack=N] [breakdown] [generate [exhaustive]] [hashes]`
//! (`generate`: also build every leaf, assert a real proof, search it, run every leaf;
//! `exhaustive` with `generate`: corrupt every commitment in turn, the search must find each;
//! `hashes`: time and peak memory of the hashed setup against the full one, in one run)

use std::sync::Arc;
use std::time::Instant;

use ark_bn254::{Bn254, Fr};
use ark_groth16::Groth16;
use ark_snark::SNARK;
use bitvm2_disprove::bn254::{fq_mul_count, CheckedFqMul, FqMul, ModeMul};
use bitvm2_disprove::chunk::ChunkLimits;
use bitvm2_disprove::groth16::program::{build, ProgramOptions, PublicInput};
use bitvm2_disprove::groth16::verifier::{self, PreparedVerifyingKey};
use bitvm2_disprove::program::CommitMode;
use bitvm2_disprove::programs::MulMode;
use bitvm2_disprove::setup::Planned;
use bitvm2_disprove::wots::LeafEncoding;
use rand::{rngs::StdRng, SeedableRng};

#[path = "../src/groth16/testdata/circuit.rs"]
mod circuit;
use circuit::TestCircuit;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(6);
    let checked = args.iter().any(|s| s == "checked");
    let commit = if args.iter().any(|s| s == "hash") { CommitMode::Hash { bytes: 20 } } else { CommitMode::Direct };
    let mut rng = StdRng::seed_from_u64(1);
    let circuit = TestCircuit { a: Fr::from(3u64), b: Fr::from(5u64), n_public: n };
    let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(circuit.clone(), &mut rng)?;
    let t = Instant::now();
    let pvk = PreparedVerifyingKey::new(&vk, verifier::DEFAULT_WINDOW_BITS)?;
    let mul: Arc<dyn FqMul> = if checked { Arc::new(CheckedFqMul::new()?) } else { Arc::new(ModeMul::new(MulMode::Hinted(4))?) };
    let vp = build(&pvk, &ProgramOptions { mul: mul.clone(), commit, public: vec![PublicInput::Committed { bits: 128 }; n] });
    let t_build = t.elapsed();
    let prog = &vp.program;
    let products: usize = prog.ops.iter().map(|o| fq_mul_count(&o.op.name()).unwrap_or(0)).sum();
    println!("Groth16 verifier program: {n} public inputs of 128 bits, Fq multiplication: {}, commitments {commit:?}", mul.name());
    println!("  operations {}, values {}, claims {}, Fq products ~{products}; built in {:.2} s", prog.ops.len(), prog.values.len(), prog.claims.len(), t_build.as_secs_f64());
    let t = Instant::now();
    // `stack=N` plans with another stack limit (to see what a gadget change would give; the
    // consensus limit is 1000).
    let max_stack = args.iter().find_map(|s| s.strip_prefix("stack=")).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let encoding = if args.iter().any(|s| s == "compact") { LeafEncoding::Compact } else { LeafEncoding::Standard };
    let limits = ChunkLimits { max_stack, encoding, ..ChunkLimits::default() };
    println!("  leaf encoding of commitments: {encoding:?}");
    if max_stack != 1000 {
        println!("  NOTE: planned with a stack limit of {max_stack} items, not the consensus 1000");
    }
    let planned = match Planned::new(vp.program.clone(), limits) {
        Ok(p) => p,
        Err(e) => {
            println!("  does not chunk at the standard limits: {e}");
            return Ok(());
        }
    };
    let t_plan = t.elapsed();
    let plan = &planned.plan;
    let model = &planned.model;
    let script_total: usize = plan.estimates.iter().map(|e| e.script_bytes).sum();
    let biggest = plan.estimates.iter().map(|e| e.spend_weight(&model_spend(&planned))).max().unwrap_or(0);
    let peak = plan.estimates.iter().map(|e| e.peak_stack).max().unwrap_or(0);
    // Assert side: each commitment's signature (witness) and its check script, 1 WU per byte.
    let assert_wu: usize = plan
        .commitments
        .iter()
        .map(|&v| {
            let k = model.kind(prog.values[v].kind);
            k.witness_bytes + k.check_bytes
        })
        .sum();
    let fq_committed: usize = plan.commitments.iter().map(|&v| prog.values[v].kind.elems).sum();
    if args.iter().any(|s| s == "breakdown") {
        // Committed Fq elements by value family (the name with its numbers as '#', cut after
        // the second component): where the assert footprint goes.
        let mut fam: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
        for &v in &plan.commitments {
            let name: String = prog.values[v].name.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect();
            let key = name.split('.').take(3).collect::<Vec<_>>().join(".");
            let e = fam.entry(key).or_default();
            e.0 += 1;
            e.1 += prog.values[v].kind.elems;
        }
        let mut fam: Vec<_> = fam.into_iter().collect();
        fam.sort_by_key(|(_, (_, e))| std::cmp::Reverse(*e));
        println!("  committed elements by value family (top 30 of {}):", fam.len());
        for (k, (n, e)) in fam.iter().take(30) {
            println!("    {e:>6} elements in {n:>5} values: {k}");
        }
    }
    println!("  planned in {:.1} s (cost model + chunker)", t_plan.as_secs_f64());
    println!();
    println!("| figure | ours | BitVM reference |");
    println!("|---|---|---|");
    println!("| disprove leaves | {} | 364 |", plan.steps.len());
    println!("| largest disprove spend (estimated) | {biggest} WU | ~3.99M WU (3,953,286-byte script, non-standard) |");
    println!("| peak stack (estimated) | {peak} | 946 |");
    println!("| commitments | {} ({} Fq elements) | 378 |", plan.commitments.len(), fq_committed);
    println!("| assert data (upper estimate: every signature and its standard check; `generate` gives the packed layout) | {assert_wu} WU = {} vB | ~1.21M vB (739k + 470k vB txs) |", assert_wu / 4);
    println!("| all leaf scripts (estimated) | {:.1} MB | ~1 GB |", script_total as f64 / 1e6);
    if args.iter().any(|s| s == "hashes") {
        hashes(&planned)?;
    }
    if args.iter().any(|s| s == "generate") {
        let proof = Groth16::<Bn254>::prove(&pk, circuit.clone(), &mut rng)?;
        generate(planned, &vp, &pvk, &proof, &circuit.public_inputs())?;
    }
    Ok(())
}

/// Generate every leaf and the assert layout, assert a real proof as the operator, read it back
/// and search it as a verifier, run every leaf with the honest witness (none may be spendable),
/// then corrupt one commitment and spend the leaf the search names.
fn generate(
    planned: Planned,
    vp: &bitvm2_disprove::groth16::program::VerifierProgram,
    pvk: &PreparedVerifyingKey,
    proof: &ark_groth16::Proof<Bn254>,
    public: &[Fr],
) -> anyhow::Result<()> {
    use bitvm2_disprove::layout::AssertShape;
    use bitvm2_disprove::setup::OperatorKeys;
    use bitvm2_script::exec::{execute, ExecOptions};
    println!();
    let t = Instant::now();
    let keys = OperatorKeys::new([3; 32], b"groth16-plan");
    let pks = keys.public_keys(&planned);
    let t_keys = t.elapsed();
    let d = planned.with_keys_progress(pks, AssertShape::default(), &bar)?;
    let t_gen = t.elapsed();
    let bytes: usize = d.leaf_scripts.iter().map(|l| l.len()).sum();
    println!("generated {} leaves ({:.1} MB of script) and {} assert txs in {:.1} s (of which Winternitz keys {:.1} s)", d.leaf_scripts.len(), bytes as f64 / 1e6, d.layout.txs.len(), t_gen.as_secs_f64(), t_keys.as_secs_f64());
    let assert_wu: usize = d.layout.txs.iter().map(|t| t.weight).sum();
    println!("assert transactions: {} totalling {assert_wu} WU = {} vB", d.layout.txs.len(), assert_wu / 4);
    let t = Instant::now();
    let trace = verifier::prove(pvk, proof, public)?;
    let inputs = vp.input_values(proof, public, &trace.witness)?;
    let honest = d.honest_commitments(&inputs)?;
    let signed = keys.sign(&d, &honest);
    let witnesses = d.assert_witnesses(&signed);
    println!("operator: residue witness, every value and {} signatures in {:.2} s", honest.len(), t.elapsed().as_secs_f64());
    let read = d.read_assertion(&witnesses)?;
    let t = Instant::now();
    let fault = d.find_fault(&read);
    println!("verifier: search of the honest assertion {:.2} s -> {:?}", t.elapsed().as_secs_f64(), fault.map(|f| f.step));
    let t = Instant::now();
    let (mut peak, mut largest) = (0, 0);
    let all = d.leaf_witnesses(&read)?;
    println!("verifier: witnesses of all {} leaves in {:.1} s", all.len(), t.elapsed().as_secs_f64());
    let t = Instant::now();
    for (s, w) in all.iter().enumerate() {
        let r = execute(&d.leaf_scripts[s], w, &ExecOptions::default());
        anyhow::ensure!(r.outcome.is_ok() && r.final_stack == vec![Vec::<u8>::new()], "leaf {s} with honest values: {:?}", r.outcome);
        peak = peak.max(r.peak_items);
        let weight = d.spend_shape().weight(d.leaf_scripts[s].len(), w.iter().map(|i| i.len()));
        if s % 1000 == 999 {
            println!("  {} leaves run ({:.0} s)", s + 1, t.elapsed().as_secs_f64());
        }
        largest = largest.max(weight);
    }
    println!("every leaf run with the honest witness in {:.1} s: none spendable; measured peak stack {peak}, largest spend {largest} WU", t.elapsed().as_secs_f64());
    let mut bad = honest.clone();
    let c = bad.len() / 2;
    *bad[c].last_mut().expect("non-empty") ^= 1;
    let read = d.read_assertion(&d.assert_witnesses(&keys.sign(&d, &bad)))?;
    let t = Instant::now();
    let fault = d.find_fault(&read).ok_or_else(|| anyhow::anyhow!("corrupted commitment {c} not found"))?;
    let search = t.elapsed();
    let r = execute(&d.leaf_scripts[fault.step], &fault.witness, &ExecOptions::default());
    println!("commitment {c} corrupted: search {:.2} s names leaf {}; spendable: {}", search.as_secs_f64(), fault.step, r.success());
    anyhow::ensure!(r.success(), "the named leaf must be spendable");
    if std::env::args().any(|a| a == "exhaustive") {
        exhaustive(&d, &keys.sign(&d, &honest))?;
    }
    Ok(())
}

/// A progress bar on stderr, redrawn every 5% or so.
fn bar(done: usize, total: usize) {
    if done == total || done % (total / 20).max(1) < 32 {
        let filled = 40 * done / total;
        eprint!("\r  leaves [{}{}] {done}/{total}", "#".repeat(filled), ".".repeat(40 - filled));
        if done == total {
            eprintln!();
        }
    }
}

/// Peak resident memory of this process since the last [`reset_peak`] (VmHWM), and the
/// resident memory now (VmRSS), in bytes.
fn memory() -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status.lines().find(|l| l.starts_with(name)).ok_or_else(|| anyhow::anyhow!("no {name} in /proc/self/status"))?;
        Ok(line[name.len()..].trim().trim_end_matches("kB").trim().parse::<u64>()? * 1024)
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}

/// Start a new peak-memory measurement (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak() -> anyhow::Result<()> {
    Ok(std::fs::write("/proc/self/clear_refs", "5")?)
}

/// CPU seconds (user + system, every thread) this process has used.
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (in parentheses): utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').ok_or_else(|| anyhow::anyhow!("bad /proc/self/stat"))? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok((f[11].parse::<u64>()? + f[12].parse::<u64>()?) as f64 / 100.0)
}

/// Wall time, CPU time and peak memory of `f` (the peak is reset first; also the resident
/// memory before).
fn measure<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, f64, f64, u64, u64)> {
    reset_peak()?;
    let before = memory()?.1;
    let (t, cpu) = (Instant::now(), cpu_seconds()?);
    let out = f()?;
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds()? - cpu);
    Ok((out, wall, cpu, memory()?.0, before))
}

/// The hashed setup (`Planned::with_keys_hashed`) against the full one (`with_keys_progress`)
/// for the same keys, one after the other in this process: wall and CPU time, peak resident
/// memory; the hashes must agree, and a sample of leaves regenerated from the hashed instance
/// must equal the full build's and the reference builder's.
fn hashes(planned: &Planned) -> anyhow::Result<()> {
    use bitcoin::taproot::{LeafVersion, TapLeafHash};
    use bitvm2_disprove::layout::AssertShape;
    use bitvm2_disprove::leaf::build_leaf_with;
    use bitvm2_disprove::setup::OperatorKeys;
    const MB: f64 = 1e6;
    println!();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("Leaf hashes for the graph ({threads} threads; peak = VmHWM of the process during the step, reset before it):");
    let keys = OperatorKeys::new([3; 32], b"groth16-plan");
    let (pks, wall, cpu, _, _) = measure(|| Ok(keys.public_keys(planned)))?;
    println!("  operator's Winternitz public keys (operator side only): {wall:.2} s wall, {cpu:.1} s CPU");
    let (_, wall, cpu, peak, before) = measure(|| Ok(planned.leaf_parts().shared_ops()))?;
    let parts = planned.leaf_parts();
    println!(
        "  key-independent leaf parts (once per process and program): {wall:.2} s wall, {cpu:.1} s CPU, peak {:.0} MB (resident before {:.0} MB); {} shared op scripts ({:.1} MB) serve {} of {} ops",
        peak as f64 / MB,
        before as f64 / MB,
        parts.shared_scripts(),
        parts.shared_bytes() as f64 / MB,
        parts.shared_ops(),
        planned.program.ops.len()
    );
    let shape = AssertShape::default();
    let (hashed, h_wall, h_cpu, h_peak, h_before) = measure(|| Ok(planned.clone().with_keys_hashed(pks.clone(), shape, &bar)?))?;
    println!("  hashed setup (leaf hashes + assert layout): {h_wall:.2} s wall, {h_cpu:.1} s CPU, peak {:.0} MB (resident before {:.0} MB)", h_peak as f64 / MB, h_before as f64 / MB);
    let (full, f_wall, f_cpu, f_peak, f_before) = measure(|| Ok(planned.clone().with_keys_progress(pks.clone(), shape, &bar)?))?;
    let bytes: usize = full.leaf_scripts.iter().map(|s| s.len()).sum();
    println!(
        "  full setup (every leaf script, {:.0} MB, + hashes + assert layout): {f_wall:.2} s wall, {f_cpu:.1} s CPU, peak {:.0} MB (resident before {:.0} MB)",
        bytes as f64 / MB,
        f_peak as f64 / MB,
        f_before as f64 / MB
    );
    println!(
        "  hashed / full: wall {:.2}, CPU {:.2}, peak {:.3} (peak above the resident memory before: {:.0} MB / {:.0} MB)",
        h_wall / f_wall,
        h_cpu / f_cpu,
        h_peak as f64 / f_peak as f64,
        h_peak.saturating_sub(h_before) as f64 / MB,
        f_peak.saturating_sub(f_before) as f64 / MB
    );
    anyhow::ensure!(hashed.leaf_hashes() == full.leaf_hashes(), "the hashed and the full setup disagree on a leaf hash");
    // A spread sample of leaves: regenerated from the hashed instance = the full build's =
    // the reference builder's, and the hash is that of the script.
    let n = full.plan.steps.len();
    let ws = planned.model.working_space_for(planned.plan.limits.encoding);
    let sample: Vec<usize> = (0..64).map(|i| i * (n - 1) / 63).collect();
    let t = Instant::now();
    for &s in &sample {
        let script = hashed.leaf_script(s)?;
        anyhow::ensure!(script == full.leaf_scripts[s], "leaf {s}: regenerated script differs from the full build's");
        anyhow::ensure!(TapLeafHash::from_script(&script, LeafVersion::TapScript) == hashed.leaf_hashes()[s], "leaf {s}: hash");
    }
    let per_leaf = t.elapsed().as_secs_f64() / sample.len() as f64;
    for &s in &sample {
        let st = &planned.plan.steps[s];
        let ks: Vec<_> = st.leaf_values().iter().map(|&v| &pks[planned.plan.commitment_of(v).expect("committed")]).collect();
        anyhow::ensure!(build_leaf_with(&planned.program, st, &ks, ws, planned.plan.limits.encoding).script == full.leaf_scripts[s], "leaf {s}: reference builder differs");
    }
    println!(
        "  all {n} hashes agree; {} sampled leaves regenerated from the hashed instance ({:.1} ms each) equal the full build's and the reference builder's",
        sample.len(),
        per_leaf * 1e3
    );
    Ok(())
}

/// Every commitment corrupted in turn (its last byte flipped; the search does not check
/// signatures, so the honest ones are kept): the search must name a step each time.
fn exhaustive(d: &bitvm2_disprove::setup::Disprove, honest: &bitvm2_disprove::setup::SignedAssertion) -> anyhow::Result<()> {
    let n = honest.values.len();
    let t = Instant::now();
    let commitments: Vec<usize> = (0..n).collect();
    let found = bitvm2_disprove::parallel::par_map(
        &commitments,
        &|&c| {
            let mut a = honest.clone();
            *a.values[c].last_mut().expect("non-empty") ^= 1;
            d.find_fault(&a).is_some()
        },
        &|done, total| {
            if done % 1000 < 32 {
                eprintln!("  exhaustive: {done} of {total} ({:.0} s)", t.elapsed().as_secs_f64());
            }
        },
    );
    let missed: Vec<usize> = found.iter().enumerate().filter(|(_, f)| !**f).map(|(c, _)| c).collect();
    println!("every single corrupted commitment: {} of {n} found by the search in {:.0} s; missed: {missed:?}", n - missed.len(), t.elapsed().as_secs_f64());
    anyhow::ensure!(missed.is_empty(), "corruptions the search does not find");
    Ok(())
}

fn model_spend(p: &Planned) -> bitvm2_disprove::chunk::SpendShape {
    p.plan.limits.spend_shape(p.plan.steps.len())
}
