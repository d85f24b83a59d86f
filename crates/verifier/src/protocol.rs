//! The protocol messages carried in the node's signed envelopes (`docs/protocol.md`).
//! Payloads are JSON (the graph itself travels in its canonical binary form, hex-encoded).

use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::{schnorr, Keypair, Message, PublicKey, Secp256k1, XOnlyPublicKey};
use bitcoin::{Amount, OutPoint, ScriptBuf};
use bitvm2_txgraph::graph::tagged_hash;
use bitvm2_txgraph::{
    Committee, FeePolicy, FundingInput, Graph, GraphId, NonceRound, OperatorParams, PartialSigSet, Session, Signatures,
    TaskId, Timelocks,
};
use serde::{Deserialize, Serialize};

/// Message kinds.
pub mod kind {
    /// Coordinator -> operator: a deposit request; the operator answers its [`super::OperatorOffer`].
    pub const OFFER: &str = "setup/offer";
    /// Coordinator -> everyone: the assembled graph; verifiers answer nonces, operators their Challenge signature.
    pub const GRAPH: &str = "setup/graph";
    /// Coordinator -> verifiers: peg-out nonce rounds; answer: partial signatures.
    pub const SIGN: &str = "setup/sign";
    /// Coordinator -> everyone: the aggregated peg-out signatures, checked and stored.
    pub const PRESIGNED: &str = "setup/presigned";
    /// Coordinator -> verifiers: the PegInConfirm round, signed only once the graph is complete.
    pub const SIGN_PEGIN: &str = "setup/sign-pegin";
    /// Side system -> everyone: a signed withdrawal request.
    pub const WITHDRAW: &str = "withdraw/request";
    /// Operator -> verifiers: the payout that fronts a withdrawal.
    pub const PAID: &str = "withdraw/paid";
    /// Admin -> operator (demo fault injection): claim without paying, optionally assert wrong values.
    pub const CHEAT: &str = "ctl/cheat";
    /// Admin -> operator (test fault injection): pay a withdrawal as asked, but commit another
    /// amount in its Kickoff ([`super::MisclaimMsg`]).
    pub const MISCLAIM: &str = "ctl/misclaim";
    /// Admin -> verifier: challenge a kickoff regardless of the checks (griefing challenger in demos).
    pub const FORCE_CHALLENGE: &str = "ctl/challenge";
}

/// Errors decoding or checking a protocol message.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// JSON payload does not decode.
    #[error("payload of {kind}: {detail}")]
    Decode { kind: String, detail: String },
    /// The withdrawal request's signature is not the side system's.
    #[error("withdrawal request {0}: signature does not verify against the side-system key")]
    BadWithdrawalSignature(String),
}

/// Decodes a JSON payload.
pub fn decode<T: for<'de> Deserialize<'de>>(kind: &str, payload: &[u8]) -> Result<T, ProtocolError> {
    serde_json::from_slice(payload).map_err(|e| ProtocolError::Decode { kind: kind.into(), detail: e.to_string() })
}

/// Encodes a JSON payload.
pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("protocol types serialize")
}

/// What the depositor asks for (everything of [`bitvm2_txgraph::GraphParams`] but the operators).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DepositRequest {
    /// The depositor's key.
    pub depositor: PublicKey,
    /// Coins the Deposit spends.
    pub inputs: Vec<FundingInput>,
    /// Amount locked.
    pub amount: Amount,
    /// Depositor's change script.
    pub change_script: ScriptBuf,
    /// Depositor's refund script.
    pub refund_script: ScriptBuf,
    /// The verifier committee (n-of-n).
    pub committee: Vec<PublicKey>,
    /// Timelocks.
    pub timelocks: Timelocks,
    /// Fees.
    pub fees: FeePolicy,
}

impl DepositRequest {
    /// Its id: tagged hash of the JSON encoding.
    pub fn id(&self) -> [u8; 32] {
        tagged_hash("bitvm2/daemons/deposit-request", &[&encode(self)])
    }

    /// The graph parameters with these operators.
    pub fn params(&self, operators: Vec<OperatorParams>) -> bitvm2_txgraph::GraphParams {
        bitvm2_txgraph::GraphParams {
            network: bitcoin::Network::Regtest,
            committee: self.committee.clone(),
            depositor: self.depositor,
            deposit_inputs: self.inputs.clone(),
            deposit_amount: self.amount,
            depositor_change_script: self.change_script.clone(),
            depositor_refund_script: self.refund_script.clone(),
            timelocks: self.timelocks,
            fees: self.fees,
            operators,
        }
    }
}

/// An operator's answer to [`kind::OFFER`]: its part of the parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperatorOffer {
    /// Its parameters (claim coin already broadcast), without the program's scripts.
    pub params: OperatorParams,
    /// Its program keys (every party regenerates the scripts from them).
    pub program: crate::real::ProgramKeys,
}

/// [`kind::GRAPH`]: the graph in compact form.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GraphMsg {
    /// The id the coordinator computed (every receiver recomputes it).
    pub graph_id: GraphId,
    /// `encode_params` of the parameters without the program scripts, hex.
    pub params: String,
    /// Each operator's program keys, operator order.
    pub programs: Vec<crate::real::ProgramKeys>,
}

impl GraphMsg {
    /// Rebuilds (or finds in the cache) the graph and checks its id.
    pub fn build(&self) -> Result<std::sync::Arc<crate::real::Built>, String> {
        let b = hex::decode(&self.params).map_err(|e| format!("params hex: {e}"))?;
        crate::real::build(&b, &self.programs, Some(self.graph_id))
    }
}

/// Answer to [`kind::GRAPH`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum GraphReply {
    /// A verifier's authenticated nonce sets, one per session ([`sessions`] order), binary (`BV2N`) in hex.
    Nonces(Vec<String>),
    /// An operator's Challenge signature (SINGLE|ACP) for its own graph.
    ChallengeSig { operator: u32, sig: schnorr::Signature },
}

/// [`kind::SIGN`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignMsg {
    /// The graph.
    pub graph_id: GraphId,
    /// Each operator's Challenge signature (checked before presigning its graph).
    pub challenge_sigs: Vec<schnorr::Signature>,
    /// One round per peg-out session (operator order).
    pub rounds: Vec<NonceRound>,
}

/// [`kind::PRESIGNED`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PresignedMsg {
    /// The graph.
    pub graph_id: GraphId,
    /// Challenge signatures per operator.
    pub challenge_sigs: Vec<schnorr::Signature>,
    /// Aggregated committee signatures per operator.
    pub sigs: Vec<Vec<(TaskId, schnorr::Signature)>>,
}

/// [`kind::SIGN_PEGIN`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignPegInMsg {
    /// The graph.
    pub graph_id: GraphId,
    /// The PegInConfirm round.
    pub round: NonceRound,
}

/// Answer to [`kind::SIGN`] / [`kind::SIGN_PEGIN`]: partial signature sets.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartialsReply(pub Vec<PartialSigSet>);

/// A withdrawal as the side system asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawalRequest {
    /// The deposit (graph) it is paid from.
    pub graph_id: GraphId,
    /// Assigned operator (index in the graph).
    pub operator: u32,
    /// Where the user gets paid.
    pub destination: ScriptBuf,
    /// How much.
    pub amount: Amount,
    /// Distinguishes requests.
    pub nonce: u64,
}

impl WithdrawalRequest {
    /// Its id.
    pub fn id(&self) -> [u8; 32] {
        tagged_hash("bitvm2/daemons/withdrawal", &[&encode(self)])
    }

    /// Signs it with the side system's key.
    pub fn sign(self, side_system: &Keypair) -> SignedWithdrawal {
        let sig = Secp256k1::new().sign_schnorr_no_aux_rand(&Message::from_digest(self.id()), side_system);
        SignedWithdrawal { request: self, sig }
    }
}

/// [`kind::WITHDRAW`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedWithdrawal {
    /// The request.
    pub request: WithdrawalRequest,
    /// BIP-340 signature of the side system over `request.id()`.
    pub sig: schnorr::Signature,
}

impl SignedWithdrawal {
    /// Checks the side system's signature.
    pub fn verify(&self, side_system: &XOnlyPublicKey) -> Result<(), ProtocolError> {
        Secp256k1::verification_only()
            .verify_schnorr(&self.sig, &Message::from_digest(self.request.id()), side_system)
            .map_err(|_| ProtocolError::BadWithdrawalSignature(hex::encode(self.request.id())))
    }
}

/// [`kind::PAID`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaidMsg {
    /// The withdrawal request id (hex).
    pub request_id: String,
    /// The payout output.
    pub payout: OutPoint,
}

/// [`kind::CHEAT`] (fault injection for demos and tests; an honest deployment never sends it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheatMsg {
    /// The graph.
    pub graph_id: GraphId,
    /// Kick off without any payout.
    pub kickoff_without_payout: bool,
    /// Commit a wrong final value in the asserts.
    pub wrong_asserts: bool,
}

/// [`kind::MISCLAIM`] (fault injection for tests; an honest deployment never sends it): the
/// operator pays withdrawal `request_id` exactly as the request asks, but its Kickoff commits the
/// request's amount plus `extra_sat`, a claim no request backs. Accepted only from the
/// operator's own admin key, and only before the withdrawal's Kickoff is signed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MisclaimMsg {
    /// The withdrawal request id (hex, as `SignedWithdrawal` ids are reported).
    pub request_id: String,
    /// Satoshis the Kickoff's amount exceeds the request's by (non-zero).
    pub extra_sat: u64,
}

/// [`kind::FORCE_CHALLENGE`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForceChallengeMsg {
    /// The graph.
    pub graph_id: GraphId,
    /// Operator index.
    pub operator: u32,
}

/// The MuSig2 sessions of a graph: one per operator's peg-out graph, then PegInConfirm. The
/// salts are derived from the graph id, so every party computes the same sessions.
pub fn sessions(g: &Graph) -> Result<Vec<Session>, String> {
    let m = g.params().operators.len();
    let salt = |i: usize| tagged_hash("bitvm2/daemons/session-salt", &[&g.id().0, &(i as u64).to_le_bytes()]);
    let mut out = Vec::new();
    for i in 0..m {
        let tasks = g.peg_out_committee_tasks(i).map_err(|e| e.to_string())?;
        out.push(Session::new(g.committee().clone(), g.id(), tasks, salt(i)).map_err(|e| e.to_string())?);
    }
    let tasks = g.peg_in_committee_tasks().map_err(|e| e.to_string())?;
    out.push(Session::new(g.committee().clone(), g.id(), tasks, salt(m)).map_err(|e| e.to_string())?);
    Ok(out)
}

/// Signatures as a list (JSON maps need string keys).
pub fn sigs_to_list(s: &Signatures) -> Vec<(TaskId, schnorr::Signature)> {
    s.iter().map(|(k, v)| (*k, *v)).collect()
}

/// The list back to a map.
pub fn sigs_from_list(l: &[(TaskId, schnorr::Signature)]) -> Signatures {
    l.iter().cloned().collect()
}

/// Hash used as the "message" a nonce signed (the whole round).
pub fn round_digest(r: &NonceRound) -> [u8; 32] {
    sha256::Hash::hash(&encode(r)).to_byte_array()
}

/// Committee from the request (sorted).
pub fn committee_of(req: &DepositRequest) -> Result<Committee, bitvm2_txgraph::SignError> {
    Committee::new(req.committee.clone())
}
