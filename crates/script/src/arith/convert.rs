//! Conversions between limb widths, e.g. Winternitz 4-bit digits <-> big-integer limbs.
//!
//! Both sides use the same stack convention: most significant item deepest, least significant
//! item on top. Only the top (most significant) item may be narrower than the others.

use bitcoin::opcodes::all::*;

use super::asm::Asm;
use super::bigint::Layout;
use crate::builder::Fragment;

/// A sequence of `count` items: every item `width` bits wide except the most significant one,
/// which is `top_width` bits wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digits {
    /// Number of items.
    pub count: usize,
    /// Width of every item but the most significant one.
    pub width: u32,
    /// Width of the most significant item.
    pub top_width: u32,
}

impl Digits {
    /// Total number of bits.
    pub fn total_bits(&self) -> u32 {
        (self.count as u32 - 1) * self.width + self.top_width
    }

    /// The shape that holds `total_bits` bits in items of `width` bits.
    pub fn for_bits(total_bits: u32, width: u32) -> Self {
        let count = total_bits.div_ceil(width) as usize;
        Digits { count, width, top_width: total_bits - (count as u32 - 1) * width }
    }

    /// The items of a big-integer layout.
    pub fn of_layout(l: &Layout) -> Self {
        Digits { count: l.limbs(), width: l.limb_bits, top_width: l.top_bits() }
    }
}

/// `[x_{n-1} .. x_0] -> [y_{m-1} .. y_0]`: re-express the same bits in items of `out_width`
/// bits. Every input item is range-checked (the script fails unless `0 <= x_i < 2^width_i`).
/// Returns the fragment and the output shape.
///
/// Cost: about 15-20 bytes per bit (each input item is decomposed bit by bit with
/// comparisons, since Tapscript has no shift or bitwise opcodes).
pub fn regroup(input: Digits, out_width: u32) -> (Fragment, Digits) {
    let (a, out) = regroup_asm(input, out_width);
    (a.effect(input.count, out.count), out)
}

pub(crate) fn regroup_asm(input: Digits, out_width: u32) -> (Asm, Digits) {
    assert!(input.count >= 1 && input.width >= 1 && input.top_width >= 1 && input.top_width <= 30);
    assert!(input.width <= 30 && (1..=30).contains(&out_width));
    let total = input.total_bits();
    let out = Digits::for_bits(total, out_width);
    let mut a = Asm::new();
    a.int(0); // accumulator of the current output item
    let mut emitted = 0usize;
    let mut g = total; // global bit index of the next bit + 1
    for idx in (0..input.count).rev() {
        let width = if idx + 1 == input.count { input.top_width } else { input.width };
        // Stack: [remaining inputs (idx+1 of them), emitted outputs, acc]. Bring x_idx up.
        a.roll(idx + emitted + 1);
        for k in (0..width).rev() {
            g -= 1;
            let last_in_out = g.checked_rem(out_width) == Some(0);
            if k > 0 {
                let p = 1i64 << k;
                // [acc x] -> [acc x'] with the bit parked on the altstack.
                a.op(OP_DUP).int(p).op(OP_GREATERTHANOREQUAL).op(OP_DUP).op(OP_TOALTSTACK);
                a.op(OP_IF).int(p).op(OP_SUB).op(OP_ENDIF);
                // acc = 2*acc + bit
                a.op(OP_SWAP).ops(&[OP_DUP, OP_ADD, OP_FROMALTSTACK, OP_ADD]).op(OP_SWAP);
                if last_in_out {
                    // acc is complete: leave it, start a new one under x.
                    a.int(0).op(OP_SWAP);
                    emitted += 1;
                }
            } else {
                // x' is the last bit: it must be 0 or 1 (this range-checks the input item).
                a.op(OP_DUP).int(0).int(2).op(OP_WITHIN).op(OP_VERIFY);
                a.op(OP_SWAP).ops(&[OP_DUP, OP_ADD, OP_ADD]);
                if last_in_out {
                    emitted += 1;
                    if g > 0 {
                        a.int(0);
                    }
                }
            }
        }
    }
    debug_assert_eq!(emitted, out.count);
    (a, out)
}

/// Winternitz 4-bit digits (most significant first, i.e. deepest) to the limbs of `layout`.
/// `digits` must hold exactly the layout's bits when the top digit is cut to size: the top
/// digit has `layout.bits - 4*(digits-1)` bits and is range-checked to that width.
pub fn nibbles_to_limbs(layout: &Layout) -> Fragment {
    let input = Digits::for_bits(layout.bits, 4);
    let (a, out) = regroup_asm(input, layout.limb_bits);
    debug_assert_eq!(out, Digits::of_layout(layout));
    a.effect(input.count, out.count)
}

/// Limbs of `layout` to 4-bit digits, most significant deepest (inverse of [`nibbles_to_limbs`]).
pub fn limbs_to_nibbles(layout: &Layout) -> Fragment {
    regroup(Digits::of_layout(layout), 4).0
}
