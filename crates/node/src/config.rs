//! Node configuration: a TOML file plus command-line overrides.
//!
//! Relative paths in the file are resolved against the file's directory. Unknown keys are
//! rejected (a typo must not silently fall back to a default), and every validation error names
//! the field, e.g. `committee[1].pubkey`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secp256k1::XOnlyPublicKey;
use serde::{Deserialize, Serialize};

/// What can go wrong loading a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The file is not valid TOML for this schema (toml names the line and key).
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A value is present but wrong.
    #[error("config field `{field}`: {reason}")]
    Invalid { field: String, reason: String },
}

/// The role of a committee member (and of this node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Fronts withdrawals and claims through its peg-out graphs.
    Operator,
    /// Holds a share of the n-of-n key; challenges and disproves.
    Verifier,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This node.
    pub node: NodeSection,
    /// The bitcoind it follows.
    pub bitcoind: BitcoindSection,
    /// Peer API limits.
    #[serde(default)]
    pub peer: PeerSection,
    /// Protocol parameters shared by the committee.
    #[serde(default)]
    pub params: ParamsSection,
    /// Every committee member (this node included).
    #[serde(default)]
    pub committee: Vec<Member>,
}

/// `[node]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// This node's role.
    pub role: Role,
    /// The key file (see [`crate::keys`]).
    pub keys_file: PathBuf,
    /// The SQLite store.
    pub store_path: PathBuf,
    /// Where the peer API listens, e.g. `127.0.0.1:9101`.
    pub listen: SocketAddr,
}

/// `[bitcoind]`. `Debug` hides `rpc_password`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitcoindSection {
    /// JSON-RPC endpoint, e.g. `http://127.0.0.1:18443`.
    pub rpc_url: String,
    /// Cookie file (`user:password`); alternative to `rpc_user`/`rpc_password`.
    #[serde(default)]
    pub cookie_file: Option<PathBuf>,
    /// RPC user (with `rpc_password`).
    #[serde(default)]
    pub rpc_user: Option<String>,
    /// RPC password (with `rpc_user`).
    #[serde(default)]
    pub rpc_password: Option<String>,
    /// How often the watcher polls, in milliseconds.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
}

impl std::fmt::Debug for BitcoindSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BitcoindSection")
            .field("rpc_url", &self.rpc_url)
            .field("cookie_file", &self.cookie_file)
            .field("rpc_user", &self.rpc_user)
            .field("rpc_password", &self.rpc_password.as_ref().map(|_| "<redacted>"))
            .field("poll_interval_ms", &self.poll_interval_ms)
            .finish()
    }
}

fn default_poll_ms() -> u64 {
    1000
}

/// `[peer]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSection {
    /// Largest accepted request body in bytes.
    #[serde(default = "default_max_body")]
    pub max_message_bytes: usize,
    /// Largest accepted difference between a message's timestamp and our clock, in seconds.
    #[serde(default = "default_skew")]
    pub max_clock_skew_secs: u64,
    /// Timeout of outgoing requests, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub request_timeout_ms: u64,
}

fn default_max_body() -> usize {
    4 * 1024 * 1024
}
fn default_skew() -> u64 {
    600
}
fn default_timeout_ms() -> u64 {
    10_000
}

impl Default for PeerSection {
    fn default() -> Self {
        PeerSection {
            max_message_bytes: default_max_body(),
            max_clock_skew_secs: default_skew(),
            request_timeout_ms: default_timeout_ms(),
        }
    }
}

/// `[params]`: protocol parameters (regtest defaults of a few blocks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamsSection {
    /// `regtest`, `signet`, `testnet4` or `bitcoin`.
    #[serde(default = "default_network")]
    pub network: String,
    /// Confirmations after which the daemons treat a transaction as final.
    #[serde(default = "default_finality")]
    pub finality_depth: u32,
    /// Deepest reorg the watcher follows; deeper ones stop it with an error.
    #[serde(default = "default_max_reorg")]
    pub max_reorg_depth: u32,
    /// Relative timelock, in blocks: Deposit -> DepositRefund (the committee's time to
    /// confirm the peg-in). Same meaning as `bitvm2_txgraph::Timelocks::deposit_refund`.
    #[serde(default = "default_refund")]
    pub deposit_refund: u16,
    /// Kickoff -> Take1: the challenge window (T1).
    #[serde(default = "default_take1")]
    pub take1: u16,
    /// How long a challenged operator has to assert (T2); must exceed `take1`.
    #[serde(default = "default_assert_timeout")]
    pub assert_timeout: u16,
    /// AssertFinal -> Take2: the disprove window (T3).
    #[serde(default = "default_take2")]
    pub take2: u16,
    /// The disprove program every peg-out graph carries (every member must agree: a graph with
    /// another program is refused).
    #[serde(default)]
    pub program: ProgramKind,
    /// Folder of the statement circuit's key files (`statement-<id>.pk`/`.vk`, made by
    /// `bitvm2-statement-setup` or `bitvm2 demo`); required with `program = "statement"`
    /// (verifiers read the verifying key, operators also the proving key).
    #[serde(default)]
    pub statement_keys_dir: Option<PathBuf>,
}

/// Which disprove program the graphs carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgramKind {
    /// The Groth16 verifier of the statement circuit (the payout happened): the real bridge.
    Statement,
    /// A small BN254 program (polynomial evaluation, 32 leaves) whose honest input is a fixed
    /// root: fast, for exercising the daemons' fault handling; it proves nothing about payouts.
    #[default]
    Horner,
}

fn default_network() -> String {
    "regtest".into()
}
fn default_finality() -> u32 {
    1
}
fn default_max_reorg() -> u32 {
    100
}
// Regtest defaults, equal to `bitvm2_txgraph::Timelocks::REGTEST`.
fn default_take1() -> u16 {
    3
}
fn default_assert_timeout() -> u16 {
    6
}
fn default_take2() -> u16 {
    3
}
fn default_refund() -> u16 {
    12
}

impl Default for ParamsSection {
    fn default() -> Self {
        ParamsSection {
            network: default_network(),
            finality_depth: default_finality(),
            max_reorg_depth: default_max_reorg(),
            deposit_refund: default_refund(),
            take1: default_take1(),
            assert_timeout: default_assert_timeout(),
            take2: default_take2(),
            program: ProgramKind::default(),
            statement_keys_dir: None,
        }
    }
}

/// `[[committee]]`: one member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// A name for logs.
    pub name: String,
    /// Operator or verifier.
    pub role: Role,
    /// Its x-only public key (64 hex characters): peer messages must be signed by it.
    pub pubkey: String,
    /// Its peer API base URL, e.g. `http://127.0.0.1:9102`.
    pub url: String,
}

impl Member {
    /// The parsed public key (validated by [`Config::validate`]).
    pub fn public_key(&self) -> Result<XOnlyPublicKey, String> {
        self.pubkey.parse::<XOnlyPublicKey>().map_err(|e| format!("not an x-only public key ({e})"))
    }
}

/// Command-line overrides (the daemons fill this from their flags); `Some` wins over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--store`.
    pub store_path: Option<PathBuf>,
    /// `--keys`.
    pub keys_file: Option<PathBuf>,
    /// `--rpc-url`.
    pub rpc_url: Option<String>,
    /// `--rpc-cookie`.
    pub cookie_file: Option<PathBuf>,
}

impl Config {
    /// Reads, parses, resolves relative paths against the file's directory and validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.to_owned(), source })?;
        let mut cfg = Self::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse { path: path.to_owned(), message },
            other => other,
        })?;
        if let Some(dir) = path.parent() {
            cfg.resolve_paths(dir);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML text (no path resolution, no validation).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse { path: PathBuf::from("<text>"), message: e.to_string() })
    }

    /// Renders this configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serializes")
    }

    fn resolve_paths(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        fix(&mut self.node.keys_file);
        fix(&mut self.node.store_path);
        if let Some(c) = self.bitcoind.cookie_file.as_mut() {
            fix(c);
        }
        if let Some(d) = self.params.statement_keys_dir.as_mut() {
            fix(d);
        }
    }

    /// Applies command-line overrides, then validates again.
    pub fn apply(&mut self, o: &Overrides) -> Result<(), ConfigError> {
        if let Some(v) = o.listen {
            self.node.listen = v;
        }
        if let Some(v) = &o.store_path {
            self.node.store_path = v.clone();
        }
        if let Some(v) = &o.keys_file {
            self.node.keys_file = v.clone();
        }
        if let Some(v) = &o.rpc_url {
            self.bitcoind.rpc_url = v.clone();
        }
        if let Some(v) = &o.cookie_file {
            self.bitcoind.cookie_file = Some(v.clone());
        }
        self.validate()
    }

    /// Checks every value; the error names the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &str, reason: String| Err(ConfigError::Invalid { field: field.into(), reason });
        let b = &self.bitcoind;
        if !(b.rpc_url.starts_with("http://") || b.rpc_url.starts_with("https://")) {
            return bad("bitcoind.rpc_url", format!("{:?} is not an http(s) URL", b.rpc_url));
        }
        match (&b.cookie_file, &b.rpc_user, &b.rpc_password) {
            (Some(_), None, None) | (None, Some(_), Some(_)) => {}
            (None, None, None) => {
                return bad("bitcoind.cookie_file", "set cookie_file or rpc_user + rpc_password".into())
            }
            (Some(_), _, _) => {
                return bad("bitcoind.rpc_user", "use either cookie_file or rpc_user/rpc_password, not both".into())
            }
            (None, Some(_), None) => return bad("bitcoind.rpc_password", "missing (rpc_user is set)".into()),
            (None, None, Some(_)) => return bad("bitcoind.rpc_user", "missing (rpc_password is set)".into()),
        }
        if b.poll_interval_ms == 0 {
            return bad("bitcoind.poll_interval_ms", "must be at least 1".into());
        }
        if self.peer.max_message_bytes < 1024 {
            return bad("peer.max_message_bytes", format!("{} is below the minimum of 1024", self.peer.max_message_bytes));
        }
        let p = &self.params;
        if !["regtest", "signet", "testnet4", "bitcoin"].contains(&p.network.as_str()) {
            return bad("params.network", format!("unknown network {:?}", p.network));
        }
        if p.finality_depth == 0 {
            return bad("params.finality_depth", "must be at least 1".into());
        }
        if p.program == ProgramKind::Statement && p.statement_keys_dir.is_none() {
            return bad("params.statement_keys_dir", "required with program = \"statement\"".into());
        }
        if p.max_reorg_depth == 0 {
            return bad("params.max_reorg_depth", "must be at least 1".into());
        }
        for (name, v) in [
            ("params.deposit_refund", p.deposit_refund),
            ("params.take1", p.take1),
            ("params.assert_timeout", p.assert_timeout),
            ("params.take2", p.take2),
        ] {
            if v == 0 {
                return bad(name, "a relative timelock must be at least 1 block".into());
            }
        }
        if p.assert_timeout <= p.take1 {
            return bad(
                "params.assert_timeout",
                format!("{} must exceed params.take1 ({})", p.assert_timeout, p.take1),
            );
        }
        if self.committee.is_empty() {
            return bad("committee", "no members".into());
        }
        let mut seen_keys = std::collections::HashSet::new();
        let mut seen_names = std::collections::HashSet::new();
        for (i, m) in self.committee.iter().enumerate() {
            let field = |f: &str| format!("committee[{i}].{f}");
            if m.name.trim().is_empty() {
                return bad(&field("name"), "empty".into());
            }
            if !seen_names.insert(m.name.clone()) {
                return bad(&field("name"), format!("{:?} appears twice", m.name));
            }
            let pk = match m.public_key() {
                Ok(pk) => pk,
                Err(r) => return bad(&field("pubkey"), format!("{:?}: {r}", m.pubkey)),
            };
            if !seen_keys.insert(pk) {
                return bad(&field("pubkey"), "the same key appears twice in the committee".into());
            }
            if !(m.url.starts_with("http://") || m.url.starts_with("https://")) {
                return bad(&field("url"), format!("{:?} is not an http(s) URL", m.url));
            }
        }
        if !self.committee.iter().any(|m| m.role == Role::Verifier) {
            return bad("committee", "no verifier: the n-of-n needs at least one".into());
        }
        Ok(())
    }

    /// The committee member with this key, if any.
    pub fn member(&self, pk: &XOnlyPublicKey) -> Option<&Member> {
        self.committee.iter().find(|m| m.public_key().ok().as_ref() == Some(pk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        let k1 = crate::keys::NodeKeys::generate().public_key();
        let k2 = crate::keys::NodeKeys::generate().public_key();
        format!(
            r#"
[node]
role = "verifier"
keys_file = "keys.json"
store_path = "node.sqlite"
listen = "127.0.0.1:9101"

[bitcoind]
rpc_url = "http://127.0.0.1:18443"
cookie_file = "regtest/.cookie"

[params]
take1 = 4

[[committee]]
name = "op0"
role = "operator"
pubkey = "{k1}"
url = "http://127.0.0.1:9100"

[[committee]]
name = "v1"
role = "verifier"
pubkey = "{k2}"
url = "http://127.0.0.1:9101"
"#
        )
    }

    #[test]
    fn loads_resolves_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, sample()).unwrap();
        let mut cfg = Config::load(&path).unwrap();
        assert_eq!(cfg.node.keys_file, dir.path().join("keys.json"));
        assert_eq!(cfg.bitcoind.cookie_file.as_deref(), Some(dir.path().join("regtest/.cookie").as_path()));
        assert_eq!(cfg.params.take1, 4);
        assert_eq!(cfg.params.assert_timeout, 6, "default");
        assert_eq!(cfg.peer.max_message_bytes, 4 * 1024 * 1024, "default");
        cfg.apply(&Overrides { listen: Some("127.0.0.1:1".parse().unwrap()), ..Default::default() }).unwrap();
        assert_eq!(cfg.node.listen.port(), 1);
        // Round trip through TOML.
        assert_eq!(Config::parse(&cfg.to_toml()).unwrap(), cfg);
    }

    #[test]
    fn rpc_password_is_not_printed() {
        let text = sample().replace("cookie_file = \"regtest/.cookie\"", "rpc_user = \"u\"\nrpc_password = \"hunter2-secret\"");
        let cfg = Config::parse(&text).unwrap();
        cfg.validate().unwrap();
        let dbg = format!("{cfg:?} {:?}", crate::rpc::HttpRpc::from_config(&cfg.bitcoind));
        assert!(!dbg.contains("hunter2-secret"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn errors_name_the_field() {
        let text = sample();
        let field_of = |t: String| match Config::parse(&t).and_then(|c| c.validate().map(|_| c)) {
            Err(ConfigError::Invalid { field, .. }) => field,
            Err(ConfigError::Parse { message, .. }) => format!("parse: {message}"),
            other => panic!("expected an error, got {other:?}"),
        };
        let first_pk = text.split("pubkey = \"").nth(1).unwrap()[..64].to_string();
        assert_eq!(field_of(text.replacen(&first_pk, "zz", 1)), "committee[0].pubkey");
        assert_eq!(field_of(text.replace("http://127.0.0.1:9101\"", "ftp://x\"")), "committee[1].url");
        assert_eq!(field_of(text.replace("take1 = 4", "take1 = 0")), "params.take1");
        assert_eq!(field_of(text.replace("take1 = 4", "take1 = 6")), "params.assert_timeout");
        assert_eq!(field_of(text.replace("rpc_url = \"http", "rpc_url = \"tcp")), "bitcoind.rpc_url");
        let dup = text.replace("name = \"v1\"", "name = \"op0\"");
        assert_eq!(field_of(dup), "committee[1].name");
        // Unknown key and bad listen address: toml names them.
        let e = field_of(text.replace("take1 = 4", "take_1 = 4"));
        assert!(e.contains("take_1"), "{e}");
        let e = field_of(text.replace("127.0.0.1:9101\"\n", "nowhere\"\n"));
        assert!(e.contains("listen"), "{e}");
        let e = field_of(text.replace("cookie_file = \"regtest/.cookie\"", ""));
        assert_eq!(e, "bitcoind.cookie_file");
    }
}
