//! The statement's Groth16 verifier program (`bitvm2_statement::program`) on real proofs of the
//! synthetic chain (small parameters, keys cached under the target directory like
//! `groth16_public_inputs`): an honest proof satisfies every claim of the program; a proof
//! asserted for another claim, a proof of another claim and a proof on another deposit fail its
//! final claim; the binding leaves built from the Kickoff's claim keys are unspendable for the
//! honest Kickoff, and a Kickoff that commits another amount (or checkpoint) is caught by the
//! binding leaf of that input, whose witness runs successfully in the script executor.

mod common;

use std::time::Instant;

use ark_bn254::Bn254;
use ark_groth16::Proof;
use bitcoin::hashes::Hash;
use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Txid};
use bitvm2_disprove::binding::binding_witness;
use bitvm2_disprove::chunk::ChunkLimits;
use bitvm2_disprove::claim::{ClaimSecretKey, CLAIM_FIELDS, FIELD_INPUTS};
use bitvm2_disprove::groth16::program::PublicInput;
use bitvm2_disprove::groth16::residue::ResidueWitness;
use bitvm2_disprove::groth16::verifier;
use bitvm2_disprove::program::{Committed, Val};
use bitvm2_disprove::setup::{OperatorKeys, Planned};
use bitvm2_disprove::wots::LeafEncoding;
use bitvm2_script::exec::{execute, ExecOptions};
use bitvm2_statement::program::{
    binding_leaves_for, claim_bindings, find_claim_binding_fault, kickoff_fields, program_inputs, program_inputs_with_witness,
    verifier_program, StatementProgram, StatementProgramError, StatementProgramOptions,
};
use bitvm2_statement::{fixture, keys, Claim};
use common::small_circuit;

/// Indices of the program's claims that do not hold for `inputs`.
fn failed_claims(sp: &StatementProgram, inputs: &[Val]) -> Vec<usize> {
    let p = &sp.verifier.program;
    let vals = p.evaluate(inputs).expect("inputs of the program's shape");
    p.claims.iter().enumerate().filter(|(_, (v, c))| vals[*v] != *c).map(|(k, _)| k).collect()
}

/// Whether the failed claims are exactly some of the final accumulator's (`f == 1`).
fn only_final_claim_fails(sp: &StatementProgram, inputs: &[Val]) -> bool {
    let failed = failed_claims(sp, inputs);
    let finals: Vec<usize> = sp.verifier.f_final.iter().flatten().copied().collect();
    !failed.is_empty() && failed.iter().all(|&k| finals.contains(&sp.verifier.program.claims[k].0))
}

fn residue(sp: &StatementProgram, proof: &Proof<Bn254>, claim: &Claim) -> ResidueWitness {
    verifier::prove(&sp.pvk, proof, &claim.public_inputs().unwrap()).expect("the proof verifies").witness
}

#[test]
fn the_statement_program_holds_for_a_real_proof_and_binds_the_kickoff_claim() {
    let (p, w, k) = small_circuit();
    let mut rng = rand::rngs::OsRng;
    let t = Instant::now();
    let proof = keys::prove(&k.pk, &p, &w, &mut rng).unwrap();
    eprintln!("proof in {:.1} s", t.elapsed().as_secs_f64());
    let claim = w.claim.clone();

    let t = Instant::now();
    let sp = verifier_program(&k.vk, claim.deposit, &StatementProgramOptions::default()).unwrap();
    eprintln!(
        "statement program: {} ops, {} claims, built in {:.1} s",
        sp.verifier.program.ops.len(),
        sp.verifier.program.claims.len(),
        t.elapsed().as_secs_f64()
    );
    // x0..x5, x9, x10 are program inputs at their span's width; x6..x8 are folded in.
    let committed: Vec<usize> = sp.verifier.inputs.public.iter().map(|(i, _)| *i).collect();
    assert_eq!(committed, FIELD_INPUTS);
    let bits: Vec<u32> = FIELD_INPUTS
        .iter()
        .map(|&i| match sp.verifier.public[i] {
            PublicInput::Committed { bits } => bits,
            PublicInput::Fixed(_) => panic!("x{i} fixed"),
        })
        .collect();
    assert_eq!(bits, [128, 128, 64, 128, 128, 24, 128, 128]);
    let x = claim.public_inputs().unwrap();
    for (i, xi) in x.iter().enumerate().take(9).skip(6) {
        assert_eq!(sp.verifier.public[i], PublicInput::Fixed(*xi), "x{i} is the deposit's");
    }

    // The honest proof: every claim of the program holds.
    let honest = program_inputs(&sp, &proof, &claim).unwrap();
    assert_eq!(failed_claims(&sp, &honest), Vec::<usize>::new());

    // The same proof asserted for another claim (amount + 1): no residue witness exists; with
    // the honest one the final claim fails, and nothing else does.
    let more = Claim { amount: claim.amount + Amount::from_sat(1), ..claim.clone() };
    assert!(matches!(program_inputs(&sp, &proof, &more), Err(StatementProgramError::Proof(_))));
    let w_honest = residue(&sp, &proof, &claim);
    assert!(only_final_claim_fails(&sp, &program_inputs_with_witness(&sp, &proof, &more, &w_honest).unwrap()));

    // A real proof of another claim (another payout on the same deposit and checkpoint),
    // asserted for ours, with its own residue witness or ours: the final claim fails.
    let dest = ScriptBuf::from_bytes([&[0x00, 0x14][..], &[0x33; 20]].concat());
    let (w2, _, _) = fixture::synthetic_with(&p, &fixture::payout_tx(dest, Amount::from_sat(7_654_321)));
    assert_eq!((w2.claim.deposit, w2.claim.checkpoint), (claim.deposit, claim.checkpoint));
    let t = Instant::now();
    let proof2 = keys::prove(&k.pk, &p, &w2, &mut rng).unwrap();
    eprintln!("second proof in {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(failed_claims(&sp, &program_inputs(&sp, &proof2, &w2.claim).unwrap()), Vec::<usize>::new(), "its own claim holds");
    assert!(matches!(program_inputs(&sp, &proof2, &claim), Err(StatementProgramError::Proof(_))));
    for witness in [residue(&sp, &proof2, &w2.claim), w_honest.clone()] {
        assert!(only_final_claim_fails(&sp, &program_inputs_with_witness(&sp, &proof2, &claim, &witness).unwrap()));
    }

    // The deposit is the program's: a claim on another deposit has no inputs here, and the
    // honest proof in the program of another deposit fails the final claim.
    let other_deposit = OutPoint { txid: Txid::from_byte_array([0x43; 32]), vout: claim.deposit.vout };
    let elsewhere = Claim { deposit: other_deposit, ..claim.clone() };
    assert!(matches!(
        program_inputs(&sp, &proof, &elsewhere),
        Err(StatementProgramError::Deposit { claim: c, program: d }) if c == other_deposit && d == claim.deposit
    ));
    let sp_other = verifier_program(&k.vk, other_deposit, &StatementProgramOptions::default()).unwrap();
    assert!(only_final_claim_fails(&sp_other, &program_inputs_with_witness(&sp_other, &proof, &elsewhere, &w_honest).unwrap()));
    drop(sp_other);

    // Binding leaves: the program planned as a Groth16 verifier is (compact leaves, the eight
    // binding leaves beside it), the operator's keys of every commitment, the honest assertion.
    let t = Instant::now();
    let limits = ChunkLimits { encoding: LeafEncoding::Compact, other_leaves: CLAIM_FIELDS, ..ChunkLimits::default() };
    let planned = Planned::new(sp.verifier.program.clone(), limits).expect("the statement's verifier chunks");
    let op = OperatorKeys::new([6; 32], b"statement program test");
    let op_keys = op.public_keys(&planned);
    let vals = sp.verifier.program.evaluate(&honest).unwrap();
    let committed: Vec<Committed> = planned.plan.commitments.iter().map(|&v| planned.program.values[v].kind.commit_native(&vals[v])).collect();
    let a = op.sign_with_keys(&op_keys, &committed);
    eprintln!(
        "planned ({} steps, {} commitments), keys and assertion in {:.1} s",
        planned.plan.steps.len(),
        planned.plan.commitments.len(),
        t.elapsed().as_secs_f64()
    );
    let claim_sk = ClaimSecretKey::derive(&[8; 32], b"statement program test");
    let ck = claim_sk.public_key();
    let bindings = claim_bindings(&ck, &sp, &planned.plan).unwrap();
    let leaves = binding_leaves_for(&ck, &sp, &planned.plan, &op_keys).unwrap();
    assert_eq!(leaves.len(), CLAIM_FIELDS);
    assert_eq!(bindings.iter().map(|b| b.input).collect::<Vec<_>>(), FIELD_INPUTS);
    assert!(matches!(
        binding_leaves_for(&ck, &sp, &planned.plan, &op_keys[1..]),
        Err(StatementProgramError::KeyCount { .. })
    ));

    // The honest Kickoff: nothing found, and no binding leaf is spendable with its witness.
    let kickoff = claim_sk.sign(&kickoff_fields(&claim)).unwrap();
    assert_eq!(find_claim_binding_fault(&bindings, &ck, &kickoff, &a).unwrap(), None);
    let per_field = ck.field_witnesses(&kickoff).unwrap();
    for (j, b) in bindings.iter().enumerate() {
        let wit = binding_witness(&b.binding.claim_field, per_field[b.field], &a.sigs[b.binding.commitment]).unwrap();
        let r = execute(&leaves[j], &wit, &ExecOptions::default());
        assert!(r.outcome.is_ok() && !r.success(), "binding leaf of x{}: {:?}", b.input, r.outcome);
        assert!(r.peak_items <= 1000, "peak {}", r.peak_items);
    }

    // A Kickoff that commits amount + 1 (the proof's claim is asserted): the x2 binding leaf,
    // and its witness spends it.
    let lying = claim_sk.sign(&kickoff_fields(&more)).unwrap();
    let fault = find_claim_binding_fault(&bindings, &ck, &lying, &a).unwrap().expect("the amount mismatch is found");
    assert_eq!((fault.binding, fault.input), (2, 2));
    let r = execute(&leaves[fault.binding], &fault.witness, &ExecOptions::default());
    assert!(r.success(), "x2 binding leaf: {:?}", r.outcome);
    // Another checkpoint: a changed byte in its first half is x9's, in its second x10's.
    for (byte, input) in [(0usize, 9usize), (31, 10)] {
        let mut cp = claim.checkpoint.to_byte_array();
        cp[byte] ^= 1;
        let moved = Claim { checkpoint: BlockHash::from_byte_array(cp), ..claim.clone() };
        let f = find_claim_binding_fault(&bindings, &ck, &claim_sk.sign(&kickoff_fields(&moved)).unwrap(), &a).unwrap().expect("found");
        assert_eq!(f.input, input);
        assert!(execute(&leaves[f.binding], &f.witness, &ExecOptions::default()).success(), "x{input} binding leaf");
    }
    // A Kickoff witness of another length is refused by name.
    assert!(matches!(
        find_claim_binding_fault(&bindings, &ck, &kickoff[1..], &a),
        Err(StatementProgramError::Kickoff(_))
    ));
}
