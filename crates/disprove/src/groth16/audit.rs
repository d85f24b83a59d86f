//! The verifier's side: find the first wrong value in a committed trace.
//!
//! Each step is recomputed from the previously COMMITTED values (not from the honest ones),
//! exactly as its disprove leaf would: the first step whose committed output differs from the
//! recomputation, or whose hint fails its check, is the one to disprove. If every step is
//! consistent but the last value is not one, the proof is invalid and the final check is the
//! step to disprove.

use ark_bn254::{Bn254, Fq12, Fr};
use ark_ff::{Field, One};
use ark_groth16::Proof;

use super::miller::{self, Line, StepKind};
use super::msm;
use super::verifier::{final_factors, PreparedVerifyingKey, Trace};

/// Where a committed trace is first wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrongValue {
    /// The MSM addition with this index (or a missing/extra addition at this index).
    MsmStep(usize),
    /// The G1 line-point hints of pair `0 = A`, `1 = vk_x`, `2 = C`.
    G1Hint(usize),
    /// `c · c_inv != 1`, `wi` index out of range, or `f_start != c_inv`.
    Witness,
    /// The Miller-loop step with this index.
    LoopStep(usize),
    /// The post-loop step with this index.
    FinalStep(usize),
    /// Every step is consistent but the result is not one: the proof does not verify.
    NotOne,
}

/// Returns the first inconsistent value of `committed` for this proof and these inputs, or
/// `None` if the trace is consistent and ends at one.
pub fn first_wrong_value(
    pvk: &PreparedVerifyingKey,
    proof: &Proof<Bn254>,
    public_inputs: &[Fr],
    committed: &Trace,
) -> Option<WrongValue> {
    if let Some(i) = first_wrong_msm_step(pvk, public_inputs, committed) {
        return Some(WrongValue::MsmStep(i));
    }
    let g1 = [proof.a, committed.msm.vk_x, proof.c];
    if let Some(i) = (0..3).find(|&i| !committed.g1_points[i].is_for(&g1[i])) {
        return Some(WrongValue::G1Hint(i));
    }
    let w = &committed.witness;
    let Some(wi) = w.wi() else {
        return Some(WrongValue::Witness);
    };
    if w.c * w.c_inv != Fq12::one() || committed.f_start != w.c_inv {
        return Some(WrongValue::Witness);
    }
    if let Some(i) = first_wrong_loop_step(pvk, proof, committed) {
        return Some(WrongValue::LoopStep(i));
    }
    let mut f = committed
        .steps
        .last()
        .map(|s| s.f_after)
        .unwrap_or(committed.f_start);
    let factors = final_factors(pvk, w, wi);
    if committed.finals.len() != factors.len() {
        return Some(WrongValue::FinalStep(
            committed.finals.len().min(factors.len()),
        ));
    }
    for (i, (s, (kind, factor))) in committed.finals.iter().zip(factors).enumerate() {
        if s.kind != kind || s.f_after != f * factor {
            return Some(WrongValue::FinalStep(i));
        }
        f = s.f_after;
    }
    (!committed.accepts()).then_some(WrongValue::NotOne)
}

fn first_wrong_msm_step(
    pvk: &PreparedVerifyingKey,
    public_inputs: &[Fr],
    committed: &Trace,
) -> Option<usize> {
    if public_inputs.len() != pvk.msm.inputs() {
        return Some(0);
    }
    let expected: Vec<(usize, usize, u32)> = public_inputs
        .iter()
        .enumerate()
        .flat_map(|(i, x)| {
            pvk.msm
                .digits(x)
                .into_iter()
                .enumerate()
                .filter(|(_, d)| *d != 0)
                .map(move |(j, d)| (i, j, d))
        })
        .collect();
    let mut acc = pvk.vk.gamma_abc_g1[0];
    for (n, &(input, window, digit)) in expected.iter().enumerate() {
        let Some(s) = committed.msm.steps.get(n) else {
            return Some(n);
        };
        let addend = pvk
            .msm
            .entry(input, window, digit)
            .expect("digit of a valid window");
        let ok = (s.input, s.window, s.digit) == (input, window, digit)
            && s.addend == addend
            && msm::is_add_slope(&acc, &addend, &s.slope)
            && s.acc_after == msm::apply_slope(&acc, &addend, s.slope);
        if !ok {
            return Some(n);
        }
        acc = s.acc_after;
    }
    if committed.msm.steps.len() != expected.len() || committed.msm.vk_x != acc {
        return Some(expected.len());
    }
    None
}

/// The first loop step whose committed slope fails its check or whose committed `T` or `f`
/// differs from the recomputation from the previous committed values.
fn first_wrong_loop_step(
    pvk: &PreparedVerifyingKey,
    proof: &Proof<Bn254>,
    committed: &Trace,
) -> Option<usize> {
    let schedule = miller::schedule();
    if committed.steps.len() != schedule.len() {
        return Some(committed.steps.len().min(schedule.len()));
    }
    let mut f = committed.f_start;
    let mut t = proof.b;
    let q1 = miller::frobenius(&proof.b);
    let q2 = miller::neg_frobenius2(&proof.b);
    for (n, (s, kind)) in committed.steps.iter().zip(schedule).enumerate() {
        let (addend, slope_ok) = match kind {
            StepKind::Double { .. } => (t, miller::is_double_slope(&t, &s.b_slope)),
            StepKind::Add { digit, .. } => {
                let q = if digit > 0 { proof.b } else { -proof.b };
                (q, miller::is_add_slope(&t, &q, &s.b_slope))
            }
            StepKind::FrobeniusAdd => (q1, miller::is_add_slope(&t, &q1, &s.b_slope)),
            StepKind::FrobeniusNegAdd => (q2, miller::is_add_slope(&t, &q2, &s.b_slope)),
        };
        let lines = [
            Line::through(&t, s.b_slope).evaluate(&committed.g1_points[0]),
            pvk.neg_gamma_lines[n].evaluate(&committed.g1_points[1]),
            pvk.neg_delta_lines[n].evaluate(&committed.g1_points[2]),
        ];
        match kind {
            StepKind::Double { .. } => {
                f.square_in_place();
            }
            StepKind::Add { digit, .. } => {
                f *= if digit > 0 {
                    committed.witness.c_inv
                } else {
                    committed.witness.c
                };
            }
            StepKind::FrobeniusAdd | StepKind::FrobeniusNegAdd => {}
        }
        for line in &lines {
            line.mul_into(&mut f);
        }
        let t_new = miller::apply_slope(&t, &addend, s.b_slope);
        if s.kind != kind || !slope_ok || s.lines != lines || f != s.f_after || t_new != s.t_after {
            return Some(n);
        }
        f = s.f_after;
        t = s.t_after;
    }
    None
}
