//! End-to-end tests on real Groth16 proofs (ark-groth16, fixed seed) and input-format tests.

use ark_bn254::{Bn254, Fq, Fq12, Fq2, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::pairing::{MillerLoopOutput, Pairing};
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{AdditiveGroup, BigInteger, Field, One, PrimeField, UniformRand, Zero};
use ark_groth16::{Groth16, Proof, VerifyingKey};
use ark_serialize::Compress;
use ark_snark::SNARK;
use rand::{rngs::StdRng, SeedableRng};
use serde_json::{json, Value};

use super::audit::{first_wrong_value, WrongValue};
use super::inputs::{self, InputError};
use super::miller;
use super::residue::{ResidueError, ResidueWitness};
use super::verifier::{self, PreparedVerifyingKey, VerifierError, DEFAULT_WINDOW_BITS};

#[path = "testdata/circuit.rs"]
mod circuit;
use circuit::TestCircuit;

struct Fixture {
    vk: VerifyingKey<Bn254>,
    proof: Proof<Bn254>,
    inputs: Vec<Fr>,
    /// A valid proof of the same circuit for other public inputs.
    other_proof: Proof<Bn254>,
    other_inputs: Vec<Fr>,
}

fn fixture(n_public: usize, seed: u64) -> Fixture {
    let mut rng = StdRng::seed_from_u64(seed);
    let circuit = TestCircuit {
        a: Fr::rand(&mut rng),
        b: Fr::rand(&mut rng),
        n_public,
    };
    let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(circuit.clone(), &mut rng).unwrap();
    let proof = Groth16::<Bn254>::prove(&pk, circuit.clone(), &mut rng).unwrap();
    let other = TestCircuit {
        a: Fr::rand(&mut rng),
        b: Fr::rand(&mut rng),
        n_public,
    };
    let other_proof = Groth16::<Bn254>::prove(&pk, other.clone(), &mut rng).unwrap();
    Fixture {
        vk,
        proof,
        inputs: circuit.public_inputs(),
        other_proof,
        other_inputs: other.public_inputs(),
    }
}

fn final_exp(f: Fq12) -> Fq12 {
    Bn254::final_exponentiation(MillerLoopOutput(f)).unwrap().0
}

// ------------------------------------------------------------------ verifier on real proofs

#[test]
fn real_proofs_trace_ends_at_one_and_arkworks_agrees() {
    for n_public in 1..=3 {
        let fx = fixture(n_public, 100 + n_public as u64);
        assert!(Groth16::<Bn254>::verify(&fx.vk, &fx.inputs, &fx.proof).unwrap());
        let pvk = PreparedVerifyingKey::new(&fx.vk, DEFAULT_WINDOW_BITS).unwrap();
        let trace = verifier::prove(&pvk, &fx.proof, &fx.inputs).unwrap();
        assert!(trace.accepts(), "n_public = {n_public}");
        assert_eq!(trace.final_value(), Fq12::one());
        // The trace is internally consistent (what a verifier checks step by step).
        assert_eq!(first_wrong_value(&pvk, &fx.proof, &fx.inputs, &trace), None);
        // The MSM result is arkworks' prepared input.
        let expected = fx
            .inputs
            .iter()
            .zip(&fx.vk.gamma_abc_g1[1..])
            .fold(fx.vk.gamma_abc_g1[0].into_group(), |acc, (x, p)| {
                acc + *p * x
            });
        assert_eq!(trace.msm.vk_x, expected.into_affine());
        // Only the three allowed wi values, and c · c_inv = 1.
        assert!(trace.witness.wi_power < 3);
        assert_eq!(trace.witness.c * trace.witness.c_inv, Fq12::one());
        // The residue identity holds for the plain Miller value.
        let f = verifier::miller_value(&pvk, &fx.proof, &fx.inputs).unwrap();
        assert!(trace.witness.satisfies(&f));
    }
}

#[test]
fn miller_value_final_exponentiation_is_the_groth16_pairing_product() {
    let fx = fixture(2, 7);
    let pvk = PreparedVerifyingKey::new(&fx.vk, DEFAULT_WINDOW_BITS).unwrap();
    let f = verifier::miller_value(&pvk, &fx.proof, &fx.inputs).unwrap();
    assert_eq!(final_exp(f), Fq12::one());
    // Changing a public input gives a product != 1, matching arkworks' pairing value.
    let mut bad = fx.inputs.clone();
    bad[0] += Fr::one();
    let f_bad = verifier::miller_value(&pvk, &fx.proof, &bad).unwrap();
    let vk_x = bad
        .iter()
        .zip(&fx.vk.gamma_abc_g1[1..])
        .fold(fx.vk.gamma_abc_g1[0].into_group(), |acc, (x, p)| {
            acc + *p * x
        });
    let theirs = Bn254::multi_pairing(
        [fx.proof.a, vk_x.into_affine(), fx.proof.c, fx.vk.alpha_g1],
        [fx.proof.b, -fx.vk.gamma_g2, -fx.vk.delta_g2, -fx.vk.beta_g2],
    );
    assert_eq!(final_exp(f_bad), theirs.0);
    assert_ne!(theirs.0, Fq12::one());
}

/// Asserts that (proof, inputs) is rejected: arkworks says no, the residue routine returns an
/// error (no witness exists since f^h != 1), and the folded check fails for the honest
/// instance's witness and for arbitrary witnesses.
fn assert_rejected(
    pvk: &PreparedVerifyingKey,
    good: &ResidueWitness,
    proof: &Proof<Bn254>,
    inputs: &[Fr],
) {
    assert!(!Groth16::<Bn254>::verify(&pvk.vk, inputs, proof).unwrap_or(false));
    let f = verifier::miller_value(pvk, proof, inputs).unwrap();
    assert_ne!(final_exp(f), Fq12::one(), "f^h != 1, so no (c, wi) exists");
    assert_eq!(
        verifier::prove(pvk, proof, inputs).unwrap_err(),
        VerifierError::Residue(ResidueError::NotAResidue)
    );
    assert_eq!(ResidueWitness::compute(&f), Err(ResidueError::NotAResidue));
    for power in 0..3 {
        let w = ResidueWitness {
            wi_power: power,
            ..good.clone()
        };
        assert!(!verifier::verify_with_witness(pvk, proof, inputs, &w).unwrap());
    }
    let mut rng = StdRng::seed_from_u64(99);
    let c = Fq12::rand(&mut rng);
    let w = ResidueWitness {
        c,
        c_inv: c.inverse().unwrap(),
        wi_power: 0,
    };
    assert!(!verifier::verify_with_witness(pvk, proof, inputs, &w).unwrap());
}

#[test]
fn tampered_proofs_and_inputs_fail_and_have_no_witness() {
    let fx = fixture(2, 11);
    let pvk = PreparedVerifyingKey::new(&fx.vk, DEFAULT_WINDOW_BITS).unwrap();
    let good = verifier::prove(&pvk, &fx.proof, &fx.inputs)
        .unwrap()
        .witness;
    let g1 = G1Affine::generator();
    let g2 = G2Affine::generator();
    let tampered_a = Proof {
        a: (fx.proof.a + g1).into_affine(),
        ..fx.proof.clone()
    };
    let tampered_b = Proof {
        b: (fx.proof.b + g2).into_affine(),
        ..fx.proof.clone()
    };
    let tampered_c = Proof {
        c: (fx.proof.c + g1).into_affine(),
        ..fx.proof.clone()
    };
    for p in [&tampered_a, &tampered_b, &tampered_c] {
        assert_rejected(&pvk, &good, p, &fx.inputs);
    }
    let mut bad_inputs = fx.inputs.clone();
    bad_inputs[1] += Fr::one();
    assert_rejected(&pvk, &good, &fx.proof, &bad_inputs);
    // A valid proof, but for another statement.
    assert!(Groth16::<Bn254>::verify(&fx.vk, &fx.other_inputs, &fx.other_proof).unwrap());
    assert_rejected(&pvk, &good, &fx.other_proof, &fx.inputs);
    assert_rejected(&pvk, &good, &fx.proof, &fx.other_inputs);
}

#[test]
fn wrong_witness_values_are_rejected() {
    let fx = fixture(1, 12);
    let pvk = PreparedVerifyingKey::new(&fx.vk, DEFAULT_WINDOW_BITS).unwrap();
    let good = verifier::prove(&pvk, &fx.proof, &fx.inputs)
        .unwrap()
        .witness;
    for power in (0..3).filter(|p| *p != good.wi_power) {
        let w = ResidueWitness {
            wi_power: power,
            ..good.clone()
        };
        assert!(!verifier::verify_with_witness(&pvk, &fx.proof, &fx.inputs, &w).unwrap());
    }
    let w = ResidueWitness {
        wi_power: 3,
        ..good.clone()
    };
    assert!(matches!(
        verifier::trace(&pvk, &fx.proof, &fx.inputs, &w),
        Err(VerifierError::BadWitness(_))
    ));
    let w = ResidueWitness {
        c_inv: good.c_inv.double(),
        ..good.clone()
    };
    assert!(matches!(
        verifier::trace(&pvk, &fx.proof, &fx.inputs, &w),
        Err(VerifierError::BadWitness(_))
    ));
    // c times a 27th root of unity (the only other λ-th roots candidates a prover could try
    // cheaply) does not pass.
    let w27 = super::residue::root_of_unity_27();
    let c = good.c * w27;
    let w = ResidueWitness {
        c,
        c_inv: c.inverse().unwrap(),
        wi_power: good.wi_power,
    };
    assert!(!verifier::verify_with_witness(&pvk, &fx.proof, &fx.inputs, &w).unwrap());
}

#[test]
fn a_wrong_committed_value_is_found_at_its_step() {
    let fx = fixture(2, 13);
    let pvk = PreparedVerifyingKey::new(&fx.vk, DEFAULT_WINDOW_BITS).unwrap();
    let honest = verifier::prove(&pvk, &fx.proof, &fx.inputs).unwrap();
    let find = |t: &verifier::Trace| first_wrong_value(&pvk, &fx.proof, &fx.inputs, t);
    assert_eq!(find(&honest), None);
    for n in [0, 5, honest.steps.len() - 1] {
        let mut t = honest.clone();
        t.steps[n].f_after.c0.c0.c0 += Fq::one();
        assert_eq!(find(&t), Some(WrongValue::LoopStep(n)));
        let mut t = honest.clone();
        t.steps[n].b_slope += Fq2::one();
        assert_eq!(find(&t), Some(WrongValue::LoopStep(n)));
        let mut t = honest.clone();
        t.steps[n].t_after = -t.steps[n].t_after;
        assert_eq!(find(&t), Some(WrongValue::LoopStep(n)));
        let mut t = honest.clone();
        t.steps[n].lines[2].c4 += Fq2::one();
        assert_eq!(find(&t), Some(WrongValue::LoopStep(n)));
    }
    for n in [0, honest.msm.steps.len() - 1] {
        let mut t = honest.clone();
        t.msm.steps[n].slope += Fq::one();
        assert_eq!(find(&t), Some(WrongValue::MsmStep(n)));
        let mut t = honest.clone();
        t.msm.steps[n].acc_after = -t.msm.steps[n].acc_after;
        assert_eq!(find(&t), Some(WrongValue::MsmStep(n)));
    }
    let mut t = honest.clone();
    t.msm.steps.pop();
    assert_eq!(
        find(&t),
        Some(WrongValue::MsmStep(honest.msm.steps.len() - 1))
    );
    let mut t = honest.clone();
    t.g1_points[1].inv_y += Fq::one();
    assert_eq!(find(&t), Some(WrongValue::G1Hint(1)));
    let mut t = honest.clone();
    t.witness.wi_power = (t.witness.wi_power + 1) % 3;
    assert_eq!(find(&t), Some(WrongValue::FinalStep(3)));
    let mut t = honest.clone();
    t.witness.wi_power = 7;
    assert_eq!(find(&t), Some(WrongValue::Witness));
    let mut t = honest.clone();
    t.f_start = t.f_start.square();
    assert_eq!(find(&t), Some(WrongValue::Witness));
    for n in 0..honest.finals.len() {
        let mut t = honest.clone();
        t.finals[n].f_after.c1.c2.c1 += Fq::one();
        assert_eq!(find(&t), Some(WrongValue::FinalStep(n)));
    }
    // A consistent trace for an invalid instance (other public inputs, honest computation with
    // the valid instance's witness) is caught at the end.
    let mut bad_inputs = fx.inputs.clone();
    bad_inputs[0] += Fr::one();
    let t = verifier::trace(&pvk, &fx.proof, &bad_inputs, &honest.witness).unwrap();
    assert_eq!(
        first_wrong_value(&pvk, &fx.proof, &bad_inputs, &t),
        Some(WrongValue::NotOne)
    );
    // The honest trace checked against other public inputs fails in the MSM.
    assert!(matches!(
        first_wrong_value(&pvk, &fx.proof, &bad_inputs, &honest),
        Some(WrongValue::MsmStep(_))
    ));
}

/// Pairs whose pairing product is one: `P_i = a_i·G1`, `Q_i = b_i·G2`, `Σ a_i·b_i = 0`.
fn product_one_pairs(rng: &mut StdRng, n: usize) -> Vec<(G1Affine, G2Affine)> {
    let mut a: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();
    let b: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();
    let partial: Fr = a[..n - 1].iter().zip(&b).map(|(x, y)| *x * y).sum();
    a[n - 1] = -partial / b[n - 1];
    a.iter()
        .zip(&b)
        .map(|(x, y)| {
            (
                (G1Projective::generator() * x).into_affine(),
                (G2Projective::generator() * y).into_affine(),
            )
        })
        .collect()
}

#[test]
fn residue_identity_for_random_products_equal_to_one() {
    let mut rng = StdRng::seed_from_u64(21);
    let mut seen_powers = [false; 3];
    for n in [2, 3, 4, 2, 3, 4] {
        let pairs = product_one_pairs(&mut rng, n);
        let f = miller::multi_miller_loop(&pairs).unwrap();
        assert_eq!(final_exp(f), Fq12::one());
        let w = ResidueWitness::compute(&f).unwrap();
        // f · wi == c^λ by plain exponentiation ...
        assert!(w.satisfies(&f));
        // ... and in the folded form the verifier uses: f · wi · c^-(6x+2) · c^-p · c^(p²) · c^-(p³) = 1.
        let six_x_plus_2: i128 = 6 * <ark_bn254::Config as ark_ec::bn::BnConfig>::X[0] as i128 + 2;
        let folded = f
            * w.wi().unwrap()
            * w.c_inv
                .pow([six_x_plus_2 as u64, (six_x_plus_2 >> 64) as u64])
            * w.c_inv.frobenius_map(1)
            * w.c.frobenius_map(2)
            * w.c_inv.frobenius_map(3);
        assert_eq!(folded, Fq12::one());
        seen_powers[w.wi_power as usize] = true;
        // When wi != 1, f itself is not a cube of the order-h group, so no c with c^λ = f
        // exists (c^λ always is one): the scaling is necessary, not a convenience.
        let is_cube = f.pow(super::residue::constants().h_div_3.limbs()) == Fq12::one();
        assert_eq!(is_cube, w.wi_power == 0);
    }
    // Also with arkworks' own Miller values (projective lines): the routine is not tied to ours.
    for _ in 0..3 {
        let pairs = product_one_pairs(&mut rng, 3);
        let f = Bn254::multi_miller_loop(pairs.iter().map(|p| p.0), pairs.iter().map(|p| p.1)).0;
        let w = ResidueWitness::compute(&f).unwrap();
        assert!(w.satisfies(&f));
        seen_powers[w.wi_power as usize] = true;
    }
    // All three values of wi occur (seeded), so the scaling is really needed.
    assert_eq!(seen_powers, [true; 3]);
}

// ------------------------------------------------------------------ inputs

#[test]
fn arkworks_serialization_round_trip_both_modes() {
    let fx = fixture(3, 31);
    for mode in [Compress::Yes, Compress::No] {
        let vk = inputs::vk_from_arkworks(&inputs::vk_to_arkworks(&fx.vk, mode), mode).unwrap();
        let proof =
            inputs::proof_from_arkworks(&inputs::proof_to_arkworks(&fx.proof, mode), mode).unwrap();
        let xs = inputs::public_inputs_from_arkworks(
            &inputs::public_inputs_to_arkworks(&fx.inputs, mode),
            mode,
        )
        .unwrap();
        assert_eq!((&vk, &proof, &xs), (&fx.vk, &fx.proof, &fx.inputs));
        // Trailing bytes and truncation are rejected.
        let mut long = inputs::proof_to_arkworks(&fx.proof, mode);
        long.push(0);
        assert!(matches!(
            inputs::proof_from_arkworks(&long, mode),
            Err(InputError::TrailingBytes { .. })
        ));
        long.truncate(long.len() - 2);
        assert!(matches!(
            inputs::proof_from_arkworks(&long, mode),
            Err(InputError::Serialization { .. })
        ));
    }
    // A G2 point on the curve but outside the subgroup is rejected by the uncompressed reader.
    let bad_b = non_subgroup_g2();
    let bad = Proof {
        b: bad_b,
        ..fx.proof.clone()
    };
    let mut bytes = Vec::new();
    ark_serialize::CanonicalSerialize::serialize_with_mode(&bad, &mut bytes, Compress::No).unwrap();
    assert!(matches!(
        inputs::proof_from_arkworks(&bytes, Compress::No),
        Err(InputError::Serialization { .. })
    ));
}

#[test]
fn snarkjs_json_round_trip() {
    for n_public in 1..=3 {
        let fx = fixture(n_public, 40 + n_public as u64);
        let vk_json = inputs::vk_to_snarkjs_json(&fx.vk).to_string();
        let proof_json = inputs::proof_to_snarkjs_json(&fx.proof).to_string();
        let public_json = inputs::public_to_snarkjs_json(&fx.inputs).to_string();
        let inst = inputs::instance_from_snarkjs_json(&vk_json, &proof_json, &public_json).unwrap();
        assert_eq!(inst.vk, fx.vk);
        assert_eq!(inst.proof, fx.proof);
        assert_eq!(inst.public_inputs, fx.inputs);
        // And the parsed instance verifies with our check.
        let pvk = PreparedVerifyingKey::new(&inst.vk, DEFAULT_WINDOW_BITS).unwrap();
        assert!(verifier::prove(&pvk, &inst.proof, &inst.public_inputs)
            .unwrap()
            .accepts());
    }
}

/// Files written by snarkjs 0.7.6 for `testdata/mul.circom` (see `testdata/README.md`).
const SNARKJS_VK: &str = include_str!("testdata/verification_key.json");
const SNARKJS_PROOF: &str = include_str!("testdata/proof.json");
const SNARKJS_PUBLIC: &str = include_str!("testdata/public.json");

#[test]
fn real_snarkjs_proof_parses_and_verifies() {
    let inst =
        inputs::instance_from_snarkjs_json(SNARKJS_VK, SNARKJS_PROOF, SNARKJS_PUBLIC).unwrap();
    assert_eq!(inst.public_inputs, vec![Fr::from(33u64), Fr::from(25u64)]);
    // arkworks agrees with snarkjs on the parsed values ...
    assert!(Groth16::<Bn254>::verify(&inst.vk, &inst.public_inputs, &inst.proof).unwrap());
    // ... and so does our chunked check.
    let pvk = PreparedVerifyingKey::new(&inst.vk, DEFAULT_WINDOW_BITS).unwrap();
    let trace = verifier::prove(&pvk, &inst.proof, &inst.public_inputs).unwrap();
    assert!(trace.accepts());
    assert_eq!(
        first_wrong_value(&pvk, &inst.proof, &inst.public_inputs, &trace),
        None
    );
    // Another statement (x1 = 34) has no residue witness.
    let mut bad = inst.public_inputs.clone();
    bad[0] += Fr::one();
    assert!(matches!(
        verifier::prove(&pvk, &inst.proof, &bad),
        Err(VerifierError::Residue(ResidueError::NotAResidue))
    ));
    // Our writer reproduces snarkjs' JSON values (all keys we write; snarkjs adds
    // vk_alphabeta_12, which we do not use).
    let theirs_vk: Value = serde_json::from_str(SNARKJS_VK).unwrap();
    let ours_vk = inputs::vk_to_snarkjs_json(&inst.vk);
    for (key, value) in ours_vk.as_object().unwrap() {
        assert_eq!(&theirs_vk[key], value, "{key}");
    }
    let theirs_proof: Value = serde_json::from_str(SNARKJS_PROOF).unwrap();
    assert_eq!(inputs::proof_to_snarkjs_json(&inst.proof), theirs_proof);
    let theirs_public: Value = serde_json::from_str(SNARKJS_PUBLIC).unwrap();
    assert_eq!(
        inputs::public_to_snarkjs_json(&inst.public_inputs),
        theirs_public
    );
}

#[test]
fn snarkjs_g2_order_is_c0_then_c1() {
    // snarkjs' vk_gamma_2 is the BN254 G2 generator, written as below in every snarkjs key.
    let gen = json!([
        [
            "10857046999023057135944570762232829481370756359578518086990519993285655852781",
            "11559732032986387107991004021392285783925812861821192530917403151452391805634"
        ],
        [
            "8495653923123431417604973247489272438418190587263600148770280649306958101930",
            "4082367875863433681332203403145435568316851327593401208105741076214120093531"
        ],
        ["1", "0"]
    ]);
    let fx = fixture(1, 50);
    let mut v = inputs::vk_to_snarkjs_json(&fx.vk);
    v["vk_gamma_2"] = gen.clone();
    let vk = inputs::vk_from_snarkjs_json(&v.to_string()).unwrap();
    assert_eq!(vk.gamma_g2, G2Affine::generator());
    // Swapped order ([c1, c0]) is a different, off-curve point.
    let swapped = json!([[gen[0][1], gen[0][0]], [gen[1][1], gen[1][0]], ["1", "0"]]);
    v["vk_gamma_2"] = swapped;
    assert_eq!(
        inputs::vk_from_snarkjs_json(&v.to_string()).unwrap_err(),
        InputError::NotOnCurve {
            field: "vk_gamma_2".into()
        }
    );
}

/// A point of the twist that is on the curve but not in the order-r subgroup.
fn non_subgroup_g2() -> G2Affine {
    let mut x = Fq2::one();
    loop {
        if let Some(p) = G2Affine::get_point_from_x_unchecked(x, false) {
            if !p.is_in_correct_subgroup_assuming_on_curve() {
                return p;
            }
        }
        x += Fq2::one();
    }
}

fn p_decimal() -> String {
    Fq::MODULUS.to_string()
}

#[test]
fn snarkjs_rejections_name_the_field() {
    let fx = fixture(2, 60);
    let vk = inputs::vk_to_snarkjs_json(&fx.vk);
    let proof = inputs::proof_to_snarkjs_json(&fx.proof);
    let parse_vk = |v: &Value| inputs::vk_from_snarkjs_json(&v.to_string()).unwrap_err();
    let parse_proof = |v: &Value| inputs::proof_from_snarkjs_json(&v.to_string()).unwrap_err();

    // Non-decimal strings.
    for bad in ["", "12a", "-5", "0x10", "+1", "01", " 1", "1.0"] {
        let mut v = vk.clone();
        v["vk_beta_2"][0][1] = json!(bad);
        assert_eq!(
            parse_vk(&v),
            InputError::NotDecimal {
                field: "vk_beta_2[0][1]".into(),
                value: bad.into()
            }
        );
    }
    let mut v = vk.clone();
    v["IC"][1][0] = json!(5);
    assert!(matches!(parse_vk(&v), InputError::Shape { field, .. } if field == "IC[1][0]"));

    // Coordinates >= p: x + p is the same residue, so only the range check catches it.
    let x_plus_p = {
        let mut b = fx.vk.alpha_g1.x.into_bigint();
        b.add_with_carry(&Fq::MODULUS);
        b.to_string()
    };
    let mut v = vk.clone();
    v["vk_alpha_1"][0] = json!(x_plus_p);
    assert_eq!(
        parse_vk(&v),
        InputError::CoordinateNotCanonical {
            field: "vk_alpha_1[0]".into()
        }
    );
    let mut v = vk.clone();
    v["IC"][2][1] = json!(p_decimal());
    assert_eq!(
        parse_vk(&v),
        InputError::CoordinateNotCanonical {
            field: "IC[2][1]".into()
        }
    );
    let mut v = proof.clone();
    v["pi_b"][1][0] = json!("9".repeat(80)); // > 2^256
    assert_eq!(
        parse_proof(&v),
        InputError::CoordinateNotCanonical {
            field: "pi_b[1][0]".into()
        }
    );

    // Not on the curve.
    let mut v = proof.clone();
    v["pi_a"][1] = json!("1");
    assert_eq!(
        parse_proof(&v),
        InputError::NotOnCurve {
            field: "pi_a".into()
        }
    );
    let mut v = vk.clone();
    v["vk_delta_2"][1][0] = json!("7");
    assert_eq!(
        parse_vk(&v),
        InputError::NotOnCurve {
            field: "vk_delta_2".into()
        }
    );

    // G2 not in the subgroup.
    let bad = non_subgroup_g2();
    let bad_json = json!([
        [
            bad.x.c0.into_bigint().to_string(),
            bad.x.c1.into_bigint().to_string()
        ],
        [
            bad.y.c0.into_bigint().to_string(),
            bad.y.c1.into_bigint().to_string()
        ],
        ["1", "0"]
    ]);
    let mut v = proof.clone();
    v["pi_b"] = bad_json.clone();
    assert_eq!(
        parse_proof(&v),
        InputError::NotInSubgroup {
            field: "pi_b".into()
        }
    );
    let mut v = vk.clone();
    v["vk_beta_2"] = bad_json;
    assert_eq!(
        parse_vk(&v),
        InputError::NotInSubgroup {
            field: "vk_beta_2".into()
        }
    );

    // Infinity and non-affine z.
    let mut v = proof.clone();
    v["pi_c"] = json!(["0", "1", "0"]);
    assert_eq!(
        parse_proof(&v),
        InputError::Infinity {
            field: "pi_c".into()
        }
    );
    let mut v = proof.clone();
    v["pi_a"][2] = json!("2");
    assert_eq!(
        parse_proof(&v),
        InputError::NotAffine {
            field: "pi_a".into()
        }
    );
    let mut v = vk.clone();
    v["vk_gamma_2"][2] = json!(["1", "1"]);
    assert_eq!(
        parse_vk(&v),
        InputError::NotAffine {
            field: "vk_gamma_2".into()
        }
    );

    // Wrong curve / protocol.
    let mut v = vk.clone();
    v["curve"] = json!("bls12381");
    assert!(matches!(parse_vk(&v), InputError::WrongTag { field, .. } if field == "curve"));
    let mut v = vk.clone();
    v["protocol"] = json!("plonk");
    assert!(matches!(parse_vk(&v), InputError::WrongTag { field, .. } if field == "protocol"));
    let mut v = vk.clone();
    v.as_object_mut().unwrap().remove("protocol");
    assert!(matches!(parse_vk(&v), InputError::Shape { field, .. } if field == "protocol"));
    let mut v = proof.clone();
    v["protocol"] = json!("fflonk");
    assert!(matches!(parse_proof(&v), InputError::WrongTag { field, .. } if field == "protocol"));

    // Wrong number of public inputs / IC entries.
    let mut v = vk.clone();
    v["nPublic"] = json!(3);
    assert_eq!(
        parse_vk(&v),
        InputError::WrongInputCount {
            field: "IC".into(),
            expected: 4,
            got: 3
        }
    );
    let public3 = inputs::public_to_snarkjs_json(&[Fr::one(), Fr::one(), Fr::one()]).to_string();
    assert_eq!(
        inputs::public_from_snarkjs_json(&public3, 2).unwrap_err(),
        InputError::WrongInputCount {
            field: "public".into(),
            expected: 2,
            got: 3
        }
    );
    assert!(matches!(
        inputs::instance_from_snarkjs_json(&vk.to_string(), &proof.to_string(), &public3),
        Err(InputError::WrongInputCount { .. })
    ));

    // Scalars >= r (r itself, and r + x which is the same residue).
    let r = Fr::MODULUS.to_string();
    let public_r = json!(["1", r]).to_string();
    assert_eq!(
        inputs::public_from_snarkjs_json(&public_r, 2).unwrap_err(),
        InputError::ScalarNotCanonical {
            field: "public[1]".into()
        }
    );
    let public_big = json!(["9".repeat(80), "1"]).to_string();
    assert_eq!(
        inputs::public_from_snarkjs_json(&public_big, 2).unwrap_err(),
        InputError::ScalarNotCanonical {
            field: "public[0]".into()
        }
    );
    let public_hex = json!(["0x01", "1"]).to_string();
    assert!(matches!(
        inputs::public_from_snarkjs_json(&public_hex, 2).unwrap_err(),
        InputError::NotDecimal { field, .. } if field == "public[0]"
    ));
    // Not JSON at all.
    assert!(matches!(
        inputs::vk_from_snarkjs_json("{"),
        Err(InputError::Json { .. })
    ));
    // The largest canonical values are accepted.
    let r_minus_1 = (Fr::zero() - Fr::one()).into_bigint().to_string();
    assert_eq!(
        inputs::public_from_snarkjs_json(&json!([r_minus_1]).to_string(), 1).unwrap(),
        vec![-Fr::one()]
    );
}

#[test]
fn instance_checks_input_count_against_vk() {
    let fx = fixture(2, 70);
    assert!(
        inputs::Groth16Instance::new(fx.vk.clone(), fx.proof.clone(), fx.inputs.clone()).is_ok()
    );
    assert_eq!(
        inputs::Groth16Instance::new(fx.vk.clone(), fx.proof.clone(), fx.inputs[..1].to_vec())
            .unwrap_err(),
        InputError::WrongInputCount {
            field: "public".into(),
            expected: 2,
            got: 1
        }
    );
    let zero_a = Proof {
        a: G1Affine::zero(),
        ..fx.proof.clone()
    };
    assert_eq!(
        inputs::Groth16Instance::new(fx.vk, zero_a, fx.inputs).unwrap_err(),
        InputError::Infinity {
            field: "pi_a".into()
        }
    );
}
