//! Plan the chunked Groth16 verifier program (`groth16::program`) at the standard limits and
//! print its figures beside BitVM's: operations, Fq products, leaves, commitments, the assert
//! footprint estimated from the measured per-commitment cost, the largest leaf, and times.
//! Leaves are planned (cost model + chunker), not generated.
//!
//! `cargo run --release -p bitvm2-disprove --example groth16_plan -- [public inputs] [checked] [hash] [stack=N]`

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
    let (_, vk) = Groth16::<Bn254>::circuit_specific_setup(TestCircuit { a: Fr::from(3u64), b: Fr::from(5u64), n_public: n }, &mut rng)?;
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
    let limits = ChunkLimits { max_stack, ..ChunkLimits::default() };
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
    println!("  planned in {:.1} s (cost model + chunker)", t_plan.as_secs_f64());
    println!();
    println!("| figure | ours | BitVM reference |");
    println!("|---|---|---|");
    println!("| disprove leaves | {} | 364 |", plan.steps.len());
    println!("| largest disprove spend (estimated) | {biggest} WU | ~3.99M WU (3,953,286-byte script, non-standard) |");
    println!("| peak stack (estimated) | {peak} | 946 |");
    println!("| commitments | {} ({} Fq elements) | 378 |", plan.commitments.len(), fq_committed);
    println!("| assert data (signatures + their checks) | {assert_wu} WU = {} vB | ~1.21M vB (739k + 470k vB txs) |", assert_wu / 4);
    println!("| all leaf scripts (estimated) | {:.1} MB | ~1 GB |", script_total as f64 / 1e6);
    Ok(())
}

fn model_spend(p: &Planned) -> bitvm2_disprove::chunk::SpendShape {
    p.plan.limits.spend_shape(p.plan.steps.len())
}
