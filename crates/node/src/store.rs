//! The node's durable state: one SQLite file with versioned migrations.
//!
//! Every state transition happens inside one SQL transaction ([`Store::transaction`]), and is
//! committed before the side effect it enables (write-ahead): a transaction is put into the
//! outbox before it is broadcast, a MuSig2 nonce is marked spent before its partial signature
//! leaves the process, a Winternitz key's message is recorded before the signature is released,
//! a peer message's answer is recorded together with the state change it caused. A crash at any
//! point therefore either loses the step entirely (it is redone) or finds it done (it is not
//! redone differently).
//!
//! Tables: `schema_migrations`, `blocks` (the watcher's local chain), `watched_txs`,
//! `watched_outpoints`, `outbox`, `chain_events` (the watcher's durable event log), `nonces`,
//! `winternitz`, `peer_messages`, `counters`, `kv` (daemon state machines).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::hashes::{sha256, Hash};
use bitcoin::{BlockHash, OutPoint, Transaction, Txid};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed while doing `op`.
    #[error("store: {op}: {source}")]
    Sqlite { op: &'static str, source: rusqlite::Error },
    /// The file is not a usable SQLite database.
    #[error("store file {path} is corrupt or not a bitvm2 store: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    /// The file was written by a newer version of this software.
    #[error("store schema version {found} is newer than this program knows ({known}); upgrade the program")]
    NewerSchema { found: u32, known: u32 },
    /// A stored value does not decode.
    #[error("store: stored {what} does not decode: {detail}")]
    Decode { what: &'static str, detail: String },
    /// No nonce was issued for this session.
    #[error("MuSig2 session {0:?}: no nonce was issued")]
    NonceUnknown(String),
    /// The session's nonce has been used already; it must never sign again.
    #[error("MuSig2 session {0:?}: the nonce has been spent already; start a new session")]
    NonceSpent(String),
    /// The Winternitz key signed a different message before.
    #[error("Winternitz key {key_id:?} already signed a different message (digest {signed}); refusing to sign {requested}")]
    WinternitzConflict { key_id: String, signed: String, requested: String },
    /// An entry that must exist does not.
    #[error("store: no {what} {key}")]
    Missing { what: &'static str, key: String },
}

fn sql(op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite { op, source }
}

/// Result type of this module.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The migrations, in order. Never edit one that has shipped; append a new one.
const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "initial schema",
        r#"
CREATE TABLE blocks (
    height INTEGER PRIMARY KEY,
    hash   TEXT NOT NULL UNIQUE,
    prev   TEXT NOT NULL
);
CREATE TABLE watched_txs (
    txid         TEXT PRIMARY KEY,
    label        TEXT NOT NULL,
    block_hash   TEXT,
    block_height INTEGER
);
CREATE TABLE watched_outpoints (
    txid         TEXT NOT NULL,
    vout         INTEGER NOT NULL,
    label        TEXT NOT NULL,
    spent_by     TEXT,
    block_hash   TEXT,
    block_height INTEGER,
    PRIMARY KEY (txid, vout)
);
CREATE TABLE outbox (
    id         TEXT PRIMARY KEY,
    label      TEXT NOT NULL,
    txs        BLOB NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('active', 'closed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE chain_events (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL
);
CREATE TABLE nonces (
    session_id TEXT PRIMARY KEY,
    counter    INTEGER NOT NULL UNIQUE,
    pub_nonce  BLOB NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('issued', 'spent')),
    message    BLOB,
    issued_at  INTEGER NOT NULL,
    spent_at   INTEGER
);
CREATE TABLE winternitz (
    key_id    TEXT PRIMARY KEY,
    message   BLOB NOT NULL,
    signed_at INTEGER NOT NULL
);
CREATE TABLE peer_messages (
    sender      TEXT NOT NULL,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    response    BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (sender, id)
);
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE kv (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
);
"#,
    ),
    (
        2,
        "outbox conflict height",
        r#"
ALTER TABLE outbox ADD COLUMN conflict_height INTEGER;
"#,
    ),
];

/// The schema version this program writes.
pub const SCHEMA_VERSION: u32 = 2;

/// Tables reported by [`Store::row_counts`].
pub const TABLES: &[&str] = &[
    "blocks",
    "watched_txs",
    "watched_outpoints",
    "outbox",
    "chain_events",
    "nonces",
    "winternitz",
    "peer_messages",
    "counters",
    "kv",
];

/// The SQLite store. Cheap to share behind an `Arc`; calls are serialized by a mutex (SQLite
/// work here is small and local).
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    commits: AtomicU64,
    rollbacks: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if absent) the store at `path` and applies pending migrations. A file
    /// that is not a SQLite database, or fails SQLite's integrity check, gives
    /// [`StoreError::Corrupt`].
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(|e| StoreError::Corrupt { path: path.to_owned(), detail: e.to_string() })?;
        Self::init(conn, path.to_owned())
    }

    /// A store in memory (tests).
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(sql("open in memory"))?;
        Self::init(conn, PathBuf::from(":memory:"))
    }

    fn init(conn: Connection, path: PathBuf) -> Result<Self> {
        let corrupt = |e: rusqlite::Error| StoreError::Corrupt { path: path.clone(), detail: e.to_string() };
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(corrupt)?;
        // The first real read: fails with "file is not a database" on a foreign file.
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(corrupt)?;
        if check != "ok" {
            return Err(StoreError::Corrupt { path, detail: format!("integrity check: {check}") });
        }
        conn.pragma_update(None, "journal_mode", "WAL").map_err(corrupt)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(corrupt)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )
        .map_err(corrupt)?;
        let store = Store { conn: Mutex::new(conn), path, commits: AtomicU64::new(0), rollbacks: AtomicU64::new(0) };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let current: u32 = conn
            .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
            .map_err(sql("read schema version"))?;
        if current > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { found: current, known: SCHEMA_VERSION });
        }
        for (version, name, ddl) in MIGRATIONS.iter().filter(|m| m.0 > current) {
            let tx = conn.transaction().map_err(sql("begin migration"))?;
            tx.execute_batch(ddl).map_err(sql("apply migration"))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                params![version, name, now_secs()],
            )
            .map_err(sql("record migration"))?;
            tx.commit().map_err(sql("commit migration"))?;
            tracing::info!(version, name, "store migration applied");
        }
        Ok(())
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<u32> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
            .map_err(sql("read schema version"))
    }

    /// Runs `f` inside one SQL transaction: committed if `f` returns `Ok`, rolled back (nothing
    /// changes) if it returns `Err`.
    pub fn transaction<T, E: From<StoreError>>(&self, f: impl FnOnce(&StoreTx<'_>) -> Result<T, E>) -> Result<T, E> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| E::from(StoreError::Sqlite { op: "begin", source: e }))?;
        let stx = StoreTx { tx };
        match f(&stx) {
            Ok(v) => {
                stx.tx.commit().map_err(|e| E::from(StoreError::Sqlite { op: "commit", source: e }))?;
                self.commits.fetch_add(1, Ordering::Relaxed);
                Ok(v)
            }
            Err(e) => {
                drop(stx); // rolls back
                self.rollbacks.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Shorthand for a transaction whose closure fails only with [`StoreError`].
    pub fn with<T>(&self, f: impl FnOnce(&StoreTx<'_>) -> Result<T>) -> Result<T> {
        self.transaction(f)
    }

    /// Committed transactions since open (for metrics).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Rolled-back transactions since open (for metrics).
    pub fn rollbacks(&self) -> u64 {
        self.rollbacks.load(Ordering::Relaxed)
    }

    /// Rows per table (for /status and tests).
    pub fn row_counts(&self) -> Result<BTreeMap<String, u64>> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = BTreeMap::new();
        for t in TABLES {
            let n: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .map_err(sql("count rows"))?;
            out.insert((*t).to_owned(), n as u64);
        }
        Ok(out)
    }
}

/// A block of the local chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRecord {
    /// Height in the best chain.
    pub height: u64,
    /// Its hash.
    pub hash: BlockHash,
    /// Its parent's hash.
    pub prev: BlockHash,
}

/// A watched transaction and where it confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedTx {
    /// The txid.
    pub txid: Txid,
    /// The daemon's label (e.g. `kickoff/<graph>`).
    pub label: String,
    /// The block it confirmed in, if any (height, hash).
    pub confirmed: Option<(u64, BlockHash)>,
}

/// A watched outpoint and who spent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedOutpoint {
    /// The outpoint.
    pub outpoint: OutPoint,
    /// The daemon's label.
    pub label: String,
    /// The spending transaction and its block (txid, height, hash), if spent in the chain.
    pub spent: Option<(Txid, u64, BlockHash)>,
}

/// An outbox entry: one transaction, or a package (parents first, child last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The txid of the last transaction.
    pub id: Txid,
    /// The daemon's label.
    pub label: String,
    /// The transactions.
    pub txs: Vec<Transaction>,
    /// Broadcast attempts so far.
    pub attempts: u64,
    /// The node's last rejection, if the last attempt failed.
    pub last_error: Option<String>,
}

/// A MuSig2 nonce record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceRecord {
    /// The session id (unique per signing session, e.g. graph id / tx / input).
    pub session_id: String,
    /// The store-issued counter the secret nonce is derived from.
    pub counter: u64,
    /// The public nonce that was issued.
    pub pub_nonce: Vec<u8>,
    /// Whether a partial signature has been made with it.
    pub spent: bool,
    /// The message it signed, once spent.
    pub message: Option<Vec<u8>>,
}

/// Whether a Winternitz signing was the first for its key or a repeat of the same message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WinternitzUse {
    /// First signature with this key: recorded now.
    First,
    /// The key already signed exactly this message (signing again reveals nothing new).
    Repeat,
}

/// A recorded peer message and the answer given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerMessageRecord {
    /// Message kind.
    pub kind: String,
    /// Digest of the signed content (a reused id with other content is refused).
    pub digest: [u8; 32],
    /// The answer that was returned.
    pub response: Vec<u8>,
}

/// An open SQL transaction with the store's typed operations.
pub struct StoreTx<'c> {
    tx: rusqlite::Transaction<'c>,
}

fn parse_col<T: std::str::FromStr>(what: &'static str, s: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e: T::Err| StoreError::Decode { what, detail: format!("{s:?}: {e}") })
}

fn encode_txs(txs: &[Transaction]) -> Vec<u8> {
    serialize(&txs.to_vec())
}

fn decode_txs(b: &[u8]) -> Result<Vec<Transaction>> {
    deserialize(b).map_err(|e| StoreError::Decode { what: "outbox transactions", detail: e.to_string() })
}

impl StoreTx<'_> {
    /// The underlying SQL transaction, for daemon-specific tables (add them with a migration
    /// of your own namespace, or prefer [`StoreTx::kv_put`]).
    pub fn sql(&self) -> &rusqlite::Transaction<'_> {
        &self.tx
    }

    // ---- chain ----

    /// The highest block of the local chain.
    pub fn tip(&self) -> Result<Option<BlockRecord>> {
        self.block_where("ORDER BY height DESC LIMIT 1", [])
    }

    /// The local block at `height`.
    pub fn block_at(&self, height: u64) -> Result<Option<BlockRecord>> {
        self.block_where("WHERE height = ?1", [height as i64])
    }

    fn block_where<P: rusqlite::Params>(&self, clause: &str, p: P) -> Result<Option<BlockRecord>> {
        let row: Option<(i64, String, String)> = self
            .tx
            .query_row(&format!("SELECT height, hash, prev FROM blocks {clause}"), p, |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(sql("read block"))?;
        row.map(|(h, hash, prev)| {
            Ok(BlockRecord { height: h as u64, hash: parse_col("block hash", &hash)?, prev: parse_col("block hash", &prev)? })
        })
        .transpose()
    }

    /// Appends a block to the local chain.
    pub fn insert_block(&self, b: &BlockRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO blocks (height, hash, prev) VALUES (?1, ?2, ?3)",
                params![b.height as i64, b.hash.to_string(), b.prev.to_string()],
            )
            .map_err(sql("insert block"))?;
        Ok(())
    }

    /// Removes the local block at `height` (it was disconnected).
    pub fn remove_block(&self, height: u64) -> Result<()> {
        self.tx.execute("DELETE FROM blocks WHERE height = ?1", [height as i64]).map_err(sql("remove block"))?;
        Ok(())
    }

    /// Forgets local blocks below `height` (deeper than any reorg we follow).
    pub fn prune_blocks_below(&self, height: u64) -> Result<usize> {
        self.tx.execute("DELETE FROM blocks WHERE height < ?1", [height as i64]).map_err(sql("prune blocks"))
    }

    /// The lowest height still held locally.
    pub fn lowest_block_height(&self) -> Result<Option<u64>> {
        let v: Option<i64> =
            self.tx.query_row("SELECT MIN(height) FROM blocks", [], |r| r.get(0)).map_err(sql("read blocks"))?;
        Ok(v.map(|h| h as u64))
    }

    // ---- watched transactions ----

    /// Starts watching `txid` (no-op if watched already).
    pub fn watch_tx(&self, txid: &Txid, label: &str) -> Result<()> {
        self.tx
            .execute("INSERT OR IGNORE INTO watched_txs (txid, label) VALUES (?1, ?2)", params![txid.to_string(), label])
            .map_err(sql("watch tx"))?;
        Ok(())
    }

    /// Stops watching `txid`.
    pub fn unwatch_tx(&self, txid: &Txid) -> Result<()> {
        self.tx.execute("DELETE FROM watched_txs WHERE txid = ?1", [txid.to_string()]).map_err(sql("unwatch tx"))?;
        Ok(())
    }

    /// A watched transaction.
    pub fn watched_tx(&self, txid: &Txid) -> Result<Option<WatchedTx>> {
        Ok(self.watched_txs_where("WHERE txid = ?1", [txid.to_string()])?.pop())
    }

    /// Every watched transaction.
    pub fn watched_txs(&self) -> Result<Vec<WatchedTx>> {
        self.watched_txs_where("", [])
    }

    fn watched_txs_where<P: rusqlite::Params>(&self, clause: &str, p: P) -> Result<Vec<WatchedTx>> {
        let mut stmt = self
            .tx
            .prepare(&format!("SELECT txid, label, block_height, block_hash FROM watched_txs {clause} ORDER BY txid"))
            .map_err(sql("read watched txs"))?;
        let rows = stmt
            .query_map(p, |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<i64>>(2)?, r.get::<_, Option<String>>(3)?))
            })
            .map_err(sql("read watched txs"))?;
        let mut out = Vec::new();
        for row in rows {
            let (txid, label, h, hash) = row.map_err(sql("read watched txs"))?;
            let confirmed = match (h, hash) {
                (Some(h), Some(hash)) => Some((h as u64, parse_col("block hash", &hash)?)),
                _ => None,
            };
            out.push(WatchedTx { txid: parse_col("txid", &txid)?, label, confirmed });
        }
        Ok(out)
    }

    /// Records that a watched transaction confirmed in `block`.
    pub fn set_tx_confirmed(&self, txid: &Txid, height: u64, block: &BlockHash) -> Result<()> {
        self.tx
            .execute(
                "UPDATE watched_txs SET block_height = ?2, block_hash = ?3 WHERE txid = ?1",
                params![txid.to_string(), height as i64, block.to_string()],
            )
            .map_err(sql("confirm tx"))?;
        Ok(())
    }

    /// Watched transactions confirmed in the block at `height`; they become unconfirmed.
    pub fn unconfirm_txs_at(&self, height: u64) -> Result<Vec<Txid>> {
        let txs = self.watched_txs_where("WHERE block_height = ?1", [height as i64])?;
        self.tx
            .execute("UPDATE watched_txs SET block_height = NULL, block_hash = NULL WHERE block_height = ?1", [height as i64])
            .map_err(sql("unconfirm txs"))?;
        Ok(txs.into_iter().map(|t| t.txid).collect())
    }

    // ---- watched outpoints ----

    /// Starts watching `outpoint` for a spend (no-op if watched already).
    pub fn watch_outpoint(&self, outpoint: &OutPoint, label: &str) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR IGNORE INTO watched_outpoints (txid, vout, label) VALUES (?1, ?2, ?3)",
                params![outpoint.txid.to_string(), outpoint.vout, label],
            )
            .map_err(sql("watch outpoint"))?;
        Ok(())
    }

    /// A watched outpoint.
    pub fn watched_outpoint(&self, outpoint: &OutPoint) -> Result<Option<WatchedOutpoint>> {
        Ok(self
            .watched_outpoints_where("WHERE txid = ?1 AND vout = ?2", params![outpoint.txid.to_string(), outpoint.vout])?
            .pop())
    }

    /// Every watched outpoint.
    pub fn watched_outpoints(&self) -> Result<Vec<WatchedOutpoint>> {
        self.watched_outpoints_where("", [])
    }

    fn watched_outpoints_where<P: rusqlite::Params>(&self, clause: &str, p: P) -> Result<Vec<WatchedOutpoint>> {
        let mut stmt = self
            .tx
            .prepare(&format!(
                "SELECT txid, vout, label, spent_by, block_height, block_hash FROM watched_outpoints {clause} ORDER BY txid, vout"
            ))
            .map_err(sql("read watched outpoints"))?;
        let rows = stmt
            .query_map(p, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(sql("read watched outpoints"))?;
        let mut out = Vec::new();
        for row in rows {
            let (txid, vout, label, by, h, hash) = row.map_err(sql("read watched outpoints"))?;
            let spent = match (by, h, hash) {
                (Some(by), Some(h), Some(hash)) => {
                    Some((parse_col("txid", &by)?, h as u64, parse_col("block hash", &hash)?))
                }
                _ => None,
            };
            out.push(WatchedOutpoint { outpoint: OutPoint { txid: parse_col("txid", &txid)?, vout }, label, spent });
        }
        Ok(out)
    }

    /// Records that a watched outpoint was spent by `by` in `block`.
    pub fn set_outpoint_spent(&self, outpoint: &OutPoint, by: &Txid, height: u64, block: &BlockHash) -> Result<()> {
        self.tx
            .execute(
                "UPDATE watched_outpoints SET spent_by = ?3, block_height = ?4, block_hash = ?5 WHERE txid = ?1 AND vout = ?2",
                params![outpoint.txid.to_string(), outpoint.vout, by.to_string(), height as i64, block.to_string()],
            )
            .map_err(sql("mark outpoint spent"))?;
        Ok(())
    }

    /// Watched outpoints spent in the block at `height`; they become unspent again.
    pub fn unspend_outpoints_at(&self, height: u64) -> Result<Vec<OutPoint>> {
        let ops = self.watched_outpoints_where("WHERE block_height = ?1", [height as i64])?;
        self.tx
            .execute(
                "UPDATE watched_outpoints SET spent_by = NULL, block_height = NULL, block_hash = NULL WHERE block_height = ?1",
                [height as i64],
            )
            .map_err(sql("unspend outpoints"))?;
        Ok(ops.into_iter().map(|o| o.outpoint).collect())
    }

    // ---- outbox ----

    /// Puts one transaction or a package (parents first) into the outbox, and watches each
    /// of its transactions. Write this before broadcasting. Returns the last txid (the entry's
    /// id); adding the same entry again changes nothing.
    pub fn outbox_add(&self, txs: &[Transaction], label: &str) -> Result<Txid> {
        let last = txs.last().ok_or(StoreError::Missing { what: "transaction in outbox entry", key: label.into() })?;
        let id = last.compute_txid();
        self.tx
            .execute(
                "INSERT OR IGNORE INTO outbox (id, label, txs, state, created_at) VALUES (?1, ?2, ?3, 'active', ?4)",
                params![id.to_string(), label, encode_txs(txs), now_secs()],
            )
            .map_err(sql("add to outbox"))?;
        for t in txs {
            self.watch_tx(&t.compute_txid(), label)?;
        }
        Ok(id)
    }

    /// Active outbox entries (those the watcher keeps in the mempool or chain).
    pub fn outbox_active(&self) -> Result<Vec<OutboxEntry>> {
        self.outbox_where("WHERE o.state = 'active'")
    }

    /// Active outbox entries whose last transaction is not confirmed in our view of the chain
    /// (what may need a re-broadcast; a reorg that unconfirms it brings the entry back). The
    /// others are not decoded: a Groth16 assertion leaves hundreds of large entries.
    pub fn outbox_unconfirmed(&self) -> Result<Vec<OutboxEntry>> {
        self.outbox_where("LEFT JOIN watched_txs w ON w.txid = o.id WHERE o.state = 'active' AND w.block_height IS NULL")
    }

    fn outbox_where(&self, clause: &str) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self
            .tx
            .prepare(&format!("SELECT o.id, o.label, o.txs, o.attempts, o.last_error FROM outbox o {clause} ORDER BY o.created_at, o.id"))
            .map_err(sql("read outbox"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(sql("read outbox"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, label, txs, attempts, last_error) = row.map_err(sql("read outbox"))?;
            out.push(OutboxEntry {
                id: parse_col("txid", &id)?,
                label,
                txs: decode_txs(&txs)?,
                attempts: attempts as u64,
                last_error,
            });
        }
        Ok(out)
    }

    /// Records a broadcast attempt and its outcome.
    pub fn outbox_attempt(&self, id: &Txid, error: Option<&str>) -> Result<()> {
        let n = self
            .tx
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id.to_string(), error],
            )
            .map_err(sql("record outbox attempt"))?;
        if n == 0 {
            return Err(StoreError::Missing { what: "outbox entry", key: id.to_string() });
        }
        Ok(())
    }

    /// Sets an entry's last error without counting an attempt (e.g. a conflict seen on chain).
    pub fn outbox_note(&self, id: &Txid, error: &str) -> Result<()> {
        self.tx
            .execute("UPDATE outbox SET last_error = ?2 WHERE id = ?1", params![id.to_string(), error])
            .map_err(sql("note outbox error"))?;
        Ok(())
    }

    /// Records that an input of the entry was spent on chain at `height` by a transaction that
    /// is not ours (the lowest such height is kept).
    pub fn outbox_conflict(&self, id: &Txid, height: u64) -> Result<()> {
        self.tx
            .execute(
                "UPDATE outbox SET conflict_height = MIN(COALESCE(conflict_height, ?2), ?2) WHERE id = ?1",
                params![id.to_string(), height as i64],
            )
            .map_err(sql("record outbox conflict"))?;
        Ok(())
    }

    /// Forgets conflicts recorded at `height` or above (their blocks were disconnected).
    pub fn outbox_forget_conflicts_from(&self, height: u64) -> Result<()> {
        self.tx
            .execute("UPDATE outbox SET conflict_height = NULL WHERE conflict_height >= ?1", [height as i64])
            .map_err(sql("forget outbox conflicts"))?;
        Ok(())
    }

    /// Closes every active entry whose conflicting spend is at or below `height` (buried deeper
    /// than any reorg we follow, so the entry can never confirm). Returns the closed entries'
    /// ids with their conflict heights.
    pub fn outbox_close_conflicted_at_or_below(&self, height: u64) -> Result<Vec<(Txid, u64)>> {
        let rows: Vec<(String, i64)> = {
            let mut stmt = self
                .tx
                .prepare(
                    "SELECT id, conflict_height FROM outbox WHERE state = 'active' AND conflict_height IS NOT NULL \
                     AND conflict_height <= ?1 ORDER BY created_at, id",
                )
                .map_err(sql("read conflicted outbox entries"))?;
            let rows = stmt
                .query_map([height as i64], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql("read conflicted outbox entries"))?
                .collect::<std::result::Result<_, _>>()
                .map_err(sql("read conflicted outbox entries"))?;
            rows
        };
        let mut out = Vec::with_capacity(rows.len());
        for (id, h) in rows {
            let id: Txid = parse_col("txid", &id)?;
            self.tx
                .execute(
                    "UPDATE outbox SET state = 'closed', last_error = ?2 WHERE id = ?1",
                    params![id.to_string(), format!("closed: a conflicting spend at height {h} is final")],
                )
                .map_err(sql("close conflicted outbox entry"))?;
            out.push((id, h as u64));
        }
        Ok(out)
    }

    /// Closes an outbox entry (final, or abandoned): the watcher stops re-broadcasting it.
    pub fn outbox_close(&self, id: &Txid) -> Result<()> {
        self.tx.execute("UPDATE outbox SET state = 'closed' WHERE id = ?1", [id.to_string()]).map_err(sql("close outbox"))?;
        Ok(())
    }

    // ---- chain events ----

    /// Appends an event to the durable log; returns its sequence number.
    pub fn push_event<E: Serialize>(&self, event: &E) -> Result<u64> {
        let text = serde_json::to_string(event).map_err(|e| StoreError::Decode { what: "event", detail: e.to_string() })?;
        self.tx.execute("INSERT INTO chain_events (event) VALUES (?1)", [text]).map_err(sql("append event"))?;
        Ok(self.tx.last_insert_rowid() as u64)
    }

    /// Events with sequence number above `after`, oldest first, at most `limit`.
    pub fn events_after<E: for<'de> Deserialize<'de>>(&self, after: u64, limit: usize) -> Result<Vec<(u64, E)>> {
        let mut stmt = self
            .tx
            .prepare("SELECT seq, event FROM chain_events WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(sql("read events"))?;
        let rows = stmt
            .query_map(params![after as i64, limit as i64], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(sql("read events"))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, text) = row.map_err(sql("read events"))?;
            let ev = serde_json::from_str(&text).map_err(|e| StoreError::Decode { what: "event", detail: e.to_string() })?;
            out.push((seq as u64, ev));
        }
        Ok(out)
    }

    // ---- counters ----

    /// Increments and returns a named monotonic counter (starts at 1). Never goes back.
    pub fn next_counter(&self, name: &str) -> Result<u64> {
        self.tx
            .execute(
                "INSERT INTO counters (name, value) VALUES (?1, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1",
                [name],
            )
            .map_err(sql("bump counter"))?;
        let v: i64 =
            self.tx.query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| r.get(0)).map_err(sql("read counter"))?;
        Ok(v as u64)
    }

    // ---- MuSig2 nonces ----

    /// Issues the nonce of `session_id`: takes a fresh counter (never used before), lets
    /// `make_pub_nonce(counter)` derive the public nonce (derive the secret nonce from
    /// [`crate::keys::NodeKeys::musig2_nonce_seed`] with the same counter), and records it as
    /// issued. If the session has a nonce already, returns that record unchanged (idempotent).
    pub fn issue_nonce<E: From<StoreError>>(
        &self,
        session_id: &str,
        make_pub_nonce: impl FnOnce(u64) -> Result<Vec<u8>, E>,
    ) -> Result<NonceRecord, E> {
        if let Some(rec) = self.nonce(session_id)? {
            return Ok(rec);
        }
        let counter = self.next_counter("musig2-nonce")?;
        let pub_nonce = make_pub_nonce(counter)?;
        self.tx
            .execute(
                "INSERT INTO nonces (session_id, counter, pub_nonce, state, issued_at) VALUES (?1, ?2, ?3, 'issued', ?4)",
                params![session_id, counter as i64, pub_nonce, now_secs()],
            )
            .map_err(|e| E::from(StoreError::Sqlite { op: "issue nonce", source: e }))?;
        Ok(NonceRecord { session_id: session_id.into(), counter, pub_nonce, spent: false, message: None })
    }

    /// The nonce record of `session_id`.
    pub fn nonce(&self, session_id: &str) -> Result<Option<NonceRecord>> {
        type Row = (i64, Vec<u8>, String, Option<Vec<u8>>);
        let row: Option<Row> = self
            .tx
            .query_row("SELECT counter, pub_nonce, state, message FROM nonces WHERE session_id = ?1", [session_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
            .map_err(sql("read nonce"))?;
        Ok(row.map(|(counter, pub_nonce, state, message)| NonceRecord {
            session_id: session_id.into(),
            counter: counter as u64,
            pub_nonce,
            spent: state == "spent",
            message,
        }))
    }

    /// Marks the session's nonce spent for `message` and returns its counter, so the caller
    /// can derive the secret nonce and sign. Commit this transaction BEFORE the partial
    /// signature leaves the process. A spent nonce is refused ([`StoreError::NonceSpent`]),
    /// whatever the message: keep the partial signature (e.g. in `kv`) to answer a replay.
    pub fn spend_nonce(&self, session_id: &str, message: &[u8]) -> Result<u64> {
        let rec = self.nonce(session_id)?.ok_or_else(|| StoreError::NonceUnknown(session_id.into()))?;
        if rec.spent {
            return Err(StoreError::NonceSpent(session_id.into()));
        }
        let n = self
            .tx
            .execute(
                "UPDATE nonces SET state = 'spent', message = ?2, spent_at = ?3 WHERE session_id = ?1 AND state = 'issued'",
                params![session_id, message, now_secs()],
            )
            .map_err(sql("spend nonce"))?;
        if n != 1 {
            return Err(StoreError::NonceSpent(session_id.into()));
        }
        Ok(rec.counter)
    }

    // ---- Winternitz ----

    /// Records that Winternitz key `key_id` signs `message`. Refuses a different message for a
    /// key that signed before ([`StoreError::WinternitzConflict`]); the same message again is
    /// [`WinternitzUse::Repeat`]. Commit before releasing the signature.
    pub fn record_winternitz(&self, key_id: &str, message: &[u8]) -> Result<WinternitzUse> {
        let prev: Option<Vec<u8>> = self
            .tx
            .query_row("SELECT message FROM winternitz WHERE key_id = ?1", [key_id], |r| r.get(0))
            .optional()
            .map_err(sql("read winternitz use"))?;
        match prev {
            Some(p) if p == message => Ok(WinternitzUse::Repeat),
            Some(p) => Err(StoreError::WinternitzConflict {
                key_id: key_id.into(),
                signed: short_digest(&p),
                requested: short_digest(message),
            }),
            None => {
                self.tx
                    .execute(
                        "INSERT INTO winternitz (key_id, message, signed_at) VALUES (?1, ?2, ?3)",
                        params![key_id, message, now_secs()],
                    )
                    .map_err(sql("record winternitz use"))?;
                Ok(WinternitzUse::First)
            }
        }
    }

    // ---- peer messages ----

    /// The recorded answer to message `id` from `sender`, if it was processed.
    pub fn peer_message(&self, sender: &str, id: &str) -> Result<Option<PeerMessageRecord>> {
        let row: Option<(String, String, Vec<u8>)> = self
            .tx
            .query_row("SELECT kind, digest, response FROM peer_messages WHERE sender = ?1 AND id = ?2", [sender, id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(sql("read peer message"))?;
        row.map(|(kind, digest, response)| {
            let d = hex::decode(&digest)
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v).ok())
                .ok_or(StoreError::Decode { what: "peer message digest", detail: digest.clone() })?;
            Ok(PeerMessageRecord { kind, digest: d, response })
        })
        .transpose()
    }

    /// Records that message `id` from `sender` was processed with this answer.
    pub fn record_peer_message(&self, sender: &str, id: &str, rec: &PeerMessageRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO peer_messages (sender, id, kind, digest, response, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![sender, id, rec.kind, hex::encode(rec.digest), rec.response, now_secs()],
            )
            .map_err(sql("record peer message"))?;
        Ok(())
    }

    // ---- key/value ----

    /// Reads a value.
    pub fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.tx
            .query_row("SELECT value FROM kv WHERE namespace = ?1 AND key = ?2", [namespace, key], |r| r.get(0))
            .optional()
            .map_err(sql("read kv"))
    }

    /// Writes a value (insert or replace).
    pub fn kv_put(&self, namespace: &str, key: &str, value: &[u8]) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO kv (namespace, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![namespace, key, value, now_secs()],
            )
            .map_err(sql("write kv"))?;
        Ok(())
    }

    /// Deletes a value; returns whether it existed.
    pub fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool> {
        let n = self
            .tx
            .execute("DELETE FROM kv WHERE namespace = ?1 AND key = ?2", [namespace, key])
            .map_err(sql("delete kv"))?;
        Ok(n > 0)
    }

    /// Every (key, value) of a namespace, ordered by key.
    pub fn kv_list(&self, namespace: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let mut stmt =
            self.tx.prepare("SELECT key, value FROM kv WHERE namespace = ?1 ORDER BY key").map_err(sql("list kv"))?;
        let rows = stmt.query_map([namespace], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sql("list kv"))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sql("list kv"))
    }
}

fn short_digest(m: &[u8]) -> String {
    hex::encode(&sha256::Hash::hash(m).to_byte_array()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.sqlite")).unwrap();
        (dir, s)
    }

    #[test]
    fn migrations_apply_once_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        s.with(|t| t.kv_put("ns", "k", b"v")).unwrap();
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.with(|t| t.kv_get("ns", "k")).unwrap(), Some(b"v".to_vec()));
        let n: i64 = s.conn.lock().unwrap().query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(n, MIGRATIONS.len() as i64);
    }

    #[test]
    fn corrupt_and_newer_files_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.sqlite");
        std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("junk.sqlite") && err.to_string().contains("not a database"), "{err}");
        // The junk is left as it was (nothing lost).
        assert_eq!(std::fs::read(&path).unwrap(), vec![0x42u8; 8192]);

        let path = dir.path().join("newer.sqlite");
        let s = Store::open(&path).unwrap();
        s.conn.lock().unwrap().execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)", []).unwrap();
        drop(s);
        assert!(matches!(Store::open(&path).unwrap_err(), StoreError::NewerSchema { found: 99, .. }));
    }

    #[test]
    fn failed_transaction_changes_nothing() {
        let (_d, s) = store();
        let before = s.row_counts().unwrap();
        let r: Result<()> = s.with(|t| {
            t.kv_put("ns", "a", b"1")?;
            t.watch_tx(&Txid::all_zeros(), "x")?;
            Err(StoreError::Missing { what: "thing", key: "k".into() })
        });
        assert!(r.is_err());
        assert_eq!(s.row_counts().unwrap(), before);
        assert_eq!(s.rollbacks(), 1);
    }

    #[test]
    fn nonce_is_spent_at_most_once_and_counters_never_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let s = Store::open(&path).unwrap();
        let a = s.with(|t| t.issue_nonce("A", |c| Ok::<_, StoreError>(vec![c as u8; 66]))).unwrap();
        // Idempotent: asking again gives the same record, the closure is not called.
        let a2 = s.with(|t| t.issue_nonce::<StoreError>("A", |_| panic!("must not derive again"))).unwrap();
        assert_eq!(a, a2);
        let counter = s.with(|t| t.spend_nonce("A", b"msg")).unwrap();
        assert_eq!(counter, a.counter);
        // Spent: refused for the same or another message, also after a restart.
        assert!(matches!(s.with(|t| t.spend_nonce("A", b"msg")), Err(StoreError::NonceSpent(_))));
        drop(s);
        let s = Store::open(&path).unwrap();
        assert!(matches!(s.with(|t| t.spend_nonce("A", b"other")), Err(StoreError::NonceSpent(_))));
        assert!(matches!(s.with(|t| t.spend_nonce("B", b"m")), Err(StoreError::NonceUnknown(_))));
        // A failed issuance (closure error) rolls back but the next counter is still fresh.
        let r = s.with(|t| t.issue_nonce("B", |_| Err(StoreError::Missing { what: "x", key: "y".into() })));
        assert!(r.is_err());
        let b = s.with(|t| t.issue_nonce("B", |c| Ok::<_, StoreError>(vec![c as u8]))).unwrap();
        assert!(b.counter > a.counter);
        let rec = s.with(|t| t.nonce("A")).unwrap().unwrap();
        assert!(rec.spent && rec.message.as_deref() == Some(&b"msg"[..]));
    }

    #[test]
    fn winternitz_key_signs_one_message_only() {
        let (_d, s) = store();
        assert_eq!(s.with(|t| t.record_winternitz("g1/kickoff/0", b"m1")).unwrap(), WinternitzUse::First);
        assert_eq!(s.with(|t| t.record_winternitz("g1/kickoff/0", b"m1")).unwrap(), WinternitzUse::Repeat);
        let err = s.with(|t| t.record_winternitz("g1/kickoff/0", b"m2")).unwrap_err();
        assert!(matches!(err, StoreError::WinternitzConflict { .. }), "{err}");
        assert!(err.to_string().contains("g1/kickoff/0"));
        assert_eq!(s.with(|t| t.record_winternitz("g1/kickoff/1", b"m2")).unwrap(), WinternitzUse::First);
    }

    #[test]
    fn chain_watch_and_outbox_round_trip() {
        let (_d, s) = store();
        let h = |b: u8| BlockHash::from_byte_array([b; 32]);
        s.with(|t| {
            t.insert_block(&BlockRecord { height: 10, hash: h(10), prev: h(9) })?;
            t.insert_block(&BlockRecord { height: 11, hash: h(11), prev: h(10) })
        })
        .unwrap();
        assert_eq!(s.with(|t| t.tip()).unwrap().unwrap().hash, h(11));
        // A block at an existing height is refused (linkage is the watcher's job, uniqueness ours).
        assert!(s.with(|t| t.insert_block(&BlockRecord { height: 11, hash: h(12), prev: h(10) })).is_err());
        let txid = Txid::from_byte_array([1; 32]);
        let op = OutPoint { txid, vout: 3 };
        s.with(|t| {
            t.watch_tx(&txid, "kickoff")?;
            t.watch_outpoint(&op, "connector")?;
            t.set_tx_confirmed(&txid, 11, &h(11))?;
            t.set_outpoint_spent(&op, &txid, 11, &h(11))
        })
        .unwrap();
        assert_eq!(s.with(|t| t.watched_tx(&txid)).unwrap().unwrap().confirmed, Some((11, h(11))));
        assert_eq!(s.with(|t| t.unconfirm_txs_at(11)).unwrap(), vec![txid]);
        assert_eq!(s.with(|t| t.unspend_outpoints_at(11)).unwrap(), vec![op]);
        assert_eq!(s.with(|t| t.watched_outpoint(&op)).unwrap().unwrap().spent, None);

        let tx = Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![],
            output: vec![bitcoin::TxOut { value: bitcoin::Amount::from_sat(1), script_pubkey: Default::default() }],
        };
        let id = s.with(|t| t.outbox_add(std::slice::from_ref(&tx), "payout")).unwrap();
        assert_eq!(s.with(|t| t.outbox_add(std::slice::from_ref(&tx), "payout")).unwrap(), id, "idempotent");
        s.with(|t| t.outbox_attempt(&id, Some("bad-txns"))).unwrap();
        let active = s.with(|t| t.outbox_active()).unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!((active[0].attempts, active[0].last_error.as_deref()), (1, Some("bad-txns")));
        assert_eq!(active[0].txs, vec![tx]);
        assert!(s.with(|t| t.watched_tx(&id)).unwrap().is_some(), "outbox txs are watched");
        // Confirmed: still active (a reorg may need it again) but not re-broadcast material;
        // unconfirmed again by a reorg, it is.
        assert_eq!(s.with(|t| t.outbox_unconfirmed()).unwrap().len(), 1);
        let block = bitcoin::BlockHash::all_zeros();
        s.with(|t| t.set_tx_confirmed(&id, 7, &block)).unwrap();
        assert!(s.with(|t| t.outbox_unconfirmed()).unwrap().is_empty());
        assert_eq!(s.with(|t| t.outbox_active()).unwrap().len(), 1);
        s.with(|t| t.unconfirm_txs_at(7)).unwrap();
        assert_eq!(s.with(|t| t.outbox_unconfirmed()).unwrap().len(), 1);
        s.with(|t| t.outbox_close(&id)).unwrap();
        assert!(s.with(|t| t.outbox_active()).unwrap().is_empty());
    }

    fn outbox_tx(tag: u64) -> Transaction {
        Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![],
            output: vec![bitcoin::TxOut { value: bitcoin::Amount::from_sat(tag), script_pubkey: Default::default() }],
        }
    }

    #[test]
    fn outbox_entries_close_once_their_conflict_is_final_and_reorged_conflicts_are_forgotten() {
        let (_d, s) = store();
        let a = s.with(|t| t.outbox_add(&[outbox_tx(1)], "challenge")).unwrap();
        let b = s.with(|t| t.outbox_add(&[outbox_tx(2)], "disprove")).unwrap();
        let c = s.with(|t| t.outbox_add(&[outbox_tx(3)], "assert")).unwrap();
        // a: conflicts at 20 and again at 25 (the lowest height counts); b: at 30, then reorged
        // away; c: no conflict.
        s.with(|t| {
            t.outbox_conflict(&a, 25)?;
            t.outbox_conflict(&a, 20)?;
            t.outbox_conflict(&a, 26)?;
            t.outbox_conflict(&b, 30)
        })
        .unwrap();
        assert!(s.with(|t| t.outbox_close_conflicted_at_or_below(19)).unwrap().is_empty(), "not final yet");
        s.with(|t| t.outbox_forget_conflicts_from(30)).unwrap();
        assert_eq!(s.with(|t| t.outbox_close_conflicted_at_or_below(20)).unwrap(), vec![(a, 20)]);
        assert!(s.with(|t| t.outbox_close_conflicted_at_or_below(1000)).unwrap().is_empty(), "b forgotten, a closed once");
        let active: Vec<Txid> = s.with(|t| t.outbox_active()).unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(active, vec![b, c]);
        let closed_note: Option<String> = s
            .conn
            .lock()
            .unwrap()
            .query_row("SELECT last_error FROM outbox WHERE id = ?1", [a.to_string()], |r| r.get(0))
            .unwrap();
        assert_eq!(closed_note.as_deref(), Some("closed: a conflicting spend at height 20 is final"));
    }

    #[test]
    fn a_version_1_store_gains_the_conflict_column_and_keeps_its_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.sqlite");
        let id = {
            let s = Store::open(&path).unwrap();
            let id = s.with(|t| t.outbox_add(&[outbox_tx(7)], "payout")).unwrap();
            // Roll the file back to schema 1 as an older daemon left it.
            let conn = s.conn.lock().unwrap();
            conn.execute_batch("ALTER TABLE outbox DROP COLUMN conflict_height; DELETE FROM schema_migrations WHERE version = 2;")
                .unwrap();
            id
        };
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), 2);
        assert_eq!(s.with(|t| t.outbox_active()).unwrap().into_iter().map(|e| e.id).collect::<Vec<_>>(), vec![id]);
        s.with(|t| t.outbox_conflict(&id, 5)).unwrap();
        assert_eq!(s.with(|t| t.outbox_close_conflicted_at_or_below(5)).unwrap(), vec![(id, 5)]);
    }

    #[test]
    fn events_and_kv() {
        let (_d, s) = store();
        let a = s.with(|t| t.push_event(&"one")).unwrap();
        let b = s.with(|t| t.push_event(&"two")).unwrap();
        assert!(b > a);
        let evs: Vec<(u64, String)> = s.with(|t| t.events_after(a, 10)).unwrap();
        assert_eq!(evs, vec![(b, "two".to_string())]);
        s.with(|t| t.kv_put("n", "b", b"2").and_then(|_| t.kv_put("n", "a", b"1"))).unwrap();
        assert_eq!(s.with(|t| t.kv_list("n")).unwrap(), vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]);
        assert!(s.with(|t| t.kv_delete("n", "a")).unwrap());
        assert!(!s.with(|t| t.kv_delete("n", "a")).unwrap());
    }
}
