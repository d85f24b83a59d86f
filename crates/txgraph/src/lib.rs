//! The BitVM2 transaction graph: parameters in, transactions, sighashes and MuSig2 signing
//! sessions out.
//!
//! This crate owns the shape of a deposit's graph (peg-in: Deposit, DepositRefund,
//! PegInConfirm; per operator: Kickoff, Challenge, Take1, AssertInitial, the asserts,
//! AssertFinal, Take2, one Disprove per leaf, KickoffTimeout, AssertTimeout), their connector
//! scripts, canonical encodings and graph ids, and the committee's MuSig2 presigning sessions.
//! The disprove program is taken as plain data ([`DisproveScripts`], [`ClaimCommitment`]): the
//! graph does not know which program it is. Everything here is pure: no I/O, no clock;
//! randomness comes from the caller. `docs/graph.md` documents the graph.

#![warn(missing_docs)]

pub mod encode;
pub mod error;
pub mod graph;
pub mod musig;
pub mod params;
pub mod program;
pub mod scripts;
pub mod toy;
pub mod wallet;

pub use error::{DecodeError, GraphError, SignError};
pub use graph::{
    claim_funding_script, kickoff_funding_amount, Graph, GraphId, GraphTx, PegIn, PegOut, Signatures, Signer,
    SigningTask, TaskId, TxKind,
};
pub use musig::{Committee, Coordinator, NonceRound, NonceSet, PartialSigSet, Session, SessionId, SignerState};
pub use params::{ClaimCommitment, DisproveScripts, FeePolicy, FundingInput, GraphParams, OperatorParams, Timelocks};

#[cfg(test)]
mod tests;
