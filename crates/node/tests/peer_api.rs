//! The peer API over real HTTP on loopback: accepted, replayed, forged, malformed, oversized,
//! unknown-sender, conflicting, stale and handler-refused messages, each with its status and
//! error body, and the store unchanged (row counts) by every rejection; answers signed by the
//! receiver and refused by the client when forged, re-signed by another key or moved to
//! another request.

use std::sync::Arc;

use bitvm2_node::config::{Member, Role};
use bitvm2_node::peer::{content_id, Envelope, ErrorBody, HandlerError, PeerClientError, Reply, REPLAY_HEADER};
use secp256k1::XOnlyPublicKey;
use bitvm2_node::{Metrics, NodeKeys, PeerApi, PeerClient, PeerHandler, PeerSettings, Store, StoreTx, VerifiedMessage};

const LIMIT: usize = 4096;

/// Stores each `note` payload under its message id and answers `ok:<len>`; refuses `bad`.
struct Notes;

impl PeerHandler for Notes {
    fn handle(&self, tx: &StoreTx<'_>, msg: &VerifiedMessage) -> Result<Vec<u8>, HandlerError> {
        match msg.kind.as_str() {
            "note" => {
                tx.kv_put("notes", &hex::encode(msg.id), &msg.payload)?;
                Ok(format!("ok:{}:{}", msg.member.name, msg.payload.len()).into_bytes())
            }
            "bad" => {
                // Writes, then fails: the write must be rolled back.
                tx.kv_put("notes", "partial", b"x")?;
                Err(HandlerError::BadPayload("payload is not a valid note".into()))
            }
            other => Err(HandlerError::UnknownKind(other.into())),
        }
    }
    fn status(&self) -> serde_json::Value {
        serde_json::json!({"daemon": "notes"})
    }
}

struct Fixture {
    url: String,
    server: XOnlyPublicKey,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    alice: NodeKeys,
    client: PeerClient,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

fn member(name: &str, role: Role, k: &NodeKeys) -> Member {
    Member { name: name.into(), role, pubkey: k.public_key().to_string(), url: "http://127.0.0.1:1".into() }
}

async fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("node.sqlite")).unwrap());
    let metrics = Arc::new(Metrics::default());
    let server_keys = NodeKeys::generate();
    let alice = NodeKeys::generate();
    let settings = PeerSettings {
        committee: vec![member("op0", Role::Operator, &alice), member("v0", Role::Verifier, &server_keys)],
        max_body_bytes: LIMIT,
        max_clock_skew_secs: 600,
    };
    let api = PeerApi::new(settings, *server_keys.keypair(), store.clone(), metrics.clone(), Arc::new(Notes));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bitvm2_node::peer::serve(listener, api.router(), async move {
        let _ = rx.await;
    }));
    let client = PeerClient::new(*alice.keypair(), std::time::Duration::from_secs(10));
    Fixture { url, server: server_keys.public_key(), store, metrics, alice, client, _dir: dir, _shutdown: tx }
}

fn rejected<T: std::fmt::Debug>(r: Result<T, PeerClientError>) -> (u16, ErrorBody) {
    match r {
        Err(PeerClientError::Rejected { status, body, .. }) => (status, body),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_then_replayed_once_processed() {
    let f = start().await;
    let before = f.store.row_counts().unwrap();
    let reply = f.client.send_to(&f.url, &f.server, "note", b"hello").await.unwrap();
    assert_eq!(reply.payload, b"ok:op0:5");
    assert!(!reply.replay);
    let after = f.store.row_counts().unwrap();
    assert_eq!(after["peer_messages"], before["peer_messages"] + 1);
    assert_eq!(after["kv"], before["kv"] + 1);
    let id = hex::encode(content_id("note", b"hello"));
    assert_eq!(f.store.with(|t| t.kv_get("notes", &id)).unwrap(), Some(b"hello".to_vec()));

    // The same message again (also re-signed with a new timestamp): original answer, nothing changes.
    let again = f.client.send_to(&f.url, &f.server, "note", b"hello").await.unwrap();
    assert_eq!(again.payload, reply.payload);
    assert!(again.replay);
    let env = f.client.envelope("note", content_id("note", b"hello"), b"hello");
    let raw = reqwest::Client::new().post(format!("{}/v1/message", f.url)).json(&env).send().await.unwrap();
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.headers().get(REPLAY_HEADER).unwrap(), "true");
    assert_eq!(f.store.row_counts().unwrap(), after, "a replay changes nothing");
    assert_eq!(f.metrics.accepted("note"), 3);
    assert_eq!(f.metrics.accepted("(replay)"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_message_is_rejected_with_its_reason_and_changes_nothing() {
    let f = start().await;
    f.client.send_to(&f.url, &f.server, "note", b"first").await.unwrap();
    let base = f.store.row_counts().unwrap();
    let good = f.client.envelope("note", [7u8; 32], b"payload");
    let post = |body: Vec<u8>| f.client.post_unchecked(&f.url, body);
    let json = |e: &Envelope| serde_json::to_vec(e).unwrap();

    // Forged: payload changed after signing.
    let mut forged = good.clone();
    forged.payload = hex::encode(b"PAYLOAD");
    let (s, b) = rejected(post(json(&forged)).await);
    assert_eq!((s, b.error.as_str(), b.field.as_deref()), (401, "bad_signature", Some("signature")));
    assert!(b.detail.contains("op0"), "{b:?}");

    // Signed by an outsider who claims to be alice.
    let mallory = NodeKeys::generate();
    let mut impostor = Envelope::sign(mallory.keypair(), "note", [8u8; 32], now(), b"x");
    impostor.sender = f.alice.public_key().to_string();
    assert_eq!(rejected(post(json(&impostor)).await).0, 401);

    // Unknown sender, correctly signed.
    let outsider = PeerClient::new(*mallory.keypair(), std::time::Duration::from_secs(5));
    let (s, b) = rejected(outsider.send_to(&f.url, &f.server, "note", b"x").await);
    assert_eq!((s, b.error.as_str(), b.field.as_deref()), (403, "unknown_sender", Some("sender")));
    assert!(b.detail.contains(&mallory.public_key().to_string()));

    // Malformed: each names its field.
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{not json".to_vec(), "(body)"),
        (b"[1,2]".to_vec(), "(body)"),
        ({
            let mut v = serde_json::to_value(&good).unwrap();
            v.as_object_mut().unwrap().remove("id");
            serde_json::to_vec(&v).unwrap()
        }, "id"),
        ({
            let mut e = good.clone();
            e.signature = "zz".into();
            json(&e)
        }, "signature"),
        ({
            let mut e = good.clone();
            e.id = hex::encode([1u8; 31]);
            json(&e)
        }, "id"),
        ({
            let mut e = good.clone();
            e.kind = "Bad Kind!".into();
            json(&e)
        }, "kind"),
        ({
            let mut v = serde_json::to_value(&good).unwrap();
            v["timestamp"] = serde_json::json!("yesterday");
            serde_json::to_vec(&v).unwrap()
        }, "timestamp"),
        ({
            let mut v = serde_json::to_value(&good).unwrap();
            v["extra"] = serde_json::json!(1);
            serde_json::to_vec(&v).unwrap()
        }, "extra"),
        ({
            let mut e = good.clone();
            e.sender = "00".repeat(32);
            json(&e)
        }, "sender"),
    ];
    for (body, field) in cases {
        let (s, b) = rejected(post(body).await);
        assert_eq!((s, b.error.as_str(), b.field.as_deref()), (400, "malformed", Some(field)), "{b:?}");
    }

    // Oversized: with and without a truthful Content-Length.
    let big = f.client.envelope("note", [9u8; 32], &vec![0u8; LIMIT]);
    let (s, b) = rejected(post(json(&big)).await);
    assert_eq!((s, b.error.as_str()), (413, "too_large"));
    assert!(b.detail.contains(&LIMIT.to_string()), "{b:?}");
    assert_eq!(post_chunked(&f.url, &json(&big)).await, 413);

    // Same id, other content.
    let first_id = content_id("note", b"first");
    let conflict = f.client.envelope("note", first_id, b"second");
    let (s, b) = rejected(post(json(&conflict)).await);
    assert_eq!((s, b.error.as_str(), b.field.as_deref()), (409, "id_conflict", Some("id")));

    // Stale timestamp.
    let stale = Envelope::sign(f.alice.keypair(), "note", [10u8; 32], now() - 3600, b"x");
    let (s, b) = rejected(post(json(&stale)).await);
    assert_eq!((s, b.error.as_str(), b.field.as_deref()), (400, "stale", Some("timestamp")));

    // The daemon refuses the payload (after writing): rolled back.
    let (s, b) = rejected(f.client.send_to(&f.url, &f.server, "bad", b"x").await);
    assert_eq!((s, b.error.as_str(), b.field.as_deref()), (422, "bad_payload", Some("payload")));
    let (s, b) = rejected(f.client.send_to(&f.url, &f.server, "nope", b"x").await);
    assert_eq!((s, b.error.as_str(), b.field.as_deref()), (400, "unknown_kind", Some("kind")));

    assert_eq!(f.store.row_counts().unwrap(), base, "no rejection changed the store");
    assert_eq!(f.store.with(|t| t.kv_get("notes", "partial")).unwrap(), None);
    for (reason, n) in [("bad_signature", 2), ("unknown_sender", 1), ("malformed", 9), ("too_large", 2), ("id_conflict", 1), ("stale", 1), ("bad_payload", 1), ("unknown_kind", 1)] {
        assert_eq!(f.metrics.rejected(reason), n, "{reason}");
    }

    // /status and /metrics.
    let status: serde_json::Value = reqwest::get(format!("{}/status", f.url)).await.unwrap().json().await.unwrap();
    assert_eq!(status["rows"]["peer_messages"], 1);
    assert_eq!(status["daemon"]["daemon"], "notes");
    assert_eq!(status["committee"].as_array().unwrap().len(), 2);
    let metrics = reqwest::get(format!("{}/metrics", f.url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("bitvm2_peer_messages_rejected_total{reason=\"malformed\"} 9"), "{metrics}");
    assert!(metrics.contains("bitvm2_peer_messages_accepted_total{kind=\"note\"} 1"), "{metrics}");
    assert!(metrics.contains("bitvm2_store_ops_total{outcome=\"commit\"}"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_signed_by_the_receiver_and_forgeries_refused() {
    let f = start().await;
    let mallory = NodeKeys::generate();
    // The genuine answer verifies under the server's key, bound to its request.
    let env = f.client.envelope("note", [21u8; 32], b"signed");
    let reply = f.client.post_unchecked(&f.url, serde_json::to_vec(&env).unwrap()).await.unwrap();
    assert_eq!(reply.verify(&f.server, &env.digest().unwrap()).unwrap(), b"ok:op0:6");
    let other = f.client.envelope("note", [22u8; 32], b"signed");
    assert!(reply.verify(&f.server, &other.digest().unwrap()).unwrap_err().contains("signature"), "bound to its request");
    assert!(reply.verify(&mallory.public_key(), &env.digest().unwrap()).is_err(), "bound to its signer");

    // A client that meant to reach another node refuses the server's (genuine) answer, naming
    // the signature; the message itself was processed, so the right key then gets a replay.
    let wrong = f.client.send_to(&f.url, &mallory.public_key(), "note", b"who").await;
    match wrong {
        Err(PeerClientError::BadReply { detail, .. }) => assert!(detail.contains("signature") && detail.contains(&mallory.public_key().to_string()), "{detail}"),
        other => panic!("expected a refused answer, got {other:?}"),
    }
    assert!(f.client.send_to(&f.url, &f.server, "note", b"who").await.unwrap().replay);

    // Someone between client and server answers in the server's place: with its own key, with
    // the server's answer to another request, with a changed payload, or unsigned.
    let mut tampered = reply.clone();
    tampered.payload = hex::encode(b"ok:op0:7");
    let mut unsigned = reply.clone();
    unsigned.signature = String::new();
    let forgeries = [
        ("own key", Reply::sign(mallory.keypair(), &other.digest().unwrap(), other.id.clone(), "note".into(), b"ok:op0:6")),
        ("answer to another request", reply.clone()),
        ("payload changed", tampered),
        ("unsigned", unsigned),
    ];
    for (what, forged) in forgeries {
        let url = fixed_answer_server(forged).await;
        match f.client.post(&url, &f.server, &other).await {
            Err(PeerClientError::BadReply { detail, .. }) => assert!(detail.contains("signature"), "{what}: {detail}"),
            got => panic!("{what}: expected a refused answer, got {got:?}"),
        }
    }
}

/// A server that answers every message with `reply` (a man in the middle); returns its URL.
async fn fixed_answer_server(reply: Reply) -> String {
    let router = axum::Router::new().route(bitvm2_node::peer::MESSAGE_PATH, axum::routing::post(move || async move { axum::Json(reply) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(bitvm2_node::peer::serve(listener, router, std::future::pending()));
    url
}

/// Posts `body` chunked (no Content-Length), so the server must enforce the limit while
/// reading; returns the HTTP status.
async fn post_chunked(url: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://").to_owned();
    let head = format!(
        "POST /v1/message HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut req = head.into_bytes();
    for c in body.chunks(1000) {
        req.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        req.extend_from_slice(c);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        // The server may answer and close before reading everything: ignore write errors.
        let _ = s.write_all(&req);
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        answer
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"))
}
