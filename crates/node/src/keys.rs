//! The node's key file and the secrets derived from it.
//!
//! The key file is JSON (`{"version":1,"secret_key":"<hex>","master_seed":"<hex>"}`), created
//! with mode 0600 and refused on load when group or others may read it. It holds the node's
//! secp256k1 identity key (peer messages are signed with it, BIP-340) and a 32-byte master seed
//! from which every per-graph secret is derived with HMAC-SHA256 and a domain string, so that
//! nothing but this file needs backing up. MuSig2 nonce seeds are derived from a store-issued
//! counter (see [`crate::store::StoreTx::issue_nonce`]) that never repeats, so a restart can
//! never derive a nonce it has already used.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use bitcoin::hashes::{hmac, sha256, Hash, HashEngine};
use secp256k1::{Keypair, Secp256k1, SecretKey, XOnlyPublicKey};

/// What can go wrong with a key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading, writing or inspecting the file failed.
    #[error("key file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The file is readable or writable by group or others.
    #[error("key file {path} has mode {mode:o}: group/others may access it; run `chmod 600 {path}`")]
    Permissions { path: PathBuf, mode: u32 },
    /// The file exists already (creation never overwrites).
    #[error("key file {0} exists already; refusing to overwrite it")]
    Exists(PathBuf),
    /// The file's contents are not a valid key file; names the field.
    #[error("key file {path}: field `{field}`: {reason}")]
    Corrupt { path: PathBuf, field: &'static str, reason: String },
}

/// 32 secret bytes. `Debug` prints `Secret32(<redacted>)`; the bytes are overwritten on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret32([u8; 32]);

impl Secret32 {
    /// Wraps raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Secret32(bytes)
    }
    /// The secret bytes (use them, never log them).
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret32(<redacted>)")
    }
}

impl Drop for Secret32 {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference into our own array.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// Domains of derived secrets. Each domain gives independent secrets.
pub mod domain {
    /// The Winternitz master secret of one graph (context: the graph id).
    pub const WINTERNITZ: &str = "winternitz-master";
    /// A MuSig2 nonce seed (context: session id and the store's nonce counter).
    pub const MUSIG2_NONCE: &str = "musig2-nonce";
}

/// The node's keys: identity key and master seed. `Debug` shows only the public key.
#[derive(Clone)]
pub struct NodeKeys {
    keypair: Keypair,
    master_seed: Secret32,
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKeys")
            .field("public_key", &self.public_key().to_string())
            .field("secrets", &"<redacted>")
            .finish()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    secret_key: String,
    master_seed: String,
}

impl NodeKeys {
    /// Fresh random keys.
    pub fn generate() -> Self {
        let secp = Secp256k1::new();
        let mut rng = rand::thread_rng();
        let keypair = Keypair::new(&secp, &mut rng);
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rng, &mut seed);
        NodeKeys { keypair, master_seed: Secret32(seed) }
    }

    /// Keys from given material (tests, deterministic setups).
    pub fn from_parts(secret_key: SecretKey, master_seed: [u8; 32]) -> Self {
        let keypair = Keypair::from_secret_key(&Secp256k1::new(), &secret_key);
        NodeKeys { keypair, master_seed: Secret32(master_seed) }
    }

    /// Generates keys and writes them to a new file with mode 0600 (never overwrites).
    pub fn create_file(path: &Path) -> Result<Self, KeyError> {
        let keys = Self::generate();
        keys.write_new(path)?;
        Ok(keys)
    }

    /// Writes these keys to a new file created with mode 0600.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io { path: path.to_owned(), source };
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists(path.to_owned())
            } else {
                io(e)
            }
        })?;
        let file = KeyFile {
            version: 1,
            secret_key: hex::encode(self.keypair.secret_bytes()),
            master_seed: hex::encode(self.master_seed.expose()),
        };
        let text = serde_json::to_string_pretty(&file).expect("key file serializes");
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(())
    }

    /// Loads a key file; refuses one that group or others may access, and names the bad field
    /// of a corrupt one.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io { path: path.to_owned(), source };
        let meta = std::fs::metadata(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Permissions { path: path.to_owned(), mode });
            }
        }
        let _ = meta;
        let text = std::fs::read_to_string(path).map_err(io)?;
        let corrupt = |field, reason: String| KeyError::Corrupt { path: path.to_owned(), field, reason };
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| corrupt("(file)", e.to_string()))?;
        if file.version != 1 {
            return Err(corrupt("version", format!("unsupported version {}", file.version)));
        }
        let sk = decode32(&file.secret_key).map_err(|r| corrupt("secret_key", r))?;
        let secret_key = SecretKey::from_slice(&sk).map_err(|e| corrupt("secret_key", e.to_string()))?;
        let seed = decode32(&file.master_seed).map_err(|r| corrupt("master_seed", r))?;
        Ok(Self::from_parts(secret_key, seed))
    }

    /// The identity key pair (signs peer messages).
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// The x-only public key peers know this node by.
    pub fn public_key(&self) -> XOnlyPublicKey {
        self.keypair.x_only_public_key().0
    }

    /// A secret derived from the master seed: HMAC-SHA256(seed, len(domain) || domain ||
    /// context). Different (domain, context) pairs give independent secrets.
    pub fn derive(&self, domain: &str, context: &[u8]) -> Secret32 {
        derive(&self.master_seed, domain, context)
    }

    /// The Winternitz master secret for one graph.
    pub fn winternitz_master(&self, graph_id: &[u8]) -> Secret32 {
        self.derive(domain::WINTERNITZ, graph_id)
    }

    /// The MuSig2 nonce seed for `session_id` and the store-issued `counter` (unique per
    /// issued nonce, never reused, see [`crate::store::StoreTx::issue_nonce`]).
    pub fn musig2_nonce_seed(&self, session_id: &str, counter: u64) -> Secret32 {
        let mut ctx = Vec::with_capacity(session_id.len() + 12);
        ctx.extend_from_slice(&counter.to_be_bytes());
        ctx.extend_from_slice(&(session_id.len() as u32).to_be_bytes());
        ctx.extend_from_slice(session_id.as_bytes());
        self.derive(domain::MUSIG2_NONCE, &ctx)
    }
}

fn derive(seed: &Secret32, domain: &str, context: &[u8]) -> Secret32 {
    let mut engine = hmac::HmacEngine::<sha256::Hash>::new(seed.expose());
    engine.input(&(domain.len() as u32).to_be_bytes());
    engine.input(domain.as_bytes());
    engine.input(context);
    Secret32(hmac::Hmac::<sha256::Hash>::from_engine(engine).to_byte_array())
}

fn decode32(s: &str) -> Result<[u8; 32], String> {
    let v = hex::decode(s.trim()).map_err(|e| format!("not hex: {e}"))?;
    v.try_into().map_err(|v: Vec<u8>| format!("expected 32 bytes, got {}", v.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_round_trip_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let keys = NodeKeys::create_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let loaded = NodeKeys::load(&path).unwrap();
        assert_eq!(loaded.public_key(), keys.public_key());
        assert_eq!(loaded.derive("x", b"y"), keys.derive("x", b"y"));
        // Never overwrites.
        assert!(matches!(NodeKeys::create_file(&path), Err(KeyError::Exists(_))));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_group_readable_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        NodeKeys::create_file(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = NodeKeys::load(&path).unwrap_err();
        assert!(matches!(err, KeyError::Permissions { mode: 0o640, .. }), "{err}");
        assert!(err.to_string().contains("chmod 600"));
    }

    #[test]
    fn corrupt_file_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let good = NodeKeys::generate();
        good.write_new(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let bad = text.replace(v["master_seed"].as_str().unwrap(), "abcd");
        std::fs::write(&path, bad).unwrap();
        match NodeKeys::load(&path).unwrap_err() {
            KeyError::Corrupt { field, reason, .. } => {
                assert_eq!(field, "master_seed");
                assert!(reason.contains("expected 32 bytes, got 2"), "{reason}");
            }
            e => panic!("unexpected {e}"),
        }
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(NodeKeys::load(&path).unwrap_err(), KeyError::Corrupt { field: "(file)", .. }));
    }

    #[test]
    fn secrets_are_redacted_and_domains_separate() {
        let keys = NodeKeys::from_parts(SecretKey::from_slice(&[7u8; 32]).unwrap(), [9u8; 32]);
        let dbg = format!("{keys:?} {:?}", keys.winternitz_master(b"g"));
        assert!(!dbg.contains(&hex::encode([7u8; 32])) && !dbg.contains(&hex::encode([9u8; 32])));
        assert!(!dbg.contains(&hex::encode(keys.winternitz_master(b"g").expose())), "{dbg}");
        assert!(dbg.contains("redacted"));
        // Independent per domain, per context and per counter.
        assert_ne!(keys.winternitz_master(b"g1"), keys.winternitz_master(b"g2"));
        assert_ne!(keys.derive(domain::WINTERNITZ, b"s"), keys.derive(domain::MUSIG2_NONCE, b"s"));
        assert_ne!(keys.musig2_nonce_seed("s", 1), keys.musig2_nonce_seed("s", 2));
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        assert_ne!(keys.derive("ab", b"c"), keys.derive("a", b"bc"));
        // Deterministic: a reload derives the same secrets.
        let again = NodeKeys::from_parts(SecretKey::from_slice(&[7u8; 32]).unwrap(), [9u8; 32]);
        assert_eq!(again.musig2_nonce_seed("s", 1), keys.musig2_nonce_seed("s", 1));
    }
}
