//! BN254 extension-field arithmetic (Fq2, Fq6, Fq12) as operations of the program model.
//!
//! The tower is arkworks' (`ark_bn254`), element order included:
//! - Fq2 = Fq[u]/(u^2 + 1), a value of two elements `[c0, c1]`;
//! - Fq6 = Fq2[v]/(v^3 - xi) with xi = 9 + u, three Fq2 values `[c0, c1, c2]`;
//! - Fq12 = Fq6[w]/(w^2 - v), two Fq6 `[c0, c1]`, i.e. six Fq2 values.
//!
//! Every operation works on Fq2 values ([`fq2`]): products (Karatsuba), squares, products by a
//! constant or by an Fq value, and a general small-integer linear map ([`fq2::Linear`]: sums,
//! differences, multiplication by xi, conjugation). The builders of [`tower`] express Fq6 and
//! Fq12 arithmetic as a DAG of these operations, so the chunker can split an Fq12 product over
//! several leaves. Additions are kept symbolic ([`tower::Fq2Expr`]) until a product or a
//! result needs them, so each product's inputs cost one linear operation at most.
//!
//! The Fq multiplication used by every operation is behind [`FqMul`] so that a cheaper
//! multiplication gadget can replace [`ModeMul`] in one place.
//!
//! Figures (example `tower_cost`, hinted multiplication with 4-bit windows, 71.9 kB per Fq
//! product): an Fq2 product is 219 kB of script with 192 hint items (peak 742 stack items),
//! an Fq12 product 54 Fq products in 102 operations (18 products, 84 linear maps), 4.17 MB,
//! chunked into 96 leaves. A leaf holds one Fq2 product and at most about three directly
//! committed Fq2 values (each signature is about 270 stack items), which is why the linear
//! maps rarely share a leaf. The checked multiplication ([`CheckedFqMul`], 13.6 kB per
//! product) needs 308 hint items per product: an Fq2 product (924) does not fit a leaf, so it
//! needs operations of one Fq product over one-element values (not done yet).

use std::fmt;
use std::sync::{Arc, OnceLock};

use ark_bn254::{Fq, Fq12, Fq2, Fq6};
use bitvm2_script::arith::{CheckedMul, FieldError, MulCheckError};
use bitvm2_script::builder::Fragment;

use crate::program::{field, fq_to_nat, push_val, Val};
use crate::programs::MulMode;

pub mod fq2;
pub(crate) mod gadget;
pub mod tower;

#[cfg(test)]
mod tests;

pub use fq2::{Fq2Mul, Fq2MulAcc, Fq2MulConst, Fq2MulFq, Fq2Square, Linear, LinearError, MacShape};
pub use tower::{Fq12Ids, Fq12Products, Fq2Expr, Fq6Ids, Tower};

/// A multiplication in Fq as a script gadget: `[hints A B] -> [A*B mod p]` for canonical A, B,
/// with its hints. Implemented by [`ModeMul`]; a faster gadget implements this trait and is
/// given to [`Tower::new`] (every extension-field operation then uses it).
pub trait FqMul: Send + Sync + fmt::Debug {
    /// Short name (part of operation names).
    fn name(&self) -> String;
    /// `[hints A B] -> [A*B mod p]`, hints deepest.
    fn fragment(&self) -> &Fragment;
    /// Number of hint items of [`FqMul::fragment`].
    fn hint_count(&self) -> usize;
    /// Hint items (deepest first) of `a * b`.
    fn hints(&self, a: &Fq, b: &Fq) -> Vec<Vec<u8>>;
    /// `[hints A] -> [A*k mod p]` for the constant `k`. Default: push `k`, multiply.
    fn const_fragment(&self, k: &Fq) -> Fragment {
        push_val(&[*k]).append(self.fragment())
    }
    /// Number of hint items of [`FqMul::const_fragment`].
    fn const_hint_count(&self, _k: &Fq) -> usize {
        self.hint_count()
    }
    /// Hint items (deepest first) of `a * k` for the constant `k`.
    fn const_hints(&self, a: &Fq, k: &Fq) -> Vec<Vec<u8>> {
        self.hints(a, k)
    }
}

/// The multiplications of `bitvm2_script::arith::field` selected by a [`MulMode`].
#[derive(Debug, Clone)]
pub struct ModeMul {
    mode: MulMode,
    frag: Arc<Fragment>,
    hint_count: usize,
}

impl ModeMul {
    /// The gadget of `mode`; fails if the window is not supported.
    pub fn new(mode: MulMode) -> Result<Self, FieldError> {
        let hint_count = match mode {
            MulMode::Windowed(_) => 0,
            MulMode::Hinted(w) => field().mul_hint_count(w)?,
        };
        Ok(ModeMul { mode, frag: Arc::new(mode.fragment()?), hint_count })
    }

    /// The mode.
    pub fn mode(&self) -> MulMode {
        self.mode
    }
}

impl FqMul for ModeMul {
    fn name(&self) -> String {
        self.mode.to_string()
    }
    fn fragment(&self) -> &Fragment {
        &self.frag
    }
    fn hint_count(&self) -> usize {
        self.hint_count
    }
    fn hints(&self, a: &Fq, b: &Fq) -> Vec<Vec<u8>> {
        match self.mode {
            MulMode::Windowed(_) => Vec::new(),
            MulMode::Hinted(w) => field().mul_hints(&fq_to_nat(a), &fq_to_nat(b), w).expect("window checked in ModeMul::new"),
        }
    }
}

/// The checked-product multiplication of `bitvm2_script::arith::mulcheck` (the witness gives
/// the product and quotient, the script checks `A*B - Q*p - C = 0` column by column). Products
/// by a constant use its constant-factor variant (no conversion of the constant to digits).
#[derive(Debug, Clone)]
pub struct CheckedFqMul {
    inner: CheckedMul,
    frag: Arc<Fragment>,
    hint_count: usize,
}

impl CheckedFqMul {
    /// The checked multiplication over the BN254 base field.
    pub fn new() -> Result<Self, MulCheckError> {
        let inner = CheckedMul::new(field())?;
        let frag = Arc::new(inner.mul());
        let hint_count = inner.mul_hint_count();
        Ok(CheckedFqMul { inner, frag, hint_count })
    }

    /// Whether the constant-factor variant exists for `k` (else: push `k`, multiply).
    fn const_ok(&self, k: &Fq) -> bool {
        self.inner.mul_const_hint_count(&fq_to_nat(k)).is_ok()
    }
}

impl FqMul for CheckedFqMul {
    fn name(&self) -> String {
        "checked".into()
    }
    fn fragment(&self) -> &Fragment {
        &self.frag
    }
    fn hint_count(&self) -> usize {
        self.hint_count
    }
    fn hints(&self, a: &Fq, b: &Fq) -> Vec<Vec<u8>> {
        self.inner.mul_hints(&fq_to_nat(a), &fq_to_nat(b)).expect("canonical operands")
    }
    fn const_fragment(&self, k: &Fq) -> Fragment {
        match self.inner.mul_const(&fq_to_nat(k)) {
            Ok(f) => f,
            Err(_) => push_val(&[*k]).append(self.fragment()),
        }
    }
    fn const_hint_count(&self, k: &Fq) -> usize {
        self.inner.mul_const_hint_count(&fq_to_nat(k)).unwrap_or(self.hint_count)
    }
    fn const_hints(&self, a: &Fq, k: &Fq) -> Vec<Vec<u8>> {
        if self.const_ok(k) {
            self.inner.mul_const_hints(&fq_to_nat(k), &fq_to_nat(a)).expect("constant checked")
        } else {
            self.hints(a, k)
        }
    }
}

/// The hinted multiplication with 4-bit windows (shared, built once).
pub fn hinted_mul() -> Arc<dyn FqMul> {
    static MUL: OnceLock<Arc<ModeMul>> = OnceLock::new();
    MUL.get_or_init(|| Arc::new(ModeMul::new(MulMode::Hinted(4)).expect("window 4 is supported"))).clone()
}

/// The checked-product multiplication (shared, built once).
pub fn checked_mul() -> Arc<dyn FqMul> {
    static MUL: OnceLock<Arc<CheckedFqMul>> = OnceLock::new();
    MUL.get_or_init(|| Arc::new(CheckedFqMul::new().expect("BN254 fits the checked multiplication"))).clone()
}

/// The multiplication [`Tower::default`] uses: [`hinted_mul`]. The checked multiplication is
/// five times smaller but needs 308 hint items per product, so an Fq2 product (3 products,
/// 924 hints) does not fit 1000 stack items and Fq2 squares (616 hints) leave no room for
/// the leaf's signatures; it needs operations of one Fq product each (not done yet).
pub fn default_mul() -> Arc<dyn FqMul> {
    hinted_mul()
}

/// The number of Fq multiplications of an operation of this module, read from its name
/// (every operation here names it as `"<n>M"`); `None` for other operations.
pub fn fq_mul_count(op_name: &str) -> Option<usize> {
    op_name.split_whitespace().find_map(|t| t.strip_suffix('M').and_then(|n| n.parse().ok()))
}

/// An Fq2 as a program value `[c0, c1]`.
pub fn fq2_val(x: &Fq2) -> Val {
    vec![x.c0, x.c1]
}

/// The Fq2 of a two-element value.
pub fn val_fq2(v: &[Fq]) -> Fq2 {
    assert_eq!(v.len(), 2, "an Fq2 value has two elements");
    Fq2::new(v[0], v[1])
}

/// An Fq6 as three Fq2 values.
pub fn fq6_vals(x: &Fq6) -> [Val; 3] {
    [fq2_val(&x.c0), fq2_val(&x.c1), fq2_val(&x.c2)]
}

/// An Fq12 as six Fq2 values (`c0.c0, c0.c1, c0.c2, c1.c0, c1.c1, c1.c2`).
pub fn fq12_vals(x: &Fq12) -> [Val; 6] {
    let [a, b, c] = fq6_vals(&x.c0);
    let [d, e, f] = fq6_vals(&x.c1);
    [a, b, c, d, e, f]
}

/// The Fq6 of three evaluated Fq2 values.
pub fn vals_fq6(vals: &[Val], ids: &Fq6Ids) -> Fq6 {
    Fq6::new(val_fq2(&vals[ids[0]]), val_fq2(&vals[ids[1]]), val_fq2(&vals[ids[2]]))
}

/// The Fq12 of six evaluated Fq2 values.
pub fn vals_fq12(vals: &[Val], ids: &Fq12Ids) -> Fq12 {
    Fq12::new(vals_fq6(vals, &ids[0]), vals_fq6(vals, &ids[1]))
}
