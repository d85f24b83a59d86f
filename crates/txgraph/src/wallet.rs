//! Small helpers for the coins parties bring themselves: BIP-86 key-path signing, CPFP children
//! for the zero-fee presigned transactions, funding of transactions signed
//! SINGLE|ANYONECANPAY, and the disprover's reward output. Pure: the caller supplies keys,
//! coins and randomness.

use bitcoin::key::TapTweak;
use bitcoin::secp256k1::{Keypair, Message, Secp256k1};
use bitcoin::sighash::{Prevouts, SighashCache};
use bitcoin::{Amount, ScriptBuf, Sequence, TapSighashType, Transaction, TxIn, TxOut, Witness, XOnlyPublicKey};

use crate::error::GraphError;
use crate::params::FundingInput;

/// BIP-86 key-path-only P2TR script for a key.
pub fn p2tr_script(key: XOnlyPublicKey) -> ScriptBuf {
    ScriptBuf::new_p2tr(&Secp256k1::verification_only(), key, None)
}

/// Signs input `input` of `tx` as a BIP-86 key-path spend by `keypair` (SIGHASH_DEFAULT;
/// `prevouts` are all inputs' spent outputs, in order).
pub fn sign_p2tr_keypath(tx: &mut Transaction, input: usize, prevouts: &[TxOut], keypair: &Keypair) -> Result<(), GraphError> {
    let secp = Secp256k1::new();
    let tweaked = keypair.tap_tweak(&secp, None);
    let sighash = SighashCache::new(&*tx)
        .taproot_key_spend_signature_hash(input, &Prevouts::All(prevouts), TapSighashType::Default)
        .map_err(|e| GraphError::Sighash(e.to_string()))?;
    let sig = secp.sign_schnorr(&Message::from_digest(sighash.to_byte_array()), &tweaked.to_keypair());
    tx.input[input].witness = Witness::from_slice(&[sig.as_ref()]);
    Ok(())
}

use bitcoin::hashes::Hash;

/// A child (of the parent's version: a TRUC parent needs a TRUC child) that spends `parent`'s P2A anchor and `funding` and pays `fee` for the package;
/// the rest goes to `change_script`. Returns the child (funding input unsigned, at index 1) and
/// its prevouts (for signing).
pub fn cpfp_child(parent: &Transaction, funding: &FundingInput, change_script: ScriptBuf, fee: Amount) -> Result<(Transaction, Vec<TxOut>), GraphError> {
    let (vout, anchor) = parent
        .output
        .iter()
        .enumerate()
        .find(|(_, o)| o.script_pubkey == ScriptBuf::new_p2a())
        .ok_or_else(|| GraphError::Amount("parent has no P2A anchor".into()))?;
    let total = anchor
        .value
        .checked_add(funding.txout.value)
        .ok_or_else(|| GraphError::Amount("cpfp: overflow".into()))?;
    let change = total
        .checked_sub(fee)
        .ok_or_else(|| GraphError::Amount(format!("cpfp: fee {fee} exceeds {total}")))?;
    let dust = change_script.minimal_non_dust();
    if change < dust {
        return Err(GraphError::BelowDust { what: "cpfp change".into(), value: change, dust });
    }
    let tx = Transaction {
        version: parent.version,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![
            TxIn { previous_output: bitcoin::OutPoint { txid: parent.compute_txid(), vout: vout as u32 }, sequence: Sequence::ENABLE_RBF_NO_LOCKTIME, ..Default::default() },
            TxIn { previous_output: funding.outpoint, sequence: Sequence::ENABLE_RBF_NO_LOCKTIME, ..Default::default() },
        ],
        output: vec![TxOut { value: change, script_pubkey: change_script }],
    };
    Ok((tx, vec![anchor.clone(), funding.txout.clone()]))
}

/// Appends `funding` and a change output to a transaction whose inputs so far were signed
/// SINGLE|ANYONECANPAY (Challenge, Disprove, timeouts). `prevouts` are the spent outputs of the
/// existing inputs. The change takes everything but `fee` (and what output 0 needs). Returns the
/// transaction (new input unsigned) and all prevouts.
pub fn add_funding(mut tx: Transaction, prevouts: &[TxOut], funding: &FundingInput, change_script: ScriptBuf, fee: Amount) -> Result<(Transaction, Vec<TxOut>), GraphError> {
    let ins = prevouts.iter().map(|o| o.value).chain([funding.txout.value]).try_fold(Amount::ZERO, |a, v| a.checked_add(v));
    let outs = tx.output.iter().map(|o| o.value).try_fold(Amount::ZERO, |a, v| a.checked_add(v));
    let (ins, outs) = ins.zip(outs).ok_or_else(|| GraphError::Amount("funding: overflow".into()))?;
    let change = ins
        .checked_sub(outs)
        .and_then(|x| x.checked_sub(fee))
        .ok_or_else(|| GraphError::Amount(format!("funding: inputs {ins} do not cover outputs {outs} and fee {fee}")))?;
    let dust = change_script.minimal_non_dust();
    if change < dust {
        return Err(GraphError::BelowDust { what: "funding change".into(), value: change, dust });
    }
    tx.input.push(TxIn { previous_output: funding.outpoint, sequence: Sequence::ENABLE_RBF_NO_LOCKTIME, ..Default::default() });
    tx.output.push(TxOut { value: change, script_pubkey: change_script });
    let mut all = prevouts.to_vec();
    all.push(funding.txout.clone());
    Ok((tx, all))
}

/// Appends the disprover's reward output to a Disprove (whose committee signature commits to
/// its inputs, so no fee input can be added): everything the inputs (`prevouts`) leave after
/// the burn, minus `fee`, to `reward_script`.
pub fn add_reward(mut tx: Transaction, prevouts: &[TxOut], reward_script: ScriptBuf, fee: Amount) -> Result<Transaction, GraphError> {
    let ins = prevouts.iter().map(|o| o.value).try_fold(Amount::ZERO, |a, v| a.checked_add(v));
    let outs = tx.output.iter().map(|o| o.value).try_fold(Amount::ZERO, |a, v| a.checked_add(v));
    let (ins, outs) = ins.zip(outs).ok_or_else(|| GraphError::Amount("reward: overflow".into()))?;
    let reward = ins
        .checked_sub(outs)
        .and_then(|x| x.checked_sub(fee))
        .ok_or_else(|| GraphError::Amount(format!("reward: inputs {ins} minus outputs {outs} do not cover the fee {fee}")))?;
    let dust = reward_script.minimal_non_dust();
    if reward < dust {
        return Err(GraphError::BelowDust { what: "disprover reward".into(), value: reward, dust });
    }
    tx.output.push(TxOut { value: reward, script_pubkey: reward_script });
    Ok(tx)
}
