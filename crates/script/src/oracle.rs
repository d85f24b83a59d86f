//! Bitcoin Core as the judge of a leaf (feature `core-oracle`, libbitcoinkernel): a script is
//! put in a one-leaf taproot output (NUMS internal key) and spent with a given witness; Core's
//! `verify` and our executor both give their verdict. Used by the script crate's oracle tests
//! and by other crates' tests of their leaves.

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::opcodes::all::*;
use bitcoin::secp256k1::{Secp256k1, XOnlyPublicKey};
use bitcoin::sighash::{Prevouts, SighashCache};
use bitcoin::taproot::{LeafVersion, TapLeafHash, TaprootBuilder};
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, TapSighashType, Transaction, TxIn, TxOut, Txid, Witness};

use crate::builder::Fragment;
use crate::exec::{execute_with, ExecContext, ExecOptions};

/// What Core and our executor say about one spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdicts {
    /// Core's `verify` accepted the spend (all consensus flags).
    pub core: bool,
    /// Our executor: ran without error and left exactly one true item.
    pub ours: bool,
    /// Both reasons, for messages.
    pub detail: String,
}

/// Spend a one-leaf taproot output holding `script` with `items` (bottom first) and ask both.
pub fn verdicts(script: &ScriptBuf, items: &[Vec<u8>]) -> Verdicts {
    let secp = Secp256k1::new();
    // BIP-341 NUMS point as internal key: only the script path can spend.
    let internal = XOnlyPublicKey::from_slice(&[
        0x50, 0x92, 0x9b, 0x74, 0xc1, 0xa0, 0x49, 0x54, 0xb7, 0x8b, 0x4b, 0x60, 0x35, 0xe9, 0x7a, 0x5e, 0x07, 0x8a,
        0x5a, 0x0f, 0x28, 0xec, 0x96, 0xd5, 0x47, 0xbf, 0xee, 0x9a, 0xce, 0x80, 0x3a, 0xc0,
    ])
    .expect("BIP-341 NUMS point");
    let spend = TaprootBuilder::new().add_leaf(0, script.clone()).expect("one leaf").finalize(&secp, internal).expect("finalize");
    let control = spend.control_block(&(script.clone(), LeafVersion::TapScript)).expect("control block");
    let spk = ScriptBuf::new_p2tr_tweaked(spend.output_key());
    let prevout = TxOut { value: Amount::from_sat(100_000), script_pubkey: spk.clone() };
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint { txid: Txid::from_byte_array([9; 32]), vout: 0 },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut { value: Amount::from_sat(90_000), script_pubkey: ScriptBuf::new_op_return([2u8; 4]) }],
    };
    let sighash = SighashCache::new(&tx)
        .taproot_script_spend_signature_hash(
            0,
            &Prevouts::All(std::slice::from_ref(&prevout)),
            TapLeafHash::from_script(script, LeafVersion::TapScript),
            TapSighashType::Default,
        )
        .expect("sighash of a one-input transaction")
        .to_byte_array();
    tx.input[0].witness = crate::builder::leaf_spend_witness(items, script, &control);
    let raw = bitcoin::consensus::serialize(&tx);
    let ktx = bitcoinkernel::Transaction::new(&raw).expect("kernel parses the transaction");
    let kspk = bitcoinkernel::ScriptPubkey::new(spk.as_bytes()).expect("kernel parses the script pubkey");
    let kout = bitcoinkernel::TxOut::new(&kspk, prevout.value.to_sat() as i64);
    let data = bitcoinkernel::PrecomputedTransactionData::new(&ktx, std::slice::from_ref(&kout)).expect("kernel tx data");
    let core = bitcoinkernel::verify(&kspk, Some(100_000), &ktx, 0, Some(bitcoinkernel::VERIFY_ALL), &data);
    let opts = ExecOptions { sighash: Some(sighash), ..Default::default() };
    let ctx = ExecContext { control_block_len: control.size(), ..ExecContext::consensus() };
    let ours = execute_with(script, items, &opts, &ctx);
    let detail = format!("core: {:?}; ours: {:?}", core.as_ref().err(), ours.verdict().err().map(|e| e.to_string()));
    Verdicts { core: core.is_ok(), ours: ours.success(), detail }
}

/// A leaf `gadget`, then push `expected` and compare it item by item with the outputs, then
/// `OP_TRUE`: it succeeds exactly when the gadget leaves `expected` on the stack.
pub fn expecting(gadget: &Fragment, expected: &[Vec<u8>]) -> ScriptBuf {
    let mut f = Fragment::new().append(gadget);
    for e in expected {
        f = f.push_bytes(e);
    }
    let n = expected.len();
    for k in (1..=n).rev() {
        f = f.push_int(k as i64).op(OP_ROLL).op(OP_EQUALVERIFY);
    }
    f.op(OP_PUSHNUM_1).into_script()
}
