//! The checkpoint a Kickoff commits (the statement's x9, x10): the parent of the block that
//! confirmed the operator's payout, so the statement's header chain starts at the payout block.
//! The operator reads it from its node when it builds the claim; a verifier accepts a claim only
//! if the committed checkpoint is exactly that parent on its own chain ([`check_checkpoint`]).

use bitcoin::{Block, BlockHash, Txid};
use bitvm2_disprove::claim::ClaimFields;
use bitvm2_node::rpc::{BitcoinRpc, RpcError};

/// How far from the height implied by the confirmation count the confirming block is looked
/// for (the tip may move between the two calls).
const SEARCH_SPAN: u64 = 6;

/// The best-chain block that holds `txid`, given the transaction's confirmation count as the
/// node reported it (1: in the tip): looked for at the implied height first, then at the
/// heights around it (nearest first, up to 6 away). `None` when the transaction is
/// unconfirmed or no block in that span holds it.
pub async fn confirming_block<R: BitcoinRpc>(rpc: &R, txid: &Txid, confirmations: u64) -> Result<Option<Block>, RpcError> {
    Ok(confirming_block_at(rpc, txid, confirmations).await?.map(|(_, b)| b))
}

/// [`confirming_block`] with the block's height.
pub async fn confirming_block_at<R: BitcoinRpc>(rpc: &R, txid: &Txid, confirmations: u64) -> Result<Option<(u64, Block)>, RpcError> {
    if confirmations == 0 {
        return Ok(None);
    }
    let tip = rpc.block_count().await?;
    let Some(guess) = (tip + 1).checked_sub(confirmations) else { return Ok(None) };
    let mut heights = vec![guess];
    for d in 1..=SEARCH_SPAN {
        // Below first: the tip can only have grown since the confirmations were counted,
        // unless the chain reorganized.
        heights.extend(guess.checked_sub(d));
        if guess + d <= tip {
            heights.push(guess + d);
        }
    }
    for h in heights {
        let block = rpc.block_at(h).await?;
        if block.txdata.iter().any(|tx| tx.compute_txid() == *txid) {
            return Ok(Some((h, block)));
        }
    }
    Ok(None)
}

/// The checkpoint for a payout with `confirmations` confirmations: the previous-block hash of
/// its confirming block ([`confirming_block`]).
pub async fn payout_checkpoint<R: BitcoinRpc>(rpc: &R, txid: &Txid, confirmations: u64) -> Result<Option<BlockHash>, RpcError> {
    Ok(confirming_block(rpc, txid, confirmations).await?.map(|b| b.header.prev_blockhash))
}

/// Whether the Kickoff's committed checkpoint is `parent`, the parent of the block that
/// confirmed its payout on this node's chain. `Err` is the fault's reason, naming both hashes.
pub fn check_checkpoint(committed: &ClaimFields, parent: &BlockHash) -> Result<(), String> {
    if committed.checkpoint == *parent {
        Ok(())
    } else {
        Err(format!(
            "the Kickoff commits checkpoint {} for payout {}, but the payout's block on our chain has parent {}",
            committed.checkpoint, committed.payout_txid, parent
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use bitcoin::absolute::LockTime;
    use bitcoin::block::{Header, Version};
    use bitcoin::hashes::Hash;
    use bitcoin::transaction::Version as TxVersion;
    use bitcoin::{Amount, CompactTarget, OutPoint, ScriptBuf, Transaction, TxIn, TxMerkleNode, TxOut};
    use bitvm2_node::rpc::{MempoolVerdict, PackageResult, UtxoInfo};

    /// A best chain of blocks, each holding one transaction tagged by its height.
    struct Chain(Mutex<Vec<Block>>);

    fn tx(tag: u32) -> Transaction {
        Transaction {
            version: TxVersion::TWO,
            lock_time: LockTime::from_consensus(tag),
            input: vec![TxIn::default()],
            output: vec![TxOut { value: Amount::from_sat(1), script_pubkey: ScriptBuf::new() }],
        }
    }

    impl Chain {
        fn new(len: u32) -> Chain {
            let c = Chain(Mutex::new(Vec::new()));
            for h in 0..len {
                c.push(tx(h));
            }
            c
        }
        fn push(&self, t: Transaction) {
            let mut v = self.0.lock().unwrap();
            let prev = v.last().map(|b| b.block_hash()).unwrap_or_else(BlockHash::all_zeros);
            let header = Header {
                version: Version::TWO,
                prev_blockhash: prev,
                merkle_root: TxMerkleNode::from_byte_array(t.compute_txid().to_byte_array()),
                time: v.len() as u32,
                bits: CompactTarget::from_consensus(0x207f_ffff),
                nonce: 0,
            };
            v.push(Block { header, txdata: vec![t] });
        }
        fn hash(&self, h: usize) -> BlockHash {
            self.0.lock().unwrap()[h].block_hash()
        }
    }

    fn unsupported<T>(m: &str) -> Result<T, RpcError> {
        Err(RpcError::Unexpected { method: m.into(), detail: "not simulated".into() })
    }

    impl BitcoinRpc for Chain {
        async fn best_block_hash(&self) -> Result<BlockHash, RpcError> {
            Ok(self.0.lock().unwrap().last().unwrap().block_hash())
        }
        async fn block_count(&self) -> Result<u64, RpcError> {
            Ok(self.0.lock().unwrap().len() as u64 - 1)
        }
        async fn block_hash(&self, height: u64) -> Result<BlockHash, RpcError> {
            let v = self.0.lock().unwrap();
            v.get(height as usize)
                .map(|b| b.block_hash())
                .ok_or(RpcError::Node { method: "getblockhash".into(), code: -8, message: "Block height out of range".into() })
        }
        async fn block(&self, hash: &BlockHash) -> Result<Block, RpcError> {
            let v = self.0.lock().unwrap();
            v.iter()
                .find(|b| b.block_hash() == *hash)
                .cloned()
                .ok_or(RpcError::Node { method: "getblock".into(), code: -5, message: "Block not found".into() })
        }
        async fn send_raw_transaction(&self, _: &Transaction) -> Result<Txid, RpcError> {
            unsupported("sendrawtransaction")
        }
        async fn submit_package(&self, _: &[Transaction]) -> Result<PackageResult, RpcError> {
            unsupported("submitpackage")
        }
        async fn test_mempool_accept(&self, _: &[Transaction]) -> Result<Vec<MempoolVerdict>, RpcError> {
            unsupported("testmempoolaccept")
        }
        async fn get_tx_out(&self, _: &OutPoint, _: bool) -> Result<Option<UtxoInfo>, RpcError> {
            unsupported("gettxout")
        }
        async fn get_raw_transaction(&self, _: &Txid) -> Result<Option<Transaction>, RpcError> {
            unsupported("getrawtransaction")
        }
        async fn raw_mempool(&self) -> Result<Vec<Txid>, RpcError> {
            Ok(vec![])
        }
    }

    #[tokio::test]
    async fn the_checkpoint_is_the_parent_of_the_payouts_block() {
        let chain = Chain::new(20);
        let payout = tx(12).compute_txid();
        // At height 12 of tip 19: 8 confirmations.
        let cp = payout_checkpoint(&chain, &payout, 8).await.unwrap();
        assert_eq!(cp, Some(chain.hash(11)));
        // The tip moved on by three blocks after the confirmations were counted.
        for t in 20..23 {
            chain.push(tx(t));
        }
        assert_eq!(payout_checkpoint(&chain, &payout, 8).await.unwrap(), Some(chain.hash(11)));
        // Unconfirmed, or not in the chain at all (an unknown txid), or more confirmations than
        // blocks: no checkpoint.
        assert_eq!(payout_checkpoint(&chain, &payout, 0).await.unwrap(), None);
        assert_eq!(payout_checkpoint(&chain, &tx(99).compute_txid(), 5).await.unwrap(), None);
        assert_eq!(payout_checkpoint(&chain, &payout, 100).await.unwrap(), None);
        // The genesis-like first block: its parent is all zeros.
        assert_eq!(payout_checkpoint(&chain, &tx(0).compute_txid(), 23).await.unwrap(), Some(BlockHash::all_zeros()));
    }

    #[test]
    fn a_wrong_checkpoint_is_a_fault_naming_both_hashes() {
        let parent = BlockHash::from_byte_array([0x11; 32]);
        let claim = ClaimFields {
            payout_txid: Txid::from_byte_array([7; 32]),
            amount: Amount::from_sat(1_000),
            destination: ScriptBuf::from_bytes(vec![0x51]),
            checkpoint: parent,
        };
        assert_eq!(check_checkpoint(&claim, &parent), Ok(()));
        // The payout block's grandparent, or the payout block itself: both refused.
        for wrong in [BlockHash::from_byte_array([0x22; 32]), BlockHash::all_zeros()] {
            let e = check_checkpoint(&ClaimFields { checkpoint: wrong, ..claim.clone() }, &parent).unwrap_err();
            assert!(e.contains(&wrong.to_string()) && e.contains(&parent.to_string()), "{e}");
            assert!(e.contains(&claim.payout_txid.to_string()), "{e}");
        }
    }
}
