//! Arithmetic modulo a constant prime `p` over big-integer limbs (see [`super::bigint`] for the
//! stack representation). The main user is the BN254 base field, [`bn254_fq`].
//!
//! Tapscript has no OP_MUL, so multiplication is a left-to-right windowed double-and-add over
//! `w`-bit digits of the second operand B (obtained from its limbs with
//! [`super::convert::regroup`], which also range-checks B's limbs) with a table of `d*A`
//! (`d < 2^w`) built on the stack:
//! - [`PrimeField::mul_windowed`]: every doubling and every addition is reduced at once
//!   (conditional subtraction of p); no witness help. Table entries are reduced mod p.
//! - [`PrimeField::mul_hinted`]: per window the accumulator is doubled `w` times without
//!   reduction and the table entry is added; the witness supplies the small quotient `q`, the
//!   script range-checks it, subtracts `q*p` (picked from a table of constants) and requires
//!   no borrow. The accumulator stays congruent to the partial product and never negative, so
//!   the final check `result < p` pins the result to `A*B mod p`: a wrong hint makes the script
//!   fail (or overflow a 4-byte number, which also fails); it cannot change the result. Where
//!   the stack allows (w <= 5 for BN254) the table holds unreduced `d*A` and the quotient table
//!   has `2^(w+1)` entries, saving the reductions while building the table.
//!
//! A must be canonical (limbs in range, `A < p`; see [`PrimeField::check_canonical`]); its limbs
//! are not re-checked by the multiplication.

use bitcoin::opcodes::all::*;

use super::asm::Asm;
use super::bigint::{
    add_const_pass, add_pass, cond_sub_const, double_pass, lt_const_keep, push_limbs, sub_pass, Layout,
};
use super::convert::{regroup_asm, Digits};
use super::nat::Nat;
use crate::builder::Fragment;
use crate::exec::encode_num;

/// The BN254 base field modulus, hexadecimal.
pub const BN254_FQ_HEX: &str = "30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";

/// The BN254 base field with 29-bit limbs (9 limbs, top limb 22 bits).
pub fn bn254_fq() -> PrimeField {
    PrimeField::new(Nat::from_hex(BN254_FQ_HEX).expect("valid hex"), 29).expect("BN254 p fits 29-bit limbs")
}

/// Why a prime field cannot be set up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldError {
    /// The modulus is below 3.
    #[error("modulus must be at least 3, got {0} bits")]
    ModulusTooSmall(usize),
    /// The limb width is outside 1..=29.
    #[error("limb width {0} is outside 1..=29")]
    BadLimbWidth(u32),
    /// The chosen window would need more stack than a leaf allows or overflow the limbs.
    #[error("window of {window} bits: {reason}")]
    BadWindow {
        /// The window width asked for.
        window: u32,
        /// What is wrong.
        reason: String,
    },
}

/// A prime field `Z/pZ` with `p` a constant; elements are canonical big integers `< p`.
#[derive(Clone, Debug)]
pub struct PrimeField {
    p: Nat,
    layout: Layout,
    /// Limbs of p, least significant first, all `limb_bits` wide.
    p_limbs: Vec<u32>,
}

impl PrimeField {
    /// The field of the (assumed prime) modulus `p`, elements in `limb_bits`-bit limbs.
    /// The layout gets one limb of headroom if needed so that `64 * p` still fits the limbs.
    pub fn new(p: Nat, limb_bits: u32) -> Result<Self, FieldError> {
        if p.bits() < 2 || p < Nat::from_u128(3) {
            return Err(FieldError::ModulusTooSmall(p.bits()));
        }
        if !(1..=29).contains(&limb_bits) {
            return Err(FieldError::BadLimbWidth(limb_bits));
        }
        let layout = Layout::new(p.bits() as u32, limb_bits);
        let p_limbs = full_limbs(&p, layout.limbs(), limb_bits);
        Ok(PrimeField { p, layout, p_limbs })
    }

    /// The modulus.
    pub fn modulus(&self) -> &Nat {
        &self.p
    }

    /// The layout of elements.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Bits available in the limbs (all limbs full width) for unreduced intermediate values.
    fn capacity_bits(&self) -> usize {
        self.layout.limbs() * self.layout.limb_bits as usize
    }

    fn w(&self) -> u32 {
        self.layout.limb_bits
    }

    fn l(&self) -> usize {
        self.layout.limbs()
    }

    /// Stack items of an element (`x < p`), witness order.
    pub fn to_stack(&self, x: &Nat) -> Vec<Vec<u8>> {
        assert!(x < &self.p, "not a canonical field element");
        self.layout.to_stack(x)
    }

    /// `[A] -> [A]`, failing unless every limb is in range and `A < p`.
    pub fn check_canonical(&self) -> Fragment {
        let mut a = Asm::new();
        for i in 0..self.l() {
            a.pick(i).int(0).int(1i64 << self.layout.limb_width(i)).op(OP_WITHIN).op(OP_VERIFY);
        }
        a.append(&lt_const_keep(&self.p_limbs)).op(OP_VERIFY);
        a.effect(self.l(), self.l())
    }

    /// `[A B] -> [A + B mod p]` for canonical A, B.
    pub fn add(&self) -> Fragment {
        self.add_asm().effect(2 * self.l(), self.l())
    }

    fn add_asm(&self) -> Asm {
        let mut a = add_pass(&vec![self.w(); self.l()], false);
        a.append(&cond_sub_const(&self.p_limbs, self.w()));
        a
    }

    /// `[A B] -> [A - B mod p]` for canonical A, B.
    pub fn sub(&self) -> Fragment {
        self.sub_asm().effect(2 * self.l(), self.l())
    }

    fn sub_asm(&self) -> Asm {
        let l = self.l();
        let mut a = sub_pass(&vec![self.w(); l]);
        a.roll(l).op(OP_IF).append(&add_const_pass(&self.p_limbs, self.w())).op(OP_ENDIF);
        a
    }

    /// `[A] -> [2A mod p]` for canonical A.
    pub fn double(&self) -> Fragment {
        self.double_asm().effect(self.l(), self.l())
    }

    fn double_asm(&self) -> Asm {
        let mut a = double_pass(self.l(), self.w());
        a.append(&cond_sub_const(&self.p_limbs, self.w()));
        a
    }

    /// `[A] -> [-A mod p]` for canonical A (0 stays 0).
    pub fn neg(&self) -> Fragment {
        let l = self.l();
        let mut a = Asm::new();
        for _ in 0..l {
            a.int(0);
        }
        for _ in 0..l {
            a.roll(2 * l - 1);
        }
        a.append(&self.sub_asm());
        a.effect(l, l)
    }

    /// `[A] -> [c*A mod p]` for a small constant `c` (binary double-and-add, every step
    /// reduced; no hints). About 520 bytes per bit of `c` plus 530 per set bit.
    pub fn mul_small(&self, c: u64) -> Fragment {
        let l = self.l();
        let mut a = Asm::new();
        if c == 0 {
            a.drop_n(l);
            for _ in 0..l {
                a.int(0);
            }
            return a.effect(l, l);
        }
        let bits = 64 - c.leading_zeros();
        // Keep a copy of A under the accumulator while set bits remain below the top one.
        let needs_copy = c.count_ones() > 1;
        if needs_copy {
            for _ in 0..l {
                a.pick(l - 1);
            }
        }
        for i in (0..bits - 1).rev() {
            a.append(&self.double_asm());
            if (c >> i) & 1 == 1 {
                for _ in 0..l {
                    a.pick(2 * l - 1);
                }
                a.append(&self.add_asm());
            }
        }
        if needs_copy {
            a.toalt(l).drop_n(l).fromalt(l);
        }
        a.effect(l, l)
    }

    /// `[q.. A] -> [A^2 mod p]`: copies A and runs [`PrimeField::mul_hinted`]; hints are
    /// `mul_hints(a, a, window)`.
    pub fn square_hinted(&self, window: u32) -> Result<Fragment, FieldError> {
        let l = self.l();
        let plan = self.plan(window, true)?;
        let mut a = Asm::new();
        for _ in 0..l {
            a.pick(l - 1);
        }
        a.append(&self.mul_asm(&plan));
        Ok(a.effect(l + plan.hints, l))
    }

    /// Number of `window`-bit digits of the multiplier.
    pub fn digits(&self, window: u32) -> usize {
        Digits::for_bits(self.layout.bits, window).count
    }

    /// Decide the table shapes of a multiplication, or say why the window cannot work.
    fn plan(&self, window: u32, hinted: bool) -> Result<MulPlan, FieldError> {
        let bad = |reason: String| Err(FieldError::BadWindow { window, reason });
        if !(1..=6).contains(&window) {
            return bad("must be 1..=6".into());
        }
        let k = 1usize << window;
        let l = self.l();
        let d = self.digits(window);
        let items = |t: usize, qp: usize, hints: usize| t * l + qp * l + d + hints + 3 * l + 4;
        let plan = if !hinted {
            MulPlan { window, hinted, reduced_table: true, qp_entries: 0, hints: 0, digits_input: false }
        } else if items(k, 2 * k, d) <= 1000 && self.p.bits() + (window as usize) < self.capacity_bits() {
            // Table entries d*A unreduced (< 2^w p): per window q < 2^(w+1).
            MulPlan { window, hinted, reduced_table: false, qp_entries: 2 * k, hints: d, digits_input: false }
        } else {
            MulPlan { window, hinted, reduced_table: true, qp_entries: k + 1, hints: d - 1, digits_input: false }
        };
        let need = items(k, plan.qp_entries, plan.hints);
        if need > 1000 {
            return bad(format!("needs about {need} stack items, more than 1000"));
        }
        if hinted && self.p.bits() + window as usize + 1 > self.capacity_bits() {
            return bad(format!("(2^w+1)*p does not fit {} limb bits", self.capacity_bits()));
        }
        Ok(plan)
    }

    /// `[A B] -> [A*B mod p]` for canonical A, B, with `window`-bit digits of B and no hints.
    pub fn mul_windowed(&self, window: u32) -> Result<Fragment, FieldError> {
        let plan = self.plan(window, false)?;
        Ok(self.mul_asm(&plan).effect(2 * self.l(), self.l()))
    }

    /// `[q_1 .. q_n A B] -> [A*B mod p]` for canonical A, B, where the `q_j` are the
    /// per-window quotients from [`PrimeField::mul_hints`] (first-used hint deepest; their
    /// number is [`PrimeField::mul_hint_count`]). Each hint is range-checked, each step checks
    /// that subtracting `q*p` did not go below zero, and the result is checked `< p`: a wrong
    /// hint makes the script fail, it cannot change the result.
    pub fn mul_hinted(&self, window: u32) -> Result<Fragment, FieldError> {
        let plan = self.plan(window, true)?;
        Ok(self.mul_asm(&plan).effect(2 * self.l() + plan.hints, self.l()))
    }

    /// `[q.. A b_{D-1} .. b_0] -> [A*B mod p]`: like [`PrimeField::mul_hinted`] but B comes as
    /// its `D = digits(window)` digits of `window` bits, most significant deepest (for
    /// `window = 4`: Winternitz nibbles, so no conversion to limbs and back is needed). Every
    /// digit is range-checked; B may be any value below `2^(window*D)` (it need not be `< p`).
    /// Hints: `mul_hints(a, b, window)`.
    pub fn mul_hinted_digits(&self, window: u32) -> Result<Fragment, FieldError> {
        let mut plan = self.plan(window, true)?;
        plan.digits_input = true;
        Ok(self.mul_asm(&plan).effect(self.l() + self.digits(window) + plan.hints, self.l()))
    }

    /// Number of hint items [`PrimeField::mul_hinted`] expects for this window.
    pub fn mul_hint_count(&self, window: u32) -> Result<usize, FieldError> {
        Ok(self.plan(window, true)?.hints)
    }

    /// Witness items (deepest first) that [`PrimeField::mul_hinted`] (and
    /// [`PrimeField::mul_hinted_digits`], `square_hinted`) expect under A and B. `b` may be any
    /// value below `2^(window * digits(window))`.
    pub fn mul_hints(&self, a: &Nat, b: &Nat, window: u32) -> Result<Vec<Vec<u8>>, FieldError> {
        let plan = self.plan(window, true)?;
        let d = self.digits(window);
        let a = a.rem(&self.p);
        let entry = |digit: u64| -> Nat {
            let t = a.mul(&Nat::from_u128(digit as u128));
            if plan.reduced_table {
                t.rem(&self.p)
            } else {
                t
            }
        };
        let mut out = Vec::with_capacity(plan.hints);
        let push = |s: &Nat, out: &mut Vec<Vec<u8>>| -> Nat {
            let (q, r) = s.div_rem(&self.p);
            out.push(encode_num(q.to_u128().expect("small quotient") as i64));
            r
        };
        let top = b.bits_at((d - 1) * window as usize, window as usize);
        let mut acc = entry(top);
        if !plan.reduced_table {
            acc = push(&acc, &mut out);
        }
        for j in (0..d - 1).rev() {
            let digit = b.bits_at(j * window as usize, window as usize);
            let s = acc.shl(window as usize).add(&entry(digit));
            acc = push(&s, &mut out);
        }
        debug_assert_eq!(out.len(), plan.hints);
        Ok(out)
    }

    /// Copy table entry `d` (on top, consumed) onto the top. The table has `entries` entries of
    /// `l` limbs, entry 0 deepest; `above` items lie between the table and `d`.
    fn fetch(&self, a: &mut Asm, entries: usize, above: usize) {
        let l = self.l();
        a.int(entries as i64 - 1).op(OP_SWAP).op(OP_SUB).mul_const(l as u64);
        a.int((l + above) as i64).op(OP_ADD);
        for _ in 0..l {
            a.ops(&[OP_DUP, OP_PICK, OP_SWAP]);
        }
        a.op(OP_DROP);
    }

    fn mul_asm(&self, plan: &MulPlan) -> Asm {
        let l = self.l();
        let w = self.w();
        let window = plan.window;
        let k = 1usize << window;
        let d = self.digits(window);
        let full = vec![w; l];
        let mut a = Asm::new();
        // 1. B -> digits (MS deepest): [H A digits]
        if plan.digits_input {
            for i in 0..d {
                a.pick(i).int(0).int(k as i64).op(OP_WITHIN).op(OP_VERIFY);
            }
        } else {
            let (conv, digits) = regroup_asm(Digits::of_layout(&self.layout), window);
            debug_assert_eq!(digits.count, d);
            a.append(&conv);
        }
        // 2. A to the top: [H digits A]
        for _ in 0..l {
            a.roll(d + l - 1);
        }
        // 3. table T_0..T_{k-1} (T_0 deepest), T_j = j*A (mod p if reduced): [H digits T]
        a.toalt(l);
        for _ in 0..l {
            a.int(0);
        }
        a.fromalt(l);
        for j in 2..k {
            for _ in 0..l {
                a.pick(l - 1);
            }
            for _ in 0..l {
                a.pick(j * l - 1);
            }
            if plan.reduced_table {
                a.append(&self.add_asm());
            } else {
                a.append(&add_pass(&full, false));
            }
        }
        let table = k * l;
        // 4. constant table of q*p, entry 0 deepest (hinted only).
        let qp_table = plan.qp_entries * l;
        for q in 0..plan.qp_entries {
            let v = self.p.mul(&Nat::from_u128(q as u128));
            a.append(&push_limbs(&full_limbs(&v, l, w)));
        }
        // Stack: [H digits T QP]
        let mut hints_left = plan.hints;
        let mut digits_left = d;
        // Subtract hint*p from acc (on top): roll the deepest remaining hint, check its range,
        // fetch q*p, subtract, and require no borrow.
        let reduce = |a: &mut Asm, hints_left: &mut usize, digits_left: usize| {
            a.roll(*hints_left - 1 + digits_left + table + qp_table + l);
            *hints_left -= 1;
            a.op(OP_DUP).int(0).int(plan.qp_entries as i64).op(OP_WITHIN).op(OP_VERIFY);
            self.fetch(a, plan.qp_entries, l);
            a.append(&sub_pass(&full));
            a.roll(l).op(OP_NOT).op(OP_VERIFY);
        };
        // 5. first digit: acc = T[d_{D-1}]
        a.roll(digits_left - 1 + table + qp_table);
        digits_left -= 1;
        self.fetch(&mut a, k, qp_table);
        if plan.hinted && !plan.reduced_table {
            reduce(&mut a, &mut hints_left, digits_left);
        }
        for _ in 1..d {
            for _ in 0..window {
                if plan.hinted {
                    a.append(&double_pass(l, w));
                } else {
                    a.append(&self.double_asm());
                }
            }
            a.roll(digits_left - 1 + table + qp_table + l);
            digits_left -= 1;
            self.fetch(&mut a, k, qp_table + l);
            if plan.hinted {
                a.append(&add_pass(&full, false));
                reduce(&mut a, &mut hints_left, digits_left);
            } else {
                a.append(&self.add_asm());
            }
        }
        debug_assert_eq!((hints_left, digits_left), (0, 0));
        // 6. hinted: the result must be < p (with no borrow above it is >= 0 and = A*B mod p).
        if plan.hinted {
            a.append(&lt_const_keep(&self.p_limbs)).op(OP_VERIFY);
        }
        // 7. drop the tables under acc.
        a.toalt(l).drop_n(table + qp_table).fromalt(l);
        a
    }
}

/// Table shapes of one multiplication variant.
#[derive(Clone, Copy, Debug)]
struct MulPlan {
    window: u32,
    hinted: bool,
    /// Table entries reduced mod p (else `d*A` as integers).
    reduced_table: bool,
    /// Entries of the `q*p` table (`q` in `0..qp_entries`).
    qp_entries: usize,
    /// Hint items.
    hints: usize,
    /// B is given as `w`-bit digits (range-checked) instead of limbs.
    digits_input: bool,
}

/// `n` in `l` limbs of `w` bits each (least significant first); panics if it does not fit.
pub(crate) fn full_limbs(n: &Nat, l: usize, w: u32) -> Vec<u32> {
    assert!(n.bits() <= l * w as usize, "constant does not fit {l} limbs of {w} bits");
    (0..l).map(|i| n.bits_at(i * w as usize, w as usize) as u32).collect()
}
