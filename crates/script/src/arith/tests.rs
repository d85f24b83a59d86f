//! Property tests of the arithmetic gadgets: every gadget runs in the executor (limits
//! enforced) and its result is compared with native arithmetic on [`Nat`].

use proptest::prelude::*;

use super::*;
use crate::builder::Fragment;
use crate::exec::{decode_num, encode_num, execute, ExecOptions, ExecReport};

pub(crate) fn run(frag: &Fragment, inputs: &[Vec<u8>]) -> ExecReport {
    execute(&frag.to_script(), inputs, &ExecOptions::default())
}

/// Run and return the final stack; panics with the executor's error on failure.
pub(crate) fn ok_stack(frag: &Fragment, inputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let r = run(frag, inputs);
    if let Err(e) = &r.outcome {
        panic!("script failed: {e}");
    }
    r.final_stack
}

fn nums(v: &[i64]) -> Vec<Vec<u8>> {
    v.iter().map(|&n| encode_num(n)).collect()
}

fn dec(items: &[Vec<u8>]) -> Vec<i64> {
    items.iter().map(|i| decode_num(i, 4).expect("4-byte number")).collect()
}

fn pow2(k: usize) -> Nat {
    Nat::from_u128(1).shl(k)
}

fn max_of(bits: u32) -> Nat {
    pow2(bits as usize).checked_sub(&Nat::from_u128(1)).unwrap()
}

/// A value below 2^bits: random bytes, or an edge case (0, 1, all ones, a single high bit,
/// all limbs at their maximum but one).
fn nat_below(bits: u32) -> impl Strategy<Value = Nat> {
    let nbytes = (bits as usize).div_ceil(8);
    prop_oneof![
        6 => proptest::collection::vec(any::<u8>(), nbytes)
            .prop_map(move |b| Nat::from_be_bytes(&b).rem(&pow2(bits as usize))),
        1 => Just(Nat::zero()),
        1 => Just(Nat::from_u128(1)),
        1 => Just(max_of(bits)),
        1 => Just(pow2(bits as usize - 1)),
        1 => (0..bits).prop_map(move |k| max_of(bits).checked_sub(&pow2(k as usize)).unwrap()),
    ]
}

/// A field element: random, or 0, 1, p-1, p-2, (p-1)/2.
fn fe(p: Nat) -> impl Strategy<Value = Nat> {
    let nbytes = p.bits().div_ceil(8) + 8;
    let one = Nat::from_u128(1);
    let edges = vec![
        Nat::zero(),
        one.clone(),
        p.checked_sub(&one).unwrap(),
        p.checked_sub(&Nat::from_u128(2)).unwrap(),
        p.shr(1),
    ];
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), nbytes).prop_map(move |b| Nat::from_be_bytes(&b).rem(&p)),
        1 => proptest::sample::select(edges),
    ]
}

fn layouts() -> impl Strategy<Value = Layout> {
    proptest::sample::select(vec![
        Layout::new(254, 29),
        Layout::new(256, 30),
        Layout::new(32, 16),
        Layout::new(64, 29),
        Layout::new(100, 7),
        Layout::new(30, 30),
    ])
}

fn two_below(l: Layout) -> impl Strategy<Value = (Layout, Nat, Nat)> {
    (nat_below(l.bits), nat_below(l.bits), any::<bool>())
        .prop_map(move |(a, b, same)| (l, a.clone(), if same { a } else { b }))
}

fn stack_of(l: &Layout, vals: &[&Nat]) -> Vec<Vec<u8>> {
    vals.iter().flat_map(|v| l.to_stack(v)).collect()
}

fn nat_of(l: &Layout, items: &[Vec<u8>]) -> Nat {
    let mut limbs: Vec<u32> = dec(items).iter().map(|&x| u32::try_from(x).expect("limb >= 0")).collect();
    limbs.reverse();
    for (i, &x) in limbs.iter().enumerate() {
        assert!(x < 1 << l.limb_width(i), "limb {i} = {x} not canonical");
    }
    l.from_limbs(&limbs)
}

#[test]
fn layout_shapes() {
    let l = Layout::new(254, 29);
    assert_eq!((l.limbs(), l.top_bits()), (9, 22));
    let p = Nat::from_hex(BN254_FQ_HEX).unwrap();
    assert_eq!(l.from_limbs(&l.to_limbs(&p)), p);
    assert_eq!(U32.limbs(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn add_matches_native((l, a, b) in layouts().prop_flat_map(two_below)) {
        let out = ok_stack(&l.add(), &stack_of(&l, &[&a, &b]));
        prop_assert_eq!(out.len(), l.limbs() + 1);
        let s = a.add(&b);
        prop_assert_eq!(nat_of(&l, &out[..l.limbs()]), s.rem(&pow2(l.bits as usize)));
        prop_assert_eq!(dec(&out[l.limbs()..])[0], s.bit(l.bits as usize) as i64);
    }

    #[test]
    fn sub_matches_native((l, a, b) in layouts().prop_flat_map(two_below)) {
        let out = ok_stack(&l.sub(), &stack_of(&l, &[&a, &b]));
        prop_assert_eq!(out.len(), l.limbs() + 1);
        let m = pow2(l.bits as usize);
        let d = a.add(&m).checked_sub(&b).unwrap().rem(&m);
        prop_assert_eq!(nat_of(&l, &out[..l.limbs()]), d);
        prop_assert_eq!(dec(&out[l.limbs()..])[0], (a < b) as i64);
    }

    #[test]
    fn compare_matches_native((l, a, b) in layouts().prop_flat_map(two_below)) {
        let st = stack_of(&l, &[&a, &b]);
        prop_assert_eq!(dec(&ok_stack(&l.equal(), &st)), vec![(a == b) as i64]);
        prop_assert_eq!(dec(&ok_stack(&l.less_than(), &st)), vec![(a < b) as i64]);
    }

    #[test]
    fn range_check_accepts_canonical_rejects_bad_limb(
        (l, a, _) in layouts().prop_flat_map(two_below), idx in any::<prop::sample::Index>(), neg in any::<bool>()
    ) {
        let st = l.to_stack(&a);
        prop_assert_eq!(ok_stack(&l.range_check(), &st), st.clone());
        let mut bad = st.clone();
        let i = idx.index(l.limbs()); // stack position, 0 = most significant limb
        let width = l.limb_width(l.limbs() - 1 - i);
        bad[i] = encode_num(if neg { -1 } else { 1i64 << width });
        prop_assert!(run(&l.range_check(), &bad).outcome.is_err());
    }

    #[test]
    fn regroup_matches_native(
        count in 1usize..12, width in 1u32..=30, top in 1u32..=30, out_w in 1u32..=30, seed in any::<u64>()
    ) {
        let top = top.min(width);
        let d = Digits { count, width, top_width: top };
        // random items in range, most significant first
        let mut x = seed;
        let mut items = Vec::new();
        let mut value = Nat::zero();
        for i in (0..count).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let w = if i + 1 == count { top } else { width };
            let v = (x >> 33) & ((1u64 << w) - 1);
            items.push(v as i64);
            value = value.add(&Nat::from_u128(v as u128).shl(i * width as usize));
        }
        let (frag, out) = regroup(d, out_w);
        let res = dec(&ok_stack(&frag, &nums(&items)));
        prop_assert_eq!(res.len(), out.count);
        let mut got = Nat::zero();
        for (j, &y) in res.iter().rev().enumerate() {
            let w = if j + 1 == out.count { out.top_width } else { out.width };
            prop_assert!(y >= 0 && y < 1 << w);
            got = got.add(&Nat::from_u128(y as u128).shl(j * out_w as usize));
        }
        prop_assert_eq!(got, value);
        // an item out of its range is rejected
        let mut bad = items.clone();
        bad[(seed as usize) % count] = if seed & 1 == 0 { -1 } else { 1i64 << width.max(top) };
        prop_assert!(run(&frag, &nums(&bad)).outcome.is_err());
    }

    #[test]
    fn nibbles_limbs_roundtrip(a in nat_below(254)) {
        let l = Layout::new(254, 29);
        let nibbles: Vec<i64> = (0..64).rev().map(|i| a.bits_at(4 * i, 4) as i64).collect();
        let limbs = ok_stack(&nibbles_to_limbs(&l), &nums(&nibbles));
        prop_assert_eq!(nat_of(&l, &limbs), a.clone());
        let back = ok_stack(&limbs_to_nibbles(&l), &limbs);
        prop_assert_eq!(dec(&back), nibbles);
    }
}

#[test]
fn nibbles_to_limbs_rejects_oversized_top_digit() {
    // 254 bits: the top nibble holds only 2 bits.
    let l = Layout::new(254, 29);
    let mut nibbles = vec![0i64; 64];
    nibbles[0] = 4;
    assert!(run(&nibbles_to_limbs(&l), &nums(&nibbles)).outcome.is_err());
    nibbles[0] = 3;
    assert!(run(&nibbles_to_limbs(&l), &nums(&nibbles)).outcome.is_ok());
    nibbles[5] = 16;
    assert!(run(&nibbles_to_limbs(&l), &nums(&nibbles)).outcome.is_err());
}

fn fq() -> PrimeField {
    bn254_fq()
}

fn fq_stack(f: &PrimeField, vals: &[&Nat]) -> Vec<Vec<u8>> {
    vals.iter().flat_map(|v| f.to_stack(v)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn fq_add_sub_double(a in fe(fq().modulus().clone()), b in fe(fq().modulus().clone())) {
        let f = fq();
        let p = f.modulus().clone();
        let l = f.layout();
        let st = fq_stack(&f, &[&a, &b]);
        prop_assert_eq!(nat_of(&l, &ok_stack(&f.add(), &st)), a.add(&b).rem(&p));
        prop_assert_eq!(nat_of(&l, &ok_stack(&f.sub(), &st)), a.add(&p).checked_sub(&b).unwrap().rem(&p));
        prop_assert_eq!(nat_of(&l, &ok_stack(&f.double(), &f.to_stack(&a))), a.add(&a).rem(&p));
        let ca = f.to_stack(&a);
        prop_assert_eq!(ok_stack(&f.check_canonical(), &ca), ca.clone());
        prop_assert_eq!(nat_of(&l, &ok_stack(&f.neg(), &ca)), p.checked_sub(&a).unwrap().rem(&p));
    }

    #[test]
    fn fq_mul_small_matches_native(a in fe(fq().modulus().clone()), c in prop_oneof![0u64..=20, any::<u64>()]) {
        let f = fq();
        let want = a.mul(&Nat::from_u128(c as u128)).rem(f.modulus());
        prop_assert_eq!(nat_of(&f.layout(), &ok_stack(&f.mul_small(c), &f.to_stack(&a))), want);
    }

    #[test]
    fn small_prime_mul_all_variants(a in fe(Nat::from_u128((1 << 61) - 1)), b in fe(Nat::from_u128((1 << 61) - 1)), w in 1u32..=4) {
        // Mersenne prime 2^61-1 in 29-bit limbs (3 limbs): fast, exercises the same code.
        let f = PrimeField::new(Nat::from_u128((1 << 61) - 1), 29).unwrap();
        let want = a.mul(&b).rem(f.modulus());
        let st = fq_stack(&f, &[&a, &b]);
        prop_assert_eq!(nat_of(&f.layout(), &ok_stack(&f.mul_windowed(w).unwrap(), &st)), want.clone());
        let mut hst = f.mul_hints(&a, &b, w).unwrap();
        hst.extend(st);
        prop_assert_eq!(nat_of(&f.layout(), &ok_stack(&f.mul_hinted(w).unwrap(), &hst)), want);
    }
}

#[test]
fn check_canonical_rejects_p_and_above() {
    let f = fq();
    let p = f.modulus().clone();
    let l = f.layout();
    for v in [p.clone(), p.add(&Nat::from_u128(1)), max_of(254)] {
        assert!(run(&f.check_canonical(), &l.to_stack(&v)).outcome.is_err(), "{v:?} accepted");
    }
    let mut bad = l.to_stack(&Nat::from_u128(5));
    bad[3] = encode_num(1 << 29);
    assert!(run(&f.check_canonical(), &bad).outcome.is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn fq_mul_windowed_matches_native(a in fe(fq().modulus().clone()), b in fe(fq().modulus().clone())) {
        let f = fq();
        let want = a.mul(&b).rem(f.modulus());
        let out = ok_stack(&f.mul_windowed(4).unwrap(), &fq_stack(&f, &[&a, &b]));
        prop_assert_eq!(nat_of(&f.layout(), &out), want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn fq_mul_hinted_matches_native(a in fe(fq().modulus().clone()), b in fe(fq().modulus().clone()), w in 4u32..=5) {
        let f = fq();
        let want = a.mul(&b).rem(f.modulus());
        let mut st = f.mul_hints(&a, &b, w).unwrap();
        st.extend(fq_stack(&f, &[&a, &b]));
        let r = run(&f.mul_hinted(w).unwrap(), &st);
        prop_assert!(r.outcome.is_ok(), "{:?}", r.outcome);
        prop_assert_eq!(nat_of(&f.layout(), &r.final_stack), want);
        prop_assert!(r.peak_items <= 1000);
    }

    #[test]
    fn fq_mul_hinted_digits_matches_native(a in fe(fq().modulus().clone()), b in nat_below(256), w in 3u32..=4) {
        let f = fq();
        let d = f.digits(w);
        prop_assume!(b.bits() <= w as usize * d);
        let want = a.mul(&b).rem(f.modulus());
        let mut st = f.mul_hints(&a, &b, w).unwrap();
        st.extend(f.to_stack(&a));
        st.extend((0..d).rev().map(|j| encode_num(b.bits_at(j * w as usize, w as usize) as i64)));
        let frag = f.mul_hinted_digits(w).unwrap();
        prop_assert_eq!(nat_of(&f.layout(), &ok_stack(&frag, &st)), want);
        // a digit out of range is rejected
        let n = st.len();
        let mut bad = st.clone();
        bad[n - 1 - (b.bits() % d)] = encode_num(1 << w);
        prop_assert!(run(&frag, &bad).outcome.is_err());
    }

    #[test]
    fn fq_square_hinted_matches_native(a in fe(fq().modulus().clone())) {
        let f = fq();
        let mut st = f.mul_hints(&a, &a, 4).unwrap();
        st.extend(f.to_stack(&a));
        prop_assert_eq!(nat_of(&f.layout(), &ok_stack(&f.square_hinted(4).unwrap(), &st)), a.mul(&a).rem(f.modulus()));
    }

    #[test]
    fn fq_mul_hinted_rejects_wrong_hint(
        a in fe(fq().modulus().clone()), b in fe(fq().modulus().clone()),
        idx in any::<prop::sample::Index>(), delta in prop_oneof![Just(-1i64), Just(1), Just(-100), Just(17), Just(1 << 20)]
    ) {
        let f = fq();
        let w = 4;
        let mut st = f.mul_hints(&a, &b, w).unwrap();
        let i = idx.index(st.len());
        let q = decode_num(&st[i], 4).unwrap();
        st[i] = encode_num(q + delta);
        st.extend(fq_stack(&f, &[&a, &b]));
        prop_assert!(run(&f.mul_hinted(w).unwrap(), &st).outcome.is_err());
    }
}

#[test]
fn fq_mul_edge_cases() {
    let f = fq();
    let p = f.modulus().clone();
    let one = Nat::from_u128(1);
    let pm1 = p.checked_sub(&one).unwrap();
    let cases = [(Nat::zero(), pm1.clone()), (one.clone(), pm1.clone()), (pm1.clone(), pm1.clone()), (pm1.clone(), Nat::zero())];
    for (a, b) in cases {
        let want = a.mul(&b).rem(&p);
        for w in [1, 4] {
            let out = ok_stack(&f.mul_windowed(w).unwrap(), &fq_stack(&f, &[&a, &b]));
            assert_eq!(nat_of(&f.layout(), &out), want, "windowed w={w}");
        }
        for w in [1, 4, 5] {
            let mut st = f.mul_hints(&a, &b, w).unwrap();
            st.extend(fq_stack(&f, &[&a, &b]));
            assert_eq!(nat_of(&f.layout(), &ok_stack(&f.mul_hinted(w).unwrap(), &st)), want, "hinted w={w}");
        }
    }
}

#[test]
fn window_limits_are_reported() {
    let f = fq();
    assert!(matches!(f.mul_hinted(6), Err(FieldError::BadWindow { .. })));
    assert!(matches!(f.mul_windowed(0), Err(FieldError::BadWindow { .. })));
}

#[test]
fn declared_effects_hold() {
    use crate::builder::check_effect;
    let l = Layout::new(254, 29);
    let a = Nat::from_u128(12345);
    let b = max_of(254);
    let st = stack_of(&l, &[&a, &b]);
    for f in [l.add(), l.sub(), l.equal(), l.less_than()] {
        check_effect(&f, &st).unwrap();
    }
    check_effect(&l.range_check(), &l.to_stack(&a)).unwrap();
    let f = fq();
    let st = fq_stack(&f, &[&a, &a]);
    check_effect(&f.mul_windowed(3).unwrap(), &st).unwrap();
    let mut h = f.mul_hints(&a, &a, 5).unwrap();
    h.extend(st);
    check_effect(&f.mul_hinted(5).unwrap(), &h).unwrap();
}
