//! The graph driven by the first real program of `crates/disprove` (Winternitz commitments,
//! BN254 multiply-add leaves near the 400,000 WU limit), on a real regtest node: an honest
//! assertion survives and Take2 pays; a wrong one is found natively from the chain's witnesses
//! and disproved through its leaf, and Take2 then dies.

use std::cell::RefCell;

use anyhow::{anyhow, ensure, Result};
use bitcoin::secp256k1::{schnorr, Keypair, Message, Secp256k1};
use bitcoin::transaction::Version;
use bitcoin::{Address, Amount, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut};
use bitvm2_disprove::claim::{ClaimFields, ClaimSecretKey};
use bitvm2_disprove::programs::{first_program, fq_from_label};
use bitvm2_disprove::setup::{Disprove, OperatorKeys, Planned};
use bitvm2_harness::{Funded, Regtest};
use bitvm2_txgraph::graph::{budget, claim_funding_script, kickoff_funding_amount};
use bitvm2_txgraph::program::{assert_shape, chunk_limits, disprove_scripts};
use bitvm2_txgraph::musig::presign_in_process;
use bitvm2_txgraph::toy::{test_key, Fixture};
use bitvm2_txgraph::wallet::{add_funding, add_reward, cpfp_child, p2tr_script, sign_p2tr_keypath};
use bitvm2_txgraph::{ClaimCommitment, FundingInput, Graph, Session, Signatures, SigningTask, TxKind};

/// The real program, planned for this graph's shapes (what the graph adds, TRUC asserts).
fn real_program(operator: &OperatorKeys) -> Result<Disprove> {
    let (program, _) = first_program();
    let planned = Planned::new(program, chunk_limits())?;
    let keys = operator.public_keys(&planned);
    let shape = assert_shape();
    Ok(planned.with_keys(keys, shape)?)
}

struct World {
    node: Regtest,
    f: Fixture,
    d: Disprove,
    operator_wots: OperatorKeys,
    g: Graph,
    sigs: Signatures,
    pegin: Signatures,
    wallet: Keypair,
    coins: RefCell<Vec<Funded>>,
    /// The operator's Winternitz claim key for this peg-out graph.
    claim: ClaimSecretKey,
    /// The withdrawal the operator claims to have paid: its payout (a real transaction on the
    /// node), amount and destination.
    payout: ClaimFields,
}

fn sign(task: &SigningTask, kp: &Keypair) -> schnorr::Signature {
    Secp256k1::new().sign_schnorr_no_aux_rand(&Message::from_digest(task.sighash), kp)
}

fn addr(script: &ScriptBuf) -> Address {
    Address::from_script(script, Network::Regtest).expect("standard script")
}

fn funding(c: &Funded) -> FundingInput {
    FundingInput { outpoint: c.outpoint, txout: c.txout.clone() }
}

impl World {
    fn new() -> Result<World> {
        let node = Regtest::start()?;
        let mut f = Fixture::new("real-program", 3, 1, 2, 2);
        f.stake = Amount::from_sat(2_000_000);
        let operator_wots = OperatorKeys::new([7; 32], b"real-program graph");
        let d = real_program(&operator_wots)?;
        let program = disprove_scripts(&d);

        let wallet = test_key(b"watcher");
        let coins = node.fund_many(&addr(&p2tr_script(wallet.x_only_public_key().0)), 24)?;
        let dep_coin = node.fund(&addr(&f.depositor_script()))?;
        let op = f.operators[0];
        let op_script = p2tr_script(op.x_only_public_key().0);
        let coin = node.fund(&addr(&op_script))?;
        // The Kickoff commits the claim (payout txid, amount, destination, checkpoint) with Winternitz keys of
        // the operator's.
        let claim_key = ClaimSecretKey::derive(&[9; 32], b"real-program peg-out graph");
        let claim_commitment = ClaimCommitment { script: claim_key.public_key().script() };
        let mut op_probe = f.operator_params(0, FundingInput { outpoint: OutPoint::null(), txout: TxOut::NULL });
        op_probe.claim = claim_commitment.clone();
        let claim = TxOut {
            value: kickoff_funding_amount(&f.params_with(vec![], vec![]), &op_probe)?,
            script_pubkey: claim_funding_script(&Secp256k1::verification_only(), &op_probe)?,
        };
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![TxIn { previous_output: coin.outpoint, sequence: Sequence::ENABLE_RBF_NO_LOCKTIME, ..Default::default() }],
            output: vec![claim.clone(), TxOut { value: coin.txout.value - claim.value - Amount::from_sat(10_000), script_pubkey: op_script.clone() }],
        };
        sign_p2tr_keypath(&mut tx, 0, std::slice::from_ref(&coin.txout), &op)?;
        let txid = node.send(&tx)?;
        node.confirm(&txid)?;
        let mut params = f.params_with(vec![funding(&dep_coin)], vec![FundingInput { outpoint: OutPoint { txid, vout: 0 }, txout: claim }]);
        params.operators[0].disprove = program;
        params.operators[0].claim = claim_commitment;
        // The reward pays the Disprove's fee (about 97 kvB here).
        params.operators[0].disprover_reward = Amount::from_sat(400_000);
        let g = Graph::build(params)?;

        // The operator fronts a withdrawal: a real payout to the user, confirmed.
        let user = p2tr_script(test_key(b"user").x_only_public_key().0);
        let pay_coin = node.fund(&addr(&op_script))?;
        let mut payout_tx = Transaction {
            version: Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![TxIn { previous_output: pay_coin.outpoint, sequence: Sequence::ENABLE_RBF_NO_LOCKTIME, ..Default::default() }],
            output: vec![TxOut { value: pay_coin.txout.value - Amount::from_sat(5_000), script_pubkey: user }],
        };
        sign_p2tr_keypath(&mut payout_tx, 0, std::slice::from_ref(&pay_coin.txout), &op)?;
        let payout_txid = node.send(&payout_tx)?;
        let payout_block = node.confirm(&payout_txid)?;
        let payout = ClaimFields {
            payout_txid,
            amount: payout_tx.output[0].value,
            destination: payout_tx.output[0].script_pubkey.clone(),
            // The statement's header chain starts at the payout block.
            checkpoint: node.block(&payout_block)?.header.prev_blockhash,
        };

        let mut rng = bitcoin::secp256k1::rand::thread_rng();
        let s = Session::new(g.committee().clone(), g.id(), g.peg_out_committee_tasks(0)?, [1; 32])?;
        let sigs = presign_in_process(&s, &f.committee, &mut rng)?;
        g.verify_peg_out_presigned(0, &sigs)?;
        eprintln!("committee signatures for the peg-out graph: {}", sigs.len());
        let s = Session::new(g.committee().clone(), g.id(), g.peg_in_committee_tasks()?, [2; 32])?;
        let pegin = presign_in_process(&s, &f.committee, &mut rng)?;
        Ok(World { node, f, d, operator_wots, g, sigs, pegin, wallet, coins: RefCell::new(coins), claim: claim_key, payout })
    }

    fn coin(&self) -> Result<FundingInput> {
        Ok(funding(&self.coins.borrow_mut().pop().ok_or_else(|| anyhow!("out of coins"))?))
    }

    fn publish_truc(&self, parent: &Transaction) -> Result<()> {
        let ws = p2tr_script(self.wallet.x_only_public_key().0);
        let (mut child, prevouts) = cpfp_child(parent, &self.coin()?, ws, Amount::from_sat(50_000))?;
        sign_p2tr_keypath(&mut child, 1, &prevouts, &self.wallet)?;
        self.node.submit_package(&[parent.clone(), child])?;
        self.node.confirm(&parent.compute_txid())?;
        Ok(())
    }

    fn op_sig(&self, tx: TxKind, input: u32) -> Result<schnorr::Signature> {
        let t = self.g.operator_task(0, tx, input)?;
        Ok(sign(&t, &self.f.operators[0]))
    }

    /// Peg-in, kickoff, challenge, AssertInitial, then every assert with `x` as the operator's
    /// input, then AssertFinal. Returns the assert witnesses as read back from the chain.
    fn run_to_assert_final(&self, x: bitvm2_disprove::program::Val) -> Result<Vec<Vec<Vec<Vec<u8>>>>> {
        // Peg-in.
        let pin = &self.g.peg_in;
        let mut dep = pin.deposit.tx.clone();
        let prev: Vec<TxOut> = pin.deposit.inputs.iter().map(|i| i.prevout.clone()).collect();
        sign_p2tr_keypath(&mut dep, 0, &prev, &self.f.depositor)?;
        self.node.confirm(&self.node.send(&dep)?)?;
        let dsig = sign(&self.g.depositor_tasks()?[0], &self.f.depositor);
        self.publish_truc(&self.g.peg_in_confirm_tx(&self.pegin, &dsig)?)?;
        // Kickoff and a challenge.
        let kickoff = self.g.kickoff_tx(0, &self.op_sig(TxKind::Kickoff, 0)?, self.claim.sign(&self.payout)?)?;
        // A TRUC transaction (BIP-431): at most 10,000 vB, witness included.
        ensure!(kickoff.weight().to_wu() as usize <= budget::TRUC_MAX_WEIGHT, "kickoff weighs {}", kickoff.weight());
        eprintln!("kickoff: {} WU, {} vB, {} witness items", kickoff.weight().to_wu(), kickoff.vsize(), kickoff.input[0].witness.len());
        self.publish_truc(&kickoff)?;
        // A watchtower reads the claim back from the Kickoff on chain.
        let mined = self.node.get_tx(&kickoff.compute_txid())?;
        let items: Vec<Vec<u8>> = mined.input[0].witness.iter().map(<[u8]>::to_vec).collect();
        let n = self.claim.public_key().witness_items();
        ensure!(items.len() >= n, "kickoff witness has {} items", items.len());
        ensure!(self.claim.public_key().read(&items[..n])? == self.payout, "claim read back from chain");
        let po = self.g.peg_out(0)?;
        let ch = self.g.challenge_tx(0, &self.op_sig(TxKind::Challenge, 0)?)?;
        let (mut ch, all) = add_funding(ch, &[po.challenge.inputs[0].prevout.clone()], &self.coin()?, p2tr_script(self.wallet.x_only_public_key().0), Amount::from_sat(10_000))?;
        sign_p2tr_keypath(&mut ch, 1, &all, &self.wallet)?;
        self.node.confirm(&self.node.send(&ch)?)?;
        // Assert.
        self.publish_truc(&self.g.assert_initial_tx(0, &self.sigs, &self.op_sig(TxKind::AssertInitial, 0)?)?)?;
        for l in 0..self.g.peg_out(0)?.lanes.len() {
            self.publish_truc(&self.g.assert_lane_tx(0, l, &self.op_sig(TxKind::AssertLane(l as u32), 0)?)?)?;
        }
        let signed = self.operator_wots.assert(&self.d, &[x])?;
        let mut from_chain = Vec::new();
        for (k, w) in self.d.assert_witnesses(&signed).into_iter().enumerate() {
            let n = w.len();
            let op_sigs = (0..n).map(|j| self.op_sig(TxKind::Assert(k as u32), j as u32)).collect::<Result<Vec<_>>>()?;
            let tx = self.g.assert_tx(0, k, &op_sigs, w)?;
            ensure!(tx.weight().to_wu() as usize <= budget::STANDARD_MAX_WEIGHT - budget::ASSERT_PACKAGE_MARGIN, "assert {k} weighs {}", tx.weight());
            eprintln!("assert {k}: {n} inputs, {} WU", tx.weight().to_wu());
            self.publish_truc(&tx)?;
            // What a verifier reads: each input's witness without the graph's items (operator
            // signature, script, control block).
            let mined = self.node.get_tx(&tx.compute_txid())?;
            let graph_items = budget::ASSERT_INPUT_EXTRA_ITEMS + 2;
            from_chain.push(
                mined.input.iter().map(|i| { let v: Vec<Vec<u8>> = i.witness.iter().map(<[u8]>::to_vec).collect(); v[..v.len() - graph_items].to_vec() }).collect(),
            );
        }
        let n = self.g.peg_out(0)?.assert_final.inputs.len();
        let op_sigs = (1..n).map(|j| self.op_sig(TxKind::AssertFinal, j as u32)).collect::<Result<Vec<_>>>()?;
        self.publish_truc(&self.g.assert_final_tx(0, &self.sigs, &op_sigs)?)?;
        Ok(from_chain)
    }

    /// The Disprove through `step`'s leaf; the disprover's reward pays the fee.
    fn disprove(&self, step: usize, witness: Vec<Vec<u8>>) -> Result<Transaction> {
        let po = self.g.peg_out(0)?;
        let tx = self.g.disprove_tx(0, step, &self.d.leaf_scripts[step], &self.sigs, witness)?;
        let prevouts: Vec<TxOut> = po.disprove.inputs.iter().map(|i| i.prevout.clone()).collect();
        Ok(add_reward(tx, &prevouts, p2tr_script(self.wallet.x_only_public_key().0), Amount::from_sat(250_000))?)
    }
}

#[test]
fn real_program_honest_assertion_survives_and_take2_pays() -> Result<()> {
    let w = World::new()?;
    let (_, x) = first_program();
    let witnesses = w.run_to_assert_final(vec![x])?;
    let read = w.d.read_assertion(&witnesses)?;
    assert!(w.d.find_fault(&read).is_none(), "honest assertion has no faulty step");
    let take2 = w.g.take2_tx(0, &w.sigs)?;
    w.node.mine(u64::from(w.f.timelocks.take2) - 1)?;
    let ws = p2tr_script(w.wallet.x_only_public_key().0);
    let (mut child, prevouts) = cpfp_child(&take2, &w.coin()?, ws, Amount::from_sat(20_000))?;
    sign_p2tr_keypath(&mut child, 1, &prevouts, &w.wallet)?;
    w.node.submit_package(&[take2.clone(), child])?;
    w.node.confirm(&take2.compute_txid())?;
    assert_eq!(w.node.get_tx(&take2.compute_txid())?.output[0].script_pubkey, p2tr_script(w.f.operators[0].x_only_public_key().0));
    Ok(())
}

#[test]
fn real_program_wrong_assertion_is_disproved_from_chain_data() -> Result<()> {
    let w = World::new()?;
    // The operator's "proof" is not a root of P: every value it commits is computed honestly
    // from it, so the claim P(x) = 0 fails in the last step.
    let witnesses = w.run_to_assert_final(vec![fq_from_label("not a root", 0)])?;
    let read = w.d.read_assertion(&witnesses)?;
    let fault = w.d.find_fault(&read).ok_or_else(|| anyhow!("the wrong assertion must have a faulty step"))?;
    eprintln!("faulty step {} of {}: {:?}", fault.step, w.d.leaf_scripts.len(), fault.reason);
    let d = w.disprove(fault.step, fault.witness.clone())?;
    eprintln!("disprove weight {} WU", d.weight().to_wu());
    ensure!(d.weight().to_wu() <= 400_000, "disprove weighs {}", d.weight());
    let hex = bitcoin::consensus::encode::serialize_hex(&d);
    let v = w.node.call("sendrawtransaction", &[serde_json::json!(hex), serde_json::json!(0.10), serde_json::json!(1.0)])?;
    let txid: bitcoin::Txid = v.as_str().ok_or_else(|| anyhow!("{v}"))?.parse()?;
    w.node.confirm(&txid)?;
    // Take2 is dead.
    w.node.mine(u64::from(w.f.timelocks.take2))?;
    let verdict = w.node.test_mempool_accept(&[w.g.take2_tx(0, &w.sigs)?])?;
    assert_eq!(verdict[0].reject_reason.as_deref(), Some("missing-inputs"));
    Ok(())
}
