//! The statement's Groth16 verifier as a disprove program (`bitvm2_disprove::groth16::program`),
//! for one deposit, and the public-input binding leaves that tie it to the Kickoff's claim.
//!
//! Of the statement's 11 public inputs, x0..x5 (payout txid, amount, destination) and x9, x10
//! (the checkpoint) are what the operator commits in Kickoff (`bitvm2_disprove::claim`): they
//! enter the program as committed inputs of their span's width (`8 * bytes` bits: 128, 64 for
//! the amount, 24 for x5), each checked below `2^bits` by a claim of the program. x6..x8 (the
//! deposit outpoint) are fixed by the peg-out graph and folded into the MSM's start point
//! (`PublicInput::Fixed`), so a program built for one deposit accepts proofs of claims on that
//! deposit only.
//!
//! When challenged, the operator asserts the program's inputs ([`program_inputs`]: the proof,
//! the committed public inputs and the residue witness); a verifier runs the program's search
//! and, beside it, the binding search ([`find_claim_binding_fault`]): one binding leaf per
//! committed public input ([`binding_leaves_for`]) is spendable exactly when the value the
//! operator asserted differs from the claim field its Kickoff signed. So an operator cannot
//! prove one claim and take the deposit for another.

use std::sync::Arc;

use ark_bn254::Bn254;
use ark_groth16::{Proof, VerifyingKey};
use bitcoin::{OutPoint, ScriptBuf};
use bitvm2_disprove::binding::{binding_leaf, find_binding_fault, Binding, BindingError};
use bitvm2_disprove::bn254::{FqMul, ModeMul};
use bitvm2_disprove::chunk::Plan;
use bitvm2_disprove::claim::{ClaimError, ClaimFields, ClaimPublicKey, CLAIM_FIELDS, FIELD_INPUTS};
use bitvm2_disprove::groth16::program::{build, ProgramInputError, ProgramOptions, PublicInput, VerifierProgram};
use bitvm2_disprove::groth16::residue::ResidueWitness;
use bitvm2_disprove::groth16::verifier::{miller_value, PreparedVerifyingKey, VerifierError, DEFAULT_WINDOW_BITS};
use bitvm2_disprove::program::{CommitMode, Val};
use bitvm2_disprove::programs::MulMode;
use bitvm2_disprove::setup::SignedAssertion;
use bitvm2_disprove::wots::WotsPublicKey;

use crate::claim::{Claim, NUM_PUBLIC_INPUTS, PUBLIC_INPUT_SPANS};
use crate::StatementError;

/// Public inputs fixed per deposit (the deposit outpoint: txid halves and vout).
pub const FIXED_INPUTS: [usize; 3] = [6, 7, 8];

/// Why the statement's program, its inputs or its bindings cannot be formed.
#[derive(Debug, thiserror::Error)]
pub enum StatementProgramError {
    /// The verifying key is for another number of public inputs.
    #[error("verifying key has {got} public inputs, the statement has {NUM_PUBLIC_INPUTS}")]
    KeyInputs {
        /// Public inputs of the key (IC points minus one).
        got: usize,
    },
    /// The verifying key cannot be prepared (a point at infinity, ...).
    #[error("verifying key: {0}")]
    Key(VerifierError),
    /// The claim has no public inputs (a destination the statement cannot pack).
    #[error("claim: {0}")]
    Claim(#[from] StatementError),
    /// The claim is on another deposit than the one the program was built for.
    #[error("claim is on deposit {claim}, the program was built for deposit {program}")]
    Deposit {
        /// The claim's deposit.
        claim: OutPoint,
        /// The program's.
        program: OutPoint,
    },
    /// The proof does not verify for the claim, so there is no residue witness.
    #[error("the proof does not verify for this claim: {0}")]
    Proof(VerifierError),
    /// The proof or witness does not fit the program's inputs.
    #[error("program inputs: {0}")]
    Inputs(#[from] ProgramInputError),
    /// A committed public input that the plan does not commit.
    #[error("public input x{input} is not among the plan's commitments")]
    NotCommitted {
        /// The public input.
        input: usize,
    },
    /// Program keys of another count than the plan's commitments.
    #[error("{got} program keys, the plan has {want} commitments")]
    KeyCount {
        /// Keys given.
        got: usize,
        /// Commitments of the plan.
        want: usize,
    },
    /// The Kickoff's claim commitment cannot be split into its fields.
    #[error("Kickoff claim commitment: {0}")]
    Kickoff(#[from] ClaimError),
    /// A binding names a claim field the Kickoff does not commit.
    #[error("no claim field {field} (the Kickoff commits {CLAIM_FIELDS})")]
    NoField {
        /// The field index.
        field: usize,
    },
    /// A binding leaf or its search failed.
    #[error("binding of claim field {field}: {source}")]
    Binding {
        /// Claim field (0..8, x0..x5, x9, x10).
        field: usize,
        /// What the binding layer found.
        source: BindingError,
    },
}

/// How the statement's verifier program is built (its public inputs are the statement's, so
/// only the arithmetic is chosen here).
#[derive(Debug, Clone)]
pub struct StatementProgramOptions {
    /// The Fq multiplication of every operation.
    pub mul: Arc<dyn FqMul>,
    /// Commitment of values that cross a leaf boundary.
    pub commit: CommitMode,
    /// Window of the native public-input MSM in the prepared key.
    pub window_bits: u32,
}

impl Default for StatementProgramOptions {
    /// Hinted 4-bit-window multiplication, direct commitments: what the on-chain tests use.
    fn default() -> Self {
        StatementProgramOptions {
            mul: Arc::new(ModeMul::new(MulMode::Hinted(4)).expect("window 4 is supported")),
            commit: CommitMode::Direct,
            window_bits: DEFAULT_WINDOW_BITS,
        }
    }
}

/// The statement's verifier program for one deposit, with the prepared key the operator needs
/// for the residue witness.
#[derive(Debug, Clone)]
pub struct StatementProgram {
    /// The Groth16 verifier program.
    pub verifier: VerifierProgram,
    /// The prepared verifying key (lines of `-gamma`, `-delta`, `M_ab`).
    pub pvk: PreparedVerifyingKey,
    /// The deposit folded into the program (x6..x8).
    pub deposit: OutPoint,
}

/// How each public input enters the program for `deposit`: x0..x5, x9, x10 committed at their
/// span's width, x6..x8 fixed to the deposit's packing.
pub fn public_inputs_for(deposit: OutPoint) -> [PublicInput; NUM_PUBLIC_INPUTS] {
    // The deposit's packing does not depend on the other fields: any canonical claim on it.
    let probe = Claim {
        deposit,
        amount: bitcoin::Amount::ZERO,
        destination: ScriptBuf::from_bytes(vec![0x51]),
        payout_txid: bitcoin::hashes::Hash::all_zeros(),
        checkpoint: bitcoin::hashes::Hash::all_zeros(),
    };
    let x = probe.public_inputs().expect("a one-byte destination packs");
    core::array::from_fn(|i| {
        if FIXED_INPUTS.contains(&i) {
            PublicInput::Fixed(x[i])
        } else {
            PublicInput::Committed { bits: 8 * PUBLIC_INPUT_SPANS[i].1 as u32 }
        }
    })
}

/// Builds the Groth16 verifier program of the statement's verifying key `vk` for `deposit`
/// (see the module doc).
pub fn verifier_program(vk: &VerifyingKey<Bn254>, deposit: OutPoint, options: &StatementProgramOptions) -> Result<StatementProgram, StatementProgramError> {
    if vk.gamma_abc_g1.len() != NUM_PUBLIC_INPUTS + 1 {
        return Err(StatementProgramError::KeyInputs { got: vk.gamma_abc_g1.len().saturating_sub(1) });
    }
    let pvk = PreparedVerifyingKey::new(vk, options.window_bits).map_err(StatementProgramError::Key)?;
    let opts = ProgramOptions { mul: options.mul.clone(), commit: options.commit, public: public_inputs_for(deposit).to_vec() };
    let verifier = build(&pvk, &opts);
    Ok(StatementProgram { verifier, pvk, deposit })
}

/// The operator's assertion inputs for `proof` of `claim`: the proof points, the committed
/// public inputs and the residue witness. Refuses a claim on another deposit and a proof that
/// does not verify for the claim (no residue witness exists then).
pub fn program_inputs(sp: &StatementProgram, proof: &Proof<Bn254>, claim: &Claim) -> Result<Vec<Val>, StatementProgramError> {
    check_deposit(sp, claim)?;
    let f = miller_value(&sp.pvk, proof, &claim.public_inputs()?).map_err(StatementProgramError::Proof)?;
    let witness = ResidueWitness::compute(&f).map_err(|e| StatementProgramError::Proof(e.into()))?;
    program_inputs_with_witness(sp, proof, claim, &witness)
}

/// [`program_inputs`] with a given residue witness, whether or not it is the proof's (what an
/// operator asserting a proof that does not verify can at best do; the program's final claim
/// then fails).
pub fn program_inputs_with_witness(sp: &StatementProgram, proof: &Proof<Bn254>, claim: &Claim, witness: &ResidueWitness) -> Result<Vec<Val>, StatementProgramError> {
    check_deposit(sp, claim)?;
    Ok(sp.verifier.input_values(proof, &claim.public_inputs()?, witness)?)
}

fn check_deposit(sp: &StatementProgram, claim: &Claim) -> Result<(), StatementProgramError> {
    if claim.deposit != sp.deposit {
        return Err(StatementProgramError::Deposit { claim: claim.deposit, program: sp.deposit });
    }
    Ok(())
}

/// The fields the Kickoff commits for a statement claim (its deposit is the graph's).
pub fn kickoff_fields(claim: &Claim) -> ClaimFields {
    ClaimFields {
        payout_txid: claim.payout_txid,
        amount: claim.amount,
        destination: claim.destination.clone(),
        checkpoint: claim.checkpoint,
    }
}

/// A Kickoff claim field bound to the program input that carries the same public input.
#[derive(Debug, Clone)]
pub struct ClaimBinding {
    /// The field's index in the Kickoff's claim commitment (`0..CLAIM_FIELDS`).
    pub field: usize,
    /// The statement's public input it is (`x_input`).
    pub input: usize,
    /// The field's Kickoff key and the program commitment of the input.
    pub binding: Binding,
}

/// One binding per Kickoff claim field (x0..x5, x9, x10, in that order), for a program planned
/// as `plan` (whose commitment indices locate the committed public inputs).
pub fn claim_bindings(claim_key: &ClaimPublicKey, sp: &StatementProgram, plan: &Plan) -> Result<Vec<ClaimBinding>, StatementProgramError> {
    FIELD_INPUTS
        .iter()
        .enumerate()
        .map(|(field, &input)| {
            let value = sp
                .verifier
                .inputs
                .public
                .iter()
                .find(|(i, _)| *i == input)
                .map(|(_, v)| *v)
                .ok_or(StatementProgramError::NotCommitted { input })?;
            let commitment = plan.commitment_of(value).ok_or(StatementProgramError::NotCommitted { input })?;
            let claim_field = claim_key.field_keys()[field].clone();
            Ok(ClaimBinding { field, input, binding: Binding { claim_field, commitment } })
        })
        .collect()
}

/// The public-input binding leaves (x0..x5, x9, x10, in that order) of the program planned as
/// `plan` whose commitments the operator signs with `keys` (by commitment index, as
/// `Disprove::keys`); they go into the disprove tree beside the program's leaves (count them in
/// `ChunkLimits::other_leaves`).
pub fn binding_leaves_for(claim_key: &ClaimPublicKey, sp: &StatementProgram, plan: &Plan, keys: &[WotsPublicKey]) -> Result<Vec<ScriptBuf>, StatementProgramError> {
    if keys.len() != plan.commitments.len() {
        return Err(StatementProgramError::KeyCount { got: keys.len(), want: plan.commitments.len() });
    }
    claim_bindings(claim_key, sp, plan)?
        .iter()
        .map(|b| binding_leaf(&b.binding.claim_field, &keys[b.binding.commitment]).map_err(|source| StatementProgramError::Binding { field: b.field, source }))
        .collect()
}

/// A broken binding: which one (index into the bindings, as the leaves are ordered), the public
/// input, and the witness of its leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimBindingFault {
    /// Index of the binding (and of its leaf among [`binding_leaves_for`]).
    pub binding: usize,
    /// The statement's public input whose asserted value differs from the Kickoff's.
    pub input: usize,
    /// Witness of the binding leaf.
    pub witness: Vec<Vec<u8>>,
}

/// The verifier's binding search: the first claim field whose Kickoff message (from the
/// Kickoff's claim commitment items, `kickoff_items`, as [`ClaimPublicKey::field_witnesses`]
/// takes them) differs from the value asserted for its public input in `a`; `None` if every
/// asserted public input is the one the Kickoff committed.
pub fn find_claim_binding_fault(
    bindings: &[ClaimBinding],
    claim_key: &ClaimPublicKey,
    kickoff_items: &[Vec<u8>],
    a: &SignedAssertion,
) -> Result<Option<ClaimBindingFault>, StatementProgramError> {
    let per_field = claim_key.field_witnesses(kickoff_items)?;
    for (index, b) in bindings.iter().enumerate() {
        let items = per_field.get(b.field).ok_or(StatementProgramError::NoField { field: b.field })?.to_vec();
        match find_binding_fault(std::slice::from_ref(&b.binding), &[items], a) {
            Ok(None) => {}
            Ok(Some((_, witness))) => return Ok(Some(ClaimBindingFault { binding: index, input: b.input, witness })),
            Err(source) => return Err(StatementProgramError::Binding { field: b.field, source }),
        }
    }
    Ok(None)
}
