//! What both BitVM2 daemons (operator and verifier/watchtower) share: a small async client
//! for bitcoind's RPC ([`rpc`]), a reorg-aware chain watcher that tracks confirmations and
//! spends and re-broadcasts dropped transactions ([`watcher`]), the SQLite store with
//! migrations and write-ahead state transitions, MuSig2 nonce and Winternitz usage records
//! ([`store`]), the signed, committee-checked, idempotent peer API over HTTP with `/status` and
//! `/metrics` ([`peer`], [`metrics`]), the TOML configuration ([`config`]) and the key file with
//! derived per-graph secrets ([`keys`]). It holds no protocol logic of its own: the daemons
//! plug theirs in through [`peer::PeerHandler`], the store's key/value table and the watcher's
//! event log. See `docs/operations.md`.

pub mod config;
pub mod keys;
pub mod metrics;
pub mod peer;
pub mod rpc;
pub mod runtime;
pub mod signing;
pub mod store;
pub mod watcher;

pub use config::{Config, ConfigError, Member, ProgramKind, Role};
pub use keys::{KeyError, NodeKeys, Secret32};
pub use metrics::Metrics;
pub use peer::{Envelope, PeerApi, PeerClient, PeerHandler, PeerSettings, VerifiedMessage};
pub use rpc::{BitcoinRpc, HttpRpc, RpcAuth, RpcError};
pub use store::{Store, StoreError, StoreTx};
pub use watcher::{ChainEvent, PollReport, Watcher, WatcherConfig, WatcherError};
