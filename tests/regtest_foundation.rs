//! The foundation on a real node: our own keys and scripts are spent on regtest under default
//! relay policy, TRUC packages with a P2A anchor relay, and reorgs are observed.

mod common;

use bitcoin::absolute::LockTime;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::key::Secp256k1;
use bitcoin::opcodes::all::{OP_EQUAL, OP_SHA256};
use bitcoin::script::Builder;
use bitcoin::taproot::{LeafVersion, TaprootBuilder};
use bitcoin::transaction::Version;
use bitcoin::{Address, Amount, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};
use bitvm2_harness::{HarnessError, Regtest, TxStatus};
use bitvm2_script::builder::leaf_spend_witness;
use common::TestKey;

fn spend(outpoint: OutPoint, version: Version, outputs: Vec<TxOut>) -> Transaction {
    Transaction {
        version,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: outpoint,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Witness::new(),
        }],
        output: outputs,
    }
}

fn p2a() -> ScriptBuf {
    // Pay-to-anchor: OP_1 <0x4e73>, spendable by anyone with an empty witness.
    ScriptBuf::from_bytes(vec![0x51, 0x02, 0x4e, 0x73])
}

#[test]
fn p2tr_key_path_spend_is_accepted_and_mined() {
    let node = Regtest::start().expect("start bitcoind");
    let alice = TestKey::from_seed(1);
    let bob = TestKey::from_seed(2);
    let coin = node.fund(&alice.address()).unwrap();
    assert_eq!(node.utxo(&coin.outpoint).unwrap(), Some(coin.txout.clone()));

    let pay = coin.txout.value - Amount::from_sat(1_000);
    let mut tx = spend(coin.outpoint, Version::TWO, vec![TxOut { value: pay, script_pubkey: bob.script_pubkey() }]);
    alice.sign_key_path(&mut tx, 0, std::slice::from_ref(&coin.txout));

    let verdict = node.test_mempool_accept(&[tx.clone()]).unwrap();
    assert!(verdict[0].allowed, "rejected: {:?}", verdict[0].reject_reason);
    assert_eq!(verdict[0].txid, tx.compute_txid());

    let txid = node.send(&tx).unwrap();
    assert_eq!(node.tx_status(&txid).unwrap(), TxStatus::Mempool);
    node.confirm(&txid).unwrap();
    assert_eq!(node.tx_status(&txid).unwrap(), TxStatus::Confirmed(1));
    assert_eq!(node.utxo(&coin.outpoint).unwrap(), None, "the coin is spent");
    let found = node.scan_utxos(&bob.script_pubkey()).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].txout.value, pay);

    // A signature by the wrong key is refused, with Core's reason.
    let coin2 = node.fund(&alice.address()).unwrap();
    let mut forged = spend(coin2.outpoint, Version::TWO, vec![TxOut { value: pay, script_pubkey: bob.script_pubkey() }]);
    bob.sign_key_path(&mut forged, 0, std::slice::from_ref(&coin2.txout));
    let verdict = node.test_mempool_accept(&[forged.clone()]).unwrap();
    assert!(!verdict[0].allowed);
    let reason = verdict[0].reject_reason.clone().unwrap();
    assert!(reason.contains("script-verify-flag-failed") && reason.contains("signature"), "reason: {reason}");
    let err = node.send(&forged).unwrap_err();
    assert!(matches!(&err, HarnessError::Rpc(e) if e.code == -26), "{err}");
}

#[test]
fn tapscript_hash_lock_spend_and_wrong_preimage() {
    let node = Regtest::start().expect("start bitcoind");
    let secp = Secp256k1::new();
    let preimage = b"bitvm2 hash lock preimage".to_vec();
    let hash = sha256::Hash::hash(&preimage);
    let leaf = Builder::new()
        .push_opcode(OP_SHA256)
        .push_slice(hash.to_byte_array())
        .push_opcode(OP_EQUAL)
        .into_script();
    let internal = TestKey::from_seed(3).internal_key();
    let spend_info = TaprootBuilder::new()
        .add_leaf(0, leaf.clone())
        .unwrap()
        .finalize(&secp, internal)
        .unwrap();
    let address = Address::p2tr_tweaked(spend_info.output_key(), Network::Regtest);
    let coin = node.fund(&address).unwrap();
    let control = spend_info.control_block(&(leaf.clone(), LeafVersion::TapScript)).unwrap();
    let dest = TestKey::from_seed(4).script_pubkey();
    let value = coin.txout.value - Amount::from_sat(2_000);

    let with_witness = |items: Vec<Vec<u8>>| {
        let mut tx = spend(coin.outpoint, Version::TWO, vec![TxOut { value, script_pubkey: dest.clone() }]);
        tx.input[0].witness = leaf_spend_witness(items, &leaf, &control);
        tx
    };

    let wrong = with_witness(vec![b"not the preimage".to_vec()]);
    let verdict = &node.test_mempool_accept(&[wrong]).unwrap()[0];
    assert!(!verdict.allowed);
    let reason = verdict.reject_reason.clone().unwrap();
    assert!(reason.contains("false/empty top stack element"), "reason: {reason}");

    let two_items = with_witness(vec![preimage.clone(), vec![1]]);
    let verdict = &node.test_mempool_accept(&[two_items]).unwrap()[0];
    assert!(!verdict.allowed, "CLEANSTACK: an extra witness item must fail");
    assert!(verdict.reject_reason.as_ref().unwrap().contains("clean stack") || verdict.reject_reason.as_ref().unwrap().contains("CLEANSTACK") || verdict.reject_reason.as_ref().unwrap().contains("Stack size must be exactly one"), "{:?}", verdict.reject_reason);

    let good = with_witness(vec![preimage]);
    let verdict = &node.test_mempool_accept(std::slice::from_ref(&good)).unwrap()[0];
    assert!(verdict.allowed, "rejected: {:?}", verdict.reject_reason);
    let txid = node.send(&good).unwrap();
    node.confirm(&txid).unwrap();
    assert_eq!(node.confirmations(&txid).unwrap(), 1);
}

#[test]
fn truc_zero_fee_parent_with_p2a_anchor_is_bumped_by_a_child_package() {
    let node = Regtest::start().expect("start bitcoind");
    let key = TestKey::from_seed(5);
    let coins = node.fund_many(&key.address(), 2).unwrap();
    let (c1, c2) = (&coins[0], &coins[1]);
    let dest = TestKey::from_seed(6).script_pubkey();

    // Parent: version 3, pays no fee at all, carries a zero-value P2A anchor (ephemeral dust).
    let mut parent = spend(
        c1.outpoint,
        Version(3),
        vec![
            TxOut { value: c1.txout.value, script_pubkey: dest.clone() },
            TxOut { value: Amount::ZERO, script_pubkey: p2a() },
        ],
    );
    key.sign_key_path(&mut parent, 0, std::slice::from_ref(&c1.txout));
    let alone = &node.test_mempool_accept(&[parent.clone()]).unwrap()[0];
    assert!(!alone.allowed, "a zero-fee parent must not relay alone");
    let reason = alone.reject_reason.clone().unwrap();
    assert!(reason.contains("min relay fee not met") || reason.contains("dust") || reason.contains("fee"), "{reason}");

    // Child: version 3, spends the anchor (empty witness) and a coin of ours, pays for both.
    let anchor = OutPoint { txid: parent.compute_txid(), vout: 1 };
    let mut child = Transaction {
        version: Version(3),
        lock_time: LockTime::ZERO,
        input: vec![
            TxIn { previous_output: anchor, script_sig: ScriptBuf::new(), sequence: Sequence::ENABLE_RBF_NO_LOCKTIME, witness: Witness::new() },
            TxIn { previous_output: c2.outpoint, script_sig: ScriptBuf::new(), sequence: Sequence::ENABLE_RBF_NO_LOCKTIME, witness: Witness::new() },
        ],
        output: vec![TxOut { value: c2.txout.value - Amount::from_sat(5_000), script_pubkey: key.script_pubkey() }],
    };
    let prevouts = [parent.output[1].clone(), c2.txout.clone()];
    key.sign_key_path(&mut child, 1, &prevouts);

    let answer = node.submit_package(&[parent.clone(), child.clone()]).unwrap();
    assert_eq!(answer["package_msg"], "success");
    assert!(node.in_mempool(&parent.compute_txid()).unwrap());
    assert!(node.in_mempool(&child.compute_txid()).unwrap());
    node.mine(1).unwrap();
    assert_eq!(node.confirmations(&parent.compute_txid()).unwrap(), 1);
    assert_eq!(node.confirmations(&child.compute_txid()).unwrap(), 1);
}

#[test]
fn reorg_returns_a_confirmed_tx_to_the_mempool_and_restart_keeps_the_chain() {
    let mut node = Regtest::start().expect("start bitcoind");
    let key = TestKey::from_seed(7);
    let coin = node.fund(&key.address()).unwrap();
    let mut tx = spend(
        coin.outpoint,
        Version::TWO,
        vec![TxOut { value: coin.txout.value - Amount::from_sat(1_000), script_pubkey: key.script_pubkey() }],
    );
    key.sign_key_path(&mut tx, 0, std::slice::from_ref(&coin.txout));
    let txid = node.send(&tx).unwrap();
    let block = node.confirm(&txid).unwrap();
    node.mine(2).unwrap();
    assert_eq!(node.tx_status(&txid).unwrap(), TxStatus::Confirmed(3));

    // Depth-3 reorg: the three blocks are replaced; the tx is back in the mempool.
    let height_before = node.height().unwrap();
    let old = node.reorg(3, 0).unwrap();
    assert_eq!(old[0], block);
    assert_eq!(node.height().unwrap(), height_before - 3);
    assert_eq!(node.tx_status(&txid).unwrap(), TxStatus::Mempool);
    // A longer competing chain confirms it again, in a different block.
    node.mine(4).unwrap();
    assert_eq!(node.tx_status(&txid).unwrap(), TxStatus::Confirmed(4));
    assert_ne!(node.best_block_hash().unwrap(), old[2]);

    // The old branch is still known; reconsidering it does not win (the new one is longer).
    node.reconsider_block(&old[0]).unwrap();
    assert_eq!(node.height().unwrap(), height_before + 1);

    // A graceful restart keeps chain and tx index.
    let tip = node.best_block_hash().unwrap();
    node.restart().unwrap();
    assert_eq!(node.best_block_hash().unwrap(), tip);
    assert_eq!(node.tx_status(&txid).unwrap(), TxStatus::Confirmed(4));
}

#[test]
fn a_node_that_cannot_start_reports_bitcoind_stderr() {
    let err = Regtest::start_with_args(&["-this-flag-does-not-exist"]).unwrap_err();
    match err {
        HarnessError::Start { stderr, .. } => {
            assert!(stderr.contains("this-flag-does-not-exist"), "stderr: {stderr}")
        }
        other => panic!("expected a start error, got {other}"),
    }
}
