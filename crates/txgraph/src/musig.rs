//! MuSig2 presigning sessions for the committee (musig2 0.1.2, BIP-327).
//!
//! * Keys are sorted by their 33-byte encoding before aggregation (musig2 does not sort).
//! * Script-path leaves use the untweaked aggregate key; the vault's key path uses the
//!   aggregate tweaked with the BIP-341 empty-tree tweak (what `ScriptBuf::new_p2tr(.., None)`
//!   commits to).
//! * Secret nonces are derived per task from fresh randomness, the signer's key, the task's
//!   aggregate key, the sighash and `session id || task index`. They live in one
//!   [`SignerState`] and are taken out (destroyed) before any partial signature is returned, so a
//!   session signs at most once.
//! * Nonce sets carry a Schnorr signature of their sender over the session id and the nonces in
//!   order: a replayed (other session), reordered or altered set is rejected, naming the sender.
//! * Every partial signature is verified before aggregation; a bad one names its signer and task.
//!   Aggregated signatures are verified against the sighash with the task's key.

use std::collections::BTreeMap;

use bitcoin::secp256k1::{schnorr, Keypair, Message, PublicKey, Secp256k1, XOnlyPublicKey};
use bitcoin::ScriptBuf;
use musig2::{AggNonce, KeyAggContext, PartialSignature, PubNonce, SecNonce};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::error::SignError;
use crate::graph::{tagged_hash, GraphId, Signatures, Signer, SigningTask};

/// The verifier committee: sorted keys and the two MuSig2 key-aggregation contexts.
#[derive(Clone, Debug)]
pub struct Committee {
    keys: Vec<PublicKey>,
    script_ctx: KeyAggContext,
    keypath_ctx: KeyAggContext,
}

impl Committee {
    /// Sorts the keys (BIP-327 KeySort: by 33-byte encoding) and aggregates them.
    pub fn new(mut keys: Vec<PublicKey>) -> Result<Committee, SignError> {
        if keys.is_empty() {
            return Err(SignError::KeyAgg("empty committee".into()));
        }
        keys.sort_by_key(|k| k.serialize());
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(SignError::KeyAgg("duplicate key in committee".into()));
        }
        let script_ctx = KeyAggContext::new(keys.iter().copied()).map_err(|e| SignError::KeyAgg(e.to_string()))?;
        let keypath_ctx = script_ctx
            .clone()
            .with_unspendable_taproot_tweak()
            .map_err(|e| SignError::KeyAgg(e.to_string()))?;
        Ok(Committee { keys, script_ctx, keypath_ctx })
    }

    /// Sorted member keys.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Index of a member in sorted order.
    pub fn index_of(&self, key: &PublicKey) -> Option<usize> {
        self.keys.iter().position(|k| k == key)
    }

    /// The untweaked aggregate x-only key, used inside tapscript leaves.
    pub fn script_key(&self) -> XOnlyPublicKey {
        let pk: PublicKey = self.script_ctx.aggregated_pubkey();
        pk.x_only_public_key().0
    }

    /// The vault's output key (aggregate tweaked for a key-path-only taproot output).
    pub fn vault_output_key(&self) -> XOnlyPublicKey {
        let pk: PublicKey = self.keypath_ctx.aggregated_pubkey();
        pk.x_only_public_key().0
    }

    /// The vault's script pubkey.
    pub fn vault_script_pubkey(&self) -> ScriptBuf {
        let secp = Secp256k1::verification_only();
        ScriptBuf::new_p2tr(&secp, self.script_key(), None)
    }

    fn ctx(&self, key_path: bool) -> &KeyAggContext {
        if key_path {
            &self.keypath_ctx
        } else {
            &self.script_ctx
        }
    }

    /// The key a task's final signature verifies under.
    pub fn task_key(&self, task: &SigningTask) -> XOnlyPublicKey {
        if task.key_path {
            self.vault_output_key()
        } else {
            self.script_key()
        }
    }
}

/// Identifies one signing attempt: binds the graph, the committee, the exact task list (ids,
/// sighashes, types) and a salt chosen per attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionId(pub [u8; 32]);

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// What every participant agrees on before signing: committee, tasks, session id.
#[derive(Clone, Debug)]
pub struct Session {
    /// The session id.
    pub id: SessionId,
    /// The committee.
    pub committee: Committee,
    /// Committee tasks only, in order.
    pub tasks: Vec<SigningTask>,
}

impl Session {
    /// A session over `tasks` of graph `graph` with a per-attempt `salt` (a retry must use a new
    /// salt, which gives new nonces). Tasks not signed by the committee are refused.
    pub fn new(committee: Committee, graph: GraphId, tasks: Vec<SigningTask>, salt: [u8; 32]) -> Result<Session, SignError> {
        if let Some(t) = tasks.iter().find(|t| t.signer != Signer::Committee) {
            return Err(SignError::Signing { task: t.id, reason: "not a committee task".into() });
        }
        let mut parts: Vec<Vec<u8>> = vec![graph.0.to_vec(), salt.to_vec(), (tasks.len() as u64).to_le_bytes().to_vec()];
        for k in committee.keys() {
            parts.push(k.serialize().to_vec());
        }
        for t in &tasks {
            parts.push(t.id.to_bytes().to_vec());
            parts.push(t.sighash.to_vec());
            parts.push(vec![t.sighash_type as u8, t.key_path as u8]);
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let id = SessionId(tagged_hash("bitvm2/txgraph/session", &refs));
        Ok(Session { id, committee, tasks })
    }

    fn nonce_set_digest(&self, signer: &PublicKey, nonces: &[PubNonce]) -> Message {
        let mut bytes = Vec::with_capacity(33 + nonces.len() * 66);
        bytes.extend_from_slice(&signer.serialize());
        for n in nonces {
            bytes.extend_from_slice(&n.serialize());
        }
        Message::from_digest(tagged_hash("bitvm2/txgraph/nonce-set", &[&self.id.0, &bytes]))
    }

    fn check_set(&self, set: &NonceSet) -> Result<usize, SignError> {
        if set.session != self.id {
            return Err(SignError::WrongSession { signer: set.signer, got: set.session.to_string(), expected: self.id.to_string() });
        }
        let idx = self.committee.index_of(&set.signer).ok_or(SignError::UnknownSigner(set.signer))?;
        if set.nonces.len() != self.tasks.len() {
            return Err(SignError::WrongLength { signer: set.signer, got: set.nonces.len(), expected: self.tasks.len() });
        }
        let secp = Secp256k1::verification_only();
        let digest = self.nonce_set_digest(&set.signer, &set.nonces);
        secp.verify_schnorr(&set.auth, &digest, &set.signer.x_only_public_key().0)
            .map_err(|_| SignError::BadNonceSetAuth(set.signer))?;
        Ok(idx)
    }
}

/// A signer's public nonces for every task of a session, in task order, authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceSet {
    /// Session.
    pub session: SessionId,
    /// Sender (committee member).
    pub signer: PublicKey,
    /// One per task.
    pub nonces: Vec<PubNonce>,
    /// Sender's BIP-340 signature over (session, signer, nonces in order).
    pub auth: schnorr::Signature,
}

/// All members' nonce sets (committee order) and the aggregated nonce per task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceRound {
    /// Session.
    pub session: SessionId,
    /// One per member, committee order.
    pub sets: Vec<NonceSet>,
}

/// A signer's partial signatures, one per task, in task order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialSigSet {
    /// Session.
    pub session: SessionId,
    /// Sender.
    pub signer: PublicKey,
    /// One per task.
    pub sigs: Vec<PartialSignature>,
}

/// One committee member's side of a session. Holds the secret nonces until [`SignerState::sign`].
pub struct SignerState {
    session: SessionId,
    keypair: Keypair,
    secnonces: Option<Vec<SecNonce>>,
    pubnonces: Vec<PubNonce>,
}

impl std::fmt::Debug for SignerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignerState")
            .field("session", &self.session)
            .field("signer", &self.keypair.public_key())
            .field("nonces_left", &self.secnonces.is_some())
            .finish()
    }
}

impl SignerState {
    /// Makes fresh nonces for every task and the authenticated nonce set to send.
    pub fn new<R: RngCore + CryptoRng>(session: &Session, keypair: Keypair, rng: &mut R) -> Result<(SignerState, NonceSet), SignError> {
        let me = keypair.public_key();
        session.committee.index_of(&me).ok_or(SignError::UnknownSigner(me))?;
        let mut secnonces = Vec::with_capacity(session.tasks.len());
        let mut pubnonces = Vec::with_capacity(session.tasks.len());
        let seckey = keypair.secret_key();
        for (i, task) in session.tasks.iter().enumerate() {
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            let agg: PublicKey = session.committee.ctx(task.key_path).aggregated_pubkey();
            let mut extra = session.id.0.to_vec();
            extra.extend_from_slice(&(i as u64).to_le_bytes());
            let sn = SecNonce::build_with_seckey(seed, seckey)
                .with_aggregated_pubkey(agg)
                .with_message(&task.sighash)
                .with_extra_input(&extra)
                .build();
            pubnonces.push(sn.public_nonce());
            secnonces.push(sn);
        }
        let secp = Secp256k1::signing_only();
        let auth = secp.sign_schnorr_with_rng(&session.nonce_set_digest(&me, &pubnonces), &keypair, rng);
        let set = NonceSet { session: session.id, signer: me, nonces: pubnonces.clone(), auth };
        Ok((SignerState { session: session.id, keypair, secnonces: Some(secnonces), pubnonces }, set))
    }

    /// Whether this state can still sign.
    pub fn can_sign(&self) -> bool {
        self.secnonces.is_some()
    }

    /// Checks the round (every set authenticated, ours unaltered), then signs every task. The
    /// secret nonces are taken out first: after this call (success or not) they are gone.
    pub fn sign(&mut self, session: &Session, round: &NonceRound) -> Result<PartialSigSet, SignError> {
        let me = self.keypair.public_key();
        if session.id != self.session || round.session != self.session {
            return Err(SignError::WrongRound { got: round.session.to_string(), expected: self.session.to_string() });
        }
        let secnonces = self.secnonces.take().ok_or(SignError::NonceReuse)?;
        let agg = aggregate_round(session, round)?;
        let mine = round
            .sets
            .iter()
            .find(|s| s.signer == me)
            .ok_or_else(|| SignError::Incomplete(vec![me]))?;
        for (i, (a, b)) in mine.nonces.iter().zip(&self.pubnonces).enumerate() {
            if a != b {
                return Err(SignError::OwnNonceAltered(session.tasks[i].id));
            }
        }
        let seckey = self.keypair.secret_key();
        let mut sigs = Vec::with_capacity(session.tasks.len());
        for ((task, sn), aggnonce) in session.tasks.iter().zip(secnonces).zip(&agg) {
            let ctx = session.committee.ctx(task.key_path);
            let s: PartialSignature = musig2::sign_partial(ctx, seckey, sn, aggnonce, task.sighash)
                .map_err(|e| SignError::Signing { task: task.id, reason: e.to_string() })?;
            sigs.push(s);
        }
        Ok(PartialSigSet { session: self.session, signer: me, sigs })
    }
}

/// Checks a nonce round (complete, every set authenticated, committee order, no duplicates)
/// and aggregates the nonces per task.
pub fn aggregate_round(session: &Session, round: &NonceRound) -> Result<Vec<AggNonce>, SignError> {
    if round.session != session.id {
        return Err(SignError::WrongRound { got: round.session.to_string(), expected: session.id.to_string() });
    }
    let n = session.committee.keys().len();
    let mut seen = vec![false; n];
    for set in &round.sets {
        let idx = session.check_set(set)?;
        if seen[idx] {
            return Err(SignError::Duplicate(set.signer));
        }
        seen[idx] = true;
    }
    let missing: Vec<PublicKey> = session.committee.keys().iter().zip(&seen).filter(|(_, s)| !**s).map(|(k, _)| *k).collect();
    if !missing.is_empty() {
        return Err(SignError::Incomplete(missing));
    }
    Ok((0..session.tasks.len())
        .map(|t| AggNonce::sum(round.sets.iter().map(|s| &s.nonces[t])))
        .collect())
}

/// Collects nonce sets and partial signatures, verifies them and aggregates the final
/// signatures. Any member (or all of them) can run one.
#[derive(Debug)]
pub struct Coordinator {
    session: Session,
    nonces: BTreeMap<usize, NonceSet>,
    agg: Option<Vec<AggNonce>>,
    partials: BTreeMap<usize, PartialSigSet>,
}

impl Coordinator {
    /// A coordinator for a session.
    pub fn new(session: Session) -> Coordinator {
        Coordinator { session, nonces: BTreeMap::new(), agg: None, partials: BTreeMap::new() }
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Accepts one member's nonce set (authenticated, this session, first from that member).
    pub fn add_nonce_set(&mut self, set: NonceSet) -> Result<(), SignError> {
        let idx = self.session.check_set(&set)?;
        if self.nonces.contains_key(&idx) {
            return Err(SignError::Duplicate(set.signer));
        }
        self.nonces.insert(idx, set);
        Ok(())
    }

    /// The complete nonce round to send to every member.
    pub fn nonce_round(&mut self) -> Result<NonceRound, SignError> {
        let round = NonceRound { session: self.session.id, sets: self.nonces.values().cloned().collect() };
        let agg = aggregate_round(&self.session, &round)?;
        self.agg = Some(agg);
        Ok(round)
    }

    /// Accepts one member's partial signatures after verifying every one of them.
    pub fn add_partials(&mut self, set: PartialSigSet) -> Result<(), SignError> {
        if set.session != self.session.id {
            return Err(SignError::WrongSession { signer: set.signer, got: set.session.to_string(), expected: self.session.id.to_string() });
        }
        let idx = self.session.committee.index_of(&set.signer).ok_or(SignError::UnknownSigner(set.signer))?;
        if self.partials.contains_key(&idx) {
            return Err(SignError::Duplicate(set.signer));
        }
        if set.sigs.len() != self.session.tasks.len() {
            return Err(SignError::WrongLength { signer: set.signer, got: set.sigs.len(), expected: self.session.tasks.len() });
        }
        let agg = self.agg.as_ref().ok_or_else(|| SignError::Incomplete(self.missing_nonces()))?;
        let nonces = &self.nonces[&idx].nonces;
        for (t, task) in self.session.tasks.iter().enumerate() {
            let ctx = self.session.committee.ctx(task.key_path);
            musig2::verify_partial(ctx, set.sigs[t], &agg[t], set.signer, &nonces[t], task.sighash)
                .map_err(|_| SignError::BadPartialSignature { signer: set.signer, task: task.id })?;
        }
        self.partials.insert(idx, set);
        Ok(())
    }

    fn missing_nonces(&self) -> Vec<PublicKey> {
        let keys = self.session.committee.keys();
        (0..keys.len()).filter(|i| !self.nonces.contains_key(i)).map(|i| keys[i]).collect()
    }

    /// Aggregates every task's signature and verifies it against the task's sighash and key.
    pub fn finish(&self) -> Result<Signatures, SignError> {
        let keys = self.session.committee.keys();
        let missing: Vec<PublicKey> = (0..keys.len()).filter(|i| !self.partials.contains_key(i)).map(|i| keys[i]).collect();
        if !missing.is_empty() {
            return Err(SignError::Incomplete(missing));
        }
        let agg = self.agg.as_ref().expect("partials accepted only after the nonce round");
        let secp = Secp256k1::verification_only();
        let mut out = Signatures::new();
        for (t, task) in self.session.tasks.iter().enumerate() {
            let ctx = self.session.committee.ctx(task.key_path);
            let sig: musig2::LiftedSignature = musig2::aggregate_partial_signatures(
                ctx,
                &agg[t],
                self.partials.values().map(|p| p.sigs[t]),
                task.sighash,
            )
            .map_err(|_| SignError::BadAggregate(task.id))?;
            let sig: schnorr::Signature = sig.into();
            secp.verify_schnorr(&sig, &Message::from_digest(task.sighash), &self.session.committee.task_key(task))
                .map_err(|_| SignError::BadAggregate(task.id))?;
            out.insert(task.id, sig);
        }
        Ok(out)
    }
}

/// A single-key signature for an operator or depositor task (script path, untweaked key).
pub fn sign_single<R: RngCore + CryptoRng>(task: &SigningTask, keypair: &Keypair, rng: &mut R) -> schnorr::Signature {
    let secp = Secp256k1::signing_only();
    secp.sign_schnorr_with_rng(&Message::from_digest(task.sighash), keypair, rng)
}

/// Runs a whole session in-process with every member's key (tests, benchmarks, demos): nonce
/// sets go through the binary wire form, as they would between processes.
pub fn presign_in_process<R: RngCore + CryptoRng>(
    session: &Session,
    keys: &[Keypair],
    rng: &mut R,
) -> Result<Signatures, SignError> {
    let mut coord = Coordinator::new(session.clone());
    let mut states = Vec::with_capacity(keys.len());
    for kp in keys {
        let (st, set) = SignerState::new(session, *kp, rng)?;
        let wire = crate::encode::encode_nonce_set(&set);
        let set = crate::encode::decode_nonce_set(&wire).map_err(|e| SignError::Decode(e.to_string()))?;
        coord.add_nonce_set(set)?;
        states.push(st);
    }
    let round = coord.nonce_round()?;
    for st in &mut states {
        let p = st.sign(session, &round)?;
        let wire = crate::encode::encode_partials(&p);
        let p = crate::encode::decode_partials(&wire).map_err(|e| SignError::Decode(e.to_string()))?;
        coord.add_partials(p)?;
    }
    coord.finish()
}

