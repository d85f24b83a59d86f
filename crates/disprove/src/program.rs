//! The program model: a verifier computation as a list of operations over typed values.
//!
//! A [`Program`] has input values (given by the operator, e.g. a proof), operations in
//! topological order (each reads operands and produces one new value) and claims (values that
//! must equal a constant for the statement to hold, e.g. "the pairing product is 1"). Every
//! operation has a native implementation (arkworks, the oracle) and a script implementation
//! (a [`Fragment`] over the limb representation of `bitvm2_script::arith`). The chunker
//! ([`crate::chunk`]) groups consecutive operations into steps; one disprove leaf per step.

use std::fmt;
use std::sync::Arc;

use ark_bn254::Fq;
use ark_ff::{BigInteger, PrimeField as _};
use bitvm2_script::arith::{bn254_fq, Layout, Nat, PrimeField};
use bitvm2_script::builder::Fragment;
use serde::{Deserialize, Serialize};

use crate::wots::WotsParams;

/// Index of a value in [`Program::values`].
pub type ValueId = usize;

/// A committed value as signed: a big-endian integer of the kind's width. It may be
/// non-canonical (e.g. `>= p`) when the operator cheats; leaves treat that as a fault.
pub type Committed = [u8; 32];

/// The type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValueKind {
    /// An element of the BN254 base field, committed as a 256-bit integer (64 digits).
    Fq,
}

impl ValueKind {
    /// Bits signed by the Winternitz commitment.
    pub fn commit_bits(&self) -> u32 {
        match self {
            ValueKind::Fq => 256,
        }
    }

    /// Winternitz parameters of a commitment of this kind.
    pub fn wots_params(&self) -> WotsParams {
        WotsParams::for_bits(self.commit_bits())
    }

    /// Limb layout a committed value is decoded into in script (all signable integers).
    pub fn decode_layout(&self) -> Layout {
        match self {
            ValueKind::Fq => Layout::new(256, field().layout().limb_bits),
        }
    }

    /// Whether a committed integer is a canonical value of this kind.
    pub fn is_canonical(&self, c: &Committed) -> bool {
        match self {
            ValueKind::Fq => fq_from_committed(c).is_some(),
        }
    }
}

/// The BN254 base field of `bitvm2_script` (29-bit limbs).
pub fn field() -> PrimeField {
    bn254_fq()
}

/// Canonical big-endian bytes of a field element.
pub fn fq_to_committed(x: &Fq) -> Committed {
    let b = x.into_bigint().to_bytes_be();
    let mut out = [0u8; 32];
    out[32 - b.len()..].copy_from_slice(&b);
    out
}

/// The field element of a committed integer, `None` unless it is `< p`.
pub fn fq_from_committed(c: &Committed) -> Option<Fq> {
    let x = Fq::from_be_bytes_mod_order(c);
    (fq_to_committed(&x) == *c).then_some(x)
}

/// A field element as a `bitvm2_script` natural number.
pub fn fq_to_nat(x: &Fq) -> Nat {
    Nat::from_be_bytes(&fq_to_committed(x))
}

/// Stack items of a field element in the field's limb layout (witness order).
pub fn fq_stack(x: &Fq) -> Vec<Vec<u8>> {
    field().to_stack(&fq_to_nat(x))
}

/// One operation: `k` field-element inputs to one field-element output.
pub trait Op: Send + Sync + fmt::Debug {
    /// Short name for tables and errors.
    fn name(&self) -> String;
    /// Number of inputs.
    fn arity(&self) -> usize;
    /// Native result (the reference).
    fn native(&self, inputs: &[Fq]) -> Fq;
    /// `[hints, in_0 .. in_{k-1}] -> [out]` over the field's limbs (`in_{k-1}` on top).
    fn script(&self) -> Fragment;
    /// Number of hint items the script expects under its inputs.
    fn hint_items(&self) -> usize {
        0
    }
    /// Hint items (deepest first) for these inputs.
    fn hints(&self, _inputs: &[Fq]) -> Vec<Vec<u8>> {
        Vec::new()
    }
}

/// An operand: a program value or a constant baked into the script.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A value of the program.
    Value(ValueId),
    /// A constant.
    Const(Fq),
}

/// An operation applied to operands, producing `out`.
#[derive(Debug, Clone)]
pub struct OpNode {
    /// The operation.
    pub op: Arc<dyn Op>,
    /// Its operands, `op.arity()` of them.
    pub args: Vec<Operand>,
    /// The value it produces.
    pub out: ValueId,
}

/// Where a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// A program input (given by the operator).
    Input,
    /// Produced by operation `i`.
    Op(usize),
}

/// Declaration of a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueDecl {
    /// Human-readable name.
    pub name: String,
    /// Its type.
    pub kind: ValueKind,
    /// Who produces it.
    pub source: Source,
}

/// Why a program is malformed or cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    /// An operation reads a value that is not defined before it.
    #[error("op {op} ({name}) reads value {value} before it is defined")]
    UseBeforeDef { op: usize, name: String, value: ValueId },
    /// Wrong number of operands.
    #[error("op {op} ({name}) takes {arity} operands, got {got}")]
    Arity { op: usize, name: String, arity: usize, got: usize },
    /// Wrong number of inputs given to `evaluate`.
    #[error("program has {expected} inputs, {got} given")]
    InputCount { expected: usize, got: usize },
    /// A value is produced twice or never.
    #[error("value {0} is not produced exactly once")]
    Production(ValueId),
}

/// A verifier computation.
#[derive(Debug, Clone)]
pub struct Program {
    /// Program name.
    pub name: String,
    /// All values.
    pub values: Vec<ValueDecl>,
    /// Input values, in the order `evaluate` takes them.
    pub inputs: Vec<ValueId>,
    /// Operations in topological order.
    pub ops: Vec<OpNode>,
    /// Values that must equal a constant for the statement to hold.
    pub claims: Vec<(ValueId, Fq)>,
}

impl Program {
    /// An empty program.
    pub fn new(name: impl Into<String>) -> Self {
        Program { name: name.into(), values: Vec::new(), inputs: Vec::new(), ops: Vec::new(), claims: Vec::new() }
    }

    /// Declare an input value.
    pub fn input(&mut self, name: impl Into<String>) -> ValueId {
        let id = self.values.len();
        self.values.push(ValueDecl { name: name.into(), kind: ValueKind::Fq, source: Source::Input });
        self.inputs.push(id);
        id
    }

    /// Append an operation; returns its output value.
    pub fn push_op(&mut self, name: impl Into<String>, op: Arc<dyn Op>, args: Vec<Operand>) -> ValueId {
        let id = self.values.len();
        self.values.push(ValueDecl { name: name.into(), kind: ValueKind::Fq, source: Source::Op(self.ops.len()) });
        self.ops.push(OpNode { op, args, out: id });
        id
    }

    /// Require `value == c` for the statement to hold.
    pub fn claim(&mut self, value: ValueId, c: Fq) {
        self.claims.push((value, c));
    }

    /// Check the structure: operands defined before use, arities, each value produced once.
    pub fn validate(&self) -> Result<(), ProgramError> {
        let mut defined = vec![false; self.values.len()];
        for &i in &self.inputs {
            defined[i] = true;
        }
        for (i, node) in self.ops.iter().enumerate() {
            if node.args.len() != node.op.arity() {
                return Err(ProgramError::Arity {
                    op: i,
                    name: node.op.name(),
                    arity: node.op.arity(),
                    got: node.args.len(),
                });
            }
            for a in &node.args {
                if let Operand::Value(v) = a {
                    if !defined.get(*v).copied().unwrap_or(false) {
                        return Err(ProgramError::UseBeforeDef { op: i, name: node.op.name(), value: *v });
                    }
                }
            }
            if defined[node.out] {
                return Err(ProgramError::Production(node.out));
            }
            defined[node.out] = true;
        }
        match defined.iter().position(|d| !d) {
            Some(v) => Err(ProgramError::Production(v)),
            None => Ok(()),
        }
    }

    /// Evaluate natively: every value of the program.
    pub fn evaluate(&self, inputs: &[Fq]) -> Result<Vec<Fq>, ProgramError> {
        self.validate()?;
        if inputs.len() != self.inputs.len() {
            return Err(ProgramError::InputCount { expected: self.inputs.len(), got: inputs.len() });
        }
        let mut vals = vec![Fq::from(0u64); self.values.len()];
        for (&id, x) in self.inputs.iter().zip(inputs) {
            vals[id] = *x;
        }
        for node in &self.ops {
            let args = self.operands(node, &vals);
            vals[node.out] = node.op.native(&args);
        }
        Ok(vals)
    }

    /// The operand values of `node` given all values.
    pub fn operands(&self, node: &OpNode, vals: &[Fq]) -> Vec<Fq> {
        node.args
            .iter()
            .map(|a| match a {
                Operand::Value(v) => vals[*v],
                Operand::Const(c) => *c,
            })
            .collect()
    }

    /// Whether all claims hold for these values.
    pub fn claims_hold(&self, vals: &[Fq]) -> bool {
        self.claims.iter().all(|(v, c)| vals[*v] == *c)
    }
}
