//! Fq2 operations (Fq2 = Fq[u]/(u^2 + 1), values `[c0, c1]`) as program [`Op`]s.
//!
//! Products use the shared Fq multiplication ([`FqMul`]); additions, subtractions and small
//! multiples are reduced at every step (`bitvm2_script::arith::field`). Every operation's
//! name carries its number of Fq products as `"<n>M"` (see [`super::fq_mul_count`]) and
//! everything that changes its stack shape, because the cost model measures each distinct
//! name once.

use std::sync::Arc;

use ark_bn254::{Fq, Fq2};
use ark_ff::{One, Zero};

use super::gadget::{self, gadget_op, Backend, Gadget};
use super::FqMul;

/// Karatsuba product `[a0 a1] * [b0 b1]`: `v0 = a0 b0`, `v1 = a1 b1`,
/// `c0 = v0 - v1`, `c1 = (a0 + a1)(b0 + b1) - v0 - v1` (3 Fq products).
#[derive(Debug, Clone)]
pub struct Fq2Mul {
    mul: Arc<dyn FqMul>,
    groups: Vec<usize>,
}

impl Fq2Mul {
    /// The product with this Fq multiplication.
    pub fn new(mul: Arc<dyn FqMul>) -> Self {
        let mut op = Fq2Mul { mul, groups: Vec::new() };
        op.groups = gadget::hint_groups(&op, op.mul.as_ref(), &op.shape());
        op
    }
    fn label(&self) -> String {
        format!("fq2 mul {}M ({})", self.groups.len(), self.mul.name())
    }
    fn shape(&self) -> Vec<usize> {
        vec![2, 2]
    }
    fn out_elems(&self) -> usize {
        2
    }
}

/// The Karatsuba product of two Fq2 element pairs over any backend (3 Fq products).
pub(crate) fn karatsuba<B: Backend>(b: &mut B, a: &[B::E], c: &[B::E]) -> [B::E; 2] {
    let v0 = b.mul(&a[0], &c[0]);
    let v1 = b.mul(&a[1], &c[1]);
    let sa = b.add(&a[0], &a[1]);
    let sc = b.add(&c[0], &c[1]);
    let v2 = b.mul(&sa, &sc);
    let c0 = b.sub(&v0, &v1);
    let t = b.sub(&v2, &v0);
    [c0, b.sub(&t, &v1)]
}

impl Gadget for Fq2Mul {
    fn run<B: Backend>(&self, b: &mut B, x: &[Vec<B::E>]) -> Vec<B::E> {
        karatsuba(b, &x[0], &x[1]).to_vec()
    }
}
gadget_op!(Fq2Mul);

/// Square `[a0 a1]^2 = [(a0 + a1)(a0 - a1), 2 a0 a1]` (2 Fq products).
#[derive(Debug, Clone)]
pub struct Fq2Square {
    mul: Arc<dyn FqMul>,
    groups: Vec<usize>,
}

impl Fq2Square {
    /// The square with this Fq multiplication.
    pub fn new(mul: Arc<dyn FqMul>) -> Self {
        let mut op = Fq2Square { mul, groups: Vec::new() };
        op.groups = gadget::hint_groups(&op, op.mul.as_ref(), &op.shape());
        op
    }
    fn label(&self) -> String {
        format!("fq2 square {}M ({})", self.groups.len(), self.mul.name())
    }
    fn shape(&self) -> Vec<usize> {
        vec![2]
    }
    fn out_elems(&self) -> usize {
        2
    }
}

/// `[a0 a1]^2` over any backend (2 Fq products).
fn square<B: Backend>(b: &mut B, a: &[B::E]) -> [B::E; 2] {
    let s = b.add(&a[0], &a[1]);
    let d = b.sub(&a[0], &a[1]);
    let c0 = b.mul(&s, &d);
    let m = b.mul(&a[0], &a[1]);
    [c0, b.double(&m)]
}

impl Gadget for Fq2Square {
    fn run<B: Backend>(&self, b: &mut B, x: &[Vec<B::E>]) -> Vec<B::E> {
        square(b, &x[0]).to_vec()
    }
}
gadget_op!(Fq2Square);

/// The variant of an [`Fq2MulAcc`]: which factor, which constant, whether it accumulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacShape {
    /// `a^2` instead of `a * b` (one operand fewer, 2 Fq products instead of 3).
    pub square: bool,
    /// Times 2.
    pub double: bool,
    /// Times `xi = 9 + u` (the wrap-around `X^6 = xi` of Fq12 = Fq2[X]/(X^6 - xi)).
    pub xi: bool,
    /// Plus an accumulator operand (after the factors).
    pub acc: bool,
    /// Plus a second accumulator operand (after the first; needs `acc`).
    pub acc2: bool,
    /// Subtract the accumulators instead of adding them: `k a b - acc`.
    pub sub: bool,
}

/// `k * a * b +- (acc [+ acc2])` (or with `a^2`, or without accumulators) for `k` one of `1, 2,
/// xi, 2 xi`: one step of a schoolbook product in Fq12 = Fq2[X]/(X^6 - xi), or of a G2 point
/// update (`lambda^2 - x_T - x_Q`, `lambda x_T - y_T`). Its operands are committed values and its
/// result the next one, so no separate linear operation (whose result would be a committed
/// value of its own) is needed.
#[derive(Debug, Clone)]
pub struct Fq2MulAcc {
    mul: Arc<dyn FqMul>,
    groups: Vec<usize>,
    shape: MacShape,
}

impl Fq2MulAcc {
    /// The step `shape` with this Fq multiplication.
    pub fn new(mul: Arc<dyn FqMul>, shape: MacShape) -> Self {
        let mut op = Fq2MulAcc { mul, groups: Vec::new(), shape };
        op.groups = gadget::hint_groups(&op, op.mul.as_ref(), &op.shape());
        op
    }
    fn label(&self) -> String {
        let s = &self.shape;
        let what = if s.square { "a^2" } else { "a*b" };
        let k = match (s.double, s.xi) {
            (false, false) => "",
            (true, false) => "2*",
            (false, true) => "xi*",
            (true, true) => "2xi*",
        };
        let acc = match (s.acc, s.acc2, s.sub) {
            (false, _, _) => "",
            (true, false, false) => " + acc",
            (true, true, false) => " + acc + acc2",
            (true, false, true) => " - acc",
            (true, true, true) => " - acc - acc2",
        };
        format!("fq2 mac[{k}{what}{acc}] {}M ({})", self.groups.len(), self.mul.name())
    }
    fn shape(&self) -> Vec<usize> {
        let mut v = vec![2];
        if !self.shape.square {
            v.push(2);
        }
        if self.shape.acc {
            v.push(2);
        }
        if self.shape.acc && self.shape.acc2 {
            v.push(2);
        }
        v
    }
    fn out_elems(&self) -> usize {
        2
    }
}

/// `9 x + x` without a product: three doublings and an addition.
fn times_nine<B: Backend>(b: &mut B, x: &B::E) -> B::E {
    let x2 = b.double(x);
    let x4 = b.double(&x2);
    let x8 = b.double(&x4);
    b.add(&x8, x)
}

impl Gadget for Fq2MulAcc {
    fn run<B: Backend>(&self, b: &mut B, x: &[Vec<B::E>]) -> Vec<B::E> {
        let s = self.shape;
        let mut p = if s.square { square(b, &x[0]) } else { karatsuba(b, &x[0], &x[1]) };
        if s.xi {
            // (p0 + p1 u)(9 + u) = (9 p0 - p1) + (p0 + 9 p1) u
            let n0 = times_nine(b, &p[0]);
            let n1 = times_nine(b, &p[1]);
            p = [b.sub(&n0, &p[1]), b.add(&p[0], &n1)];
        }
        if s.double {
            p = [b.double(&p[0]), b.double(&p[1])];
        }
        let first_acc = if s.square { 1 } else { 2 };
        let accs = if !s.acc { 0 } else if s.acc2 { 2 } else { 1 };
        for acc in &x[first_acc..first_acc + accs] {
            p = if s.sub { [b.sub(&p[0], &acc[0]), b.sub(&p[1], &acc[1])] } else { [b.add(&acc[0], &p[0]), b.add(&acc[1], &p[1])] };
        }
        p.to_vec()
    }
}
gadget_op!(Fq2MulAcc);

/// Product of an Fq2 value `[a0 a1]` by an Fq value `x`: `[a0 x, a1 x]` (2 Fq products).
#[derive(Debug, Clone)]
pub struct Fq2MulFq {
    mul: Arc<dyn FqMul>,
    groups: Vec<usize>,
}

impl Fq2MulFq {
    /// The product with this Fq multiplication.
    pub fn new(mul: Arc<dyn FqMul>) -> Self {
        let mut op = Fq2MulFq { mul, groups: Vec::new() };
        op.groups = gadget::hint_groups(&op, op.mul.as_ref(), &op.shape());
        op
    }
    fn label(&self) -> String {
        format!("fq2 mul by fq {}M ({})", self.groups.len(), self.mul.name())
    }
    fn shape(&self) -> Vec<usize> {
        vec![2, 1]
    }
    fn out_elems(&self) -> usize {
        2
    }
}

impl Gadget for Fq2MulFq {
    fn run<B: Backend>(&self, b: &mut B, x: &[Vec<B::E>]) -> Vec<B::E> {
        let (a, s) = (&x[0], &x[1][0]);
        vec![b.mul(&a[0], s), b.mul(&a[1], s)]
    }
}
gadget_op!(Fq2MulFq);

/// How a constant factor is applied: not at all (0), as a sign (1, -1), or by a product.
fn class(k: &Fq) -> char {
    if k.is_zero() {
        '0'
    } else if k.is_one() {
        '1'
    } else if (-*k).is_one() {
        '-'
    } else {
        'k'
    }
}

/// `k * x` as a signed term, `None` if `k = 0`.
fn scale<B: Backend>(b: &mut B, x: &B::E, k: &Fq) -> Option<(B::E, bool)> {
    match class(k) {
        '0' => None,
        '1' => Some((x.clone(), false)),
        '-' => Some((x.clone(), true)),
        _ => Some((b.mul_const(x, k), false)),
    }
}

/// Sum of signed terms (`true` = subtract); 0 if there are none.
fn signed_sum<B: Backend>(b: &mut B, terms: &[Option<(B::E, bool)>]) -> B::E {
    let mut t: Vec<&(B::E, bool)> = terms.iter().flatten().collect();
    t.sort_by_key(|(_, neg)| *neg);
    let mut acc: Option<B::E> = None;
    for (e, neg) in t {
        acc = Some(match (acc, neg) {
            (None, false) => e.clone(),
            (None, true) => b.neg(e),
            (Some(a), false) => b.add(&a, e),
            (Some(a), true) => b.sub(&a, e),
        });
    }
    acc.unwrap_or_else(|| b.constant(&Fq::zero()))
}

/// Product by a constant `k` baked into the script, optionally of the conjugate of the input
/// (`conj(a) * k`, what a Frobenius map needs). Components 0 and ±1 of `k` cost no product;
/// Karatsuba (3 products) is used when it needs fewer products than the schoolbook (4).
#[derive(Debug, Clone)]
pub struct Fq2MulConst {
    /// The constant factor.
    pub k: Fq2,
    /// Conjugate the input first.
    pub conjugate: bool,
    mul: Arc<dyn FqMul>,
    groups: Vec<usize>,
}

impl Fq2MulConst {
    /// `a -> k * a` (or `k * conj(a)` if `conjugate`).
    pub fn new(mul: Arc<dyn FqMul>, k: Fq2, conjugate: bool) -> Self {
        let mut op = Fq2MulConst { k, conjugate, mul, groups: Vec::new() };
        op.groups = gadget::hint_groups(&op, op.mul.as_ref(), &op.shape());
        op
    }
    fn karatsuba(&self) -> bool {
        let nt = |k: &Fq| usize::from(class(k) == 'k');
        let (k0, k1) = (self.k.c0, self.k.c1);
        nt(&k0) + nt(&k1) + nt(&(k0 + k1)) < 2 * (nt(&k0) + nt(&k1))
    }
    fn label(&self) -> String {
        let shape: String = [self.k.c0, self.k.c1, self.k.c0 + self.k.c1].iter().map(class).collect();
        format!(
            "fq2 mul const[{shape}]{} {}M ({})",
            if self.conjugate { " conj" } else { "" },
            self.groups.len(),
            self.mul.name()
        )
    }
    fn shape(&self) -> Vec<usize> {
        vec![2]
    }
    fn out_elems(&self) -> usize {
        2
    }
}

impl Gadget for Fq2MulConst {
    fn run<B: Backend>(&self, b: &mut B, x: &[Vec<B::E>]) -> Vec<B::E> {
        let a0 = x[0][0].clone();
        let a1 = if self.conjugate { b.neg(&x[0][1]) } else { x[0][1].clone() };
        let (k0, k1) = (self.k.c0, self.k.c1);
        let flip = |t: Option<(B::E, bool)>| t.map(|(e, n)| (e, !n));
        if self.karatsuba() {
            let v0 = scale(b, &a0, &k0);
            let v1 = scale(b, &a1, &k1);
            let s = b.add(&a0, &a1);
            let v2 = scale(b, &s, &(k0 + k1));
            let c0 = signed_sum(b, &[v0.clone(), flip(v1.clone())]);
            let c1 = signed_sum(b, &[v2, flip(v0), flip(v1)]);
            vec![c0, c1]
        } else {
            let a0k0 = scale(b, &a0, &k0);
            let a1k1 = scale(b, &a1, &k1);
            let c0 = signed_sum(b, &[a0k0, flip(a1k1)]);
            let a0k1 = scale(b, &a0, &k1);
            let a1k0 = scale(b, &a1, &k0);
            let c1 = signed_sum(b, &[a0k1, a1k0]);
            vec![c0, c1]
        }
    }
}
gadget_op!(Fq2MulConst);

/// Why a linear map cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinearError {
    /// A row does not have one coefficient per input element, or the constant is missing.
    #[error("linear map: {rows} rows of {cols} coefficients and {constants} constants for {inputs} input elements")]
    Shape { rows: usize, cols: usize, constants: usize, inputs: usize },
    /// A coefficient is too large for the double-and-add of small multiples.
    #[error("linear map: coefficient {0} exceeds 2^20 in magnitude")]
    Coefficient(i64),
}

/// Largest coefficient magnitude of a [`Linear`] map.
pub const MAX_COEFFICIENT: i64 = 1 << 20;

/// A small-integer linear map plus a constant: output element `j` is
/// `sum_i rows[j][i] * x_i + constant[j]` over the input elements `x_i` (all inputs
/// flattened, in order). Sums and differences of Fq2 values, multiplication by xi = 9 + u,
/// conjugation and negation are all instances. Each output is one joint double-and-add over
/// the coefficients' bits (doublings shared by all terms), every step reduced; no hints.
#[derive(Debug, Clone)]
pub struct Linear {
    inputs: Vec<usize>,
    rows: Vec<Vec<i64>>,
    constant: Vec<Fq>,
    mul: Arc<dyn FqMul>,
    groups: Vec<usize>,
}

impl Linear {
    /// The map `rows` (one per output element, one coefficient per input element) plus
    /// `constant` (one per output element), over inputs of `inputs` elements each.
    pub fn new(inputs: Vec<usize>, rows: Vec<Vec<i64>>, constant: Vec<Fq>) -> Result<Self, LinearError> {
        let n: usize = inputs.iter().sum();
        if rows.iter().any(|r| r.len() != n) || constant.len() != rows.len() {
            let cols = rows.iter().map(|r| r.len()).find(|&c| c != n).unwrap_or(n);
            return Err(LinearError::Shape { rows: rows.len(), cols, constants: constant.len(), inputs: n });
        }
        if let Some(&c) = rows.iter().flatten().find(|c| c.abs() > MAX_COEFFICIENT) {
            return Err(LinearError::Coefficient(c));
        }
        // No products: any multiplication serves for the (empty) hint plumbing.
        Ok(Linear { inputs, rows, constant, mul: super::default_mul(), groups: Vec::new() })
    }

    /// `sum_k (s_k + t_k u) * x_k + c` over Fq2 inputs `x_k`, for coefficients `(s_k, t_k)` in
    /// Z[u].
    pub fn fq2_combination(coeffs: &[(i64, i64)], c: Fq2) -> Result<Self, LinearError> {
        let mut rows = vec![Vec::new(), Vec::new()];
        for &(s, t) in coeffs {
            // (s + t u)(x0 + x1 u) = (s x0 - t x1) + (t x0 + s x1) u
            rows[0].extend([s, -t]);
            rows[1].extend([t, s]);
        }
        Self::new(vec![2; coeffs.len()], rows, vec![c.c0, c.c1])
    }

    /// Multiplication by the Fq6 non-residue xi = 9 + u.
    pub fn mul_by_xi() -> Self {
        Self::fq2_combination(&[(9, 1)], Fq2::zero()).expect("valid shape")
    }

    /// Conjugation `[a0, a1] -> [a0, -a1]`.
    pub fn conjugate() -> Self {
        Self::new(vec![2], vec![vec![1, 0], vec![0, -1]], vec![Fq::zero(); 2]).expect("valid shape")
    }

    /// The coefficient rows.
    pub fn rows(&self) -> &[Vec<i64>] {
        &self.rows
    }

    fn label(&self) -> String {
        let c = if self.constant.iter().all(|c| c.is_zero()) { "" } else { " + c" };
        format!("linear {:?}->{} {:?}{c} 0M", self.inputs, self.rows.len(), self.rows)
    }
    fn shape(&self) -> Vec<usize> {
        self.inputs.clone()
    }
    fn out_elems(&self) -> usize {
        self.rows.len()
    }
}

impl Gadget for Linear {
    fn run<B: Backend>(&self, b: &mut B, x: &[Vec<B::E>]) -> Vec<B::E> {
        let elems: Vec<&B::E> = x.iter().flatten().collect();
        let mut out = Vec::with_capacity(self.rows.len());
        for (row, c) in self.rows.iter().zip(&self.constant) {
            let bits = row.iter().map(|m| 64 - m.unsigned_abs().leading_zeros()).max().unwrap_or(0);
            let mut acc: Option<B::E> = None;
            for bit in (0..bits).rev() {
                if let Some(a) = &acc {
                    acc = Some(b.double(a));
                }
                let mut terms: Vec<(usize, bool)> =
                    (0..row.len()).filter(|&i| (row[i].unsigned_abs() >> bit) & 1 == 1).map(|i| (i, row[i] < 0)).collect();
                terms.sort_by_key(|t| t.1);
                for (i, neg) in terms {
                    let e = elems[i];
                    acc = Some(match (acc, neg) {
                        (None, false) => e.clone(),
                        (None, true) => b.neg(e),
                        (Some(a), false) => b.add(&a, e),
                        (Some(a), true) => b.sub(&a, e),
                    });
                }
            }
            if !c.is_zero() {
                let k = b.constant(c);
                acc = Some(match acc {
                    None => k,
                    Some(a) => b.add(&a, &k),
                });
            }
            out.push(acc.unwrap_or_else(|| b.constant(&Fq::zero())));
        }
        out
    }
}
gadget_op!(Linear);
