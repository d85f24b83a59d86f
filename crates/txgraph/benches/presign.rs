//! Presigning one full graph in-process for 3, 10 and 30 verifiers, against raw musig2.
//!
//! "Ours": build the graph from parameters, derive every committee task (sighashes), run the
//! MuSig2 sessions of one peg-out graph and of PegInConfirm with every member in this process
//! (nonce sets and partial signatures go through their binary wire forms; every nonce set's
//! authentication, every partial signature and every final signature is verified).
//! "Raw": the same number of signatures with the musig2 crate alone: per signature every member
//! generates a nonce and signs, every partial signature is verified, the aggregate is verified.
//! Ratio = raw time / our time (goal >= 0.5).
//!
//! Run: `cargo bench -p bitvm2-txgraph --bench presign` (add `-- 3 10` to pick committee sizes;
//! `BENCH_ASSERTS`/`BENCH_INPUTS` change the toy program's layout).

use std::time::Instant;

use bitvm2_txgraph::musig::presign_in_process;
use bitvm2_txgraph::toy::Fixture;
use bitvm2_txgraph::{Graph, Session};
use musig2::{AggNonce, KeyAggContext, PartialSignature, SecNonce};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Returns (signatures, total seconds, seconds spent building the graph and its sighashes).
fn ours(f: &Fixture, rng: &mut StdRng) -> (usize, f64, f64) {
    let params = f.params();
    let t = Instant::now();
    let g = Graph::build(params).expect("graph builds");
    let po = Session::new(g.committee().clone(), g.id(), g.peg_out_committee_tasks(0).unwrap(), [1; 32]).unwrap();
    let pi = Session::new(g.committee().clone(), g.id(), g.peg_in_committee_tasks().unwrap(), [2; 32]).unwrap();
    let t_build = t.elapsed().as_secs_f64();
    let a = presign_in_process(&po, &f.committee, rng).expect("peg-out presign");
    let b = presign_in_process(&pi, &f.committee, rng).expect("peg-in presign");
    (a.len() + b.len(), t.elapsed().as_secs_f64(), t_build)
}

fn raw(f: &Fixture, sigs: usize, rng: &mut StdRng) -> f64 {
    let mut keys: Vec<_> = f.committee.iter().map(|k| k.public_key()).collect();
    keys.sort_by_key(|k| k.serialize());
    let kps: Vec<_> = keys
        .iter()
        .map(|k| *f.committee.iter().find(|kp| kp.public_key() == *k).unwrap())
        .collect();
    let t = Instant::now();
    let ctx = KeyAggContext::new(keys.iter().copied()).unwrap();
    let agg_pk: secp256k1::PublicKey = ctx.aggregated_pubkey();
    for _ in 0..sigs {
        let mut msg = [0u8; 32];
        rng.fill_bytes(&mut msg);
        let secnonces: Vec<SecNonce> = kps
            .iter()
            .map(|kp| {
                let mut seed = [0u8; 32];
                rng.fill_bytes(&mut seed);
                SecNonce::generate(seed, kp.secret_key(), agg_pk, msg, [])
            })
            .collect();
        let pubnonces: Vec<_> = secnonces.iter().map(|s| s.public_nonce()).collect();
        let agg = AggNonce::sum(&pubnonces);
        let partials: Vec<PartialSignature> = kps
            .iter()
            .zip(secnonces)
            .map(|(kp, sn)| musig2::sign_partial(&ctx, kp.secret_key(), sn, &agg, msg).unwrap())
            .collect();
        for ((k, p), n) in keys.iter().zip(&partials).zip(&pubnonces) {
            musig2::verify_partial(&ctx, *p, &agg, *k, n, msg).unwrap();
        }
        let sig: musig2::CompactSignature = musig2::aggregate_partial_signatures(&ctx, &agg, partials, msg).unwrap();
        musig2::verify_single(agg_pk, sig, msg).unwrap();
    }
    t.elapsed().as_secs_f64()
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![3, 10, 30] } else { sizes };
    let asserts = env("BENCH_ASSERTS", 10);
    let inputs = env("BENCH_INPUTS", 13);
    let mut rng = StdRng::seed_from_u64(42);
    println!(
        "toy program: {asserts} assert txs x {inputs} commitments = {} bits, {} disprove leaves",
        asserts * inputs,
        asserts * inputs - 2
    );
    println!("| verifiers | signatures/graph | partial sigs | ours (s) | of which graph + sighashes (s) | raw musig2 (s) | raw/ours | ms/signature |");
    println!("|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let f = Fixture::new("bench", n, 1, asserts, inputs);
        // Warm-up (precomputed tables, allocator).
        let _ = raw(&f, 2, &mut rng);
        let (sigs, t_ours, t_build) = ours(&f, &mut rng);
        let t_raw = raw(&f, sigs, &mut rng);
        println!(
            "| {n} | {sigs} | {} | {t_ours:.3} | {t_build:.3} | {t_raw:.3} | {:.2} | {:.2} |",
            sigs * n,
            t_raw / t_ours,
            1e3 * t_ours / sigs as f64
        );
    }
}
