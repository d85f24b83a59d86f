//! Groth16 over BN254 for the statement circuit: key setup, key files cached by the circuit's
//! content hash, proving and verification.

use std::fs;
use std::path::{Path, PathBuf};

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_snark::SNARK;
use ark_std::rand::{CryptoRng, RngCore};

use crate::circuit::StatementCircuit;
use crate::claim::{Claim, NUM_PUBLIC_INPUTS};
use crate::params::StatementParams;
use crate::witness::StatementWitness;
use crate::StatementError;

/// A proving key and its verifying key.
#[derive(Clone)]
pub struct StatementKeys {
    /// For the operator.
    pub pk: ProvingKey<Bn254>,
    /// For the disprove program and anyone checking a proof.
    pub vk: VerifyingKey<Bn254>,
}

/// Where the key files of a parameter set live, and whether this call created them.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    /// `statement-<id>.pk` (uncompressed arkworks encoding).
    pub pk_path: PathBuf,
    /// `statement-<id>.vk` (compressed arkworks encoding).
    pub vk_path: PathBuf,
    /// True if the keys were generated now, false if they were read from the files.
    pub created: bool,
}

/// Runs `f` (a circuit synthesis) with no tracing subscriber on this thread.
///
/// ark-r1cs-std instruments its gadgets with spans (target `gr1cs`) whose fields are the
/// gadgets' arguments, and an allocated variable's `Debug` prints the whole constraint system.
/// Under a recording subscriber (the daemons' log) every gadget call formats it, so a proof
/// that takes seconds takes hours. Synthesis runs on the calling thread; rayon's workers only
/// do the arithmetic afterwards, which is not instrumented.
fn untraced<T>(f: impl FnOnce() -> T) -> T {
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), f)
}

/// Generates fresh keys for `params` (the randomness is toxic waste: use a CSPRNG and drop it).
pub fn setup<R: RngCore + CryptoRng>(params: &StatementParams, rng: &mut R) -> Result<StatementKeys, StatementError> {
    params.validate()?;
    let circuit = StatementCircuit { params: params.clone(), witness: None };
    let (pk, vk) = untraced(|| Groth16::<Bn254>::circuit_specific_setup(circuit, rng))?;
    Ok(StatementKeys { pk, vk })
}

/// Proves `witness` (checked natively first, so a bad claim gets a named error).
pub fn prove<R: RngCore + CryptoRng>(
    pk: &ProvingKey<Bn254>,
    params: &StatementParams,
    witness: &StatementWitness,
    rng: &mut R,
) -> Result<Proof<Bn254>, StatementError> {
    witness.check(params)?;
    let circuit = StatementCircuit { params: params.clone(), witness: Some(witness.clone()) };
    Ok(untraced(|| Groth16::<Bn254>::prove(pk, circuit, rng))?)
}

/// Verifies a proof for the public inputs `x0..x10` (as [`Claim::public_inputs`] gives them).
/// A vector of the wrong length, or a key for another number of inputs, is an error; inputs
/// that are not a canonical claim simply do not verify (the circuit cannot be satisfied by
/// them).
pub fn verify(vk: &VerifyingKey<Bn254>, public_inputs: &[Fr], proof: &Proof<Bn254>) -> Result<bool, StatementError> {
    if public_inputs.len() != NUM_PUBLIC_INPUTS {
        return Err(StatementError::PublicInputCount { got: public_inputs.len(), want: NUM_PUBLIC_INPUTS });
    }
    if vk.gamma_abc_g1.len() != NUM_PUBLIC_INPUTS + 1 {
        return Err(StatementError::PublicInputCount { got: public_inputs.len(), want: vk.gamma_abc_g1.len().saturating_sub(1) });
    }
    let pvk: PreparedVerifyingKey<Bn254> = ark_groth16::prepare_verifying_key(vk);
    Ok(Groth16::<Bn254>::verify_with_processed_vk(&pvk, public_inputs, proof)?)
}

/// Verifies a proof for `claim` (its public inputs per [`Claim::public_inputs`]).
pub fn verify_claim(vk: &VerifyingKey<Bn254>, claim: &Claim, proof: &Proof<Bn254>) -> Result<bool, StatementError> {
    verify(vk, &claim.public_inputs()?, proof)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StatementError> {
    let tmp = path.with_extension("tmp");
    let io = |source| StatementError::Io { path: path.to_path_buf(), source };
    fs::write(&tmp, bytes).map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

/// Reads a key. The verifying key (small, and what verifiers trust) is compressed and fully
/// validated; the proving key (large, used only by the operator that generated it, and a bad one
/// can only yield proofs that fail to verify) is uncompressed and read without the subgroup
/// checks, which would otherwise dominate loading.
fn read_key<T: CanonicalDeserialize>(path: &Path, checked_compressed: bool) -> Result<T, StatementError> {
    let bytes = fs::read(path).map_err(|source| StatementError::Io { path: path.to_path_buf(), source })?;
    let r = if checked_compressed {
        T::deserialize_compressed(&bytes[..])
    } else {
        T::deserialize_uncompressed_unchecked(&bytes[..])
    };
    r.map_err(|e| StatementError::KeyEncoding { path: path.to_path_buf(), detail: e.to_string() })
}

/// The key file paths for `params` in `dir`.
pub fn key_paths(dir: &Path, params: &StatementParams) -> (PathBuf, PathBuf) {
    let id = params.id();
    (dir.join(format!("statement-{id}.pk")), dir.join(format!("statement-{id}.vk")))
}

/// Reads the verifying key for `params` from `dir` (checked: it is small, and a corrupt file is
/// named).
pub fn load_vk(dir: &Path, params: &StatementParams) -> Result<VerifyingKey<Bn254>, StatementError> {
    read_key(&key_paths(dir, params).1, true)
}

/// Reads the proving key for `params` from `dir` (unchecked: the file is the operator's own).
pub fn load_pk(dir: &Path, params: &StatementParams) -> Result<ProvingKey<Bn254>, StatementError> {
    read_key(&key_paths(dir, params).0, false)
}

/// Reads the keys for `params` from `dir`, or generates and writes them once if absent
/// (idempotent: an existing pair is never regenerated).
pub fn load_or_setup<R: RngCore + CryptoRng>(
    dir: &Path,
    params: &StatementParams,
    rng: &mut R,
) -> Result<(StatementKeys, KeyFiles), StatementError> {
    let (pk_path, vk_path) = key_paths(dir, params);
    if pk_path.exists() && vk_path.exists() {
        let keys = StatementKeys { pk: read_key(&pk_path, false)?, vk: read_key(&vk_path, true)? };
        return Ok((keys, KeyFiles { pk_path, vk_path, created: false }));
    }
    fs::create_dir_all(dir).map_err(|source| StatementError::Io { path: dir.to_path_buf(), source })?;
    let keys = setup(params, rng)?;
    let enc = |k: &dyn Fn(&mut Vec<u8>) -> Result<(), ark_serialize::SerializationError>, p: &Path| {
        let mut v = Vec::new();
        k(&mut v).map_err(|e| StatementError::KeyEncoding { path: p.to_path_buf(), detail: e.to_string() })?;
        Ok::<_, StatementError>(v)
    };
    let pk_bytes = enc(&|v| keys.pk.serialize_uncompressed(v), &pk_path)?;
    let vk_bytes = enc(&|v| keys.vk.serialize_compressed(v), &vk_path)?;
    // vk last: its presence with the pk marks a complete pair.
    write_atomic(&pk_path, &pk_bytes)?;
    write_atomic(&vk_path, &vk_bytes)?;
    Ok((keys, KeyFiles { pk_path, vk_path, created: true }))
}
