//! The chain watcher against a real bitcoind (regtest harness): confirmation and spend
//! tracking, a depth-3 reorg detected by hash linkage and rolled back, a write-ahead outbox
//! entry sent after a "crash", and a transaction the node dropped from its mempool broadcast
//! again. Blocks are mined on demand and followed with `poll_once()`; nothing sleeps.

use std::sync::Arc;

use bitcoin::{Address, Amount, Network, OutPoint, ScriptBuf, Transaction, TxOut, Witness};
use bitvm2_harness::{Funded, Regtest};
use bitvm2_node::rpc::BitcoinRpc;
use bitvm2_node::{ChainEvent, HttpRpc, Metrics, RpcAuth, Store, Watcher, WatcherConfig};

/// Anyone can spend P2WSH(OP_TRUE): tests need no signatures.
fn op_true() -> ScriptBuf {
    bitcoin::script::Builder::new().push_opcode(bitcoin::opcodes::OP_TRUE).into_script()
}

fn address() -> Address {
    Address::p2wsh(&op_true(), Network::Regtest)
}

fn spend(coin: &Funded, tag: u8) -> Transaction {
    let mut tx = coin.spend_to(vec![TxOut {
        value: coin.txout.value - Amount::from_sat(1_000 + tag as u64),
        script_pubkey: address().script_pubkey(),
    }]);
    tx.input[0].witness = Witness::from_slice(&[op_true().into_bytes()]);
    tx
}

struct Fixture {
    rt: Regtest,
    watcher: Watcher<HttpRpc>,
    store: Arc<Store>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let rt = Regtest::start().expect("bitcoind starts (set BITCOIND_EXE)");
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("node.sqlite")).unwrap());
    let rpc = HttpRpc::new(rt.rpc_url(), RpcAuth::Cookie(rt.cookie_file()));
    let cfg = WatcherConfig { max_reorg_depth: 10, keep_blocks: 20, ..Default::default() };
    let watcher = Watcher::new(rpc, store.clone(), cfg, Arc::new(Metrics::default()));
    Fixture { rt, watcher, store, _dir: dir }
}

fn count<F: Fn(&ChainEvent) -> bool>(events: &[ChainEvent], f: F) -> usize {
    events.iter().filter(|e| f(e)).count()
}

#[tokio::test]
async fn tracks_confirmations_and_spends() {
    let f = fixture();
    let coin = f.rt.fund(&address()).unwrap();
    let first = f.watcher.poll_once().await.unwrap();
    assert_eq!(first.tip.unwrap().height, f.rt.height().unwrap(), "starts at the node's tip");
    assert_eq!(first.tip.unwrap().hash, f.rt.best_block_hash().unwrap());

    f.store.with(|t| t.watch_outpoint(&coin.outpoint, "coin")).unwrap();
    let tx = spend(&coin, 0);
    let txid = f.watcher.broadcast(std::slice::from_ref(&tx), "spend").await.unwrap();
    assert!(f.rt.in_mempool(&txid).unwrap());
    let r = f.watcher.poll_once().await.unwrap();
    assert!(r.events.is_empty() && r.rebroadcast.is_empty(), "in the mempool, nothing to do: {r:?}");
    assert_eq!(f.watcher.confirmations(&txid).unwrap(), Some(0));

    let block = f.rt.confirm(&txid).unwrap();
    let height = f.rt.height().unwrap();
    let ev = f.watcher.poll_once().await.unwrap().event_list();
    assert_eq!(
        ev,
        vec![
            ChainEvent::BlockConnected { height, hash: block },
            ChainEvent::TxConfirmed { txid, height, block },
            ChainEvent::OutpointSpent { outpoint: coin.outpoint, by: txid, height },
        ]
    );
    assert_eq!(f.watcher.confirmations(&txid).unwrap(), Some(1));
    f.rt.mine(2).unwrap();
    let ev = f.watcher.poll_once().await.unwrap().event_list();
    assert_eq!(count(&ev, |e| matches!(e, ChainEvent::BlockConnected { .. })), 2);
    assert_eq!(f.watcher.confirmations(&txid).unwrap(), Some(3));
    assert_eq!(f.watcher.confirmations(&txid).unwrap(), Some(f.rt.confirmations(&txid).unwrap() as u64));
    // The durable log holds the same events, in order.
    let logged: Vec<(u64, ChainEvent)> = f.store.with(|t| t.events_after(0, 1000)).unwrap();
    assert!(logged.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(logged.iter().any(|(_, e)| *e == ChainEvent::TxConfirmed { txid, height, block }));
    // Unwatched transactions (the coinbases) raise no events.
    assert_eq!(count(&logged.iter().map(|x| x.1.clone()).collect::<Vec<_>>(), |e| matches!(e, ChainEvent::TxConfirmed { .. })), 1);
}

#[tokio::test]
async fn depth_three_reorg_is_detected_and_rolled_back() {
    let f = fixture();
    let coin = f.rt.fund(&address()).unwrap();
    f.watcher.poll_once().await.unwrap();
    f.store.with(|t| t.watch_outpoint(&coin.outpoint, "coin")).unwrap();
    let txid = f.watcher.broadcast(&[spend(&coin, 0)], "spend").await.unwrap();
    let old_block = f.rt.confirm(&txid).unwrap();
    let confirm_height = f.rt.height().unwrap();
    f.rt.mine(2).unwrap();
    f.watcher.poll_once().await.unwrap();
    assert_eq!(f.watcher.confirmations(&txid).unwrap(), Some(3));
    let old_tip = f.watcher.tip().unwrap().unwrap();

    // Replace the last 3 blocks (including the one with our tx) by 4 new ones.
    let replaced = f.rt.reorg(3, 4).unwrap();
    assert_eq!(replaced[0], old_block);
    let r = f.watcher.poll_once().await.unwrap();
    let ev = r.event_list();

    // Disconnected: exactly the three replaced blocks, highest first, and our tx and spend
    // rolled back before anything new is connected.
    let gone: Vec<_> = r.disconnected.iter().map(|b| b.hash).collect();
    assert_eq!(gone, replaced.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(r.disconnected[0].height, old_tip.height);
    let first_connect = ev.iter().position(|e| matches!(e, ChainEvent::BlockConnected { .. })).unwrap();
    let before = &ev[..first_connect];
    assert_eq!(count(before, |e| matches!(e, ChainEvent::BlockDisconnected { .. })), 3);
    assert!(before.contains(&ChainEvent::TxUnconfirmed { txid }));
    assert!(before.contains(&ChainEvent::OutpointUnspent { outpoint: coin.outpoint }));

    // Connected: 4 new blocks; the tx (back from the mempool) confirms again in the new branch.
    let after = &ev[first_connect..];
    assert_eq!(count(after, |e| matches!(e, ChainEvent::BlockConnected { .. })), 4);
    let new_block = f.rt.call("getblockhash", &[serde_json::json!(confirm_height)]).unwrap();
    let new_block: bitcoin::BlockHash = new_block.as_str().unwrap().parse().unwrap();
    assert_ne!(new_block, old_block);
    assert!(after.contains(&ChainEvent::TxConfirmed { txid, height: confirm_height, block: new_block }));
    assert!(after.contains(&ChainEvent::OutpointSpent { outpoint: coin.outpoint, by: txid, height: confirm_height }));

    // The local chain equals the node's, linked by prev hashes.
    let tip = r.tip.unwrap();
    assert_eq!((tip.height, tip.hash), (f.rt.height().unwrap(), f.rt.best_block_hash().unwrap()));
    let lowest = f.store.with(|t| t.lowest_block_height()).unwrap().unwrap();
    assert!(lowest < confirm_height, "local chain reaches the fork point");
    for h in (lowest + 1)..=tip.height {
        let local = f.store.with(|t| t.block_at(h)).unwrap().unwrap();
        assert_eq!(local.hash, f.watcher.rpc().block_hash(h).await.unwrap(), "height {h}");
        let parent = f.store.with(|t| t.block_at(h - 1)).unwrap().unwrap();
        assert_eq!(local.prev, parent.hash, "linkage at {h}");
    }
    assert_eq!(f.watcher.confirmations(&txid).unwrap(), Some(f.rt.confirmations(&txid).unwrap() as u64));
    assert!(r.rebroadcast.is_empty(), "the tx was re-mined by the node itself");
}

#[tokio::test]
async fn reorg_that_drops_our_tx_unconfirms_it_and_keeps_it_broadcast() {
    // The new branch is mined from the node's mempool, which no longer has our tx: it
    // disappears from chain and mempool alike; the watcher notices and sends it again.
    let f = fixture();
    let coins = f.rt.fund_many(&address(), 2).unwrap();
    f.watcher.poll_once().await.unwrap();
    let tx = spend(&coins[0], 0);
    let txid = f.watcher.broadcast(&[tx], "spend").await.unwrap();
    f.rt.confirm(&txid).unwrap();
    f.watcher.poll_once().await.unwrap();
    assert_eq!(f.watcher.confirmations(&txid).unwrap(), Some(1));

    // Disconnect the block, then evict the tx from the mempool by letting it expire: Core
    // expires entries older than -mempoolexpiry (336 h) whenever a transaction is accepted.
    let tip = f.rt.best_block_hash().unwrap();
    f.rt.invalidate_block(&tip).unwrap();
    assert!(f.rt.in_mempool(&txid).unwrap(), "back in the mempool after the disconnect");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    f.rt.call("setmocktime", &[serde_json::json!(now + 15 * 24 * 3600)]).unwrap();
    f.rt.send(&spend(&coins[1], 1)).unwrap();
    assert!(!f.rt.in_mempool(&txid).unwrap(), "expired from the mempool");
    f.rt.mine(2).unwrap();
    assert!(!f.rt.in_mempool(&txid).unwrap(), "dropped by the node");
    assert_eq!(f.rt.utxo(&OutPoint { txid, vout: 0 }).unwrap(), None, "and not in the chain");

    let r = f.watcher.poll_once().await.unwrap();
    assert!(r.event_list().contains(&ChainEvent::TxUnconfirmed { txid }));
    assert_eq!(r.rebroadcast, vec![(txid, None)], "sent again");
    assert!(f.rt.in_mempool(&txid).unwrap());
    f.rt.confirm(&txid).unwrap();
    let ev = f.watcher.poll_once().await.unwrap().event_list();
    assert!(ev.iter().any(|e| matches!(e, ChainEvent::TxConfirmed { txid: t, .. } if *t == txid)));
    let entry = f.store.with(|t| t.outbox_active()).unwrap().remove(0);
    assert_eq!((entry.id, entry.attempts, entry.last_error), (txid, 2, None));
}

#[tokio::test]
async fn write_ahead_outbox_entry_is_sent_after_a_crash() {
    // The daemon wrote the tx to the outbox and "crashed" before sending it: the watcher of
    // the restarted process (same store file) sends it.
    let f = fixture();
    let coin = f.rt.fund(&address()).unwrap();
    let tx = spend(&coin, 0);
    let txid = f.store.with(|t| t.outbox_add(&[tx], "payout")).unwrap();
    let path = f.store.path().to_owned();
    drop(f.watcher);
    drop(f.store);

    let store = Arc::new(Store::open(&path).unwrap());
    let rpc = HttpRpc::new(f.rt.rpc_url(), RpcAuth::Cookie(f.rt.cookie_file()));
    let watcher = Watcher::new(rpc, store.clone(), WatcherConfig::default(), Arc::new(Metrics::default()));
    assert!(!f.rt.in_mempool(&txid).unwrap());
    let r = watcher.poll_once().await.unwrap();
    assert_eq!(r.rebroadcast, vec![(txid, None)]);
    assert!(f.rt.in_mempool(&txid).unwrap());
    // A second poll does not send again (it is in the mempool).
    assert!(watcher.poll_once().await.unwrap().rebroadcast.is_empty());
    // An entry the node rejects keeps Core's reason.
    let bad = spend(&coin, 5); // conflicts with the first spend (no RBF bump big enough)
    let err = watcher.broadcast(std::slice::from_ref(&bad), "conflict").await.unwrap_err();
    let entry = store.with(|t| t.outbox_active()).unwrap().into_iter().find(|e| e.id == bad.compute_txid()).unwrap();
    assert!(entry.last_error.as_deref().unwrap().contains("insufficient fee"), "{err} / {entry:?}");
    assert!(err.to_string().contains("code -26"), "{err}");
}

#[tokio::test]
async fn rpc_client_reads_core_answers_and_keeps_core_errors() {
    let f = fixture();
    let rpc = f.watcher.rpc();
    let coin = f.rt.fund(&address()).unwrap();
    assert_eq!(rpc.block_count().await.unwrap(), f.rt.height().unwrap());
    let utxo = rpc.get_tx_out(&coin.outpoint, true).await.unwrap().unwrap();
    assert_eq!(utxo.txout, coin.txout);
    assert_eq!(utxo.confirmations, 101);
    let tx = spend(&coin, 0);
    let verdict = rpc.test_mempool_accept(std::slice::from_ref(&tx)).await.unwrap();
    assert!(verdict[0].allowed, "{verdict:?}");
    let mut bad = tx.clone();
    bad.output[0].value = Amount::from_sat(coin.txout.value.to_sat() + 1);
    let verdict = rpc.test_mempool_accept(&[bad]).await.unwrap();
    assert!(!verdict[0].allowed && verdict[0].reject_reason.as_deref().unwrap().contains("bad-txns-in-belowout"), "{verdict:?}");
    let txid = rpc.send_raw_transaction(&tx).await.unwrap();
    assert_eq!(rpc.raw_mempool().await.unwrap(), vec![txid]);
    assert_eq!(rpc.get_raw_transaction(&txid).await.unwrap(), Some(tx));
    assert!(rpc.get_tx_out(&coin.outpoint, true).await.unwrap().is_none(), "spent in the mempool");
    let missing = OutPoint { txid: bitcoin::Txid::from_raw_hash(bitcoin::hashes::Hash::all_zeros()), vout: 0 };
    assert_eq!(rpc.get_raw_transaction(&missing.txid).await.unwrap(), None);
    let err = rpc.block_hash(1_000_000).await.unwrap_err();
    assert_eq!(err.code(), Some(-8), "{err}");
    let err = HttpRpc::new(f.rt.rpc_url(), RpcAuth::UserPass("nobody".into(), "wrong".into())).block_count().await.unwrap_err();
    assert!(matches!(err, bitvm2_node::RpcError::Auth { .. }), "{err}");
}

/// Our outbox transaction A spends a fresh coin, then B (higher fee) replaces it in the mempool.
async fn replaced_by_another() -> (Fixture, Funded, bitcoin::Txid, bitcoin::Txid) {
    let f = fixture();
    let coin = f.rt.fund(&address()).unwrap();
    f.watcher.poll_once().await.unwrap();
    let a_id = f.watcher.broadcast(&[spend(&coin, 0)], "ours").await.unwrap();
    let b_id = f.rt.send(&spend(&coin, 200)).unwrap();
    (f, coin, a_id, b_id)
}

#[tokio::test]
async fn conflicting_spend_on_chain_is_reported_by_name() {
    // Our outbox tx A spends a coin; someone replaces it (RBF) with B, which gets mined.
    let (f, coin, a_id, b_id) = replaced_by_another().await;
    assert!(!f.rt.in_mempool(&a_id).unwrap(), "replaced");
    f.rt.confirm(&b_id).unwrap();
    let height = f.rt.height().unwrap();
    let r = f.watcher.poll_once().await.unwrap();
    assert!(
        r.event_list().contains(&ChainEvent::OutboxConflict { outbox_id: a_id, txid: a_id, outpoint: coin.outpoint, by: b_id, height }),
        "{r:?}"
    );
    // The re-broadcast attempt fails with Core's reason and the entry keeps it.
    assert_eq!(r.rebroadcast.len(), 1);
    let reason = r.rebroadcast[0].1.as_deref().unwrap();
    assert!(reason.contains("missingorspent") || reason.contains("missing-inputs"), "{reason}");
    let entry = f.store.with(|t| t.outbox_active()).unwrap().remove(0);
    assert_eq!(entry.last_error.as_deref(), Some(reason));
    // No retry before the next block (no busy loop on an entry the node refuses); one after it.
    assert!(f.watcher.poll_once().await.unwrap().rebroadcast.is_empty());
    f.rt.mine(1).unwrap();
    assert_eq!(f.watcher.poll_once().await.unwrap().rebroadcast.len(), 1);
    // Once B is deeper than the deepest reorg followed (10 here), A can never confirm: the
    // entry is closed, with an event, and no longer sent.
    f.rt.mine(8).unwrap();
    let r = f.watcher.poll_once().await.unwrap();
    assert_eq!(r.tip.unwrap().height, height + 9);
    assert_eq!(r.rebroadcast.len(), 1, "9 blocks deep: still retried");
    assert!(!r.event_list().iter().any(|e| matches!(e, ChainEvent::OutboxClosed { .. })), "{r:?}");
    f.rt.mine(1).unwrap();
    let r = f.watcher.poll_once().await.unwrap();
    assert!(r.event_list().contains(&ChainEvent::OutboxClosed { outbox_id: a_id, conflict_height: height }), "{r:?}");
    assert!(r.rebroadcast.is_empty(), "{r:?}");
    assert!(f.store.with(|t| t.outbox_active()).unwrap().is_empty());
    f.rt.mine(1).unwrap();
    let r = f.watcher.poll_once().await.unwrap();
    assert!(r.rebroadcast.is_empty() && r.event_list().len() == 1, "closed once: {r:?}");
}

#[tokio::test]
async fn a_conflict_reorged_away_is_forgotten_and_our_transaction_confirms_after_all() {
    // B replaces our A and is mined; a reorg drops B's block, and a miner prioritises B down so
    // A wins the mempool again: the entry must not be closed later for the forgotten conflict.
    let (f, _coin, a_id, b_id) = replaced_by_another().await;
    let b_block = f.rt.confirm(&b_id).unwrap();
    let conflict_height = f.rt.height().unwrap();
    let r = f.watcher.poll_once().await.unwrap();
    assert!(r.event_list().iter().any(|e| matches!(e, ChainEvent::OutboxConflict { by, .. } if *by == b_id)), "{r:?}");

    f.rt.call("prioritisetransaction", &[serde_json::json!(b_id.to_string()), serde_json::json!(0), serde_json::json!(-100_000_000)])
        .unwrap();
    f.rt.invalidate_block(&b_block).unwrap();
    let r = f.watcher.poll_once().await.unwrap();
    assert_eq!(r.disconnected.len(), 1, "{r:?}");
    assert_eq!(r.rebroadcast, vec![(a_id, None)], "A sent again and accepted in place of B");
    assert!(f.rt.in_mempool(&a_id).unwrap());
    f.rt.mine(1).unwrap();
    let r = f.watcher.poll_once().await.unwrap();
    assert!(r.event_list().contains(&ChainEvent::TxConfirmed { txid: a_id, height: conflict_height, block: f.rt.best_block_hash().unwrap() }));
    // Well past the depth at which the old conflict would have closed the entry: still active.
    f.rt.mine(12).unwrap();
    let r = f.watcher.poll_once().await.unwrap();
    assert!(!r.event_list().iter().any(|e| matches!(e, ChainEvent::OutboxClosed { .. })), "{r:?}");
    assert_eq!(f.store.with(|t| t.outbox_active()).unwrap().into_iter().map(|e| e.id).collect::<Vec<_>>(), vec![a_id]);
}
