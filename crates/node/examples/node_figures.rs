//! Measures the node's costs in one run and prints ratios against a baseline measured in the
//! same run: store transactions (fsync-bound), signed peer messages over loopback HTTP against
//! a plain GET, and chain following against fetching the same blocks over RPC.
//!
//! `BITCOIND_EXE=... cargo run --release -p bitvm2-node --example node_figures`

use std::sync::Arc;
use std::time::Instant;

use bitvm2_node::peer::HandlerError;
use bitvm2_node::rpc::BitcoinRpc;
use bitvm2_node::{
    HttpRpc, Member, Metrics, NodeKeys, PeerApi, PeerClient, PeerHandler, PeerSettings, Role, RpcAuth, Store,
    StoreTx, VerifiedMessage, Watcher, WatcherConfig,
};

struct Echo;
impl PeerHandler for Echo {
    fn handle(&self, tx: &StoreTx<'_>, m: &VerifiedMessage) -> Result<Vec<u8>, HandlerError> {
        tx.kv_put("echo", &hex::encode(m.id), &m.payload)?;
        Ok(m.payload.clone())
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();

    // Store: one kv write per transaction (synchronous=FULL, WAL).
    let store = Arc::new(Store::open(&dir.path().join("figures.sqlite")).unwrap());
    let n = 500;
    let t = Instant::now();
    for i in 0..n {
        store.with(|tx| tx.kv_put("bench", &i.to_string(), &[0u8; 64])).unwrap();
    }
    let per_tx = t.elapsed().as_secs_f64() / n as f64;
    println!("store: {n} transactions, {:.3} ms each ({:.0}/s)", per_tx * 1e3, 1.0 / per_tx);

    // Peer API: signed, verified, deduplicated and stored message vs. a plain GET /metrics.
    let server = NodeKeys::generate();
    let client_keys = NodeKeys::generate();
    let member = |name: &str, role, k: &NodeKeys| Member {
        name: name.into(),
        role,
        pubkey: k.public_key().to_string(),
        url: "http://127.0.0.1:1".into(),
    };
    let settings = PeerSettings {
        committee: vec![member("op", Role::Operator, &client_keys), member("v", Role::Verifier, &server)],
        max_body_bytes: 1 << 20,
        max_clock_skew_secs: 600,
    };
    let api = PeerApi::new(settings, *server.keypair(), store.clone(), Arc::new(Metrics::default()), Arc::new(Echo));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(bitvm2_node::peer::serve(listener, api.router(), std::future::pending()));
    let client = PeerClient::new(*client_keys.keypair(), std::time::Duration::from_secs(10));
    let http = reqwest::Client::new();
    let m = 200;
    let t = Instant::now();
    for _ in 0..m {
        http.get(format!("{url}/metrics")).send().await.unwrap().bytes().await.unwrap();
    }
    let get = t.elapsed().as_secs_f64() / m as f64;
    let t = Instant::now();
    for i in 0..m {
        client.send_to(&url, &server.public_key(), "echo", format!("payload {i}").as_bytes()).await.unwrap();
    }
    let msg = t.elapsed().as_secs_f64() / m as f64;
    let t = Instant::now();
    for i in 0..m {
        let r = client.send_to(&url, &server.public_key(), "echo", format!("payload {i}").as_bytes()).await.unwrap();
        assert!(r.replay);
    }
    let replay = t.elapsed().as_secs_f64() / m as f64;
    println!(
        "peer: plain GET {:.3} ms, new message {:.3} ms ({:.1}x), replay {:.3} ms ({:.1}x)",
        get * 1e3,
        msg * 1e3,
        msg / get,
        replay * 1e3,
        replay / get
    );

    // Watcher: connect 300 blocks vs. fetching the same 300 blocks over RPC.
    let rt = bitvm2_harness::Regtest::start().expect("set BITCOIND_EXE");
    let rpc = HttpRpc::new(rt.rpc_url(), RpcAuth::Cookie(rt.cookie_file()));
    let w = Watcher::new(
        HttpRpc::new(rt.rpc_url(), RpcAuth::Cookie(rt.cookie_file())),
        Arc::new(Store::open(&dir.path().join("watch.sqlite")).unwrap()),
        WatcherConfig { start_height: Some(1), ..Default::default() },
        Arc::new(Metrics::default()),
    );
    let blocks = 300;
    rt.mine(blocks).unwrap();
    let t = Instant::now();
    for h in 1..=blocks {
        rpc.block_at(h).await.unwrap();
    }
    let fetch = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let r = w.poll_once().await.unwrap();
    let follow = t.elapsed().as_secs_f64();
    assert_eq!(r.tip.unwrap().height, blocks);
    println!(
        "watcher: {blocks} blocks connected in {:.0} ms ({:.2} ms/block); RPC fetch alone {:.0} ms; ratio {:.1}x",
        follow * 1e3,
        follow * 1e3 / blocks as f64,
        fetch * 1e3,
        follow / fetch
    );
}
