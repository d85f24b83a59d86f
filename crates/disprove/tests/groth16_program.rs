//! The Groth16 verifier as a program (`bitvm2_disprove::groth16::program`), on real proofs of a
//! small circuit: honest inputs satisfy every claim and match the native trace; a proof for
//! other public inputs, a tampered A/B/C, a tampered public input or a bad residue witness
//! make a claim fail; sampled operations' scripts agree with their native results.

use std::sync::{Arc, OnceLock};

use ark_bn254::{Bn254, Fq, Fr, G1Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::One;
use ark_groth16::{Groth16, Proof, VerifyingKey};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use ark_snark::SNARK;
use bitvm2_disprove::bn254::{FqMul, ModeMul};
use bitvm2_disprove::groth16::program::{build, ProgramInputError, ProgramOptions, PublicInput, VerifierProgram};
use bitvm2_disprove::groth16::residue::ResidueWitness;
use bitvm2_disprove::groth16::verifier::{self, PreparedVerifyingKey};
use bitvm2_disprove::program::{CommitMode, Val};
use bitvm2_disprove::programs::{op_stack, MulMode};
use bitvm2_script::exec::{execute, ExecOptions};
use rand::{rngs::StdRng, SeedableRng};

/// Knows 32-bit factors `p, q` of the public 64-bit `n`, and `m = p + q` (second input).
#[derive(Clone)]
struct Factors {
    p: u64,
    q: u64,
}

impl ConstraintSynthesizer<Fr> for Factors {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let n = cs.new_input_variable(|| Ok(Fr::from(self.p * self.q)))?;
        let m = cs.new_input_variable(|| Ok(Fr::from(self.p + self.q)))?;
        let p = cs.new_witness_variable(|| Ok(Fr::from(self.p)))?;
        let q = cs.new_witness_variable(|| Ok(Fr::from(self.q)))?;
        cs.enforce_r1cs_constraint(|| p.into(), || q.into(), || n.into())?;
        cs.enforce_r1cs_constraint(|| ark_relations::gr1cs::LinearCombination::from(p) + q, || ark_relations::gr1cs::Variable::One.into(), || m.into())?;
        Ok(())
    }
}

struct Fixture {
    vk: VerifyingKey<Bn254>,
    proof: Proof<Bn254>,
    public: Vec<Fr>,
    other: (Proof<Bn254>, Vec<Fr>),
    pvk: PreparedVerifyingKey,
    vp: VerifierProgram,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(7);
        let c = Factors { p: 0xfffe_fff1, q: 0x8000_0011 };
        let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(c.clone(), &mut rng).unwrap();
        let proof = Groth16::<Bn254>::prove(&pk, c.clone(), &mut rng).unwrap();
        let public = vec![Fr::from(c.p * c.q), Fr::from(c.p + c.q)];
        let o = Factors { p: 65521, q: 65537 };
        let other = (Groth16::<Bn254>::prove(&pk, o.clone(), &mut rng).unwrap(), vec![Fr::from(o.p * o.q), Fr::from(o.p + o.q)]);
        let pvk = PreparedVerifyingKey::new(&vk, verifier::DEFAULT_WINDOW_BITS).unwrap();
        let mul: Arc<dyn FqMul> = Arc::new(ModeMul::new(MulMode::Hinted(4)).unwrap());
        let vp = build(&pvk, &ProgramOptions { mul, commit: CommitMode::Direct, public: vec![PublicInput::Committed { bits: 64 }, PublicInput::Committed { bits: 33 }] });
        Fixture { vk, proof, public, other, pvk, vp }
    })
}

fn honest_inputs(f: &Fixture) -> Vec<Val> {
    let trace = verifier::prove(&f.pvk, &f.proof, &f.public).unwrap();
    f.vp.input_values(&f.proof, &f.public, &trace.witness).unwrap()
}

fn claims(f: &Fixture, inputs: &[Val]) -> bool {
    let vals = f.vp.program.evaluate(inputs).unwrap();
    f.vp.program.claims_hold(&vals)
}

#[test]
fn honest_proof_satisfies_every_claim() {
    let f = fixture();
    assert!(Groth16::<Bn254>::verify(&f.vk, &f.public, &f.proof).unwrap());
    let p = &f.vp.program;
    eprintln!("groth16 program: {} values, {} ops, {} claims", p.values.len(), p.ops.len(), p.claims.len());
    assert!(p.ops.len() > 1000, "a real pairing program");
    assert!(claims(f, &honest_inputs(f)));
}

#[test]
fn wrong_proofs_inputs_and_witnesses_fail_a_claim() {
    let f = fixture();
    let honest = honest_inputs(f);
    let w = verifier::prove(&f.pvk, &f.proof, &f.public).unwrap().witness;
    // a valid proof of other public inputs, checked against ours: no residue witness exists;
    // the operator can only bring some witness (here the honest one of the other statement)
    let (op, oi) = &f.other;
    assert!(verifier::prove(&f.pvk, op, &f.public).is_err());
    let ow = verifier::prove(&f.pvk, op, oi).unwrap().witness;
    assert!(!claims(f, &f.vp.input_values(op, &f.public, &ow).unwrap()));
    assert!(!claims(f, &f.vp.input_values(op, &f.public, &w).unwrap()));
    // tampered A, C (still on the curve), B (on the twist)
    let g1 = |p: &ark_bn254::G1Affine| (G1Projective::from(*p) + ark_bn254::G1Affine::generator()).into_affine();
    let mut pa = f.proof.clone();
    pa.a = g1(&pa.a);
    let mut pc = f.proof.clone();
    pc.c = g1(&pc.c);
    let mut pb = f.proof.clone();
    pb.b = (ark_bn254::G2Projective::from(pb.b) + ark_bn254::G2Affine::generator()).into_affine();
    for bad in [pa, pb, pc] {
        assert!(!claims(f, &f.vp.input_values(&bad, &f.public, &w).unwrap()));
    }
    // a tampered public input
    let mut xs = f.public.clone();
    xs[1] += Fr::one();
    assert!(!claims(f, &f.vp.input_values(&f.proof, &xs, &w).unwrap()));
    // a wrong residue witness: another wi index, or c_inv not the inverse of c
    for k in 0..3u8 {
        if k != w.wi_power {
            let bad = ResidueWitness { wi_power: k, ..w.clone() };
            assert!(!claims(f, &f.vp.input_values(&f.proof, &f.public, &bad).unwrap()), "wi index {k}");
        }
    }
    let mut bad = honest.clone();
    let last_c_inv = bad.len() - 2;
    bad[last_c_inv][0] += Fq::one();
    assert!(!claims(f, &bad));
    // A off the curve
    let mut bad = honest.clone();
    bad[0][1] += Fq::one();
    assert!(!claims(f, &bad));
}

/// An operation's name, script, stack (hints, operands) and expected result.
type DistinctOp = (String, bitcoin::ScriptBuf, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// One operation of every distinct kind (names carry the shape and the constants' classes)
/// with its stack (hints, operands) and expected result on the honest values.
fn distinct_ops(f: &Fixture) -> Vec<DistinctOp> {
    let p = &f.vp.program;
    let vals = p.evaluate(&honest_inputs(f)).unwrap();
    let mut seen = std::collections::HashSet::new();
    p.ops
        .iter()
        .filter(|node| seen.insert(node.op.name()))
        .map(|node| {
            let args = p.operands(node, &vals);
            let stack = op_stack(node.op.as_ref(), &args);
            (node.op.name(), node.op.script().into_script(), stack, bitvm2_disprove::program::val_stack(&vals[node.out]))
        })
        .collect()
}

#[test]
fn sampled_op_scripts_agree_with_native() {
    let ops = distinct_ops(fixture());
    for (name, script, stack, want) in &ops {
        let r = execute(script, stack, &ExecOptions::default());
        assert!(r.outcome.is_ok(), "{name}: {:?}", r.outcome);
        assert_eq!(&r.final_stack, want, "{name}");
    }
    eprintln!("{} distinct operations executed", ops.len());
    assert!(ops.len() >= 15);
}

/// The same operations judged by Bitcoin Core's interpreter as leaves `op, expected result,
/// compare`: accepted by both with the honest stack, rejected by both when the expected result
/// is off by one in its last limb, and the same verdict from both with the first stack item
/// changed (a hint: rejected, except where the operation ignores it, e.g. a zero MSM digit).
#[cfg(feature = "core-oracle")]
#[test]
fn op_scripts_are_judged_alike_by_core() {
    use bitvm2_script::builder::Fragment;
    use bitvm2_script::oracle::{expecting, verdicts};
    for (name, script, stack, want) in distinct_ops(fixture()) {
        let leaf = expecting(&Fragment::from_bytes(script.to_bytes()), &want);
        let v = verdicts(&leaf, &stack);
        assert!(v.core && v.ours, "{name}: {}", v.detail);
        let mut wrong = want.clone();
        let last = wrong.len() - 1;
        wrong[last] = bitvm2_script::exec::encode_num(bitvm2_script::exec::decode_num(&wrong[last], 5).unwrap_or(0) + 1);
        let v = verdicts(&expecting(&Fragment::from_bytes(script.to_bytes()), &wrong), &stack);
        assert!(!v.core && !v.ours, "{name}: a wrong result is accepted: {}", v.detail);
        let mut bad = stack.clone();
        bad[0] = bitvm2_script::exec::encode_num(bitvm2_script::exec::decode_num(&bad[0], 5).unwrap_or(0) + 1);
        let v = verdicts(&leaf, &bad);
        assert_eq!(v.core, v.ours, "{name} tampered: {}", v.detail);
    }
}

#[test]
fn fixed_public_inputs_fold_into_the_program_and_must_match() {
    let f = fixture();
    // the second input fixed at build time (as a peg-out graph fixes its deposit): one input less
    let mul: Arc<dyn FqMul> = Arc::new(ModeMul::new(MulMode::Hinted(4)).unwrap());
    let public = vec![PublicInput::Committed { bits: 64 }, PublicInput::Fixed(f.public[1])];
    let vp = build(&f.pvk, &ProgramOptions { mul, commit: CommitMode::Direct, public });
    assert_eq!(vp.inputs.public.len(), 1);
    assert_eq!(vp.program.inputs.len(), f.vp.program.inputs.len() - 1);
    let w = verifier::prove(&f.pvk, &f.proof, &f.public).unwrap().witness;
    let inputs = vp.input_values(&f.proof, &f.public, &w).unwrap();
    assert!(vp.program.claims_hold(&vp.program.evaluate(&inputs).unwrap()));
    let mut other = f.public.clone();
    other[1] += Fr::one();
    assert_eq!(vp.input_values(&f.proof, &other, &w), Err(ProgramInputError::FixedMismatch { index: 1 }));
    // the first input is still committed: a wrong value fails a claim
    let mut xs = f.public.clone();
    xs[0] += Fr::one();
    assert!(!vp.program.claims_hold(&vp.program.evaluate(&vp.input_values(&f.proof, &xs, &w).unwrap()).unwrap()));
}

#[test]
fn b_on_the_twist_but_outside_g2_fails_the_subgroup_claim_only() {
    use ark_ec::short_weierstrass::SWCurveConfig;
    use ark_ff::Field;
    let f = fixture();
    // a point of the twist curve that is not in G2 (no cofactor clearing)
    let mut x = ark_bn254::Fq2::new(Fq::from(7u64), Fq::from(1u64));
    let b = loop {
        let rhs = x * x * x + <ark_bn254::g2::Config as SWCurveConfig>::COEFF_B;
        if let Some(y) = rhs.sqrt() {
            let p = ark_bn254::G2Affine::new_unchecked(x, y);
            if p.is_on_curve() && !p.is_in_correct_subgroup_assuming_on_curve() {
                break p;
            }
        }
        x += ark_bn254::Fq2::one();
    };
    let mut proof = f.proof.clone();
    proof.b = b;
    let w = verifier::prove(&f.pvk, &f.proof, &f.public).unwrap().witness;
    let p = &f.vp.program;
    let vals = p.evaluate(&f.vp.input_values(&proof, &f.public, &w).unwrap()).unwrap();
    let failing: Vec<&str> = p.claims.iter().filter(|(v, c)| vals[*v] != *c).map(|(v, _)| p.values[*v].name.as_str()).collect();
    assert!(failing.iter().any(|n| n.starts_with("G2 check")), "subgroup claim fails: {failing:?}");
    assert!(!failing.iter().any(|n| n.starts_with("B on twist")), "B is on the twist: {failing:?}");
    // and for the honest B every G2-check claim holds
    let honest = p.evaluate(&honest_inputs(f)).unwrap();
    assert!(p.claims.iter().filter(|(v, _)| p.values[*v].name.starts_with("G2 check")).all(|(v, c)| honest[*v] == *c));
    assert_eq!(p.claims.iter().filter(|(v, _)| p.values[*v].name.starts_with("G2 check")).count(), 2);
}
