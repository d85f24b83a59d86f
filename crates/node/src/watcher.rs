//! The chain watcher: follows bitcoind's best chain by polling, reorg-aware.
//!
//! The watcher keeps a local chain of (height, hash, prev) in the store. Each
//! [`Watcher::poll_once`] finds the fork point between the local chain and the node's best
//! chain (walking back while the node's hash at a height differs from ours), disconnects the
//! local blocks above it, and connects the node's blocks one by one, checking that each new
//! block's `prev` is our current tip (hash linkage; a mismatch means the node reorged while we
//! read, and the next poll resumes from a consistent state). Each connected or disconnected
//! block is one store transaction that updates the watched transactions and outpoints and
//! appends the resulting [`ChainEvent`]s to the durable event log, so a daemon that crashes
//! between a chain change and its reaction finds the events again
//! ([`crate::store::StoreTx::events_after`]). Then the outbox is checked: every active entry
//! whose transactions are neither confirmed nor in the mempool is broadcast again, and an entry
//! whose input another transaction spent is closed once that spend is deeper than the deepest
//! reorg followed.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bitcoin::{Block, BlockHash, OutPoint, Transaction, Txid};
use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;
use crate::rpc::{BitcoinRpc, RpcError};
use crate::store::{BlockRecord, Store, StoreError};

/// Something that happened on the best chain, as the watcher saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ChainEvent {
    /// A block joined the local best chain.
    BlockConnected { height: u64, hash: BlockHash },
    /// A block left it (reorg).
    BlockDisconnected { height: u64, hash: BlockHash },
    /// A watched transaction confirmed.
    TxConfirmed { txid: Txid, height: u64, block: BlockHash },
    /// A watched transaction's block was disconnected.
    TxUnconfirmed { txid: Txid },
    /// A watched outpoint was spent in the chain.
    OutpointSpent { outpoint: OutPoint, by: Txid, height: u64 },
    /// The block that spent a watched outpoint was disconnected.
    OutpointUnspent { outpoint: OutPoint },
    /// A transaction of an active outbox entry can no longer confirm: one of its inputs was
    /// spent in the chain by another transaction (an unexpected transaction on chain).
    OutboxConflict { outbox_id: Txid, txid: Txid, outpoint: OutPoint, by: Txid, height: u64 },
    /// An outbox entry was closed because its conflict (at `conflict_height`) is buried deeper
    /// than the deepest reorg followed: it can never confirm and is no longer re-broadcast.
    OutboxClosed { outbox_id: Txid, conflict_height: u64 },
}

/// What went wrong while following the chain.
#[derive(Debug, thiserror::Error)]
pub enum WatcherError {
    /// bitcoind failed.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The node's chain forks deeper than we follow (or below the blocks we still hold).
    #[error("reorg deeper than {max} blocks (local tip {tip_height}); refusing to roll back further")]
    ReorgTooDeep { max: u64, tip_height: u64 },
    /// A transaction handed to [`Watcher::broadcast`] was rejected.
    #[error("broadcast of {id} rejected: {reason}")]
    Rejected { id: Txid, reason: String },
}

/// Watcher settings.
#[derive(Debug, Clone)]
pub struct WatcherConfig {
    /// Deepest reorg followed.
    pub max_reorg_depth: u64,
    /// Height to start from with an empty store (default: the node's tip at the first poll).
    pub start_height: Option<u64>,
    /// Local blocks kept below the tip (at least `max_reorg_depth`).
    pub keep_blocks: u64,
    /// Whether to re-broadcast dropped outbox entries.
    pub rebroadcast: bool,
}

impl Default for WatcherConfig {
    fn default() -> Self {
        WatcherConfig { max_reorg_depth: 100, start_height: None, keep_blocks: 1000, rebroadcast: true }
    }
}

/// What one poll did.
#[derive(Debug, Clone, Default)]
pub struct PollReport {
    /// The events written, with their sequence numbers in the store's event log.
    pub events: Vec<(u64, ChainEvent)>,
    /// Blocks disconnected by a reorg in this poll, highest first.
    pub disconnected: Vec<BlockRecord>,
    /// The local tip after the poll.
    pub tip: Option<BlockRecord>,
    /// Outbox entries broadcast again, with the node's rejection if any.
    pub rebroadcast: Vec<(Txid, Option<String>)>,
}

impl PollReport {
    /// Just the events.
    pub fn event_list(&self) -> Vec<ChainEvent> {
        self.events.iter().map(|(_, e)| e.clone()).collect()
    }
}

/// Follows the best chain of one bitcoind.
pub struct Watcher<C> {
    rpc: C,
    store: Arc<Store>,
    config: WatcherConfig,
    metrics: Arc<Metrics>,
    // One poll at a time.
    lock: tokio::sync::Mutex<()>,
    // Outbox entry -> the local tip height of its last re-broadcast: at most one per block, so
    // an entry the node keeps refusing (or accepting and then dropping) is no busy loop.
    retried: std::sync::Mutex<std::collections::HashMap<Txid, u64>>,
}

impl<C: BitcoinRpc> Watcher<C> {
    /// A watcher over `rpc` keeping its state in `store`.
    pub fn new(rpc: C, store: Arc<Store>, config: WatcherConfig, metrics: Arc<Metrics>) -> Self {
        Watcher { rpc, store, config, metrics, lock: tokio::sync::Mutex::new(()), retried: Default::default() }
    }

    /// The RPC client.
    pub fn rpc(&self) -> &C {
        &self.rpc
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The local tip.
    pub fn tip(&self) -> Result<Option<BlockRecord>, StoreError> {
        self.store.with(|t| t.tip())
    }

    /// Confirmations of a watched transaction by the local chain (0: unconfirmed; `None`: not
    /// watched).
    pub fn confirmations(&self, txid: &Txid) -> Result<Option<u64>, StoreError> {
        self.store.with(|t| {
            let Some(w) = t.watched_tx(txid)? else { return Ok(None) };
            let tip = t.tip()?.map(|b| b.height).unwrap_or(0);
            Ok(Some(match w.confirmed {
                Some((h, _)) if tip >= h => tip - h + 1,
                _ => 0,
            }))
        })
    }

    /// Write-ahead broadcast: records the transaction(s) in the outbox (watched from then on,
    /// and re-broadcast if dropped) and then sends them, as one transaction or as a package.
    /// A rejection is recorded on the entry and returned; the entry stays active (close it with
    /// [`crate::store::StoreTx::outbox_close`] if it will never be valid).
    pub async fn broadcast(&self, txs: &[Transaction], label: &str) -> Result<Txid, WatcherError> {
        let id = self.store.with(|t| t.outbox_add(txs, label))?;
        match self.send(txs).await {
            Ok(()) => {
                self.store.with(|t| t.outbox_attempt(&id, None))?;
                Ok(id)
            }
            Err(reason) => {
                self.store.with(|t| t.outbox_attempt(&id, Some(&reason)))?;
                Err(WatcherError::Rejected { id, reason })
            }
        }
    }

    async fn send(&self, txs: &[Transaction]) -> Result<(), String> {
        self.metrics.broadcasts.fetch_add(1, Ordering::Relaxed);
        let r = match txs {
            [one] => self.rpc.send_raw_transaction(one).await.map(|_| ()).map_err(|e| e.to_string()),
            many => match self.rpc.submit_package(many).await {
                Ok(p) if p.is_success() => Ok(()),
                Ok(p) => Err(p.errors()),
                Err(e) => Err(e.to_string()),
            },
        };
        if r.is_err() {
            self.metrics.broadcast_failures.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// Follows the node once: rolls back a reorg, connects new blocks, re-broadcasts dropped
    /// outbox entries.
    pub async fn poll_once(&self) -> Result<PollReport, WatcherError> {
        let _guard = self.lock.lock().await;
        let mut report = PollReport::default();
        let best_hash = self.rpc.best_block_hash().await?;
        let best_height = self.rpc.block_count().await?;
        let local_tip = self.tip()?;

        let mut next_height = match local_tip {
            None => self.config.start_height.unwrap_or(best_height),
            Some(tip) if tip.hash == best_hash => tip.height + 1,
            Some(tip) => {
                let fork = self.find_fork(tip, best_height).await?;
                self.disconnect_above(fork, tip.height, &mut report)?;
                fork + 1
            }
        };
        while next_height <= best_height {
            let hash = match self.rpc.block_hash(next_height).await {
                Ok(h) => h,
                // The node's chain got shorter while we read: the next poll sorts it out.
                Err(RpcError::Node { code: -8, .. }) => break,
                Err(e) => return Err(e.into()),
            };
            let block = self.rpc.block(&hash).await?;
            let tip = self.tip()?;
            if let Some(tip) = tip {
                if block.header.prev_blockhash != tip.hash {
                    tracing::info!(height = next_height, "best chain changed while reading; resuming at next poll");
                    break;
                }
            }
            self.connect(next_height, &block, &mut report)?;
            next_height += 1;
        }
        report.tip = self.tip()?;
        if let Some(t) = report.tip {
            self.metrics.block_height.store(t.height, Ordering::Relaxed);
            self.close_lost_entries(t.height, &mut report)?;
        }
        if self.config.rebroadcast {
            self.rebroadcast(&mut report).await?;
        }
        Ok(report)
    }

    /// The highest local height whose hash equals the node's best chain at that height.
    async fn find_fork(&self, tip: BlockRecord, best_height: u64) -> Result<u64, WatcherError> {
        let too_deep = || WatcherError::ReorgTooDeep { max: self.config.max_reorg_depth, tip_height: tip.height };
        let mut h = tip.height;
        loop {
            if tip.height - h > self.config.max_reorg_depth {
                return Err(too_deep());
            }
            let local = self.store.with(|t| t.block_at(h))?.ok_or_else(too_deep)?;
            if h <= best_height && self.rpc.block_hash(h).await? == local.hash {
                return Ok(h);
            }
            h = h.checked_sub(1).ok_or_else(too_deep)?;
        }
    }

    fn disconnect_above(&self, fork: u64, tip_height: u64, report: &mut PollReport) -> Result<(), WatcherError> {
        self.metrics.reorgs.fetch_add(1, Ordering::Relaxed);
        for h in (fork + 1..=tip_height).rev() {
            let events = self.store.with(|t| {
                let Some(b) = t.block_at(h)? else { return Ok(Vec::new()) };
                let mut evs = vec![ChainEvent::BlockDisconnected { height: h, hash: b.hash }];
                evs.extend(t.unconfirm_txs_at(h)?.into_iter().map(|txid| ChainEvent::TxUnconfirmed { txid }));
                evs.extend(t.unspend_outpoints_at(h)?.into_iter().map(|outpoint| ChainEvent::OutpointUnspent { outpoint }));
                t.remove_block(h)?;
                t.outbox_forget_conflicts_from(h)?;
                let mut out = Vec::new();
                for e in evs {
                    out.push((t.push_event(&e)?, e));
                }
                report.disconnected.push(b);
                Ok(out)
            })?;
            self.metrics.blocks_disconnected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(height = h, "block disconnected by reorg");
            report.events.extend(events);
        }
        Ok(())
    }

    fn connect(&self, height: u64, block: &Block, report: &mut PollReport) -> Result<(), WatcherError> {
        let hash = block.block_hash();
        let keep = self.config.keep_blocks.max(self.config.max_reorg_depth + 1);
        let events = self.store.with(|t| {
            let txs: HashSet<Txid> = t.watched_txs()?.into_iter().filter(|w| w.confirmed.is_none()).map(|w| w.txid).collect();
            let ops: HashSet<OutPoint> =
                t.watched_outpoints()?.into_iter().filter(|o| o.spent.is_none()).map(|o| o.outpoint).collect();
            // Inputs of our outbox transactions: a spend by any other transaction is a conflict.
            let mut ours: std::collections::HashMap<OutPoint, (Txid, Txid)> = Default::default();
            for entry in t.outbox_unconfirmed()? {
                for otx in &entry.txs {
                    let otxid = otx.compute_txid();
                    for i in &otx.input {
                        ours.insert(i.previous_output, (entry.id, otxid));
                    }
                }
            }
            let mut evs = vec![ChainEvent::BlockConnected { height, hash }];
            for tx in &block.txdata {
                let txid = tx.compute_txid();
                for input in &tx.input {
                    if let Some(&(outbox_id, our_txid)) = ours.get(&input.previous_output) {
                        if our_txid != txid {
                            tracing::warn!(%outbox_id, %our_txid, by = %txid, outpoint = %input.previous_output, height,
                                "outbox transaction conflicts with a transaction on chain");
                            t.outbox_note(&outbox_id, &format!(
                                "conflict: input {} of {our_txid} spent by {txid} at height {height}",
                                input.previous_output
                            ))?;
                            t.outbox_conflict(&outbox_id, height)?;
                            evs.push(ChainEvent::OutboxConflict {
                                outbox_id,
                                txid: our_txid,
                                outpoint: input.previous_output,
                                by: txid,
                                height,
                            });
                        }
                    }
                }
                if txs.contains(&txid) {
                    t.set_tx_confirmed(&txid, height, &hash)?;
                    evs.push(ChainEvent::TxConfirmed { txid, height, block: hash });
                }
                for input in &tx.input {
                    if ops.contains(&input.previous_output) {
                        t.set_outpoint_spent(&input.previous_output, &txid, height, &hash)?;
                        evs.push(ChainEvent::OutpointSpent { outpoint: input.previous_output, by: txid, height });
                    }
                }
            }
            t.insert_block(&BlockRecord { height, hash, prev: block.header.prev_blockhash })?;
            if height > keep {
                t.prune_blocks_below(height - keep)?;
            }
            let mut out = Vec::new();
            for e in evs {
                out.push((t.push_event(&e)?, e));
            }
            Ok(out)
        })?;
        tracing::debug!(height, %hash, events = events.len(), "block connected");
        report.events.extend(events);
        Ok(())
    }

    /// Closes the outbox entries whose conflicting spend can no longer be reorged away: a
    /// conflict at height `h` is final once the tip reaches `h + max_reorg_depth`.
    fn close_lost_entries(&self, tip_height: u64, report: &mut PollReport) -> Result<(), WatcherError> {
        let Some(final_height) = tip_height.checked_sub(self.config.max_reorg_depth) else { return Ok(()) };
        let events = self.store.with(|t| {
            let mut out = Vec::new();
            for (outbox_id, conflict_height) in t.outbox_close_conflicted_at_or_below(final_height)? {
                let e = ChainEvent::OutboxClosed { outbox_id, conflict_height };
                out.push((t.push_event(&e)?, e));
            }
            Ok(out)
        })?;
        for (_, e) in &events {
            if let ChainEvent::OutboxClosed { outbox_id, conflict_height } = e {
                tracing::info!(%outbox_id, conflict_height, "outbox entry closed: its conflicting spend is final");
            }
        }
        report.events.extend(events);
        Ok(())
    }

    async fn rebroadcast(&self, report: &mut PollReport) -> Result<(), WatcherError> {
        let active = self.store.with(|t| t.outbox_unconfirmed())?;
        // Forget entries that confirmed or closed (a reorg that brings one back retries it).
        let ids: HashSet<Txid> = active.iter().map(|e| e.id).collect();
        self.retried.lock().expect("retried").retain(|id, _| ids.contains(id));
        if active.is_empty() {
            return Ok(());
        }
        let mempool: HashSet<Txid> = self.rpc.raw_mempool().await?.into_iter().collect();
        let height = report.tip.map(|t| t.height).unwrap_or(0);
        for entry in active {
            if self.retried.lock().expect("retried").get(&entry.id) == Some(&height) {
                continue;
            }
            // Transactions not yet in the chain (by our local view) nor in the mempool.
            let pending: Vec<Transaction> = self.store.with(|t| {
                let mut v = Vec::new();
                for tx in &entry.txs {
                    let txid = tx.compute_txid();
                    let confirmed = t.watched_tx(&txid)?.and_then(|w| w.confirmed).is_some();
                    if !confirmed {
                        v.push(tx.clone());
                    }
                }
                Ok(v)
            })?;
            if pending.is_empty() || pending.iter().all(|t| mempool.contains(&t.compute_txid())) {
                continue;
            }
            let result = self.send(&pending).await.err();
            self.retried.lock().expect("retried").insert(entry.id, height);
            match &result {
                None => tracing::info!(id = %entry.id, label = %entry.label, "re-broadcast dropped transaction(s)"),
                Some(e) => tracing::warn!(id = %entry.id, label = %entry.label, error = %e, "re-broadcast rejected"),
            }
            self.store.with(|t| t.outbox_attempt(&entry.id, result.as_deref()))?;
            report.rebroadcast.push((entry.id, result));
        }
        Ok(())
    }

    /// Polls every `interval` until `shutdown` turns true; errors are logged and retried.
    pub async fn run(&self, interval: std::time::Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.poll_once().await {
                Ok(r) if !r.events.is_empty() || !r.rebroadcast.is_empty() => {
                    tracing::info!(
                        tip = r.tip.map(|t| t.height),
                        events = r.events.len(),
                        rebroadcast = r.rebroadcast.len(),
                        "chain poll"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "chain poll failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::{MempoolVerdict, PackageResult, UtxoInfo};
    use bitcoin::block::{Header, Version};
    use bitcoin::hashes::Hash;
    use bitcoin::{CompactTarget, TxMerkleNode};
    use std::sync::Mutex;

    /// A simulated best chain (index = height); only the block methods are real.
    struct FakeChain(Mutex<Vec<Block>>);

    fn block(prev: BlockHash, tag: u32) -> Block {
        let header = Header {
            version: Version::TWO,
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time: 1_700_000_000,
            bits: CompactTarget::from_consensus(0x207fffff),
            nonce: tag,
        };
        Block { header, txdata: vec![] }
    }

    impl FakeChain {
        fn new(len: u32) -> Self {
            let c = FakeChain(Mutex::new(Vec::new()));
            c.extend(len, 0);
            c
        }
        fn extend(&self, n: u32, tag: u32) {
            let mut v = self.0.lock().unwrap();
            for i in 0..n {
                let prev = v.last().map(|b| b.block_hash()).unwrap_or_else(BlockHash::all_zeros);
                v.push(block(prev, tag * 1000 + i));
            }
        }
        /// Replaces the top `depth` blocks by `len` new ones.
        fn reorg(&self, depth: usize, len: u32, tag: u32) {
            {
                let mut v = self.0.lock().unwrap();
                let keep = v.len() - depth;
                v.truncate(keep);
            }
            self.extend(len, tag);
        }
        fn hash(&self, h: usize) -> BlockHash {
            self.0.lock().unwrap()[h].block_hash()
        }
    }

    fn unsupported<T>(m: &str) -> Result<T, RpcError> {
        Err(RpcError::Unexpected { method: m.into(), detail: "not simulated".into() })
    }

    impl BitcoinRpc for FakeChain {
        async fn best_block_hash(&self) -> Result<BlockHash, RpcError> {
            Ok(self.0.lock().unwrap().last().unwrap().block_hash())
        }
        async fn block_count(&self) -> Result<u64, RpcError> {
            Ok(self.0.lock().unwrap().len() as u64 - 1)
        }
        async fn block_hash(&self, height: u64) -> Result<BlockHash, RpcError> {
            let v = self.0.lock().unwrap();
            v.get(height as usize).map(|b| b.block_hash()).ok_or(RpcError::Node {
                method: "getblockhash".into(),
                code: -8,
                message: "Block height out of range".into(),
            })
        }
        async fn block(&self, hash: &BlockHash) -> Result<Block, RpcError> {
            let v = self.0.lock().unwrap();
            v.iter().find(|b| b.block_hash() == *hash).cloned().ok_or(RpcError::Node {
                method: "getblock".into(),
                code: -5,
                message: "Block not found".into(),
            })
        }
        async fn send_raw_transaction(&self, _: &Transaction) -> Result<Txid, RpcError> {
            unsupported("sendrawtransaction")
        }
        async fn submit_package(&self, _: &[Transaction]) -> Result<PackageResult, RpcError> {
            unsupported("submitpackage")
        }
        async fn test_mempool_accept(&self, _: &[Transaction]) -> Result<Vec<MempoolVerdict>, RpcError> {
            unsupported("testmempoolaccept")
        }
        async fn get_tx_out(&self, _: &OutPoint, _: bool) -> Result<Option<UtxoInfo>, RpcError> {
            unsupported("gettxout")
        }
        async fn get_raw_transaction(&self, _: &Txid) -> Result<Option<Transaction>, RpcError> {
            unsupported("getrawtransaction")
        }
        async fn raw_mempool(&self) -> Result<Vec<Txid>, RpcError> {
            Ok(vec![])
        }
    }

    fn watcher(chain: FakeChain, max_reorg: u64) -> Watcher<FakeChain> {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let cfg = WatcherConfig { max_reorg_depth: max_reorg, start_height: Some(0), keep_blocks: 0, rebroadcast: true };
        Watcher::new(chain, store, cfg, Arc::new(Metrics::default()))
    }

    fn local_chain_matches(w: &Watcher<FakeChain>) {
        let tip = w.tip().unwrap().unwrap();
        let lowest = w.store.with(|t| t.lowest_block_height()).unwrap().unwrap();
        for h in lowest..=tip.height {
            let b = w.store.with(|t| t.block_at(h)).unwrap().unwrap();
            assert_eq!(b.hash, w.rpc.hash(h as usize), "height {h}");
            if h > lowest {
                assert_eq!(b.prev, w.store.with(|t| t.block_at(h - 1)).unwrap().unwrap().hash);
            }
        }
    }

    #[tokio::test]
    async fn follows_reorgs_within_the_limit_and_refuses_deeper_ones() {
        let w = watcher(FakeChain::new(10), 3);
        let r = w.poll_once().await.unwrap();
        assert_eq!(r.events.len(), 10, "blocks 0..=9 connected");
        // Prune keeps max_reorg_depth + 1 blocks below the tip.
        assert_eq!(w.store.with(|t| t.lowest_block_height()).unwrap(), Some(5));
        local_chain_matches(&w);

        // Depth 3, longer new branch: 3 disconnected (highest first), 4 connected.
        let old: Vec<BlockHash> = (7..10).rev().map(|h| w.rpc.hash(h)).collect();
        w.rpc.reorg(3, 4, 1);
        let r = w.poll_once().await.unwrap();
        assert_eq!(r.disconnected.iter().map(|b| b.hash).collect::<Vec<_>>(), old);
        let ev = r.event_list();
        assert_eq!(
            ev.iter().map(|e| matches!(e, ChainEvent::BlockConnected { .. })).collect::<Vec<_>>(),
            [vec![false; 3], vec![true; 4]].concat()
        );
        assert_eq!(r.tip.unwrap().height, 10);
        local_chain_matches(&w);

        // Shorter new branch (depth 2 replaced by 1): the tip goes down.
        w.rpc.reorg(2, 1, 2);
        let r = w.poll_once().await.unwrap();
        assert_eq!((r.disconnected.len(), r.tip.unwrap().height), (2, 9));
        local_chain_matches(&w);

        // Depth 5 > 3: refused, nothing changes.
        let before = w.store.row_counts().unwrap();
        let tip = w.tip().unwrap();
        w.rpc.reorg(5, 6, 3);
        let err = w.poll_once().await.unwrap_err();
        assert!(matches!(err, WatcherError::ReorgTooDeep { max: 3, .. }), "{err}");
        assert_eq!(w.store.row_counts().unwrap(), before);
        assert_eq!(w.tip().unwrap(), tip);
    }

    #[tokio::test]
    async fn events_survive_in_the_log_in_order() {
        let w = watcher(FakeChain::new(3), 10);
        let r1 = w.poll_once().await.unwrap();
        w.rpc.reorg(1, 2, 1);
        let r2 = w.poll_once().await.unwrap();
        let all: Vec<(u64, ChainEvent)> = w.store.with(|t| t.events_after(0, 100)).unwrap();
        let expected: Vec<(u64, ChainEvent)> = r1.events.into_iter().chain(r2.events).collect();
        assert_eq!(all, expected);
        // A consumer resuming after the first poll sees only the reorg's events.
        let resumed: Vec<(u64, ChainEvent)> = w.store.with(|t| t.events_after(all[2].0, 100)).unwrap();
        assert_eq!(resumed.len(), 3);
        assert!(matches!(resumed[0].1, ChainEvent::BlockDisconnected { height: 2, .. }));
    }
}
