//! A tiny Groth16 circuit for tests and examples (included with `#[path]`, not a module of the
//! library): knows `a, b` with `a·b = x_1` and `x_k = a + k·b` for the other public inputs.

use ark_bn254::Fr;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable};

/// The witness `(a, b)` and the number of public inputs.
#[derive(Clone)]
pub struct TestCircuit {
    pub a: Fr,
    pub b: Fr,
    pub n_public: usize,
}

impl TestCircuit {
    /// The public inputs `x_1 .. x_n`.
    pub fn public_inputs(&self) -> Vec<Fr> {
        (1..=self.n_public).map(|k| if k == 1 { self.a * self.b } else { self.a + Fr::from(k as u64) * self.b }).collect()
    }
}

impl ConstraintSynthesizer<Fr> for TestCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let xs = self.public_inputs();
        let inputs: Vec<Variable> = xs.iter().map(|x| cs.new_input_variable(|| Ok(*x))).collect::<Result<_, _>>()?;
        let a = cs.new_witness_variable(|| Ok(self.a))?;
        let b = cs.new_witness_variable(|| Ok(self.b))?;
        cs.enforce_r1cs_constraint(|| a.into(), || b.into(), || inputs[0].into())?;
        for (k, x) in inputs.iter().enumerate().skip(1) {
            let k = Fr::from(k as u64 + 1);
            cs.enforce_r1cs_constraint(|| LinearCombination::from(a) + (k, b), || Variable::One.into(), || (*x).into())?;
        }
        Ok(())
    }
}
