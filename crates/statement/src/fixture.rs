//! A synthetic regtest-like chain for tests and benchmarks that need no node: a payout
//! transaction in a block with a coinbase, followed by blocks whose headers are ground to the
//! regtest target (compact 0x207fffff: about one try in two).

use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version};
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::transaction::Version as TxVersion;
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxMerkleNode, TxOut,
    Txid, Witness,
};

use crate::claim::Claim;
use crate::params::StatementParams;
use crate::witness::{compact_target_le, le_u256_leq_native, StatementWitness};

/// Regtest's compact target.
pub const REGTEST_BITS: u32 = 0x207f_ffff;

/// Grinds the nonce until the header's hash is at most its target.
pub fn grind(mut h: Header) -> Header {
    let target = compact_target_le(h.bits.to_consensus()).expect("decodable bits");
    while !le_u256_leq_native(&h.block_hash().to_byte_array(), &target) {
        h.nonce = h.nonce.wrapping_add(1);
    }
    h
}

/// A header on top of `prev` with the regtest target, ground.
pub fn next_header(prev: BlockHash, merkle_root: TxMerkleNode, time: u32) -> Header {
    grind(Header {
        version: Version::from_consensus(0x2000_0000),
        prev_blockhash: prev,
        merkle_root,
        time,
        bits: CompactTarget::from_consensus(REGTEST_BITS),
        nonce: 0,
    })
}

/// Re-links and re-grinds `headers[from..]` after a change to `headers[from - 1]`.
pub fn relink(headers: &mut [Header], from: usize) {
    for i in from..headers.len() {
        headers[i].prev_blockhash = headers[i - 1].block_hash();
        headers[i] = grind(headers[i]);
    }
}

fn coinbase(height: u8) -> Transaction {
    Transaction {
        version: TxVersion::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(vec![0x01, height, 0x00]),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut { value: Amount::from_sat(50_0000_0000), script_pubkey: ScriptBuf::from_bytes(vec![0x51]) }],
    }
}

/// A payout: one segwit input, first output pays `destination` `amount`, second is change.
pub fn payout_tx(destination: ScriptBuf, amount: Amount) -> Transaction {
    let mut witness = Witness::new();
    witness.push([7u8; 64]);
    Transaction {
        version: TxVersion::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint { txid: Txid::from_byte_array([0x11; 32]), vout: 0 },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness,
        }],
        output: vec![
            TxOut { value: amount, script_pubkey: destination },
            TxOut {
                value: Amount::from_sat(1_000_000),
                script_pubkey: ScriptBuf::from_bytes([&[0x00, 0x14][..], &[0x22; 20]].concat()),
            },
        ],
    }
}

/// A synthetic chain and a good witness for `params`: the payout block is header 0 (the one on
/// top of the checkpoint), followed by `num_headers - 1` more. Returns the witness, the payout
/// block and the payout transaction.
pub fn synthetic(params: &StatementParams) -> (StatementWitness, Block, Transaction) {
    let destination = ScriptBuf::from_bytes([&[0x51, 0x20][..], &[0xab; 32]].concat());
    synthetic_with(params, &payout_tx(destination, Amount::from_sat(1_234_567)))
}

/// Like [`synthetic`] for a given payout transaction; the claim is its first output.
pub fn synthetic_with(params: &StatementParams, tx: &Transaction) -> (StatementWitness, Block, Transaction) {
    let amount = tx.output[0].value;
    let destination = tx.output[0].script_pubkey.clone();
    let tx = tx.clone();
    let checkpoint = BlockHash::from_byte_array(sha256d::Hash::hash(b"checkpoint").to_byte_array());
    let mut block = Block {
        header: next_header(checkpoint, TxMerkleNode::all_zeros(), 1_700_000_000),
        txdata: vec![coinbase(1), tx.clone()],
    };
    block.header.merkle_root = block.compute_merkle_root().expect("non-empty");
    block.header = grind(block.header);
    let mut chain = vec![block.header];
    for i in 1..params.num_headers {
        let cb = coinbase(1 + i as u8);
        let root = TxMerkleNode::from_byte_array(cb.compute_txid().to_byte_array());
        chain.push(next_header(chain[i - 1].block_hash(), root, 1_700_000_000 + i as u32));
    }
    let claim = Claim {
        deposit: OutPoint { txid: Txid::from_byte_array([0x42; 32]), vout: 1 },
        amount,
        destination,
        payout_txid: tx.compute_txid(),
        checkpoint,
    };
    let w = StatementWitness::build(params, claim, &tx, &block, &chain).expect("synthetic witness is good");
    (w, block, tx)
}
