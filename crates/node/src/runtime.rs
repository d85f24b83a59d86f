//! Wiring for a daemon: load keys and store from the configuration, check that this node is
//! in its committee, and run the peer API and the chain watcher until shutdown.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::keys::{KeyError, NodeKeys};
use crate::metrics::Metrics;
use crate::peer::{PeerApi, PeerClient, PeerHandler, PeerSettings};
use crate::rpc::HttpRpc;
use crate::store::{Store, StoreError};
use crate::watcher::{Watcher, WatcherConfig};

/// What can go wrong starting a node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The key file.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// This node's key is not in the committee with its configured role.
    #[error("config field `committee`: this node's key {pubkey} is not listed with role {role:?}")]
    NotInCommittee { pubkey: String, role: crate::config::Role },
    /// Binding or serving the peer API failed.
    #[error("peer API on {addr}: {source}")]
    Serve { addr: String, source: std::io::Error },
}

/// Everything a daemon needs, opened from a validated configuration.
pub struct NodeContext {
    /// The configuration.
    pub config: Config,
    /// The node's keys.
    pub keys: NodeKeys,
    /// The store.
    pub store: Arc<Store>,
    /// Shared metrics.
    pub metrics: Arc<Metrics>,
}

impl NodeContext {
    /// Loads the key file (creating it with mode 0600 when `create_keys` and it is absent),
    /// opens the store (applying migrations) and checks that this node is in the committee.
    pub fn open(config: Config, create_keys: bool) -> Result<Self, NodeError> {
        let path = &config.node.keys_file;
        let keys = if create_keys && !path.exists() { NodeKeys::create_file(path)? } else { NodeKeys::load(path)? };
        let me = keys.public_key();
        if !config.committee.iter().any(|m| m.public_key().ok() == Some(me) && m.role == config.node.role) {
            return Err(NodeError::NotInCommittee { pubkey: me.to_string(), role: config.node.role });
        }
        let store = Arc::new(Store::open(&config.node.store_path)?);
        tracing::info!(pubkey = %me, store = %config.node.store_path.display(), "node opened");
        Ok(NodeContext { config, keys, store, metrics: Arc::new(Metrics::default()) })
    }

    /// A bitcoind client from `[bitcoind]`.
    pub fn rpc(&self) -> HttpRpc {
        HttpRpc::from_config(&self.config.bitcoind)
    }

    /// A chain watcher over this node's store and metrics.
    pub fn watcher(&self) -> Watcher<HttpRpc> {
        let max = self.config.params.max_reorg_depth as u64;
        let cfg = WatcherConfig { max_reorg_depth: max, keep_blocks: (max + 1).max(1000), ..Default::default() };
        Watcher::new(self.rpc(), self.store.clone(), cfg, self.metrics.clone())
    }

    /// The peer API over this node's store, answering with `handler`.
    pub fn peer_api(&self, handler: Arc<dyn PeerHandler>) -> PeerApi {
        PeerApi::new(PeerSettings::from_config(&self.config), *self.keys.keypair(), self.store.clone(), self.metrics.clone(), handler)
    }

    /// A client signing with this node's key.
    pub fn peer_client(&self) -> PeerClient {
        PeerClient::new(*self.keys.keypair(), Duration::from_millis(self.config.peer.request_timeout_ms))
    }

    /// Serves the peer API on `listener` and follows the chain with `watcher` until
    /// `shutdown` resolves. Chain errors are logged and retried; a server error ends the run.
    pub async fn run(
        &self,
        listener: tokio::net::TcpListener,
        handler: Arc<dyn PeerHandler>,
        watcher: Watcher<HttpRpc>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), NodeError> {
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let router = self.peer_api(handler).router();
        let mut server_stop = stop_rx.clone();
        let server = tokio::spawn(crate::peer::serve(listener, router, async move {
            let _ = server_stop.wait_for(|s| *s).await;
        }));
        tracing::info!(%addr, "peer API listening");
        let interval = Duration::from_millis(self.config.bitcoind.poll_interval_ms);
        let poller = watcher.run(interval, stop_rx);
        tokio::pin!(poller);
        tokio::select! {
            _ = shutdown => {}
            _ = &mut poller => {}
        }
        let _ = stop_tx.send(true);
        poller.await;
        match server.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(NodeError::Serve { addr, source }),
            Err(join) => Err(NodeError::Serve { addr, source: std::io::Error::other(join.to_string()) }),
        }
    }
}
