//! Figures of the native Groth16/BN254 verifier reference (crates/disprove/src/groth16):
//! Miller-loop shape, operation counts, hints, and the time to compute the residue witness and
//! the full trace, for a tiny circuit proved with ark-groth16 (fixed seed).
//!
//! Run: `cargo run --release -p bitvm2-disprove --example groth16_native [-- --write-snarkjs DIR]`

use std::time::Instant;

use anyhow::{ensure, Context, Result};
use ark_bn254::{Bn254, Fr};
use ark_ff::UniformRand;
use ark_groth16::Groth16;
use ark_snark::SNARK;
use bitvm2_disprove::groth16::{
    miller, residue::ResidueWitness, verifier, PreparedVerifyingKey, DEFAULT_WINDOW_BITS,
};
use rand::{rngs::StdRng, SeedableRng};

#[path = "../src/groth16/testdata/circuit.rs"]
mod circuit;
use circuit::TestCircuit as Circuit;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Writes `vk_N.json`, `proof_N.json`, `public_N.json` and a tampered `public_N_bad.json`
/// with our snarkjs writer, so that `snarkjs groth16 verify` can check the format.
fn write_snarkjs(
    dir: &str,
    n: usize,
    vk: &ark_groth16::VerifyingKey<Bn254>,
    proof: &ark_groth16::Proof<Bn254>,
    inputs: &[Fr],
) -> Result<()> {
    use bitvm2_disprove::groth16::inputs;
    std::fs::create_dir_all(dir)?;
    let write =
        |name: String, v: serde_json::Value| std::fs::write(format!("{dir}/{name}"), v.to_string());
    write(format!("vk_{n}.json"), inputs::vk_to_snarkjs_json(vk))?;
    write(
        format!("proof_{n}.json"),
        inputs::proof_to_snarkjs_json(proof),
    )?;
    write(
        format!("public_{n}.json"),
        inputs::public_to_snarkjs_json(inputs),
    )?;
    let mut bad = inputs.to_vec();
    bad[0] += Fr::from(1u64);
    write(
        format!("public_{n}_bad.json"),
        inputs::public_to_snarkjs_json(&bad),
    )?;
    Ok(())
}

fn main() -> Result<()> {
    // `--write-snarkjs DIR`: also write each instance as snarkjs JSON files.
    let args: Vec<String> = std::env::args().collect();
    let snarkjs_dir = args
        .iter()
        .position(|a| a == "--write-snarkjs")
        .and_then(|i| args.get(i + 1).cloned());
    let schedule = miller::schedule();
    println!("BN254 optimal-ate loop: {} steps ({} doublings, {} additions of ±Q, 2 Frobenius additions)",
        schedule.len(),
        schedule.iter().filter(|s| matches!(s, miller::StepKind::Double { .. })).count(),
        schedule.iter().filter(|s| matches!(s, miller::StepKind::Add { .. })).count());

    let t = Instant::now();
    let _ = bitvm2_disprove::groth16::residue::root_of_unity_27();
    println!(
        "residue constants (h, inverses mod h, 27th root of unity): {:.1} ms, once per process",
        ms(t)
    );

    for n_public in 1..=3 {
        let mut rng = StdRng::seed_from_u64(2024 + n_public as u64);
        let circuit = Circuit {
            a: Fr::rand(&mut rng),
            b: Fr::rand(&mut rng),
            n_public,
        };
        let (pk, vk) =
            Groth16::<Bn254>::circuit_specific_setup(circuit.clone(), &mut rng).context("setup")?;
        let proof = Groth16::<Bn254>::prove(&pk, circuit.clone(), &mut rng).context("prove")?;
        let inputs = circuit.public_inputs();

        let t = Instant::now();
        let pvk = PreparedVerifyingKey::new(&vk, DEFAULT_WINDOW_BITS)?;
        let setup_ms = ms(t);

        let t = Instant::now();
        let f = verifier::miller_value(&pvk, &proof, &inputs)?;
        let miller_ms = ms(t);
        let t = Instant::now();
        let witness = ResidueWitness::compute(&f)?;
        let residue_ms = ms(t);
        let t = Instant::now();
        let trace = verifier::trace(&pvk, &proof, &inputs, &witness)?;
        let trace_ms = ms(t);
        let t = Instant::now();
        let full = verifier::prove(&pvk, &proof, &inputs)?;
        let prove_ms = ms(t);
        ensure!(
            trace.accepts() && full.accepts(),
            "the trace must end at one"
        );
        let t = Instant::now();
        let ark_ok = Groth16::<Bn254>::verify(&vk, &inputs, &proof)?;
        let ark_ms = ms(t);
        ensure!(ark_ok, "arkworks must accept");

        if let Some(dir) = &snarkjs_dir {
            write_snarkjs(dir, n_public, &vk, &proof, &inputs)?;
        }
        let c = trace.counts();
        println!("\n== {n_public} public input(s), MSM window {DEFAULT_WINDOW_BITS} bits ==");
        println!("miller steps                 {}", c.miller_steps);
        println!(
            "  doublings / additions      {} / {}",
            c.doublings, c.additions
        );
        println!("Fq12 squarings               {}", c.fq12_squarings);
        println!(
            "Fq12 dense multiplications   {} (c^±1 in additions, 3 Frobenius of c, M_alpha_beta)",
            c.fq12_muls
        );
        println!("Fq12 x Fq6 multiplications   {} (wi)", c.fq12_by_fq6_muls);
        println!("Fq12 Frobenius maps          {}", c.frobenius_maps);
        println!("sparse line multiplications  {} (3 pairs per step; 1/3 with computed, 2/3 with constant lines)", c.sparse_line_muls);
        println!("Fq2 slope hints (B)          {}", c.fq2_slope_hints);
        println!("Fq hints for G1 line points  {}", c.fq_g1_hints);
        println!(
            "Fq elements in the trace     {} ({} bytes at 32 bytes each)",
            c.trace_fq_elements,
            32 * c.trace_fq_elements
        );
        println!(
            "MSM affine G1 additions      {} (= Fq slope hints)",
            c.g1_msm_additions
        );
        println!("residue witness: wi = w^{}", trace.witness.wi_power);
        println!("times: setup {setup_ms:.1} ms | Miller value {miller_ms:.1} ms | residue witness {residue_ms:.1} ms | trace {trace_ms:.1} ms | all (Miller + witness + trace) {prove_ms:.1} ms | arkworks verify {ark_ms:.1} ms");
    }

    // MSM window trade-off for one input: additions (script work) vs table points (script size).
    println!("\nMSM window width vs. per-input cost (one random 254-bit scalar):");
    let mut rng = StdRng::seed_from_u64(1);
    let ic: Vec<_> = (0..2)
        .map(|_| ark_bn254::G1Affine::rand(&mut rng))
        .collect();
    let x = Fr::rand(&mut rng);
    for k in [2u32, 4, 6, 8] {
        let msm = bitvm2_disprove::groth16::msm::FixedBaseMsm::new(&ic, k)?;
        let steps = msm.run(&[x])?.steps.len();
        println!(
            "  k = {k}: {} windows, {steps} additions, {} table points per input",
            msm.windows(),
            msm.windows() * ((1usize << k) - 1)
        );
    }
    Ok(())
}
