//! The peer API: signed messages between committee members over HTTP.
//!
//! Every message is an [`Envelope`] (JSON): the sender's x-only key, a kind, a 32-byte id, a
//! timestamp, the payload (hex) and a BIP-340 Schnorr signature over the tagged hash
//! [`signed_digest`] of all of it. The server ([`PeerApi::router`]) checks, in this order:
//! size (413), well-formedness (400, naming the field), sender in the committee (403),
//! signature (401), id reuse (a replay - same sender, id, kind and payload, even re-signed
//! with a later timestamp - returns the original answer with header `x-bitvm2-replay: true`;
//! the same id with other content is 409), clock skew (400,
//! field `timestamp`). Only then does the daemon's [`PeerHandler`] run, inside the store
//! transaction that also records the id and the answer, so a message is processed exactly
//! once and a rejected message changes nothing. Errors are JSON:
//! `{"error": "<reason>", "field": "<field or null>", "detail": "<text>"}`.
//!
//! An accepted message's answer ([`Reply`]) is signed by the receiver's node key over
//! [`reply_digest`], which binds it to the exact request it answers; [`PeerClient`] checks it
//! against the key it expected to reach, so an answer cannot be forged or moved to another
//! request on the way. Refusals (4xx/5xx) are not signed: they carry no protocol data.
//!
//! Also served: `GET /status` (JSON) and `GET /metrics` (Prometheus text).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bitcoin::hashes::{sha256, Hash, HashEngine};
use secp256k1::schnorr::Signature;
use secp256k1::{Keypair, Message, Secp256k1, XOnlyPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::{Config, Member, Role};
use crate::metrics::Metrics;
use crate::store::{now_secs, PeerMessageRecord, Store, StoreError, StoreTx};

/// The BIP-340 tag of the signed digest.
pub const MESSAGE_TAG: &str = "bitvm2/peer-message/v1";
/// The tag of the digest a receiver signs its answer with.
pub const REPLY_TAG: &str = "bitvm2/peer-reply/v1";
/// The route messages are posted to.
pub const MESSAGE_PATH: &str = "/v1/message";
/// Path prefix of content-addressed blobs: `GET /v1/blob/<sha256 hex>`.
pub const BLOB_PATH: &str = "/v1/blob";
/// Store namespace of blobs (key: SHA-256 hex of the content).
pub const NS_BLOBS: &str = "blobs";

/// The name of a blob: SHA-256 of its bytes, hex.
pub fn blob_id(bytes: &[u8]) -> String {
    hex::encode(sha256::Hash::hash(bytes).to_byte_array())
}

/// Stores `bytes` as a blob others can fetch by its id (idempotent); returns the id.
pub fn put_blob(t: &StoreTx<'_>, bytes: &[u8]) -> Result<String, StoreError> {
    let id = blob_id(bytes);
    if t.kv_get(NS_BLOBS, &id)?.is_none() {
        t.kv_put(NS_BLOBS, &id, bytes)?;
    }
    Ok(id)
}
/// Header set on the answer to a replayed message.
pub const REPLAY_HEADER: &str = "x-bitvm2-replay";
/// Longest accepted message kind.
pub const MAX_KIND_LEN: usize = 64;

/// A signed peer message as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The sender's x-only public key (hex).
    pub sender: String,
    /// What the payload is, e.g. `musig2/nonces` (`[a-z0-9_./-]`, 1..=64 chars).
    pub kind: String,
    /// 32-byte message id (hex): the receiver processes each (sender, id) once.
    pub id: String,
    /// Seconds since the Unix epoch at signing.
    pub timestamp: u64,
    /// The payload (hex).
    pub payload: String,
    /// BIP-340 signature (hex) over [`signed_digest`].
    pub signature: String,
}

/// A message whose signature and sender were checked.
#[derive(Debug, Clone)]
pub struct VerifiedMessage {
    /// The sender's key.
    pub sender: XOnlyPublicKey,
    /// The sender's committee entry.
    pub member: Member,
    /// The kind.
    pub kind: String,
    /// The id.
    pub id: [u8; 32],
    /// The timestamp.
    pub timestamp: u64,
    /// The payload.
    pub payload: Vec<u8>,
}

impl VerifiedMessage {
    /// A message from `from` (committee entry named "c" with `role`) as the peer API would hand
    /// it to a handler after its checks: for in-process callers and handler tests.
    pub fn from_key(from: &Keypair, role: Role, kind: &str, payload: Vec<u8>) -> Self {
        let x = from.x_only_public_key().0;
        VerifiedMessage {
            sender: x,
            member: Member { name: "c".into(), role, pubkey: x.to_string(), url: "http://127.0.0.1:1".into() },
            kind: kind.into(),
            id: [0; 32],
            timestamp: 0,
            payload,
        }
    }
}

/// The 32-byte digest a sender signs: SHA256(SHA256(tag) || SHA256(tag) || sender || len(kind)
/// || kind || id || timestamp || len(payload) || payload), lengths as 4-byte and the
/// timestamp as 8-byte big-endian.
pub fn signed_digest(sender: &XOnlyPublicKey, kind: &str, id: &[u8; 32], timestamp: u64, payload: &[u8]) -> [u8; 32] {
    let tag = sha256::Hash::hash(MESSAGE_TAG.as_bytes());
    let mut e = sha256::Hash::engine();
    e.input(tag.as_ref());
    e.input(tag.as_ref());
    e.input(&sender.serialize());
    e.input(&(kind.len() as u32).to_be_bytes());
    e.input(kind.as_bytes());
    e.input(id);
    e.input(&timestamp.to_be_bytes());
    e.input(&(payload.len() as u32).to_be_bytes());
    e.input(payload);
    sha256::Hash::from_engine(e).to_byte_array()
}

/// A deterministic message id for (kind, payload): resending the same content is then a
/// replay the receiver answers from its records.
pub fn content_id(kind: &str, payload: &[u8]) -> [u8; 32] {
    let mut e = sha256::Hash::engine();
    e.input(b"bitvm2/peer-message-id/v1");
    e.input(&(kind.len() as u32).to_be_bytes());
    e.input(kind.as_bytes());
    e.input(payload);
    sha256::Hash::from_engine(e).to_byte_array()
}

/// The 32-byte digest a receiver signs its answer with: SHA256(SHA256(tag) || SHA256(tag) ||
/// responder || request digest ([`signed_digest`] of the message answered) || len(payload) ||
/// payload), the length as 4-byte big-endian.
pub fn reply_digest(responder: &XOnlyPublicKey, request: &[u8; 32], payload: &[u8]) -> [u8; 32] {
    let tag = sha256::Hash::hash(REPLY_TAG.as_bytes());
    let mut e = sha256::Hash::engine();
    e.input(tag.as_ref());
    e.input(tag.as_ref());
    e.input(&responder.serialize());
    e.input(request);
    e.input(&(payload.len() as u32).to_be_bytes());
    e.input(payload);
    sha256::Hash::from_engine(e).to_byte_array()
}

impl Envelope {
    /// The digest this envelope's signature covers (and its answer is bound to), if its
    /// fields decode.
    pub fn digest(&self) -> Option<[u8; 32]> {
        let sender: XOnlyPublicKey = self.sender.parse().ok()?;
        let id: [u8; 32] = hex::decode(&self.id).ok()?.try_into().ok()?;
        let payload = hex::decode(&self.payload).ok()?;
        Some(signed_digest(&sender, &self.kind, &id, self.timestamp, &payload))
    }

    /// Builds and signs an envelope.
    pub fn sign(keypair: &Keypair, kind: &str, id: [u8; 32], timestamp: u64, payload: &[u8]) -> Self {
        let sender = keypair.x_only_public_key().0;
        let digest = signed_digest(&sender, kind, &id, timestamp, payload);
        let sig = Secp256k1::new().sign_schnorr(&Message::from_digest(digest), keypair);
        Envelope {
            sender: sender.to_string(),
            kind: kind.into(),
            id: hex::encode(id),
            timestamp,
            payload: hex::encode(payload),
            signature: hex::encode(sig.as_ref()),
        }
    }
}

/// Why a message was refused (the body of every error answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}{}: {detail}", field.as_ref().map(|f| format!(" (field `{f}`)")).unwrap_or_default())]
pub struct ErrorBody {
    /// Reason code: `too_large`, `malformed`, `unknown_sender`, `bad_signature`,
    /// `id_conflict`, `stale`, `unknown_kind`, `bad_payload`, `refused`, `internal`.
    pub error: String,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
    /// What was wrong.
    pub detail: String,
}

struct Reject {
    status: StatusCode,
    body: ErrorBody,
}

impl Reject {
    fn new(status: StatusCode, error: &str, field: Option<&str>, detail: impl Into<String>) -> Self {
        Reject { status, body: ErrorBody { error: error.into(), field: field.map(str::to_owned), detail: detail.into() } }
    }
    fn malformed(field: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", Some(field), detail)
    }
}

/// A daemon-specific refusal of a well-formed, authenticated message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The daemon does not handle this kind (400).
    #[error("unknown message kind {0:?}")]
    UnknownKind(String),
    /// The payload does not decode or is invalid (422).
    #[error("bad payload: {0}")]
    BadPayload(String),
    /// Valid, but refused in the daemon's current state (409).
    #[error("refused: {0}")]
    Refused(String),
    /// The store failed (500).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a daemon plugs into the peer API.
pub trait PeerHandler: Send + Sync + 'static {
    /// Handles one authenticated message inside the store transaction that will also record
    /// its id and the returned answer: write state changes through `tx`; an `Err` rolls
    /// everything back. Must not do I/O other than through `tx` (it runs once per message id).
    fn handle(&self, tx: &StoreTx<'_>, msg: &VerifiedMessage) -> Result<Vec<u8>, HandlerError>;

    /// Long, pure work for a message (rebuilding a graph whose disprove leaves take seconds to
    /// regenerate), done before the store transaction opens so the store is not locked
    /// meanwhile; `handle` then finds the result in the handler's cache. An error here is
    /// answered like one from `handle`, and nothing is recorded.
    fn prepare(&self, msg: &VerifiedMessage) -> Result<(), HandlerError> {
        let _ = msg;
        Ok(())
    }

    /// Daemon-specific status, included under `daemon` in `/status`.
    fn status(&self) -> Value {
        Value::Null
    }
}

/// Settings of the peer API server.
#[derive(Debug, Clone)]
pub struct PeerSettings {
    /// Accepted senders.
    pub committee: Vec<Member>,
    /// Largest accepted body in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted clock difference in seconds.
    pub max_clock_skew_secs: u64,
}

impl PeerSettings {
    /// From a validated configuration.
    pub fn from_config(cfg: &Config) -> Self {
        PeerSettings {
            committee: cfg.committee.clone(),
            max_body_bytes: cfg.peer.max_message_bytes,
            max_clock_skew_secs: cfg.peer.max_clock_skew_secs,
        }
    }
}

/// The peer API server state; [`PeerApi::router`] gives the axum router.
#[derive(Clone)]
pub struct PeerApi {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    handler: Arc<dyn PeerHandler>,
    committee: HashMap<XOnlyPublicKey, Member>,
    settings: PeerSettings,
    /// Signs answers; never logged or shown.
    keypair: Keypair,
    started: Instant,
}

impl PeerApi {
    /// A server over `store` answering with `handler` and signing its answers with `keypair`
    /// (this node's key). Committee keys that do not parse are skipped (validate the
    /// configuration first).
    pub fn new(settings: PeerSettings, keypair: Keypair, store: Arc<Store>, metrics: Arc<Metrics>, handler: Arc<dyn PeerHandler>) -> Self {
        let committee = settings
            .committee
            .iter()
            .filter_map(|m| m.public_key().ok().map(|pk| (pk, m.clone())))
            .collect();
        PeerApi { inner: Arc::new(Inner { store, metrics, handler, committee, settings, keypair, started: Instant::now() }) }
    }

    /// Routes: `POST /v1/message`, `GET /status`, `GET /metrics`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(MESSAGE_PATH, post(message_route))
            .route(&format!("{BLOB_PATH}/{{id}}"), get(blob_route))
            .route("/status", get(status_route))
            .route("/metrics", get(metrics_route))
            .with_state(self.clone())
    }

    /// The /status document.
    pub fn status(&self) -> Value {
        let i = &self.inner;
        let tip = i.store.with(|t| t.tip()).ok().flatten();
        json!({
            "pubkey": i.keypair.x_only_public_key().0.to_string(),
            "tip": tip.map(|t| json!({"height": t.height, "hash": t.hash.to_string()})),
            "schema_version": i.store.schema_version().ok(),
            "rows": i.store.row_counts().ok(),
            "committee": i.settings.committee.iter().map(|m| json!({"name": m.name, "role": m.role, "pubkey": m.pubkey})).collect::<Vec<_>>(),
            "uptime_secs": i.started.elapsed().as_secs(),
            "daemon": i.handler.status(),
        })
    }

    /// Checks and handles one message.
    fn process(&self, headers: &HeaderMap, body: Result<Bytes, String>) -> Result<Accepted, Reject> {
        let i = &self.inner;
        let max = i.settings.max_body_bytes;
        let too_large = |n: String| {
            Reject::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", None, format!("body of {n} bytes exceeds the limit of {max} bytes"))
        };
        if let Some(len) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok()) {
            if len > max {
                return Err(too_large(len.to_string()));
            }
        }
        let body = body.map_err(|_| too_large("more than that".into()))?;
        if body.len() > max {
            return Err(too_large(body.len().to_string()));
        }
        let msg = parse_envelope(&body)?;
        let (env, sender, id, payload, sig) = msg;
        let member = i.committee.get(&sender).cloned().ok_or_else(|| {
            Reject::new(StatusCode::FORBIDDEN, "unknown_sender", Some("sender"), format!("{sender} is not a committee member"))
        })?;
        let digest = signed_digest(&sender, &env.kind, &id, env.timestamp, &payload);
        Secp256k1::verification_only().verify_schnorr(&sig, &Message::from_digest(digest), &sender).map_err(|_| {
            Reject::new(
                StatusCode::UNAUTHORIZED,
                "bad_signature",
                Some("signature"),
                format!("signature does not verify for sender {} ({}) over this message", member.name, sender),
            )
        })?;
        let sender_s = sender.to_string();
        let id_s = hex::encode(id);
        // Replays are recognised by content (kind and payload), not by timestamp or signature:
        // a retry re-signed later is the same message.
        let content = content_id(&env.kind, &payload);
        let lookup = |t: &StoreTx<'_>| -> Result<Option<Vec<u8>>, Reject> {
            match t.peer_message(&sender_s, &id_s).map_err(internal)? {
                Some(rec) if rec.digest == content => Ok(Some(rec.response)),
                Some(rec) => Err(Reject::new(
                    StatusCode::CONFLICT,
                    "id_conflict",
                    Some("id"),
                    format!("id {id_s} was used before for a different {} message", rec.kind),
                )),
                None => Ok(None),
            }
        };
        // A replay: the original answer, nothing changes.
        if let Some(resp) = i.store.transaction(|t| lookup(t))? {
            return Ok(Accepted { answer: resp, kind: env.kind, id: id_s, replay: true, request: digest });
        }
        let now = now_secs().max(0) as u64;
        let skew = now.abs_diff(env.timestamp);
        if skew > i.settings.max_clock_skew_secs {
            return Err(Reject::new(
                StatusCode::BAD_REQUEST,
                "stale",
                Some("timestamp"),
                format!("timestamp {} is {skew} s away from our clock (limit {} s)", env.timestamp, i.settings.max_clock_skew_secs),
            ));
        }
        let verified = VerifiedMessage { sender, member, kind: env.kind.clone(), id, timestamp: env.timestamp, payload };
        let handler = i.handler.clone();
        handler.prepare(&verified).map_err(reject_of)?;
        i.store
            .transaction(|t| {
                // Checked again inside the write transaction: two identical requests racing.
                if let Some(resp) = lookup(t)? {
                    return Ok((resp, true));
                }
                let resp = handler.handle(t, &verified).map_err(reject_of)?;
                let rec = PeerMessageRecord { kind: verified.kind.clone(), digest: content, response: resp.clone() };
                t.record_peer_message(&sender_s, &id_s, &rec).map_err(internal)?;
                Ok((resp, false))
            })
            .map(|(answer, replay)| Accepted { answer, kind: env.kind, id: id_s.clone(), replay, request: digest })
    }
}

/// A message that passed every check, with the daemon's answer.
struct Accepted {
    /// The handler's answer (or the recorded one, for a replay).
    answer: Vec<u8>,
    kind: String,
    /// The message id, hex.
    id: String,
    /// Answered from the records.
    replay: bool,
    /// The digest the sender signed: the answer's signature is bound to it.
    request: [u8; 32],
}

/// The answer to a handler's error.
fn reject_of(e: HandlerError) -> Reject {
    match e {
        HandlerError::UnknownKind(k) => {
            Reject::new(StatusCode::BAD_REQUEST, "unknown_kind", Some("kind"), format!("this node does not handle {k:?}"))
        }
        HandlerError::BadPayload(d) => Reject::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_payload", Some("payload"), d),
        HandlerError::Refused(d) => Reject::new(StatusCode::CONFLICT, "refused", None, d),
        HandlerError::Store(e) => internal(e),
    }
}

impl From<StoreError> for Reject {
    fn from(e: StoreError) -> Self {
        internal(e)
    }
}

fn internal(e: StoreError) -> Reject {
    tracing::error!(error = %e, "store failure while handling a peer message");
    Reject::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", None, "store failure; retry later")
}

type Parsed = (Envelope, XOnlyPublicKey, [u8; 32], Vec<u8>, Signature);

fn parse_envelope(body: &[u8]) -> Result<Parsed, Reject> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| Reject::malformed("(body)", format!("not JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| Reject::malformed("(body)", "not a JSON object"))?;
    for k in obj.keys() {
        if !["sender", "kind", "id", "timestamp", "payload", "signature"].contains(&k.as_str()) {
            return Err(Reject::malformed(k, "unknown field"));
        }
    }
    let text = |f: &str| -> Result<String, Reject> {
        obj.get(f)
            .ok_or_else(|| Reject::malformed(f, "missing"))?
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Reject::malformed(f, "not a string"))
    };
    let hexbytes = |f: &str, len: Option<usize>| -> Result<Vec<u8>, Reject> {
        let s = text(f)?;
        let b = hex::decode(&s).map_err(|e| Reject::malformed(f, format!("not hex: {e}")))?;
        match len {
            Some(n) if b.len() != n => Err(Reject::malformed(f, format!("expected {n} bytes, got {}", b.len()))),
            _ => Ok(b),
        }
    };
    let sender_b = hexbytes("sender", Some(32))?;
    let sender =
        XOnlyPublicKey::from_slice(&sender_b).map_err(|e| Reject::malformed("sender", format!("not a public key: {e}")))?;
    let kind = text("kind")?;
    if kind.is_empty()
        || kind.len() > MAX_KIND_LEN
        || !kind.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_./-".contains(&c))
    {
        return Err(Reject::malformed("kind", format!("must be 1..={MAX_KIND_LEN} characters of [a-z0-9_./-]")));
    }
    let id: [u8; 32] = hexbytes("id", Some(32))?.try_into().expect("length checked");
    let timestamp = obj
        .get("timestamp")
        .ok_or_else(|| Reject::malformed("timestamp", "missing"))?
        .as_u64()
        .ok_or_else(|| Reject::malformed("timestamp", "not an unsigned integer"))?;
    let payload = hexbytes("payload", None)?;
    let sig_b = hexbytes("signature", Some(64))?;
    let sig = Signature::from_slice(&sig_b).map_err(|e| Reject::malformed("signature", e.to_string()))?;
    let env = Envelope { sender: text("sender")?, kind, id: text("id")?, timestamp, payload: text("payload")?, signature: text("signature")? };
    Ok((env, sender, id, payload, sig))
}

/// The answer to an accepted message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The message id (hex).
    pub id: String,
    /// The message kind.
    pub kind: String,
    /// The daemon's answer (hex).
    pub payload: String,
    /// BIP-340 signature (hex) of the receiver over [`reply_digest`].
    pub signature: String,
}

impl Reply {
    /// The answer `payload` to the request with digest `request`, signed with `keypair`.
    pub fn sign(keypair: &Keypair, request: &[u8; 32], id: String, kind: String, payload: &[u8]) -> Self {
        let digest = reply_digest(&keypair.x_only_public_key().0, request, payload);
        let sig = Secp256k1::new().sign_schnorr(&Message::from_digest(digest), keypair);
        Reply { id, kind, payload: hex::encode(payload), signature: hex::encode(sig.serialize()) }
    }

    /// The payload, once the signature is checked as `responder`'s answer to the request with
    /// digest `request`; the error names what is wrong.
    pub fn verify(&self, responder: &XOnlyPublicKey, request: &[u8; 32]) -> Result<Vec<u8>, String> {
        let payload = hex::decode(&self.payload).map_err(|e| format!("payload: {e}"))?;
        let sig = hex::decode(&self.signature)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or_else(|| format!("signature: not a 64-byte hex BIP-340 signature: {:?}", self.signature.chars().take(140).collect::<String>()))?;
        let digest = reply_digest(responder, request, &payload);
        Secp256k1::verification_only()
            .verify_schnorr(&sig, &Message::from_digest(digest), responder)
            .map_err(|_| format!("signature: the answer is not signed by {responder} for this request"))?;
        Ok(payload)
    }
}

async fn message_route(State(api): State<PeerApi>, req: Request) -> Response {
    let headers = req.headers().clone();
    let max = api.inner.settings.max_body_bytes;
    let body = axum::body::to_bytes(req.into_body(), max).await.map_err(|e| e.to_string());
    let api2 = api.clone();
    // The handler and SQLite are synchronous: keep them off the async workers.
    let outcome = tokio::task::spawn_blocking(move || api2.process(&headers, body)).await;
    let metrics = &api.inner.metrics;
    match outcome {
        Ok(Ok(Accepted { answer, kind, id, replay, request })) => {
            metrics.accept(&kind);
            if replay {
                metrics.accept("(replay)");
            }
            let reply = Reply::sign(&api.inner.keypair, &request, id, kind, &answer);
            let mut resp = Json(reply).into_response();
            if replay {
                resp.headers_mut().insert(REPLAY_HEADER, HeaderValue::from_static("true"));
            }
            resp
        }
        Ok(Err(rej)) => {
            metrics.reject(&rej.body.error);
            tracing::info!(status = %rej.status, error = %rej.body, "peer message rejected");
            (rej.status, Json(rej.body)).into_response()
        }
        Err(join) => {
            metrics.reject("internal");
            tracing::error!(error = %join, "peer message task failed");
            let body = ErrorBody { error: "internal".into(), field: None, detail: "handler failed".into() };
            (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }
    }
}

/// Serves a stored blob. Blobs are public data named by their hash (large protocol payloads such
/// as an operator's Winternitz public keys), so the receiver checks them by hashing, and no
/// signature is needed.
async fn blob_route(State(api): State<PeerApi>, axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    if id.len() != 64 || !id.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) {
        return (StatusCode::BAD_REQUEST, Json(ErrorBody { error: "malformed".into(), field: Some("id".into()), detail: "a blob id is 64 lowercase hex characters".into() })).into_response();
    }
    let store = api.inner.store.clone();
    let id2 = id.clone();
    match tokio::task::spawn_blocking(move || store.with(|t| t.kv_get(NS_BLOBS, &id2))).await {
        Ok(Ok(Some(b))) => ([(header::CONTENT_TYPE, "application/octet-stream")], b).into_response(),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, Json(ErrorBody { error: "not_found".into(), field: Some("id".into()), detail: format!("no blob {id}") })).into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, Json(ErrorBody { error: "internal".into(), field: None, detail: "store failure; retry later".into() })).into_response(),
    }
}

async fn status_route(State(api): State<PeerApi>) -> Response {
    let api2 = api.clone();
    match tokio::task::spawn_blocking(move || api2.status()).await {
        Ok(v) => Json(v).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn metrics_route(State(api): State<PeerApi>) -> Response {
    let text = api.inner.metrics.render(Some(&api.inner.store));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

/// What can go wrong sending a message.
#[derive(Debug, thiserror::Error)]
pub enum PeerClientError {
    /// The peer was not reached.
    #[error("peer {url}: transport: {detail}")]
    Transport { url: String, detail: String },
    /// The peer refused the message.
    #[error("peer {url} answered {status}: {body}")]
    Rejected { url: String, status: u16, body: ErrorBody },
    /// The peer's answer does not decode, or is not signed by the peer for this request.
    #[error("peer {url}: bad answer: {detail}")]
    BadReply { url: String, detail: String },
    /// The committee entry's key does not parse, so no answer could be checked; nothing sent.
    #[error("peer {name}: {detail}")]
    BadPeerKey { name: String, detail: String },
}

/// An accepted message's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerReply {
    /// The daemon's answer.
    pub payload: Vec<u8>,
    /// Whether the peer had processed this message before.
    pub replay: bool,
}

/// Signs and sends messages to peers.
#[derive(Clone)]
pub struct PeerClient {
    keypair: Keypair,
    http: reqwest::Client,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClient").field("sender", &self.keypair.x_only_public_key().0.to_string()).finish()
    }
}

impl PeerClient {
    /// A client signing with `keypair`; requests time out after `timeout`.
    pub fn new(keypair: Keypair, timeout: std::time::Duration) -> Self {
        let http = reqwest::Client::builder().timeout(timeout).build().expect("reqwest client builds");
        PeerClient { keypair, http }
    }

    /// Signs `payload` as message `id` of `kind` with the current time.
    pub fn envelope(&self, kind: &str, id: [u8; 32], payload: &[u8]) -> Envelope {
        Envelope::sign(&self.keypair, kind, id, now_secs().max(0) as u64, payload)
    }

    /// Signs and sends to the member `peer`; the id is [`content_id`] so that a retry is a
    /// replay. The answer must be signed by the member's key.
    pub async fn send(&self, peer: &Member, kind: &str, payload: &[u8]) -> Result<PeerReply, PeerClientError> {
        let key = peer.public_key().map_err(|detail| PeerClientError::BadPeerKey { name: peer.name.clone(), detail })?;
        self.send_to(&peer.url, &key, kind, payload).await
    }

    /// Signs and sends to the node with key `peer` at `base_url` (see [`PeerClient::send`]).
    pub async fn send_to(&self, base_url: &str, peer: &XOnlyPublicKey, kind: &str, payload: &[u8]) -> Result<PeerReply, PeerClientError> {
        let env = self.envelope(kind, content_id(kind, payload), payload);
        self.post(base_url, peer, &env).await
    }

    /// Sends a prepared envelope to the node with key `peer`; checks that the answer is that
    /// node's, for this envelope.
    pub async fn post(&self, base_url: &str, peer: &XOnlyPublicKey, env: &Envelope) -> Result<PeerReply, PeerClientError> {
        let body = serde_json::to_vec(env).expect("envelope serializes");
        let (reply, replay, url) = self.exchange(base_url, body).await?;
        let request = env.digest().ok_or_else(|| PeerClientError::BadReply { url: url.clone(), detail: "our own envelope does not decode".into() })?;
        let payload = reply.verify(peer, &request).map_err(|detail| PeerClientError::BadReply { url, detail })?;
        Ok(PeerReply { payload, replay })
    }

    /// Fetches blob `id` from the peer at `base_url` and checks it hashes to `id`.
    pub async fn fetch_blob(&self, base_url: &str, id: &str) -> Result<Vec<u8>, PeerClientError> {
        let url = format!("{}{BLOB_PATH}/{id}", base_url.trim_end_matches('/'));
        let resp = self.http.get(&url).send().await.map_err(|e| PeerClientError::Transport { url: url.clone(), detail: e.to_string() })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| PeerClientError::Transport { url: url.clone(), detail: e.to_string() })?;
        if !status.is_success() {
            let body: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorBody {
                error: "unknown".into(),
                field: None,
                detail: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            });
            return Err(PeerClientError::Rejected { url, status: status.as_u16(), body });
        }
        if blob_id(&bytes) != id {
            return Err(PeerClientError::BadReply { url, detail: format!("blob of {} bytes does not hash to {id}", bytes.len()) });
        }
        Ok(bytes.to_vec())
    }

    /// Sends raw bytes as the body and returns the answer **unchecked**: for tests of the
    /// server's refusals of malformed bodies, not for protocol messages.
    pub async fn post_unchecked(&self, base_url: &str, body: Vec<u8>) -> Result<Reply, PeerClientError> {
        self.exchange(base_url, body).await.map(|(reply, _, _)| reply)
    }

    /// Posts `body`; the decoded answer, whether it was a replay, and the URL.
    async fn exchange(&self, base_url: &str, body: Vec<u8>) -> Result<(Reply, bool, String), PeerClientError> {
        let url = format!("{}{MESSAGE_PATH}", base_url.trim_end_matches('/'));
        let resp = self
            .http
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| PeerClientError::Transport { url: url.clone(), detail: e.to_string() })?;
        let status = resp.status();
        let replay = resp.headers().get(REPLAY_HEADER).is_some_and(|v| v == "true");
        let bytes = resp.bytes().await.map_err(|e| PeerClientError::Transport { url: url.clone(), detail: e.to_string() })?;
        if !status.is_success() {
            let body: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorBody {
                error: "unknown".into(),
                field: None,
                detail: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            });
            return Err(PeerClientError::Rejected { url, status: status.as_u16(), body });
        }
        let reply: Reply = serde_json::from_slice(&bytes).map_err(|e| PeerClientError::BadReply { url: url.clone(), detail: e.to_string() })?;
        Ok((reply, replay, url))
    }
}
