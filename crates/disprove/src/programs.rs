//! Concrete programs. The first real one: "x is a root of P", a Horner evaluation of a
//! fixed polynomial over the BN254 base field, one multiply-add per coefficient.
//!
//! It stands in for the Groth16 verifier until that lands: the operator's input `x` plays the
//! proof, the polynomial plays the verifying key (constants baked into the scripts), the
//! Horner accumulators are the intermediate values, and the claim `P(x) = 0` plays the final
//! pairing check.

use std::sync::Arc;

use ark_bn254::Fq;
use ark_ff::{Field, PrimeField as _, Zero};
use bitcoin::hashes::{sha256, Hash};
use bitvm2_script::arith::FieldError;
use bitvm2_script::builder::Fragment;

use crate::program::{field, fq_stack, fq_to_nat, Op, Operand, Program};

/// How a multiplication mod p is done in script (see `bitvm2_script::arith::field`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum MulMode {
    /// Windowed double-and-add, reduced at every step, no hints; window in bits.
    Windowed(u32),
    /// Windowed with per-window quotient hints from the witness; window in bits.
    Hinted(u32),
}

impl std::fmt::Display for MulMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MulMode::Windowed(w) => write!(f, "windowed w={w}"),
            MulMode::Hinted(w) => write!(f, "hinted w={w}"),
        }
    }
}

impl MulMode {
    /// The multiplication fragment `[(hints) A B] -> [A*B mod p]`.
    pub fn fragment(&self) -> Result<Fragment, FieldError> {
        match *self {
            MulMode::Windowed(w) => field().mul_windowed(w),
            MulMode::Hinted(w) => field().mul_hinted(w),
        }
    }
}

/// `[A B] -> [A*B + c mod p]`.
#[derive(Debug, Clone)]
pub struct MulAdd {
    /// The constant added.
    pub c: Fq,
    /// How the product is computed.
    pub mode: MulMode,
    mul: Arc<Fragment>,
    hint_count: usize,
}

impl MulAdd {
    /// A multiply-add; fails if the multiplication mode is not available.
    pub fn new(c: Fq, mode: MulMode) -> Result<Self, FieldError> {
        let hint_count = match mode {
            MulMode::Windowed(_) => 0,
            MulMode::Hinted(w) => field().mul_hint_count(w)?,
        };
        Ok(MulAdd { c, mode, mul: Arc::new(mode.fragment()?), hint_count })
    }

    /// Same mode, other constant, sharing the multiplication fragment.
    pub fn with_const(&self, c: Fq) -> Self {
        MulAdd { c, mode: self.mode, mul: self.mul.clone(), hint_count: self.hint_count }
    }
}

impl Op for MulAdd {
    fn name(&self) -> String {
        format!("muladd ({})", self.mode)
    }
    fn arity(&self) -> usize {
        2
    }
    fn native(&self, x: &[Fq]) -> Fq {
        x[0] * x[1] + self.c
    }
    fn script(&self) -> Fragment {
        let mut f = (*self.mul).clone();
        if !self.c.is_zero() {
            let fld = field();
            f = f.append(&fld.layout().push(&fq_to_nat(&self.c))).append(&fld.add());
        }
        f
    }
    fn hint_items(&self) -> usize {
        self.hint_count
    }
    fn hints(&self, x: &[Fq]) -> Vec<Vec<u8>> {
        match self.mode {
            MulMode::Windowed(_) => Vec::new(),
            MulMode::Hinted(w) => field()
                .mul_hints(&fq_to_nat(&x[0]), &fq_to_nat(&x[1]), w)
                .expect("window validated when the op was made"),
        }
    }
}

/// Deterministic field element from a label (for test polynomials and roots).
pub fn fq_from_label(label: &str, i: u64) -> Fq {
    let mut data = label.as_bytes().to_vec();
    data.extend_from_slice(&i.to_le_bytes());
    Fq::from_be_bytes_mod_order(&sha256::Hash::hash(&data).to_byte_array())
}

/// The polynomial `P(X) = (X - r) * Q(X)` of the given degree with `Q` pseudo-random from
/// `seed`; coefficients lowest degree first, and the root `r`.
pub fn poly_with_root(degree: usize, seed: &str) -> (Vec<Fq>, Fq) {
    assert!(degree >= 1);
    let r = fq_from_label(seed, u64::MAX);
    let mut q: Vec<Fq> = (0..degree as u64).map(|i| fq_from_label(seed, i)).collect();
    if q[degree - 1].is_zero() {
        q[degree - 1] = Fq::ONE;
    }
    // (X - r) Q = X Q - r Q
    let mut p = vec![Fq::zero(); degree + 1];
    for (i, qi) in q.iter().enumerate() {
        p[i + 1] += qi;
        p[i] -= r * qi;
    }
    (p, r)
}

/// The first real program: Horner evaluation of `P` at the input `x`, claim `P(x) = 0`.
/// One multiply-add per coefficient below the leading one (`degree` operations).
pub fn root_program(degree: usize, seed: &str, mode: MulMode) -> Result<(Program, Fq), FieldError> {
    let (p, r) = poly_with_root(degree, seed);
    let proto = MulAdd::new(Fq::zero(), mode)?;
    let mut prog = Program::new(format!("root-of-poly(deg {degree}, {mode})"));
    let x = prog.input("x");
    let mut acc = Operand::Const(p[degree]);
    let mut last = x;
    for k in (0..degree).rev() {
        last = prog.push_op(format!("acc{}", degree - k), Arc::new(proto.with_const(p[k])), vec![acc, Operand::Value(x)]);
        acc = Operand::Value(last);
    }
    prog.claim(last, Fq::zero());
    Ok((prog, r))
}

/// Stack items of an op's inputs (test helper): hints then inputs.
pub fn op_stack(op: &dyn Op, inputs: &[Fq]) -> Vec<Vec<u8>> {
    let mut s = op.hints(inputs);
    for x in inputs {
        s.extend(fq_stack(x));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitvm2_script::exec::{execute, ExecOptions};
    use proptest::prelude::*;

    fn horner(p: &[Fq], x: Fq) -> Fq {
        p.iter().rev().fold(Fq::zero(), |acc, c| acc * x + c)
    }

    #[test]
    fn poly_has_its_root_and_program_evaluates_it() {
        let (p, r) = poly_with_root(12, "t");
        assert_eq!(horner(&p, r), Fq::zero());
        assert_ne!(horner(&p, r + Fq::ONE), Fq::zero());
        let (prog, root) = root_program(12, "t", MulMode::Windowed(3)).unwrap();
        assert_eq!(root, r);
        let vals = prog.evaluate(&[r]).unwrap();
        assert!(prog.claims_hold(&vals));
        let bad = prog.evaluate(&[r + Fq::ONE]).unwrap();
        assert!(!prog.claims_hold(&bad));
        assert_eq!(bad[*prog.ops.last().map(|n| &n.out).unwrap()], horner(&p, r + Fq::ONE));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(6))]
        #[test]
        fn muladd_script_matches_arkworks(a in any::<u64>(), b in any::<u64>(), c in any::<u64>(), hinted in any::<bool>()) {
            let (a, b, c) = (fq_from_label("a", a), fq_from_label("b", b), fq_from_label("c", c));
            let mode = if hinted { MulMode::Hinted(3) } else { MulMode::Windowed(3) };
            let op = MulAdd::new(c, mode).unwrap();
            let r = execute(&op.script().into_script(), &op_stack(&op, &[a, b]), &ExecOptions::default());
            prop_assert!(r.outcome.is_ok(), "{:?}", r.outcome);
            prop_assert_eq!(r.final_stack, fq_stack(&(a * b + c)));
        }
    }
}
