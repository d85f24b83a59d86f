//! Statement circuit benchmark: constraints, setup/prove/verify time, peak RSS, key sizes, for
//! the regtest parameters (or those given as `max_tx_blocks merkle_depth num_headers min_conf`).
//! Uses the synthetic chain of `bitvm2_statement::fixture` (same shape as a regtest payout).
//! Run: `cargo run --release -p bitvm2-statement --example statement_bench`; with
//! `BENCH_COUNT_ONLY=1` it stops after counting constraints; with `BENCH_KEYS_DIR=DIR` the keys
//! are cached in `DIR` (`keys::load_or_setup`). `BENCH_PROVE_RUNS=n` proves `n` times.

use std::time::Instant;

use ark_serialize::CanonicalSerialize;
use bitvm2_statement::{circuit, fixture, keys, StatementParams};

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap()))
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let mut p = StatementParams::regtest();
    let count_only = std::env::var("BENCH_COUNT_ONLY").is_ok();
    if args.len() == 4 {
        p.max_tx_blocks = args[0];
        p.merkle_depth = args[1];
        p.num_headers = args[2];
        p.min_confirmations = args[3];
    }
    p.validate()?;
    println!("params: {p:?} (id {})", p.id());
    println!("threads: {}", rayon_threads());
    let t = Instant::now();
    let n = circuit::count_constraints(&p)?;
    println!("constraints: {n} (counted in {:.2?})", t.elapsed());
    if count_only {
        return Ok(());
    }
    let (w, _, _) = fixture::synthetic(&p);
    let mut rng = rand::rngs::OsRng;
    let t = Instant::now();
    // BENCH_KEYS_DIR: keys read from (or written once to) that directory, so the proving time
    // of several builds (profiles) can be compared without paying the setup each time.
    let k = match std::env::var_os("BENCH_KEYS_DIR") {
        Some(dir) => {
            let (k, files) = keys::load_or_setup(std::path::Path::new(&dir), &p, &mut rng)?;
            println!("keys {} {}", if files.created { "generated into" } else { "read from" }, files.pk_path.display());
            k
        }
        None => keys::setup(&p, &mut rng)?,
    };
    let setup = t.elapsed();
    println!("setup (or key loading): {setup:.2?}  (VmHWM {} MB)", vm_hwm_kb() / 1024);
    let runs: usize = std::env::var("BENCH_PROVE_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    let mut proof = None;
    let mut prove = std::time::Duration::MAX;
    for run in 0..runs {
        let t = Instant::now();
        proof = Some(keys::prove(&k.pk, &p, &w, &mut rng)?);
        let took = t.elapsed();
        println!("prove (run {}): {took:.2?}  (VmHWM {} MB)", run + 1, vm_hwm_kb() / 1024);
        prove = prove.min(took);
    }
    let proof = proof.expect("at least one run");
    println!("prove: {prove:.2?} (best of {runs})");
    let x = w.claim.public_inputs()?;
    let t = Instant::now();
    let ok = keys::verify(&k.vk, &x, &proof)?;
    let verify = t.elapsed();
    anyhow::ensure!(ok, "proof did not verify");
    println!("verify: {verify:.2?}");
    println!(
        "sizes: pk {} bytes, vk {} bytes, proof {} bytes (compressed)",
        k.pk.compressed_size(),
        k.vk.compressed_size(),
        proof.compressed_size()
    );
    println!("ratios: prove/verify {:.0}x, setup/prove {:.2}x, prove us/constraint {:.2}",
        prove.as_secs_f64() / verify.as_secs_f64(),
        setup.as_secs_f64() / prove.as_secs_f64(),
        prove.as_secs_f64() * 1e6 / n as f64);
    println!("peak RSS (VmHWM): {} MB", vm_hwm_kb() / 1024);
    Ok(())
}

fn rayon_threads() -> String {
    std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| format!("default ({} cpus)", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)))
}
