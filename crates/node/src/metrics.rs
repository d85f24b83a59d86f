//! Counters and gauges exported at `/metrics` in the Prometheus text format (version 0.0.4),
//! written by hand: a few atomics and labelled counters need no metrics library.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The node's metrics. Share one `Arc<Metrics>` between the watcher, the peer API and the
/// daemon.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Height of the best block the watcher has connected.
    pub block_height: AtomicU64,
    /// Reorgs followed.
    pub reorgs: AtomicU64,
    /// Blocks disconnected by reorgs.
    pub blocks_disconnected: AtomicU64,
    /// Outbox broadcast attempts.
    pub broadcasts: AtomicU64,
    /// Outbox broadcast attempts the node rejected.
    pub broadcast_failures: AtomicU64,
    accepted: Mutex<BTreeMap<String, u64>>,
    rejected: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// Counts an accepted peer message of `kind` (a replay counts as `replay` too).
    pub fn accept(&self, kind: &str) {
        *self.accepted.lock().unwrap_or_else(|p| p.into_inner()).entry(kind.to_owned()).or_default() += 1;
    }

    /// Counts a rejected peer message by reason (`malformed`, `bad_signature`, ...).
    pub fn reject(&self, reason: &str) {
        *self.rejected.lock().unwrap_or_else(|p| p.into_inner()).entry(reason.to_owned()).or_default() += 1;
    }

    /// Rejections so far with this reason.
    pub fn rejected(&self, reason: &str) -> u64 {
        self.rejected.lock().unwrap_or_else(|p| p.into_inner()).get(reason).copied().unwrap_or(0)
    }

    /// Accepted messages so far of this kind.
    pub fn accepted(&self, kind: &str) -> u64 {
        self.accepted.lock().unwrap_or_else(|p| p.into_inner()).get(kind).copied().unwrap_or(0)
    }

    /// Renders every metric, plus the store's commit/rollback counters, as Prometheus text.
    pub fn render(&self, store: Option<&crate::store::Store>) -> String {
        let mut s = String::new();
        let gauge = |s: &mut String, name: &str, help: &str, kind: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        gauge(&mut s, "bitvm2_block_height", "Height of the best block connected by the watcher.", "gauge", self.block_height.load(Ordering::Relaxed));
        gauge(&mut s, "bitvm2_reorgs_total", "Reorgs followed.", "counter", self.reorgs.load(Ordering::Relaxed));
        gauge(&mut s, "bitvm2_blocks_disconnected_total", "Blocks disconnected by reorgs.", "counter", self.blocks_disconnected.load(Ordering::Relaxed));
        gauge(&mut s, "bitvm2_broadcasts_total", "Outbox broadcast attempts.", "counter", self.broadcasts.load(Ordering::Relaxed));
        gauge(&mut s, "bitvm2_broadcast_failures_total", "Outbox broadcast attempts rejected by the node.", "counter", self.broadcast_failures.load(Ordering::Relaxed));
        let labelled = |s: &mut String, name: &str, help: &str, label: &str, m: &Mutex<BTreeMap<String, u64>>| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
            for (k, v) in m.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                let k = k.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
                let _ = writeln!(s, "{name}{{{label}=\"{k}\"}} {v}");
            }
        };
        labelled(&mut s, "bitvm2_peer_messages_accepted_total", "Peer messages accepted, by kind.", "kind", &self.accepted);
        labelled(&mut s, "bitvm2_peer_messages_rejected_total", "Peer messages rejected, by reason.", "reason", &self.rejected);
        if let Some(store) = store {
            let _ = writeln!(s, "# HELP bitvm2_store_ops_total Store transactions, by outcome.\n# TYPE bitvm2_store_ops_total counter");
            let _ = writeln!(s, "bitvm2_store_ops_total{{outcome=\"commit\"}} {}", store.commits());
            let _ = writeln!(s, "bitvm2_store_ops_total{{outcome=\"rollback\"}} {}", store.rollbacks());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.block_height.store(205, Ordering::Relaxed);
        m.accept("nonce");
        m.accept("nonce");
        m.reject("bad_signature");
        let store = crate::store::Store::open_in_memory().unwrap();
        store.with(|t| t.kv_put("a", "b", b"c")).unwrap();
        let text = m.render(Some(&store));
        assert!(text.contains("\nbitvm2_block_height 205\n"), "{text}");
        assert!(text.contains("bitvm2_peer_messages_accepted_total{kind=\"nonce\"} 2"), "{text}");
        assert!(text.contains("bitvm2_peer_messages_rejected_total{reason=\"bad_signature\"} 1"), "{text}");
        assert!(text.contains("bitvm2_store_ops_total{outcome=\"commit\"} 1"), "{text}");
        // Every sample line is `name{labels} value` with a numeric value.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let v = line.rsplit(' ').next().unwrap();
            assert!(v.parse::<u64>().is_ok(), "{line}");
        }
    }
}
