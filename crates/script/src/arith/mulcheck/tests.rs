//! Checked-product multiplication against native [`Nat`] arithmetic, and adversarial hints.

use proptest::prelude::*;

use super::*;
use crate::arith::field::bn254_fq;
use crate::exec::{decode_num, execute, ExecOptions, ExecReport};
use crate::exec::encode_num;

fn setup() -> CheckedMul {
    CheckedMul::new(&bn254_fq()).expect("BN254 fits")
}

fn nibbles(b: &Nat, count: usize) -> Vec<Vec<u8>> {
    (0..count).rev().map(|j| encode_num(b.bits_at(4 * j, 4) as i64)).collect()
}

fn run(frag: &Fragment, stack: &[Vec<u8>]) -> ExecReport {
    execute(&frag.to_script(), stack, &ExecOptions::default())
}

/// The field element left on the stack (9 limbs, canonical) or `None` if the script failed.
fn result(m: &CheckedMul, r: &ExecReport) -> Option<Nat> {
    r.outcome.as_ref().ok()?;
    let layout = m.field().layout();
    assert_eq!(r.final_stack.len(), layout.limbs(), "one field element left");
    let limbs: Vec<u32> = r.final_stack.iter().rev().map(|x| decode_num(x, 4).expect("number") as u32).collect();
    Some(layout.from_limbs(&limbs))
}

fn mul_stack(m: &CheckedMul, a: &Nat, b: &Nat) -> Vec<Vec<u8>> {
    let mut s = m.mul_hints(a, b).unwrap();
    s.extend(m.field().to_stack(a));
    s.extend(m.field().to_stack(b));
    s
}

fn digits_stack(m: &CheckedMul, a: &Nat, b: &Nat) -> Vec<Vec<u8>> {
    let mut s = m.mul_digits_hints(a, b).unwrap();
    s.extend(m.field().to_stack(a));
    s.extend(nibbles(b, m.digit_count()));
    s
}

#[test]
fn edge_values() {
    let m = setup();
    let p = m.field().modulus().clone();
    let one = Nat::from_u128(1);
    let pm1 = p.checked_sub(&one).unwrap();
    let vals = [Nat::zero(), one.clone(), Nat::from_u128(2), pm1.clone(), p.shr(1), one.shl(253), one.shl(200)];
    let (mul, dig) = (m.mul(), m.mul_digits());
    for a in &vals {
        for b in &vals {
            let want = a.mul(b).rem(&p);
            assert_eq!(result(&m, &run(&mul, &mul_stack(&m, a, b))), Some(want.clone()), "mul {a:?} {b:?}");
            assert_eq!(result(&m, &run(&dig, &digits_stack(&m, a, b))), Some(want), "digits {a:?} {b:?}");
        }
    }
    // Digits variant: B up to 2^256 - 1.
    let bmax = one.shl(256).checked_sub(&one).unwrap();
    let want = pm1.mul(&bmax).rem(&p);
    assert_eq!(result(&m, &run(&dig, &digits_stack(&m, &pm1, &bmax))), Some(want));
}

/// A field element: random, or an edge value (0, 1, 2, p-1, (p-1)/2, a power of two).
fn fe() -> impl Strategy<Value = Nat> {
    let p = bn254_fq().modulus().clone();
    let one = Nat::from_u128(1);
    let edges = vec![Nat::zero(), one.clone(), Nat::from_u128(2), p.checked_sub(&one).unwrap(), p.shr(1)];
    let p2 = p.clone();
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 40).prop_map(move |b| Nat::from_be_bytes(&b).rem(&p)),
        1 => proptest::sample::select(edges),
        1 => (0usize..254).prop_map(move |k| Nat::from_u128(1).shl(k).rem(&p2)),
    ]
}

/// Limbs of `x` least significant first, the top limb taking all remaining bits (so values
/// `>= 2^254` give an over-wide top limb).
fn loose_limbs(m: &CheckedMul, x: &Nat) -> Vec<i128> {
    let l = m.field().layout();
    let w = l.limb_bits as usize;
    (0..l.limbs())
        .map(|i| if i + 1 == l.limbs() { x.shr(w * i).to_u128().unwrap() as i128 } else { x.bits_at(w * i, w) as i128 })
        .collect()
}

fn nat_of(pieces: &[i128], width: usize) -> Nat {
    pieces.iter().enumerate().fold(Nat::zero(), |acc, (i, &v)| acc.add(&Nat::from_u128(v as u128).shl(width * i)))
}

/// Run a witness (hints from `w`) of the limb variant; `None` if the script fails.
fn run_witness(m: &CheckedMul, a: &Nat, b: &Nat, w: &Witness) -> Option<Nat> {
    let mut s = m.encode(&Factor::single(Form::Limbs), w).expect("identity holds for the altered witness");
    s.extend(m.field().to_stack(a));
    s.extend(m.field().to_stack(b));
    result(m, &run(&m.mul(), &s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Both variants and multiplication by a constant agree with native arithmetic, stay within
    /// the leaf limits (the executor enforces them: 1000 items, 4-byte operands) and peak well
    /// below 1000 items.
    #[test]
    fn matches_native(a in fe(), b in fe(), k in fe()) {
        let m = setup();
        let p = m.field().modulus().clone();
        let want = a.mul(&b).rem(&p);
        let r = run(&m.mul(), &mul_stack(&m, &a, &b));
        prop_assert_eq!(result(&m, &r), Some(want.clone()));
        prop_assert!(r.peak_items < 600, "peak {}", r.peak_items);
        let r = run(&m.mul_digits(), &digits_stack(&m, &a, &b));
        prop_assert_eq!(result(&m, &r), Some(want));
        let mut s = m.mul_const_hints(&k, &a).unwrap();
        s.extend(m.field().to_stack(&a));
        prop_assert_eq!(result(&m, &run(&m.mul_const(&k).unwrap(), &s)), Some(a.mul(&k).rem(&p)));
    }

    /// Soundness: changing any single hint item by any amount either makes the script fail or
    /// leaves the result unchanged (e.g. an equivalent re-split of A into pieces).
    #[test]
    fn a_changed_hint_never_changes_the_result(a in fe(), b in fe(), idx in any::<prop::sample::Index>(),
                                             delta in prop_oneof![-3i64..=3, Just(16), Just(-16), Just(1 << 20), Just(1 << 29)],
                                             digits in any::<bool>()) {
        prop_assume!(delta != 0);
        let m = setup();
        let want = a.mul(&b).rem(m.field().modulus());
        let (frag, mut s) = if digits { (m.mul_digits(), digits_stack(&m, &a, &b)) } else { (m.mul(), mul_stack(&m, &a, &b)) };
        let hints = if digits { m.mul_digits_hint_count() } else { m.mul_hint_count() };
        let i = idx.index(hints);
        let v = decode_num(&s[i], 4).unwrap();
        s[i] = encode_num(v + delta);
        let got = result(&m, &run(&frag, &s));
        prop_assert!(got.is_none() || got == Some(want), "hint {} changed by {} gave a different result", i, delta);
    }
}

#[test]
fn non_canonical_c_fails() {
    let m = setup();
    let p = m.field().modulus().clone();
    for (a, b) in [(p.shr(1), p.shr(2)), (p.checked_sub(&Nat::from_u128(1)).unwrap(), p.checked_sub(&Nat::from_u128(7)).unwrap()), (Nat::from_u128(3), Nat::from_u128(5))] {
        let honest = m.witness(&Factor::single(Form::Limbs), &[(a.clone(), b.clone())]);
        assert_eq!(run_witness(&m, &a, &b, &honest), Some(a.mul(&b).rem(&p)));
        // C + p with Q - 1 (or Q + 1 with C - p when C >= p is impossible): identity holds.
        let qb = m.q_bits as usize;
        let q = nat_of(&honest.q, qb);
        if !q.is_zero() {
            let mut w = honest.clone();
            let c = a.mul(&b).rem(&p).add(&p);
            w.c = loose_limbs(&m, &c);
            let q1 = q.checked_sub(&Nat::from_u128(1)).unwrap();
            w.q = (0..w.q.len()).map(|i| q1.bits_at(qb * i, qb) as i128).collect();
            assert_eq!(run_witness(&m, &a, &b, &w), None, "C + p accepted");
        }
        // A limb out of range with the same value: c_0 + 2^29, c_1 - 1.
        let mut w = honest.clone();
        if let Some(j) = (1..w.c.len()).find(|&j| w.c[j] > 0) {
            w.c[j] -= 1;
            w.c[j - 1] += 1 << 29;
            assert_eq!(run_witness(&m, &a, &b, &w), None, "over-wide C limb accepted");
        }
        // A negative limb with the same value.
        let mut w = honest.clone();
        if w.c[0] < (1 << 28) {
            w.c[0] += 1 << 29;
            w.c[1] -= 1;
            assert_eq!(run_witness(&m, &a, &b, &w), None, "negative C limb accepted");
        }
    }
}

#[test]
fn wrong_q_c_or_carries_fail() {
    let m = setup();
    let p = m.field().modulus().clone();
    let (a, b) = (p.shr(3).add(&Nat::from_u128(99)), p.checked_sub(&Nat::from_u128(2)).unwrap());
    let s = mul_stack(&m, &a, &b);
    let frag = m.mul();
    assert!(result(&m, &run(&frag, &s)).is_some());
    let l = m.field().layout().limbs();
    let main = m.main_groups(&Factor::single(Form::Limbs)).len() - 1;
    let nq = m.q_piece_count(&Factor::single(Form::Limbs));
    let bump = |i: usize, d: i64| {
        let mut t = s.clone();
        t[i] = encode_num(decode_num(&t[i], 4).unwrap() + d);
        t
    };
    // Wrong C (each limb +-1), every main carry +-1, Q off by one in its lowest piece.
    for i in 0..l + main {
        for d in [-1, 1] {
            assert!(run(&frag, &bump(i, d)).outcome.is_err(), "item {i} changed by {d} accepted");
        }
    }
    let q_lowest = l + main + nq - 1;
    assert!(run(&frag, &bump(q_lowest, 1)).outcome.is_err());
    assert!(run(&frag, &bump(q_lowest, -1)).outcome.is_err());
}

#[test]
fn digit_out_of_range_fails() {
    let m = setup();
    let p = m.field().modulus().clone();
    let (a, b) = (p.shr(1), p.shr(5).add(&Nat::from_u128(0x10)));
    let mut s = digits_stack(&m, &a, &b);
    let top = s.len() - 1;
    assert!(result(&m, &run(&m.mul_digits(), &s)).is_some());
    // Same B: nibble 0 + 16, nibble 1 - 1 (nibble 1 of b is 1).
    s[top] = encode_num(decode_num(&s[top], 4).unwrap() + 16);
    s[top - 1] = encode_num(decode_num(&s[top - 1], 4).unwrap() - 1);
    assert!(run(&m.mul_digits(), &s).outcome.is_err());
}

#[test]
fn re_split_a_pieces_are_harmless() {
    // Pieces are not range-checked: an equivalent split still gives A*B mod p.
    let m = setup();
    let p = m.field().modulus().clone();
    let (a, b) = (p.shr(2).add(&Nat::from_u128(1 << 40)), p.shr(1));
    let mut w = m.witness(&Factor::single(Form::Limbs), &[(a.clone(), b.clone())]);
    w.a[0][2] -= 1;
    w.a[0][1] += 1 << 20;
    assert_eq!(run_witness(&m, &a, &b, &w), Some(a.mul(&b).rem(&p)));
}

#[test]
fn bad_operands_are_errors() {
    let m = setup();
    let p = m.field().modulus().clone();
    assert!(m.mul_hints(&p, &Nat::zero()).is_err());
    assert!(m.mul_hints(&Nat::zero(), &p).is_err());
    assert!(m.mul_digits_hints(&Nat::zero(), &Nat::from_u128(1).shl(256)).is_err());
    assert!(m.mul_const(&p).is_err());
    assert_eq!(m.mul_hint_count(), m.mul_hints(&Nat::zero(), &Nat::zero()).unwrap().len());
    assert_eq!(m.mul_digits_hint_count(), m.mul_digits_hints(&Nat::zero(), &Nat::zero()).unwrap().len());
}

#[test]
fn fragments_declare_their_effect() {
    let m = setup();
    let p = m.field().modulus().clone();
    let (a, b) = (p.shr(1), p.shr(3));
    crate::builder::check_effect(&m.mul(), &mul_stack(&m, &a, &b)).unwrap();
    crate::builder::check_effect(&m.mul_digits(), &digits_stack(&m, &a, &b)).unwrap();
    let k = Nat::from_u128(0xdead_beef);
    let mut s = m.mul_const_hints(&k, &a).unwrap();
    s.extend(m.field().to_stack(&a));
    crate::builder::check_effect(&m.mul_const(&k).unwrap(), &s).unwrap();
}


/// The static overflow check picks 24-bit quotient pieces for BN254 and the worst honest
/// column stays below 2^31; the check itself rejects a row that could overflow.
#[test]
fn column_bounds_fit_four_bytes() {
    let m = setup();
    assert_eq!(m.q_bits, 24);
    let mut carry = 0i128;
    let mut worst = 0i128;
    let groups = m.main_groups(&Factor::single(Form::Nibbles));
    for (u, g) in groups.iter().enumerate() {
        let z = carry + g[0].terms.iter().map(|&(t, _)| m.term_bound(t)).sum::<i128>();
        worst = worst.max(z);
        if let Some(next) = groups.get(u + 1) {
            carry = z >> (next[0].pos - g[0].pos);
        }
    }
    eprintln!("worst column bound: 2^{:.2}", (worst as f64).log2());
    assert!(worst <= MAX_NUM);
    let too_big = Row { pos: 0, terms: vec![(Term::QConst { piece: 0, mult: 8 }, 1); 17] };
    assert!(m.group(vec![too_big], false).is_none());
}

/// `sum_t (-1)^negate[t] a_t b_t mod p`, natively.
fn native_sum(p: &Nat, negate: &[bool], pairs: &[(Nat, Nat)]) -> Nat {
    pairs.iter().zip(negate).fold(Nat::zero(), |acc, ((a, b), &neg)| {
        let x = a.mul(b).rem(p);
        if neg {
            acc.add(&p.checked_sub(&x).unwrap()).rem(p)
        } else {
            acc.add(&x).rem(p)
        }
    })
}

fn sum_stack(m: &CheckedMul, negate: &[bool], pairs: &[(Nat, Nat)], digits: bool) -> Vec<Vec<u8>> {
    let mut s = if digits {
        m.sum_of_products_digits_hints(negate, pairs).unwrap()
    } else {
        m.sum_of_products_hints(negate, pairs).unwrap()
    };
    for (a, b) in pairs {
        s.extend(m.field().to_stack(a));
        s.extend(if digits { nibbles(b, m.digit_count()) } else { m.field().to_stack(b) });
    }
    s
}

fn sum_frag(m: &CheckedMul, negate: &[bool], digits: bool) -> Fragment {
    if digits { m.sum_of_products_digits(negate) } else { m.sum_of_products(negate) }.unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Two products with any signs (the Fq2 shapes a0*b0 - a1*b1 and a0*b1 + a1*b0), both
    /// forms of B, against native arithmetic; a negative sum is reduced correctly.
    #[test]
    fn sum_of_two_products_matches_native(a0 in fe(), b0 in fe(), a1 in fe(), b1 in fe(),
                                          n0 in any::<bool>(), n1 in any::<bool>(), digits in any::<bool>()) {
        let m = setup();
        let p = m.field().modulus().clone();
        let negate = [n0, n1];
        let pairs = [(a0, b0), (a1, b1)];
        let r = run(&sum_frag(&m, &negate, digits), &sum_stack(&m, &negate, &pairs, digits));
        prop_assert_eq!(result(&m, &r), Some(native_sum(&p, &negate, &pairs)));
        prop_assert!(r.peak_items < 1000);
    }

    /// Soundness of the sum: any single hint changed fails or leaves the result unchanged.
    #[test]
    fn sum_changed_hint_never_changes_the_result(a0 in fe(), b0 in fe(), a1 in fe(), b1 in fe(),
                                                 idx in any::<prop::sample::Index>(),
                                                 delta in prop_oneof![-2i64..=2, Just(16), Just(1 << 24)]) {
        prop_assume!(delta != 0);
        let m = setup();
        let negate = [false, true];
        let pairs = [(a0, b0), (a1, b1)];
        let want = native_sum(m.field().modulus(), &negate, &pairs);
        let mut s = sum_stack(&m, &negate, &pairs, true);
        let i = idx.index(m.sum_of_products_digits_hint_count(&negate).unwrap());
        s[i] = encode_num(decode_num(&s[i], 4).unwrap() + delta);
        let got = result(&m, &run(&sum_frag(&m, &negate, true), &s));
        prop_assert!(got.is_none() || got == Some(want), "hint {} changed by {}", i, delta);
    }
}

#[test]
fn sum_of_products_edges_and_limits() {
    let m = setup();
    let p = m.field().modulus().clone();
    let pm1 = p.checked_sub(&Nat::from_u128(1)).unwrap();
    // 0 - (p-1)^2, (p-1)^2 - (p-1)^2, and a sum that is a multiple of p.
    for pairs in [
        [(Nat::zero(), Nat::zero()), (pm1.clone(), pm1.clone())],
        [(pm1.clone(), pm1.clone()), (pm1.clone(), pm1.clone())],
        [(Nat::from_u128(5), Nat::from_u128(7)), (Nat::from_u128(35), Nat::from_u128(1))],
    ] {
        for negate in [[false, true], [true, true], [false, false]] {
            for digits in [false, true] {
                let r = run(&sum_frag(&m, &negate, digits), &sum_stack(&m, &negate, &pairs, digits));
                assert_eq!(result(&m, &r), Some(native_sum(&p, &negate, &pairs)), "{negate:?} digits={digits}");
            }
        }
    }
    assert_eq!(m.sum_of_products(&[]).unwrap_err(), MulCheckError::NoProducts);
    assert!(m.sum_of_products(&[false; 3]).is_err(), "three products do not fit the stack");
    assert!(m.sum_of_products_hints(&[false, true], &[(Nat::zero(), Nat::zero())]).is_err());
}

/// Under consensus rules only (no MINIMALDATA) a C limb given with a non-minimal encoding
/// still yields a minimally encoded result.
#[test]
fn result_is_minimally_encoded_under_consensus_rules() {
    use crate::exec::{execute_with, ExecContext};
    let m = setup();
    let p = m.field().modulus().clone();
    let (a, b) = (p.shr(1), p.shr(2));
    let mut s = mul_stack(&m, &a, &b);
    let honest_c = s[0].clone();
    let mut padded = honest_c.clone();
    padded.push(0); // same value, one needless byte
    s[0] = padded;
    let r = execute_with(&m.mul().to_script(), &s, &ExecOptions::default(), &ExecContext::consensus());
    assert!(r.outcome.is_ok(), "{:?}", r.outcome);
    assert_eq!(r.final_stack[0], honest_c);
    assert!(run(&m.mul(), &s).outcome.is_err(), "MINIMALDATA (policy) rejects the padded hint");
}

/// Limb form: every hinted nibble of B and every split hint of a straddling nibble, changed by
/// +-1, makes the script fail; so does an equal-valued nibble pair (16 + d, next - 1).
#[test]
fn wrong_b_nibble_or_split_hints_fail() {
    let m = setup();
    let p = m.field().modulus().clone();
    let (a, b) = (p.shr(1).add(&Nat::from_u128(3)), p.checked_sub(&Nat::from_u128(0x1234_5678)).unwrap());
    let s = mul_stack(&m, &a, &b);
    let frag = m.mul();
    assert!(result(&m, &run(&frag, &s)).is_some());
    let hints = m.mul_hint_count();
    let b_hints = m.digit_count() + m.straddlers().len();
    assert_eq!(m.straddlers().len(), 6, "29k is a multiple of 4 only for k = 4, 8");
    for i in hints - b_hints..hints {
        for d in [-1, 1] {
            let mut t = s.clone();
            t[i] = encode_num(decode_num(&t[i], 4).unwrap() + d);
            assert!(run(&frag, &t).outcome.is_err(), "hint {i} changed by {d} accepted");
        }
    }
    // Nibble 0 is the last nibble hint before the splits: add 16, take 1 from nibble 1.
    let n0 = hints - m.straddlers().len() - 1;
    let mut t = s.clone();
    let (v0, v1) = (decode_num(&t[n0], 4).unwrap(), decode_num(&t[n0 - 1], 4).unwrap());
    if v1 > 0 {
        t[n0] = encode_num(v0 + 16);
        t[n0 - 1] = encode_num(v1 - 1);
        assert!(run(&frag, &t).outcome.is_err(), "nibble 16 accepted");
    }
}
