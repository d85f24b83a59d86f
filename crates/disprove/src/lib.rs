//! Chunked verification programs for BitVM2 disprove leaves (crate `bitvm2-disprove`).
//!
//! This crate owns everything between "a verifier computation" and "the scripts and witnesses
//! the transaction graph needs": the program model (values and operations with a native and a
//! script implementation), Winternitz commitments of the values that cross step boundaries,
//! the chunker and its cost model (how ops are grouped into steps under a leaf weight limit),
//! the assert layout (how commitments are packed into standard assert transactions), the disprove
//! leaves (one per step: check signatures, recompute, succeed only on a wrong committed value),
//! the operator side (compute and sign every value) and the verifier side (read the signed
//! values, find the wrong step, build the witness of its leaf). It does no I/O.

pub mod binding;
pub mod bn254;
pub mod chunk;
pub mod claim;
pub mod groth16;
pub mod layout;
pub mod leaf;
pub mod msm;
pub mod parallel;
pub mod program;
pub mod programs;
pub mod setup;
pub(crate) mod stack;
pub mod wots;
