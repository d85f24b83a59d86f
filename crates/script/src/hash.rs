//! BLAKE3 computed in script over 4-bit digits ("nibbles"), truncated to a chosen length.
//!
//! Tapscript has OP_SHA256 but no OP_CAT, so a hash over many stack items has to be computed
//! with arithmetic. BLAKE3 suits this best of the two candidates: its rotations by 16, 12 and 8
//! bits are whole-nibble moves (free: the gadget just renames stack items) and only the
//! rotation by 7 needs bit work; SHA-256 rotates by amounts that are mostly not multiples of 4
//! and would cost several times more. SHA-256 in script is not implemented.
//!
//! Representation: the input of `n` bytes is `2n` nibble items in hex order (the high nibble of
//! byte 0 deepest, the low nibble of the last byte on top); the output digest of `k` bytes is
//! `2k` nibbles in the same order, the first `k` bytes of the BLAKE3 hash. A 32-bit word lives
//! as 8 nibble items. Additions mod 2^32 are nibble additions with carries; XOR is a lookup in
//! a 256-entry table pushed once (`T[16x+y] = x^y`, picked with OP_PICK; `16x` itself comes
//! from a 16-entry table). Inputs are
//! range-checked (every nibble in 0..16). One chunk (at most 1024 bytes) is supported, limited
//! further by the 1000-item stack: see [`blake3`].

use std::collections::HashMap;

use bitcoin::opcodes::all::*;

use crate::arith::asm::Asm;
use crate::arith::convert::{regroup_asm, Digits};
use crate::arith::Layout;
use crate::builder::Fragment;
use crate::exec::encode_num;

/// Why a hash gadget cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashError {
    /// The digest length is 0 or more than 32 bytes.
    #[error("digest length must be 1..=32 bytes, got {0}")]
    BadOutputLength(usize),
    /// More than one BLAKE3 chunk (1024 bytes) of input.
    #[error("input of {0} bytes is more than one BLAKE3 chunk (1024 bytes); tree hashing is not implemented")]
    InputTooLong(usize),
    /// The gadget would exceed the 1000-item stack limit.
    #[error("input of {input} bytes needs {peak} stack items, more than 1000")]
    StackTooDeep {
        /// Input length in bytes.
        input: usize,
        /// Peak stack items the gadget would need.
        peak: usize,
    },
}

const IV: [u32; 8] = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19];
const MSG_PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
const CHUNK_START: u32 = 1;
const CHUNK_END: u32 = 2;
const ROOT: u32 = 8;
/// Input bytes per BLAKE3 block.
pub const BLOCK_LEN: usize = 64;
/// Largest input (bytes) whose gadget stays within 1000 stack items (checked by a test).
pub const MAX_INPUT_BYTES: usize = 247;
/// Input bytes per BLAKE3 chunk (the most this gadget supports).
pub const CHUNK_LEN: usize = 1024;

// ---------------------------------------------------------------------------------------------
// Native reference (single chunk), written from the BLAKE3 specification.

fn g_native(v: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize, mx: u32, my: u32) {
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(mx);
    v[d] = (v[d] ^ v[a]).rotate_right(16);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(12);
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(my);
    v[d] = (v[d] ^ v[a]).rotate_right(8);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(7);
}

const G_ARGS: [(usize, usize, usize, usize); 8] =
    [(0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15), (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)];

fn compress_native(cv: &[u32; 8], block: &[u8], counter: u64, flags: u32) -> [u32; 8] {
    let mut m = [0u32; 16];
    for (i, b) in block.iter().enumerate() {
        m[i / 4] |= (*b as u32) << (8 * (i % 4));
    }
    let mut v = [0u32; 16];
    v[..8].copy_from_slice(cv);
    v[8..12].copy_from_slice(&IV[..4]);
    v[12] = counter as u32;
    v[13] = (counter >> 32) as u32;
    v[14] = block.len() as u32;
    v[15] = flags;
    for r in 0..7 {
        for (k, &(a, b, c, d)) in G_ARGS.iter().enumerate() {
            g_native(&mut v, a, b, c, d, m[2 * k], m[2 * k + 1]);
        }
        if r < 6 {
            let old = m;
            for i in 0..16 {
                m[i] = old[MSG_PERMUTATION[i]];
            }
        }
    }
    std::array::from_fn(|i| v[i] ^ v[i + 8])
}

/// The 32-byte BLAKE3 hash of `input` (at most one chunk, 1024 bytes), computed natively.
pub fn blake3_native(input: &[u8]) -> Result<[u8; 32], HashError> {
    if input.len() > CHUNK_LEN {
        return Err(HashError::InputTooLong(input.len()));
    }
    let blocks: Vec<&[u8]> = if input.is_empty() { vec![&[][..]] } else { input.chunks(BLOCK_LEN).collect() };
    let mut cv = IV;
    for (i, blk) in blocks.iter().enumerate() {
        let mut flags = 0;
        if i == 0 {
            flags |= CHUNK_START;
        }
        if i + 1 == blocks.len() {
            flags |= CHUNK_END | ROOT;
        }
        cv = compress_native(&cv, blk, 0, flags);
    }
    let mut out = [0u8; 32];
    for (i, w) in cv.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    Ok(out)
}

/// Stack items (bottom first) for bytes in the nibble representation of this module.
pub fn bytes_to_nibbles(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.iter().flat_map(|b| [encode_num((b >> 4) as i64), encode_num((b & 15) as i64)]).collect()
}

// ---------------------------------------------------------------------------------------------
// A stack model that tracks where each value lives, so gadgets address values by name.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Val {
    /// A value on the stack, by id.
    Id(u32),
    /// A constant nibble not materialised yet.
    Const(u8),
}

type Word = [Val; 8]; // nibble 0 = least significant

fn const_word(w: u32) -> Word {
    std::array::from_fn(|i| Val::Const(((w >> (4 * i)) & 15) as u8))
}

struct Tracker {
    a: Asm,
    stack: Vec<u32>,
    pos: HashMap<u32, usize>, // id -> index in stack (kept in sync lazily: rebuilt on demand)
    next: u32,
    peak: usize,
    table_base: usize, // absolute index of the first pushed XOR-table entry (T[255])
    mul16_base: usize, // absolute index of the first pushed x16-table entry (M[15])
    rem_base: usize,   // R[s] = s mod 16 for s < 48, R[47] first
    carry_base: usize, // C[s] = s / 16 for s < 48, C[47] first
}

impl Tracker {
    fn new(inputs: usize) -> (Self, Vec<u32>) {
        let ids: Vec<u32> = (0..inputs as u32).collect();
        let t = Tracker {
            a: Asm::new(),
            stack: ids.clone(),
            pos: HashMap::new(),
            next: inputs as u32,
            peak: inputs,
            table_base: 0,
            mul16_base: 0,
            rem_base: 0,
            carry_base: 0,
        };
        (t, ids)
    }

    fn fresh(&mut self) -> u32 {
        self.next += 1;
        self.next - 1
    }

    fn push_id(&mut self) -> u32 {
        let id = self.fresh();
        self.stack.push(id);
        self.peak = self.peak.max(self.stack.len());
        id
    }

    fn index_of(&mut self, id: u32) -> usize {
        if let Some(&i) = self.pos.get(&id) {
            if self.stack.get(i) == Some(&id) {
                return i;
            }
        }
        let i = self.stack.iter().rposition(|&x| x == id).expect("value is on the stack");
        self.pos.insert(id, i);
        i
    }

    fn depth(&mut self, id: u32) -> usize {
        self.stack.len() - 1 - self.index_of(id)
    }

    /// Bring a value to the top: move it (consume) or copy it; constants are pushed.
    fn bring(&mut self, v: Val, consume: bool) -> u32 {
        match v {
            Val::Const(c) => {
                self.a.int(c as i64);
                self.push_id()
            }
            Val::Id(id) if consume => {
                let i = self.index_of(id);
                let d = self.stack.len() - 1 - i;
                self.a.roll(d);
                self.stack.remove(i);
                self.stack.push(id);
                id
            }
            Val::Id(id) => {
                let d = self.depth(id);
                self.a.pick(d);
                self.push_id()
            }
        }
    }

    /// Emit code that pops `pops` items and pushes `pushes` new ones.
    fn code(&mut self, f: impl FnOnce(&mut Asm), pops: usize, pushes: usize) -> Vec<u32> {
        f(&mut self.a);
        for _ in 0..pops {
            self.stack.pop().expect("stack model underflow");
        }
        (0..pushes).map(|_| self.push_id()).collect()
    }

    fn drop_val(&mut self, v: Val) {
        if let Val::Id(id) = v {
            match self.depth(id) {
                0 => {
                    self.a.op(OP_DROP);
                }
                1 => {
                    self.a.op(OP_NIP);
                }
                d => {
                    self.a.roll(d).op(OP_DROP);
                }
            }
            let i = self.index_of(id);
            self.stack.remove(i);
        }
    }

    /// `x + y mod 2^32`; x is consumed, y copied.
    fn add(&mut self, x: Word, y: Word) -> Word {
        if let (Some(a), Some(b)) = (word_value(&x), word_value(&y)) {
            return const_word(a.wrapping_add(b));
        }
        let mut out = x;
        let mut carry: Option<u32> = None;
        for i in 0..8 {
            let zero_y = y[i] == Val::Const(0);
            if zero_y && carry.is_none() {
                continue; // x_i unchanged
            }
            self.bring(x[i], true);
            if !zero_y {
                self.bring(y[i], false);
                self.add_top_two();
            }
            if let Some(c) = carry.take() {
                self.bring(Val::Id(c), true);
                self.add_top_two();
            }
            if i < 7 {
                let ids = self.code(
                    |a| {
                        a.op(OP_DUP).int(16).op(OP_GREATERTHANOREQUAL).op(OP_TUCK);
                        a.op(OP_IF).int(16).op(OP_SUB).op(OP_ENDIF);
                    },
                    1,
                    2,
                );
                out[i] = Val::Id(ids[1]);
                carry = Some(ids[0]);
            } else {
                let ids = self.code(
                    |a| {
                        a.op(OP_DUP).int(16).op(OP_GREATERTHANOREQUAL).op(OP_IF).int(16).op(OP_SUB).op(OP_ENDIF);
                    },
                    1,
                    1,
                );
                out[i] = Val::Id(ids[0]);
            }
        }
        out
    }

    /// `[.. a b] -> [.. a+b]` on the tracked stack.
    fn add_top_two(&mut self) {
        self.code(|a| {
            a.op(OP_ADD);
        }, 2, 1);
    }

    /// `[.. i] -> [.. T[i]]` for a table of `len` entries pushed last-entry-first at `base`.
    fn lookup(&mut self, base: usize, len: usize) -> u32 {
        let h = self.stack.len() - 1;
        let off = h as i64 - len as i64 - base as i64;
        self.code(
            |a| {
                if off != 0 {
                    a.int(off).op(OP_ADD);
                }
                a.op(OP_PICK);
            },
            1,
            1,
        )[0]
    }

    /// `x + y + z mod 2^32` in one carry chain (nibble sums up to 47, carries up to 2, split
    /// with the R/C tables); x is consumed, y and z copied.
    fn add3(&mut self, x: Word, y: Word, z: Word) -> Word {
        if let (Some(a), Some(b), Some(c)) = (word_value(&x), word_value(&y), word_value(&z)) {
            return const_word(a.wrapping_add(b).wrapping_add(c));
        }
        let mut out = x;
        let mut carry: Option<u32> = None;
        for i in 0..8 {
            // constant parts of y_i and z_i fold into one push
            let mut konst = 0u8;
            let mut terms = Vec::new();
            for v in [y[i], z[i]] {
                match v {
                    Val::Const(c) => konst += c,
                    id => terms.push(id),
                }
            }
            if terms.is_empty() && konst == 0 && carry.is_none() {
                continue;
            }
            self.bring(x[i], true);
            for v in terms {
                self.bring(v, false);
                self.add_top_two();
            }
            if konst != 0 {
                self.bring(Val::Const(konst), false);
                self.add_top_two();
            }
            if let Some(c) = carry.take() {
                self.bring(Val::Id(c), true);
                self.add_top_two();
            }
            if i < 7 {
                self.code(|a| {
                    a.op(OP_DUP);
                }, 1, 2);
                self.lookup(self.carry_base, 48);
                let ids = self.code(|a| {
                    a.op(OP_SWAP);
                }, 2, 2);
                carry = Some(ids[0]);
                out[i] = Val::Id(self.lookup(self.rem_base, 48));
            } else {
                out[i] = Val::Id(self.lookup(self.rem_base, 48));
            }
        }
        out
    }

    /// `x ^ y`; x is consumed, y copied.
    fn xor(&mut self, x: Word, y: Word) -> Word {
        let mut out = [Val::Const(0); 8];
        for i in 0..8 {
            out[i] = match (x[i], y[i]) {
                (Val::Const(a), Val::Const(b)) => Val::Const(a ^ b),
                (xv, Val::Const(0)) => xv,
                (Val::Const(0), yv) => Val::Id(self.bring(yv, false)),
                (Val::Const(a), yv) => {
                    self.a.int(16 * a as i64);
                    self.push_id();
                    self.bring(yv, false);
                    self.lookup_after_add()
                }
                (xv, yv) => {
                    self.bring(xv, true);
                    // 16x by lookup: M[x] sits at mul16_base + 15 - x.
                    let h = self.stack.len() - 1;
                    let off = h as i64 - 16 - self.mul16_base as i64;
                    self.code(|a| {
                        if off != 0 {
                            a.int(off).op(OP_ADD);
                        }
                        a.op(OP_PICK);
                    }, 1, 1);
                    self.bring(yv, false);
                    self.lookup_after_add()
                }
            };
        }
        out
    }

    /// Stack `[.. 16x y]` -> `[.. x^y]` via the XOR table.
    fn lookup_after_add(&mut self) -> Val {
        self.code(|a| {
            a.op(OP_ADD);
        }, 2, 1);
        // After OP_PICK pops the index, the height is len-1; T[idx] sits at table_base+255-idx.
        let h = self.stack.len() - 1;
        let off = h as i64 - 256 - self.table_base as i64;
        let ids = self.code(
            |a| {
                if off != 0 {
                    a.int(off).op(OP_ADD);
                }
                a.op(OP_PICK);
            },
            1,
            1,
        );
        Val::Id(ids[0])
    }

    /// Rotate left by one bit (used for `>>> 7` = `>>> 8` then `<<< 1`); consumes y.
    fn rotl1(&mut self, y: Word) -> Word {
        let mut hl = Vec::with_capacity(8);
        for &v in y.iter() {
            match v {
                Val::Const(c) => hl.push((Val::Const(c >> 3), Val::Const((c << 1) & 15))),
                Val::Id(_) => {
                    self.bring(v, true);
                    let ids = self.code(
                        |a| {
                            a.op(OP_DUP).int(8).op(OP_GREATERTHANOREQUAL).op(OP_TUCK);
                            a.op(OP_IF).int(8).op(OP_SUB).op(OP_ENDIF).ops(&[OP_DUP, OP_ADD]);
                        },
                        1,
                        2,
                    );
                    hl.push((Val::Id(ids[0]), Val::Id(ids[1])));
                }
            }
        }
        let mut out = [Val::Const(0); 8];
        for i in 0..8 {
            let (lo, hi) = (hl[i].1, hl[(i + 7) % 8].0);
            out[i] = match (lo, hi) {
                (Val::Const(a), Val::Const(b)) => Val::Const(a + b),
                (lo, Val::Const(0)) => lo,
                _ => {
                    self.bring(lo, true);
                    self.bring(hi, true);
                    Val::Id(self.code(|a| {
                        a.op(OP_ADD);
                    }, 2, 1)[0])
                }
            };
        }
        out
    }
}

fn word_value(w: &Word) -> Option<u32> {
    w.iter().enumerate().try_fold(0u32, |acc, (i, v)| match v {
        Val::Const(c) => Some(acc | (*c as u32) << (4 * i)),
        Val::Id(_) => None,
    })
}

fn rotr_nibbles(w: Word, k: usize) -> Word {
    std::array::from_fn(|i| w[(i + k) % 8])
}

/// The BLAKE3 hash of `input_len` bytes, truncated to `out_len` bytes:
/// `[2*input_len nibbles] -> [2*out_len nibbles]` (hex order, first nibble deepest).
///
/// Every input nibble is range-checked. Fails to build if the input is longer than one chunk
/// or the stack would exceed 1000 items (inputs above [`MAX_INPUT_BYTES`] = 247 bytes).
pub fn blake3(input_len: usize, out_len: usize) -> Result<Fragment, HashError> {
    if out_len == 0 || out_len > 32 {
        return Err(HashError::BadOutputLength(out_len));
    }
    if input_len > CHUNK_LEN {
        return Err(HashError::InputTooLong(input_len));
    }
    let n_in = 2 * input_len;
    let (mut t, inputs) = Tracker::new(n_in);
    // Range check every input nibble.
    for i in 0..n_in {
        t.a.pick(n_in - 1 - i).int(0).int(16).op(OP_WITHIN).op(OP_VERIFY);
    }
    // XOR table: T[255] first, so T[idx] sits at table_base + 255 - idx.
    t.table_base = t.stack.len();
    for idx in (0..256u32).rev() {
        t.a.int(((idx >> 4) ^ (idx & 15)) as i64);
        t.push_id();
    }
    // x16 table: M[15] first, so M[x] sits at mul16_base + 15 - x.
    t.mul16_base = t.stack.len();
    for x in (0..16i64).rev() {
        t.a.int(16 * x);
        t.push_id();
    }
    // carry-split tables for three-operand nibble sums (< 48).
    t.rem_base = t.stack.len();
    for x in (0..48i64).rev() {
        t.a.int(x % 16);
        t.push_id();
    }
    t.carry_base = t.stack.len();
    for x in (0..48i64).rev() {
        t.a.int(x / 16);
        t.push_id();
    }
    let nibble = |byte: usize, high: bool| -> Val {
        if byte < input_len {
            Val::Id(inputs[2 * byte + if high { 0 } else { 1 }])
        } else {
            Val::Const(0)
        }
    };
    let n_blocks = input_len.div_ceil(BLOCK_LEN).max(1);
    let mut cv: [Word; 8] = std::array::from_fn(|i| const_word(IV[i]));
    for blk in 0..n_blocks {
        let start = blk * BLOCK_LEN;
        let blen = input_len.saturating_sub(start).min(BLOCK_LEN);
        let mut m: [Word; 16] =
            std::array::from_fn(|j| std::array::from_fn(|k| nibble(start + 4 * j + k / 2, k % 2 == 1)));
        let mut flags = 0;
        if blk == 0 {
            flags |= CHUNK_START;
        }
        if blk + 1 == n_blocks {
            flags |= CHUNK_END | ROOT;
        }
        let mut v: [Word; 16] = std::array::from_fn(|i| match i {
            0..=7 => cv[i],
            8..=11 => const_word(IV[i - 8]),
            12 | 13 => const_word(0),
            14 => const_word(blen as u32),
            _ => const_word(flags),
        });
        for r in 0..7 {
            for (k, &(a, b, c, d)) in G_ARGS.iter().enumerate() {
                let (mx, my) = (m[2 * k], m[2 * k + 1]);
                v[a] = t.add3(v[a], v[b], mx);
                v[d] = rotr_nibbles(t.xor(v[d], v[a]), 4);
                v[c] = t.add(v[c], v[d]);
                v[b] = rotr_nibbles(t.xor(v[b], v[c]), 3);
                v[a] = t.add3(v[a], v[b], my);
                v[d] = rotr_nibbles(t.xor(v[d], v[a]), 2);
                v[c] = t.add(v[c], v[d]);
                let x = t.xor(v[b], v[c]);
                v[b] = t.rotl1(rotr_nibbles(x, 2));
            }
            if r < 6 {
                let old = m;
                m = std::array::from_fn(|i| old[MSG_PERMUTATION[i]]);
            }
        }
        let last = blk + 1 == n_blocks;
        let words = if last { out_len.div_ceil(4) } else { 8 };
        for i in 0..words {
            cv[i] = t.xor(v[i], v[i + 8]);
        }
        if !last {
            for word in v.iter().skip(8) {
                for &nib in word.iter() {
                    t.drop_val(nib);
                }
            }
        }
    }
    // Output nibbles in hex order; park them on the altstack (last first), drop the rest.
    let mut out_vals = Vec::with_capacity(2 * out_len);
    for b in 0..out_len {
        let w = cv[b / 4];
        out_vals.push(w[2 * (b % 4) + 1]);
        out_vals.push(w[2 * (b % 4)]);
    }
    for &v in out_vals.iter().rev() {
        t.bring(v, true);
        t.code(|a| {
            a.op(OP_TOALTSTACK);
        }, 1, 0);
    }
    let rest = t.stack.len();
    t.a.drop_n(rest);
    t.a.fromalt(out_vals.len());
    // Peak: the model's main-stack peak; the altstack holds at most the output while the
    // main stack only shrinks.
    // (+2: pushes inside a step, e.g. a table offset before its OP_ADD, are not in the model.)
    let peak = t.peak.max(rest + 1) + 2;
    if peak > 1000 {
        return Err(HashError::StackTooDeep { input: input_len, peak });
    }
    Ok(t.a.effect(n_in, 2 * out_len))
}

/// BLAKE3 over `count` big integers of `layout` (e.g. field elements), each encoded as
/// `ceil(bits/8)` bytes big-endian and concatenated, truncated to `out_len` bytes:
/// `[E_1 .. E_count] -> [2*out_len nibbles]` (E_1 deepest, each in the limb representation of
/// [`crate::arith::bigint`]). Every limb is range-checked by the conversion to nibbles.
pub fn blake3_of_bigints(layout: &Layout, count: usize, out_len: usize) -> Result<Fragment, HashError> {
    let bytes = (layout.bits as usize).div_ceil(8);
    let l = layout.limbs();
    let (conv, digits) = regroup_asm(Digits::of_layout(layout), 4);
    let pad = 2 * bytes - digits.count; // 0 or 1 leading zero nibble
    let mut a = Asm::new();
    let mut produced = 0;
    for i in 0..count {
        for _ in 0..pad {
            a.int(0);
        }
        for _ in 0..l {
            a.roll(l - 1 + (count - 1 - i) * l + produced + pad);
        }
        a.append(&conv);
        produced += 2 * bytes;
    }
    let hash = blake3(count * bytes, out_len)?;
    Ok(a.fragment().append(&hash).with_effect(count * l, 2 * out_len))
}

/// Callback of [`print_size_rows`]: `(name, fragment, inputs)`.
pub type SizeRow<'a> = dyn FnMut(&str, &Fragment, &[Vec<u8>]) + 'a;

/// Markdown rows of the hash gadget sizes for `examples/gadget_sizes.rs`: calls `row(name,
/// fragment, inputs)` for a few input/output lengths.
pub fn print_size_rows(row: &mut SizeRow<'_>) {
    for (n, k) in [(32usize, 20usize), (64, 16), (64, 20), (64, 32), (128, 20)] {
        let input: Vec<u8> = (0..n).map(|i| (i * 7 + 3) as u8).collect();
        match blake3(n, k) {
            Ok(f) => row(&format!("BLAKE3 of {n} bytes -> {k} bytes"), &f, &bytes_to_nibbles(&input)),
            Err(e) => println!("| BLAKE3 of {n} bytes -> {k} bytes | not buildable: {e} | | |"),
        }
    }
    let fq = crate::arith::bn254_fq();
    let l = fq.layout();
    for (count, k) in [(1usize, 20usize), (2, 20), (4, 16)] {
        let mut st = Vec::new();
        for j in 0..count {
            let x = fq.modulus().checked_sub(&crate::arith::Nat::from_u128(1 + j as u128)).expect("p > count");
            st.extend(l.to_stack(&x));
        }
        match blake3_of_bigints(&l, count, k) {
            Ok(f) => row(&format!("BLAKE3 of {count} Fq element(s) (limbs) -> {k} bytes"), &f, &st),
            Err(e) => println!("| BLAKE3 of {count} Fq elements -> {k} bytes | not buildable: {e} | | |"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::tests::{ok_stack, run};
    use proptest::prelude::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Official vectors (BLAKE3-team/BLAKE3 test_vectors/test_vectors.json): input byte i is
    /// i % 251; first 32 bytes of the extended output.
    #[test]
    fn native_matches_official_vectors() {
        let input = |n: usize| -> Vec<u8> { (0..n).map(|i| (i % 251) as u8).collect() };
        let cases = [
            (0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"),
            (1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"),
            (1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"),
            (1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"),
        ];
        for (n, want) in cases {
            assert_eq!(hex(&blake3_native(&input(n)).unwrap()), want, "input length {n}");
        }
        assert_eq!(blake3_native(&input(1025)), Err(HashError::InputTooLong(1025)));
    }

    fn script_hash(input: &[u8], out_len: usize) -> Vec<u8> {
        let f = blake3(input.len(), out_len).unwrap();
        let st = ok_stack(&f, &bytes_to_nibbles(input));
        assert_eq!(st.len(), 2 * out_len);
        st.chunks(2)
            .map(|p| {
                let hi = crate::exec::decode_num(&p[0], 4).unwrap();
                let lo = crate::exec::decode_num(&p[1], 4).unwrap();
                assert!((0..16).contains(&hi) && (0..16).contains(&lo));
                (hi * 16 + lo) as u8
            })
            .collect()
    }

    #[test]
    fn script_matches_vectors_and_native_at_edges() {
        let input = |n: usize| -> Vec<u8> { (0..n).map(|i| (i % 251) as u8).collect() };
        assert_eq!(hex(&script_hash(&[], 32)), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
        assert_eq!(hex(&script_hash(&input(1), 32)), "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213");
        for n in [63, 64, 65, 128] {
            let data: Vec<u8> = (0..n).map(|i| 255 - (i as u8)).collect();
            assert_eq!(script_hash(&data, 20), blake3_native(&data).unwrap()[..20].to_vec(), "n={n}");
        }
        assert_eq!(script_hash(&[0xff; 64], 32), blake3_native(&[0xff; 64]).unwrap().to_vec());
    }

    #[test]
    fn rejects_out_of_range_nibble_and_reports_limits() {
        let f = blake3(4, 16).unwrap();
        let mut st = bytes_to_nibbles(&[1, 2, 3, 4]);
        st[3] = encode_num(16);
        assert!(run(&f, &st).outcome.is_err());
        st[3] = encode_num(-1);
        assert!(run(&f, &st).outcome.is_err());
        assert_eq!(blake3(4, 0).unwrap_err(), HashError::BadOutputLength(0));
        assert!(matches!(blake3(400, 20), Err(HashError::StackTooDeep { .. })));
        let max = (0..=CHUNK_LEN).take_while(|&n| blake3(n, 32).is_ok()).last().unwrap();
        assert_eq!(max, MAX_INPUT_BYTES, "largest input that fits the stack");
        // and it really runs within the limits (the executor enforces 1000 items)
        let data: Vec<u8> = (0..max).map(|i| (i * 13) as u8).collect();
        let r = run(&blake3(max, 32).unwrap(), &bytes_to_nibbles(&data));
        assert!(r.outcome.is_ok(), "{:?}", r.outcome);
        assert!(r.peak_items <= 1000);
        assert_eq!(r.final_stack, bytes_to_nibbles(&blake3_native(&data).unwrap()));
    }

    #[test]
    fn hash_of_field_elements_matches_native() {
        let fq = crate::arith::bn254_fq();
        let l = fq.layout();
        let p = fq.modulus().clone();
        let one = crate::arith::Nat::from_u128(1);
        let vals = [p.checked_sub(&one).unwrap(), crate::arith::Nat::zero(), p.shr(3), one.clone()];
        for count in 1..=3 {
            let mut st = Vec::new();
            let mut bytes = Vec::new();
            for v in &vals[..count] {
                st.extend(l.to_stack(v));
                bytes.extend(v.to_be_bytes(32));
            }
            let f = blake3_of_bigints(&l, count, 20).unwrap();
            let out = ok_stack(&f, &st);
            let want = bytes_to_nibbles(&blake3_native(&bytes).unwrap()[..20]);
            assert_eq!(out, want, "count {count}");
        }
        // An odd number of nibbles per value (36 bits -> 9 nibbles -> padded to 5 bytes).
        let l36 = Layout::new(36, 29);
        let v = crate::arith::Nat::from_u128(0xa_bcde_f012);
        let out = ok_stack(&blake3_of_bigints(&l36, 1, 16).unwrap(), &l36.to_stack(&v));
        assert_eq!(out, bytes_to_nibbles(&blake3_native(&v.to_be_bytes(5)).unwrap()[..16]));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn script_matches_native(data in proptest::collection::vec(any::<u8>(), 0..=64), out_len in 1usize..=32) {
            let got = script_hash(&data, out_len);
            prop_assert_eq!(got, blake3_native(&data).unwrap()[..out_len].to_vec());
        }
    }
}
