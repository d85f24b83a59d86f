//! Errors of graph building, encoding and signing.

use bitcoin::Amount;
use secp256k1::PublicKey;
use thiserror::Error;

use crate::graph::TaskId;

/// Why a graph could not be built from its parameters, or a transaction not be completed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum GraphError {
    /// No verifier keys.
    #[error("the verifier committee is empty")]
    EmptyCommittee,
    /// The same key twice (committee or operators).
    #[error("key {0} appears twice")]
    DuplicateKey(String),
    /// A timelock that cannot work.
    #[error("timelock {name}: {reason}")]
    BadTimelock {
        /// Which timelock.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An output would be below the dust limit.
    #[error("{what}: {value} is below the dust limit {dust}")]
    BelowDust {
        /// Which output.
        what: String,
        /// Its value.
        value: Amount,
        /// The limit.
        dust: Amount,
    },
    /// Amounts that do not add up (negative fee, overflow, reward above stake).
    #[error("amounts: {0}")]
    Amount(String),
    /// The depositor brings no coin.
    #[error("the deposit has no input")]
    NoDepositInputs,
    /// No operator, so no peg-out graph.
    #[error("the deposit has no operator")]
    NoOperators,
    /// A coin whose spending transaction id would depend on its signature.
    #[error("{0} is not a witness program (its spender's txid would be malleable)")]
    NonSegwitInput(String),
    /// The Kickoff funding coin does not pay the claim script the exact amount.
    #[error("operator {operator}: kickoff funding {reason}")]
    BadKickoffFunding {
        /// Operator index.
        operator: usize,
        /// What is wrong.
        reason: String,
    },
    /// Bad disprove program data.
    #[error("disprove scripts: {0}")]
    BadDisproveScripts(&'static str),
    /// Index out of range (operator, assert, leaf, input).
    #[error("{what} {index} out of range (have {len})")]
    OutOfRange {
        /// What was indexed.
        what: &'static str,
        /// The index asked for.
        index: usize,
        /// How many there are.
        len: usize,
    },
    /// The committee keys do not aggregate.
    #[error("committee: {0}")]
    Committee(String),
    /// No such transaction in the graph.
    #[error("no transaction {0} in this graph")]
    NoSuchTx(String),
    /// A disprove leaf script that does not hash to the graph's leaf.
    #[error("operator {operator}: the script given for disprove leaf {leaf} is not that leaf (its hash differs)")]
    WrongLeafScript {
        /// Operator index.
        operator: usize,
        /// Disprove leaf index.
        leaf: usize,
    },
    /// A presigned transaction would exceed its relay limit even before the program's witness
    /// (40,000 WU for TRUC, 400,000 WU for the others).
    #[error("{tx} weighs at least {weight} WU, above its limit of {limit} WU (pack the asserts smaller)")]
    TooHeavy {
        /// Which transaction.
        tx: String,
        /// Its lower-bound weight.
        weight: usize,
        /// The limit it exceeds.
        limit: usize,
    },
    /// Taproot tree construction failed.
    #[error("taproot: {0}")]
    Taproot(String),
    /// Sighash computation failed.
    #[error("sighash: {0}")]
    Sighash(String),
    /// A signature set that does not match the graph's task list.
    #[error("signatures: {0}")]
    Signatures(String),
}

/// Why decoding a binary form failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Input ended early.
    #[error("unexpected end of input while reading {0}")]
    Truncated(&'static str),
    /// Bytes left after the value.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// Wrong magic or version byte.
    #[error("bad header: expected {expected}, found {found}")]
    BadHeader {
        /// Expected tag.
        expected: String,
        /// Found tag.
        found: String,
    },
    /// A field that does not parse.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The decoded parameters do not build a graph.
    #[error("decoded parameters do not build a graph: {0}")]
    Graph(#[from] GraphError),
    /// The carried graph id does not match the rebuilt graph.
    #[error("graph id mismatch: message says {claimed}, parameters give {actual}")]
    GraphIdMismatch {
        /// Id in the message.
        claimed: String,
        /// Id of the rebuilt graph.
        actual: String,
    },
}

/// Why a MuSig2 signing step failed. Every fault a peer can cause names the peer.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SignError {
    /// Key aggregation or tweaking failed.
    #[error("key aggregation: {0}")]
    KeyAgg(String),
    /// A key that is not in the committee.
    #[error("signer {0} is not in the committee")]
    UnknownSigner(PublicKey),
    /// A message for another session (a replay from an earlier or another session).
    #[error("message from {signer} is for session {got}, this session is {expected}")]
    WrongSession {
        /// Sender.
        signer: PublicKey,
        /// Session id in the message.
        got: String,
        /// This session.
        expected: String,
    },
    /// A nonce round for another session.
    #[error("nonce round is for session {got}, this session is {expected}")]
    WrongRound {
        /// Session id of the round.
        got: String,
        /// This session.
        expected: String,
    },
    /// A message that does not decode.
    #[error("undecodable message: {0}")]
    Decode(String),
    /// A second contribution from the same signer in one round.
    #[error("signer {0} sent twice in this round")]
    Duplicate(PublicKey),
    /// The nonce set's authentication signature does not verify (tampered, reordered or forged).
    #[error("nonce set of {0} fails its authentication (tampered, reordered or forged)")]
    BadNonceSetAuth(PublicKey),
    /// Wrong number of entries.
    #[error("{signer} sent {got} entries, the session has {expected} tasks")]
    WrongLength {
        /// Sender.
        signer: PublicKey,
        /// Entries sent.
        got: usize,
        /// Tasks.
        expected: usize,
    },
    /// Our own nonces were altered or reordered in the aggregated round.
    #[error("our own public nonce for task {0} was altered or reordered in the nonce round")]
    OwnNonceAltered(TaskId),
    /// The round is missing contributions.
    #[error("round incomplete: missing {0:?}")]
    Incomplete(Vec<PublicKey>),
    /// A partial signature that does not verify, attributed to its signer.
    #[error("bad partial signature from {signer} for task {task}")]
    BadPartialSignature {
        /// The culprit.
        signer: PublicKey,
        /// Which task.
        task: TaskId,
    },
    /// Secret nonces of this session were already used (or never made).
    #[error("secret nonces already used: a session signs at most once")]
    NonceReuse,
    /// musig2 refused to sign.
    #[error("signing task {task}: {reason}")]
    Signing {
        /// Which task.
        task: TaskId,
        /// Why.
        reason: String,
    },
    /// The aggregated signature does not verify against the sighash.
    #[error("aggregated signature for task {0} does not verify")]
    BadAggregate(TaskId),
}
