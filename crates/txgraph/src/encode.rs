//! Canonical binary forms (for the wire and for ids) and JSON (for humans).
//!
//! Binary forms start with a 4-byte tag and a version byte. Integers are little-endian, counts
//! and byte strings use Bitcoin's CompactSize prefix, keys are 33-byte compressed encodings,
//! outpoints and outputs use Bitcoin's consensus encoding. A graph travels as its parameters
//! plus its id: the receiver rebuilds the transactions and checks the id.

use bitcoin::consensus::{Decodable, Encodable};
use bitcoin::p2p::Magic;
use bitcoin::hashes::Hash;
use bitcoin::taproot::TapLeafHash;
use bitcoin::{Amount, Network, OutPoint, ScriptBuf, TxOut, VarInt};
use musig2::secp::MaybeScalar;
use musig2::PubNonce;
use secp256k1::{schnorr, PublicKey};
use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::graph::{Graph, GraphId, TxKind};
use crate::musig::{NonceSet, PartialSigSet, SessionId};
use crate::params::{
    ClaimCommitment, DisproveScripts, FeePolicy, FundingInput, GraphParams, OperatorParams, Timelocks,
};

const PARAMS_TAG: &[u8; 4] = b"BV2P";
const GRAPH_TAG: &[u8; 4] = b"BV2G";
const NONCE_TAG: &[u8; 4] = b"BV2N";
const PSIG_TAG: &[u8; 4] = b"BV2S";
const VERSION: u8 = 2;

/// Upper bound on any count read from the wire (guards allocations on hostile input).
const MAX_COUNT: u64 = 1 << 20;

#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn header(tag: &[u8; 4]) -> W {
        let mut w = W(Vec::with_capacity(256));
        w.0.extend_from_slice(tag);
        w.0.push(VERSION);
        w
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn count(&mut self, n: usize) {
        VarInt(n as u64).consensus_encode(&mut self.0).expect("vec write");
    }
    fn var(&mut self, b: &[u8]) {
        self.count(b.len());
        self.bytes(b);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn amount(&mut self, a: Amount) {
        self.u64(a.to_sat());
    }
    fn key(&mut self, k: &PublicKey) {
        self.bytes(&k.serialize());
    }
    fn script(&mut self, s: &ScriptBuf) {
        self.var(s.as_bytes());
    }
    fn funding(&mut self, f: &FundingInput) {
        f.outpoint.consensus_encode(&mut self.0).expect("vec write");
        f.txout.consensus_encode(&mut self.0).expect("vec write");
    }
}

struct R<'a> {
    b: &'a [u8],
}

impl<'a> R<'a> {
    fn header(b: &'a [u8], tag: &[u8; 4]) -> Result<R<'a>, DecodeError> {
        let mut r = R { b };
        let t = r.take(5, "header")?;
        if &t[..4] != tag || t[4] != VERSION {
            return Err(DecodeError::BadHeader {
                expected: format!("{}v{VERSION}", String::from_utf8_lossy(tag)),
                found: format!("{}v{}", String::from_utf8_lossy(&t[..4]), t[4]),
            });
        }
        Ok(r)
    }
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.b.len() < n {
            return Err(DecodeError::Truncated(what));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn arr<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N, what)?.try_into().expect("length"))
    }
    fn count(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let mut cur = self.b;
        let v = VarInt::consensus_decode(&mut cur).map_err(|_| DecodeError::Truncated(what))?;
        self.b = cur;
        if v.0 > MAX_COUNT {
            return Err(DecodeError::Invalid { field: what, reason: format!("count {} too large", v.0) });
        }
        Ok(v.0 as usize)
    }
    fn var(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.count(what)?;
        self.take(n, what)
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.arr(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }
    fn amount(&mut self, what: &'static str) -> Result<Amount, DecodeError> {
        Ok(Amount::from_sat(self.u64(what)?))
    }
    fn key(&mut self, what: &'static str) -> Result<PublicKey, DecodeError> {
        let b: [u8; 33] = self.arr(what)?;
        PublicKey::from_slice(&b).map_err(|e| DecodeError::Invalid { field: what, reason: e.to_string() })
    }
    fn script(&mut self, what: &'static str) -> Result<ScriptBuf, DecodeError> {
        Ok(ScriptBuf::from_bytes(self.var(what)?.to_vec()))
    }
    fn funding(&mut self, what: &'static str) -> Result<FundingInput, DecodeError> {
        let mut cur = self.b;
        let outpoint = OutPoint::consensus_decode(&mut cur).map_err(|_| DecodeError::Truncated(what))?;
        let txout = TxOut::consensus_decode(&mut cur).map_err(|_| DecodeError::Truncated(what))?;
        self.b = cur;
        Ok(FundingInput { outpoint, txout })
    }
    fn end(self) -> Result<(), DecodeError> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing(self.b.len()))
        }
    }
}

fn write_params(w: &mut W, p: &GraphParams) {
    w.bytes(&p.network.magic().to_bytes());
    w.count(p.committee.len());
    for k in &p.committee {
        w.key(k);
    }
    w.key(&p.depositor);
    w.count(p.deposit_inputs.len());
    for f in &p.deposit_inputs {
        w.funding(f);
    }
    w.amount(p.deposit_amount);
    w.script(&p.depositor_change_script);
    w.script(&p.depositor_refund_script);
    let t = p.timelocks;
    for v in [t.deposit_refund, t.take1, t.assert_timeout, t.take2] {
        w.u16(v);
    }
    let f = p.fees;
    for a in [f.anchor_value, f.deposit_fee, f.refund_fee, f.connector_value] {
        w.amount(a);
    }
    w.count(p.operators.len());
    for o in &p.operators {
        w.key(&o.key);
        w.script(&o.payout_script);
        w.funding(&o.kickoff_funding);
        for a in [o.stake, o.challenge_amount, o.disprover_reward, o.watcher_reward] {
            w.amount(a);
        }
        w.script(&o.claim.script);
        w.count(o.disprove.assert_commitments.len());
        for row in &o.disprove.assert_commitments {
            w.count(row.len());
            for s in row {
                w.script(s);
            }
        }
        w.count(o.disprove.disprove_leaves.len());
        for h in &o.disprove.disprove_leaves {
            w.bytes(h.as_byte_array());
        }
    }
}

fn read_params(r: &mut R<'_>) -> Result<GraphParams, DecodeError> {
    let magic = Magic::from_bytes(r.arr("network")?);
    let network = Network::from_magic(magic)
        .ok_or_else(|| DecodeError::Invalid { field: "network", reason: format!("unknown magic {magic}") })?;
    let n = r.count("committee")?;
    let committee = (0..n).map(|_| r.key("committee key")).collect::<Result<Vec<_>, _>>()?;
    let depositor = r.key("depositor")?;
    let n = r.count("deposit inputs")?;
    let deposit_inputs = (0..n).map(|_| r.funding("deposit input")).collect::<Result<Vec<_>, _>>()?;
    let deposit_amount = r.amount("deposit amount")?;
    let depositor_change_script = r.script("change script")?;
    let depositor_refund_script = r.script("refund script")?;
    let timelocks = Timelocks {
        deposit_refund: r.u16("timelock")?,
        take1: r.u16("timelock")?,
        assert_timeout: r.u16("timelock")?,
        take2: r.u16("timelock")?,
    };
    let fees = FeePolicy {
        anchor_value: r.amount("fee policy")?,
        deposit_fee: r.amount("fee policy")?,
        refund_fee: r.amount("fee policy")?,
        connector_value: r.amount("fee policy")?,
    };
    let n = r.count("operators")?;
    let mut operators = Vec::with_capacity(n);
    for _ in 0..n {
        let key = r.key("operator key")?;
        let payout_script = r.script("payout script")?;
        let kickoff_funding = r.funding("kickoff funding")?;
        let stake = r.amount("stake")?;
        let challenge_amount = r.amount("challenge amount")?;
        let disprover_reward = r.amount("disprover reward")?;
        let watcher_reward = r.amount("watcher reward")?;
        let claim = ClaimCommitment { script: r.script("claim script")? };
        let k = r.count("assert txs")?;
        let mut assert_commitments = Vec::with_capacity(k);
        for _ in 0..k {
            let m = r.count("assert inputs")?;
            assert_commitments.push((0..m).map(|_| r.script("commitment script")).collect::<Result<Vec<_>, _>>()?);
        }
        let l = r.count("disprove leaves")?;
        let disprove_leaves = (0..l)
            .map(|_| r.arr::<32>("disprove leaf hash").map(TapLeafHash::from_byte_array))
            .collect::<Result<Vec<_>, _>>()?;
        operators.push(OperatorParams {
            key,
            payout_script,
            kickoff_funding,
            stake,
            challenge_amount,
            disprover_reward,
            watcher_reward,
            claim,
            disprove: DisproveScripts { assert_commitments, disprove_leaves },
        });
    }
    Ok(GraphParams {
        network,
        committee,
        depositor,
        deposit_inputs,
        deposit_amount,
        depositor_change_script,
        depositor_refund_script,
        timelocks,
        fees,
        operators,
    })
}

/// Canonical binary encoding of parameters (what the graph id hashes).
pub fn encode_params(p: &GraphParams) -> Vec<u8> {
    let mut w = W::header(PARAMS_TAG);
    write_params(&mut w, p);
    w.0
}

/// Decodes [`encode_params`].
pub fn decode_params(b: &[u8]) -> Result<GraphParams, DecodeError> {
    let mut r = R::header(b, PARAMS_TAG)?;
    let p = read_params(&mut r)?;
    r.end()?;
    Ok(p)
}

impl Graph {
    /// Compact wire form: id and canonical parameters.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = W::header(GRAPH_TAG);
        w.bytes(&self.id().0);
        write_params(&mut w, self.params());
        w.0
    }

    /// Decodes the wire form, rebuilds the graph and checks its id.
    pub fn from_bytes(b: &[u8]) -> Result<Graph, DecodeError> {
        let mut r = R::header(b, GRAPH_TAG)?;
        let claimed = GraphId(r.arr("graph id")?);
        let params = read_params(&mut r)?;
        r.end()?;
        let g = Graph::build(params)?;
        if g.id() != claimed {
            return Err(DecodeError::GraphIdMismatch { claimed: claimed.to_string(), actual: g.id().to_string() });
        }
        Ok(g)
    }

    /// JSON for humans: id, parameters and every transaction (txid and hex).
    pub fn to_json(&self) -> String {
        let doc = GraphJson {
            id: self.id(),
            params: self.params().clone(),
            transactions: self
                .transactions_labelled()
                .into_iter()
                .map(|(operator, kind, t)| TxJson {
                    operator,
                    kind,
                    txid: t.compute_txid().to_string(),
                    hex: bitcoin::consensus::encode::serialize_hex(t),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&doc).expect("graph serializes")
    }

    /// Parses [`Graph::to_json`], rebuilds from the parameters and checks id and transactions.
    pub fn from_json(s: &str) -> Result<Graph, DecodeError> {
        let doc: GraphJson =
            serde_json::from_str(s).map_err(|e| DecodeError::Invalid { field: "json", reason: e.to_string() })?;
        let g = Graph::build(doc.params)?;
        if g.id() != doc.id {
            return Err(DecodeError::GraphIdMismatch { claimed: doc.id.to_string(), actual: g.id().to_string() });
        }
        let mine = g.transactions_labelled();
        if mine.len() != doc.transactions.len() {
            return Err(DecodeError::Invalid { field: "transactions", reason: "count differs from the rebuilt graph".into() });
        }
        for ((o, k, t), j) in mine.iter().zip(&doc.transactions) {
            if *o != j.operator || *k != j.kind || bitcoin::consensus::encode::serialize_hex(*t) != j.hex {
                return Err(DecodeError::Invalid {
                    field: "transactions",
                    reason: format!("{k} of operator {o:?} differs from the rebuilt graph"),
                });
            }
        }
        Ok(g)
    }

    fn transactions_labelled(&self) -> Vec<(Option<u32>, TxKind, &bitcoin::Transaction)> {
        let mut v: Vec<(Option<u32>, TxKind, &bitcoin::Transaction)> =
            [&self.peg_in.deposit, &self.peg_in.refund, &self.peg_in.confirm].iter().map(|t| (None, t.kind, &t.tx)).collect();
        for po in &self.peg_outs {
            for t in po.transactions() {
                v.push((Some(po.operator), t.kind, &t.tx));
            }
        }
        v
    }
}

#[derive(Serialize, Deserialize)]
struct GraphJson {
    id: GraphId,
    params: GraphParams,
    transactions: Vec<TxJson>,
}

#[derive(Serialize, Deserialize)]
struct TxJson {
    operator: Option<u32>,
    kind: TxKind,
    txid: String,
    hex: String,
}

/// Wire form of a nonce set (66 bytes per nonce).
pub fn encode_nonce_set(s: &NonceSet) -> Vec<u8> {
    let mut w = W::header(NONCE_TAG);
    w.bytes(&s.session.0);
    w.key(&s.signer);
    w.count(s.nonces.len());
    for n in &s.nonces {
        w.bytes(&n.serialize());
    }
    w.bytes(s.auth.as_ref());
    w.0
}

/// Decodes [`encode_nonce_set`] (authentication is checked by the session, not here).
pub fn decode_nonce_set(b: &[u8]) -> Result<NonceSet, DecodeError> {
    let mut r = R::header(b, NONCE_TAG)?;
    let session = SessionId(r.arr("session")?);
    let signer = r.key("signer")?;
    let n = r.count("nonces")?;
    let mut nonces = Vec::with_capacity(n);
    for _ in 0..n {
        let bytes: [u8; 66] = r.arr("nonce")?;
        nonces.push(PubNonce::from_bytes(&bytes).map_err(|e| DecodeError::Invalid { field: "nonce", reason: e.to_string() })?);
    }
    let auth = schnorr::Signature::from_slice(r.take(64, "auth")?)
        .map_err(|e| DecodeError::Invalid { field: "auth", reason: e.to_string() })?;
    r.end()?;
    Ok(NonceSet { session, signer, nonces, auth })
}

/// Wire form of a partial-signature set (32 bytes per signature).
pub fn encode_partials(s: &PartialSigSet) -> Vec<u8> {
    let mut w = W::header(PSIG_TAG);
    w.bytes(&s.session.0);
    w.key(&s.signer);
    w.count(s.sigs.len());
    for p in &s.sigs {
        w.bytes(&p.serialize());
    }
    w.0
}

/// Decodes [`encode_partials`].
pub fn decode_partials(b: &[u8]) -> Result<PartialSigSet, DecodeError> {
    let mut r = R::header(b, PSIG_TAG)?;
    let session = SessionId(r.arr("session")?);
    let signer = r.key("signer")?;
    let n = r.count("partial signatures")?;
    let mut sigs = Vec::with_capacity(n);
    for _ in 0..n {
        let bytes: [u8; 32] = r.arr("partial signature")?;
        sigs.push(MaybeScalar::from_slice(&bytes).map_err(|e| DecodeError::Invalid { field: "partial signature", reason: e.to_string() })?);
    }
    r.end()?;
    Ok(PartialSigSet { session, signer, sigs })
}
