//! One-time secrets used at most once, across crashes and restarts.
//!
//! [`issue_nonce`] and [`musig2_sign_once`] wrap any MuSig2 implementation (they take closures,
//! so this crate does not fix the library): the secret nonce is derived from the key file's
//! master seed and a store-issued counter that never repeats, and the nonce is marked spent in
//! a committed store transaction BEFORE the signing closure even runs. The partial signature is
//! then recorded, so a repeated request for the same session returns the same bytes instead of
//! signing again. A crash between the two leaves the nonce spent without a signature: the
//! session must be restarted with a new session id (safe; never a second signature).
//!
//! [`winternitz_sign_once`] does the same for Winternitz one-time keys: the key's message is
//! recorded before the signature is made; a different message for the same key is refused.

use crate::keys::{NodeKeys, Secret32};
use crate::store::{NonceRecord, Store, StoreError, WinternitzUse};

/// What can go wrong signing with a one-time secret.
#[derive(Debug, thiserror::Error)]
pub enum OnceError {
    /// The store refused (e.g. nonce spent with no recorded signature, Winternitz conflict).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signing closure failed (the secret is burned anyway).
    #[error("signing failed for {what}: {detail}")]
    Sign { what: String, detail: String },
}

const PARTIALS: &str = "musig2-partial-signatures";
const WOTS_SIGS: &str = "winternitz-signatures";

/// Issues (or returns the already issued) public nonce of `session_id`. `pub_nonce` gets the
/// derived nonce seed and returns the public nonce bytes.
pub fn issue_nonce(
    store: &Store,
    keys: &NodeKeys,
    session_id: &str,
    pub_nonce: impl FnOnce(&Secret32) -> Vec<u8>,
) -> Result<NonceRecord, StoreError> {
    store.with(|t| t.issue_nonce(session_id, |counter| Ok(pub_nonce(&keys.musig2_nonce_seed(session_id, counter)))))
}

/// Makes the partial signature of `session_id` over `message` at most once. The nonce is
/// marked spent (committed) first; `sign` then gets the nonce seed and returns the partial
/// signature bytes, which are recorded and returned. Asking again for the same message returns
/// the recorded signature; for another message, [`StoreError::NonceSpent`].
pub fn musig2_sign_once(
    store: &Store,
    keys: &NodeKeys,
    session_id: &str,
    message: &[u8],
    sign: impl FnOnce(&Secret32) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, OnceError> {
    // Step 1 (write-ahead): spend the nonce, or find the answer given before.
    let counter = store.with(|t| {
        let rec = t.nonce(session_id)?.ok_or_else(|| StoreError::NonceUnknown(session_id.into()))?;
        if rec.spent {
            if rec.message.as_deref() == Some(message) {
                if let Some(sig) = t.kv_get(PARTIALS, session_id)? {
                    return Ok(Err(sig));
                }
            }
            return Err(StoreError::NonceSpent(session_id.into()));
        }
        t.spend_nonce(session_id, message).map(Ok)
    })?;
    let counter = match counter {
        Ok(c) => c,
        Err(recorded) => return Ok(recorded),
    };
    // Step 2: sign (the nonce is already spent on disk), then record the answer.
    let seed = keys.musig2_nonce_seed(session_id, counter);
    let sig = sign(&seed).map_err(|detail| OnceError::Sign { what: format!("MuSig2 session {session_id:?}"), detail })?;
    store.with(|t| t.kv_put(PARTIALS, session_id, &sig))?;
    Ok(sig)
}

/// Signs `message` with Winternitz key `key_id` at most once: records the message first, then
/// calls `sign`, records and returns the signature. The same message again returns the
/// recorded signature; another message is refused ([`StoreError::WinternitzConflict`]).
pub fn winternitz_sign_once(
    store: &Store,
    key_id: &str,
    message: &[u8],
    sign: impl FnOnce() -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, OnceError> {
    let recorded = store.with(|t| match t.record_winternitz(key_id, message)? {
        WinternitzUse::First => Ok(None),
        WinternitzUse::Repeat => t.kv_get(WOTS_SIGS, key_id),
    })?;
    if let Some(sig) = recorded {
        return Ok(sig);
    }
    // Same message as recorded (or first use): signing it again reveals nothing new.
    let sig = sign().map_err(|detail| OnceError::Sign { what: format!("Winternitz key {key_id:?}"), detail })?;
    store.with(|t| t.kv_put(WOTS_SIGS, key_id, &sig))?;
    Ok(sig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use musig2::{AggNonce, KeyAggContext, PartialSignature, PubNonce, SecNonce};
    use secp256k1::{PublicKey, SecretKey};

    fn secnonce(seed: &Secret32, sk: SecretKey) -> SecNonce {
        SecNonce::build_with_seckey(*seed.expose(), sk).build()
    }

    /// Two signers; signer 0 uses the node's store. Real musig2 nonces and partial signatures.
    #[test]
    fn musig2_nonce_spent_once_across_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let sk0 = SecretKey::from_slice(&[3u8; 32]).unwrap();
        let sk1 = SecretKey::from_slice(&[4u8; 32]).unwrap();
        let keys = NodeKeys::from_parts(sk0, [5u8; 32]);
        let secp = secp256k1::Secp256k1::new();
        let pks = [PublicKey::from_secret_key(&secp, &sk0), PublicKey::from_secret_key(&secp, &sk1)];
        let ctx = KeyAggContext::new(pks).unwrap();
        let msg = [42u8; 32];

        let store = Store::open(&path).unwrap();
        let rec = issue_nonce(&store, &keys, "g/take1/0", |seed| secnonce(seed, sk0).public_nonce().serialize().to_vec()).unwrap();
        let pub0 = PubNonce::from_bytes(&rec.pub_nonce).unwrap();
        let sec1 = SecNonce::build_with_seckey([9u8; 32], sk1).build();
        let agg = AggNonce::sum([pub0.clone(), sec1.public_nonce()]);

        let sign = |seed: &Secret32| -> Result<Vec<u8>, String> {
            let p: PartialSignature =
                musig2::sign_partial(&ctx, sk0, secnonce(seed, sk0), &agg, msg).map_err(|e| e.to_string())?;
            Ok(p.serialize().to_vec())
        };
        let sig = musig2_sign_once(&store, &keys, "g/take1/0", &msg, sign).unwrap();
        let partial = PartialSignature::from_slice(&sig).unwrap();
        musig2::verify_partial(&ctx, partial, &agg, pks[0], &pub0, msg).unwrap();
        assert!(store.with(|t| t.nonce("g/take1/0")).unwrap().unwrap().spent);

        // Restart: the same request returns the recorded signature without signing...
        drop(store);
        let store = Store::open(&path).unwrap();
        let again = musig2_sign_once(&store, &keys, "g/take1/0", &msg, |_| panic!("must not sign twice")).unwrap();
        assert_eq!(again, sig);
        // ...another message is refused, and a re-issue returns the same (spent) public nonce.
        let err = musig2_sign_once(&store, &keys, "g/take1/0", &[1u8; 32], |_| panic!("must not sign")).unwrap_err();
        assert!(matches!(err, OnceError::Store(StoreError::NonceSpent(_))), "{err}");
        let rec2 = issue_nonce(&store, &keys, "g/take1/0", |_| panic!("must not derive")).unwrap();
        assert_eq!(rec2.pub_nonce, rec.pub_nonce);
        // A new session gets a different nonce even with the same keys and message.
        let rec3 = issue_nonce(&store, &keys, "g/take1/1", |seed| secnonce(seed, sk0).public_nonce().serialize().to_vec()).unwrap();
        assert_ne!(rec3.pub_nonce, rec.pub_nonce);
    }

    #[test]
    fn nonce_is_spent_before_signing_even_if_signing_fails() {
        let store = Store::open_in_memory().unwrap();
        let keys = NodeKeys::generate();
        issue_nonce(&store, &keys, "s", |_| vec![1]).unwrap();
        let err = musig2_sign_once(&store, &keys, "s", b"m", |_| {
            // The closure sees the nonce already spent on disk.
            Err("simulated crash".into())
        })
        .unwrap_err();
        assert!(matches!(err, OnceError::Sign { .. }));
        assert!(store.with(|t| t.nonce("s")).unwrap().unwrap().spent);
        // No recorded signature: the session cannot sign again, even for the same message.
        let err = musig2_sign_once(&store, &keys, "s", b"m", |_| panic!("must not sign")).unwrap_err();
        assert!(matches!(err, OnceError::Store(StoreError::NonceSpent(_))), "{err}");
    }

    #[test]
    fn winternitz_key_signs_one_message() {
        let store = Store::open_in_memory().unwrap();
        let s1 = winternitz_sign_once(&store, "g/kickoff/0", b"claim", || Ok(b"sig-claim".to_vec())).unwrap();
        let s2 = winternitz_sign_once(&store, "g/kickoff/0", b"claim", || panic!("recorded")).unwrap();
        assert_eq!(s1, s2);
        let err = winternitz_sign_once(&store, "g/kickoff/0", b"other", || panic!("must not sign")).unwrap_err();
        assert!(matches!(err, OnceError::Store(StoreError::WinternitzConflict { .. })), "{err}");
    }
}
