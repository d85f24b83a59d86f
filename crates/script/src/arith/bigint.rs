//! Unsigned big integers as limbs of at most 30 bits, and their add/sub/compare gadgets.
//!
//! Representation on the stack: an integer of `bits` bits occupies `limbs()` items, each a script
//! number. Limb `i` holds bits `[i*limb_bits, (i+1)*limb_bits)`; every limb but the top one is
//! `limb_bits` wide, the top limb `top_bits()` wide. The most significant limb is deepest, the
//! least significant limb is on top (witness order: most significant limb first). With limbs of
//! at most 30 bits the sum of two limbs plus a carry stays below 2^31, so it is still a valid
//! 4-byte script number for the next arithmetic opcode.

use bitcoin::opcodes::all::*;

use super::asm::Asm;
use super::nat::Nat;
use crate::builder::Fragment;
use crate::exec::encode_num;

/// Shape of an unsigned big integer over limbs. See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Value width in bits: canonical values are `< 2^bits`.
    pub bits: u32,
    /// Width of every limb except possibly the top one (1..=30).
    pub limb_bits: u32,
}

impl Layout {
    /// A layout of `bits`-bit integers in `limb_bits`-bit limbs. Panics unless
    /// `1 <= limb_bits <= 30` and `bits >= 1`.
    pub const fn new(bits: u32, limb_bits: u32) -> Self {
        assert!(limb_bits >= 1 && limb_bits <= 30, "limb width must be 1..=30 bits");
        assert!(bits >= 1, "an integer needs at least one bit");
        Layout { bits, limb_bits }
    }

    /// Number of limbs.
    pub const fn limbs(&self) -> usize {
        self.bits.div_ceil(self.limb_bits) as usize
    }

    /// Width of the top (most significant) limb.
    pub const fn top_bits(&self) -> u32 {
        self.bits - (self.limbs() as u32 - 1) * self.limb_bits
    }

    /// Width of limb `i` (0 = least significant).
    pub const fn limb_width(&self, i: usize) -> u32 {
        if i + 1 == self.limbs() {
            self.top_bits()
        } else {
            self.limb_bits
        }
    }

    /// Limbs of `n`, least significant first. Panics if `n` has more than `bits` bits.
    pub fn to_limbs(&self, n: &Nat) -> Vec<u32> {
        assert!(n.bits() <= self.bits as usize, "value has {} bits, layout holds {}", n.bits(), self.bits);
        (0..self.limbs())
            .map(|i| n.bits_at(i * self.limb_bits as usize, self.limb_width(i) as usize) as u32)
            .collect()
    }

    /// Value of limbs given least significant first (limbs may exceed their width).
    pub fn from_limbs(&self, limbs: &[u32]) -> Nat {
        limbs
            .iter()
            .enumerate()
            .fold(Nat::zero(), |acc, (i, &l)| acc.add(&Nat::from_u128(l as u128).shl(i * self.limb_bits as usize)))
    }

    /// Stack items for `n` in witness order (most significant limb first).
    pub fn to_stack(&self, n: &Nat) -> Vec<Vec<u8>> {
        self.to_limbs(n).iter().rev().map(|&l| encode_num(l as i64)).collect()
    }

    /// Fragment pushing the constant `n`.
    pub fn push(&self, n: &Nat) -> Fragment {
        push_limbs(&self.to_limbs(n)).effect(0, self.limbs())
    }

    /// Fragment dropping one integer.
    pub fn drop(&self) -> Fragment {
        Asm::new().drop_n(self.limbs()).effect(self.limbs(), 0)
    }

    /// `[A B] -> [(A + B) mod 2^bits, carry]` for canonical A, B; carry is 0 or 1.
    pub fn add(&self) -> Fragment {
        add_pass(&self.widths(), true).effect(2 * self.limbs(), self.limbs() + 1)
    }

    /// `[A B] -> [(A - B) mod 2^bits, borrow]` for canonical A, B; borrow is 1 iff A < B.
    pub fn sub(&self) -> Fragment {
        let mut a = sub_pass(&self.widths());
        a.roll(self.limbs());
        a.effect(2 * self.limbs(), self.limbs() + 1)
    }

    /// `[A B] -> [A == B]` (1 or 0), limb by limb.
    pub fn equal(&self) -> Fragment {
        let l = self.limbs();
        let mut a = Asm::new();
        a.roll(l).op(OP_NUMEQUAL);
        for i in 1..l {
            a.op(OP_SWAP).roll(l - i + 1).ops(&[OP_NUMEQUAL, OP_BOOLAND]);
        }
        a.effect(2 * l, 1)
    }

    /// `[A B] -> [A < B]` (1 or 0) for canonical A, B (borrow chain of A - B, nothing kept).
    pub fn less_than(&self) -> Fragment {
        let l = self.limbs();
        let mut a = Asm::new();
        for i in 0..l {
            if i > 0 {
                a.op(OP_ADD);
            }
            a.roll(l - i).op(OP_SWAP).op(OP_SUB).int(0).op(OP_LESSTHAN);
        }
        a.effect(2 * l, 1)
    }

    /// `[A] -> [A]`, failing unless every limb is in `[0, 2^width)` (canonical).
    pub fn range_check(&self) -> Fragment {
        let l = self.limbs();
        let mut a = Asm::new();
        for i in 0..l {
            // Limb i sits at depth i; walk from the top.
            a.pick(i).int(0).int(1i64 << self.limb_width(i)).op(OP_WITHIN).op(OP_VERIFY);
        }
        a.effect(l, l)
    }

    pub(crate) fn widths(&self) -> Vec<u32> {
        (0..self.limbs()).map(|i| self.limb_width(i)).collect()
    }
}

/// Push limbs given least significant first (so the most significant ends deepest).
pub(crate) fn push_limbs(limbs_le: &[u32]) -> Asm {
    let mut a = Asm::new();
    for &l in limbs_le.iter().rev() {
        a.int(l as i64);
    }
    a
}

// The passes below keep the limb base `2^w` on top of the stack while they walk the limbs
// (least significant first), so each carry or borrow step fetches it with `2 OP_PICK` instead
// of pushing a 5-byte constant twice. Finished limbs go to the altstack and come back in order.

/// `[B s]` with `0 <= s < 2B` -> `[carry B]`, `s mod B` to the altstack.
fn norm_carry(a: &mut Asm) {
    a.ops(&[OP_2DUP, OP_LESSTHANOREQUAL, OP_TUCK, OP_IF]).int(2).ops(&[OP_PICK, OP_SUB, OP_ENDIF]);
    a.ops(&[OP_TOALTSTACK, OP_SWAP]);
}

/// `[B d]` with `-B <= d < B` -> `[borrow B]`, `d mod B` to the altstack.
fn norm_borrow(a: &mut Asm) {
    a.op(OP_DUP).int(0).ops(&[OP_LESSTHAN, OP_TUCK, OP_IF]).int(2).ops(&[OP_PICK, OP_ADD, OP_ENDIF]);
    a.ops(&[OP_TOALTSTACK, OP_SWAP]);
}

/// Replace the base on top (`[x B] -> [x B']`) when the limb width changes.
fn rebase(a: &mut Asm, widths: &[u32], i: usize) {
    if i > 0 && widths[i] != widths[i - 1] {
        a.op(OP_DROP).int(1i64 << widths[i]);
    }
}

/// `[X Y] -> [X+Y]` over limbs of the given widths (least significant first). With
/// `carry_out`, the top limb is normalised too and the carry is left on top: `[S c]`;
/// otherwise the top limb keeps the raw sum (the caller guarantees it fits its use).
pub(crate) fn add_pass(widths: &[u32], carry_out: bool) -> Asm {
    let l = widths.len();
    let mut a = Asm::new();
    for i in 0..l {
        if i == 0 {
            // [.. b_0] -> [.. B b_0] -> [.. B s]
            a.int(1i64 << widths[0]).op(OP_SWAP).roll(l + 1).op(OP_ADD);
        } else {
            // [a.. b_{l-1}..b_i c B] -> [.. B (b_i + c)] -> [.. B s]
            rebase(&mut a, widths, i);
            a.ops(&[OP_ROT, OP_ROT, OP_ADD]).roll(l - i + 1).op(OP_ADD);
        }
        if i + 1 < l || carry_out {
            norm_carry(&mut a);
        } else {
            a.ops(&[OP_TOALTSTACK, OP_DROP]);
        }
    }
    if carry_out {
        a.op(OP_DROP);
    }
    a.fromalt(l);
    if carry_out {
        a.roll(l);
    }
    a
}

/// `[X Y] -> [borrow D]` where `D = (X - Y) mod 2^(sum of widths)` (note the order: the borrow
/// is under the result; callers roll it up or test it with `OP_IF` after moving D).
pub(crate) fn sub_pass(widths: &[u32]) -> Asm {
    let l = widths.len();
    let mut a = Asm::new();
    for i in 0..l {
        if i == 0 {
            // [.. b_0] -> [.. B b_0 a_0] -> [.. B d]
            a.int(1i64 << widths[0]).op(OP_SWAP).roll(l + 1).ops(&[OP_SWAP, OP_SUB]);
        } else {
            rebase(&mut a, widths, i);
            a.ops(&[OP_ROT, OP_ROT, OP_ADD]).roll(l - i + 1).ops(&[OP_SWAP, OP_SUB]);
        }
        norm_borrow(&mut a);
    }
    a.op(OP_DROP).fromalt(l);
    a
}

/// The limb loop shared by [`add_const_pass`] and [`sub_const_pass`]: `[X]` with the base on
/// top -> each limb `x_i op c_i op carry_i` normalised by `norm`, limbs moved to the altstack,
/// leaving `[.. B carry]` for the caller to finish.
fn const_pass_limbs(c: &[u32], w: u32, op: bitcoin::opcodes::Opcode, norm: fn(&mut Asm)) -> Asm {
    let mut a = Asm::new();
    a.int(1i64 << w);
    for (i, &ci) in c.iter().enumerate() {
        if i == 0 {
            a.op(OP_SWAP);
        } else {
            a.op(OP_ROT);
        }
        if ci != 0 {
            a.int(ci as i64).op(op);
        }
        if i > 0 {
            a.ops(&[OP_ROT, op]);
        }
        norm(&mut a);
    }
    a
}

/// `[X] -> [X + c mod 2^(l*w)]` for a constant `c` given as limbs (all limbs `w` wide).
pub(crate) fn add_const_pass(c: &[u32], w: u32) -> Asm {
    let mut a = const_pass_limbs(c, w, OP_ADD, norm_carry);
    a.op(OP_2DROP).fromalt(c.len());
    a
}

/// `[X] -> [D borrow]` with `D = X - c mod 2^(l*w)`, borrow 1 iff `X < c`.
pub(crate) fn sub_const_pass(c: &[u32], w: u32) -> Asm {
    let l = c.len();
    let mut a = const_pass_limbs(c, w, OP_SUB, norm_borrow);
    a.op(OP_DROP).fromalt(l).roll(l);
    a
}

/// `[X] -> [X mod c]` for `X < 2c`: subtract `c` and add it back if that borrowed.
pub(crate) fn cond_sub_const(c: &[u32], w: u32) -> Asm {
    let mut a = sub_const_pass(c, w);
    a.op(OP_IF).append(&add_const_pass(c, w)).op(OP_ENDIF);
    a
}

/// `[X] -> [2X]`; every limb but the top one normalised (the caller bounds the value).
pub(crate) fn double_pass(l: usize, w: u32) -> Asm {
    let mut a = Asm::new();
    a.int(1i64 << w);
    for i in 0..l {
        if i == 0 {
            a.ops(&[OP_SWAP, OP_DUP, OP_ADD]);
        } else {
            a.ops(&[OP_ROT, OP_DUP, OP_ADD, OP_ROT, OP_ADD]);
        }
        if i + 1 < l {
            norm_carry(&mut a);
        } else {
            a.ops(&[OP_TOALTSTACK, OP_DROP]);
        }
    }
    a.fromalt(l);
    a
}

/// `[X] -> [X (X < c)]`: borrow chain of `X - c`, X kept.
pub(crate) fn lt_const_keep(c: &[u32]) -> Asm {
    let mut a = Asm::new();
    for (i, &ci) in c.iter().enumerate() {
        if i == 0 {
            a.op(OP_DUP);
        } else {
            a.pick(i + 1).op(OP_SWAP).op(OP_SUB);
        }
        if ci != 0 {
            a.int(ci as i64).op(OP_SUB);
        }
        a.int(0).op(OP_LESSTHAN);
    }
    a
}
