//! Bitcoin Script building blocks for BitVM2 disprove leaves.
//!
//! This crate owns everything that is "just script": a fragment builder, a BIP-342 tapscript
//! executor used to run and measure leaves (Bitcoin Core stays the judge), Winternitz one-time
//! signatures, u32-limb and big-integer arithmetic gadgets and a hash gadget. It does no I/O.

pub mod builder;
pub mod exec;
pub mod winternitz;
pub mod arith;
pub mod hash;
#[cfg(feature = "core-oracle")]
pub mod oracle;
