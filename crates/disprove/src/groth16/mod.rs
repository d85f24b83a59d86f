//! Native reference of the chunked Groth16 (BN254) verifier: WHAT each script step computes.
//!
//! Design note. The operator runs this code to compute every intermediate value it commits; a
//! verifier reruns it to find a wrong step; the script program mirrors it step for step.
//!
//! - [`inputs`]: verifying key, proof and public inputs from arkworks serialization or from
//!   snarkjs/circom JSON, with typed rejections (non-canonical numbers, points off the curve or
//!   outside the subgroup, wrong protocol/curve, wrong input count).
//! - [`msm`]: `vk_x = IC[0] + Σ x_i·IC[i]` with fixed-base windows and affine additions whose
//!   slopes are hints.
//! - [`miller`]: the optimal-ate loop of BN254 as in arkworks (`ATE_LOOP_COUNT`, the NAF of
//!   `6x + 2`, then additions of `π(Q)` and `-π²(Q)`), but with G2 in affine coordinates
//!   (slope hints) and lines normalized to `1 + c3·w + c4·v·w` (arkworks' `mul_by_034` with
//!   `c0 = 1`, twist type D) using the G1 hints `x/y`, `1/y`.
//! - [`residue`]: instead of the final exponentiation, the residue check of "On Proving
//!   Pairings" (A. Novakovic, L. Eagen, eprint 2024/640): the prover gives `c` and
//!   `wi ∈ {1, w, w²}` (`w` a fixed 27th root of unity) with `f·wi = c^λ`,
//!   `λ = 6x + 2 + p - p² + p³`; implemented from the paper's description.
//! - [`verifier`]: the whole check `e(A,B)·e(vk_x,-γ)·e(C,-δ)·e(α,-β) = 1` as one multi Miller
//!   loop with `c^-1` folded in (so `f` starts at `c^-1`), ending with Frobenius powers of `c`,
//!   `wi` and the constant Miller value of `(α, -β)`, accepting iff the result is one; its
//!   [`verifier::Trace`] lists every intermediate value in order.
//! - [`audit`]: the verifier's search for the first wrong committed value of a trace.
//!
//! Sources: arkworks 0.6 (`ark-ec` `models::bn`, `ark-bn254`) for the loop shape, the tower and
//! the twist constants, and as the test oracle (pairings, `Groth16::verify`); the paper above for
//! the residue check. No code was taken from other projects.

pub mod audit;
pub mod inputs;
pub mod miller;
pub mod msm;
mod nat;
pub mod ops;
pub mod program;
pub mod residue;
pub mod verifier;

#[cfg(test)]
mod tests;

pub use inputs::{Groth16Instance, InputError};
pub use residue::{ResidueError, ResidueWitness};
pub use verifier::{
    prove, trace, OpCounts, PreparedVerifyingKey, Trace, VerifierError, DEFAULT_WINDOW_BITS,
};
