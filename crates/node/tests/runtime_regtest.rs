//! A node opened from a TOML file against a real bitcoind: key file created 0600, committee
//! membership checked, /status over HTTP showing the chain tip the watcher followed, clean
//! shutdown, and a restart on the same store resuming from its tip.

use std::sync::Arc;

use bitvm2_harness::Regtest;
use bitvm2_node::peer::HandlerError;
use bitvm2_node::runtime::{NodeContext, NodeError};
use bitvm2_node::{Config, NodeKeys, PeerHandler, StoreTx, VerifiedMessage};

struct Nothing;
impl PeerHandler for Nothing {
    fn handle(&self, _: &StoreTx<'_>, m: &VerifiedMessage) -> Result<Vec<u8>, HandlerError> {
        Err(HandlerError::UnknownKind(m.kind.clone()))
    }
}

fn write_config(dir: &std::path::Path, rt: &Regtest, me: &NodeKeys) -> std::path::PathBuf {
    let other = NodeKeys::generate();
    let text = format!(
        r#"
[node]
role = "verifier"
keys_file = "keys.json"
store_path = "node.sqlite"
listen = "127.0.0.1:0"

[bitcoind]
rpc_url = "{url}"
cookie_file = "{cookie}"

[params]
max_reorg_depth = 6

[[committee]]
name = "op0"
role = "operator"
pubkey = "{op}"
url = "http://127.0.0.1:1"

[[committee]]
name = "v0"
role = "verifier"
pubkey = "{me}"
url = "http://127.0.0.1:2"
"#,
        url = rt.rpc_url(),
        cookie = rt.cookie_file().display(),
        op = other.public_key(),
        me = me.public_key(),
    );
    let path = dir.join("node.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_opens_serves_status_and_resumes() {
    let rt = Regtest::start().unwrap();
    rt.mine(5).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = NodeKeys::generate();
    keys.write_new(&dir.path().join("keys.json")).unwrap();
    let cfg = Config::load(&write_config(dir.path(), &rt, &keys)).unwrap();

    let ctx = NodeContext::open(cfg.clone(), false).unwrap();
    assert_eq!(ctx.keys.public_key(), keys.public_key());
    let watcher = ctx.watcher();
    watcher.poll_once().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = {
        let ctx = Arc::new(ctx);
        let c2 = ctx.clone();
        tokio::spawn(async move {
            c2.run(listener, Arc::new(Nothing), watcher, async move {
                let _ = stopped.await;
            })
            .await
        })
    };
    let status: serde_json::Value = reqwest::get(format!("{url}/status")).await.unwrap().json().await.unwrap();
    assert_eq!(status["tip"]["height"], 5);
    assert_eq!(status["tip"]["hash"], rt.best_block_hash().unwrap().to_string());
    assert_eq!(status["pubkey"], keys.public_key().to_string());
    let metrics = reqwest::get(format!("{url}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("bitvm2_block_height 5"), "{metrics}");
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();

    // Restart on the same store: resumes from height 5 and connects only the new blocks.
    rt.mine(2).unwrap();
    let ctx = NodeContext::open(cfg.clone(), false).unwrap();
    let r = ctx.watcher().poll_once().await.unwrap();
    let heights: Vec<u64> = r
        .event_list()
        .iter()
        .filter_map(|e| match e {
            bitvm2_node::ChainEvent::BlockConnected { height, .. } => Some(*height),
            _ => None,
        })
        .collect();
    assert_eq!(heights, vec![6, 7]);
}

#[tokio::test]
async fn node_refuses_keys_outside_the_committee_and_creates_missing_keys() {
    let rt = Regtest::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listed = NodeKeys::generate();
    let cfg = Config::load(&write_config(dir.path(), &rt, &listed)).unwrap();
    // No key file yet: created (0600) with fresh keys, which are not the listed ones.
    match NodeContext::open(cfg.clone(), true) {
        Err(e @ NodeError::NotInCommittee { .. }) => assert!(e.to_string().contains("committee"), "{e}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a key outside the committee was accepted"),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("keys.json")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Without `create_keys`, a missing file is an error naming it.
    std::fs::remove_file(dir.path().join("keys.json")).unwrap();
    let err = NodeContext::open(cfg, false).err().unwrap();
    assert!(err.to_string().contains("keys.json"), "{err}");
}
