//! Field multiplication by *checked products*: the witness supplies `C = A*B mod p` and the
//! quotient `Q = floor(A*B / p)`, and the script checks the integer identity
//! `A*B - Q*p - C = 0` column by column, without ever multiplying.
//!
//! # Method
//!
//! - A is re-expressed in `n` pieces `a_i` of [`PIECE_BITS`] (20) bits, at bit `20*i` (hinted;
//!   their sum is checked against A's 29-bit limbs by a carry chain, see below). B is given as
//!   `D` 4-bit digits `d_j` at bit `4*j` (Winternitz nibbles; in the limb variant they are hinted
//!   and B's limbs are rebuilt from them, see `emit_b_limbs`). Since 20 is a multiple of 4, the product
//!   `a_i * d_j` lands exactly on the nibble column `k = 5*i + j`.
//! - A table `T[d][i] = d * a_i` (`d < 16`, 15 additions per piece) is built on the stack; every
//!   digit is range-checked (`0 <= d < 16`) and turned once into a stack depth `e_j` such that
//!   `<e_j> OP_PICK` copies `T[d_j][i]` for every piece `i` it meets: the table is laid out
//!   digit-major and one dummy item is left above it every 5 columns, so the depth offset of
//!   piece `i` is absorbed by the column index. A product term then costs `<pick e_j> OP_PICK
//!   OP_ADD` (4-5 bytes).
//! - Q is hinted in pieces too (24 bits for BN254, see the bounds below); p is a constant,
//!   written in *signed* nibbles (`-8..=8`), so `Q*p` needs a table of `1..=8` times each piece
//!   and every term is a pick at a depth known when the script is built (`<depth> OP_PICK
//!   OP_SUB`).
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
//! Bounds: for an honest witness A's pieces are `< 2^20` and Q's `< 2^24` (Q's table only goes
//! to 8 times a piece, so its pieces can be wider), so a column holds at most 13 terms
//! `< 15 * 2^20` from `A*B` and 11 terms `<= 8 * 2^24` from `Q*p`, plus a carry. Rather than a
//! hand proof, [`CheckedMul::new`] walks every row of every identity with the largest honest
//! value of each term and accepts the layout only if the sum of all term bounds plus the
//! incoming carry bound (a bound on every partial sum, whatever the signs) stays below `2^31`;
//! the doubled carry never exceeds that `|z_u|`. For BN254 the largest such bound is below
//! `2^31` with the 24-bit Q pieces (it picks 20-bit ones otherwise).
//!
//! Sums of products ([`CheckedMul::sum_of_products`]) check `sum_t +-A_t*B_t = Q*p + C` with
//! one quotient (possibly negative), one carry chain and one C check.
//!
//! Cost (BN254, `examples/fq_mul_cost.rs`): 12.3 KB for [`CheckedMul::mul_digits`], 13.1 KB
//! for [`CheckedMul::mul`], against 67-72 KB for [`PrimeField::mul_hinted`]`(4)`; peak 517
//! stack items. `a0*b0 - a1*b1` costs 19.9-21.6 KB (peak 789) instead of 24.9-26.5 KB.

use std::collections::BTreeMap;

use bitcoin::opcodes::all::*;
use bitcoin::opcodes::Opcode;

use super::asm::Asm;
use super::field::PrimeField;
use super::nat::Nat;
use crate::builder::Fragment;
use crate::exec::encode_num;

/// Width of the pieces A is cut into (a multiple of 4, so that products of a piece and a nibble
/// fall on nibble columns): `15 * (2^20 - 1)` times the number of pieces stays far below 2^31.
pub const PIECE_BITS: u32 = 20;
/// Widths tried for the pieces of Q, widest first (the multiples of a Q piece in the table
/// only go up to 8, so Q pieces can be wider than A's); the widest whose column sums provably
/// fit 4-byte numbers is used.
const Q_PIECE_BITS: [u32; 2] = [24, 20];
/// Largest absolute value any intermediate may reach (a 4-byte script number).
const MAX_NUM: i128 = (1 << 31) - 1;
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
    /// A sum of products needs at least one product.
    #[error("a sum of products needs at least one product")]
    NoProducts,
    /// The operands given do not match the number of products.
    #[error("expected {expected} operand pairs, got {got}")]
    ProductCount {
        /// Products of the gadget.
        expected: usize,
        /// Pairs given.
        got: usize,
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
    /// Width of Q's pieces (a multiple of 4).
    q_bits: u32,
    /// p in signed nibbles, least significant first, each in `-8..=8`.
    p_signed: Vec<i64>,
}

/// How the second factor of each product arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Form {
    /// Field layout limbs (input), nibbles hinted.
    Limbs,
    /// Nibbles (input), most significant deepest.
    Nibbles,
    /// A constant, in signed nibbles (least significant first).
    Const(Vec<i64>),
}

/// What is checked: `sum_t signs[t] * A_t * B_t = Q*p + C` (one product for a plain
/// multiplication; a constant B allows one product only).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Factor {
    form: Form,
    signs: Vec<i64>,
}

impl Factor {
    fn single(form: Form) -> Self {
        Factor { form, signs: vec![1] }
    }

    fn products(&self) -> usize {
        self.signs.len()
    }
}

/// One term of an identity: a value and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Term {
    /// Limb `i` of product `t`'s A (field layout), consumed.
    ALimb(usize, usize),
    /// Piece `i` of product `t`'s A (hint), copied.
    APiece(usize, usize),
    /// Limb `i` of C (hint), copied.
    CLimb(usize),
    /// `d_j * a_i` of product `t` by a computed-depth lookup.
    Prod { t: usize, piece: usize, digit: usize },
    /// `mult * a_i` for a constant `mult` in `1..=8` (constant products: one product).
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

/// Consecutive rows checked together: their terms are combined by Horner's rule (each row
/// shifted by its distance to the group's lowest position) and one carry leaves the group.
type Group = Vec<Row>;

/// The carries of an identity for the given term values; `None` if the identity does not hold.
fn carries(groups: &[Group], value: &dyn Fn(Term) -> i128) -> Option<Vec<i128>> {
    let mut out = Vec::with_capacity(groups.len().saturating_sub(1));
    let mut carry = 0i128;
    for (u, group) in groups.iter().enumerate() {
        let low = group[0].pos;
        let z = carry
            + group
                .iter()
                .map(|row| row.terms.iter().map(|&(t, s)| s as i128 * value(t)).sum::<i128>() << (row.pos - low))
                .sum::<i128>();
        match groups.get(u + 1) {
            None => {
                if z != 0 {
                    return None;
                }
            }
            Some(next) => {
                let g = next[0].pos - low;
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
    /// Per product: A's pieces, A's limbs, B's nibbles.
    a: Vec<Vec<i128>>,
    a_limbs: Vec<Vec<i128>>,
    b_nibbles: Vec<Vec<i128>>,
}

/// Stack ids of one run's inputs, by role.
#[derive(Default)]
struct Items {
    a_limbs: Vec<Vec<Id>>,
    a_pieces: Vec<Vec<Id>>,
    b_limbs: Vec<Vec<Id>>,
    b_nibbles: Vec<Vec<Id>>,
    c_limbs: Vec<Id>,
    q_pieces: Vec<Id>,
    main_carries: Vec<Id>,
    a_carries: Vec<Vec<Id>>,
    /// Per product, the split hints of B's nibbles that straddle a limb boundary.
    b_splits: Vec<Vec<Id>>,
}

/// Emission state of the main identity.
struct Tables {
    /// Per product, `a_tab[t][d][i]` = d * a_i (d from 0 for computed lookups, else 1..=8;
    /// index 0 unused then).
    a_tab: Vec<Vec<Vec<Id>>>,
    /// `q_tab[d][i]` = d * q_i, d in 1..=8 (index 0 unused).
    q_tab: Vec<Vec<Id>>,
    /// Per product, depth items e_j (computed-lookup variants).
    e: Vec<Vec<Id>>,
    /// Per product, base of the depth formula: `e_j = base + floor(j / M) - n * d_j`.
    base: Vec<usize>,
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
        if limb_bits > 29 {
            return Err(err("limbs wider than 29 bits"));
        }
        let digits = bits.div_ceil(NIBBLE as usize);
        let a_pieces = bits.div_ceil(PIECE_BITS as usize);
        // The tables and depths must fit the stack with room to spare.
        if 16 * a_pieces + 8 * a_pieces + 2 * digits > 800 {
            return Err(err("tables would not fit the 1000-item stack"));
        }
        let mut last = Err(err("no quotient piece width keeps the column sums in 4-byte numbers"));
        for q_bits in Q_PIECE_BITS {
            let m = CheckedMul { field: field.clone(), digits, a_pieces, q_bits, p_signed: signed_nibbles(p) };
            let fits = |rows, merge| m.group(rows, merge).is_some();
            if fits(m.main_rows(&Factor::single(Form::Nibbles)), false) && fits(m.a_rows(0), true) {
                last = Ok(m);
                break;
            }
        }
        last
    }

    /// Largest absolute value of a term for an honest witness.
    fn term_bound(&self, t: Term) -> i128 {
        let layout = self.field.layout();
        let below = |bits: u32| (1i128 << bits) - 1;
        let a = below(PIECE_BITS);
        match t {
            Term::ALimb(_, i) | Term::CLimb(i) => below(layout.limb_width(i)),
            Term::APiece(..) => a,
            Term::Prod { .. } => 15 * a,
            Term::AConst { mult, .. } => mult as i128 * a,
            Term::QConst { mult, .. } => mult as i128 * below(self.q_bits),
        }
    }

    /// Group the rows of an identity (one row per group unless `merge`), such that every
    /// intermediate stays within 4-byte numbers for every honest witness: a Horner partial sum
    /// is at most the incoming carry plus the shifted term bounds of the group, a carry at most
    /// that over `2^gap`, and the doubled carry at most `|z|`. `None` if even single rows can
    /// overflow. Merging saves a carry hint and a carry check per merged row but costs doublings.
    fn group(&self, rows: Vec<Row>, merge: bool) -> Option<Vec<Group>> {
        let bound = |row: &Row| row.terms.iter().map(|&(t, _)| self.term_bound(t)).sum::<i128>();
        let mut groups: Vec<Group> = Vec::new();
        let mut carry = 0i128;
        let mut rows = rows.into_iter().peekable();
        while let Some(first) = rows.next() {
            let low = first.pos;
            let mut z = carry + bound(&first);
            if z > MAX_NUM {
                return None;
            }
            let mut group = vec![first];
            while let Some(next) = rows.peek().filter(|_| merge) {
                let shift = next.pos - low;
                // Horner doubles the group by its span and the carry step doubles the carry
                // again (2 bytes per bit each), while a carry step costs about 7 bytes: merge
                // only rows at most 2 bits apart.
                let gap = next.pos - group.last().expect("non-empty").pos;
                let more = (bound(next) as f64) * 2f64.powi(shift as i32);
                if gap > 2 || shift >= 31 || z as f64 + more > MAX_NUM as f64 {
                    break;
                }
                z += bound(next) << shift;
                group.push(rows.next().expect("peeked"));
            }
            if let Some(next) = rows.peek() {
                carry = z >> (next.pos - low);
            }
            groups.push(group);
        }
        Some(groups)
    }

    fn main_groups(&self, f: &Factor) -> Vec<Group> {
        self.group(self.main_rows(f), false).expect("bounds checked when set up")
    }

    fn a_groups(&self, t: usize) -> Vec<Group> {
        self.group(self.a_rows(t), true).expect("bounds checked when set up")
    }

    /// B's nibbles that straddle a limb boundary, as `(nibble s, bits r of it below the
    /// boundary)`, one per boundary `29k` (k = 1..limbs) that is not a multiple of 4.
    fn straddlers(&self) -> Vec<(usize, u32)> {
        (1..self.limbs())
            .map(|k| self.limb_pos(k))
            .filter(|b| b % NIBBLE != 0)
            .map(|b| ((b / NIBBLE) as usize, b % NIBBLE))
            .collect()
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
        self.build(&Factor::single(Form::Limbs))
    }

    /// `[hints.. A b_{D-1} .. b_0] -> [A*B mod p]`: B as its `D` = [`CheckedMul::digit_count`]
    /// nibbles, most significant deepest (like [`PrimeField::mul_hinted_digits`]); every
    /// nibble is range-checked, B may be any value below `2^(4D)`. Hints:
    /// [`CheckedMul::mul_digits_hints`].
    pub fn mul_digits(&self) -> Fragment {
        self.build(&Factor::single(Form::Nibbles))
    }

    /// `[hints.. A_1 B_1 .. A_T B_T] -> [sum_t (-1)^negate[t] A_t*B_t mod p]` for canonical
    /// operands in the field layout, with one quotient, one carry chain and one C check for the
    /// whole sum (e.g. `a0*b0 - a1*b1` of an Fq2 product with `negate = [false, true]`).
    /// Hints: [`CheckedMul::sum_of_products_hints`].
    pub fn sum_of_products(&self, negate: &[bool]) -> Result<Fragment, MulCheckError> {
        Ok(self.build(&self.sum_factor(Form::Limbs, negate)?))
    }

    /// Like [`CheckedMul::sum_of_products`] with every `B_t` as its nibbles (most significant
    /// deepest, range-checked, any value below `2^(4D)`): `[hints.. A_1 b_1.. .. A_T b_T..]`.
    /// Hints: [`CheckedMul::sum_of_products_digits_hints`].
    pub fn sum_of_products_digits(&self, negate: &[bool]) -> Result<Fragment, MulCheckError> {
        Ok(self.build(&self.sum_factor(Form::Nibbles, negate)?))
    }

    /// Hint items of [`CheckedMul::sum_of_products`].
    pub fn sum_of_products_hint_count(&self, negate: &[bool]) -> Result<usize, MulCheckError> {
        Ok(self.hint_count(&self.sum_factor(Form::Limbs, negate)?))
    }

    /// Hint items of [`CheckedMul::sum_of_products_digits`].
    pub fn sum_of_products_digits_hint_count(&self, negate: &[bool]) -> Result<usize, MulCheckError> {
        Ok(self.hint_count(&self.sum_factor(Form::Nibbles, negate)?))
    }

    /// Witness items (deepest first) that [`CheckedMul::sum_of_products`]`(negate)` expects
    /// under its operands; `pairs[t] = (a_t, b_t)`, all canonical.
    pub fn sum_of_products_hints(&self, negate: &[bool], pairs: &[(Nat, Nat)]) -> Result<Vec<Vec<u8>>, MulCheckError> {
        let f = self.sum_factor(Form::Limbs, negate)?;
        for (_, b) in pairs {
            self.check_below_p(b, "B")?;
        }
        self.hints(&f, pairs)
    }

    /// Witness items (deepest first) that [`CheckedMul::sum_of_products_digits`]`(negate)`
    /// expects under its operands; `b_t < 2^(4 * digit_count())`.
    pub fn sum_of_products_digits_hints(&self, negate: &[bool], pairs: &[(Nat, Nat)]) -> Result<Vec<Vec<u8>>, MulCheckError> {
        let f = self.sum_factor(Form::Nibbles, negate)?;
        for (_, b) in pairs {
            self.check_digits(b)?;
        }
        self.hints(&f, pairs)
    }

    fn sum_factor(&self, form: Form, negate: &[bool]) -> Result<Factor, MulCheckError> {
        let f = Factor { form, signs: negate.iter().map(|&n| if n { -1 } else { 1 }).collect() };
        let too_large = |reason| MulCheckError::FieldTooLarge {
            bits: self.field.modulus().bits(),
            limb_bits: self.field.layout().limb_bits,
            reason,
        };
        if negate.is_empty() {
            return Err(MulCheckError::NoProducts);
        }
        // Stack at the start of the identity: per product a table and the depths, then Q's
        // table, the 16 constants, the carries and C.
        let items = f.products() * (16 * self.a_pieces + self.digits)
            + 8 * self.q_piece_count(&f)
            + 16
            + self.main_groups_checked(&f).ok_or(too_large("column sums of this sum of products may overflow"))?.len()
            + self.limbs();
        if items > 950 {
            return Err(too_large("this many products do not fit the 1000-item stack"));
        }
        Ok(f)
    }

    fn main_groups_checked(&self, f: &Factor) -> Option<Vec<Group>> {
        self.group(self.main_rows(f), false)
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
        let f = Factor::single(Form::Const(signed_nibbles(k)));
        if self.group(self.main_rows(&f), false).is_none() {
            return Err(MulCheckError::FieldTooLarge {
                bits: self.field.modulus().bits(),
                limb_bits: self.field.layout().limb_bits,
                reason: "column sums of this constant product may overflow",
            });
        }
        Ok(f)
    }

    /// Hint items of [`CheckedMul::mul`].
    pub fn mul_hint_count(&self) -> usize {
        self.hint_count(&Factor::single(Form::Limbs))
    }

    /// Hint items of [`CheckedMul::mul_digits`].
    pub fn mul_digits_hint_count(&self) -> usize {
        self.hint_count(&Factor::single(Form::Nibbles))
    }

    /// Hint items of [`CheckedMul::mul_const`] for this `k`.
    pub fn mul_const_hint_count(&self, k: &Nat) -> Result<usize, MulCheckError> {
        Ok(self.hint_count(&self.const_factor(k)?))
    }

    /// Witness items (deepest first) that [`CheckedMul::mul`] expects under A and B, for
    /// canonical `a`, `b`.
    pub fn mul_hints(&self, a: &Nat, b: &Nat) -> Result<Vec<Vec<u8>>, MulCheckError> {
        self.check_below_p(b, "B")?;
        self.hints(&Factor::single(Form::Limbs), &[(a.clone(), b.clone())])
    }

    /// Witness items (deepest first) that [`CheckedMul::mul_digits`] expects under A and B's
    /// nibbles; `b < 2^(4 * digit_count())`.
    pub fn mul_digits_hints(&self, a: &Nat, b: &Nat) -> Result<Vec<Vec<u8>>, MulCheckError> {
        self.check_digits(b)?;
        self.hints(&Factor::single(Form::Nibbles), &[(a.clone(), b.clone())])
    }

    fn check_digits(&self, b: &Nat) -> Result<(), MulCheckError> {
        if b.bits() > NIBBLE as usize * self.digits {
            return Err(MulCheckError::OperandOutOfRange { what: "B", bound: "2^(4 * digit_count)" });
        }
        Ok(())
    }

    /// Witness items (deepest first) that [`CheckedMul::mul_const`]`(k)` expects under A.
    pub fn mul_const_hints(&self, k: &Nat, a: &Nat) -> Result<Vec<Vec<u8>>, MulCheckError> {
        let f = self.const_factor(k)?;
        self.hints(&f, &[(a.clone(), k.clone())])
    }

    fn check_below_p(&self, x: &Nat, what: &'static str) -> Result<(), MulCheckError> {
        if x >= self.field.modulus() {
            return Err(MulCheckError::OperandOutOfRange { what, bound: "p" });
        }
        Ok(())
    }

    /// Pieces of the quotient for this factor.
    fn q_piece_count(&self, f: &Factor) -> usize {
        match &f.form {
            Form::Const(k) => {
                // Q < k < 16^len(k).
                (NIBBLE as usize * k.len()).div_ceil(self.q_bits as usize)
            }
            _ => {
                // |Q| < T * 2^(4D) for T products.
                let extra = (usize::BITS - (f.products() - 1).leading_zeros()) as usize;
                (NIBBLE as usize * self.digits + extra).div_ceil(self.q_bits as usize)
            }
        }
    }

    /// The main identity `A*B - Q*p - C = 0`.
    fn main_rows(&self, f: &Factor) -> Vec<Row> {
        let mut t = Vec::new();
        for (p, &sign) in f.signs.iter().enumerate() {
        for i in 0..self.a_pieces {
            match &f.form {
                Form::Const(k) => {
                    for (j, &kj) in k.iter().enumerate() {
                        if kj != 0 {
                            let pos = NIBBLE * (M * i + j) as u32;
                            t.push((pos, Term::AConst { piece: i, mult: kj.unsigned_abs() as usize }, kj.signum()));
                        }
                    }
                }
                _ => {
                    for j in 0..self.digits {
                        t.push((NIBBLE * (M * i + j) as u32, Term::Prod { t: p, piece: i, digit: j }, sign));
                    }
                }
            }
        }
        }
        let mq = (self.q_bits / NIBBLE) as usize;
        for i in 0..self.q_piece_count(f) {
            for (j, &pj) in self.p_signed.iter().enumerate() {
                if pj != 0 {
                    let pos = NIBBLE * (mq * i + j) as u32;
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
    fn a_rows(&self, p: usize) -> Vec<Row> {
        let mut t: Vec<(u32, Term, i64)> =
            (0..self.a_pieces).map(|i| (PIECE_BITS * i as u32, Term::APiece(p, i), 1)).collect();
        t.extend((0..self.limbs()).map(|i| (self.limb_pos(i), Term::ALimb(p, i), -1)));
        rows_of(t)
    }

    fn hint_count(&self, f: &Factor) -> usize {
        let chain = |groups: Vec<Group>| groups.len() - 1;
        let mut n = self.limbs() + chain(self.main_groups(f)) + self.q_piece_count(f);
        n += f.products() * (self.a_pieces + chain(self.a_groups(0)));
        if f.form == Form::Limbs {
            n += f.products() * (self.digits + self.straddlers().len());
        }
        n
    }

    fn hints(&self, f: &Factor, pairs: &[(Nat, Nat)]) -> Result<Vec<Vec<u8>>, MulCheckError> {
        if pairs.len() != f.products() {
            return Err(MulCheckError::ProductCount { expected: f.products(), got: pairs.len() });
        }
        for (a, _) in pairs {
            self.check_below_p(a, "A")?;
        }
        let w = self.witness(f, pairs);
        Ok(self.encode(f, &w).expect("identity holds for honest values"))
    }

    /// The honest witness values for `sum_t sign_t a_t * b_t` (`b` is the constant for
    /// [`Form::Const`]). The quotient may be negative; its pieces then are all `<= 0`.
    fn witness(&self, f: &Factor, pairs: &[(Nat, Nat)]) -> Witness {
        let layout = self.field.layout();
        let p = self.field.modulus();
        let (mut pos, mut neg) = (Nat::zero(), Nat::zero());
        for ((a, b), &s) in pairs.iter().zip(&f.signs) {
            if s > 0 {
                pos = pos.add(&a.mul(b));
            } else {
                neg = neg.add(&a.mul(b));
            }
        }
        let (q, c, q_sign) = match pos.checked_sub(&neg) {
            Some(x) => {
                let (q, c) = x.div_rem(p);
                (q, c, 1)
            }
            None => {
                // x = -(neg - pos) = -(q*p + r) = -(q+1)*p + (p - r) when r > 0.
                let (q, r) = neg.checked_sub(&pos).expect("neg > pos").div_rem(p);
                if r.is_zero() {
                    (q, r, -1)
                } else {
                    (q.add(&Nat::from_u128(1)), p.checked_sub(&r).expect("r < p"), -1)
                }
            }
        };
        let pieces = |x: &Nat, n: usize, w: u32| -> Vec<i128> {
            (0..n).map(|i| x.bits_at(w as usize * i, w as usize) as i128).collect()
        };
        let limbs = |x: &Nat| -> Vec<i128> { layout.to_limbs(x).into_iter().map(i128::from).collect() };
        let nq = self.q_piece_count(f);
        debug_assert!(q.bits() <= nq * self.q_bits as usize);
        Witness {
            c: limbs(&c),
            q: pieces(&q, nq, self.q_bits).into_iter().map(|v| q_sign * v).collect(),
            a: pairs.iter().map(|(a, _)| pieces(a, self.a_pieces, PIECE_BITS)).collect(),
            a_limbs: pairs.iter().map(|(a, _)| limbs(a)).collect(),
            b_nibbles: pairs.iter().map(|(_, b)| (0..self.digits).map(|j| b.bits_at(4 * j, 4) as i128).collect()).collect(),
        }
    }

    /// Hint items for the witness values `w`; `None` if an identity does not hold for them.
    fn encode(&self, f: &Factor, w: &Witness) -> Option<Vec<Vec<u8>>> {
        let value = |t: Term| -> i128 {
            match t {
                Term::ALimb(p, i) => w.a_limbs[p][i],
                Term::APiece(p, i) => w.a[p][i],
                Term::CLimb(i) => w.c[i],
                Term::Prod { t: p, piece: i, digit: j } => w.a[p][i] * w.b_nibbles[p][j],
                Term::AConst { piece: i, mult } => w.a[0][i] * mult as i128,
                Term::QConst { piece: i, mult } => w.q[i] * mult as i128,
            }
        };
        let num = |v: &i128| encode_num(i64::try_from(*v).expect("hint fits i64"));
        let mut out = Vec::with_capacity(self.hint_count(f));
        out.extend(w.c.iter().rev().map(num));
        out.extend(carries(&self.main_groups(f), &value)?.iter().map(num));
        out.extend(w.q.iter().rev().map(num));
        for t in 0..f.products() {
            out.extend(w.a[t].iter().rev().map(num));
            out.extend(carries(&self.a_groups(t), &value)?.iter().map(num));
        }
        if f.form == Form::Limbs {
            for t in 0..f.products() {
                out.extend(w.b_nibbles[t].iter().rev().map(num));
                // The part of each straddling nibble above the boundary (any integer is sound).
                out.extend(self.straddlers().iter().map(|&(s, r)| num(&(w.b_nibbles[t][s] >> r))));
            }
        }
        debug_assert_eq!(out.len(), self.hint_count(f));
        Some(out)
    }

    /// Name the initial stack items in the witness order of [`CheckedMul::encode`] followed
    /// by the inputs `A_1 B_1 .. A_T B_T`.
    fn initial_items(&self, f: &Factor) -> (Tracker, Items) {
        let l = self.limbs();
        let np = f.products();
        let main = self.main_groups(f).len() - 1;
        let nq = self.q_piece_count(f);
        let ac = self.a_groups(0).len() - 1;
        let bc = self.straddlers().len();
        let per_b = match f.form {
            Form::Limbs => l,
            Form::Nibbles => self.digits,
            Form::Const(_) => 0,
        };
        let total = self.hint_count(f) + np * (l + per_b);
        let (tr, ids) = Tracker::new(total);
        let mut it = ids.into_iter();
        let mut take = |n: usize| -> Vec<Id> { (&mut it).take(n).collect() };
        let rev = |mut v: Vec<Id>| {
            v.reverse();
            v
        };
        let mut items = Items { c_limbs: rev(take(l)), main_carries: take(main), q_pieces: rev(take(nq)), ..Default::default() };
        for _ in 0..np {
            items.a_pieces.push(rev(take(self.a_pieces)));
            items.a_carries.push(take(ac));
        }
        if f.form == Form::Limbs {
            for _ in 0..np {
                items.b_nibbles.push(rev(take(self.digits)));
                items.b_splits.push(take(bc));
            }
        }
        for _ in 0..np {
            items.a_limbs.push(rev(take(l)));
            match f.form {
                Form::Limbs => items.b_limbs.push(rev(take(l))),
                Form::Nibbles => items.b_nibbles.push(rev(take(self.digits))),
                Form::Const(_) => {}
            }
        }
        (tr, items)
    }

    fn build(&self, f: &Factor) -> Fragment {
        let (mut tr, items) = self.initial_items(f);
        let consumed = tr.stack.len();
        let n = self.a_pieces;
        let np = f.products();
        // 1. Re-expressions: B's nibbles against its limbs, A's pieces against its limbs (last
        // product first: its inputs are on top).
        for t in (0..np).rev() {
            if f.form == Form::Limbs {
                self.emit_b_limbs(&mut tr, &items.b_nibbles[t], &items.b_splits[t], &items.b_limbs[t]);
            }
            if f.form == Form::Nibbles {
                // B's nibbles are on top: park them on the altstack (1 byte each, and 1 to get
                // them back) instead of rolling them up from under the tables later (4 bytes).
                for j in 0..self.digits {
                    let id = tr.stack.pop().expect("nibble on the stack");
                    debug_assert_eq!(id, items.b_nibbles[t][j]);
                    tr.asm.op(OP_TOALTSTACK);
                }
            }
            self.emit_chain(&mut tr, &self.a_groups(t), &items.a_carries[t], &mut |tr, term| match term {
                Term::APiece(t, i) => {
                    tr.pick(items.a_pieces[t][i]);
                }
                Term::ALimb(t, i) => tr.roll(items.a_limbs[t][i]),
                _ => unreachable!("A rows hold pieces and limbs"),
            });
        }
        if f.form == Form::Limbs {
            // The hinted nibbles are on top now (last product's first): park them too.
            for t in (0..np).rev() {
                for j in 0..self.digits {
                    let id = tr.stack.pop().expect("nibble on the stack");
                    debug_assert_eq!(id, items.b_nibbles[t][j]);
                    tr.asm.op(OP_TOALTSTACK);
                }
            }
        }
        // 2. Tables: A's, then (lookup variants) the 16 constants `base - n*d` that turn a digit
        // into its depth, then Q's (above them: its picks are at depths fixed now, and shallow
        // depths are cheaper pushes).
        let computed = !matches!(f.form, Form::Const(_));
        let a_tab: Vec<Vec<Vec<Id>>> = (0..np)
            .map(|t| build_table(&mut tr, &items.a_pieces[t], if computed { 15 } else { 8 }, computed))
            .collect();
        let mut tabs = Tables { a_tab, q_tab: Vec::new(), e: Vec::new(), base: Vec::new(), junk: 0 };
        let mut v0 = None;
        if computed {
            // Depth of T[0][0] at the first lookup: the constants, Q's table, the depths and
            // the accumulator lie above it then.
            let above = 16 + 8 * items.q_pieces.len() + np * self.digits + 1;
            tabs.base = (0..np).map(|t| tr.depth(tabs.a_tab[t][0][0]) + above).collect();
            let base0 = tabs.base[0];
            let consts: Vec<Id> = (0..16).rev().map(|d| tr.push_int((base0 - n * d) as i64)).collect();
            v0 = consts.last().copied();
        }
        tabs.q_tab = build_table(&mut tr, &items.q_pieces, 8, false);
        // 3. Digits -> depths e_j = base_t + floor(j/M) - n*d_j, picked from the constants.
        if let Some(v0) = v0 {
            for t in 0..np {
                let mut e = vec![0; self.digits];
                // Parked nibbles come back most significant first.
                for j in (0..self.digits).rev() {
                    tr.asm.op(OP_FROMALTSTACK);
                    tr.stack.push(items.b_nibbles[t][j]);
                    tr.asm.op(OP_DUP).int(0).int(16).ops(&[OP_WITHIN, OP_VERIFY]);
                    let off = tr.depth(v0) - 1;
                    if off > 0 {
                        tr.push_int(off as i64);
                        tr.op(OP_ADD, 2, 1);
                    }
                    tr.op(OP_PICK, 1, 1);
                    let shift = (j / M) as i64 + tabs.base[t] as i64 - tabs.base[0] as i64;
                    if shift != 0 {
                        tr.push_int(shift);
                        tr.op(OP_ADD, 2, 1);
                    }
                    e[j] = tr.top();
                }
                tabs.e.push(e);
            }
        }
        // 4. The main identity.
        let rows = self.main_groups(f);
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
                Term::Prod { t, piece: i, digit: j } => {
                    let d0 = tr.depth(tabs.a_tab[t][0][i]);
                    let d1 = tr.depth(tabs.a_tab[t][1][i]);
                    assert_eq!(d0, tabs.base[t] + j / M, "depth formula of e_{j} broken");
                    assert_eq!(d0 - d1, n, "table is digit-major");
                    tr.pick(tabs.e[t][j]);
                    tr.op(OP_PICK, 1, 1);
                }
                Term::AConst { piece: i, mult } => {
                    tr.pick(tabs.a_tab[0][mult][i]);
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
        // C's limbs are witness items: re-encode them (OP_ABS of a checked non-negative limb)
        // so that the result is minimally encoded even where only consensus rules apply (a
        // later byte comparison must not see two encodings of one value).
        let mut norm = Asm::new();
        for _ in 0..l {
            norm.roll(l - 1).op(OP_ABS);
        }
        tr.asm.fragment().append(&self.field.check_canonical()).append(&norm.fragment()).with_effect(consumed, l)
    }

    /// Check B's hinted nibbles against its limbs: each limb is rebuilt from its nibbles by
    /// Horner's rule and compared. A nibble `d` straddling a boundary is split with the hint
    /// `hi` as `lo = d - 2^r * hi` (bits below the boundary, top of the lower limb) and `hi`
    /// (bottom of the upper limb). Whatever `hi` is, the lower limb gets `lo * 2^(4s - 29i)` and
    /// the upper one `hi`, which add up to `d * 2^(4s)` in `sum limb_i 2^(29 i)`: if every
    /// rebuilt limb equals B's limb, then `sum d_j 16^j = B` exactly, so no range check of `hi`
    /// is needed (a wrong one makes a comparison fail). Nibbles are copied, not consumed. An
    /// honest rebuilt limb is below `2^29`, so nothing overflows.
    fn emit_b_limbs(&self, tr: &mut Tracker, nibbles: &[Id], splits: &[Id], limbs: &[Id]) {
        let straddlers = self.straddlers();
        let split_at = |boundary: u32| straddlers.iter().position(|&(s, r)| NIBBLE * s as u32 + r == boundary);
        let l = self.limbs();
        for (i, &limb) in limbs.iter().enumerate() {
            let (low, high) = (self.limb_pos(i), if i + 1 == l { NIBBLE * self.digits as u32 } else { self.limb_pos(i + 1) });
            // Nibbles wholly inside [low, high): j0..=j1.
            let j0 = low.div_ceil(NIBBLE) as usize;
            let j1 = (high / NIBBLE) as usize - 1;
            // Top: the lower part of the upper straddler, or the top inside nibble.
            let mut next = j1 as i64;
            match (i + 1 < l).then(|| split_at(high)).flatten() {
                Some(k) => {
                    let (s, r) = straddlers[k];
                    tr.pick(nibbles[s]);
                    tr.pick(splits[k]);
                    double(tr, r);
                    tr.op(OP_SUB, 2, 1);
                }
                None => {
                    tr.pick(nibbles[j1]);
                    next -= 1;
                }
            }
            while next >= j0 as i64 {
                double(tr, NIBBLE);
                tr.pick(nibbles[next as usize]);
                tr.op(OP_ADD, 2, 1);
                next -= 1;
            }
            // Bottom: the upper part of the lower straddler (consumed: last use).
            if let Some(k) = (i > 0).then(|| split_at(low)).flatten() {
                double(tr, NIBBLE * j0 as u32 - low);
                tr.roll(splits[k]);
                tr.op(OP_ADD, 2, 1);
            }
            tr.roll(limb);
            tr.op(OP_NUMEQUALVERIFY, 2, 0);
        }
    }

    fn emit_chain(&self, tr: &mut Tracker, rows: &[Group], carries: &[Id], term: &mut dyn FnMut(&mut Tracker, Term)) {
        let mut unit = ();
        self.emit_chain_with(tr, rows, carries, &mut unit, &mut |_, _, _| {}, &mut |tr, t, _| term(tr, t));
    }

    /// Emit the carry chain of an identity: accumulator on top; per group the terms are
    /// pushed by `term` and combined by Horner's rule from the group's highest row down, added
    /// to the accumulator, and the carry step to the next group follows.
    fn emit_chain_with<S>(
        &self,
        tr: &mut Tracker,
        groups: &[Group],
        carries: &[Id],
        state: &mut S,
        on_row: &mut dyn FnMut(&mut Tracker, &Row, &mut S),
        term: &mut dyn FnMut(&mut Tracker, Term, &mut S),
    ) {
        debug_assert_eq!(carries.len() + 1, groups.len());
        tr.push_int(0);
        for (u, group) in groups.iter().enumerate() {
            if let [row] = group.as_slice() {
                on_row(tr, row, state);
                for &(t, s) in &row.terms {
                    term(tr, t, state);
                    tr.op(if s > 0 { OP_ADD } else { OP_SUB }, 2, 1);
                }
            } else {
                // h = terms of the top row; h = h * 2^gap + terms of the next row down; ...
                for (r, row) in group.iter().enumerate().rev() {
                    on_row(tr, row, state);
                    if r + 1 < group.len() {
                        double(tr, group[r + 1].pos - row.pos);
                    }
                    for (k, &(t, s)) in row.terms.iter().enumerate() {
                        term(tr, t, state);
                        if r + 1 == group.len() && k == 0 {
                            if s < 0 {
                                tr.op(OP_NEGATE, 1, 1);
                            }
                        } else {
                            tr.op(if s > 0 { OP_ADD } else { OP_SUB }, 2, 1);
                        }
                    }
                }
                tr.op(OP_ADD, 2, 1);
            }
            match groups.get(u + 1) {
                None => {
                    tr.op(OP_NOT, 1, 1);
                    tr.op(OP_VERIFY, 1, 0);
                }
                Some(next) => {
                    // [z] -> [z c] -> [c z c] -> [c z c*2^g] -> [c]
                    tr.roll(carries[u]);
                    tr.tuck();
                    double(tr, next[0].pos - group[0].pos);
                    tr.op(OP_NUMEQUALVERIFY, 2, 0);
                }
            }
        }
    }
}

/// Multiply the top item by `2^k` (k doublings).
fn double(tr: &mut Tracker, k: u32) {
    for _ in 0..k {
        tr.op(OP_DUP, 1, 2);
        tr.op(OP_ADD, 2, 1);
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
            if d % 2 == 0 {
                // 2 * t[d/2]: one pick instead of two.
                tr.pick(t[d / 2][i]);
                tr.op(OP_DUP, 1, 2);
            } else {
                tr.pick(t[d - 1][i]);
                tr.pick(t[1][i]);
            }
            tr.op(OP_ADD, 2, 1);
            t[d].push(tr.top());
        }
    }
    t
}

#[cfg(test)]
mod tests;
