//! The statement circuit of the BitVM2 bridge: what the operator's Groth16 proof shows when it is
//! challenged. It owns the claim and its public inputs (11 BN254 scalars that are the claim
//! fields themselves, packed 16 bytes at most per scalar, so a Bitcoin script can feed the
//! Winternitz-committed Kickoff fields straight into the Groth16 verifier), the R1CS circuit (arkworks
//! 0.6: payout transaction hashes to the claimed txid and pays the destination the amount, is
//! included by Merkle path in a block that extends the checkpoint through headers with valid
//! proof-of-work, at least k confirmations deep), native witness generation from real blocks,
//! and Groth16 key setup (files named by a content hash of the circuit parameters), proving and
//! verification. The `program` module turns the verifying key into the disprove program of the
//! Groth16 verifier for one deposit and binds its committed public inputs to the Kickoff's
//! claim. See docs/statement.md.

pub mod circuit;
pub mod claim;
pub mod fixture;
pub mod gadgets;
pub mod keys;
pub mod params;
pub mod program;
pub mod witness;

pub use circuit::StatementCircuit;
pub use claim::{Claim, NUM_PUBLIC_INPUTS};
pub use keys::{prove, setup, verify, verify_claim, KeyFiles, StatementKeys};
pub use params::StatementParams;
pub use witness::StatementWitness;

/// Everything that can go wrong when building, proving or verifying a statement.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    /// The circuit parameters are inconsistent.
    #[error("bad circuit parameters: {0}")]
    BadParams(String),
    /// The destination script is empty or longer than 34 bytes.
    #[error("destination script of {0} bytes (must be 1..=34)")]
    DestinationLength(usize),
    /// A public-input vector of the wrong length.
    #[error("{got} public inputs given, the statement has {want}")]
    PublicInputCount { got: usize, want: usize },
    /// Public input `x{index}` is not below 2^(8 * bytes), so it packs no claim field.
    #[error("public input x{index} is not below 2^(8*{bytes})")]
    PublicInputRange { index: usize, bytes: usize },
    /// A destination padding byte (after the script's length) is not zero.
    #[error("destination padding after the scriptPubKey is not zero")]
    DestinationPadding,
    /// The payout transaction is shorter than 65 bytes or does not fit the circuit.
    #[error("payout transaction of {len} bytes (circuit takes 65..={max})")]
    TxSize { len: usize, max: usize },
    /// The payout transaction does not hash to the claimed txid.
    #[error("payout transaction does not hash to the claimed payout txid")]
    TxidMismatch,
    /// The payout transaction has no inputs or more than the circuit takes.
    #[error("payout transaction has {n} inputs (circuit takes 1..={max})")]
    InputCount { n: usize, max: usize },
    /// An input of the payout transaction has a non-empty scriptSig.
    #[error("payout transaction has an input with a non-empty scriptSig")]
    ScriptSigNotEmpty,
    /// The first output does not pay the claim.
    #[error("first output of the payout does not match the claim: {0}")]
    OutputMismatch(&'static str),
    /// The transaction is not in the block (or its Merkle path does not reach the root).
    #[error("payout transaction is not in the payout block")]
    TxNotInBlock,
    /// The block has more transactions than the circuit's Merkle depth allows.
    #[error("Merkle path of depth {depth} (circuit takes at most {max})")]
    MerkleTooDeep { depth: usize, max: usize },
    /// The payout block is not among the given headers.
    #[error("payout block is not in the header chain")]
    BlockNotInChain,
    /// Wrong number of headers.
    #[error("{got} headers given, circuit takes exactly {want}")]
    ChainLength { got: usize, want: usize },
    /// Header `i` does not extend the previous one (or the checkpoint).
    #[error("header {0} does not extend the previous header (or the checkpoint)")]
    ChainBroken(usize),
    /// Header `i`'s hash is above its target, or its target above the proof-of-work limit.
    #[error("header {0} has insufficient proof-of-work")]
    BadWork(usize),
    /// A compact target the circuit cannot decode (exponent outside 3..=32 or negative).
    #[error("unsupported compact target {0:#010x}")]
    BadCompactTarget(u32),
    /// The payout block is not deep enough.
    #[error("payout block has {got} confirmations, need {want}")]
    TooFewConfirmations { got: usize, want: usize },
    /// Constraint synthesis or the proof system failed.
    #[error("proof system: {0}")]
    Synthesis(#[from] ark_relations::gr1cs::SynthesisError),
    /// A key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    /// A key file could not be (de)serialized.
    #[error("key file {path}: {detail}")]
    KeyEncoding { path: std::path::PathBuf, detail: String },
}
