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
use bitvm2_script::hash::blake3_native;
use serde::{Deserialize, Serialize};

use crate::wots::WotsParams;

/// Index of a value in [`Program::values`].
pub type ValueId = usize;

/// A committed value as signed: big-endian bytes (`32 * elems` for a direct commitment, the
/// digest for a hashed one). It may be non-canonical (an element `>= p`) when the operator
/// cheats; leaves treat that as a fault.
pub type Committed = Vec<u8>;

/// A native value: one or more field elements.
pub type Val = Vec<Fq>;

/// How a value is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CommitMode {
    /// Winternitz signature of the value itself (256 bits per element).
    Direct,
    /// Winternitz signature of BLAKE3(value) truncated to `bytes` bytes; leaves that read the
    /// value get it in the witness and check its hash, leaves that write it hash the result.
    Hash {
        /// Digest length in bytes.
        bytes: usize,
    },
}

/// The type of a value: a vector of BN254 base-field elements and how it is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ValueKind {
    /// Number of field elements.
    pub elems: usize,
    /// Commitment.
    pub commit: CommitMode,
}

impl ValueKind {
    /// One field element, committed directly.
    pub const FQ: ValueKind = ValueKind { elems: 1, commit: CommitMode::Direct };

    /// Bytes of the committed message.
    pub fn committed_len(&self) -> usize {
        match self.commit {
            CommitMode::Direct => 32 * self.elems,
            CommitMode::Hash { bytes } => bytes,
        }
    }

    /// Bits signed by the Winternitz commitment.
    pub fn commit_bits(&self) -> u32 {
        8 * self.committed_len() as u32
    }

    /// Winternitz parameters of a commitment of this kind.
    pub fn wots_params(&self) -> WotsParams {
        WotsParams::for_bits(self.commit_bits())
    }

    /// Limbs of the value on the stack.
    pub fn limbs(&self) -> usize {
        self.elems * field().layout().limbs()
    }

    /// Limb layout one committed element is decoded into in script (all signable integers).
    pub fn decode_layout() -> Layout {
        Layout::new(256, field().layout().limb_bits)
    }

    /// The committed message of a (canonical) value.
    pub fn commit_native(&self, v: &[Fq]) -> Committed {
        assert_eq!(v.len(), self.elems, "value has the kind's element count");
        let bytes: Vec<u8> = v.iter().flat_map(fq_to_committed).collect();
        match self.commit {
            CommitMode::Direct => bytes,
            CommitMode::Hash { bytes: n } => {
                blake3_native(&bytes).expect("value fits one BLAKE3 chunk")[..n].to_vec()
            }
        }
    }

    /// The elements of a direct commitment, `None` unless every element is canonical.
    pub fn decode_direct(&self, c: &[u8]) -> Option<Val> {
        if self.commit != CommitMode::Direct || c.len() != 32 * self.elems {
            return None;
        }
        c.chunks(32).map(|e| fq_from_committed(e.try_into().expect("32 bytes"))).collect()
    }
}

/// The BN254 base field of `bitvm2_script` (29-bit limbs), set up once (leaf generation asks
/// for it thousands of times, and setting it up parses the modulus).
pub fn field() -> &'static PrimeField {
    static FIELD: std::sync::OnceLock<PrimeField> = std::sync::OnceLock::new();
    FIELD.get_or_init(bn254_fq)
}

/// Canonical big-endian bytes of a field element.
pub fn fq_to_committed(x: &Fq) -> [u8; 32] {
    let b = x.into_bigint().to_bytes_be();
    let mut out = [0u8; 32];
    out[32 - b.len()..].copy_from_slice(&b);
    out
}

/// The field element of a 32-byte big-endian integer, `None` unless it is `< p`.
pub fn fq_from_committed(c: &[u8; 32]) -> Option<Fq> {
    let x = Fq::from_be_bytes_mod_order(c);
    (fq_to_committed(&x) == *c).then_some(x)
}

/// A field element as a `bitvm2_script` natural number.
pub fn fq_to_nat(x: &Fq) -> Nat {
    Nat::from_be_bytes(&fq_to_committed(x))
}

/// Stack items of a value in the field's limb layout (witness order, element 0 deepest).
pub fn val_stack(v: &[Fq]) -> Vec<Vec<u8>> {
    v.iter().flat_map(|x| field().to_stack(&fq_to_nat(x))).collect()
}

/// Fragment pushing a constant value.
pub fn push_val(v: &[Fq]) -> Fragment {
    let l = field().layout();
    v.iter().fold(Fragment::new(), |f, x| f.append(&l.push(&fq_to_nat(x))))
}

/// One operation: values in, one value out (each a vector of field elements).
pub trait Op: Send + Sync + fmt::Debug {
    /// Short name for tables and errors.
    fn name(&self) -> String;
    /// Element count of every input.
    fn input_elems(&self) -> Vec<usize>;
    /// Element count of the output.
    fn output_elems(&self) -> usize;
    /// Native result (the reference).
    fn native(&self, inputs: &[Val]) -> Val;
    /// `[hints, in_0 .. in_{k-1}] -> [out]` over the field's limbs (`in_{k-1}` on top, every
    /// value's element 0 deepest).
    fn script(&self) -> Fragment;
    /// Number of hint items the script expects under its inputs.
    fn hint_items(&self) -> usize {
        0
    }
    /// Hint items (deepest first) for these inputs.
    fn hints(&self, _inputs: &[Val]) -> Vec<Vec<u8>> {
        Vec::new()
    }
}

/// An operand: a program value or a constant baked into the script.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A value of the program.
    Value(ValueId),
    /// A constant.
    Const(Val),
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
    /// An operand or claim has the wrong number of field elements.
    #[error("op {op} ({name}): operand has {got} elements, expected {expected}")]
    Shape { op: usize, name: String, expected: usize, got: usize },
    /// Program inputs must be committed directly (nobody could read a hashed input back).
    #[error("program input {0} is hash-committed; inputs must be committed directly")]
    HashedInput(ValueId),
    /// An input value has the wrong number of elements.
    #[error("input {index} has {got} elements, expected {expected}")]
    InputShape { index: usize, expected: usize, got: usize },
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
    pub claims: Vec<(ValueId, Val)>,
}

impl Program {
    /// An empty program.
    pub fn new(name: impl Into<String>) -> Self {
        Program { name: name.into(), values: Vec::new(), inputs: Vec::new(), ops: Vec::new(), claims: Vec::new() }
    }

    /// Declare an input value (committed directly).
    pub fn input(&mut self, name: impl Into<String>, elems: usize) -> ValueId {
        let id = self.values.len();
        let kind = ValueKind { elems, commit: CommitMode::Direct };
        self.values.push(ValueDecl { name: name.into(), kind, source: Source::Input });
        self.inputs.push(id);
        id
    }

    /// Append an operation; returns its output value, committed with `commit` if it crosses a
    /// step boundary.
    pub fn push_op(&mut self, name: impl Into<String>, op: Arc<dyn Op>, args: Vec<Operand>, commit: CommitMode) -> ValueId {
        let id = self.values.len();
        let kind = ValueKind { elems: op.output_elems(), commit };
        self.values.push(ValueDecl { name: name.into(), kind, source: Source::Op(self.ops.len()) });
        self.ops.push(OpNode { op, args, out: id });
        id
    }

    /// Require `value == c` for the statement to hold.
    pub fn claim(&mut self, value: ValueId, c: Val) {
        self.claims.push((value, c));
    }

    /// Check the structure: operands defined before use, arities, each value produced once.
    pub fn validate(&self) -> Result<(), ProgramError> {
        let mut defined = vec![false; self.values.len()];
        for &i in &self.inputs {
            defined[i] = true;
        }
        for (i, node) in self.ops.iter().enumerate() {
            let shape = node.op.input_elems();
            if node.args.len() != shape.len() {
                return Err(ProgramError::Arity { op: i, name: node.op.name(), arity: shape.len(), got: node.args.len() });
            }
            for (a, &n) in node.args.iter().zip(&shape) {
                let elems = match a {
                    Operand::Value(v) => {
                        if !defined.get(*v).copied().unwrap_or(false) {
                            return Err(ProgramError::UseBeforeDef { op: i, name: node.op.name(), value: *v });
                        }
                        self.values[*v].kind.elems
                    }
                    Operand::Const(c) => c.len(),
                };
                if elems != n {
                    return Err(ProgramError::Shape { op: i, name: node.op.name(), expected: n, got: elems });
                }
            }
            if defined[node.out] {
                return Err(ProgramError::Production(node.out));
            }
            defined[node.out] = true;
        }
        if let Some(v) = defined.iter().position(|d| !d) {
            return Err(ProgramError::Production(v));
        }
        for &i in &self.inputs {
            if self.values[i].kind.commit != CommitMode::Direct {
                return Err(ProgramError::HashedInput(i));
            }
        }
        for (v, c) in &self.claims {
            if self.values[*v].kind.elems != c.len() {
                return Err(ProgramError::Shape { op: usize::MAX, name: "claim".into(), expected: self.values[*v].kind.elems, got: c.len() });
            }
        }
        Ok(())
    }

    /// Evaluate natively: every value of the program.
    pub fn evaluate(&self, inputs: &[Val]) -> Result<Vec<Val>, ProgramError> {
        self.validate()?;
        if inputs.len() != self.inputs.len() {
            return Err(ProgramError::InputCount { expected: self.inputs.len(), got: inputs.len() });
        }
        let mut vals: Vec<Val> = vec![Vec::new(); self.values.len()];
        for (k, (&id, x)) in self.inputs.iter().zip(inputs).enumerate() {
            let expected = self.values[id].kind.elems;
            if x.len() != expected {
                return Err(ProgramError::InputShape { index: k, expected, got: x.len() });
            }
            vals[id] = x.clone();
        }
        for node in &self.ops {
            let args = self.operands(node, &vals);
            vals[node.out] = node.op.native(&args);
        }
        Ok(vals)
    }

    /// The operand values of `node` given all values.
    pub fn operands(&self, node: &OpNode, vals: &[Val]) -> Vec<Val> {
        node.args
            .iter()
            .map(|a| match a {
                Operand::Value(v) => vals[*v].clone(),
                Operand::Const(c) => c.clone(),
            })
            .collect()
    }

    /// Whether all claims hold for these values.
    pub fn claims_hold(&self, vals: &[Val]) -> bool {
        self.claims.iter().all(|(v, c)| vals[*v] == *c)
    }
}
