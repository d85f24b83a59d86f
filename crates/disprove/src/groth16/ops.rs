//! Program operations of the pairing check that the extension-field tower (`crate::bn254`)
//! does not cover: the G1 membership flag, the G1 line-evaluation hints, checked Fq2
//! divisions (the slopes of the proof's `B`), products of an Fq value by a constant Fq2, and the
//! selection of a constant by the committed `wi` index.
//!
//! Every operation is total: a degenerate case (a zero denominator) skips its check instead
//! of failing, so the disprover can supply any value there and the leaf over it is spendable.
//! An honest trace never meets one (the points have prime order; see `super::miller`).

use std::sync::Arc;

use ark_bn254::{Fq, Fq2};
use ark_ff::{Field, Zero};
use bitcoin::opcodes::all::*;
use bitvm2_script::builder::Fragment;

use crate::bn254::fq2::karatsuba;
use crate::bn254::gadget::{self, gadget_op, Backend, Gadget};
use crate::bn254::FqMul;
use crate::program::{field, push_val, Op, Val};

/// Which pairing operation.
#[derive(Debug, Clone, PartialEq)]
pub enum PairingKind {
    /// `[x y] -> [1]` iff `y^2 = x^3 + 3` (G1 has cofactor 1: on the curve means in G1).
    OnCurveG1,
    /// `[x y] -> [-x/y, 1/y]` (the witness gives `1/y`; checked `y * (1/y) = 1`).
    LinePoint,
    /// `[num(2) den(2)] -> [num/den]`: the witness gives the quotient, checked
    /// `q * den = num` (skipped when `den = 0`).
    DivFq2,
    /// `[x] -> [k0 x, k1 x]` for a constant `k` (a fixed line's coefficient times a G1 hint).
    ConstFq2TimesFq(Fq2),
}

/// A pairing operation over the shared Fq multiplication.
#[derive(Debug, Clone)]
pub struct PairingOp {
    /// The operation.
    pub kind: PairingKind,
    mul: Arc<dyn FqMul>,
    groups: Vec<usize>,
}

impl PairingOp {
    /// The operation with this multiplication.
    pub fn new(kind: PairingKind, mul: Arc<dyn FqMul>) -> Self {
        let mut op = PairingOp { kind, mul, groups: Vec::new() };
        op.groups = gadget::hint_groups(&op, op.mul.as_ref(), &op.shape());
        op
    }

    fn shape(&self) -> Vec<usize> {
        match self.kind {
            PairingKind::OnCurveG1 | PairingKind::LinePoint => vec![2],
            PairingKind::DivFq2 => vec![2, 2],
            PairingKind::ConstFq2TimesFq(_) => vec![1],
        }
    }

    fn label(&self) -> String {
        let what = match &self.kind {
            PairingKind::OnCurveG1 => "g1 on curve".to_string(),
            PairingKind::LinePoint => "g1 line point".to_string(),
            PairingKind::DivFq2 => "fq2 checked division".to_string(),
            PairingKind::ConstFq2TimesFq(k) => format!("const fq2 x fq [{}{}]", !k.c0.is_zero() as u8, !k.c1.is_zero() as u8),
        };
        format!("{what} {}M ({})", self.groups.len(), self.mul.name())
    }
    fn out_elems(&self) -> usize {
        match self.kind {
            PairingKind::OnCurveG1 => 1,
            _ => 2,
        }
    }
}

fn fq2(v: &[Fq]) -> Fq2 {
    Fq2::new(v[0], v[1])
}

/// `num / den` in Fq2, zero if `den` is zero (the witness value of a degenerate slope).
fn div_or_zero(num: Fq2, den: Fq2) -> Vec<Fq> {
    let q = den.inverse().map(|i| num * i).unwrap_or(Fq2::zero());
    vec![q.c0, q.c1]
}

/// Check `lambda * den == num` unless `den` is zero.
fn check_slope<B: Backend>(b: &mut B, lambda: &[B::E], num: &[B::E; 2], den: &[B::E; 2]) {
    let p = karatsuba(b, lambda, den);
    b.assert_eq_unless_zero(den, &p[0], &num[0]);
    b.assert_eq_unless_zero(den, &p[1], &num[1]);
}

impl Gadget for PairingOp {
    fn run<B: Backend>(&self, b: &mut B, x: &[Vec<B::E>]) -> Vec<B::E> {
        match &self.kind {
            PairingKind::OnCurveG1 => {
                let (px, py) = (&x[0][0], &x[0][1]);
                let y2 = b.mul(py, py);
                let x2 = b.mul(px, px);
                let x3 = b.mul(&x2, px);
                let three = b.constant(&Fq::from(3u64));
                let rhs = b.add(&x3, &three);
                vec![b.eq_flag(&y2, &rhs)]
            }
            PairingKind::LinePoint => {
                let (px, py) = (&x[0][0], &x[0][1]);
                let inv = b.hint(std::slice::from_ref(py), 1, &|v| vec![v[0].inverse().unwrap_or(Fq::zero())]).remove(0);
                let prod = b.mul(py, &inv);
                let one = b.constant(&Fq::from(1u64));
                b.assert_eq_unless_zero(std::slice::from_ref(py), &prod, &one);
                let xy = b.mul(px, &inv);
                vec![b.neg(&xy), inv]
            }
            PairingKind::DivFq2 => {
                let args: Vec<B::E> = x.iter().flatten().cloned().collect();
                let q = b.hint(&args, 2, &|v| div_or_zero(fq2(&v[0..2]), fq2(&v[2..4])));
                let num = [x[0][0].clone(), x[0][1].clone()];
                let den = [x[1][0].clone(), x[1][1].clone()];
                check_slope(b, &q, &num, &den);
                q
            }
            PairingKind::ConstFq2TimesFq(k) => {
                let s = &x[0][0];
                [k.c0, k.c1].iter().map(|c| if c.is_zero() { b.constant(c) } else { b.mul_const(s, c) }).collect()
            }
        }
    }
}

gadget_op!(PairingOp);

/// `[i] -> [table[i]]` (one Fq2) for `i` in 0..3, `[0, 0]` for any other value: selects a
/// constant factor by the committed `wi` index.
#[derive(Debug, Clone)]
pub struct SelectFq2 {
    /// The three constants.
    pub table: [Fq2; 3],
}

impl Op for SelectFq2 {
    fn name(&self) -> String {
        "select fq2 constant".into()
    }
    fn input_elems(&self) -> Vec<usize> {
        vec![1]
    }
    fn output_elems(&self) -> usize {
        2
    }
    fn native(&self, inputs: &[Val]) -> Val {
        let i = inputs[0][0];
        let k = (0..3u64).find(|&k| i == Fq::from(k)).map(|k| self.table[k as usize]).unwrap_or(Fq2::zero());
        vec![k.c0, k.c1]
    }
    fn script(&self) -> Fragment {
        let l = field().layout().limbs();
        // [i_{l-1} .. i_0]: small = i_0 if every higher limb is zero, else 3.
        let mut f = Fragment::new().op(OP_TOALTSTACK).push_int(1);
        for _ in 1..l {
            f = f.op(OP_SWAP).op(OP_0NOTEQUAL).op(OP_NOT).op(OP_BOOLAND);
        }
        f = f.op(OP_FROMALTSTACK).op(OP_SWAP).op(OP_NOTIF).op(OP_DROP).push_int(3).op(OP_ENDIF);
        let zero = Fq2::zero();
        let mut tail = Fragment::new();
        for (k, c) in self.table.iter().chain(std::iter::once(&zero)).enumerate() {
            let push = push_val(&[c.c0, c.c1]);
            if k < 3 {
                f = f.op(OP_DUP).push_int(k as i64).op(OP_NUMEQUAL).op(OP_IF).append(&push).op(OP_ELSE);
                tail = tail.op(OP_ENDIF);
            } else {
                f = f.append(&push);
            }
        }
        // [i out(2l)] -> [out]
        f.append(&tail).push_int(2 * l as i64).op(OP_ROLL).op(OP_DROP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::val_stack;
    use crate::programs::{fq_from_label, op_stack};
    use ark_ec::AffineRepr;
    use ark_ff::One;
    use bitvm2_script::exec::{execute, ExecOptions};

    fn mul() -> Arc<dyn FqMul> {
        crate::bn254::default_mul()
    }

    fn run(op: &dyn Op, stack: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, String> {
        let r = execute(&op.script().into_script(), &stack, &ExecOptions::default());
        r.outcome.map(|_| r.final_stack).map_err(|e| format!("{e:?}"))
    }

    fn fq2_of(label: &str, i: u64) -> Fq2 {
        Fq2::new(fq_from_label(label, 2 * i), fq_from_label(label, 2 * i + 1))
    }

    /// The stack of `op` on `inputs` with the hint group of the quotient (the first group)
    /// replaced by `q` and the product hints regenerated for it.
    fn div_stack_with_quotient(op: &PairingOp, num: Fq2, den: Fq2, q: Fq2) -> Vec<Vec<u8>> {
        let m = mul();
        let mut s = val_stack(&[q.c0, q.c1]);
        // products of check_slope in order: q0*d0, q1*d1, (q0+q1)*(d0+d1)
        s.extend(m.hints(&q.c0, &den.c0));
        s.extend(m.hints(&q.c1, &den.c1));
        s.extend(m.hints(&(q.c0 + q.c1), &(den.c0 + den.c1)));
        s.extend(val_stack(&[num.c0, num.c1, den.c0, den.c1]));
        assert_eq!(s.len(), op.hint_items() + 4 * field().layout().limbs());
        s
    }

    #[test]
    fn checked_division_accepts_only_the_quotient_unless_the_denominator_is_zero() {
        let op = PairingOp::new(PairingKind::DivFq2, mul());
        let (num, den) = (fq2_of("n", 0), fq2_of("d", 0));
        let inputs = [vec![num.c0, num.c1], vec![den.c0, den.c1]];
        let q = num / den;
        assert_eq!(op.native(&inputs), vec![q.c0, q.c1]);
        assert_eq!(run(&op, op_stack(&op, &inputs)).unwrap(), val_stack(&[q.c0, q.c1]));
        assert_eq!(run(&op, div_stack_with_quotient(&op, num, den, q)).unwrap(), val_stack(&[q.c0, q.c1]));
        for wrong in [q + Fq2::one(), -q, Fq2::zero()] {
            assert!(run(&op, div_stack_with_quotient(&op, num, den, wrong)).is_err(), "a wrong quotient must fail");
        }
        // den = 0: no check, any quotient goes through (so a disprover can always differ from a
        // committed value over a degenerate step)
        let any = fq2_of("any", 0);
        assert_eq!(run(&op, div_stack_with_quotient(&op, num, Fq2::zero(), any)).unwrap(), val_stack(&[any.c0, any.c1]));
    }

    #[test]
    fn line_point_checks_the_inverse_and_negates_x_over_y() {
        let op = PairingOp::new(PairingKind::LinePoint, mul());
        let (x, y) = (fq_from_label("x", 0), fq_from_label("y", 0));
        let inputs = [vec![x, y]];
        let inv = y.inverse().unwrap();
        assert_eq!(op.native(&inputs), vec![-(x * inv), inv]);
        assert_eq!(run(&op, op_stack(&op, &inputs)).unwrap(), val_stack(&[-(x * inv), inv]));
        // a wrong inverse with its product hints regenerated: the check y * inv = 1 fails
        let m = mul();
        let bad = inv + Fq::from(1u64);
        let mut s = val_stack(&[bad]);
        s.extend(m.hints(&y, &bad));
        s.extend(m.hints(&x, &bad));
        s.extend(val_stack(&[x, y]));
        assert!(run(&op, s).is_err());
    }

    #[test]
    fn on_curve_flag_and_const_products_match_native() {
        let g = ark_bn254::G1Affine::generator();
        let op = PairingOp::new(PairingKind::OnCurveG1, mul());
        for (p, want) in [((g.x, g.y), 1u64), ((g.x, g.y + Fq::from(1u64)), 0)] {
            let inputs = [vec![p.0, p.1]];
            assert_eq!(op.native(&inputs), vec![Fq::from(want)]);
            assert_eq!(run(&op, op_stack(&op, &inputs)).unwrap(), val_stack(&[Fq::from(want)]));
        }
        for k in [fq2_of("k", 0), Fq2::new(Fq::zero(), fq_from_label("k", 9))] {
            let op = PairingOp::new(PairingKind::ConstFq2TimesFq(k), mul());
            let s = fq_from_label("s", 0);
            assert_eq!(op.native(&[vec![s]]), vec![k.c0 * s, k.c1 * s]);
            assert_eq!(run(&op, op_stack(&op, &[vec![s]])).unwrap(), val_stack(&[k.c0 * s, k.c1 * s]));
        }
    }

    #[test]
    fn select_gives_the_indexed_constant_and_zero_otherwise() {
        let table = [fq2_of("t", 0), fq2_of("t", 1), fq2_of("t", 2)];
        let op = SelectFq2 { table };
        let big = Fq::from(1u64 << 40);
        for (i, want) in [(Fq::from(0u64), table[0]), (Fq::from(1u64), table[1]), (Fq::from(2u64), table[2]), (Fq::from(3u64), Fq2::zero()), (big, Fq2::zero()), (big + Fq::from(1u64), Fq2::zero())] {
            assert_eq!(op.native(&[vec![i]]), vec![want.c0, want.c1]);
            assert_eq!(run(&op, op_stack(&op, &[vec![i]])).unwrap(), val_stack(&[want.c0, want.c1]), "index {i}");
        }
    }
}
