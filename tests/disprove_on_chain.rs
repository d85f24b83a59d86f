//! Disprove programs on a real node, under default relay policy (the first program, and the
//! Groth16 public-input MSM): every leaf is committed in one taproot output; for every
//! committed value, an assertion with that value corrupted yields a leaf that the verifier's
//! search finds and whose spend Core accepts and mines; with the honest assertion, Core refuses
//! to spend any leaf.
//!
//! The leaves are used bare here (no committee signature around them) so that the test isolates
//! what Core thinks of the leaf scripts and witnesses; tests in crates/txgraph spend them inside
//! the full graph.

mod common;

use bitcoin::key::Secp256k1;
use bitcoin::taproot::{ControlBlock, LeafVersion, TaprootBuilder, TaprootSpendInfo};
use bitcoin::{Address, Amount, Network, Transaction, TxOut};
use bitvm2_disprove::chunk::ChunkLimits;
use bitvm2_disprove::layout::AssertShape;
use std::sync::Arc;

use bitvm2_disprove::bn254::{FqMul, ModeMul};
use bitvm2_disprove::program::{Committed, Program, Val};
use bitvm2_disprove::programs::{first_program, MulMode};
use bitvm2_disprove::setup::{Disprove, OperatorKeys, Planned};
use bitvm2_harness::{Funded, Regtest};
use bitvm2_script::builder::leaf_spend_witness;
use common::TestKey;

struct Setup {
    d: Disprove,
    keys: OperatorKeys,
    honest: Vec<Committed>,
    info: TaprootSpendInfo,
}

fn setup(program: Program, inputs: &[Val]) -> Setup {
    let planned = Planned::new(program, ChunkLimits::default()).expect("plan");
    let keys = OperatorKeys::new([5; 32], b"disprove-on-chain");
    let pks = keys.public_keys(&planned);
    let d = planned.with_keys(pks, AssertShape::default()).expect("keys");
    let honest = d.honest_commitments(inputs).expect("honest values");
    // A balanced tree (Huffman with equal weights) holding every leaf.
    let secp = Secp256k1::new();
    let info = TaprootBuilder::with_huffman_tree(d.leaf_scripts.iter().map(|s| (1u32, s.clone())))
        .expect("tree")
        .finalize(&secp, TestKey::from_seed(40).internal_key())
        .expect("finalize");
    Setup { d, keys, honest, info }
}

impl Setup {
    fn control(&self, step: usize) -> ControlBlock {
        self.info
            .control_block(&(self.d.leaf_scripts[step].clone(), LeafVersion::TapScript))
            .expect("leaf is in the tree")
    }

    fn spend(&self, coin: &Funded, step: usize, items: Vec<Vec<u8>>) -> Transaction {
        let w = leaf_spend_witness(items, &self.d.leaf_scripts[step], &self.control(step));
        let mut tx = coin.spend_to(vec![TxOut {
            value: coin.txout.value - Amount::from_sat(150_000),
            script_pubkey: TestKey::from_seed(41).script_pubkey(),
        }]);
        tx.input[0].witness = w;
        tx
    }

    /// What a verifier reads from the chain: signed by the operator, packed into assert
    /// witnesses, parsed back.
    fn assertion(&self, committed: &[Committed]) -> bitvm2_disprove::setup::SignedAssertion {
        let signed = self.keys.sign(&self.d, committed);
        self.d.read_assertion(&self.d.assert_witnesses(&signed)).expect("operator signatures verify")
    }
}

#[test]
fn every_corrupted_commitment_is_disproved_on_chain_and_honest_values_are_not() {
    let (program, root) = first_program();
    disproved_on_chain(&setup(program, &[vec![root]]));
}

#[test]
fn groth16_msm_commitments_are_disproved_on_chain() {
    let mul: Arc<dyn FqMul> = Arc::new(ModeMul::new(MulMode::Hinted(4)).expect("window 4"));
    let (program, _, inputs) = bitvm2_disprove::msm::demo_program(&mul);
    disproved_on_chain(&setup(program, &inputs));
}

fn disproved_on_chain(s: &Setup) {
    let node = Regtest::start().expect("start bitcoind");
    let address = Address::p2tr_tweaked(s.info.output_key(), Network::Regtest);
    let n = s.honest.len();
    let steps = s.d.leaf_scripts.len();
    let mut coins = node.fund_many(&address, (n + 1) as u64).unwrap();

    // Honest assertion: no leaf can be spent; Core says why (the leaf ends with a false item).
    let honest = s.assertion(&s.honest);
    assert_eq!(s.d.find_fault(&honest).map(|f| f.step), None);
    let probe = coins.pop().unwrap();
    for step in 0..steps {
        let tx = s.spend(&probe, step, s.d.leaf_witness(step, &honest).unwrap());
        let v = &node.test_mempool_accept(&[tx]).unwrap()[0];
        assert!(!v.allowed, "leaf {step} spendable with honest values");
        let reason = v.reject_reason.clone().unwrap_or_default();
        assert!(reason.contains("false/empty top stack element"), "leaf {step}: {reason}");
    }

    // Each committed value corrupted in turn: the search finds a leaf and Core mines its spend.
    let mut largest = 0u64;
    for c in 0..n {
        let mut bad = s.honest.clone();
        *bad[c].last_mut().unwrap() ^= 1;
        let a = s.assertion(&bad);
        let fault = s.d.find_fault(&a).unwrap_or_else(|| panic!("commitment {c}: no fault found"));
        let coin = coins.pop().unwrap();
        let tx = s.spend(&coin, fault.step, fault.witness.clone());
        let weight = tx.weight().to_wu();
        assert!(weight <= 400_000, "commitment {c}: spend weighs {weight} WU");
        largest = largest.max(weight);
        let v = &node.test_mempool_accept(std::slice::from_ref(&tx)).unwrap()[0];
        assert!(v.allowed, "commitment {c}, leaf {}: {:?}", fault.step, v.reject_reason);
        let txid = node.send(&tx).unwrap();
        node.confirm(&txid).unwrap();
    }
    eprintln!("{n} corrupted commitments disproved on chain; largest spend {largest} WU");
}
