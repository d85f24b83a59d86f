//! Winternitz one-time signatures over HASH160 hash chains, with a verifying tapscript.
//!
//! A message of `message_len` bytes is read as a big-endian integer and written as `n0` digits
//! of `digit_bits` (w) bits, most significant first. A checksum `C = sum(2^w - 1 - d_i)` is
//! appended as `n1` more base-2^w digits, so that raising any message digit (which anyone can do
//! by hashing a chain element forward) lowers the checksum, which nobody can do.
//!
//! For every digit position `i` there is a secret `s_i` (20 bytes), derived deterministically
//! from a master secret and a domain (for example a graph id and a value index), so nodes never
//! store thousands of secrets. The public key is `pk_i = HASH160^(2^w - 1)(s_i)`; the signature of
//! digit `d` is `HASH160^d(s_i)` together with `d` itself.
//!
//! The verifying script ([`verify_script`]) expects the witness built by
//! [`Signature::to_witness`] and leaves the `n0` message digits on the stack as script numbers in
//! `0..2^w`, the most significant digit deepest and the least significant on top.
//! [`verify_script_drop`] checks the same signature and leaves nothing.
//!
//! [`compact`] checks the same signatures (same keys) from a witness of one item per chain plus
//! the message packed in a few numbers, e.g. 76 items instead of 134 for a 256-bit message.

use bitcoin::hashes::{hash160, hmac, sha256, Hash, HashEngine};
use bitcoin::opcodes::all::*;

use crate::builder::Fragment;

pub mod compact;

/// Bytes of a chain element (HASH160 output).
pub const HASH_LEN: usize = 20;

/// What went wrong with Winternitz parameters, messages or signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WinternitzError {
    /// Digit width outside 1..=8.
    #[error("digit width of {0} bits is not supported (1..=8)")]
    DigitBits(u32),
    /// Message length zero or so large that the checksum overflows a 4-byte script number.
    #[error("message length of {0} bytes is not supported")]
    MessageLen(usize),
    /// A message of the wrong length was given.
    #[error("message is {got} bytes, the parameters say {want}")]
    WrongMessageLen {
        /// Bytes given.
        got: usize,
        /// Bytes expected.
        want: usize,
    },
    /// A signature does not verify.
    #[error("signature invalid at digit position {position}: {reason}")]
    Invalid {
        /// Digit position (message digits first, then checksum digits).
        position: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A signature or key of the wrong shape.
    #[error("expected {want} digits, got {got}")]
    Shape {
        /// Digits expected.
        want: usize,
        /// Digits present.
        got: usize,
    },
}

/// Winternitz parameters: digit width and message length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Params {
    digit_bits: u32,
    message_len: usize,
    message_digits: usize,
    checksum_digits: usize,
}

impl Params {
    /// Parameters for `message_len`-byte messages signed in digits of `digit_bits` bits.
    pub fn new(digit_bits: u32, message_len: usize) -> Result<Self, WinternitzError> {
        if !(1..=8).contains(&digit_bits) {
            return Err(WinternitzError::DigitBits(digit_bits));
        }
        if message_len == 0 || message_len > 4096 {
            return Err(WinternitzError::MessageLen(message_len));
        }
        let n0 = (8 * message_len).div_ceil(digit_bits as usize);
        let max_sum = n0 as u64 * ((1u64 << digit_bits) - 1);
        let mut n1 = 0;
        let mut v = max_sum;
        while v > 0 {
            n1 += 1;
            v >>= digit_bits;
        }
        if n1 * digit_bits as usize > 30 {
            return Err(WinternitzError::MessageLen(message_len));
        }
        Ok(Params { digit_bits, message_len, message_digits: n0, checksum_digits: n1 })
    }

    /// Bits per digit (w).
    pub fn digit_bits(&self) -> u32 {
        self.digit_bits
    }
    /// Message length in bytes.
    pub fn message_len(&self) -> usize {
        self.message_len
    }
    /// Number of message digits (n0).
    pub fn message_digits(&self) -> usize {
        self.message_digits
    }
    /// Number of checksum digits (n1).
    pub fn checksum_digits(&self) -> usize {
        self.checksum_digits
    }
    /// n0 + n1.
    pub fn total_digits(&self) -> usize {
        self.message_digits + self.checksum_digits
    }
    /// Largest digit value, 2^w - 1 (also the chain length).
    pub fn max_digit(&self) -> u32 {
        (1u32 << self.digit_bits) - 1
    }

    /// The message digits, most significant first (message read as a big-endian integer).
    pub fn to_digits(&self, msg: &[u8]) -> Result<Vec<u32>, WinternitzError> {
        if msg.len() != self.message_len {
            return Err(WinternitzError::WrongMessageLen { got: msg.len(), want: self.message_len });
        }
        let w = self.digit_bits as usize;
        let total_bits = 8 * msg.len();
        let bit = |i: usize| -> u32 { ((msg[i / 8] >> (7 - i % 8)) & 1) as u32 }; // i from MSB
        let mut out = Vec::with_capacity(self.message_digits);
        // Digit k (from least significant) covers integer bits [k*w, k*w + w).
        for k in (0..self.message_digits).rev() {
            let mut d = 0;
            for j in (0..w).rev() {
                let pos = k * w + j; // bit position from LSB
                d <<= 1;
                if pos < total_bits {
                    d |= bit(total_bits - 1 - pos);
                }
            }
            out.push(d);
        }
        Ok(out)
    }

    /// The message from its digits (inverse of [`Params::to_digits`]); `None` if a digit is out of
    /// range or the digits encode a number longer than the message.
    pub fn from_digits(&self, digits: &[u32]) -> Option<Vec<u8>> {
        if digits.len() != self.message_digits || digits.iter().any(|d| *d > self.max_digit()) {
            return None;
        }
        let w = self.digit_bits as usize;
        let total_bits = 8 * self.message_len;
        let mut msg = vec![0u8; self.message_len];
        for (idx, d) in digits.iter().enumerate() {
            let k = self.message_digits - 1 - idx;
            for j in 0..w {
                if (d >> j) & 1 == 1 {
                    let pos = k * w + j;
                    if pos >= total_bits {
                        return None;
                    }
                    let from_msb = total_bits - 1 - pos;
                    msg[from_msb / 8] |= 1 << (7 - from_msb % 8);
                }
            }
        }
        Some(msg)
    }

    /// Checksum digits of message digits, most significant first.
    pub fn checksum(&self, digits: &[u32]) -> Vec<u32> {
        let mut c: u64 = digits.iter().map(|d| (self.max_digit() - d) as u64).sum();
        let mut out = vec![0; self.checksum_digits];
        for slot in out.iter_mut().rev() {
            *slot = (c & self.max_digit() as u64) as u32;
            c >>= self.digit_bits;
        }
        out
    }

    /// All signed digits: message digits then checksum digits.
    pub fn all_digits(&self, msg: &[u8]) -> Result<Vec<u32>, WinternitzError> {
        let mut d = self.to_digits(msg)?;
        let c = self.checksum(&d);
        d.extend(c);
        Ok(d)
    }
}

fn chain(start: &[u8; HASH_LEN], steps: u32) -> [u8; HASH_LEN] {
    let mut v = *start;
    for _ in 0..steps {
        v = hash160::Hash::hash(&v).to_byte_array();
    }
    v
}

/// Winternitz secret key: one 20-byte chain start per digit position. Not `Debug` on purpose.
#[derive(Clone)]
pub struct SecretKey {
    params: Params,
    secrets: Vec<[u8; HASH_LEN]>,
}

/// Tag that separates this derivation from any other use of the master secret.
const DERIVATION_TAG: &[u8] = b"bitvm2/winternitz/v1";

impl SecretKey {
    /// Derive a key deterministically: secret `i` = first 20 bytes of
    /// HMAC-SHA256(master, tag || len(domain) as u32 BE || domain || w || message_len as u32 BE || i as u32 BE).
    /// Use a distinct `domain` (e.g. graph id || value index) for every value ever signed: a
    /// Winternitz key must sign at most one message.
    pub fn derive(master: &[u8; 32], domain: &[u8], params: Params) -> Self {
        let secrets = (0..params.total_digits())
            .map(|i| {
                let mut e = hmac::HmacEngine::<sha256::Hash>::new(master);
                e.input(DERIVATION_TAG);
                e.input(&(domain.len() as u32).to_be_bytes());
                e.input(domain);
                e.input(&[params.digit_bits as u8]);
                e.input(&(params.message_len as u32).to_be_bytes());
                e.input(&(i as u32).to_be_bytes());
                let h = hmac::Hmac::<sha256::Hash>::from_engine(e).to_byte_array();
                let mut s = [0u8; HASH_LEN];
                s.copy_from_slice(&h[..HASH_LEN]);
                s
            })
            .collect();
        SecretKey { params, secrets }
    }

    /// The parameters.
    pub fn params(&self) -> Params {
        self.params
    }

    /// The public key (chain ends).
    pub fn public_key(&self) -> PublicKey {
        let m = self.params.max_digit();
        PublicKey { params: self.params, hashes: self.secrets.iter().map(|s| chain(s, m)).collect() }
    }

    /// Sign a message (off chain).
    pub fn sign(&self, msg: &[u8]) -> Result<Signature, WinternitzError> {
        let digits = self.params.all_digits(msg)?;
        let items = digits.iter().zip(&self.secrets).map(|(d, s)| (chain(s, *d), *d)).collect();
        Ok(Signature { params: self.params, items })
    }
}

/// Winternitz public key: one HASH160 chain end per digit position.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    params: Params,
    hashes: Vec<[u8; HASH_LEN]>,
}

impl PublicKey {
    /// A public key from its parts (e.g. received from a peer).
    pub fn from_parts(params: Params, hashes: Vec<[u8; HASH_LEN]>) -> Result<Self, WinternitzError> {
        if hashes.len() != params.total_digits() {
            return Err(WinternitzError::Shape { want: params.total_digits(), got: hashes.len() });
        }
        Ok(PublicKey { params, hashes })
    }
    /// The parameters.
    pub fn params(&self) -> Params {
        self.params
    }
    /// Chain ends, message digit positions first.
    pub fn hashes(&self) -> &[[u8; HASH_LEN]] {
        &self.hashes
    }

    /// Serialize: digit width (1 byte), message length (u32 BE), then the chain ends.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + HASH_LEN * self.hashes.len());
        out.push(self.params.digit_bits as u8);
        out.extend_from_slice(&(self.params.message_len as u32).to_be_bytes());
        for h in &self.hashes {
            out.extend_from_slice(h);
        }
        out
    }

    /// Parse [`PublicKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WinternitzError> {
        if bytes.len() < 5 {
            return Err(WinternitzError::Shape { want: 1, got: 0 });
        }
        let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        let params = Params::new(bytes[0] as u32, len)?;
        let body = &bytes[5..];
        if body.len() != HASH_LEN * params.total_digits() {
            return Err(WinternitzError::Shape { want: params.total_digits(), got: body.len() / HASH_LEN });
        }
        let hashes = body.chunks(HASH_LEN).map(|c| c.try_into().expect("chunk of 20")).collect();
        Ok(PublicKey { params, hashes })
    }

    /// Verify natively and return the message.
    pub fn verify(&self, sig: &Signature) -> Result<Vec<u8>, WinternitzError> {
        let p = self.params;
        if sig.params != p || sig.items.len() != p.total_digits() {
            return Err(WinternitzError::Shape { want: p.total_digits(), got: sig.items.len() });
        }
        for (i, ((h, d), pk)) in sig.items.iter().zip(&self.hashes).enumerate() {
            if *d > p.max_digit() {
                return Err(WinternitzError::Invalid { position: i, reason: "digit out of range" });
            }
            if chain(h, p.max_digit() - d) != *pk {
                return Err(WinternitzError::Invalid { position: i, reason: "hash chain does not reach the public key" });
            }
        }
        let (msg_d, ck_d) = sig.items.split_at(p.message_digits());
        let digits: Vec<u32> = msg_d.iter().map(|x| x.1).collect();
        let ck: Vec<u32> = ck_d.iter().map(|x| x.1).collect();
        if p.checksum(&digits) != ck {
            return Err(WinternitzError::Invalid { position: p.message_digits(), reason: "checksum mismatch" });
        }
        p.from_digits(&digits).ok_or(WinternitzError::Invalid { position: 0, reason: "digits exceed message length" })
    }
}

/// A Winternitz signature: per digit position, the chain element and the digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    params: Params,
    /// (HASH160^d(s_i), d) per position, message digits (most significant first) then checksum
    /// digits (most significant first).
    pub items: Vec<([u8; HASH_LEN], u32)>,
}

impl Signature {
    /// A signature from its parts (e.g. kept by a caller in its own format): per position the
    /// chain element and the digit, in [`Signature::items`] order. Shape only: digits must be
    /// in range; use [`PublicKey::verify`] to check it.
    pub fn from_parts(params: Params, items: Vec<([u8; HASH_LEN], u32)>) -> Result<Self, WinternitzError> {
        if items.len() != params.total_digits() {
            return Err(WinternitzError::Shape { want: params.total_digits(), got: items.len() });
        }
        if let Some(position) = items.iter().position(|(_, d)| *d > params.max_digit()) {
            return Err(WinternitzError::Invalid { position, reason: "digit out of range" });
        }
        Ok(Signature { params, items })
    }

    /// The parameters.
    pub fn params(&self) -> Params {
        self.params
    }

    /// Witness items (bottom first) for [`verify_script`]: for message digits from most to least
    /// significant, then checksum digits from least to most significant: `hash, digit` with the
    /// digit as a minimal script number. The most significant checksum digit ends on top.
    pub fn to_witness(&self) -> Vec<Vec<u8>> {
        let n0 = self.params.message_digits();
        let mut order: Vec<usize> = (0..n0).collect();
        order.extend((n0..self.items.len()).rev());
        let mut out = Vec::with_capacity(2 * self.items.len());
        for i in order {
            let (h, d) = &self.items[i];
            out.push(h.to_vec());
            out.push(crate::exec::encode_num(*d as i64));
        }
        out
    }

    /// Serialized witness bytes of [`Signature::to_witness`] (each item with its length byte).
    pub fn witness_size(&self) -> usize {
        self.to_witness().iter().map(|i| 1 + i.len()).sum()
    }

    /// Parse witness items laid out as by [`Signature::to_witness`] (e.g. read from a published
    /// transaction). Strict: 20-byte chain elements and minimally encoded digits in `0..2^w`.
    /// This checks the shape only; use [`PublicKey::verify`] to check the signature.
    pub fn from_witness(params: Params, items: &[Vec<u8>]) -> Result<Self, WinternitzError> {
        let t = params.total_digits();
        if items.len() != 2 * t {
            return Err(WinternitzError::Shape { want: t, got: items.len() / 2 });
        }
        let n0 = params.message_digits();
        let mut order: Vec<usize> = (0..n0).collect();
        order.extend((n0..t).rev());
        let mut parsed = vec![([0u8; HASH_LEN], 0u32); t];
        for (pair, pos) in items.chunks(2).zip(order) {
            let h: [u8; HASH_LEN] = pair[0]
                .as_slice()
                .try_into()
                .map_err(|_| WinternitzError::Invalid { position: pos, reason: "chain element is not 20 bytes" })?;
            let d = crate::exec::decode_num(&pair[1], 4)
                .ok()
                .filter(|d| (0..=params.max_digit() as i64).contains(d))
                .ok_or(WinternitzError::Invalid { position: pos, reason: "digit is not a minimal number in range" })?;
            parsed[pos] = (h, d as u32);
        }
        Ok(Signature { params, items: parsed })
    }
}

/// Verify one digit: `[.. hash d acc] -> [.. acc + d]`, with `d` also moved to the altstack if
/// `keep`. Fails if `d` is not in `0..2^w` or the chain does not reach `pk`.
fn digit_step(pk: &[u8; HASH_LEN], max: u32, keep: bool) -> Fragment {
    let mut f = Fragment::new().op(OP_SWAP) // hash acc d
        // Upper range check; a negative digit fails at OP_PICK below.
        .op(OP_DUP).push_int(max as i64 + 1).op(OP_LESSTHAN).op(OP_VERIFY);
    if keep {
        f = f.op(OP_DUP).op(OP_TOALTSTACK);
    }
    f = f.ops(&[OP_TUCK, OP_ADD, OP_TOALTSTACK, OP_TOALTSTACK]); // hash | alt: [d] acc' d
    // Table H^0..H^max of the given element; H^(max-d) is at depth d.
    f = f.repeat(max as usize, &Fragment::new().op(OP_DUP).op(OP_HASH160));
    f = f.op(OP_FROMALTSTACK).op(OP_PICK).push_bytes(pk).op(OP_EQUALVERIFY);
    let items = max as usize + 1;
    f = f.repeat(items / 2, &Fragment::new().op(OP_2DROP));
    if items % 2 == 1 {
        f = f.op(OP_DROP);
    }
    f.op(OP_FROMALTSTACK).with_effect(3, 1)
}

fn verify_impl(pk: &PublicKey, keep: bool) -> Fragment {
    let p = pk.params;
    let n0 = p.message_digits();
    let max = p.max_digit();
    let mut f = Fragment::new().push_int(0);
    // Checksum digits, most significant (top of the witness) first: acc = acc * 2^w + c.
    for j in 0..p.checksum_digits() {
        if j > 0 {
            f = f.repeat(p.digit_bits() as usize, &Fragment::new().op(OP_DUP).op(OP_ADD));
        }
        f = f.append(&digit_step(&pk.hashes[n0 + j], max, false));
    }
    // Message digits, least significant (next on the witness) first: acc += d.
    for i in (0..n0).rev() {
        f = f.append(&digit_step(&pk.hashes[i], max, keep));
    }
    f = f.push_int(n0 as i64 * max as i64).op(OP_NUMEQUALVERIFY);
    if keep {
        f = f.repeat(n0, &Fragment::new().op(OP_FROMALTSTACK));
    }
    f.with_effect(2 * p.total_digits(), if keep { n0 } else { 0 })
}

/// Script that verifies a signature under `pk` from the witness of [`Signature::to_witness`] and
/// leaves the message digits as script numbers in `0..2^w`, most significant deepest.
pub fn verify_script(pk: &PublicKey) -> Fragment {
    verify_impl(pk, true)
}

/// Like [`verify_script`] but leaves nothing on the stack.
pub fn verify_script_drop(pk: &PublicKey) -> Fragment {
    verify_impl(pk, false)
}

/// Sizes of one signed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeFigures {
    /// Message bits signed.
    pub bits: usize,
    /// Digits (message + checksum).
    pub digits: usize,
    /// Witness bytes, worst case (every digit non-zero, so it takes 2 bytes).
    pub witness_max: usize,
    /// Script bytes of [`verify_script`].
    pub script_keep: usize,
    /// Script bytes of [`verify_script_drop`].
    pub script_drop: usize,
    /// Peak stack + altstack items while verifying (measured with the executor).
    pub peak_items: usize,
}

/// Measure the sizes for given parameters (a fixed test key; the peak is measured by executing
/// [`verify_script`] on a signature of a 0x5a.. message).
pub fn size_figures(params: Params) -> SizeFigures {
    let sk = SecretKey::derive(&[7u8; 32], b"size-figures", params);
    let pk = sk.public_key();
    let keep = verify_script(&pk);
    let drop = verify_script_drop(&pk);
    let msg = vec![0x5a; params.message_len()];
    let sig = sk.sign(&msg).expect("message length matches");
    let report = crate::exec::execute(&keep.to_script(), &sig.to_witness(), &Default::default());
    SizeFigures {
        bits: 8 * params.message_len(),
        digits: params.total_digits(),
        witness_max: params.total_digits() * (1 + HASH_LEN + 2),
        script_keep: keep.len(),
        script_drop: drop.len(),
        peak_items: report.peak_items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::check_effect;
    use crate::exec::{encode_num, execute, ExecErrorKind, ExecOptions, ExecReport};
    use proptest::prelude::*;

    fn key(params: Params, domain: &[u8]) -> SecretKey {
        SecretKey::derive(&[42u8; 32], domain, params)
    }

    fn run(f: &Fragment, w: &[Vec<u8>]) -> ExecReport {
        execute(&f.to_script(), w, &ExecOptions::default())
    }

    /// Script that verifies and then checks the digits left on the stack against `digits`.
    fn with_digit_check(f: &Fragment, digits: &[u32]) -> Fragment {
        let mut g = f.clone();
        for d in digits.iter().rev() {
            g = g.push_int(*d as i64).op(OP_EQUALVERIFY);
        }
        g.push_int(1)
    }

    #[test]
    fn params_match_known_counts() {
        // BitVM's 16-byte commitment: 32 message digits + 3 checksum digits of 4 bits.
        let p = Params::new(4, 16).unwrap();
        assert_eq!((p.message_digits(), p.checksum_digits()), (32, 3));
        let p = Params::new(4, 32).unwrap();
        assert_eq!((p.message_digits(), p.checksum_digits()), (64, 3));
        let p = Params::new(8, 20).unwrap();
        assert_eq!((p.message_digits(), p.checksum_digits()), (20, 2));
        let p = Params::new(3, 2).unwrap(); // 16 bits -> 6 digits, max sum 42 -> 2 digits
        assert_eq!((p.message_digits(), p.checksum_digits()), (6, 2));
        assert_eq!(Params::new(0, 4), Err(WinternitzError::DigitBits(0)));
        assert_eq!(Params::new(9, 4), Err(WinternitzError::DigitBits(9)));
        assert_eq!(Params::new(4, 0), Err(WinternitzError::MessageLen(0)));
    }

    #[test]
    fn digits_are_big_endian() {
        let p = Params::new(4, 2).unwrap();
        assert_eq!(p.to_digits(&[0x12, 0xab]).unwrap(), vec![1, 2, 0xa, 0xb]);
        let p = Params::new(3, 1).unwrap(); // 8 bits -> 3 digits: 0b11_010_110
        assert_eq!(p.to_digits(&[0b1101_0110]).unwrap(), vec![0b011, 0b010, 0b110]);
        // Checksum: 4 digits * 15 - (1 + 2 + 10 + 11) = 36 = 0x24 -> two digits [2, 4].
        let p = Params::new(4, 2).unwrap();
        assert_eq!(p.checksum(&[1, 2, 0xa, 0xb]), vec![2, 4]);
    }

    #[test]
    fn derivation_is_deterministic_and_domain_separated() {
        let p = Params::new(4, 16).unwrap();
        let a = key(p, b"graph-1/value-0").public_key();
        assert_eq!(a, key(p, b"graph-1/value-0").public_key());
        assert_ne!(a, key(p, b"graph-1/value-1").public_key());
        assert_ne!(a, SecretKey::derive(&[43u8; 32], b"graph-1/value-0", p).public_key());
        // Every position has its own chain.
        let mut hs = a.hashes().to_vec();
        hs.sort();
        hs.dedup();
        assert_eq!(hs.len(), p.total_digits());
    }

    #[test]
    fn script_verifies_and_leaves_digits() {
        for (w, len) in [(4, 16), (4, 32), (1, 2), (2, 3), (3, 4), (5, 3), (8, 4)] {
            let p = Params::new(w, len).unwrap();
            let sk = key(p, b"t");
            let pk = sk.public_key();
            let msg: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let sig = sk.sign(&msg).unwrap();
            assert_eq!(pk.verify(&sig).unwrap(), msg);
            let digits = p.to_digits(&msg).unwrap();
            let f = with_digit_check(&verify_script(&pk), &digits);
            let r = run(&f, &sig.to_witness());
            assert!(r.success(), "w={w} len={len}: {:?}", r.verdict());
            let d = verify_script_drop(&pk).push_int(1);
            assert!(run(&d, &sig.to_witness()).success());
            // Declared stack effects hold.
            check_effect(&verify_script(&pk), &sig.to_witness()).unwrap();
            check_effect(&verify_script_drop(&pk), &sig.to_witness()).unwrap();
        }
    }

    fn fail_kind(pk: &PublicKey, w: &[Vec<u8>]) -> ExecErrorKind {
        let r = run(&verify_script_drop(pk).push_int(1), w);
        r.outcome.expect_err("must fail").kind
    }

    #[test]
    fn wrong_digit_fails() {
        let p = Params::new(4, 16).unwrap();
        let sk = key(p, b"neg");
        let pk = sk.public_key();
        let msg = [0x37u8; 16];
        let sig = sk.sign(&msg).unwrap();
        let mut w = sig.to_witness();
        // Item 1 is the most significant message digit (3); claim 4 with the same hash.
        assert_eq!(w[1], encode_num(3));
        w[1] = encode_num(4);
        assert_eq!(fail_kind(&pk, &w), ExecErrorKind::EqualVerify);
        let mut s2 = sig.clone();
        s2.items[0].1 = 4;
        assert!(pk.verify(&s2).is_err());
    }

    #[test]
    fn raising_a_digit_needs_a_forged_checksum() {
        // Anyone can raise a digit by hashing its chain element forward; the checksum then has
        // to go down, which needs a preimage. Both ways to cheat fail.
        let p = Params::new(4, 16).unwrap();
        let sk = key(p, b"neg");
        let pk = sk.public_key();
        let msg = [0x37u8; 16];
        let sig = sk.sign(&msg).unwrap();
        let mut forged = sig.clone();
        forged.items[0].0 = hash160::Hash::hash(&forged.items[0].0).to_byte_array();
        forged.items[0].1 += 1;
        // (a) checksum signatures unchanged: sum check fails.
        assert_eq!(fail_kind(&pk, &forged.to_witness()), ExecErrorKind::NumEqualVerify);
        assert!(matches!(pk.verify(&forged), Err(WinternitzError::Invalid { reason: "checksum mismatch", .. })));
        // (b) checksum digits lowered to match, keeping their hashes: chain check fails.
        let digits: Vec<u32> = forged.items[..p.message_digits()].iter().map(|x| x.1).collect();
        for (k, c) in p.checksum(&digits).into_iter().enumerate() {
            forged.items[p.message_digits() + k].1 = c;
        }
        assert_eq!(fail_kind(&pk, &forged.to_witness()), ExecErrorKind::EqualVerify);
        assert!(pk.verify(&forged).is_err());
    }

    #[test]
    fn out_of_range_digits_fail() {
        let p = Params::new(4, 16).unwrap();
        let sk = key(p, b"neg");
        let pk = sk.public_key();
        let sig = sk.sign(&[0u8; 16]).unwrap();
        let w = sig.to_witness();
        // A digit of 16: caught by the range check.
        let mut bad = w.clone();
        bad[1] = encode_num(16);
        assert_eq!(fail_kind(&pk, &bad), ExecErrorKind::Verify);
        // A negative digit: caught by OP_PICK.
        let mut bad = w.clone();
        bad[1] = encode_num(-1);
        assert!(matches!(fail_kind(&pk, &bad), ExecErrorKind::PickRollIndex { index: -1, .. }));
        // A 5-byte "digit".
        let mut bad = w.clone();
        bad[1] = vec![1, 0, 0, 0, 1];
        assert!(matches!(fail_kind(&pk, &bad), ExecErrorKind::NumberOverflow { .. }));
        // Out of range in a checksum digit (top of the witness) too.
        let mut bad = w.clone();
        let last = bad.len();
        bad[last - 1] = encode_num(16);
        assert_eq!(fail_kind(&pk, &bad), ExecErrorKind::Verify);
    }

    #[test]
    fn signature_for_another_key_fails() {
        let p = Params::new(4, 16).unwrap();
        let pk = key(p, b"domain-a").public_key();
        let other = key(p, b"domain-b").sign(&[9u8; 16]).unwrap();
        assert_eq!(fail_kind(&pk, &other.to_witness()), ExecErrorKind::EqualVerify);
        assert!(pk.verify(&other).is_err());
    }

    #[test]
    fn witness_and_key_round_trip() {
        let p = Params::new(4, 16).unwrap();
        let sk = key(p, b"rt");
        let pk = sk.public_key();
        let sig = sk.sign(&[0xa5; 16]).unwrap();
        let w = sig.to_witness();
        assert_eq!(Signature::from_witness(p, &w).unwrap(), sig);
        assert_eq!(PublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
        // Malformed inputs are rejected with the position that was wrong.
        let mut bad = w.clone();
        bad[0].push(0);
        assert!(matches!(Signature::from_witness(p, &bad), Err(WinternitzError::Invalid { position: 0, .. })));
        let mut bad = w.clone();
        bad[3] = vec![16];
        assert!(matches!(Signature::from_witness(p, &bad), Err(WinternitzError::Invalid { position: 1, .. })));
        let mut bad = w.clone();
        bad[3] = vec![0];
        assert!(Signature::from_witness(p, &bad).is_err());
        assert!(Signature::from_witness(p, &w[1..]).is_err());
        let last = w.len() - 1;
        let mut bad = w.clone();
        bad[last] = vec![0x81];
        assert!(matches!(Signature::from_witness(p, &bad), Err(WinternitzError::Invalid { position: 32, .. })));
        let bytes = pk.to_bytes();
        assert!(PublicKey::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(PublicKey::from_bytes(&[9, 0, 0, 0, 16]).is_err());
    }

    #[test]
    fn truncated_witness_fails() {
        let p = Params::new(4, 4).unwrap();
        let sk = key(p, b"x");
        let w = sk.sign(&[1, 2, 3, 4]).unwrap().to_witness();
        let r = run(&verify_script_drop(&sk.public_key()).push_int(1), &w[2..]);
        assert!(!r.success());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn sign_verify_round_trip(w in 1u32..=8, msg in proptest::collection::vec(any::<u8>(), 1..24), domain in proptest::collection::vec(any::<u8>(), 0..8)) {
            let p = Params::new(w, msg.len()).unwrap();
            let sk = key(p, &domain);
            let pk = sk.public_key();
            let sig = sk.sign(&msg).unwrap();
            prop_assert_eq!(pk.verify(&sig).unwrap(), msg.clone());
            let digits = p.to_digits(&msg).unwrap();
            prop_assert_eq!(p.from_digits(&digits).unwrap(), msg.clone());
            let r = run(&with_digit_check(&verify_script(&pk), &digits), &sig.to_witness());
            prop_assert!(r.success(), "{:?}", r.verdict());
            prop_assert!(r.peak_items <= 1000);
        }

        #[test]
        fn any_single_digit_change_fails(msg in proptest::collection::vec(any::<u8>(), 4), pos in 0usize..10, delta in 1u32..16) {
            let p = Params::new(4, 4).unwrap(); // 8 message + 2 checksum digits (max sum 120)
            let sk = key(p, b"p");
            let pk = sk.public_key();
            let sig = sk.sign(&msg).unwrap();
            let mut bad = sig.clone();
            bad.items[pos].1 = (bad.items[pos].1 + delta) % 16;
            prop_assert!(pk.verify(&bad).is_err());
            let r = run(&verify_script_drop(&pk).push_int(1), &bad.to_witness());
            prop_assert!(!r.success());
        }
    }

    #[test]
    fn size_figures_are_consistent() {
        let f = size_figures(Params::new(4, 16).unwrap());
        assert_eq!(f.digits, 35);
        assert_eq!(f.witness_max, 35 * 23);
        assert!(f.script_drop < f.script_keep);
        assert!(f.peak_items > 70 && f.peak_items < 1000);
    }
}
