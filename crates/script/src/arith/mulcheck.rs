//! Field multiplication by *checked products*: the witness supplies `C = A*B mod p` and the
//! quotient `Q = floor(A*B / p)`, and the script checks the integer identity
//! `A*B - Q*p - C = 0` column by column, without ever multiplying.
//!
//! # Method
//!
//! - A is re-expressed in `n` pieces `a_i` of [`PIECE_BITS`] (20) bits, at bit `20*i` (hinted;
//!   their sum is checked against A's 29-bit limbs by a carry chain, see below). B is given as
//!   `D` 4-bit digits `d_j` at bit `4*j` (Winternitz nibbles; in the limb variant they are hinted
//!   and checked against B's limbs the same way). Since 20 is a multiple of 4, the product
//!   `a_i * d_j` lands exactly on the nibble column `k = 5*i + j`.
//! - A table `T[d][i] = d * a_i` (`d < 16`, 15 additions per piece) is built on the stack; every
//!   digit is range-checked (`0 <= d < 16`) and turned once into a stack depth `e_j` such that
//!   `<e_j> OP_PICK` copies `T[d_j][i]` for every piece `i` it meets: the table is laid out
//!   digit-major and one dummy item is left above it every 5 columns, so the depth offset of
//!   piece `i` is absorbed by the column index. A product term then costs `<pick e_j> OP_PICK
//!   OP_ADD` (4-5 bytes).
//! - Q is hinted in 20-bit pieces as well; p is a constant, written in *signed* nibbles
//!   (`-8..=8`), so `Q*p` needs a table of `1..=8` times each piece and every term is a pick at
//!   a depth known when the script is built (`<depth> OP_PICK OP_SUB`).
//! - C is hinted in the field's normal 29-bit limbs; limb `i` is subtracted at bit `29*i`.
//!
//! # The carry chain and why it is sound
//!
//! The identity is `sum_u 2^{P_u} S_u = 0` over the sorted bit positions `P_u` where terms
//! appear (`S_u` the signed sum of the terms at `P_u`). The witness gives carries `c_u`; the
//! script computes `z_u = S_u + c_{u-1}` (`c_{-1} = 0`) and checks `z_u = 2^{P_{u+1}-P_u} c_u`
//! (by doubling `c_u`) and, at the last position, `z_u = 0`. Summing `2^{P_u} (z_u - S_u -
//! c_{u-1}) = 0` over `u` telescopes to `sum_u 2^{P_u} S_u = 0`. Every script operation is exact
//! integer arithmetic or the script fails (an operand that is not a 4-byte number makes the
//! executor and consensus fail), so no carry, piece or quotient needs a range check for
//! soundness: a wrong one can only make the script fail. What must be range-checked is exactly
//! what the identity cannot pin down: the digits (they select stack items) and C (limbs in
//! range and `C < p`, so that `A*B = Q*p + C` with `0 <= C < p` forces `C = A*B mod p`).
//!
//! Bounds (BN254, honest witness): pieces `< 2^20`, so a column holds at most 13 terms
//! `< 15 * 2^20` from `A*B` and 13 terms `<= 8 * 2^20` from `Q*p`: every partial column sum is
//! below `2^28` in absolute value, carries below `2^25`, C terms below `2^29` and every doubled
//! carry below its `|z_u| < 2^30`. Nothing an honest witness produces leaves the 4-byte range.
//! [`CheckedMul::new`] checks these bounds for the given field.

use std::collections::BTreeMap;

use bitcoin::opcodes::all::*;
use bitcoin::opcodes::Opcode;

use super::asm::Asm;
use super::field::PrimeField;
use super::nat::Nat;
use crate::builder::Fragment;
use crate::exec::encode_num;

/// Width of the pieces A and Q are cut into (a multiple of 4, so that products of a piece and
/// a nibble fall on nibble columns).
pub const PIECE_BITS: u32 = 20;
const M: usize = (PIECE_BITS / 4) as usize;
const NIBBLE: u32 = 4;

/// Why a checked multiplication cannot be set up or its hints computed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MulCheckError {
    /// The field is too large for the column sums to stay inside 4-byte script numbers.
    #[error("field of {bits} bits with {limb_bits}-bit limbs: {reason}")]
    FieldTooLarge {
        /// Bits of the modulus.
        bits: usize,
        /// Limb width of the field layout.
        limb_bits: u32,
        /// What does not fit.
        reason: &'static str,
    },
    /// An operand is out of range for the variant.
    #[error("{what} is out of range (must be below {bound})")]
    OperandOutOfRange {
        /// Which operand.
        what: &'static str,
        /// The bound, as text.
        bound: &'static str,
    },
}

/// Checked-product multiplication in a prime field (see the module documentation).
#[derive(Clone, Debug)]
pub struct CheckedMul {
    field: PrimeField,
    /// Number of nibbles of B (digits variant input): `ceil(bits(p) / 4)`.
    digits: usize,
    /// Pieces of A (`ceil(bits(p) / 20)`).
    a_pieces: usize,
    /// Pieces of Q for a general product (`Q < B < 2^(4*digits)`).
    q_pieces: usize,
    /// p in signed nibbles, least significant first, each in `-8..=8`.
    p_signed: Vec<i64>,
}

/// How the second factor arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Factor {
    /// Field layout limbs (input), nibbles hinted.
    Limbs,
    /// Nibbles (input), most significant deepest.
    Nibbles,
    /// A constant, in signed nibbles (least significant first).
    Const(Vec<i64>),
}

/// One term of an identity: a value and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Term {
    /// Limb `i` of A (field layout), consumed.
    ALimb(usize),
    /// Piece `i` of A (hint), copied.
    APiece(usize),
    /// Limb `i` of B (field layout), consumed.
    BLimb(usize),
    /// Nibble `j` of B, copied.
    BNibble(usize),
    /// Limb `i` of C (hint), copied.
    CLimb(usize),
    /// `d_j * a_i` by a computed-depth lookup.
    Prod { piece: usize, digit: usize },
    /// `mult * a_i` for a constant `mult` in `1..=8`.
    AConst { piece: usize, mult: usize },
    /// `mult * q_i` for a constant `mult` in `1..=8`.
    QConst { piece: usize, mult: usize },
}

/// Terms at one bit position, each with its sign (+1 or -1).
#[derive(Clone, Debug)]
struct Row {
    pos: u32,
    terms: Vec<(Term, i64)>,
}

/// Rows of an identity sorted by position.
fn rows_of(terms: Vec<(u32, Term, i64)>) -> Vec<Row> {
    let mut map: BTreeMap<u32, Vec<(Term, i64)>> = BTreeMap::new();
    for (pos, t, s) in terms {
        map.entry(pos).or_default().push((t, s));
    }
    map.into_iter().map(|(pos, terms)| Row { pos, terms }).collect()
}

/// The carries of an identity for the given term values; `None` if the identity does not hold.
fn carries(rows: &[Row], value: &dyn Fn(Term) -> i128) -> Option<Vec<i128>> {
    let mut out = Vec::with_capacity(rows.len().saturating_sub(1));
    let mut carry = 0i128;
    for (u, row) in rows.iter().enumerate() {
        let z = carry + row.terms.iter().map(|&(t, s)| s as i128 * value(t)).sum::<i128>();
        match rows.get(u + 1) {
            None => {
                if z != 0 {
                    return None;
                }
            }
            Some(next) => {
                let g = next.pos - row.pos;
                if z.rem_euclid(1i128 << g) != 0 {
                    return None;
                }
                carry = z >> g;
                out.push(carry);
            }
        }
    }
    Some(out)
}

/// Signed base-16 digits of `n` (least significant first), each in `-8..=7` except possibly
/// a final carry digit.
fn signed_nibbles(n: &Nat) -> Vec<i64> {
    let count = n.bits().div_ceil(4);
    let mut out = Vec::with_capacity(count + 1);
    let mut carry = 0i64;
    for j in 0..count {
        let mut d = n.bits_at(4 * j, 4) as i64 + carry;
        carry = 0;
        if d >= 8 {
            d -= 16;
            carry = 1;
        }
        out.push(d);
    }
    if carry != 0 {
        out.push(carry);
    }
    out
}

type Id = usize;

/// A script being assembled together with a model of the stack (item ids, bottom first), so
/// that picks and rolls find their depths by name.
struct Tracker {
    asm: Asm,
    stack: Vec<Id>,
    next: Id,
}

impl Tracker {
    /// A tracker whose stack holds `n` input items; returns their ids, deepest first.
    fn new(n: usize) -> (Tracker, Vec<Id>) {
        let ids: Vec<Id> = (0..n).collect();
        (Tracker { asm: Asm::new(), stack: ids.clone(), next: n }, ids)
    }

    fn fresh(&mut self) -> Id {
        self.next += 1;
        self.next - 1
    }

    fn depth(&self, id: Id) -> usize {
        let pos = self.stack.iter().rposition(|&x| x == id).expect("item is on the stack");
        self.stack.len() - 1 - pos
    }

    fn pick(&mut self, id: Id) -> Id {
        let d = self.depth(id);
        self.asm.pick(d);
        let f = self.fresh();
        self.stack.push(f);
        f
    }

    fn roll(&mut self, id: Id) {
        let d = self.depth(id);
        self.asm.roll(d);
        let pos = self.stack.len() - 1 - d;
        let x = self.stack.remove(pos);
        self.stack.push(x);
    }

    fn push_int(&mut self, v: i64) -> Id {
        self.asm.int(v);
        let f = self.fresh();
        self.stack.push(f);
        f
    }

    /// An opcode taking `pops` items and leaving `pushes` new ones.
    fn op(&mut self, op: Opcode, pops: usize, pushes: usize) {
        self.asm.op(op);
        for _ in 0..pops {
            self.stack.pop().expect("stack underflow in model");
        }
        for _ in 0..pushes {
            let f = self.fresh();
            self.stack.push(f);
        }
    }

    /// OP_TUCK: `[x y] -> [y x y]`.
    fn tuck(&mut self) {
        self.asm.op(OP_TUCK);
        let y = self.stack.pop().expect("two items");
        let x = self.stack.pop().expect("two items");
        let f = self.fresh();
        self.stack.extend([f, x, y]);
    }

    fn top(&self) -> Id {
        *self.stack.last().expect("non-empty stack")
    }
}

/// The values a witness is made of (hints and, for the native side, the inputs), least
/// significant first. Tests alter them to build dishonest witnesses.
#[derive(Clone, Debug)]
struct Witness {
    c: Vec<i128>,
    q: Vec<i128>,
    a: Vec<i128>,
    a_limbs: Vec<i128>,
    b_nibbles: Vec<i128>,
    b_limbs: Vec<i128>,
}

/// Stack ids of one run's inputs, by role.
#[derive(Default)]
struct Items {
    a_limbs: Vec<Id>,
    a_pieces: Vec<Id>,
    b_limbs: Vec<Id>,
    b_nibbles: Vec<Id>,
    c_limbs: Vec<Id>,
    q_pieces: Vec<Id>,
    main_carries: Vec<Id>,
    a_carries: Vec<Id>,
    b_carries: Vec<Id>,
}

/// Emission state of the main identity.
struct Tables {
    /// `a_tab[d][i]` = d * a_i (d from 0 for computed lookups, else 1..=8; index 0 unused then).
    a_tab: Vec<Vec<Id>>,
    /// `q_tab[d][i]` = d * q_i, d in 1..=8 (index 0 unused).
    q_tab: Vec<Vec<Id>>,
    /// Depth items e_j (computed-lookup variants).
    e: Vec<Id>,
    /// Base of the depth formula: `e_j = base + floor(j / M) - n * d_j`.
    base: usize,
    /// Dummy items left above the table so far.
    junk: usize,
}

impl CheckedMul {
    /// Set up for `field`; fails if its size would let a column sum leave the 4-byte range.
    pub fn new(field: &PrimeField) -> Result<Self, MulCheckError> {
        let p = field.modulus();
        let bits = p.bits();
        let limb_bits = field.layout().limb_bits;
        let err = |reason| MulCheckError::FieldTooLarge { bits, limb_bits, reason };
        let digits = bits.div_ceil(NIBBLE as usize);
        let a_pieces = bits.div_ceil(PIECE_BITS as usize);
        let q_pieces = (NIBBLE as usize * digits).div_ceil(PIECE_BITS as usize);
        // Column bound: (15 * a_pieces + 8 * q_pieces) * 2^20 plus carries must stay < 2^30.
        if (15 * a_pieces + 8 * q_pieces + 64) << PIECE_BITS >= 1 << 30 {
            return Err(err("too many pieces for 4-byte column sums"));
        }
        if limb_bits > 29 {
            return Err(err("limbs wider than 29 bits"));
        }
        // The computed depths e_j must stay small script numbers; the table has 16 * n items.
        if 16 * a_pieces + 8 * q_pieces + digits > 900 {
            return Err(err("tables would not fit the 1000-item stack"));
        }
        Ok(CheckedMul { field: field.clone(), digits, a_pieces, q_pieces, p_signed: signed_nibbles(p) })
    }

    /// The field.
    pub fn field(&self) -> &PrimeField {
        &self.field
    }

    /// Number of nibbles B has in [`CheckedMul::mul_digits`] (most significant deepest).
    pub fn digit_count(&self) -> usize {
        self.digits
    }

    fn limbs(&self) -> usize {
        self.field.layout().limbs()
    }

    fn limb_pos(&self, i: usize) -> u32 {
        self.field.layout().limb_bits * i as u32
    }

    /// `[hints.. A B] -> [A*B mod p]` for canonical A, B in the field layout (9 limbs of 29
    /// bits for BN254, most significant deepest). Hints: [`CheckedMul::mul_hints`].
    pub fn mul(&self) -> Fragment {
        self.build(&Factor::Limbs)
    }

    /// `[hints.. A b_{D-1} .. b_0] -> [A*B mod p]`: B as its `D` = [`CheckedMul::digit_count`]
    /// nibbles, most significant deepest (like [`PrimeField::mul_hinted_digits`]); every
    /// nibble is range-checked, B may be any value below `2^(4D)`. Hints:
    /// [`CheckedMul::mul_digits_hints`].
    pub fn mul_digits(&self) -> Fragment {
        self.build(&Factor::Nibbles)
    }

    /// `[hints.. A] -> [A*k mod p]` for a constant `k < p` fixed now. Hints:
    /// [`CheckedMul::mul_const_hints`] with the same `k`.
    pub fn mul_const(&self, k: &Nat) -> Result<Fragment, MulCheckError> {
        Ok(self.build(&self.const_factor(k)?))
    }

    fn const_factor(&self, k: &Nat) -> Result<Factor, MulCheckError> {
        if k >= self.field.modulus() {
            return Err(MulCheckError::OperandOutOfRange { what: "constant k", bound: "p" });
        }
        Ok(Factor::Const(signed_nibbles(k)))
    }

    /// Hint items of [`CheckedMul::mul`].
    pub fn mul_hint_count(&self) -> usize {
        self.hint_count(&Factor::Limbs)
    }

    /// Hint items of [`CheckedMul::mul_digits`].
    pub fn mul_digits_hint_count(&self) -> usize {
        self.hint_count(&Factor::Nibbles)
    }

    /// Hint items of [`CheckedMul::mul_const`] for this `k`.
    pub fn mul_const_hint_count(&self, k: &Nat) -> Result<usize, MulCheckError> {
        Ok(self.hint_count(&self.const_factor(k)?))
    }

    /// Witness items (deepest first) that [`CheckedMul::mul`] expects under A and B, for
    /// canonical `a`, `b`.
    pub fn mul_hints(&self, a: &Nat, b: &Nat) -> Result<Vec<Vec<u8>>, MulCheckError> {
        self.check_below_p(b, "B")?;
        self.hints(&Factor::Limbs, a, b)
    }

    /// Witness items (deepest first) that [`CheckedMul::mul_digits`] expects under A and B's
    /// nibbles; `b < 2^(4 * digit_count())`.
    pub fn mul_digits_hints(&self, a: &Nat, b: &Nat) -> Result<Vec<Vec<u8>>, MulCheckError> {
        if b.bits() > NIBBLE as usize * self.digits {
            return Err(MulCheckError::OperandOutOfRange { what: "B", bound: "2^(4 * digit_count)" });
        }
        self.hints(&Factor::Nibbles, a, b)
    }

    /// Witness items (deepest first) that [`CheckedMul::mul_const`]`(k)` expects under A.
    pub fn mul_const_hints(&self, k: &Nat, a: &Nat) -> Result<Vec<Vec<u8>>, MulCheckError> {
        let f = self.const_factor(k)?;
        self.hints(&f, a, k)
    }

    fn check_below_p(&self, x: &Nat, what: &'static str) -> Result<(), MulCheckError> {
        if x >= self.field.modulus() {
            return Err(MulCheckError::OperandOutOfRange { what, bound: "p" });
        }
        Ok(())
    }

    /// Pieces of the quotient for this factor.
    fn q_piece_count(&self, f: &Factor) -> usize {
        match f {
            Factor::Const(k) => {
                // Q < k < 16^len(k).
                (NIBBLE as usize * k.len()).div_ceil(PIECE_BITS as usize)
            }
            _ => self.q_pieces,
        }
    }

    /// The main identity `A*B - Q*p - C = 0`.
    fn main_rows(&self, f: &Factor) -> Vec<Row> {
        let mut t = Vec::new();
        for i in 0..self.a_pieces {
            match f {
                Factor::Const(k) => {
                    for (j, &kj) in k.iter().enumerate() {
                        if kj != 0 {
                            let pos = NIBBLE * (M * i + j) as u32;
                            t.push((pos, Term::AConst { piece: i, mult: kj.unsigned_abs() as usize }, kj.signum()));
                        }
                    }
                }
                _ => {
                    for j in 0..self.digits {
                        t.push((NIBBLE * (M * i + j) as u32, Term::Prod { piece: i, digit: j }, 1));
                    }
                }
            }
        }
        for i in 0..self.q_piece_count(f) {
            for (j, &pj) in self.p_signed.iter().enumerate() {
                if pj != 0 {
                    let pos = NIBBLE * (M * i + j) as u32;
                    t.push((pos, Term::QConst { piece: i, mult: pj.unsigned_abs() as usize }, -pj.signum()));
                }
            }
        }
        for i in 0..self.limbs() {
            t.push((self.limb_pos(i), Term::CLimb(i), -1));
        }
        rows_of(t)
    }

    /// `sum a_piece_i 2^(20 i) - sum a_limb_i 2^(29 i) = 0`.
    fn a_rows(&self) -> Vec<Row> {
        let mut t: Vec<(u32, Term, i64)> =
            (0..self.a_pieces).map(|i| (PIECE_BITS * i as u32, Term::APiece(i), 1)).collect();
        t.extend((0..self.limbs()).map(|i| (self.limb_pos(i), Term::ALimb(i), -1)));
        rows_of(t)
    }

    /// `sum nibble_j 16^j - sum b_limb_i 2^(29 i) = 0`.
    fn b_rows(&self) -> Vec<Row> {
        let mut t: Vec<(u32, Term, i64)> =
            (0..self.digits).map(|j| (NIBBLE * j as u32, Term::BNibble(j), 1)).collect();
        t.extend((0..self.limbs()).map(|i| (self.limb_pos(i), Term::BLimb(i), -1)));
        rows_of(t)
    }

    fn hint_count(&self, f: &Factor) -> usize {
        let chain = |rows: Vec<Row>| rows.len() - 1;
        let mut n = self.limbs() + chain(self.main_rows(f)) + self.q_piece_count(f) + self.a_pieces + chain(self.a_rows());
        if *f == Factor::Limbs {
            n += self.digits + chain(self.b_rows());
        }
        n
    }

    fn hints(&self, f: &Factor, a: &Nat, b: &Nat) -> Result<Vec<Vec<u8>>, MulCheckError> {
        self.check_below_p(a, "A")?;
        let w = self.witness(f, a, b);
        Ok(self.encode(f, &w).expect("identity holds for honest values"))
    }

    /// The honest witness values for `a * b` (`b` is the constant for [`Factor::Const`]).
    fn witness(&self, f: &Factor, a: &Nat, b: &Nat) -> Witness {
        let layout = self.field.layout();
        let (q, c) = a.mul(b).div_rem(self.field.modulus());
        let pieces = |x: &Nat, n: usize| -> Vec<i128> {
            (0..n).map(|i| x.bits_at(PIECE_BITS as usize * i, PIECE_BITS as usize) as i128).collect()
        };
        let limbs = |x: &Nat| -> Vec<i128> { layout.to_limbs(x).into_iter().map(i128::from).collect() };
        Witness {
            c: limbs(&c),
            q: pieces(&q, self.q_piece_count(f)),
            a: pieces(a, self.a_pieces),
            a_limbs: limbs(a),
            b_nibbles: (0..self.digits).map(|j| b.bits_at(4 * j, 4) as i128).collect(),
            b_limbs: if *f == Factor::Limbs { limbs(b) } else { Vec::new() },
        }
    }

    /// Hint items for the witness values `w`; `None` if an identity does not hold for them.
    fn encode(&self, f: &Factor, w: &Witness) -> Option<Vec<Vec<u8>>> {
        let value = |t: Term| -> i128 {
            match t {
                Term::ALimb(i) => w.a_limbs[i],
                Term::APiece(i) => w.a[i],
                Term::BLimb(i) => w.b_limbs[i],
                Term::BNibble(j) => w.b_nibbles[j],
                Term::CLimb(i) => w.c[i],
                Term::Prod { piece: i, digit: j } => w.a[i] * w.b_nibbles[j],
                Term::AConst { piece: i, mult } => w.a[i] * mult as i128,
                Term::QConst { piece: i, mult } => w.q[i] * mult as i128,
            }
        };
        let num = |v: &i128| encode_num(i64::try_from(*v).expect("hint fits i64"));
        let mut out = Vec::with_capacity(self.hint_count(f));
        out.extend(w.c.iter().rev().map(num));
        out.extend(carries(&self.main_rows(f), &value)?.iter().map(num));
        out.extend(w.q.iter().rev().map(num));
        out.extend(w.a.iter().rev().map(num));
        out.extend(carries(&self.a_rows(), &value)?.iter().map(num));
        if *f == Factor::Limbs {
            out.extend(w.b_nibbles.iter().rev().map(num));
            out.extend(carries(&self.b_rows(), &value)?.iter().map(num));
        }
        debug_assert_eq!(out.len(), self.hint_count(f));
        Some(out)
    }

    /// Name the initial stack items in the witness order of [`CheckedMul::hints`] followed by
    /// the inputs.
    fn initial_items(&self, f: &Factor) -> (Tracker, Items) {
        let l = self.limbs();
        let main = self.main_rows(f).len() - 1;
        let nq = self.q_piece_count(f);
        let ac = self.a_rows().len() - 1;
        let (bn, bc) = if *f == Factor::Limbs { (self.digits, self.b_rows().len() - 1) } else { (0, 0) };
        let inputs = match f {
            Factor::Limbs => 2 * l,
            Factor::Nibbles => l + self.digits,
            Factor::Const(_) => l,
        };
        let total = self.hint_count(f) + inputs;
        let (tr, ids) = Tracker::new(total);
        let mut it = ids.into_iter();
        let mut take = |n: usize| -> Vec<Id> { (&mut it).take(n).collect() };
        let rev = |mut v: Vec<Id>| {
            v.reverse();
            v
        };
        let mut items = Items {
            c_limbs: rev(take(l)),
            main_carries: take(main),
            q_pieces: rev(take(nq)),
            a_pieces: rev(take(self.a_pieces)),
            a_carries: take(ac),
            ..Default::default()
        };
        items.b_nibbles = rev(take(bn));
        items.b_carries = take(bc);
        items.a_limbs = rev(take(l));
        match f {
            Factor::Limbs => items.b_limbs = rev(take(l)),
            Factor::Nibbles => items.b_nibbles = rev(take(self.digits)),
            Factor::Const(_) => {}
        }
        (tr, items)
    }

    fn build(&self, f: &Factor) -> Fragment {
        let (mut tr, items) = self.initial_items(f);
        let consumed = tr.stack.len();
        let n = self.a_pieces;
        // 1. Re-expressions: B's nibbles against its limbs, A's pieces against its limbs.
        if *f == Factor::Limbs {
            self.emit_chain(&mut tr, &self.b_rows(), &items.b_carries, &mut |tr, t| match t {
                Term::BNibble(j) => {
                    tr.pick(items.b_nibbles[j]);
                }
                Term::BLimb(i) => tr.roll(items.b_limbs[i]),
                _ => unreachable!("B rows hold nibbles and limbs"),
            });
        }
        self.emit_chain(&mut tr, &self.a_rows(), &items.a_carries, &mut |tr, t| match t {
            Term::APiece(i) => {
                tr.pick(items.a_pieces[i]);
            }
            Term::ALimb(i) => tr.roll(items.a_limbs[i]),
            _ => unreachable!("A rows hold pieces and limbs"),
        });
        // 2. Tables.
        let computed = !matches!(f, Factor::Const(_));
        let a_tab = build_table(&mut tr, &items.a_pieces, if computed { 15 } else { 8 }, computed);
        let q_tab = build_table(&mut tr, &items.q_pieces, 8, false);
        let mut tabs = Tables { a_tab, q_tab, e: Vec::new(), base: 0, junk: 0 };
        // 3. Digits -> depths e_j = base + floor(j/M) - n*d_j, through a table of base - n*d.
        if computed {
            // After the 16 constants and the D depths, plus the accumulator on top.
            tabs.base = tr.depth(tabs.a_tab[0][0]) + 16 + self.digits + 1;
            let consts: Vec<Id> = (0..16).rev().map(|d| tr.push_int((tabs.base - n * d) as i64)).collect();
            let v0 = *consts.last().expect("16 constants");
            for j in 0..self.digits {
                tr.roll(items.b_nibbles[j]);
                tr.asm.op(OP_DUP).int(0).int(16).ops(&[OP_WITHIN, OP_VERIFY]);
                let off = tr.depth(v0) - 1;
                if off > 0 {
                    tr.push_int(off as i64);
                    tr.op(OP_ADD, 2, 1);
                }
                tr.op(OP_PICK, 1, 1);
                let shift = j / M;
                if shift > 0 {
                    tr.push_int(shift as i64);
                    tr.op(OP_ADD, 2, 1);
                }
                tabs.e.push(tr.top());
            }
        }
        // 4. The main identity.
        let rows = self.main_rows(f);
        let mut on_row = |tr: &mut Tracker, row: &Row, tabs: &mut Tables| {
            if computed {
                // One dummy item per M columns keeps the depth formula of e_j valid.
                let want = (row.pos / NIBBLE) as usize / M;
                while tabs.junk < want {
                    tr.op(OP_DUP, 1, 2);
                    tabs.junk += 1;
                }
            }
        };
        self.emit_chain_with(&mut tr, &rows, &items.main_carries, &mut tabs, &mut on_row, &mut |tr, t, tabs| {
            match t {
                Term::CLimb(i) => {
                    tr.pick(items.c_limbs[i]);
                }
                Term::Prod { piece: i, digit: j } => {
                    let d0 = tr.depth(tabs.a_tab[0][i]);
                    let d1 = tr.depth(tabs.a_tab[1][i]);
                    assert_eq!(d0, tabs.base + j / M, "depth formula of e_{j} broken");
                    assert_eq!(d0 - d1, n, "table is digit-major");
                    tr.pick(tabs.e[j]);
                    tr.op(OP_PICK, 1, 1);
                }
                Term::AConst { piece: i, mult } => {
                    tr.pick(tabs.a_tab[mult][i]);
                }
                Term::QConst { piece: i, mult } => {
                    tr.pick(tabs.q_tab[mult][i]);
                }
                _ => unreachable!("main rows hold products and C"),
            }
        });
        // 5. Drop everything above C, then C must be canonical.
        let c_top = tr.depth(items.c_limbs[0]);
        tr.asm.drop_n(c_top);
        let l = self.limbs();
        tr.asm.fragment().append(&self.field.check_canonical()).with_effect(consumed, l)
    }

    fn emit_chain(&self, tr: &mut Tracker, rows: &[Row], carries: &[Id], term: &mut dyn FnMut(&mut Tracker, Term)) {
        let mut unit = ();
        self.emit_chain_with(tr, rows, carries, &mut unit, &mut |_, _, _| {}, &mut |tr, t, _| term(tr, t));
    }

    /// Emit the carry chain of an identity: accumulator on top, each term pushed by `term`
    /// and added or subtracted, then the carry step to the next position.
    fn emit_chain_with<S>(
        &self,
        tr: &mut Tracker,
        rows: &[Row],
        carries: &[Id],
        state: &mut S,
        on_row: &mut dyn FnMut(&mut Tracker, &Row, &mut S),
        term: &mut dyn FnMut(&mut Tracker, Term, &mut S),
    ) {
        debug_assert_eq!(carries.len() + 1, rows.len());
        tr.push_int(0);
        for (u, row) in rows.iter().enumerate() {
            on_row(tr, row, state);
            for &(t, s) in &row.terms {
                term(tr, t, state);
                tr.op(if s > 0 { OP_ADD } else { OP_SUB }, 2, 1);
            }
            match rows.get(u + 1) {
                None => {
                    tr.op(OP_NOT, 1, 1);
                    tr.op(OP_VERIFY, 1, 0);
                }
                Some(next) => {
                    // [z] -> [z c] -> [c z c] -> [c z c*2^g] -> [c]
                    tr.roll(carries[u]);
                    tr.tuck();
                    for _ in 0..next.pos - row.pos {
                        tr.op(OP_DUP, 1, 2);
                        tr.op(OP_ADD, 2, 1);
                    }
                    tr.op(OP_NUMEQUALVERIFY, 2, 0);
                }
            }
        }
    }
}

/// Build `t[d][i] = d * x_i` for `d` in `1..=max` (and a zero block `d = 0` if `zero`), digit
/// major: all pieces of `d` lie together, `d = 0` deepest, pieces in index order. The pieces
/// are consumed (they become block 1).
fn build_table(tr: &mut Tracker, pieces: &[Id], max: usize, zero: bool) -> Vec<Vec<Id>> {
    let n = pieces.len();
    let mut t: Vec<Vec<Id>> = vec![Vec::new(); max + 1];
    if zero {
        t[0] = (0..n).map(|_| tr.push_int(0)).collect();
    }
    for &p in pieces {
        tr.roll(p);
        t[1].push(p);
    }
    for d in 2..=max {
        for i in 0..n {
            tr.pick(t[d - 1][i]);
            tr.pick(t[1][i]);
            tr.op(OP_ADD, 2, 1);
            t[d].push(tr.top());
        }
    }
    t
}

#[cfg(test)]
mod tests;
