//! A tiny assembler used by the gadgets of this crate: a list of tokens (number pushes and
//! opcodes) with helpers for stack addressing, converted to a [`Fragment`] at the end.

use bitcoin::opcodes::all::*;
use bitcoin::opcodes::Opcode;

use crate::builder::Fragment;

/// One token: a minimal number push or an opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Int(i64),
    Op(Opcode),
}

/// A growing list of tokens.
#[derive(Clone, Debug, Default)]
pub(crate) struct Asm(pub(crate) Vec<Tok>);

impl Asm {
    pub(crate) fn new() -> Self {
        Asm(Vec::new())
    }

    /// Push the number `n` (minimal encoding).
    pub(crate) fn int(&mut self, n: i64) -> &mut Self {
        self.0.push(Tok::Int(n));
        self
    }

    /// Append one opcode.
    pub(crate) fn op(&mut self, o: Opcode) -> &mut Self {
        self.0.push(Tok::Op(o));
        self
    }

    /// Append several opcodes.
    pub(crate) fn ops(&mut self, os: &[Opcode]) -> &mut Self {
        for &o in os {
            self.op(o);
        }
        self
    }

    /// Append another token list.
    pub(crate) fn append(&mut self, other: &Asm) -> &mut Self {
        self.0.extend_from_slice(&other.0);
        self
    }

    /// Move the item at `depth` (0 = top) to the top.
    pub(crate) fn roll(&mut self, depth: usize) -> &mut Self {
        match depth {
            0 => self,
            1 => self.op(OP_SWAP),
            2 => self.op(OP_ROT),
            d => self.int(d as i64).op(OP_ROLL),
        }
    }

    /// Copy the item at `depth` (0 = top) to the top.
    pub(crate) fn pick(&mut self, depth: usize) -> &mut Self {
        match depth {
            0 => self.op(OP_DUP),
            1 => self.op(OP_OVER),
            d => self.int(d as i64).op(OP_PICK),
        }
    }

    /// Drop the top `n` items.
    pub(crate) fn drop_n(&mut self, n: usize) -> &mut Self {
        for _ in 0..n / 2 {
            self.op(OP_2DROP);
        }
        if n % 2 == 1 {
            self.op(OP_DROP);
        }
        self
    }

    /// Move `n` items to the altstack / back.
    pub(crate) fn toalt(&mut self, n: usize) -> &mut Self {
        for _ in 0..n {
            self.op(OP_TOALTSTACK);
        }
        self
    }

    pub(crate) fn fromalt(&mut self, n: usize) -> &mut Self {
        for _ in 0..n {
            self.op(OP_FROMALTSTACK);
        }
        self
    }

    /// Multiply the top item by a small non-negative constant (double-and-add, no OP_MUL).
    pub(crate) fn mul_const(&mut self, m: u64) -> &mut Self {
        if m == 0 {
            return self.op(OP_DROP).int(0);
        }
        if m == 1 {
            return self;
        }
        let bits = 64 - m.leading_zeros();
        self.op(OP_DUP);
        for i in (0..bits - 1).rev() {
            self.ops(&[OP_DUP, OP_ADD]);
            if (m >> i) & 1 == 1 {
                self.ops(&[OP_OVER, OP_ADD]);
            }
        }
        self.op(OP_NIP)
    }

    /// Convert to a [`Fragment`] (effect left to inference; gadgets declare theirs).
    pub(crate) fn fragment(&self) -> Fragment {
        self.0.iter().fold(Fragment::new(), |f, t| match *t {
            Tok::Int(n) => f.push_int(n),
            Tok::Op(o) => f.op(o),
        })
    }

    /// Convert to a [`Fragment`] with a declared stack effect.
    pub(crate) fn effect(&self, consumes: usize, produces: usize) -> Fragment {
        self.fragment().with_effect(consumes, produces)
    }
}
