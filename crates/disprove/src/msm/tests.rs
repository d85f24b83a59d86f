use super::*;
use crate::programs::op_stack;
use ark_bn254::Fr;
use bitvm2_script::exec::{execute, ExecOptions};
use proptest::prelude::*;

fn mul() -> Arc<dyn FqMul> {
    Arc::new(crate::bn254::ModeMul::new(crate::programs::MulMode::Hinted(4)).unwrap())
}

fn point(k: u64) -> G1Affine {
    (G1Projective::from(g1_generator()) * Fr::from(k.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)).into_affine()
}

fn run(op: &dyn Op, inputs: &[Val]) -> Result<Vec<Vec<u8>>, String> {
    run_with(op, op_stack(op, inputs))
}

fn run_with(op: &dyn Op, stack: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, String> {
    let r = execute(&op.script().into_script(), &stack, &ExecOptions::default());
    match r.outcome {
        Ok(()) => Ok(r.final_stack),
        Err(e) => Err(format!("{e:?}")),
    }
}

fn scalar(v: u128) -> Fq {
    Fq::from(v)
}

#[test]
fn window_digits_match_native_bits_including_limb_straddles() {
    // 2^256 - 1 would not be canonical; use a value with every nibble distinct-ish below p.
    let x = Fq::from_be_bytes_mod_order(&[0x1b; 32]);
    for j in 0..64u32 {
        let f = window_digit(j);
        let r = execute(&f.to_script(), &crate::program::val_stack(&[x]), &ExecOptions::default());
        assert!(r.outcome.is_ok(), "window {j}: {:?}", r.outcome);
        let want = bits_of(&x, 4 * j, 4 * j + 4) as i64;
        let got = bitvm2_script::exec::decode_num(r.final_stack.last().unwrap(), 4).unwrap();
        assert_eq!(got, want, "window {j}");
        assert_eq!(r.final_stack.len(), 10, "limbs kept");
    }
}

#[test]
fn fits_bits_flags_values_above_the_bound() {
    for (bits, x, ok) in [(128u32, (1u128 << 127) + 5, true), (128, u128::MAX, true), (64, u64::MAX as u128, true), (64, 1u128 << 64, false), (24, 1 << 24, false), (24, (1 << 24) - 1, true)] {
        let op = FitsBits { bits };
        let inputs = [vec![scalar(x)]];
        assert_eq!(op.native(&inputs), vec![Fq::from(ok as u64)], "native {bits} {x}");
        assert_eq!(run(&op, &inputs).unwrap(), crate::program::val_stack(&op.native(&inputs)), "script {bits} {x}");
    }
    let big = Fq::from(1u128 << 100) * Fq::from(1u128 << 100);
    let op = FitsBits { bits: 128 };
    assert_eq!(op.native(&[vec![big]]), vec![Fq::zero()]);
    assert_eq!(run(&op, &[vec![big]]).unwrap(), crate::program::val_stack(&[Fq::zero()]));
}

#[test]
fn window_add_script_matches_native_for_every_digit_and_constant_add() {
    let m = mul();
    let base = point(7);
    let acc = g1_val(&point(11));
    for j in [0u32, 7, 31] {
        let op = G1AddWindow::window(base, j, m.clone());
        for d in [0u128, 1, 9, 15] {
            let x = scalar(d << (4 * j));
            let inputs = [acc.clone(), vec![x]];
            let want = op.native(&inputs);
            let expect_pt = (G1Projective::from(point(11)) + G1Projective::from(base) * Fr::from(d) * Fr::from(2u64).pow([4 * j as u64])).into_affine();
            assert_eq!(want, g1_val(&expect_pt), "native j={j} d={d}");
            assert_eq!(run(&op, &inputs).map_err(|e| format!("j={j} d={d} {e}")).unwrap(), crate::program::val_stack(&want), "script j={j} d={d}");
        }
    }
    let op = G1AddWindow::constant(base, m);
    let inputs = [acc.clone()];
    let want = op.native(&inputs);
    assert_eq!(want, g1_val(&(G1Projective::from(point(11)) + base).into_affine()));
    assert_eq!(run(&op, &inputs).unwrap(), crate::program::val_stack(&want));
}

#[test]
fn wrong_or_non_canonical_slope_and_degenerate_addition_fail() {
    let m = mul();
    let l = field().layout().limbs();
    let op = G1AddWindow::constant(point(5), m.clone());
    let inputs = [g1_val(&point(6))];
    let good = op_stack(&op, &inputs);
    let h = 3 * m.hint_count();
    assert!(run_with(&op, good.clone()).is_ok(), "the honest stack runs");
    // wrong slope: lambda + 1 (mul hints regenerated for it so only the slope check can fail)
    let (p, q) = (coords(&point(6)), coords(&point(5)));
    let ((_, _), real) = add_with_slope(p, q).unwrap();
    for fake in [real + Fq::from(1u64), -real] {
        let x3 = fake.square() - p.0 - q.0;
        let mut st = m.hints(&fake, &(q.0 - p.0));
        st.extend(m.hints(&fake, &fake));
        st.extend(m.hints(&fake, &(p.0 - x3)));
        st.extend(crate::program::val_stack(&[fake]));
        st.extend(crate::program::val_stack(&inputs[0]));
        assert!(run_with(&op, st).is_err(), "a wrong slope must fail");
    }
    // non-canonical slope: lambda + p in limbs (limb values still in range where possible)
    let mut st = good.clone();
    let p_nat = field().modulus().clone();
    let lam_nat = fq_to_nat(&real).add(&p_nat);
    let limbs = field().layout().to_stack(&lam_nat);
    if limbs.len() == l {
        st.splice(h..h + l, limbs);
        assert!(run_with(&op, st).is_err(), "a non-canonical slope must fail");
    }
    // degenerate: accumulator equals the table point
    let op = G1AddWindow::constant(point(6), m);
    assert!(run(&op, &[g1_val(&point(6))]).is_err(), "doubling through the addition formula must fail");
}

#[test]
fn msm_program_equals_arkworks_and_claims_catch_oversized_scalars() {
    let m = mul();
    let ic0 = point(1);
    let bases = [point(2), point(3)];
    let mut prog = Program::new("msm test");
    let x0 = prog.input("x0", 1);
    let x1 = prog.input("x1", 1);
    let terms = [MsmTerm { scalar: x0, bits: 8, base: bases[0] }, MsmTerm { scalar: x1, bits: 12, base: bases[1] }];
    let out = push_msm(&mut prog, ic0, &terms, &m, CommitMode::Direct);
    let (a, b) = (0xa7u128, 0x5c3u128);
    let vals = prog.evaluate(&[vec![scalar(a)], vec![scalar(b)]]).unwrap();
    assert!(prog.claims_hold(&vals));
    assert_eq!(vals[out], g1_val(&msm_native(ic0, &[(scalar(a), bases[0]), (scalar(b), bases[1])])));
    // every op's script agrees with its native result on these values
    for node in &prog.ops {
        let args = prog.operands(node, &vals);
        assert_eq!(run(node.op.as_ref(), &args).unwrap(), crate::program::val_stack(&vals[node.out]), "{}", node.op.name());
    }
    let bad = prog.evaluate(&[vec![scalar(1 << 8)], vec![scalar(b)]]).unwrap();
    assert!(!prog.claims_hold(&bad), "x0 = 2^8 does not fit 8 bits");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]
    #[test]
    fn window_add_agrees_with_arkworks(k in 1u64..u64::MAX, a in 1u64..u64::MAX, x in any::<u128>(), j in 0u32..32) {
        let op = G1AddWindow::window(point(k), j, mul());
        let inputs = [g1_val(&point(a)), vec![scalar(x)]];
        let d = (x >> (4 * j)) & 15;
        let want = (G1Projective::from(point(a)) + G1Projective::from(point(k)) * Fr::from(d as u64) * Fr::from(2u64).pow([4 * j as u64])).into_affine();
        prop_assert_eq!(op.native(&inputs), g1_val(&want));
        prop_assert_eq!(run(&op, &inputs).unwrap(), crate::program::val_stack(&g1_val(&want)));
    }
}

