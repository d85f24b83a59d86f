//! Tests of the Fq2 operations and the Fq6/Fq12 builders against arkworks.

use std::sync::Arc;

use ark_bn254::{Fq, Fq12, Fq2, Fq6, Fq6Config};
use ark_ff::{Field, Fp6Config, One, Zero};
use bitvm2_script::exec::{execute, ExecOptions};
use proptest::prelude::*;

use super::*;
use crate::chunk::{chunk, ChunkLimits, CostModel};
use crate::program::{val_stack, Op, Program};
use crate::programs::{fq_from_label, op_stack};

fn fq(label: &str, i: u64) -> Fq {
    fq_from_label(label, i)
}

fn fq2(label: &str, i: u64) -> Fq2 {
    Fq2::new(fq(label, i.wrapping_mul(2)), fq(label, i.wrapping_mul(2) ^ 1))
}

fn fq6(label: &str, i: u64) -> Fq6 {
    Fq6::new(fq2(label, i.wrapping_mul(3)), fq2(label, i.wrapping_mul(3).wrapping_add(1)), fq2(label, i.wrapping_mul(3).wrapping_add(2)))
}

fn fq12(label: &str, i: u64) -> Fq12 {
    Fq12::new(fq6(label, i.wrapping_mul(2)), fq6(label, i.wrapping_mul(2) ^ 1))
}

/// Edge values: 0, 1, p-1, u, elements with one zero component.
fn edges() -> Vec<Fq2> {
    let m1 = -Fq::one();
    vec![
        Fq2::zero(),
        Fq2::one(),
        Fq2::new(m1, m1),
        Fq2::new(Fq::zero(), Fq::one()),
        Fq2::new(fq("edge", 0), Fq::zero()),
        Fq2::new(Fq::zero(), fq("edge", 1)),
        Fq2::new(m1, Fq::one()),
    ]
}

/// Runs the op's script on `[hints, inputs]`; it must succeed and leave exactly the native
/// result's limbs.
fn assert_script_matches(op: &dyn Op, inputs: &[Val]) {
    let expected = op.native(inputs);
    let stack = op_stack(op, inputs);
    assert_eq!(op.hints(inputs).len(), op.hint_items(), "{}", op.name());
    let r = execute(&op.script().into_script(), &stack, &ExecOptions::default());
    assert!(r.outcome.is_ok(), "{}: {:?}", op.name(), r.outcome);
    assert!(r.peak_items <= 1000, "{}: peak {}", op.name(), r.peak_items);
    assert_eq!(r.final_stack, val_stack(&expected), "{}", op.name());
}

/// Changing any of a few hint items makes the script fail.
fn assert_wrong_hint_fails(op: &dyn Op, inputs: &[Val]) {
    let hints = op.hints(inputs);
    assert!(!hints.is_empty(), "{} has hints", op.name());
    let script = op.script().into_script();
    for &i in &[0, hints.len() / 2, hints.len() - 1] {
        let mut stack = op_stack(op, inputs);
        let q = bitvm2_script::exec::decode_num(&stack[i], 4).expect("hint is a number");
        stack[i] = bitvm2_script::exec::encode_num(q + 1);
        let r = execute(&script, &stack, &ExecOptions::default());
        let same = r.outcome.is_ok() && r.final_stack == val_stack(&op.native(inputs));
        assert!(r.outcome.is_err() || !same, "{}: hint {i} changed, script still succeeds", op.name());
        assert!(r.outcome.is_err(), "{}: hint {i} changed, script succeeds with another result", op.name());
    }
}

fn mul() -> Arc<dyn FqMul> {
    default_mul()
}

/// Both multiplication gadgets: product ops are tested with each.
fn muls() -> [Arc<dyn FqMul>; 2] {
    [checked_mul(), hinted_mul()]
}

fn xi() -> Fq2 {
    Fq6Config::NONRESIDUE
}

#[test]
fn xi_is_nine_plus_u() {
    assert_eq!(xi(), Fq2::new(Fq::from(9u64), Fq::one()));
}

/// Native results of every Fq2 op equal arkworks on edge values and pseudo-random ones.
#[test]
fn fq2_ops_native_match_arkworks() {
    let mut vals = edges();
    vals.extend((0..6).map(|i| fq2("native", i)));
    let k = fq2("k", 0);
    let ks = [k, Fq2::new(k.c0, Fq::zero()), Fq2::new(Fq::zero(), k.c1), Fq2::one(), -Fq2::one(), Fq2::new(Fq::one(), Fq::one()), Fq2::zero()];
    for (i, a) in vals.iter().enumerate() {
        let b = vals[(i + 3) % vals.len()];
        let x = b.c1;
        assert_eq!(val_fq2(&Fq2Mul::new(mul()).native(&[fq2_val(a), fq2_val(&b)])), *a * b);
        assert_eq!(val_fq2(&Fq2Square::new(mul()).native(&[fq2_val(a)])), a.square());
        assert_eq!(val_fq2(&Fq2MulFq::new(mul()).native(&[fq2_val(a), vec![x]])), *a * Fq2::new(x, Fq::zero()));
        assert_eq!(val_fq2(&Linear::mul_by_xi().native(&[fq2_val(a)])), *a * xi());
        let mut c = *a;
        c.conjugate_in_place();
        assert_eq!(val_fq2(&Linear::conjugate().native(&[fq2_val(a)])), c);
        for k in &ks {
            assert_eq!(val_fq2(&Fq2MulConst::new(mul(), *k, false).native(&[fq2_val(a)])), *a * k);
            assert_eq!(val_fq2(&Fq2MulConst::new(mul(), *k, true).native(&[fq2_val(a)])), c * k);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// A Z[u]-combination of several Fq2 inputs plus a constant equals the arkworks sum, and
    /// its script leaves the same limbs.
    #[test]
    fn linear_combination_matches_arkworks(seed in any::<u64>(), coeffs in prop::collection::vec((-20i64..20, -20i64..20), 1..4), with_const in any::<bool>()) {
        let xs: Vec<Fq2> = (0..coeffs.len() as u64).map(|i| fq2("lin", seed.wrapping_add(i))).collect();
        let c = if with_const { fq2("lin-c", seed) } else { Fq2::zero() };
        let op = Linear::fq2_combination(&coeffs, c).unwrap();
        let inputs: Vec<Val> = xs.iter().map(fq2_val).collect();
        let expected = xs.iter().zip(&coeffs).fold(c, |acc, (x, &(s, t))| acc + Fq2::new(Fq::from(s), Fq::from(t)) * x);
        prop_assert_eq!(val_fq2(&op.native(&inputs)), expected);
        assert_script_matches(&op, &inputs);
    }

    /// Scripts of the product ops on pseudo-random inputs leave the native limbs.
    #[test]
    fn fq2_product_scripts_match_native(seed in any::<u64>()) {
        let (a, b, k) = (fq2("a", seed), fq2("b", seed), fq2("k", seed));
        assert_script_matches(&Fq2Mul::new(hinted_mul()), &[fq2_val(&a), fq2_val(&b)]);
        for mul in muls() {
            assert_script_matches(&Fq2Square::new(mul.clone()), &[fq2_val(&a)]);
            assert_script_matches(&Fq2MulFq::new(mul.clone()), &[fq2_val(&a), vec![b.c0]]);
            assert_script_matches(&Fq2MulConst::new(mul, k, seed % 2 == 0), &[fq2_val(&a)]);
        }
    }
}

/// Scripts on edge values (0, 1, p-1, u, a zero component) leave the native limbs.
#[test]
fn fq2_scripts_on_edge_values() {
    let e = edges();
    for (i, a) in e.iter().enumerate() {
        let b = e[(i + 2) % e.len()];
        let mul = muls()[i % 2].clone();
        if i % 4 < 2 {
            assert_script_matches(&Fq2Mul::new(hinted_mul()), &[fq2_val(a), fq2_val(&b)]);
        } else {
            assert_script_matches(&Fq2Square::new(mul.clone()), &[fq2_val(a)]);
            assert_script_matches(&Fq2MulFq::new(mul), &[fq2_val(a), vec![b.c1]]);
        }
        assert_script_matches(&Linear::mul_by_xi(), &[fq2_val(a)]);
        assert_script_matches(&Linear::conjugate(), &[fq2_val(a)]);
    }
}

/// Every shape of constant (components 0, 1, -1, general; with and without conjugation)
/// gives the right script, with as few products as the shape allows.
#[test]
fn fq2_mul_const_shapes() {
    let k = fq("kc", 0);
    let cases = [
        (Fq2::zero(), 0),
        (Fq2::one(), 0),
        (-Fq2::one(), 0),
        (Fq2::new(Fq::zero(), Fq::one()), 0),
        (Fq2::new(Fq::one(), Fq::one()), 0),
        (Fq2::new(k, Fq::zero()), 2),
        (Fq2::new(Fq::zero(), k), 2),
        (Fq2::new(k, Fq::one()), 2),
        (Fq2::new(k, -k), 2),
        (fq2("kc", 1), 3),
    ];
    let a = fq2("kc-a", 0);
    for (i, (c, count)) in cases.into_iter().enumerate() {
        for mul in muls() {
            let op = Fq2MulConst::new(mul, c, i % 2 == 1);
            assert_eq!(fq_mul_count(&op.name()), Some(count), "{}", op.name());
            assert_script_matches(&op, &[fq2_val(&a)]);
        }
    }
}

/// With the checked multiplication an Fq2 product carries the hints of 3 products (3 x 251
/// items) on the stack from the start; with a product's working space that is more than a
/// leaf's 1000 stack items, and the script says so by failing on the stack limit (not by a
/// wrong result).
#[test]
fn checked_fq2_mul_exceeds_the_stack_limit() {
    let op = Fq2Mul::new(checked_mul());
    let inputs = [fq2_val(&fq2("cm", 0)), fq2_val(&fq2("cm", 1))];
    let r = execute(&op.script().into_script(), &op_stack(&op, &inputs), &ExecOptions::default());
    let e = r.outcome.expect_err("does not fit 1000 items");
    assert!(matches!(e.kind, bitvm2_script::exec::ExecErrorKind::StackSize { max: 1000, .. }), "{e:?}");
    assert_eq!(op.hint_items(), 3 * checked_mul().hint_count());
}

/// A wrong hint makes every product op's script fail.
#[test]
fn wrong_hints_make_scripts_fail() {
    let (a, b) = (fq2("wh", 0), fq2("wh", 1));
    assert_wrong_hint_fails(&Fq2Mul::new(hinted_mul()), &[fq2_val(&a), fq2_val(&b)]);
    for mul in muls() {
        assert_wrong_hint_fails(&Fq2Square::new(mul.clone()), &[fq2_val(&a)]);
        assert_wrong_hint_fails(&Fq2MulFq::new(mul.clone()), &[fq2_val(&a), vec![b.c0]]);
        assert_wrong_hint_fails(&Fq2MulConst::new(mul.clone(), b, true), &[fq2_val(&a)]);
        let mac = |square, double, xi, acc, acc2, sub| Fq2MulAcc::new(mul.clone(), MacShape { square, double, xi, acc, acc2, sub });
        assert_wrong_hint_fails(&mac(false, true, true, true, false, false), &[fq2_val(&a), fq2_val(&b), fq2_val(&a)]);
        assert_wrong_hint_fails(&mac(true, false, true, false, false, false), &[fq2_val(&b)]);
        assert_wrong_hint_fails(&mac(true, false, false, true, true, true), &[fq2_val(&b), fq2_val(&a), fq2_val(&b)]);
    }
}

/// Program inputs for an Fq12: six Fq2 values.
fn fq12_input(prog: &mut Program, name: &str) -> Fq12Ids {
    let ids: Vec<usize> = (0..6).map(|i| prog.input(format!("{name}{i}"), 2)).collect();
    [[ids[0], ids[1], ids[2]], [ids[3], ids[4], ids[5]]]
}

fn fq6_input(prog: &mut Program, name: &str) -> Fq6Ids {
    [0, 1, 2].map(|i| prog.input(format!("{name}{i}"), 2))
}

/// The Fq12 builders' program.
struct Fq12Programs {
    prog: Program,
    mul: Fq12Ids,
    square: Fq12Ids,
    sparse: Fq12Ids,
    line: Fq12Ids,
    frob: [Fq12Ids; 3],
    conj: Fq12Ids,
    mul6: Fq6Ids,
    square6: Fq6Ids,
}

fn fq12_programs() -> Fq12Programs {
    fq12_programs_with(Fq12Products::default())
}

fn fq12_programs_with(products: Fq12Products) -> Fq12Programs {
    let mut t = Tower::default();
    t.fq12_products = products;
    let mut prog = Program::new("tower-test");
    let a = fq12_input(&mut prog, "a");
    let b = fq12_input(&mut prog, "b");
    let line: Vec<usize> = (0..3).map(|i| prog.input(format!("l{i}"), 2)).collect();
    let x = fq6_input(&mut prog, "x");
    let y = fq6_input(&mut prog, "y");
    let mul = t.fq12_mul(&mut prog, "mul", a, b);
    let square = t.fq12_square(&mut prog, "square", a);
    let sparse = t.fq12_mul_by_034(&mut prog, "sparse", a, line[0], line[1], line[2]);
    let line = t.fq12_mul_by_line(&mut prog, "line", a, line[1], line[2]);
    let frob = [1, 2, 3].map(|k| t.fq12_frobenius(&mut prog, &format!("frob{k}"), a, k));
    let conj = t.fq12_conjugate(&mut prog, "conj", a);
    let mul6 = t.fq6_mul(&mut prog, "mul6", x, y);
    let square6 = t.fq6_square(&mut prog, "square6", x);
    Fq12Programs { prog, mul, square, sparse, line, frob, conj, mul6, square6 }
}

fn check_builders(p: &Fq12Programs, a: Fq12, b: Fq12, l: [Fq2; 3], x: Fq6, y: Fq6) {
    let mut inputs: Vec<Val> = Vec::new();
    inputs.extend(fq12_vals(&a));
    inputs.extend(fq12_vals(&b));
    inputs.extend(l.iter().map(fq2_val));
    inputs.extend(fq6_vals(&x));
    inputs.extend(fq6_vals(&y));
    let vals = p.prog.evaluate(&inputs).unwrap();
    assert_eq!(vals_fq12(&vals, &p.mul), a * b);
    assert_eq!(vals_fq12(&vals, &p.square), a.square());
    let mut s = a;
    s.mul_by_034(&l[0], &l[1], &l[2]);
    assert_eq!(vals_fq12(&vals, &p.sparse), s);
    let sparse_elem = Fq12::new(Fq6::new(l[0], Fq2::zero(), Fq2::zero()), Fq6::new(l[1], l[2], Fq2::zero()));
    assert_eq!(s, a * sparse_elem, "034 means coefficients 1, w, vw");
    let mut s = a;
    s.mul_by_034(&Fq2::one(), &l[1], &l[2]);
    assert_eq!(vals_fq12(&vals, &p.line), s, "line 1 + c3 w + c4 vw");
    for (k, f) in p.frob.iter().enumerate() {
        assert_eq!(vals_fq12(&vals, f), a.frobenius_map(k + 1), "frobenius p^{}", k + 1);
    }
    let mut c = a;
    c.conjugate_in_place();
    assert_eq!(vals_fq12(&vals, &p.conj), c);
    assert_eq!(vals_fq6(&vals, &p.mul6), x * y);
    assert_eq!(vals_fq6(&vals, &p.square6), x.square());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Fq6/Fq12 builders evaluated natively equal arkworks.
    #[test]
    fn builders_match_arkworks(seed in any::<u64>()) {
        for products in [Fq12Products::Karatsuba, Fq12Products::Accumulate] {
            let p = fq12_programs_with(products);
            check_builders(&p, fq12("a", seed), fq12("b", seed), [fq2("l", seed), fq2("l", seed ^ 1), fq2("l", seed ^ 2)], fq6("x", seed), fq6("y", seed));
        }
    }
}

/// Builders on edge values: zero, one, elements with zero components.
#[test]
fn builders_on_edge_values() {
    for products in [Fq12Products::Karatsuba, Fq12Products::Accumulate] {
        builders_on_edge_values_with(products);
    }
}

fn builders_on_edge_values_with(products: Fq12Products) {
    let p = fq12_programs_with(products);
    let e = edges();
    let sparse = Fq12::new(Fq6::new(e[3], e[4], Fq2::zero()), Fq6::new(Fq2::zero(), e[5], e[2]));
    let cases = [
        (Fq12::zero(), fq12("e", 0)),
        (Fq12::one(), fq12("e", 1)),
        (sparse, -Fq12::one()),
        (fq12("e", 2), sparse),
    ];
    for (i, (a, b)) in cases.into_iter().enumerate() {
        let l = [e[i % e.len()], e[(i + 1) % e.len()], Fq2::zero()];
        check_builders(&p, a, b, l, Fq6::new(e[0], e[1], e[2]), Fq6::new(e[3], e[4], e[5]));
    }
}

fn sample_inputs() -> Vec<Val> {
    let mut inputs: Vec<Val> = Vec::new();
    inputs.extend(fq12_vals(&fq12("s", 0)));
    inputs.extend(fq12_vals(&fq12("s", 1)));
    inputs.extend((0..3).map(|i| fq2_val(&fq2("sl", i))));
    inputs.extend(fq6_vals(&fq6("s", 2)));
    inputs.extend(fq6_vals(&fq6("s", 3)));
    inputs
}

/// Every operation the builders emit runs its script to the evaluated value (products once
/// per distinct operation name, linear maps every time).
#[test]
fn builder_op_scripts_match_evaluation() {
    let p = fq12_programs();
    let vals = p.prog.evaluate(&sample_inputs()).unwrap();
    let mut seen: Vec<String> = Vec::new();
    for node in &p.prog.ops {
        let name = node.op.name();
        if fq_mul_count(&name) != Some(0) && seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let args = p.prog.operands(node, &vals);
        assert_eq!(node.op.native(&args), vals[node.out]);
        assert_script_matches(node.op.as_ref(), &args);
    }
}

/// The builders' program chunks into leaves within the default limits (every operation fits
/// a leaf of 400,000 WU and 1000 stack items). The accumulate steps read three committed Fq2
/// values and write one, which needs the compact leaf encoding; arkworks' formulas fit the
/// standard one.
#[test]
fn builder_program_chunks() {
    use crate::wots::LeafEncoding;
    builder_program_chunks_with(Fq12Products::Karatsuba, LeafEncoding::Standard);
    builder_program_chunks_with(Fq12Products::Accumulate, LeafEncoding::Compact);
    let p = fq12_programs_with(Fq12Products::Accumulate);
    let model = CostModel::measure(&p.prog).unwrap();
    assert!(matches!(chunk(&p.prog, &model, ChunkLimits::default()), Err(crate::chunk::ChunkError::OpTooLarge { .. })));
}

fn builder_program_chunks_with(products: Fq12Products, encoding: crate::wots::LeafEncoding) {
    let mut p = fq12_programs_with(products);
    let inputs = sample_inputs();
    let vals = p.prog.evaluate(&inputs).unwrap();
    let mut outs: Vec<usize> = [p.mul, p.square, p.sparse, p.line, p.frob[0], p.frob[1], p.frob[2], p.conj].iter().flatten().flatten().copied().collect();
    outs.extend(p.mul6.iter().chain(&p.square6));
    outs.sort_unstable();
    outs.dedup();
    for v in outs {
        if p.prog.inputs.contains(&v) {
            continue;
        }
        let c = vals[v].clone();
        p.prog.claim(v, c);
    }
    let model = CostModel::measure(&p.prog).unwrap();
    let plan = chunk(&p.prog, &model, ChunkLimits { encoding, ..ChunkLimits::default() }).unwrap();
    assert!(plan.steps.len() > 1);
    assert!(p.prog.claims_hold(&p.prog.evaluate(&inputs).unwrap()));
}

/// Every multiply-accumulate variant equals `k a b +- (acc [+ acc2])` computed with arkworks,
/// natively and in script.
#[test]
fn mac_variants_match_arkworks() {
    let (a, b, c, d) = (fq2("mac", 0), fq2("mac", 1), fq2("mac", 2), fq2("mac", 3));
    let xi = Fq2::new(Fq::from(9u64), Fq::one());
    for bits in 0..32u32 {
        let [square, double, xi_k, acc, sub] = [0, 1, 2, 3, 4].map(|i| bits >> i & 1 == 1);
        for acc2 in [false, true] {
            if acc2 && !acc {
                continue;
            }
            let op = Fq2MulAcc::new(hinted_mul(), MacShape { square, double, xi: xi_k, acc, acc2, sub });
            let mut inputs = vec![fq2_val(&a)];
            let mut want = if square { a * a } else { a * b };
            if !square {
                inputs.push(fq2_val(&b));
            }
            if xi_k {
                want *= xi;
            }
            if double {
                want += want;
            }
            for (on, x) in [(acc, c), (acc && acc2, d)] {
                if on {
                    inputs.push(fq2_val(&x));
                    want = if sub { want - x } else { want + x };
                }
            }
            assert_eq!(val_fq2(&op.native(&inputs)), want, "{}", op.name());
            if bits % 5 == 0 || acc2 {
                assert_script_matches(&op, &inputs);
            }
        }
    }
}
