//! One description of an operation, three interpretations: native values (result and hints),
//! a count of the multiplications (hint layout), and a script generated against a static
//! picture of the stack.
//!
//! An operation is written once as [`Gadget::run`] over a [`Backend`]. The script backend
//! tracks every Fq element on the stack as an entry of `l` limbs; an operand is copied with
//! `OP_PICK`, or moved with `OP_ROLL` at its last use (uses are counted in a first pass, so
//! the script never keeps dead values), and multiplications roll their hints up from the
//! bottom of the stack just before they run.

use std::collections::HashMap;
use std::sync::OnceLock;

use ark_bn254::Fq;
use ark_ff::Zero;
use bitcoin::opcodes::all::{OP_BOOLOR, OP_FROMALTSTACK, OP_NOT, OP_SWAP, OP_TOALTSTACK, OP_VERIFY};
use bitvm2_script::builder::Fragment;

use super::FqMul;
use crate::leaf::{drop_n, pick_group, roll_group};
use crate::program::{field, push_val, Val};

/// Arithmetic an operation is written against.
pub(crate) trait Backend {
    /// One Fq element.
    type E: Clone;
    fn add(&mut self, a: &Self::E, b: &Self::E) -> Self::E;
    fn sub(&mut self, a: &Self::E, b: &Self::E) -> Self::E;
    fn neg(&mut self, a: &Self::E) -> Self::E;
    fn double(&mut self, a: &Self::E) -> Self::E;
    /// A product with the shared multiplication gadget (consumes one group of hints).
    fn mul(&mut self, a: &Self::E, b: &Self::E) -> Self::E;
    /// A product by a constant (consumes one group of hints).
    fn mul_const(&mut self, a: &Self::E, k: &Fq) -> Self::E;
    fn constant(&mut self, k: &Fq) -> Self::E;
    /// Elements supplied by the witness: natively `f` of the values of `args` (recorded as
    /// hint items); in script one hint group per element, each checked canonical (`< p`).
    fn hint(&mut self, args: &[Self::E], n: usize, f: &dyn Fn(&[Fq]) -> Vec<Fq>) -> Vec<Self::E>;
    /// Fail unless `a == b`, except when every element of `guard` is zero (then nothing is
    /// checked: a degenerate case stays computable, so a leaf over it can still be spent).
    fn assert_eq_unless_zero(&mut self, guard: &[Self::E], a: &Self::E, b: &Self::E);
    /// The element 1 if `a == b`, else 0.
    fn eq_flag(&mut self, a: &Self::E, b: &Self::E) -> Self::E;
}

/// An operation over Fq elements: inputs are element vectors, the result one vector.
pub(crate) trait Gadget {
    fn run<B: Backend>(&self, b: &mut B, inputs: &[Vec<B::E>]) -> Vec<B::E>;
}

/// Native evaluation; records the hints in the order the products happen.
pub(crate) struct Native<'a> {
    pub mul: &'a dyn FqMul,
    pub hints: Vec<Vec<u8>>,
    /// Whether to produce the hints (expensive) or only the result.
    pub record: bool,
}

impl Backend for Native<'_> {
    type E = Fq;
    fn add(&mut self, a: &Fq, b: &Fq) -> Fq {
        *a + b
    }
    fn sub(&mut self, a: &Fq, b: &Fq) -> Fq {
        *a - b
    }
    fn neg(&mut self, a: &Fq) -> Fq {
        -*a
    }
    fn double(&mut self, a: &Fq) -> Fq {
        *a + a
    }
    fn mul(&mut self, a: &Fq, b: &Fq) -> Fq {
        if self.record {
            self.hints.extend(self.mul.hints(a, b));
        }
        *a * b
    }
    fn mul_const(&mut self, a: &Fq, k: &Fq) -> Fq {
        if self.record {
            self.hints.extend(self.mul.const_hints(a, k));
        }
        *a * k
    }
    fn constant(&mut self, k: &Fq) -> Fq {
        *k
    }
    fn hint(&mut self, args: &[Fq], n: usize, f: &dyn Fn(&[Fq]) -> Vec<Fq>) -> Vec<Fq> {
        let v = f(args);
        assert_eq!(v.len(), n, "hint function gives {n} elements");
        if self.record {
            self.hints.extend(crate::program::val_stack(&v));
        }
        v
    }
    fn assert_eq_unless_zero(&mut self, _guard: &[Fq], _a: &Fq, _b: &Fq) {}
    fn eq_flag(&mut self, a: &Fq, b: &Fq) -> Fq {
        Fq::from(u64::from(a == b))
    }
}

/// Counts the hint items of every product, in order.
pub(crate) struct Count<'a> {
    pub mul: &'a dyn FqMul,
    pub groups: Vec<usize>,
}

impl Backend for Count<'_> {
    type E = ();
    fn add(&mut self, _: &(), _: &()) {}
    fn sub(&mut self, _: &(), _: &()) {}
    fn neg(&mut self, _: &()) {}
    fn double(&mut self, _: &()) {}
    fn mul(&mut self, _: &(), _: &()) {
        self.groups.push(self.mul.hint_count());
    }
    fn mul_const(&mut self, _: &(), k: &Fq) {
        self.groups.push(self.mul.const_hint_count(k));
    }
    fn constant(&mut self, _: &Fq) {}
    fn hint(&mut self, _: &[()], n: usize, _: &dyn Fn(&[Fq]) -> Vec<Fq>) -> Vec<()> {
        let l = field().layout().limbs();
        self.groups.extend(std::iter::repeat_n(l, n));
        vec![(); n]
    }
    fn assert_eq_unless_zero(&mut self, _: &[()], _: &(), _: &()) {}
    fn eq_flag(&mut self, _: &(), _: &()) {}
}

/// The hint groups (items per product, in order) of a gadget with these input shapes.
pub(crate) fn hint_groups<G: Gadget>(g: &G, mul: &dyn FqMul, input_elems: &[usize]) -> Vec<usize> {
    let mut c = Count { mul, groups: Vec::new() };
    let inputs: Vec<Vec<()>> = input_elems.iter().map(|&n| vec![(); n]).collect();
    g.run(&mut c, &inputs);
    c.groups
}

/// Native result and hints.
pub(crate) fn native<G: Gadget>(g: &G, mul: &dyn FqMul, inputs: &[Val]) -> (Val, Vec<Vec<u8>>) {
    let mut n = Native { mul, hints: Vec::new(), record: true };
    let out = g.run(&mut n, inputs);
    (out, n.hints)
}

/// Native result only (no hints: what program evaluation needs).
pub(crate) fn value<G: Gadget>(g: &G, mul: &dyn FqMul, inputs: &[Val]) -> Val {
    g.run(&mut Native { mul, hints: Vec::new(), record: false }, inputs)
}

/// Field fragments shared by all gadgets (built once).
struct FieldFrags {
    add: Fragment,
    sub: Fragment,
    neg: Fragment,
    double: Fragment,
    canonical: Fragment,
    equal: Fragment,
}

fn frags() -> &'static FieldFrags {
    static F: OnceLock<FieldFrags> = OnceLock::new();
    F.get_or_init(|| {
        let f = field();
        FieldFrags { add: f.add(), sub: f.sub(), neg: f.neg(), double: f.double(), canonical: f.check_canonical(), equal: f.layout().equal() }
    })
}

/// Script generation against a static stack picture.
struct Script<'a> {
    mul: &'a dyn FqMul,
    l: usize,
    /// Entries bottom first: (id, items).
    entries: Vec<(usize, usize)>,
    next_id: usize,
    f: Fragment,
    /// Hint entries not used yet, in order of use.
    hints: Vec<usize>,
    next_hint: usize,
    /// Uses of every id so far.
    uses: HashMap<usize, usize>,
    /// Uses left per id (second pass), to move operands at their last use.
    left: Option<HashMap<usize, usize>>,
}

impl<'a> Script<'a> {
    fn new(mul: &'a dyn FqMul, groups: &[usize], input_elems: &[usize], left: Option<HashMap<usize, usize>>) -> (Self, Vec<Vec<usize>>) {
        let l = field().layout().limbs();
        let mut s = Script { mul, l, entries: Vec::new(), next_id: 0, f: Fragment::new(), hints: Vec::new(), next_hint: 0, uses: HashMap::new(), left };
        s.hints = groups.iter().map(|&n| s.fresh(n)).collect();
        let inputs = input_elems.iter().map(|&n| (0..n).map(|_| s.fresh(l)).collect()).collect();
        (s, inputs)
    }

    fn fresh(&mut self, items: usize) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push((id, items));
        id
    }

    fn emit(&mut self, g: impl FnOnce(Fragment) -> Fragment) {
        let f = std::mem::take(&mut self.f);
        self.f = g(f);
    }

    /// Bring entry `id` to the top (copy, or move at its last use).
    fn take(&mut self, id: usize) {
        *self.uses.entry(id).or_default() += 1;
        let last = match &mut self.left {
            Some(left) => {
                let n = left.get_mut(&id).expect("use counted in the first pass");
                *n -= 1;
                *n == 0
            }
            None => false,
        };
        let idx = self.entries.iter().position(|e| e.0 == id).expect("entry on the stack");
        let n = self.entries[idx].1;
        let d = self.entries[idx..].iter().map(|e| e.1).sum::<usize>().saturating_sub(1);
        if last {
            self.entries.remove(idx);
            if idx != self.entries.len() {
                self.emit(|f| roll_group(f, d, n));
            }
        } else {
            self.emit(|f| pick_group(f, d, n));
        }
        self.fresh(n);
    }

    /// Run `frag` on the top `consumed` entries, giving one element.
    fn apply(&mut self, frag: &Fragment, consumed: usize) -> usize {
        for _ in 0..consumed {
            self.entries.pop().expect("operand on the stack");
        }
        self.emit(|f| f.append(frag));
        self.fresh(self.l)
    }

    fn binary(&mut self, frag: &Fragment, a: usize, b: usize) -> usize {
        self.take(a);
        self.take(b);
        self.apply(frag, 2)
    }

    /// Raise the next hint group; returns the number of entries it adds (0 or 1).
    fn raise_hints(&mut self) -> usize {
        let h = self.hints[self.next_hint];
        self.next_hint += 1;
        let items = self.entries.iter().find(|e| e.0 == h).expect("hint group on the stack").1;
        if items == 0 {
            self.entries.retain(|e| e.0 != h);
            return 0;
        }
        if let Some(left) = &mut self.left {
            left.insert(h, 1);
        }
        self.take(h);
        1
    }

    /// Leave exactly `outs` on the stack, in order.
    fn finish(mut self, outs: &[usize]) -> Fragment {
        for &o in outs {
            self.take(o);
        }
        let out_items = outs.len() * self.l;
        let rest: usize = self.entries.iter().map(|e| e.1).sum::<usize>() - out_items;
        if rest > 0 {
            self.emit(|mut f| {
                for _ in 0..out_items {
                    f = f.op(OP_TOALTSTACK);
                }
                f = drop_n(f, rest);
                for _ in 0..out_items {
                    f = f.op(OP_FROMALTSTACK);
                }
                f
            });
        }
        self.f
    }
}

impl Backend for Script<'_> {
    type E = usize;
    fn add(&mut self, a: &usize, b: &usize) -> usize {
        self.binary(&frags().add, *a, *b)
    }
    fn sub(&mut self, a: &usize, b: &usize) -> usize {
        self.binary(&frags().sub, *a, *b)
    }
    fn neg(&mut self, a: &usize) -> usize {
        self.take(*a);
        self.apply(&frags().neg, 1)
    }
    fn double(&mut self, a: &usize) -> usize {
        self.take(*a);
        self.apply(&frags().double, 1)
    }
    fn mul(&mut self, a: &usize, b: &usize) -> usize {
        let h = self.raise_hints();
        self.take(*a);
        self.take(*b);
        let frag = self.mul.fragment().clone();
        self.apply(&frag, h + 2)
    }
    fn mul_const(&mut self, a: &usize, k: &Fq) -> usize {
        let h = self.raise_hints();
        self.take(*a);
        let frag = self.mul.const_fragment(k);
        self.apply(&frag, h + 1)
    }
    fn constant(&mut self, k: &Fq) -> usize {
        let frag = if k.is_zero() { Fragment::new().repeat(self.l, &Fragment::new().push_int(0)) } else { push_val(&[*k]) };
        self.emit(|f| f.append(&frag));
        self.fresh(self.l)
    }
    fn hint(&mut self, _: &[usize], n: usize, _: &dyn Fn(&[Fq]) -> Vec<Fq>) -> Vec<usize> {
        (0..n)
            .map(|_| {
                let h = self.raise_hints();
                self.apply(&frags().canonical, h)
            })
            .collect()
    }
    fn assert_eq_unless_zero(&mut self, guard: &[usize], a: &usize, b: &usize) {
        for g in guard {
            self.take(*g);
        }
        let items = guard.len() * self.l;
        for _ in 0..guard.len() {
            self.entries.pop();
        }
        self.emit(|mut f| {
            for _ in 1..items {
                f = f.op(OP_BOOLOR);
            }
            f
        });
        self.fresh(1);
        self.take(*a);
        self.take(*b);
        self.entries.truncate(self.entries.len() - 2);
        let eq = frags().equal.clone();
        self.emit(|f| f.append(&eq).op(OP_SWAP).op(OP_NOT).op(OP_BOOLOR).op(OP_VERIFY));
        self.entries.pop();
    }
    fn eq_flag(&mut self, a: &usize, b: &usize) -> usize {
        self.take(*a);
        self.take(*b);
        self.entries.truncate(self.entries.len() - 2);
        let (eq, l) = (frags().equal.clone(), self.l);
        self.emit(|f| f.append(&eq).op(OP_TOALTSTACK).repeat(l - 1, &Fragment::new().push_int(0)).op(OP_FROMALTSTACK));
        self.fresh(self.l)
    }
}

/// The script `[hints, inputs] -> [result]` of a gadget (hint groups as from [`hint_groups`]).
pub(crate) fn script<G: Gadget>(g: &G, mul: &dyn FqMul, groups: &[usize], input_elems: &[usize]) -> Fragment {
    // Pass 1: count the uses of every entry (operands always copied).
    let (mut s, inputs) = Script::new(mul, groups, input_elems, None);
    let outs = g.run(&mut s, &inputs);
    for &o in &outs {
        s.take(o);
    }
    let left = s.uses;
    // Pass 2: the same run, moving every operand at its last use.
    let (mut s, inputs) = Script::new(mul, groups, input_elems, Some(left));
    let outs = g.run(&mut s, &inputs);
    debug_assert_eq!(s.next_hint, groups.len(), "every hint group used");
    s.finish(&outs)
}

/// Implement `Op` for a gadget type with methods `label()`, `shape()`, `out_elems()` and
/// fields `mul` (the Fq multiplication) and `groups` (its hint groups).
macro_rules! gadget_op {
    ($t:ty) => {
        impl $crate::program::Op for $t {
            fn name(&self) -> String {
                self.label()
            }
            fn input_elems(&self) -> Vec<usize> {
                self.shape()
            }
            fn output_elems(&self) -> usize {
                self.out_elems()
            }
            fn native(&self, inputs: &[$crate::program::Val]) -> $crate::program::Val {
                $crate::bn254::gadget::value(self, self.mul.as_ref(), inputs)
            }
            fn script(&self) -> bitvm2_script::builder::Fragment {
                $crate::bn254::gadget::script(self, self.mul.as_ref(), &self.groups, &self.shape())
            }
            fn hint_items(&self) -> usize {
                self.groups.iter().sum()
            }
            fn hints(&self, inputs: &[$crate::program::Val]) -> Vec<Vec<u8>> {
                $crate::bn254::gadget::native(self, self.mul.as_ref(), inputs).1
            }
        }
    };
}
pub(crate) use gadget_op;
