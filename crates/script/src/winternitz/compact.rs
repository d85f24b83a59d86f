//! Compact Winternitz check: the same signature as [`super::verify_script`] checks, with a
//! witness of one item per chain plus the message packed in a few numbers (e.g. 29-bit limbs)
//! instead of two items per chain.
//!
//! Witness of one signed value: the chain elements `HASH160^(d_i)(s_i)` (one item per digit
//! position, checksum positions included) and the message `M` (read as a big-endian integer, as
//! in [`Params::to_digits`]) split into packed items of the widths of a [`Packing`], most
//! significant first. The items are interleaved in the order the script consumes them (see
//! [`Packing::to_witness`]). For a 256-bit message with 4-bit digits and 29-bit limbs that is
//! 67 + 9 = 76 items instead of 134.
//!
//! The script ([`verify_script`]) walks the bits of `M` from the most significant down. For every
//! packed item it strips the bits with compare-and-subtract (`x >= 2^p ? x - 2^p`), the last bit
//! with `OP_NOTIF`, whose argument tapscript requires to be empty or `0x01` (MINIMALIF), so an
//! item passes only if `0 <= x < 2^width`. A bit of weight `2^k` inside digit `d_i` that is zero
//! hashes the chain element of position `i` `2^k` more times and adds `2^k` to the checksum
//! accumulator; a one bit does neither. So every element is hashed exactly `2^w - 1 - d_i` times
//! and the accumulator ends at `C = sum(2^w - 1 - d_i)`. `C` is then walked the same way to
//! hash the checksum chains, and every chain end is compared with the public key.
//!
//! Soundness. The range checks make the packed items the unique representation of one integer
//! `M < 2^(8 * message_len)`; the digits `d_i` the script uses are exactly the base-`2^w` digits
//! of that `M`, and the checksum digits are computed in script from those same digits (nothing
//! of the checksum comes from the witness). The script therefore accepts exactly when
//! `HASH160^(2^w - 1 - e_j)(sigma_j) == pk_j` for every position `j`, with `e` the message and
//! checksum digits of `M`: the acceptance condition of the standard check
//! ([`super::PublicKey::verify`]) for the message `M`. A witness for `M' != M` from a signature
//! of `M` needs some digit of `M'` lower than in `M` (a message or, because raising message
//! digits lowers `C`, a checksum digit): a HASH160 preimage, as in the standard scheme. Keys,
//! key derivation and chain elements are those of the standard scheme, so one signature (e.g.
//! published in an assert transaction) can be checked by either script.
//!
//! Packed items are re-encoded as minimal numbers (`0 OP_ADD`) when taken from the witness, so a
//! non-minimal encoding, which consensus accepts, is read as its number and cannot leak into
//! the outputs ([`verify_script`]) or later byte comparisons.

use bitcoin::opcodes::all::*;

use super::{Params, PublicKey, Signature, WinternitzError, HASH_LEN};
use crate::builder::Fragment;
use crate::exec::{decode_num_with, encode_num};

/// What went wrong with a packing or a compact witness.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompactError {
    /// A packed item width outside 1..=30 bits.
    #[error("packed item width of {0} bits is not supported (1..=30)")]
    Width(u32),
    /// The widths do not add up to the message bits.
    #[error("packed item widths add up to {got} bits, the message has {want}")]
    WidthSum {
        /// Sum of the widths.
        got: usize,
        /// Message bits.
        want: usize,
    },
    /// A block size that does not divide the message.
    #[error("block of {block_bits} bits does not divide a {bits}-bit message")]
    Block {
        /// Block size.
        block_bits: usize,
        /// Message bits.
        bits: usize,
    },
    /// Malformed witness items.
    #[error("compact witness item {index}: {reason}")]
    Witness {
        /// Index of the item (bottom first).
        index: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// Wrong parameters, message or signature shape.
    #[error(transparent)]
    Winternitz(#[from] WinternitzError),
}

/// How a message is packed into numbers: the Winternitz parameters and the widths of the packed
/// items, most significant first (their sum is the message length in bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Packing {
    params: Params,
    widths: Vec<u32>,
}

/// One witness item of the compact encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WitnessSlot {
    /// The chain element of digit position `i` (message digits first, then checksum digits,
    /// each most significant first, as in [`PublicKey::hashes`]).
    Chain(usize),
    /// Packed item `j` (0 = most significant).
    Packed(usize),
}

/// One step of the bit walk over the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Take the chain element of message digit `i` from the witness.
    Chain(usize),
    /// Take packed item `j` from the witness.
    Packed(usize),
    /// Bit of weight `2^k` in its digit: at bit position `pos` of the current packed item, or
    /// `None` if it lies above the message (always zero).
    Bit { pos: Option<u32>, k: u32 },
    /// All bits of message digit `i` done: check its chain end.
    DigitDone(usize),
}

impl Packing {
    /// A packing with explicit item widths (most significant first).
    pub fn new(params: Params, widths: Vec<u32>) -> Result<Self, CompactError> {
        if let Some(w) = widths.iter().find(|w| !(1..=30).contains(*w)) {
            return Err(CompactError::Width(*w));
        }
        let got: usize = widths.iter().map(|w| *w as usize).sum();
        let want = 8 * params.message_len();
        if got != want {
            return Err(CompactError::WidthSum { got, want });
        }
        Ok(Packing { params, widths })
    }

    /// The message as `limb_bits`-bit limbs, the most significant limb narrower if the bits do
    /// not divide (the convention of `arith::Layout`: 256 bits in 29-bit limbs = 24 + 8 x 29).
    pub fn limbs(params: Params, limb_bits: u32) -> Result<Self, CompactError> {
        Self::blocks(params, 8 * params.message_len(), limb_bits)
    }

    /// The message cut into blocks of `block_bits` (e.g. the 256-bit elements of a value that
    /// holds several field elements), each block in `limb_bits`-bit limbs as in [`Packing::limbs`].
    pub fn blocks(params: Params, block_bits: usize, limb_bits: u32) -> Result<Self, CompactError> {
        let bits = 8 * params.message_len();
        if block_bits == 0 || !bits.is_multiple_of(block_bits) {
            return Err(CompactError::Block { block_bits, bits });
        }
        if !(1..=30).contains(&limb_bits) {
            return Err(CompactError::Width(limb_bits));
        }
        let lb = limb_bits as usize;
        let n = block_bits.div_ceil(lb);
        let top = (block_bits - (n - 1) * lb) as u32;
        let block: Vec<u32> = std::iter::once(top).chain(std::iter::repeat_n(limb_bits, n - 1)).collect();
        let widths = block.iter().copied().cycle().take(block.len() * (bits / block_bits)).collect();
        Self::new(params, widths)
    }

    /// The Winternitz parameters.
    pub fn params(&self) -> Params {
        self.params
    }

    /// Widths of the packed items, most significant first.
    pub fn widths(&self) -> &[u32] {
        &self.widths
    }

    /// Number of packed items.
    pub fn packed_items(&self) -> usize {
        self.widths.len()
    }

    /// Witness items of one signature: one per chain plus the packed items.
    pub fn witness_items(&self) -> usize {
        self.params.total_digits() + self.widths.len()
    }

    /// Lowest bit (from the least significant end of the message) of packed item `j`.
    fn low_bit(&self, j: usize) -> usize {
        self.widths[j + 1..].iter().map(|w| *w as usize).sum()
    }

    /// The packed item and bit position holding message bit `g` (from the least significant).
    fn locate(&self, g: usize) -> Option<(usize, u32)> {
        (0..self.widths.len()).find_map(|j| {
            let lo = self.low_bit(j);
            (g >= lo && g < lo + self.widths[j] as usize).then(|| (j, (g - lo) as u32))
        })
    }

    /// The message walk, most significant bit first.
    fn steps(&self) -> Vec<Step> {
        let w = self.params.digit_bits();
        let n0 = self.params.message_digits();
        let mut steps = Vec::new();
        let mut current: Option<usize> = None;
        for i in 0..n0 {
            steps.push(Step::Chain(i));
            for k in (0..w).rev() {
                let g = (n0 - 1 - i) * w as usize + k as usize;
                match self.locate(g) {
                    None => steps.push(Step::Bit { pos: None, k }),
                    Some((j, p)) => {
                        if current != Some(j) {
                            steps.push(Step::Packed(j));
                            current = Some(j);
                        }
                        steps.push(Step::Bit { pos: Some(p), k });
                    }
                }
            }
            steps.push(Step::DigitDone(i));
        }
        steps
    }

    /// The witness items in the order the script consumes them (first consumed first).
    pub fn consumption_order(&self) -> Vec<WitnessSlot> {
        let n0 = self.params.message_digits();
        let mut out: Vec<WitnessSlot> = self
            .steps()
            .into_iter()
            .filter_map(|s| match s {
                Step::Chain(i) => Some(WitnessSlot::Chain(i)),
                Step::Packed(j) => Some(WitnessSlot::Packed(j)),
                _ => None,
            })
            .collect();
        out.extend((n0..self.params.total_digits()).map(WitnessSlot::Chain));
        out
    }

    /// The packed items of a message, most significant first.
    pub fn pack(&self, msg: &[u8]) -> Result<Vec<u32>, CompactError> {
        if msg.len() != self.params.message_len() {
            return Err(WinternitzError::WrongMessageLen { got: msg.len(), want: self.params.message_len() }.into());
        }
        let bits = 8 * msg.len();
        let bit = |g: usize| -> u32 { ((msg[(bits - 1 - g) / 8] >> (g % 8)) & 1) as u32 };
        Ok((0..self.widths.len())
            .map(|j| {
                let lo = self.low_bit(j);
                (0..self.widths[j] as usize).rev().fold(0u32, |acc, b| (acc << 1) | bit(lo + b))
            })
            .collect())
    }

    /// The message of packed items (inverse of [`Packing::pack`]); `None` if an item does not
    /// fit its width or the count is wrong.
    pub fn unpack(&self, items: &[u32]) -> Option<Vec<u8>> {
        if items.len() != self.widths.len() || items.iter().zip(&self.widths).any(|(x, w)| (*x as u64) >> w != 0) {
            return None;
        }
        let bits = 8 * self.params.message_len();
        let mut msg = vec![0u8; self.params.message_len()];
        for (j, x) in items.iter().enumerate() {
            let lo = self.low_bit(j);
            for b in 0..self.widths[j] as usize {
                if (x >> b) & 1 == 1 {
                    let g = lo + b;
                    msg[(bits - 1 - g) / 8] |= 1 << (g % 8);
                }
            }
        }
        Some(msg)
    }

    /// Witness items (bottom first) of `sig` for [`verify_script`]: the chain elements and the
    /// packed message as minimal script numbers, the first consumed on top.
    pub fn to_witness(&self, sig: &Signature) -> Result<Vec<Vec<u8>>, CompactError> {
        let p = self.params;
        if sig.params != p || sig.items.len() != p.total_digits() {
            return Err(WinternitzError::Shape { want: p.total_digits(), got: sig.items.len() }.into());
        }
        let digits: Vec<u32> = sig.items[..p.message_digits()].iter().map(|x| x.1).collect();
        let msg = p.from_digits(&digits).ok_or(WinternitzError::Invalid { position: 0, reason: "digits exceed message length" })?;
        let packed = self.pack(&msg)?;
        Ok(self
            .consumption_order()
            .into_iter()
            .rev()
            .map(|s| match s {
                WitnessSlot::Chain(i) => sig.items[i].0.to_vec(),
                WitnessSlot::Packed(j) => encode_num(packed[j] as i64),
            })
            .collect())
    }

    /// Read a compact witness back into a signature (e.g. from a published transaction).
    /// Numbers are read as consensus reads them (non-minimal encodings accepted); packed items
    /// must fit their widths. Shape only: use [`PublicKey::verify`] to check the signature.
    pub fn signature_from_witness(&self, items: &[Vec<u8>]) -> Result<Signature, CompactError> {
        let order = self.consumption_order();
        if items.len() != order.len() {
            return Err(WinternitzError::Shape { want: order.len(), got: items.len() }.into());
        }
        let mut elements = vec![[0u8; HASH_LEN]; self.params.total_digits()];
        let mut packed = vec![0u32; self.widths.len()];
        for (index, (item, slot)) in items.iter().zip(order.iter().rev()).enumerate() {
            match slot {
                WitnessSlot::Chain(i) => {
                    elements[*i] = item
                        .as_slice()
                        .try_into()
                        .map_err(|_| CompactError::Witness { index, reason: "chain element is not 20 bytes" })?;
                }
                WitnessSlot::Packed(j) => {
                    let v = decode_num_with(item, 4, false)
                        .ok()
                        .filter(|v| (0..1i64 << self.widths[*j]).contains(v))
                        .ok_or(CompactError::Witness { index, reason: "packed item is not a number in range" })?;
                    packed[*j] = v as u32;
                }
            }
        }
        let msg = self.unpack(&packed).ok_or(CompactError::Witness { index: 0, reason: "packed items out of range" })?;
        let digits = self.params.all_digits(&msg)?;
        Ok(Signature { params: self.params, items: elements.into_iter().zip(digits).collect() })
    }
}

/// `OP_HASH160` `n` times.
fn hash_n(f: Fragment, n: u32) -> Fragment {
    (0..n).fold(f, |f, _| f.op(OP_HASH160))
}

/// Bit step on `[acc sig x]` (`acc` present) or `[sig x]`: strip bit `pos` of `x`; if it is zero,
/// hash `sig` `2^k` times (and add `2^k` to `acc`). Bit 0 consumes `x` (MINIMALIF range check).
fn bit_step(f: Fragment, pos: u32, k: u32, with_acc: bool) -> Fragment {
    let n = 1u32 << k;
    if pos > 0 {
        let f = f.push_int(1i64 << pos).ops(&[OP_2DUP, OP_GREATERTHANOREQUAL, OP_IF, OP_SUB, OP_ELSE, OP_DROP]);
        let f = if with_acc {
            // [acc sig x] -> [sig x acc+n] -> [x acc' sig] -> hash -> [acc' sig' x]
            hash_n(f.op(OP_ROT).push_int(n as i64).op(OP_ADD).op(OP_ROT), n).op(OP_ROT)
        } else {
            hash_n(f.op(OP_SWAP), n).op(OP_SWAP)
        };
        f.op(OP_ENDIF)
    } else {
        let f = hash_n(f.op(OP_NOTIF), n);
        let f = if with_acc { f.op(OP_SWAP).push_int(n as i64).op(OP_ADD).op(OP_SWAP) } else { f };
        f.op(OP_ENDIF)
    }
}

/// A bit that is always zero, on `[acc sig x]`, `[acc sig]`, `[sig x]` or `[sig]`.
fn zero_bit(f: Fragment, k: u32, with_acc: bool, has_x: bool) -> Fragment {
    let n = 1u32 << k;
    match (with_acc, has_x) {
        (true, true) => hash_n(f.op(OP_ROT).push_int(n as i64).op(OP_ADD).op(OP_ROT), n).op(OP_ROT),
        (true, false) => hash_n(f, n).op(OP_SWAP).push_int(n as i64).op(OP_ADD).op(OP_SWAP),
        (false, true) => hash_n(f.op(OP_SWAP), n).op(OP_SWAP),
        (false, false) => hash_n(f, n),
    }
}

/// `[.. sig x]` or `[.. sig]` -> `[.. x]` / `[..]`: the chain end must equal `pk`.
fn check_end(f: Fragment, pk: &[u8; HASH_LEN], has_x: bool) -> Fragment {
    let f = if has_x { f.op(OP_SWAP) } else { f };
    f.push_bytes(pk).op(OP_EQUALVERIFY)
}

fn verify_impl(packing: &Packing, pk: &PublicKey, keep: bool) -> Result<Fragment, CompactError> {
    let p = packing.params;
    if pk.params != p {
        return Err(WinternitzError::Shape { want: p.total_digits(), got: pk.hashes.len() }.into());
    }
    let n0 = p.message_digits();
    let w = p.digit_bits();
    // Stack picture of the working set: [acc (sig) (x)], next witness item directly below.
    let mut f = Fragment::new().push_int(0);
    let mut has_x = false;
    for step in packing.steps() {
        f = match step {
            // [s acc x] -> [acc s x];  [s acc] -> [acc s]
            Step::Chain(_) if has_x => f.op(OP_ROT).op(OP_SWAP),
            Step::Chain(_) => f.op(OP_SWAP),
            Step::Packed(_) => {
                has_x = true;
                // [L acc s] -> [acc s L], L re-encoded minimally (`0 OP_ADD`: consensus reads a
                // non-minimal number, and OP_NOTIF needs a minimal 0 or 1 at the end), a copy
                // parked for the output.
                let f = f.op(OP_ROT).push_int(0).op(OP_ADD);
                if keep {
                    f.op(OP_DUP).op(OP_TOALTSTACK)
                } else {
                    f
                }
            }
            Step::Bit { pos: Some(pos), k } => {
                if pos == 0 {
                    has_x = false;
                }
                bit_step(f, pos, k, true)
            }
            Step::Bit { pos: None, k } => zero_bit(f, k, true, has_x),
            Step::DigitDone(i) => check_end(f, &pk.hashes[i], has_x),
        };
    }
    debug_assert!(!has_x, "the least significant bit ends the last packed item");
    // [s_c0 C]: walk the checksum C (computed above, so no range check needed) in n1 digits.
    let n1 = p.checksum_digits();
    let max_c = n0 as u64 * p.max_digit() as u64;
    let mut has_x = true;
    for j in 0..n1 {
        for k in (0..w).rev() {
            let pos = (n1 - 1 - j) as u32 * w + k;
            if pos > 0 && (1u64 << pos) > max_c {
                f = zero_bit(f, k, false, true);
            } else {
                if pos == 0 {
                    has_x = false;
                }
                f = bit_step(f, pos, k, false);
            }
        }
        // The next checksum element is already below x.
        f = check_end(f, &pk.hashes[n0 + j], has_x);
    }
    let m = packing.widths.len();
    if keep {
        f = (0..m).fold(f, |f, _| f.op(OP_FROMALTSTACK));
        // The altstack gave the least significant item deepest: reverse.
        for i in 1..m {
            f = match i {
                1 => f.op(OP_SWAP),
                2 => f.op(OP_ROT),
                _ => f.push_int(i as i64).op(OP_ROLL),
            };
        }
    }
    Ok(f.with_effect(packing.witness_items(), if keep { m } else { 0 }))
}

/// `[compact witness of a signature under pk]` -> `[packed items]`, most significant deepest, as
/// minimal script numbers. Fails unless every packed item is a number in range and every chain
/// (message and checksum) reaches its public key. Errors if `pk` has other parameters.
pub fn verify_script(packing: &Packing, pk: &PublicKey) -> Result<Fragment, CompactError> {
    verify_impl(packing, pk, true)
}

/// Like [`verify_script`] but leaves nothing.
pub fn verify_script_drop(packing: &Packing, pk: &PublicKey) -> Result<Fragment, CompactError> {
    verify_impl(packing, pk, false)
}

/// `[d_0 .. d_{n0-1}]` (the message digits, most significant deepest, e.g. nibbles computed by
/// a hash gadget) -> `[packed items]` (most significant deepest): the same message in the form
/// [`verify_script`] leaves, so the two can be compared item by item. The digits are not
/// range-checked (they come from script). Errors unless every packed width is a multiple of
/// the digit width and the digits hold exactly the message bits.
pub fn pack_digits(packing: &Packing) -> Result<Fragment, CompactError> {
    let p = packing.params;
    let w = p.digit_bits();
    let n0 = p.message_digits();
    if n0 * w as usize != 8 * p.message_len() {
        return Err(CompactError::Width(w));
    }
    if let Some(x) = packing.widths.iter().find(|x| *x % w != 0) {
        return Err(CompactError::Width(*x));
    }
    let mut f = Fragment::new();
    let mut remaining = n0;
    for (j, width) in packing.widths.iter().enumerate() {
        for c in 0..(width / w) {
            // Stack: [remaining digits, j finished items, (acc)]; take the deepest digit.
            let depth = remaining - 1 + j + usize::from(c > 0);
            f = match depth {
                0 => f,
                1 => f.op(OP_SWAP),
                2 => f.op(OP_ROT),
                _ => f.push_int(depth as i64).op(OP_ROLL),
            };
            if c > 0 {
                // [acc d] -> [acc * 2^w + d]
                f = f.op(OP_SWAP);
                f = (0..w).fold(f, |f, _| f.op(OP_DUP).op(OP_ADD));
                f = f.op(OP_ADD);
            }
            remaining -= 1;
        }
    }
    Ok(f.with_effect(n0, packing.widths.len()))
}

/// Sizes of one signed value under the compact check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactFigures {
    /// Message bits.
    pub bits: usize,
    /// Witness items (chains + packed items).
    pub items: usize,
    /// Witness bytes, worst case (each item with its length byte; packed items 4 bytes).
    pub witness_max: usize,
    /// Script bytes of [`verify_script`].
    pub script_keep: usize,
    /// Script bytes of [`verify_script_drop`].
    pub script_drop: usize,
    /// Peak stack + altstack items while verifying (executor, message 0x5a..).
    pub peak_items: usize,
}

/// Measure the compact check for a packing (a fixed test key).
pub fn compact_figures(packing: &Packing) -> CompactFigures {
    let params = packing.params;
    let sk = super::SecretKey::derive(&[7u8; 32], b"size-figures", params);
    let pk = sk.public_key();
    let keep = verify_script(packing, &pk).expect("key has the packing's parameters");
    let drop = verify_script_drop(packing, &pk).expect("key has the packing's parameters");
    let sig = sk.sign(&vec![0x5a; params.message_len()]).expect("message length matches");
    let w = packing.to_witness(&sig).expect("signature has the packing's parameters");
    let report = crate::exec::execute(&keep.to_script(), &w, &Default::default());
    // A minimal number below 2^width takes (width + 1) bits with the sign bit.
    let max_num = |width: u32| (width as usize + 8) / 8;
    CompactFigures {
        bits: 8 * params.message_len(),
        items: packing.witness_items(),
        witness_max: params.total_digits() * (1 + HASH_LEN) + packing.widths.iter().map(|w| 1 + max_num(*w)).sum::<usize>(),
        script_keep: keep.len(),
        script_drop: drop.len(),
        peak_items: report.peak_items,
    }
}

#[cfg(test)]
mod tests;
