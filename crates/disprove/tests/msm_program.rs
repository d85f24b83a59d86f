//! The Groth16 public-input MSM (`bitvm2_disprove::msm`) as a chunked program at the default
//! limits: honest values leave every leaf unspendable, every corrupted commitment and an
//! oversized scalar are caught by a spendable leaf.

use ark_bn254::{Fq, Fr, G1Affine, G1Projective};
use ark_ec::CurveGroup;
use bitvm2_disprove::chunk::ChunkLimits;
use bitvm2_disprove::layout::AssertShape;
use std::sync::Arc;

use bitvm2_disprove::bn254::{FqMul, ModeMul};
use bitvm2_disprove::msm::{demo_program, g1_generator, g1_val, msm_native};
use bitvm2_disprove::program::Committed;
use bitvm2_disprove::programs::MulMode;
use bitvm2_disprove::setup::{Disprove, FaultReason, OperatorKeys, Planned, StepStatus};
use bitvm2_script::exec::{execute, ExecOptions};

struct Fixture {
    d: Disprove,
    keys: OperatorKeys,
    out: usize,
    honest: Vec<Vec<Fq>>,
}

/// `msm::demo_program` at the default limits.
fn fixture() -> Fixture {
    let mul: Arc<dyn FqMul> = Arc::new(ModeMul::new(MulMode::Hinted(4)).unwrap());
    let (prog, out, honest) = demo_program(&mul);
    let planned = Planned::new(prog, ChunkLimits::default()).unwrap();
    let keys = OperatorKeys::new([7; 32], b"msm-graph");
    let pks = keys.public_keys(&planned);
    let d = planned.with_keys(pks, AssertShape::default()).unwrap();
    Fixture { d, keys, out, honest }
}

/// The scalars the claim on vk_x is made for (those of `demo_program`).
const HONEST: (u64, u64) = (0xd3, 0x9a5);

fn inputs(a: u64, b: u64) -> Vec<Vec<Fq>> {
    vec![vec![Fq::from(a)], vec![Fq::from(b)]]
}

fn through_chain(f: &Fixture, c: &[Committed]) -> bitvm2_disprove::setup::SignedAssertion {
    let signed = f.keys.sign(&f.d, c);
    f.d.read_assertion(&f.d.assert_witnesses(&signed)).unwrap()
}

#[test]
fn msm_program_honest_unspendable_every_fault_spendable() {
    let f = fixture();
    let (a, b) = HONEST;
    assert_eq!(f.honest, inputs(a, b));
    let vals = f.d.program.evaluate(&inputs(a, b)).unwrap();
    // the bases of demo_program, recomputed here: the program really computes the MSM
    let base = |k: u64| -> G1Affine { (G1Projective::from(g1_generator()) * Fr::from(k * 1_000_003 + 17)).into_affine() };
    assert_eq!(vals[f.out], g1_val(&msm_native(base(0), &[(Fq::from(a), base(1)), (Fq::from(b), base(2))])));

    // 2 range checks, 2 + 3 windows and the offset removal; a window op is ~220 KB (three
    // hinted multiplications), so each window lands in its own leaf
    assert_eq!(f.d.program.ops.len(), 8);
    assert!(f.d.plan.steps.len() >= 6, "{} steps", f.d.plan.steps.len());
    let honest = f.d.honest_commitments(&inputs(a, b)).unwrap();
    let ha = through_chain(&f, &honest);
    assert_eq!(f.d.find_fault(&ha), None);
    for s in 0..f.d.plan.steps.len() {
        let r = execute(&f.d.leaf_scripts[s], &f.d.leaf_witness(s, &ha).unwrap(), &ExecOptions::default());
        assert!(r.outcome.is_ok(), "leaf {s}: {:?}", r.outcome);
        assert_eq!(r.final_stack, vec![Vec::<u8>::new()], "leaf {s} ends with a single false");
        assert!(r.peak_items <= 1000, "leaf {s} peak {}", r.peak_items);
    }

    for c in 0..honest.len() {
        let mut bad = honest.clone();
        *bad[c].last_mut().unwrap() ^= 1;
        let a = through_chain(&f, &bad);
        let fault = f.d.find_fault(&a).unwrap_or_else(|| panic!("commitment {c} corrupted unnoticed"));
        let r = execute(&f.d.leaf_scripts[fault.step], &fault.witness, &ExecOptions::default());
        assert!(r.success(), "commitment {c}: leaf {} not spendable: {:?}", fault.step, r.verdict());
    }

    // x0 = 2^8 + 1 with everything computed honestly from it: only the range claim is wrong.
    let over = f.d.honest_commitments(&inputs(0x101, b)).unwrap();
    let a = through_chain(&f, &over);
    let fault = f.d.find_fault(&a).expect("oversized scalar caught");
    assert!(matches!(fault.reason, FaultReason::ClaimFails(_)), "{:?}", fault.reason);
    assert!(execute(&f.d.leaf_scripts[fault.step], &fault.witness, &ExecOptions::default()).success());
    assert!(f.d.check_steps(&a).iter().filter(|s| **s != StepStatus::Correct).count() >= 1);
}

/// The same leaves judged by Bitcoin Core's interpreter: honest witnesses rejected by both, the
/// fault witnesses accepted by both.
#[cfg(feature = "core-oracle")]
#[test]
fn msm_leaves_are_judged_alike_by_core() {
    use bitvm2_script::oracle::verdicts;
    let f = fixture();
    let honest = f.d.honest_commitments(&inputs(HONEST.0, HONEST.1)).unwrap();
    let ha = through_chain(&f, &honest);
    for s in 0..f.d.plan.steps.len() {
        let v = verdicts(&f.d.leaf_scripts[s], &f.d.leaf_witness(s, &ha).unwrap());
        assert!(!v.core && !v.ours, "leaf {s} with honest values: {}", v.detail);
    }
    for c in 0..honest.len() {
        let mut bad = honest.clone();
        *bad[c].last_mut().unwrap() ^= 1;
        let fault = f.d.find_fault(&through_chain(&f, &bad)).expect("fault found");
        let v = verdicts(&f.d.leaf_scripts[fault.step], &fault.witness);
        assert!(v.core && v.ours, "commitment {c}, leaf {}: {}", fault.step, v.detail);
    }
}
