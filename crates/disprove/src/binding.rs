//! Public-input binding: the disprove leaf that catches an operator whose asserted public input
//! differs from the claim field it committed in Kickoff.
//!
//! The Groth16 program takes its public inputs as committed values (the operator signs them in
//! an assert, under the program's keys). The claim fields `x0..x5` were already signed in
//! Kickoff under the claim keys (`crate::claim`), before anyone could challenge. One binding
//! leaf per field takes both signatures from the two transactions' witnesses, checks each under
//! its key, and succeeds only if the two messages differ as integers: the asserted element's
//! 64 digits against the claim field's 32 digits (the claim's are the low ones; the high 32 must
//! be zero). Both messages are big-endian integers, so this is a digit-by-digit comparison.
//!
//! Witness (bottom first): the asserted value's signature in the standard encoding
//! ([`crate::wots::WotsSignature::to_witness`]), then the claim field's items as the Kickoff
//! witness holds them (`bitvm2_script::winternitz::Signature::to_witness`). Stack: 134 + 70
//! items at the start, peak a few more while a chain is checked.

use bitcoin::opcodes::all::*;
use bitcoin::ScriptBuf;
use bitvm2_script::builder::Fragment;
use bitvm2_script::winternitz as sw;

use crate::setup::{Disprove, SignedAssertion};
use crate::wots::{self, WotsPublicKey, WotsSignature};

/// Why a binding leaf cannot be built or its witness assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// The claim field has more message digits than the asserted value.
    #[error("claim field has {claim} message digits, more than the asserted value's {asserted}")]
    Digits {
        /// Message digits of the claim field's key.
        claim: usize,
        /// Message digits of the asserted value's key.
        asserted: usize,
    },
    /// A bound commitment index outside the program's commitments.
    #[error("binding {field}: commitment {index} does not exist")]
    Commitment {
        /// Which binding.
        field: usize,
        /// The index given.
        index: usize,
    },
    /// A claim field's signature does not verify (such a Kickoff cannot be on chain).
    #[error("claim field {field}: {source}")]
    ClaimSignature {
        /// Which binding.
        field: usize,
        /// What the Winternitz layer found.
        source: sw::WinternitzError,
    },
    /// A claim field's witness with the wrong number of items.
    #[error("claim field witness has {got} items, expected {want}")]
    ClaimItems {
        /// Items given.
        got: usize,
        /// Items the key's signature has.
        want: usize,
    },
}

/// The binding leaf of one claim field: spendable exactly when the value signed under
/// `asserted` (the program's public input) differs from the one signed under `claim_field`
/// (the Kickoff's), both signatures being valid.
pub fn binding_leaf(claim_field: &sw::PublicKey, asserted: &WotsPublicKey) -> Result<ScriptBuf, BindingError> {
    let m = claim_field.params().message_digits();
    let n = asserted.params.msg_digits;
    if m > n {
        return Err(BindingError::Digits { claim: m, asserted: n });
    }
    // The claim's digits c_0..c_{m-1} (most significant deepest) go to the altstack, c_0 on top.
    let mut f = sw::verify_script(claim_field).repeat(m, &Fragment::new().op(OP_TOALTSTACK));
    f = f.append(&wots::verify_script(asserted)).push_int(0);
    // [d_0 .. d_{n-1} acc]: acc |= c_j != d_{n-m+j}, the asserted digit picked from below.
    for j in 0..m {
        let depth = (m - j + 1) as i64;
        f = f.op(OP_FROMALTSTACK).push_int(depth).ops(&[OP_PICK, OP_NUMNOTEQUAL, OP_BOOLOR]);
    }
    // The low m digits are compared; the high n - m must be zero.
    f = f.repeat(m, &Fragment::new().op(OP_NIP));
    f = f.repeat(n - m, &Fragment::new().ops(&[OP_SWAP, OP_BOOLOR]));
    Ok(f.into_script())
}

/// Witness of a binding leaf: the asserted value's signature, then the claim field's items
/// (copied from the Kickoff witness).
pub fn binding_witness(claim_field: &sw::PublicKey, claim_items: &[Vec<u8>], asserted: &WotsSignature) -> Result<Vec<Vec<u8>>, BindingError> {
    let want = 2 * claim_field.params().total_digits();
    if claim_items.len() != want {
        return Err(BindingError::ClaimItems { got: claim_items.len(), want });
    }
    let mut w = asserted.to_witness();
    w.extend(claim_items.iter().cloned());
    Ok(w)
}

/// Whether the asserted message (big-endian) and the claim field's message (big-endian) are
/// different integers: what the binding leaf decides, natively (the verifier's search).
pub fn messages_differ(asserted: &[u8], claim_field: &[u8]) -> bool {
    let strip = |b: &[u8]| b.iter().skip_while(|x| **x == 0).copied().collect::<Vec<u8>>();
    strip(asserted) != strip(claim_field)
}

/// A claim field bound to a committed value of a program (e.g. public input `x_k` of the
/// Groth16 program, by commitment index).
#[derive(Debug, Clone)]
pub struct Binding {
    /// The Kickoff's key of the claim field.
    pub claim_field: sw::PublicKey,
    /// Index of the bound value among the program's commitments.
    pub commitment: usize,
}

/// The binding leaves of `bindings`, in order (they go into the disprove tree beside the
/// program's leaves).
pub fn binding_leaves(d: &Disprove, bindings: &[Binding]) -> Result<Vec<ScriptBuf>, BindingError> {
    bindings
        .iter()
        .enumerate()
        .map(|(field, b)| {
            let key = d.keys.get(b.commitment).ok_or(BindingError::Commitment { field, index: b.commitment })?;
            binding_leaf(&b.claim_field, key)
        })
        .collect()
}

/// A binding found broken: the field's index and the witness of its binding leaf.
pub type BindingFault = (usize, Vec<Vec<u8>>);

/// The verifier's search over the bindings: the first field whose Kickoff message (read from
/// `claim_items`, one item list per binding) differs from the asserted value, with the witness
/// of its binding leaf; `None` if every asserted value is the claimed one.
pub fn find_binding_fault(bindings: &[Binding], claim_items: &[Vec<Vec<u8>>], a: &SignedAssertion) -> Result<Option<BindingFault>, BindingError> {
    for (field, (b, items)) in bindings.iter().zip(claim_items).enumerate() {
        let (asserted, sig) = match (a.values.get(b.commitment), a.sigs.get(b.commitment)) {
            (Some(v), Some(s)) => (v, s),
            _ => return Err(BindingError::Commitment { field, index: b.commitment }),
        };
        let claimed = sw::Signature::from_witness(b.claim_field.params(), items)
            .and_then(|s| b.claim_field.verify(&s))
            .map_err(|source| BindingError::ClaimSignature { field, source })?;
        if messages_differ(asserted, &claimed) {
            return Ok(Some((field, binding_witness(&b.claim_field, items, sig)?)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wots::{WotsParams, WotsSecret};
    use bitvm2_script::exec::{execute, ExecOptions, ExecReport};
    use proptest::prelude::*;

    struct Keys {
        claim: sw::SecretKey,
        asserted: WotsSecret,
        leaf: ScriptBuf,
    }

    fn keys() -> Keys {
        let claim = sw::SecretKey::derive(&[1; 32], b"binding test claim x1", sw::Params::new(4, 16).unwrap());
        let asserted = WotsSecret::derive(&[2; 32], b"binding test program", 7, WotsParams::for_bits(256));
        let leaf = binding_leaf(&claim.public_key(), &asserted.public_key()).unwrap();
        Keys { claim, asserted, leaf }
    }

    fn be32(x: u128) -> Vec<u8> {
        let mut v = vec![0u8; 16];
        v.extend_from_slice(&x.to_be_bytes());
        v
    }

    fn sign_asserted(k: &Keys, asserted: &[u8]) -> WotsSignature {
        k.asserted.sign(&crate::wots::digits_of_be_bytes(asserted, 64)).unwrap()
    }

    fn run(k: &Keys, asserted: &[u8], claim: u128) -> ExecReport {
        let sig = sign_asserted(k, asserted);
        let items = k.claim.sign(&claim.to_be_bytes()).unwrap().to_witness();
        let w = binding_witness(&k.claim.public_key(), &items, &sig).unwrap();
        execute(&k.leaf, &w, &ExecOptions::default())
    }

    #[test]
    fn equal_values_are_not_spendable_and_the_stack_stays_small() {
        let k = keys();
        for x in [0u128, 1, 15, 0xdead_beef, u128::MAX] {
            let r = run(&k, &be32(x), x);
            assert!(r.outcome.is_ok() && !r.success(), "x = {x:#x}: {:?}", r.outcome);
            // 134 + 70 witness items and one digit's table of 16 (docs/disprove.md says ~220).
            assert!(r.peak_items <= 225, "peak {}", r.peak_items);
            assert!(!messages_differ(&be32(x), &x.to_be_bytes()));
        }
        assert!(k.leaf.len() < 10_000, "leaf of {} bytes", k.leaf.len());
    }

    #[test]
    fn an_asserted_value_above_2_128_is_spendable() {
        let k = keys();
        let mut asserted = be32(5);
        asserted[15] = 1; // bit 128
        assert!(run(&k, &asserted, 5).success());
        assert!(messages_differ(&asserted, &5u128.to_be_bytes()));
    }

    #[test]
    fn a_forged_claim_signature_makes_the_leaf_fail() {
        let k = keys();
        let sig = sign_asserted(&k, &be32(9));
        // a valid signature of 8 under the claim key, with one digit raised to claim 9
        let mut items = k.claim.sign(&8u128.to_be_bytes()).unwrap().to_witness();
        let last_msg_digit = 2 * 31 + 1;
        items[last_msg_digit] = vec![9];
        let w = binding_witness(&k.claim.public_key(), &items, &sig).unwrap();
        assert!(!execute(&k.leaf, &w, &ExecOptions::default()).success());
        // and a witness with a missing item is refused before it is built
        assert!(matches!(binding_witness(&k.claim.public_key(), &items[1..], &sig), Err(BindingError::ClaimItems { .. })));
    }

    #[test]
    fn a_longer_claim_than_the_asserted_value_is_refused() {
        let claim = sw::SecretKey::derive(&[1; 32], b"c", sw::Params::new(4, 32).unwrap()).public_key();
        let asserted = WotsSecret::derive(&[2; 32], b"p", 0, WotsParams::for_bits(128)).public_key();
        assert_eq!(binding_leaf(&claim, &asserted), Err(BindingError::Digits { claim: 64, asserted: 32 }));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Spendable exactly when the two integers differ (the native decision agrees).
        #[test]
        fn spendable_iff_the_values_differ(x in any::<u128>(), y in any::<u128>(), same in any::<bool>()) {
            let k = keys();
            let y = if same { x } else { y };
            let r = run(&k, &be32(x), y);
            prop_assert!(r.outcome.is_ok() || x != y);
            prop_assert_eq!(r.success(), x != y);
            prop_assert_eq!(messages_differ(&be32(x), &y.to_be_bytes()), x != y);
        }
    }
}
