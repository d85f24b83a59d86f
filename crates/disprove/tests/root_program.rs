//! End-to-end checks of the first real program (Horner evaluation over BN254 Fq, claim
//! `P(x) = 0`) and of a program with two-element values (committed directly and as BLAKE3
//! digests) at the default limits: every leaf with honest values, every committed value
//! corrupted, the resource limits of every leaf and assert input.

use std::sync::OnceLock;

use ark_bn254::Fq;
use ark_ff::One;
use bitvm2_disprove::chunk::{ChunkLimits, Step};
use bitvm2_disprove::layout::AssertShape;
use bitvm2_disprove::program::{CommitMode, Committed};
use bitvm2_disprove::programs::{first_program, pair_program, MulMode};
use bitvm2_disprove::setup::{Disprove, FaultReason, GraphData, OperatorKeys, Planned, StepStatus};
use bitvm2_script::exec::{execute, ExecOptions, ExecReport};

const DEGREE: usize = 160;
/// Degree of the two-polynomial programs (two-element state, one leaf per few steps).
const PAIR_DEGREE: usize = 24;

struct Fixture {
    d: Disprove,
    keys: OperatorKeys,
    root: Fq,
}

fn make(prog: bitvm2_disprove::program::Program, root: Fq) -> Fixture {
    let planned = Planned::new(prog, ChunkLimits::default()).unwrap();
    let keys = OperatorKeys::new([42; 32], b"graph-under-test");
    let pks = keys.public_keys(&planned);
    let d = planned.with_keys(pks, AssertShape::default()).unwrap();
    Fixture { d, keys, root }
}

/// The first real program: 160 multiply-adds, single-element values committed directly.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let (prog, root) = first_program();
        assert_eq!(prog.ops.len(), DEGREE);
        make(prog, root)
    })
}

/// Two-element state committed as a 20-byte BLAKE3 digest.
fn hashed() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let (prog, root) = pair_program(PAIR_DEGREE, "test-pair", MulMode::Hinted(4), CommitMode::Hash { bytes: 20 }).unwrap();
        make(prog, root)
    })
}

/// Two-element state committed directly (512 bits per commitment).
fn pair_direct() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let (prog, root) = pair_program(PAIR_DEGREE, "test-pair", MulMode::Hinted(4), CommitMode::Direct).unwrap();
        make(prog, root)
    })
}

fn all() -> [&'static Fixture; 3] {
    [fixture(), hashed(), pair_direct()]
}

fn run_leaf(d: &Disprove, s: usize, w: &[Vec<u8>]) -> ExecReport {
    execute(&d.leaf_scripts[s], w, &ExecOptions::default())
}

/// The assertion as a verifier sees it: signed, packed into assert witnesses, read back.
fn through_chain(f: &Fixture, committed: &[Committed]) -> bitvm2_disprove::setup::SignedAssertion {
    let signed = f.keys.sign(&f.d, committed);
    f.d.read_assertion(&f.d.assert_witnesses(&signed)).expect("operator signatures verify")
}

fn honest_values(f: &Fixture) -> Vec<Committed> {
    f.d.honest_commitments(&[vec![f.root]]).unwrap()
}

#[test]
fn plan_is_a_real_chunking() {
    let d = &fixture().d;
    // at least 32 steps, each step's ops contiguous and covering the program exactly once
    assert!(d.plan.steps.len() >= 32, "{} steps", d.plan.steps.len());
    let mut next = 0;
    for st in &d.plan.steps {
        assert_eq!(st.ops.start, next);
        next = st.ops.end;
        assert_eq!(*st, Step::of_range(&d.program, st.ops.clone()));
    }
    assert_eq!(next, d.program.ops.len());
    // the greedy chunker packed more than one op into a leaf where the limit allows
    assert!(d.plan.steps.iter().any(|s| s.ops.len() > 1));
}

#[test]
fn honest_assertion_leaves_no_leaf_spendable() {
    for f in all() {
    let a = through_chain(f, &honest_values(f));
    assert_eq!(f.d.find_fault(&a), None);
    assert!(f.d.check_steps(&a).iter().all(|s| *s == StepStatus::Correct));
    for s in 0..f.d.plan.steps.len() {
        let w = f.d.leaf_witness(s, &a).unwrap();
        let r = run_leaf(&f.d, s, &w);
        // Not just "fails": the signatures verified, the recomputation ran and the leaf
        // ended with a single false item (nothing differs).
        assert!(r.outcome.is_ok(), "leaf {s} errored: {:?}", r.outcome);
        assert_eq!(r.final_stack, vec![Vec::<u8>::new()], "leaf {s}");
        assert!(!r.success());
    }
    }
}

#[test]
fn every_corrupted_value_is_caught_by_a_spendable_leaf() {
    for f in all() {
    let honest = honest_values(f);
    for c in 0..honest.len() {
        let mut bad = honest.clone();
        // flip the lowest bit of the message (a field element stays canonical for these
        // pseudo-random values; a digest becomes one nobody can open)
        *bad[c].last_mut().unwrap() ^= 1;
        let a = through_chain(f, &bad);
        let fault = f.d.find_fault(&a).unwrap_or_else(|| panic!("corrupting commitment {c} went unnoticed"));
        let v = f.d.plan.commitments[c];
        // the first wrong step is the producer of the value, or its first consumer for the input
        let producer = f.d.plan.steps.iter().position(|s| s.outputs.contains(&v));
        let first_consumer = f.d.plan.steps.iter().position(|s| s.inputs.contains(&v)).unwrap();
        assert_eq!(fault.step, producer.unwrap_or(first_consumer), "commitment {c}");
        let r = run_leaf(&f.d, fault.step, &fault.witness);
        assert!(r.success(), "commitment {c}: leaf {} not spendable: {:?}", fault.step, r.verdict());
        // the same witness does not spend any other leaf whose values are honest
        let other = (fault.step + 1) % f.d.plan.steps.len();
        if f.d.check_steps(&a)[other] == StepStatus::Correct {
            assert!(!run_leaf(&f.d, other, &f.d.leaf_witness(other, &a).unwrap()).success());
        }
    }
    }
}

#[test]
fn wrong_input_consistently_propagated_fails_the_claim() {
    // The operator asserts a non-root x and computes everything honestly from it: only the
    // final claim P(x) = 0 is wrong.
    for f in all() {
    let committed = f.d.honest_commitments(&[vec![f.root + Fq::one()]]).unwrap();
    let a = through_chain(f, &committed);
    let fault = f.d.find_fault(&a).expect("claim failure found");
    let last = f.d.plan.steps.len() - 1;
    assert_eq!(fault.step, last);
    assert!(matches!(fault.reason, FaultReason::ClaimFails(_)));
    assert!(run_leaf(&f.d, last, &fault.witness).success());
    }
}

#[test]
fn non_canonical_values_are_caught() {
    let f = fixture();
    let honest = honest_values(f);
    let p = bitvm2_script::arith::bn254_fq().modulus().clone();
    let plus_p = |c: &Committed| -> Committed { bitvm2_script::arith::Nat::from_be_bytes(c).add(&p).to_be_bytes(32) };
    // the input x + p: same residue, so only the canonical check can catch it
    let mut bad = honest.clone();
    bad[0] = plus_p(&bad[0]);
    let a = through_chain(f, &bad);
    let fault = f.d.find_fault(&a).unwrap();
    assert_eq!(fault.reason, FaultReason::NonCanonicalInput(f.d.plan.commitments[0]));
    assert!(run_leaf(&f.d, fault.step, &fault.witness).success());
    // an intermediate value + p: caught by its producer (the comparison is on integers)
    let mut bad = honest.clone();
    bad[5] = plus_p(&bad[5]);
    let a = through_chain(f, &bad);
    let fault = f.d.find_fault(&a).unwrap();
    assert_eq!(fault.reason, FaultReason::WrongOutput(f.d.plan.commitments[5]));
    assert!(run_leaf(&f.d, fault.step, &fault.witness).success());
}

#[test]
fn every_leaf_respects_stack_element_and_weight_limits() {
    for f in all() {
    let a = through_chain(f, &honest_values(f));
    let shape = f.d.spend_shape();
    for s in 0..f.d.plan.steps.len() {
        let w = f.d.leaf_witness(s, &a).unwrap();
        let r = run_leaf(&f.d, s, &w);
        assert!(r.peak_items <= 1000, "leaf {s}: peak {}", r.peak_items);
        assert!(r.largest_element <= 520, "leaf {s}: element {}", r.largest_element);
        assert!(w.iter().all(|i| i.len() <= 520));
        let weight = shape.weight(f.d.leaf_scripts[s].len(), w.iter().map(|i| i.len()));
        assert!(weight <= 400_000, "leaf {s}: {weight} WU");
        // the cost model never undershoots what was built
        let est = f.d.plan.estimates[s];
        assert!(est.spend_weight(&shape) >= weight, "leaf {s}: estimate {} < {weight}", est.spend_weight(&shape));
        assert!(est.peak_stack >= r.peak_items, "leaf {s}: estimate {} < {}", est.peak_stack, r.peak_items);
        assert!(f.d.leaf_peak_estimates[s] >= r.peak_items);
    }
    }
}

#[test]
fn assert_inputs_verify_and_are_standard() {
    for f in all() {
    let a = f.keys.sign(&f.d, &honest_values(f));
    let wit = f.d.assert_witnesses(&a);
    let shape = f.d.layout.shape;
    let mut revealed = vec![0; f.d.plan.commitments.len()];
    for (t, tx) in f.d.layout.txs.iter().enumerate() {
        assert!(tx.weight <= 400_000);
        let mut weight = shape.base_weight;
        for (i, inp) in tx.inputs.iter().enumerate() {
            for &c in &inp.commitments {
                revealed[c] += 1;
            }
            let items = &wit[t][i];
            let r = execute(&inp.script, items, &ExecOptions::default());
            assert!(r.outcome.is_ok(), "tx {t} input {i}: {:?}", r.outcome);
            assert!(r.final_stack.is_empty(), "commitment script leaves nothing");
            assert!(r.peak_items + shape.reserved_items <= 1000, "tx {t} input {i}: peak {}", r.peak_items);
            // exact weight of this input with the graph's reserved parts
            let script_len = inp.script.len() + shape.reserved_script_bytes;
            let wbytes = bitvm2_disprove::chunk::varint_len(items.len() + shape.reserved_items + 2)
                + items.iter().map(|x| bitvm2_disprove::chunk::varint_len(x.len()) + x.len()).sum::<usize>()
                + shape.reserved_witness_bytes
                + bitvm2_disprove::chunk::varint_len(script_len)
                + script_len
                + 1
                + shape.control_block_len;
            assert!(164 + wbytes <= inp.weight);
            weight += 164 + wbytes;
            // a wrong signature makes the commitment script fail
            let mut forged = items.clone();
            forged[0][0] ^= 1;
            assert!(execute(&inp.script, &forged, &ExecOptions::default()).outcome.is_err());
        }
        assert!(weight <= 400_000);
    }
    assert!(revealed.iter().all(|&n| n == 1), "each commitment revealed exactly once");
    // a tampered assert witness is rejected by the verifier's reader
    let mut bad = wit.clone();
    bad[0][0][0][0] ^= 1;
    assert!(f.d.read_assertion(&bad).is_err());
    }
}

#[test]
fn graph_data_round_trips() {
    let f = fixture();
    let g = f.d.graph_data();
    assert_eq!(g.disprove_leaves.len(), f.d.plan.steps.len());
    assert_eq!(g.assert_txs.iter().flatten().map(|i| i.commitments.len()).sum::<usize>(), f.d.plan.commitments.len());
    let json = serde_json::to_string(&g).unwrap();
    let back: GraphData = serde_json::from_str(&json).unwrap();
    assert_eq!(back, g);
}

#[test]
fn a_wrong_preimage_of_a_hashed_input_makes_the_leaf_fail() {
    let f = hashed();
    let a = through_chain(f, &honest_values(f));
    // a step that reads the hash-committed state
    let s = f.d.plan.steps.iter().position(|st| st.inputs.iter().any(|&v| f.d.program.values[v].kind.commit != CommitMode::Direct)).unwrap();
    let w = f.d.leaf_witness(s, &a).unwrap();
    let hints: usize = f.d.program.ops[f.d.plan.steps[s].ops.clone()].iter().map(|n| n.op.hint_items()).sum();
    assert!(run_leaf(&f.d, s, &w).outcome.is_ok());
    let mut forged = w.clone();
    // change the least significant limb of the preimage's first element
    forged[hints + 8] = bitvm2_script::exec::encode_num(
        bitvm2_script::exec::decode_num(&forged[hints + 8], 4).unwrap() ^ 1,
    );
    let r = run_leaf(&f.d, s, &forged);
    assert!(r.outcome.is_err(), "a leaf must not accept an input that does not hash to the commitment");
}

mod arbitrary_cheating {
    use super::*;
    use proptest::prelude::*;

    fn small(commit: CommitMode) -> &'static Fixture {
        static D: OnceLock<Fixture> = OnceLock::new();
        static H: OnceLock<Fixture> = OnceLock::new();
        let cell = if commit == CommitMode::Direct { &D } else { &H };
        cell.get_or_init(|| {
            let (prog, root) = pair_program(8, "cheating", MulMode::Hinted(4), commit).unwrap();
            make(prog, root)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// The operator replaces any subset of committed messages by arbitrary bytes (possibly
        /// non-canonical elements, or digests nobody can open): the verifier finds a wrong step
        /// whose leaf is spendable with the returned witness, or nothing changed.
        #[test]
        fn any_set_of_wrong_values_leaves_a_spendable_leaf(
            hashed in any::<bool>(),
            picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<[u8; 32]>(), any::<bool>()), 1..4),
        ) {
            let f = small(if hashed { CommitMode::Hash { bytes: 20 } } else { CommitMode::Direct });
            let honest = honest_values(f);
            let mut bad = honest.clone();
            for (idx, bytes, top_small) in picks {
                let c = idx.index(bad.len());
                let n = bad[c].len();
                let mut v: Vec<u8> = bytes.iter().cycle().take(n).copied().collect();
                if top_small {
                    v[0] &= 0x0f; // often below p
                }
                bad[c] = v;
            }
            let a = through_chain(f, &bad);
            match f.d.find_fault(&a) {
                None => prop_assert_eq!(&bad, &honest),
                Some(fault) => {
                    let r = run_leaf(&f.d, fault.step, &fault.witness);
                    prop_assert!(r.success(), "step {}: {:?}", fault.step, r.verdict());
                }
            }
        }
    }
}
