//! Every path of the BitVM2 graph executed to the end on a real regtest node (default relay
//! policy), and every wrong spend rejected with the node's own reason.
//!
//! The disprove program is the toy of `bitvm2_txgraph::toy` (hash-lock commitments of four bits,
//! two disprove leaves); the graph does not know it is a toy.

use std::cell::RefCell;

use anyhow::{anyhow, ensure, Context, Result};
use bitcoin::secp256k1::{schnorr, Keypair, Message, Secp256k1};
use bitcoin::transaction::Version;
use bitcoin::{Address, Amount, Network, OutPoint, Sequence, Transaction, TxIn, TxOut};
use bitvm2_harness::{Funded, Regtest};
use bitvm2_txgraph::musig::presign_in_process;
use bitvm2_txgraph::toy::{test_key, Fixture};
use bitvm2_txgraph::wallet::{add_funding, add_reward, cpfp_child, p2tr_script, sign_p2tr_keypath};
use bitvm2_txgraph::{FundingInput, Graph, Session, Signatures, SigningTask, TxKind};

/// Fee a CPFP child pays for its package, and a completer pays for its own additions.
const CHILD_FEE: Amount = Amount::from_sat(20_000);
const OPEN_FEE: Amount = Amount::from_sat(10_000);

struct World {
    node: Regtest,
    f: Fixture,
    g: Graph,
    /// Committee signatures per operator's peg-out graph.
    sigs: Vec<Signatures>,
    /// Committee signature of PegInConfirm.
    pegin: Signatures,
    /// A third party's wallet (fee payer, challenger, disprover, watcher).
    wallet: Keypair,
    coins: RefCell<Vec<Funded>>,
}

fn sign(task: &SigningTask, kp: &Keypair) -> schnorr::Signature {
    Secp256k1::new().sign_schnorr_no_aux_rand(&Message::from_digest(task.sighash), kp)
}

fn funding(c: &Funded) -> FundingInput {
    FundingInput { outpoint: c.outpoint, txout: c.txout.clone() }
}

fn addr(script: &bitcoin::ScriptBuf) -> Address {
    Address::from_script(script, Network::Regtest).expect("standard script")
}

/// Core's reason for refusing `tx` alone.
fn reject_reason(node: &Regtest, tx: &Transaction) -> Result<String> {
    let v = node.test_mempool_accept(std::slice::from_ref(tx))?;
    ensure!(!v[0].allowed, "{} was accepted", tx.compute_txid());
    let reason = v[0].reject_reason.clone().unwrap_or_default();
    eprintln!("node rejects {}: {reason}", tx.compute_txid());
    Ok(reason)
}

/// Broadcasts a transaction with an OP_RETURN burn: `sendrawtransaction` refuses burns unless
/// its `maxburnamount` argument allows them (an RPC safety check, not relay policy).
fn send_burning(node: &Regtest, tx: &Transaction) -> Result<bitcoin::Txid> {
    let hex = bitcoin::consensus::encode::serialize_hex(tx);
    let v = node.call("sendrawtransaction", &[serde_json::json!(hex), serde_json::json!(0.10), serde_json::json!(1.0)])?;
    Ok(v.as_str().ok_or_else(|| anyhow!("sendrawtransaction: {v}"))?.parse()?)
}

impl World {
    /// Starts a node, funds depositor, operators and a third party, builds and presigns the graph.
    fn new(operators: usize) -> Result<World> {
        let node = Regtest::start()?;
        let f = Fixture::new("graph-paths", 3, operators, 2, 2);
        let secp = Secp256k1::new();
        let wallet = test_key(b"third party");
        let wallet_script = p2tr_script(wallet.x_only_public_key().0);
        let coins = node.fund_many(&addr(&wallet_script), 14)?;
        let dep_coin = node.fund(&addr(&f.depositor_script()))?;

        // Each operator moves a coin to its claim script, exact amount, before the graph exists.
        let mut fundings = Vec::new();
        for i in 0..operators {
            let op = f.operators[i];
            let op_script = p2tr_script(op.x_only_public_key().0);
            let coin = node.fund(&addr(&op_script))?;
            let claim = f.claim_funding(i);
            let change = coin.txout.value - claim.value - OPEN_FEE;
            let mut tx = Transaction {
                version: Version::TWO,
                lock_time: bitcoin::absolute::LockTime::ZERO,
                input: vec![TxIn { previous_output: coin.outpoint, sequence: Sequence::ENABLE_RBF_NO_LOCKTIME, ..Default::default() }],
                output: vec![claim.clone(), TxOut { value: change, script_pubkey: op_script }],
            };
            sign_p2tr_keypath(&mut tx, 0, std::slice::from_ref(&coin.txout), &op)?;
            let txid = node.send(&tx)?;
            node.confirm(&txid)?;
            fundings.push(FundingInput { outpoint: OutPoint { txid, vout: 0 }, txout: claim });
        }
        let g = Graph::build(f.params_with(vec![funding(&dep_coin)], fundings))?;
        let _ = secp;

        // Presign: every peg-out graph first, then PegInConfirm.
        let mut rng = bitcoin::secp256k1::rand::thread_rng();
        let mut sigs = Vec::new();
        for i in 0..operators {
            let s = Session::new(g.committee().clone(), g.id(), g.peg_out_committee_tasks(i)?, [i as u8; 32])?;
            sigs.push(presign_in_process(&s, &f.committee, &mut rng)?);
        }
        let s = Session::new(g.committee().clone(), g.id(), g.peg_in_committee_tasks()?, [0xff; 32])?;
        let pegin = presign_in_process(&s, &f.committee, &mut rng)?;
        Ok(World { node, f, g, sigs, pegin, wallet, coins: RefCell::new(coins) })
    }

    fn coin(&self) -> Result<FundingInput> {
        Ok(funding(&self.coins.borrow_mut().pop().ok_or_else(|| anyhow!("out of test coins"))?))
    }

    fn wallet_script(&self) -> bitcoin::ScriptBuf {
        p2tr_script(self.wallet.x_only_public_key().0)
    }

    /// The CPFP child for a zero-fee TRUC parent.
    fn child(&self, parent: &Transaction) -> Result<Transaction> {
        let (mut child, prevouts) = cpfp_child(parent, &self.coin()?, self.wallet_script(), CHILD_FEE)?;
        sign_p2tr_keypath(&mut child, 1, &prevouts, &self.wallet)?;
        Ok(child)
    }

    /// Relays a presigned TRUC transaction with a fee-paying child and mines it.
    fn publish_truc(&self, parent: &Transaction) -> Result<()> {
        let child = self.child(parent)?;
        self.node
            .submit_package(&[parent.clone(), child])
            .with_context(|| format!("package with {}", parent.compute_txid()))?;
        self.node.confirm(&parent.compute_txid())?;
        Ok(())
    }

    /// Completes a SINGLE|ANYONECANPAY transaction with a third party's coin.
    fn complete(&self, tx: Transaction, prevouts: &[TxOut]) -> Result<Transaction> {
        let (mut tx, all) = add_funding(tx, prevouts, &self.coin()?, self.wallet_script(), OPEN_FEE)?;
        let last = tx.input.len() - 1;
        sign_p2tr_keypath(&mut tx, last, &all, &self.wallet)?;
        Ok(tx)
    }

    fn op_task(&self, i: usize, tx: TxKind, input: u32) -> Result<SigningTask> {
        Ok(self.g.operator_task(i, tx, input)?)
    }

    fn deposit(&self) -> Result<()> {
        let pin = &self.g.peg_in;
        let mut tx = pin.deposit.tx.clone();
        let prevouts: Vec<TxOut> = pin.deposit.inputs.iter().map(|i| i.prevout.clone()).collect();
        sign_p2tr_keypath(&mut tx, 0, &prevouts, &self.f.depositor)?;
        let txid = self.node.send(&tx)?;
        ensure!(txid == pin.deposit.txid(), "deposit txid differs from the graph's");
        self.node.confirm(&txid)?;
        Ok(())
    }

    fn depositor_sig(&self, kind: TxKind) -> Result<schnorr::Signature> {
        let t = self.g.depositor_tasks()?.into_iter().find(|t| t.id.tx == kind).expect("depositor task");
        Ok(sign(&t, &self.f.depositor))
    }

    fn peg_in(&self) -> Result<()> {
        self.deposit()?;
        let tx = self.g.peg_in_confirm_tx(&self.pegin, &self.depositor_sig(TxKind::PegInConfirm)?)?;
        self.publish_truc(&tx)
    }

    fn kickoff(&self, i: usize) -> Result<()> {
        let sig = sign(&self.op_task(i, TxKind::Kickoff, 0)?, &self.f.operators[i]);
        let tx = self.g.kickoff_tx(i, &sig, self.f.programs[i].claim_witness())?;
        self.publish_truc(&tx)
    }

    fn challenge(&self, i: usize) -> Result<Transaction> {
        let sig = sign(&self.op_task(i, TxKind::Challenge, 0)?, &self.f.operators[i]);
        let po = self.g.peg_out(i)?;
        let tx = self.complete(self.g.challenge_tx(i, &sig)?, &[po.challenge.inputs[0].prevout.clone()])?;
        let txid = self.node.send(&tx)?;
        self.node.confirm(&txid)?;
        Ok(tx)
    }

    fn take1(&self, i: usize) -> Result<Transaction> {
        Ok(self.g.take1_tx(i, &self.sigs[i])?)
    }

    fn take2(&self, i: usize) -> Result<Transaction> {
        Ok(self.g.take2_tx(i, &self.sigs[i])?)
    }

    fn assert_initial(&self, i: usize) -> Result<()> {
        let sig = sign(&self.op_task(i, TxKind::AssertInitial, 0)?, &self.f.operators[i]);
        self.publish_truc(&self.g.assert_initial_tx(i, &self.sigs[i], &sig)?)
    }

    /// The assert lanes, then all asserts with `values` committed, then AssertFinal.
    fn asserts(&self, i: usize, values: &[bool]) -> Result<()> {
        for (l, lane) in self.g.peg_out(i)?.lanes.iter().enumerate() {
            if self.node.confirmations(&lane.txid())? > 0 {
                continue;
            }
            let sig = sign(&self.op_task(i, TxKind::AssertLane(l as u32), 0)?, &self.f.operators[i]);
            self.publish_truc(&self.g.assert_lane_tx(i, l, &sig)?)?;
        }
        let witnesses = self.f.programs[i].assert_witnesses(values);
        for (k, w) in witnesses.into_iter().enumerate() {
            let op_sigs = (0..w.len())
                .map(|j| Ok(sign(&self.op_task(i, TxKind::Assert(k as u32), j as u32)?, &self.f.operators[i])))
                .collect::<Result<Vec<_>>>()?;
            self.publish_truc(&self.g.assert_tx(i, k, &op_sigs, w)?)?;
        }
        self.publish_truc(&self.assert_final(i)?)
    }

    /// AssertFinal with the committee's carry signature and the operator's for every assert.
    fn assert_final(&self, i: usize) -> Result<Transaction> {
        let n = self.g.peg_out(i)?.assert_final.inputs.len();
        let op_sigs = (1..n).map(|j| Ok(sign(&self.op_task(i, TxKind::AssertFinal, j as u32)?, &self.f.operators[i]))).collect::<Result<Vec<_>>>()?;
        Ok(self.g.assert_final_tx(i, &self.sigs[i], &op_sigs)?)
    }

    /// The Disprove through `leaf`, the disprover taking the reward minus the fee.
    fn disprove(&self, i: usize, leaf: usize, values: &[bool]) -> Result<Transaction> {
        let p = &self.f.programs[i];
        let po = self.g.peg_out(i)?;
        let tx = self.g.disprove_tx(i, leaf, &p.disprove_leaf(leaf), &self.sigs[i], p.disprove_witness(values, leaf))?;
        let prevouts: Vec<TxOut> = po.disprove.inputs.iter().map(|x| x.prevout.clone()).collect();
        Ok(add_reward(tx, &prevouts, self.wallet_script(), OPEN_FEE)?)
    }
}

#[test]
fn refund_path() -> Result<()> {
    let w = World::new(1)?;
    w.deposit()?;
    let refund = w.g.refund_tx(&w.depositor_sig(TxKind::DepositRefund)?);
    // One block before the refund timelock.
    w.node.mine(u64::from(w.f.timelocks.deposit_refund) - 2)?;
    let reason = reject_reason(&w.node, &refund)?;
    assert_eq!(reason, "non-BIP68-final");
    w.node.mine(1)?;
    let txid = w.node.send(&refund)?;
    w.node.confirm(&txid)?;
    assert_eq!(w.node.get_tx(&txid)?.output[0].script_pubkey, w.f.depositor_script());
    Ok(())
}

#[test]
fn happy_path_take1_after_t1_and_only_one_graph_takes_the_vault() -> Result<()> {
    let w = World::new(2)?;
    w.peg_in()?;
    w.kickoff(1)?;
    w.kickoff(0)?;
    let t1 = u64::from(w.f.timelocks.take1);
    let take1 = w.take1(0)?;
    // Take1 before T1: one block short.
    w.node.mine(t1 - 2)?;
    let child = w.child(&take1)?;
    let err = w.node.submit_package(&[take1.clone(), child]).unwrap_err().to_string();
    eprintln!("node rejects early Take1 package: {err}");
    assert!(err.contains("non-BIP68-final"), "{err}");
    w.node.mine(1)?;

    // A spend of operator 0's Take1 that pays operator 1 instead: the committee's signature
    // does not cover it.
    let mut stolen = take1.clone();
    stolen.output[0].script_pubkey = w.g.peg_out(1)?.take1.tx.output[0].script_pubkey.clone();
    let child = w.child(&stolen)?;
    let err = w.node.submit_package(&[stolen, child]).unwrap_err().to_string();
    eprintln!("node rejects redirected Take1 package: {err}");
    assert!(err.contains("script-verify-flag-failed") && err.contains("Invalid Schnorr signature"), "{err}");

    w.publish_truc(&take1)?;
    let paid = w.node.get_tx(&take1.compute_txid())?;
    assert_eq!(paid.output[0].script_pubkey, p2tr_script(w.f.operators[0].x_only_public_key().0));
    assert_eq!(paid.output[0].value, w.f.deposit_amount + w.f.fees.connector_value + w.f.stake);

    // Operator 1's graph, though its kickoff matured too, can no longer touch the vault.
    let other = w.take1(1)?;
    let reason = reject_reason(&w.node, &other)?;
    assert_eq!(reason, "missing-inputs");
    Ok(())
}

#[test]
fn challenged_honest_operator_asserts_and_takes2() -> Result<()> {
    let w = World::new(1)?;
    w.peg_in()?;
    w.kickoff(0)?;
    let challenge = w.challenge(0)?;
    // The challenge is funded by a third party's added input and pays the operator its premium.
    assert_eq!(challenge.input.len(), 2);
    assert_eq!(challenge.output[0].value, w.f.fees.connector_value + Amount::from_sat(10_000));

    // Take1 after a Challenge: its connector is gone, whatever the time.
    w.node.mine(u64::from(w.f.timelocks.take1))?;
    assert_eq!(w.node.utxo(&w.g.peg_out(0)?.kickoff.outpoint(0))?, None, "challenge connector spent");
    let reason = reject_reason(&w.node, &w.take1(0)?)?;
    assert_eq!(reason, "missing-inputs");

    let values = w.f.programs[0].honest_values();
    w.assert_initial(0)?;
    w.asserts(0, &values)?;

    // A Disprove against the honest assertion fails in script (every leaf).
    for leaf in 0..w.g.params().operators[0].disprove.disprove_leaves.len() {
        let d = w.disprove(0, leaf, &values)?;
        let reason = reject_reason(&w.node, &d)?;
        assert!(
            reason.contains("script-verify-flag-failed") && reason.contains("false/empty top stack element"),
            "leaf {leaf}: {reason}"
        );
    }

    // Take2 before T3 (one block short), then after.
    let take2 = w.take2(0)?;
    w.node.mine(u64::from(w.f.timelocks.take2) - 2)?;
    let child = w.child(&take2)?;
    let err = w.node.submit_package(&[take2.clone(), child]).unwrap_err().to_string();
    eprintln!("node rejects early Take2 package: {err}");
    assert!(err.contains("non-BIP68-final"), "{err}");
    w.node.mine(1)?;
    w.publish_truc(&take2)?;
    assert_eq!(
        w.node.get_tx(&take2.compute_txid())?.output[0].script_pubkey,
        p2tr_script(w.f.operators[0].x_only_public_key().0)
    );
    Ok(())
}

#[test]
fn dishonest_assertion_is_disproved_and_take2_dies() -> Result<()> {
    let w = World::new(1)?;
    w.peg_in()?;
    w.kickoff(0)?;
    w.challenge(0)?;
    let program = &w.f.programs[0];
    let mut values = program.honest_values();
    let last = values.len() - 1;
    values[last] = !values[last]; // the operator commits a wrong final bit
    w.assert_initial(0)?;
    w.asserts(0, &values)?;

    // A verifier finds the wrong step natively and spends only that leaf.
    let leaf = program.find_wrong_leaf(&values).expect("a wrong step");
    assert_eq!(leaf, last - 2);
    // The other leaf (a correct step) still refuses.
    let right = w.disprove(0, 0, &values)?;
    assert!(reject_reason(&w.node, &right)?.contains("false/empty top stack element"));
    let d = w.disprove(0, leaf, &values)?;
    let txid = send_burning(&w.node, &d)?;
    w.node.confirm(&txid)?;
    let mined = w.node.get_tx(&txid)?;
    assert!(mined.output[0].script_pubkey.is_op_return(), "output 0 burns the stake");
    let af = &w.g.peg_out(0)?.assert_final.tx;
    assert_eq!(mined.output[0].value, af.output[0].value + af.output[1].value - w.g.params().operators[0].disprover_reward);
    assert_eq!(mined.output[1].value, w.g.params().operators[0].disprover_reward - OPEN_FEE, "the disprover keeps the reward minus the fee");

    // Take2 after a Disprove, even after T3.
    w.node.mine(u64::from(w.f.timelocks.take2))?;
    let reason = reject_reason(&w.node, &w.take2(0)?)?;
    assert_eq!(reason, "missing-inputs");
    Ok(())
}

#[test]
fn operator_stalling_after_a_challenge_is_slashed() -> Result<()> {
    let w = World::new(1)?;
    w.peg_in()?;
    w.kickoff(0)?;
    w.challenge(0)?;
    let po = w.g.peg_out(0)?;
    let slash = w.complete(w.g.kickoff_timeout_tx(0, &w.sigs[0])?, &[po.kickoff_timeout.inputs[0].prevout.clone()])?;
    // The kickoff confirmed one block before the challenge; the timeout counts from the kickoff.
    w.node.mine(u64::from(w.f.timelocks.assert_timeout) - 3)?;
    assert_eq!(reject_reason(&w.node, &slash)?, "non-BIP68-final");
    w.node.mine(1)?;
    let txid = send_burning(&w.node, &slash)?;
    w.node.confirm(&txid)?;
    assert!(w.node.get_tx(&txid)?.output[0].script_pubkey.is_op_return());
    // The operator can no longer assert (and so never reach Take2).
    let sig = sign(&w.op_task(0, TxKind::AssertInitial, 0)?, &w.f.operators[0]);
    let late = w.g.assert_initial_tx(0, &w.sigs[0], &sig)?;
    let reason = reject_reason(&w.node, &late)?;
    assert_eq!(reason, "missing-inputs");
    Ok(())
}

#[test]
fn operator_stalling_mid_assertion_is_slashed() -> Result<()> {
    let w = World::new(1)?;
    w.peg_in()?;
    w.kickoff(0)?;
    w.challenge(0)?;
    w.assert_initial(0)?;
    let po = w.g.peg_out(0)?;
    let slash = w.complete(w.g.assert_timeout_tx(0, &w.sigs[0])?, &[po.assert_timeout.inputs[0].prevout.clone()])?;
    w.node.mine(u64::from(w.f.timelocks.assert_timeout) - 2)?;
    assert_eq!(reject_reason(&w.node, &slash)?, "non-BIP68-final");
    w.node.mine(1)?;
    let txid = send_burning(&w.node, &slash)?;
    w.node.confirm(&txid)?;
    // The stake's carry output is burned, so AssertFinal is now impossible.
    assert_eq!(w.node.utxo(&w.g.peg_out(0)?.assert_initial.outpoint(0))?, None);
    let reason = reject_reason(&w.node, &w.assert_final(0)?)?;
    assert_eq!(reason, "missing-inputs");
    Ok(())
}

/// The package error Core gives for a zero-fee TRUC transaction with a fee-paying child.
fn package_error(w: &World, parent: &Transaction) -> Result<String> {
    let child = w.child(parent)?;
    let err = w.node.submit_package(&[parent.clone(), child]).unwrap_err().to_string();
    eprintln!("node rejects package: {err}");
    ensure!(err.contains("script-verify-flag-failed"), "not a script failure: {err}");
    Ok(err)
}

#[test]
fn only_the_operator_claims_and_asserts_and_only_with_valid_commitments() -> Result<()> {
    let w = World::new(1)?;
    w.peg_in()?;
    let intruder = test_key(b"intruder");
    let task = w.op_task(0, TxKind::Kickoff, 0)?;
    let program = &w.f.programs[0];

    // A presigned transaction alone pays no fee: it needs its CPFP child.
    let honest_kickoff = w.g.kickoff_tx(0, &sign(&task, &w.f.operators[0]), program.claim_witness())?;
    let reason = reject_reason(&w.node, &honest_kickoff)?;
    assert!(reason.contains("min relay fee not met"), "{reason}");

    // Kickoff signed by someone else, or with a wrong claim commitment witness.
    let forged = w.g.kickoff_tx(0, &sign(&task, &intruder), program.claim_witness())?;
    assert!(package_error(&w, &forged)?.contains("Invalid Schnorr signature"));
    let wrong_claim = w.g.kickoff_tx(0, &sign(&task, &w.f.operators[0]), vec![vec![7u8; 32]])?;
    assert!(package_error(&w, &wrong_claim)?.contains("OP_EQUALVERIFY"));

    w.publish_truc(&honest_kickoff)?;
    w.challenge(0)?;

    // AssertInitial signed by someone else than the operator.
    let ai_task = w.op_task(0, TxKind::AssertInitial, 0)?;
    let forged = w.g.assert_initial_tx(0, &w.sigs[0], &sign(&ai_task, &intruder))?;
    assert!(package_error(&w, &forged)?.contains("Invalid Schnorr signature"));
    w.assert_initial(0)?;
    let lane_sig = sign(&w.op_task(0, TxKind::AssertLane(0), 0)?, &w.f.operators[0]);
    w.publish_truc(&w.g.assert_lane_tx(0, 0, &lane_sig)?)?;

    // An assert whose commitment witness opens nothing.
    let mut wit = program.assert_witnesses(&program.honest_values()).remove(0);
    wit[0] = vec![vec![9u8; 32]];
    let op_sigs = (0..wit.len())
        .map(|j| Ok(sign(&w.op_task(0, TxKind::Assert(0), j as u32)?, &w.f.operators[0])))
        .collect::<Result<Vec<_>>>()?;
    let bad = w.g.assert_tx(0, 0, &op_sigs, wit)?;
    assert!(package_error(&w, &bad)?.contains("OP_VERIFY"));
    // The honest assertion still goes through afterwards.
    w.asserts(0, &program.honest_values())?;
    Ok(())
}
