//! Arithmetic modulo a constant prime `p` over big-integer limbs (see [`super::bigint`] for the
//! stack representation). The main user is the BN254 base field, [`bn254_fq`].
//!
//! Tapscript has no OP_MUL, so multiplication is a left-to-right windowed double-and-add over
//! `w`-bit digits of one operand with a table of `d*A mod p` (d < 2^w) built on the stack:
//! - [`PrimeField::mul_windowed`]: every doubling and every addition is reduced at once
//!   (conditional subtraction of p), no witness help.
//! - [`PrimeField::mul_hinted`]: per window the accumulator is doubled `w` times without
//!   reduction, the table entry is added, and the witness supplies the small quotient
//!   `q` in `[0, 2^w]`; the script subtracts `q*p` (from a constant table), and checks
//!   that no borrow occurred and that the result is `< p`. A wrong `q` fails the script, so
//!   the hint cannot change the result.

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
        let l = self.l();
        let mut a = sub_pass(&vec![self.w(); l]);
        a.roll(l).op(OP_IF).append(&add_const_pass(&self.p_limbs, self.w())).op(OP_ENDIF);
        a.effect(2 * l, l)
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

    /// Number of `window`-bit digits of the multiplier.
    pub fn digits(&self, window: u32) -> usize {
        Digits::for_bits(self.layout.bits, window).count
    }

    fn check_window(&self, window: u32, hinted: bool) -> Result<(), FieldError> {
        let bad = |reason: String| Err(FieldError::BadWindow { window, reason });
        if !(1..=6).contains(&window) {
            return bad("must be 1..=6".into());
        }
        let k = 1usize << window;
        let entries = if hinted { 2 * k + 1 } else { k };
        let items = entries * self.l() + 2 * self.digits(window) + 2 * self.l() + 8;
        if items > 1000 {
            return bad(format!("needs about {items} stack items, more than 1000"));
        }
        if hinted && self.p.bits() + window as usize + 1 > self.capacity_bits() {
            return bad(format!("(2^w+1)*p does not fit {} limb bits", self.capacity_bits()));
        }
        Ok(())
    }

    /// `[A B] -> [A*B mod p]` for canonical A, B, with `window`-bit digits of B and no hints.
    pub fn mul_windowed(&self, window: u32) -> Result<Fragment, FieldError> {
        self.check_window(window, false)?;
        Ok(self.mul_asm(window, false).effect(2 * self.l(), self.l()))
    }

    /// `[q_1 .. q_{D-1} A B] -> [A*B mod p]` for canonical A, B, where the `q_j` are the
    /// per-window quotients from [`PrimeField::mul_hints`] (first window's hint deepest).
    /// Each hint is range-checked to `[0, 2^window]` and each step's result to `[0, p)`.
    pub fn mul_hinted(&self, window: u32) -> Result<Fragment, FieldError> {
        self.check_window(window, true)?;
        Ok(self.mul_asm(window, true).effect(2 * self.l() + self.digits(window) - 1, self.l()))
    }

    /// Witness items (deepest first) that [`PrimeField::mul_hinted`] expects under A and B.
    pub fn mul_hints(&self, a: &Nat, b: &Nat, window: u32) -> Vec<Vec<u8>> {
        let d = self.digits(window);
        let a = a.rem(&self.p);
        let mut acc = Nat::zero();
        let mut out = Vec::with_capacity(d - 1);
        for j in (0..d).rev() {
            let digit = b.bits_at(j * window as usize, window as usize);
            let t = a.mul(&Nat::from_u128(digit as u128)).rem(&self.p);
            if j + 1 == d {
                acc = t;
                continue;
            }
            let s = acc.shl(window as usize).add(&t);
            let (q, r) = s.div_rem(&self.p);
            out.push(encode_num(q.to_u128().expect("small quotient") as i64));
            acc = r;
        }
        out
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

    fn mul_asm(&self, window: u32, hinted: bool) -> Asm {
        let l = self.l();
        let w = self.w();
        let k = 1usize << window;
        let d = self.digits(window);
        let mut a = Asm::new();
        // 1. B -> digits (MS deepest): [H A digits]
        let (conv, digits) = regroup_asm(Digits::of_layout(&self.layout), window);
        debug_assert_eq!(digits.count, d);
        a.append(&conv);
        // 2. A to the top: [H digits A]
        for _ in 0..l {
            a.roll(d + l - 1);
        }
        // 3. table T_0..T_{k-1} (T_0 deepest), T_j = j*A mod p: [H digits T]
        //    Start: [A] -> [0 A], then T_j = T_{j-1} + T_1.
        a.to_alt(l);
        for _ in 0..l {
            a.int(0);
        }
        a.from_alt(l);
        for j in 2..k {
            // copy T_{j-1} (top l items) and T_1 (entry 1: depth (j-2)*l .. from top)
            for _ in 0..l {
                a.pick(l - 1);
            }
            for _ in 0..l {
                a.pick(j * l - 1);
            }
            a.append(&self.add_asm());
        }
        let table = k * l;
        // 4. constant table of q*p for q = 0..=k (hinted only), entry 0 deepest.
        let qp_entries = k + 1;
        let qp_table = if hinted { qp_entries * l } else { 0 };
        if hinted {
            for q in 0..qp_entries {
                let v = self.p.mul(&Nat::from_u128(q as u128));
                a.append(&push_limbs(&full_limbs(&v, l, w)));
            }
        }
        // Stack now: [H(d-1 if hinted) digits(d) T(table) QP(qp_table)]
        let hints_total = if hinted { d - 1 } else { 0 };
        // 5. first digit: acc = T[d_{D-1}]
        a.roll(d - 1 + table + qp_table);
        self.fetch(&mut a, k, qp_table);
        let cap_p = self.p_limbs.clone();
        for j in 1..d {
            let remaining_digits = d - j; // digits still on the stack before rolling this one
            if hinted {
                for _ in 0..window {
                    a.append(&double_pass(l, w));
                }
            } else {
                for _ in 0..window {
                    a.append(&self.double_asm());
                }
            }
            // roll the next digit: under it nothing of digits; above it: remaining_digits-1
            // digits, the tables and acc.
            a.roll(remaining_digits - 1 + table + qp_table + l);
            self.fetch(&mut a, k, qp_table + l);
            if hinted {
                a.append(&add_pass(&vec![w; l], false));
                // hint for this window: hints are deepest, first-used deepest.
                let hints_left = hints_total - (j - 1);
                a.roll(hints_left - 1 + remaining_digits - 1 + table + qp_table + l);
                a.op(OP_DUP).int(0).int(qp_entries as i64).op(OP_WITHIN).op(OP_VERIFY);
                self.fetch(&mut a, qp_entries, l);
                a.append(&sub_pass(&vec![w; l]));
                // [borrow D]: borrow must be 0
                a.roll(l).op(OP_NOT).op(OP_VERIFY);
                a.append(&lt_const_keep(&cap_p)).op(OP_VERIFY);
            } else {
                a.append(&self.add_asm());
            }
        }
        // 6. drop the tables under acc.
        a.to_alt(l).drop_n(table + qp_table).from_alt(l);
        a
    }
}

/// `n` in `l` limbs of `w` bits each (least significant first); panics if it does not fit.
pub(crate) fn full_limbs(n: &Nat, l: usize, w: u32) -> Vec<u32> {
    assert!(n.bits() <= l * w as usize, "constant does not fit {l} limbs of {w} bits");
    (0..l).map(|i| n.bits_at(i * w as usize, w as usize) as u32).collect()
}
