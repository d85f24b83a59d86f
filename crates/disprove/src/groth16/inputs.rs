//! Loading a Groth16/BN254 verifying key, proof and public inputs.
//!
//! Two encodings:
//! - arkworks' `CanonicalSerialize`, compressed or uncompressed, read with full validation
//!   (on curve, prime-order subgroup, canonical field elements) and no trailing bytes;
//! - the JSON that snarkjs/circom emit (`verification_key.json`, `proof.json`, `public.json`).
//!
//! snarkjs JSON conventions (checked against the BN254 G2 generator, which snarkjs uses as
//! `vk_gamma_2`: its first pair is `[X_C0, X_C1]` of arkworks' `G2_GENERATOR_X`):
//! - numbers are decimal strings;
//! - G1 points are `[x, y, z]` with `z = "1"` (affine; the point at infinity `["0","1","0"]` is
//!   rejected);
//! - G2 points are `[[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]]` where an `Fq2` element is
//!   `c0 + c1·u` — the same order as arkworks' `Fq2::new(c0, c1)`. (Only the Solidity
//!   calldata export of snarkjs swaps to `[c1, c0]`, for the EVM precompile; the JSON files do not.)
//! - `public.json` is an array of decimal strings, each below the scalar field order r.
//!
//! Every rejection names the offending field (e.g. `vk_beta_2[0][1]`, `IC[2]`, `public[0]`).

use ark_bn254::{Bn254, Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use serde_json::{json, Value};

/// Why an input was rejected; `field` names the JSON path or the object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("{what}: not valid JSON: {reason}")]
    Json { what: &'static str, reason: String },
    #[error("{field}: {reason}")]
    Shape { field: String, reason: String },
    #[error("{field}: {value:?} is not a canonical decimal string")]
    NotDecimal { field: String, value: String },
    #[error("{field}: coordinate is not below the base field modulus p")]
    CoordinateNotCanonical { field: String },
    #[error("{field}: scalar is not below the group order r")]
    ScalarNotCanonical { field: String },
    #[error("{field}: point is not on the curve")]
    NotOnCurve { field: String },
    #[error("{field}: G2 point is not in the prime-order subgroup")]
    NotInSubgroup { field: String },
    #[error("{field}: point at infinity is not supported")]
    Infinity { field: String },
    #[error("{field}: projective z must be \"1\" (affine form)")]
    NotAffine { field: String },
    #[error("{field}: is {got:?}, expected {expected:?}")]
    WrongTag {
        field: String,
        expected: &'static str,
        got: String,
    },
    #[error("{field}: expected {expected} public inputs, got {got}")]
    WrongInputCount {
        field: String,
        expected: usize,
        got: usize,
    },
    #[error("{what}: arkworks deserialization failed: {reason}")]
    Serialization { what: &'static str, reason: String },
    #[error("{what}: {extra} trailing bytes after the encoding")]
    TrailingBytes { what: &'static str, extra: usize },
}

/// A verifying key, a proof and its public inputs, checked against each other.
#[derive(Clone, Debug, PartialEq)]
pub struct Groth16Instance {
    pub vk: VerifyingKey<Bn254>,
    pub proof: Proof<Bn254>,
    pub public_inputs: Vec<Fr>,
}

impl Groth16Instance {
    /// Checks the input count (`IC.len() = n + 1`) and that no point is the identity.
    pub fn new(
        vk: VerifyingKey<Bn254>,
        proof: Proof<Bn254>,
        public_inputs: Vec<Fr>,
    ) -> Result<Self, InputError> {
        check_vk_points(&vk)?;
        check_proof_points(&proof)?;
        let expected = vk.gamma_abc_g1.len().saturating_sub(1);
        if public_inputs.len() != expected {
            return Err(InputError::WrongInputCount {
                field: "public".into(),
                expected,
                got: public_inputs.len(),
            });
        }
        Ok(Groth16Instance {
            vk,
            proof,
            public_inputs,
        })
    }
}

fn check_vk_points(vk: &VerifyingKey<Bn254>) -> Result<(), InputError> {
    let inf = |f: &str| Err(InputError::Infinity { field: f.into() });
    if vk.alpha_g1.is_zero() {
        return inf("vk_alpha_1");
    }
    for (name, p) in [
        ("vk_beta_2", vk.beta_g2),
        ("vk_gamma_2", vk.gamma_g2),
        ("vk_delta_2", vk.delta_g2),
    ] {
        if p.is_zero() {
            return inf(name);
        }
    }
    if vk.gamma_abc_g1.is_empty() {
        return Err(InputError::Shape {
            field: "IC".into(),
            reason: "empty".into(),
        });
    }
    if let Some(i) = vk.gamma_abc_g1.iter().position(|p| p.is_zero()) {
        return inf(&format!("IC[{i}]"));
    }
    Ok(())
}

fn check_proof_points(proof: &Proof<Bn254>) -> Result<(), InputError> {
    for (name, zero) in [
        ("pi_a", proof.a.is_zero()),
        ("pi_b", proof.b.is_zero()),
        ("pi_c", proof.c.is_zero()),
    ] {
        if zero {
            return Err(InputError::Infinity { field: name.into() });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- arkworks serialization

fn ark_read<T: CanonicalDeserialize>(
    what: &'static str,
    bytes: &[u8],
    compress: Compress,
) -> Result<T, InputError> {
    let mut reader = bytes;
    let v = T::deserialize_with_mode(&mut reader, compress, Validate::Yes).map_err(|e| {
        InputError::Serialization {
            what,
            reason: e.to_string(),
        }
    })?;
    if !reader.is_empty() {
        return Err(InputError::TrailingBytes {
            what,
            extra: reader.len(),
        });
    }
    Ok(v)
}

fn ark_write<T: CanonicalSerialize>(v: &T, compress: Compress) -> Vec<u8> {
    let mut out = Vec::new();
    v.serialize_with_mode(&mut out, compress)
        .expect("writing to a Vec cannot fail");
    out
}

/// Reads an arkworks-serialized verifying key (validated).
pub fn vk_from_arkworks(
    bytes: &[u8],
    compress: Compress,
) -> Result<VerifyingKey<Bn254>, InputError> {
    let vk: VerifyingKey<Bn254> = ark_read("verifying key", bytes, compress)?;
    check_vk_points(&vk)?;
    Ok(vk)
}

/// Reads an arkworks-serialized proof (validated).
pub fn proof_from_arkworks(bytes: &[u8], compress: Compress) -> Result<Proof<Bn254>, InputError> {
    let proof: Proof<Bn254> = ark_read("proof", bytes, compress)?;
    check_proof_points(&proof)?;
    Ok(proof)
}

/// Reads arkworks-serialized public inputs (`Vec<Fr>`: u64 length, then the scalars).
pub fn public_inputs_from_arkworks(
    bytes: &[u8],
    compress: Compress,
) -> Result<Vec<Fr>, InputError> {
    ark_read("public inputs", bytes, compress)
}

pub fn vk_to_arkworks(vk: &VerifyingKey<Bn254>, compress: Compress) -> Vec<u8> {
    ark_write(vk, compress)
}

pub fn proof_to_arkworks(proof: &Proof<Bn254>, compress: Compress) -> Vec<u8> {
    ark_write(proof, compress)
}

pub fn public_inputs_to_arkworks(inputs: &[Fr], compress: Compress) -> Vec<u8> {
    ark_write(&inputs.to_vec(), compress)
}

// ---------------------------------------------------------------- snarkjs JSON: parsing

fn parse_json(what: &'static str, text: &str) -> Result<Value, InputError> {
    serde_json::from_str(text).map_err(|e| InputError::Json {
        what,
        reason: e.to_string(),
    })
}

fn shape(field: &str, reason: &str) -> InputError {
    InputError::Shape {
        field: field.into(),
        reason: reason.into(),
    }
}

fn get<'a>(obj: &'a Value, key: &str) -> Result<&'a Value, InputError> {
    obj.get(key).ok_or_else(|| shape(key, "missing"))
}

fn array<'a>(v: &'a Value, field: &str, len: Option<usize>) -> Result<&'a [Value], InputError> {
    let a = v.as_array().ok_or_else(|| shape(field, "not an array"))?;
    if let Some(n) = len {
        if a.len() != n {
            return Err(shape(
                field,
                &format!("expected {n} elements, got {}", a.len()),
            ));
        }
    }
    Ok(a)
}

/// A canonical decimal string (digits only, no sign, no leading zero) below 2^256.
fn decimal(v: &Value, field: &str) -> Result<BigInt<4>, InputError> {
    let s = v.as_str().ok_or_else(|| shape(field, "not a string"))?;
    let bad = || InputError::NotDecimal {
        field: field.into(),
        value: s.chars().take(90).collect(),
    };
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(bad());
    }
    let mut limbs = [0u64; 4];
    for b in s.bytes() {
        let mut carry = (b - b'0') as u128;
        for l in limbs.iter_mut() {
            let t = *l as u128 * 10 + carry;
            *l = t as u64;
            carry = t >> 64;
        }
        if carry != 0 {
            return Err(InputError::CoordinateNotCanonical {
                field: field.into(),
            });
        }
    }
    Ok(BigInt::new(limbs))
}

fn fq(v: &Value, field: &str) -> Result<Fq, InputError> {
    Fq::from_bigint(decimal(v, field)?).ok_or_else(|| InputError::CoordinateNotCanonical {
        field: field.into(),
    })
}

fn fr(v: &Value, field: &str) -> Result<Fr, InputError> {
    let b = decimal(v, field).map_err(|e| match e {
        InputError::CoordinateNotCanonical { field } => InputError::ScalarNotCanonical { field },
        e => e,
    })?;
    Fr::from_bigint(b).ok_or_else(|| InputError::ScalarNotCanonical {
        field: field.into(),
    })
}

fn fq2(v: &Value, field: &str) -> Result<Fq2, InputError> {
    let a = array(v, field, Some(2))?;
    Ok(Fq2::new(
        fq(&a[0], &format!("{field}[0]"))?,
        fq(&a[1], &format!("{field}[1]"))?,
    ))
}

fn g1(v: &Value, field: &str) -> Result<G1Affine, InputError> {
    let a = array(v, field, Some(3))?;
    let (x, y, z) = (
        fq(&a[0], &format!("{field}[0]"))?,
        fq(&a[1], &format!("{field}[1]"))?,
        fq(&a[2], &format!("{field}[2]"))?,
    );
    if z.is_zero() {
        return Err(InputError::Infinity {
            field: field.into(),
        });
    }
    if z != Fq::from(1u64) {
        return Err(InputError::NotAffine {
            field: field.into(),
        });
    }
    let p = G1Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(InputError::NotOnCurve {
            field: field.into(),
        });
    }
    // G1 of BN254 has cofactor 1: on the curve means in the subgroup.
    Ok(p)
}

fn g2(v: &Value, field: &str) -> Result<G2Affine, InputError> {
    let a = array(v, field, Some(3))?;
    let x = fq2(&a[0], &format!("{field}[0]"))?;
    let y = fq2(&a[1], &format!("{field}[1]"))?;
    let z = fq2(&a[2], &format!("{field}[2]"))?;
    if z.is_zero() {
        return Err(InputError::Infinity {
            field: field.into(),
        });
    }
    if z != Fq2::from(1u64) {
        return Err(InputError::NotAffine {
            field: field.into(),
        });
    }
    let p = G2Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(InputError::NotOnCurve {
            field: field.into(),
        });
    }
    if !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(InputError::NotInSubgroup {
            field: field.into(),
        });
    }
    Ok(p)
}

fn tag(obj: &Value, key: &str, expected: &'static str, required: bool) -> Result<(), InputError> {
    match obj.get(key) {
        None if !required => Ok(()),
        None => Err(shape(key, "missing")),
        Some(v) => match v.as_str() {
            Some(s) if s == expected => Ok(()),
            _ => Err(InputError::WrongTag {
                field: key.into(),
                expected,
                got: v.to_string(),
            }),
        },
    }
}

/// Parses snarkjs' `verification_key.json` (protocol "groth16", curve "bn128").
pub fn vk_from_snarkjs_json(text: &str) -> Result<VerifyingKey<Bn254>, InputError> {
    let v = parse_json("verification key", text)?;
    tag(&v, "protocol", "groth16", true)?;
    tag(&v, "curve", "bn128", true)?;
    let n_public = get(&v, "nPublic")?
        .as_u64()
        .ok_or_else(|| shape("nPublic", "not a non-negative integer"))? as usize;
    let ic_values = array(get(&v, "IC")?, "IC", None)?;
    if ic_values.len() != n_public + 1 {
        return Err(InputError::WrongInputCount {
            field: "IC".into(),
            expected: n_public + 1,
            got: ic_values.len(),
        });
    }
    let vk = VerifyingKey {
        alpha_g1: g1(get(&v, "vk_alpha_1")?, "vk_alpha_1")?,
        beta_g2: g2(get(&v, "vk_beta_2")?, "vk_beta_2")?,
        gamma_g2: g2(get(&v, "vk_gamma_2")?, "vk_gamma_2")?,
        delta_g2: g2(get(&v, "vk_delta_2")?, "vk_delta_2")?,
        gamma_abc_g1: ic_values
            .iter()
            .enumerate()
            .map(|(i, p)| g1(p, &format!("IC[{i}]")))
            .collect::<Result<_, _>>()?,
    };
    Ok(vk)
}

/// Parses snarkjs' `proof.json` ("protocol"/"curve" are checked when present).
pub fn proof_from_snarkjs_json(text: &str) -> Result<Proof<Bn254>, InputError> {
    let v = parse_json("proof", text)?;
    tag(&v, "protocol", "groth16", false)?;
    tag(&v, "curve", "bn128", false)?;
    Ok(Proof {
        a: g1(get(&v, "pi_a")?, "pi_a")?,
        b: g2(get(&v, "pi_b")?, "pi_b")?,
        c: g1(get(&v, "pi_c")?, "pi_c")?,
    })
}

/// Parses snarkjs' `public.json`; `expected` is the verifying key's `nPublic`.
pub fn public_from_snarkjs_json(text: &str, expected: usize) -> Result<Vec<Fr>, InputError> {
    let v = parse_json("public inputs", text)?;
    let a = array(&v, "public", None)?;
    if a.len() != expected {
        return Err(InputError::WrongInputCount {
            field: "public".into(),
            expected,
            got: a.len(),
        });
    }
    a.iter()
        .enumerate()
        .map(|(i, x)| fr(x, &format!("public[{i}]")))
        .collect()
}

/// Parses all three snarkjs files and checks them against each other.
pub fn instance_from_snarkjs_json(
    vk: &str,
    proof: &str,
    public: &str,
) -> Result<Groth16Instance, InputError> {
    let vk = vk_from_snarkjs_json(vk)?;
    let proof = proof_from_snarkjs_json(proof)?;
    let inputs = public_from_snarkjs_json(public, vk.gamma_abc_g1.len() - 1)?;
    Groth16Instance::new(vk, proof, inputs)
}

// ---------------------------------------------------------------- snarkjs JSON: writing

fn dec<F: PrimeField>(x: F) -> Value {
    Value::String(x.into_bigint().to_string())
}

fn g1_json(p: &G1Affine) -> Value {
    json!([dec(p.x), dec(p.y), "1"])
}

fn g2_json(p: &G2Affine) -> Value {
    json!([
        [dec(p.x.c0), dec(p.x.c1)],
        [dec(p.y.c0), dec(p.y.c1)],
        ["1", "0"]
    ])
}

/// Writes a verifying key in snarkjs' format (without `vk_alphabeta_12`, which we do not use).
pub fn vk_to_snarkjs_json(vk: &VerifyingKey<Bn254>) -> Value {
    json!({
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.gamma_abc_g1.len().saturating_sub(1),
        "vk_alpha_1": g1_json(&vk.alpha_g1),
        "vk_beta_2": g2_json(&vk.beta_g2),
        "vk_gamma_2": g2_json(&vk.gamma_g2),
        "vk_delta_2": g2_json(&vk.delta_g2),
        "IC": vk.gamma_abc_g1.iter().map(g1_json).collect::<Vec<_>>(),
    })
}

/// Writes a proof in snarkjs' format.
pub fn proof_to_snarkjs_json(proof: &Proof<Bn254>) -> Value {
    json!({
        "pi_a": g1_json(&proof.a),
        "pi_b": g2_json(&proof.b),
        "pi_c": g1_json(&proof.c),
        "protocol": "groth16",
        "curve": "bn128",
    })
}

/// Writes public inputs as snarkjs' `public.json`.
pub fn public_to_snarkjs_json(inputs: &[Fr]) -> Value {
    Value::Array(inputs.iter().map(|x| dec(*x)).collect())
}
