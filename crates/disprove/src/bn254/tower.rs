//! Fq6 and Fq12 arithmetic as DAGs of Fq2 operations (arkworks' `Fq6Config` / `Fq12Config`).
//!
//! An Fq6 is three Fq2 values `[c0, c1, c2]` ([`Fq6Ids`]), an Fq12 two Fq6 `[c0, c1]`
//! ([`Fq12Ids`]). Inside a builder, linear combinations stay symbolic ([`Fq2Expr`]): a
//! product materializes each non-trivial operand with one [`Linear`] operation and every
//! result is materialized at the end, so additions never get operations of their own.

use std::sync::Arc;

use ark_bn254::{Fq, Fq12Config, Fq2, Fq6Config};
use ark_ff::{Fp12Config, Fp6Config, One, Zero};
use bitvm2_script::arith::FieldError;

use super::fq2::{Fq2Mul, Fq2MulAcc, Fq2MulConst, Fq2MulFq, Fq2Square, Linear, MacShape};
use super::{default_mul, FqMul};
use crate::program::{CommitMode, Op, Operand, Program, ValueId};

/// An Fq6 as three Fq2 values `[c0, c1, c2]` (Fq6 = Fq2[v]/(v^3 - xi)).
pub type Fq6Ids = [ValueId; 3];
/// An Fq12 as two Fq6 `[c0, c1]` (Fq12 = Fq6[w]/(w^2 - v)).
pub type Fq12Ids = [Fq6Ids; 2];

/// A 2x2 integer matrix acting on `[x0, x1]` (an Fq-linear map of Fq2).
type Mat = [[i64; 2]; 2];
const ID: Mat = [[1, 0], [0, 1]];

fn mat_mul(a: &Mat, b: &Mat) -> Mat {
    let mut r = [[0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            r[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j];
        }
    }
    r
}

/// A symbolic Fq2: `sum_k M_k * value_k + constant` with small integer 2x2 matrices `M_k`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fq2Expr {
    terms: Vec<(ValueId, Mat)>,
    constant: Fq2,
}

impl Fq2Expr {
    /// A program value.
    pub fn value(id: ValueId) -> Self {
        Fq2Expr { terms: vec![(id, ID)], constant: Fq2::zero() }
    }

    /// A constant.
    pub fn constant(c: Fq2) -> Self {
        Fq2Expr { terms: Vec::new(), constant: c }
    }

    fn map(&self, m: &Mat) -> Self {
        let c = self.constant;
        let constant = Fq2::new(
            Fq::from(m[0][0]) * c.c0 + Fq::from(m[0][1]) * c.c1,
            Fq::from(m[1][0]) * c.c0 + Fq::from(m[1][1]) * c.c1,
        );
        Fq2Expr { terms: self.terms.iter().map(|(v, t)| (*v, mat_mul(m, t))).collect(), constant }.normalized()
    }

    fn normalized(mut self) -> Self {
        let mut out: Vec<(ValueId, Mat)> = Vec::new();
        for (v, m) in self.terms {
            match out.iter_mut().find(|(w, _)| *w == v) {
                Some((_, acc)) => {
                    for i in 0..2 {
                        for j in 0..2 {
                            acc[i][j] += m[i][j];
                        }
                    }
                }
                None => out.push((v, m)),
            }
        }
        out.retain(|(_, m)| *m != [[0; 2]; 2]);
        self.terms = out;
        self
    }

    /// `self + o`.
    pub fn add(&self, o: &Fq2Expr) -> Self {
        let mut terms = self.terms.clone();
        terms.extend(o.terms.iter().cloned());
        Fq2Expr { terms, constant: self.constant + o.constant }.normalized()
    }

    /// `self - o`.
    pub fn sub(&self, o: &Fq2Expr) -> Self {
        self.add(&o.neg())
    }

    /// `-self`.
    pub fn neg(&self) -> Self {
        self.map(&[[-1, 0], [0, -1]])
    }

    /// `n * self` for a small integer `n`.
    pub fn scale(&self, n: i64) -> Self {
        self.map(&[[n, 0], [0, n]])
    }

    /// `xi * self` with xi = 9 + u, the Fq6 non-residue.
    pub fn mul_by_xi(&self) -> Self {
        self.map(&[[9, -1], [1, 9]])
    }

    /// The conjugate `[c0, -c1]`.
    pub fn conjugate(&self) -> Self {
        self.map(&[[1, 0], [0, -1]])
    }

    /// The value itself if the expression is exactly one value.
    pub fn as_value(&self) -> Option<ValueId> {
        match self.terms.as_slice() {
            [(v, m)] if *m == ID && self.constant.is_zero() => Some(*v),
            _ => None,
        }
    }

    /// The constant if the expression has no value terms.
    pub fn as_constant(&self) -> Option<Fq2> {
        self.terms.is_empty().then_some(self.constant)
    }
}

type E6 = [Fq2Expr; 3];
type E12 = [E6; 2];

/// How [`Tower::fq12_mul`], [`Tower::fq12_square`] and [`Tower::fq12_mul_by_line`] are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fq12Products {
    /// arkworks' formulas (Karatsuba over Fq6, complex squaring, `mul_by_034`): fewest Fq2
    /// products (18 / 12 / 10), but every sum they need is a value of its own (commitments).
    Karatsuba,
    /// Schoolbook in Fq12 = Fq2[X]/(X^6 - xi), each output coefficient a chain of
    /// [`Fq2MulAcc`] steps (36 / 21 / 12 Fq2 products): no separate sums, one committed Fq2 per
    /// product. More Fq products, far fewer committed values (see docs/disprove.md).
    #[default]
    Accumulate,
}

/// How extension-field builders emit operations: the Fq multiplication and the commitment of
/// the values they produce (used if a value crosses a leaf boundary).
#[derive(Debug, Clone)]
pub struct Tower {
    /// Commitment of produced values; default [`CommitMode::Direct`] (for a two-element value
    /// the direct commitment beats hashing, see docs/disprove.md, trade-off 2).
    pub commit: CommitMode,
    /// Most Fq2 inputs of one [`Linear`] operation (at least 2; default 2). Longer sums
    /// become chains. Every committed Fq2 value a leaf reads or writes costs about 270 stack
    /// items of Winternitz signature, so an operation with more than two committed inputs
    /// does not fit a leaf of 1000 items.
    pub max_linear_inputs: usize,
    /// How Fq12 products, squares and line products are built.
    pub fq12_products: Fq12Products,
    mul: Arc<dyn FqMul>,
    fq2_mul: Arc<Fq2Mul>,
    fq2_square: Arc<Fq2Square>,
    fq2_mul_fq: Arc<Fq2MulFq>,
}

impl Tower {
    /// Builders using `mul` for every Fq product, committing produced values with `commit`.
    pub fn new(mul: Arc<dyn FqMul>, commit: CommitMode) -> Self {
        Tower {
            commit,
            max_linear_inputs: 2,
            fq12_products: Fq12Products::default(),
            fq2_mul: Arc::new(Fq2Mul::new(mul.clone())),
            fq2_square: Arc::new(Fq2Square::new(mul.clone())),
            fq2_mul_fq: Arc::new(Fq2MulFq::new(mul.clone())),
            mul,
        }
    }

    /// Builders with a multiplication of `bitvm2_script::arith::field` chosen by `mode`.
    pub fn with_mode(mode: crate::programs::MulMode, commit: CommitMode) -> Result<Self, FieldError> {
        Ok(Self::new(Arc::new(super::ModeMul::new(mode)?), commit))
    }

    /// The Fq multiplication.
    pub fn fq_mul(&self) -> &Arc<dyn FqMul> {
        &self.mul
    }

    /// One [`Fq2MulAcc`] step: `k * a * b +- (accs)` (`a^2` if `b` is `None`; up to two
    /// accumulators, subtracted if `sub`), `k` including 2 if `double` and xi if `xi`.
    #[allow(clippy::too_many_arguments)]
    fn mac(&self, prog: &mut Program, name: &str, a: ValueId, b: Option<ValueId>, accs: &[ValueId], double: bool, xi: bool, sub: bool) -> ValueId {
        assert!(accs.len() <= 2, "at most two accumulators");
        let shape = MacShape { square: b.is_none(), double, xi, acc: !accs.is_empty(), acc2: accs.len() == 2, sub };
        let op = Arc::new(Fq2MulAcc::new(self.mul.clone(), shape));
        let args = std::iter::once(a).chain(b).chain(accs.iter().copied()).map(Operand::Value).collect();
        prog.push_op(name.to_string(), op, args, self.commit)
    }

    /// `a * b - acc_1 - ..` (`a^2` if `b` is `None`; one or two accumulators, which may be the
    /// same value) as one [`Fq2MulAcc`] operation.
    pub fn fq2_mul_sub(&self, prog: &mut Program, label: &str, a: ValueId, b: Option<ValueId>, accs: &[ValueId]) -> ValueId {
        assert!(!accs.is_empty(), "at least one accumulator");
        self.mac(prog, label, a, b, accs, false, false, true)
    }

    /// A schoolbook Fq12 product in the X basis (`b = None`: the square of `a`): output
    /// coefficient `k` is the chain of `terms(k)`, each `(i, Some(j), wraps)` for `a_i b_j`, or
    /// in a square `(i, Some(j), wraps)` for `2 a_i a_j` and `(i, None, wraps)` for `a_i^2`.
    fn schoolbook(&self, prog: &mut Program, label: &str, a: &Fq12Ids, b: Option<&Fq12Ids>, terms: impl Fn(usize) -> Vec<(usize, Option<usize>, bool)>) -> Fq12Ids {
        let mut out = [0; 6];
        for (k, o) in out.iter_mut().enumerate() {
            let mut acc = None;
            for (n, (i, j, wraps)) in terms(k).into_iter().enumerate() {
                let double = b.is_none() && j.is_some();
                let bj = j.map(|j| x_coeff(b.unwrap_or(a), j));
                acc = Some(self.mac(prog, &format!("{label}.X{k}/{n}"), x_coeff(a, i), bj, acc.as_slice(), double, wraps, false));
            }
            *o = acc.expect("every coefficient has a term");
        }
        from_x(out)
    }

    fn ctx<'a>(&'a self, prog: &'a mut Program, label: &str) -> Ctx<'a> {
        Ctx { t: self, prog, label: label.to_string(), n: 0, memo: Vec::new() }
    }

    /// Fq2 product of two values.
    pub fn fq2_mul(&self, prog: &mut Program, label: &str, a: ValueId, b: ValueId) -> ValueId {
        let mut c = self.ctx(prog, label);
        let r = c.mul(&Fq2Expr::value(a), &Fq2Expr::value(b));
        c.value(&r)
    }

    /// Fq2 square of a value.
    pub fn fq2_square(&self, prog: &mut Program, label: &str, a: ValueId) -> ValueId {
        let mut c = self.ctx(prog, label);
        let r = c.square(&Fq2Expr::value(a));
        c.value(&r)
    }

    /// Fq2 value times an Fq value (`x` of one element).
    pub fn fq2_mul_by_fq(&self, prog: &mut Program, label: &str, a: ValueId, x: ValueId) -> ValueId {
        let commit = self.commit;
        prog.push_op(label.to_string(), self.fq2_mul_fq.clone(), vec![Operand::Value(a), Operand::Value(x)], commit)
    }

    /// Fq6 product (arkworks' Karatsuba: 6 Fq2 products).
    pub fn fq6_mul(&self, prog: &mut Program, label: &str, a: Fq6Ids, b: Fq6Ids) -> Fq6Ids {
        let mut c = self.ctx(prog, label);
        let r = c.fq6_mul(&e6(&a), &e6(&b));
        c.values6(&r)
    }

    /// Fq6 square (Chung-Hasan SQR2 as arkworks: 3 Fq2 squares, 2 Fq2 products).
    pub fn fq6_square(&self, prog: &mut Program, label: &str, a: Fq6Ids) -> Fq6Ids {
        let mut c = self.ctx(prog, label);
        let r = c.fq6_square(&e6(&a));
        c.values6(&r)
    }

    /// Fq12 product (see [`Fq12Products`]).
    pub fn fq12_mul(&self, prog: &mut Program, label: &str, a: Fq12Ids, b: Fq12Ids) -> Fq12Ids {
        if self.fq12_products == Fq12Products::Accumulate {
            // out_k = sum_i a_i b_{k-i}, times xi where the indices wrap (i > k).
            let terms = |k: usize| (0..6).map(move |i| (i, Some((k + 6 - i) % 6), i > k)).collect::<Vec<_>>();
            return self.schoolbook(prog, label, &a, Some(&b), terms);
        }
        let mut c = self.ctx(prog, label);
        let r = c.fq12_mul(&e12(&a), &e12(&b));
        c.values12(&r)
    }

    /// Fq12 square (complex squaring, 2 Fq6 products; valid for every element, not only the
    /// cyclotomic subgroup).
    pub fn fq12_square(&self, prog: &mut Program, label: &str, a: Fq12Ids) -> Fq12Ids {
        if self.fq12_products == Fq12Products::Accumulate {
            // out_k = sum_{i <= j, i + j = k mod 6} (2 unless i = j) a_i a_j (times xi if i + j >= 6).
            let terms = |k: usize| {
                (0..6).flat_map(|i| (i..6).map(move |j| (i, j))).filter(|(i, j)| (i + j) % 6 == k).map(|(i, j)| (i, (i != j).then_some(j), i + j >= 6)).collect::<Vec<_>>()
            };
            return self.schoolbook(prog, label, &a, None, terms);
        }
        let mut c = self.ctx(prog, label);
        let r = c.fq12_square(&e12(&a));
        c.values12(&r)
    }

    /// `f * (c0 + c3 w + c4 v w)`: the sparse product by a line of the Miller loop for a
    /// D-type twist (arkworks' `Fp12::mul_by_034`, coefficients 0, 3, 4 non-zero in the basis
    /// `1, v, v^2, w, vw, v^2w`): 13 Fq2 products.
    pub fn fq12_mul_by_034(&self, prog: &mut Program, label: &str, f: Fq12Ids, c0: ValueId, c3: ValueId, c4: ValueId) -> Fq12Ids {
        let mut c = self.ctx(prog, label);
        let r = c.fq12_mul_by_034(&e12(&f), &Fq2Expr::value(c0), &Fq2Expr::value(c3), &Fq2Expr::value(c4));
        c.values12(&r)
    }

    /// `f * (1 + c3 w + c4 v w)`: the product by a normalized line of the Miller loop
    /// ([`Tower::fq12_mul_by_034`] with `c0 = 1`: 10 Fq2 products).
    pub fn fq12_mul_by_line(&self, prog: &mut Program, label: &str, f: Fq12Ids, c3: ValueId, c4: ValueId) -> Fq12Ids {
        if self.fq12_products == Fq12Products::Accumulate {
            // The line is 1 + c3 X + c4 X^3: out_k = f_k + c3 f_{k-1} + c4 f_{k-3} (xi on wrap).
            let mut out = [0; 6];
            for (k, o) in out.iter_mut().enumerate() {
                let t = self.mac(prog, &format!("{label}.X{k}/0"), c3, Some(x_coeff(&f, (k + 5) % 6)), &[x_coeff(&f, k)], false, k < 1, false);
                *o = self.mac(prog, &format!("{label}.X{k}/1"), c4, Some(x_coeff(&f, (k + 3) % 6)), &[t], false, k < 3, false);
            }
            return from_x(out);
        }
        let mut c = self.ctx(prog, label);
        let r = c.fq12_mul_by_034(&e12(&f), &Fq2Expr::constant(Fq2::one()), &Fq2Expr::value(c3), &Fq2Expr::value(c4));
        c.values12(&r)
    }

    /// A value equal to the linear expression `e` (a linear operation, or a chain of them).
    pub fn fq2_value(&self, prog: &mut Program, label: &str, e: &Fq2Expr) -> ValueId {
        let mut c = self.ctx(prog, label);
        c.value(e)
    }

    /// `a - b` for Fq2 values (one linear operation).
    pub fn fq2_sub(&self, prog: &mut Program, label: &str, a: ValueId, b: ValueId) -> ValueId {
        let mut c = self.ctx(prog, label);
        c.value(&Fq2Expr::value(a).sub(&Fq2Expr::value(b)))
    }

    /// `a - b - d` for Fq2 values.
    pub fn fq2_sub2(&self, prog: &mut Program, label: &str, a: ValueId, b: ValueId, d: ValueId) -> ValueId {
        let mut c = self.ctx(prog, label);
        c.value(&Fq2Expr::value(a).sub(&Fq2Expr::value(b)).sub(&Fq2Expr::value(d)))
    }

    /// `f^(p^power)` (arkworks' `frobenius_map`): each Fq2 coefficient conjugated `power`
    /// times and multiplied by a constant from `FROBENIUS_COEFF_FP6_C1/C2` and
    /// `FROBENIUS_COEFF_FP12_C1`; coefficients with constant 1 cost nothing for even powers.
    pub fn fq12_frobenius(&self, prog: &mut Program, label: &str, f: Fq12Ids, power: usize) -> Fq12Ids {
        let conj = power % 2 == 1;
        let mut out = [[0; 3]; 2];
        for (i, half) in f.iter().enumerate() {
            for (j, &x) in half.iter().enumerate() {
                let mut k = match j {
                    0 => Fq2::one(),
                    1 => Fq6Config::FROBENIUS_COEFF_FP6_C1[power % 6],
                    _ => Fq6Config::FROBENIUS_COEFF_FP6_C2[power % 6],
                };
                if i == 1 {
                    k *= Fq12Config::FROBENIUS_COEFF_FP12_C1[power % 12];
                }
                out[i][j] = if k.is_one() {
                    let e = Fq2Expr::value(x);
                    let mut c = self.ctx(prog, &format!("{label}.c{i}{j}"));
                    c.value(&if conj { e.conjugate() } else { e })
                } else {
                    let op = Arc::new(Fq2MulConst::new(self.mul.clone(), k, conj));
                    prog.push_op(format!("{label}.c{i}{j}"), op, vec![Operand::Value(x)], self.commit)
                };
            }
        }
        out
    }

    /// The conjugate `[c0, -c1]` of an Fq12 (the inverse in the cyclotomic subgroup).
    pub fn fq12_conjugate(&self, prog: &mut Program, label: &str, f: Fq12Ids) -> Fq12Ids {
        let mut c = self.ctx(prog, label);
        let r = [e6(&f[0]), e6(&f[1]).map(|e| e.neg())];
        c.values12(&r)
    }
}

impl Default for Tower {
    /// The default multiplication ([`super::default_mul`]), direct commitments.
    fn default() -> Self {
        Tower::new(default_mul(), CommitMode::Direct)
    }
}

/// Coefficient `k` of `f` in the basis `X^k` of Fq12 = Fq2[X]/(X^6 - xi), `X = w`: `v = X^2`,
/// so even `k` are `c0`'s coefficients and odd `k` are `c1`'s.
fn x_coeff(f: &Fq12Ids, k: usize) -> ValueId {
    f[k % 2][k / 2]
}

/// The Fq12 with coefficients `c_k` of `X^k`.
fn from_x(c: [ValueId; 6]) -> Fq12Ids {
    [[c[0], c[2], c[4]], [c[1], c[3], c[5]]]
}

fn e6(a: &Fq6Ids) -> E6 {
    a.map(Fq2Expr::value)
}

fn e12(a: &Fq12Ids) -> E12 {
    [e6(&a[0]), e6(&a[1])]
}

fn add6(a: &E6, b: &E6) -> E6 {
    [a[0].add(&b[0]), a[1].add(&b[1]), a[2].add(&b[2])]
}

fn sub6(a: &E6, b: &E6) -> E6 {
    [a[0].sub(&b[0]), a[1].sub(&b[1]), a[2].sub(&b[2])]
}

/// `v * (x0 + x1 v + x2 v^2) = xi x2 + x0 v + x1 v^2`.
fn mul_by_v(a: &E6) -> E6 {
    [a[2].mul_by_xi(), a[0].clone(), a[1].clone()]
}

/// One builder run: emits operations into `prog`, names values `label/n`.
struct Ctx<'a> {
    t: &'a Tower,
    prog: &'a mut Program,
    label: String,
    n: usize,
    /// Expressions already materialized in this run.
    memo: Vec<(Fq2Expr, ValueId)>,
}

impl Ctx<'_> {
    fn push(&mut self, op: Arc<dyn Op>, args: Vec<Operand>) -> ValueId {
        let name = format!("{}/{}", self.label, self.n);
        self.n += 1;
        self.prog.push_op(name, op, args, self.t.commit)
    }

    /// A value equal to `e` (one [`Linear`] operation unless it is a value already).
    fn value(&mut self, e: &Fq2Expr) -> ValueId {
        if let Some(v) = e.as_value() {
            return v;
        }
        if let Some((_, v)) = self.memo.iter().find(|(m, _)| m == e) {
            return *v;
        }
        let max = self.t.max_linear_inputs.max(2);
        if e.terms.len() > max {
            // A chain: the first `max` terms (and the constant), then that sum plus the rest.
            let head = Fq2Expr { terms: e.terms[..max].to_vec(), constant: e.constant };
            let h = self.value(&head);
            let mut terms = vec![(h, ID)];
            terms.extend(e.terms[max..].iter().cloned());
            let v = self.value(&Fq2Expr { terms, constant: Fq2::zero() });
            self.memo.push((e.clone(), v));
            return v;
        }
        let coeffs: Vec<Vec<i64>> = (0..2).map(|r| e.terms.iter().flat_map(|(_, m)| m[r]).collect()).collect();
        let op = Linear::new(vec![2; e.terms.len()], coeffs, vec![e.constant.c0, e.constant.c1])
            .expect("builder coefficients are small and well-shaped");
        let args = e.terms.iter().map(|(v, _)| Operand::Value(*v)).collect();
        let v = self.push(Arc::new(op), args);
        self.memo.push((e.clone(), v));
        v
    }

    fn values6(&mut self, e: &E6) -> Fq6Ids {
        [self.value(&e[0]), self.value(&e[1]), self.value(&e[2])]
    }

    fn values12(&mut self, e: &E12) -> Fq12Ids {
        [self.values6(&e[0]), self.values6(&e[1])]
    }

    fn mul(&mut self, a: &Fq2Expr, b: &Fq2Expr) -> Fq2Expr {
        match (a.as_constant(), b.as_constant()) {
            (Some(x), Some(y)) => Fq2Expr::constant(x * y),
            (Some(k), None) | (None, Some(k)) => {
                let x = if a.as_constant().is_some() { b } else { a };
                if k.is_one() {
                    return x.clone();
                }
                let v = self.value(x);
                let op = Arc::new(Fq2MulConst::new(self.t.mul.clone(), k, false));
                Fq2Expr::value(self.push(op, vec![Operand::Value(v)]))
            }
            (None, None) => {
                let (x, y) = (self.value(a), self.value(b));
                let op = self.t.fq2_mul.clone();
                Fq2Expr::value(self.push(op, vec![Operand::Value(x), Operand::Value(y)]))
            }
        }
    }

    fn square(&mut self, a: &Fq2Expr) -> Fq2Expr {
        if let Some(k) = a.as_constant() {
            return Fq2Expr::constant(k * k);
        }
        let x = self.value(a);
        let op = self.t.fq2_square.clone();
        Fq2Expr::value(self.push(op, vec![Operand::Value(x)]))
    }

    /// arkworks' cubic-extension product (Devegili et al., Karatsuba).
    fn fq6_mul(&mut self, a: &E6, b: &E6) -> E6 {
        let ad = self.mul(&a[0], &b[0]);
        let be = self.mul(&a[1], &b[1]);
        let cf = self.mul(&a[2], &b[2]);
        let x = self.mul(&a[1].add(&a[2]), &b[1].add(&b[2])).sub(&be).sub(&cf);
        let y = self.mul(&a[0].add(&a[1]), &b[0].add(&b[1])).sub(&ad).sub(&be);
        let z = self.mul(&a[0].add(&a[2]), &b[0].add(&b[2])).sub(&ad).add(&be).sub(&cf);
        [ad.add(&x.mul_by_xi()), y.add(&cf.mul_by_xi()), z]
    }

    /// arkworks' cubic-extension square (Chung-Hasan SQR2).
    fn fq6_square(&mut self, a: &E6) -> E6 {
        let s0 = self.square(&a[0]);
        let s1 = self.mul(&a[0], &a[1]).scale(2);
        let s2 = self.square(&a[0].sub(&a[1]).add(&a[2]));
        let s3 = self.mul(&a[1], &a[2]).scale(2);
        let s4 = self.square(&a[2]);
        [s0.add(&s3.mul_by_xi()), s1.add(&s4.mul_by_xi()), s1.add(&s2).add(&s3).sub(&s0).sub(&s4)]
    }

    /// `x * (d0 + d1 v)` (arkworks' `Fp6::mul_by_01`, 5 Fq2 products).
    fn fq6_mul_by_01(&mut self, x: &E6, d0: &Fq2Expr, d1: &Fq2Expr) -> E6 {
        let aa = self.mul(&x[0], d0);
        let bb = self.mul(&x[1], d1);
        let t1 = self.mul(d1, &x[1].add(&x[2])).sub(&bb).mul_by_xi().add(&aa);
        let t3 = self.mul(d0, &x[0].add(&x[2])).sub(&aa).add(&bb);
        let t2 = self.mul(&d0.add(d1), &x[0].add(&x[1])).sub(&aa).sub(&bb);
        [t1, t2, t3]
    }

    fn fq12_mul(&mut self, a: &E12, b: &E12) -> E12 {
        let v0 = self.fq6_mul(&a[0], &b[0]);
        let v1 = self.fq6_mul(&a[1], &b[1]);
        let s = self.fq6_mul(&add6(&a[0], &a[1]), &add6(&b[0], &b[1]));
        [add6(&v0, &mul_by_v(&v1)), sub6(&sub6(&s, &v0), &v1)]
    }

    /// arkworks' quadratic-extension square (complex squaring).
    fn fq12_square(&mut self, a: &E12) -> E12 {
        let v0 = sub6(&a[0], &a[1]);
        let v3 = sub6(&a[0], &mul_by_v(&a[1]));
        let v2 = self.fq6_mul(&a[0], &a[1]);
        let v0 = add6(&self.fq6_mul(&v0, &v3), &v2);
        [add6(&v0, &mul_by_v(&v2)), add6(&v2, &v2)]
    }

    fn fq12_mul_by_034(&mut self, f: &E12, c0: &Fq2Expr, c3: &Fq2Expr, c4: &Fq2Expr) -> E12 {
        let a = [self.mul(&f[0][0], c0), self.mul(&f[0][1], c0), self.mul(&f[0][2], c0)];
        let b = self.fq6_mul_by_01(&f[1], c3, c4);
        let e = self.fq6_mul_by_01(&add6(&f[0], &f[1]), &c0.add(c3), c4);
        [add6(&mul_by_v(&b), &a), sub6(&e, &add6(&a, &b))]
    }
}
