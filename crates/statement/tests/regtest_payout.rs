//! The statement against real regtest payouts: a payout transaction signed with our own key,
//! mined by the project's bitcoind, its block's Merkle path and the headers that follow. The
//! constraint system accepts the real witness and rejects each kind of bad one; a real Groth16
//! proof is generated and verified (keys cached by content hash under the target directory).

use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use bitcoin::hashes::Hash;
use bitcoin::key::{Keypair, TapTweak};
use bitcoin::secp256k1::{rand, Message, Secp256k1};
use bitcoin::sighash::{Prevouts, SighashCache, TapSighashType};
use bitcoin::{Address, Amount, BlockHash, Network, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use bitvm2_harness::Regtest;
use bitvm2_statement::{keys, Claim, StatementCircuit, StatementError, StatementParams, StatementWitness};

fn satisfied(p: &StatementParams, w: &StatementWitness) -> bool {
    let cs = ConstraintSystem::<ark_bn254::Fr>::new_ref();
    match (StatementCircuit { params: p.clone(), witness: Some(w.clone()) }).generate_constraints(cs.clone()) {
        Ok(()) => cs.is_satisfied().unwrap(),
        Err(_) => false,
    }
}

struct Payout {
    tx: Transaction,
    destination: ScriptBuf,
    amount: Amount,
    block_hash: BlockHash,
}

/// Funds our key, pays `amount` to a fresh P2TR destination (change back to us), mines it.
fn pay(rt: &Regtest, amount: Amount) -> Payout {
    let secp = Secp256k1::new();
    let kp = Keypair::new(&secp, &mut rand::thread_rng());
    let addr = Address::p2tr(&secp, kp.x_only_public_key().0, None, Network::Regtest);
    let dest_key = Keypair::new(&secp, &mut rand::thread_rng());
    let destination = Address::p2tr(&secp, dest_key.x_only_public_key().0, None, Network::Regtest).script_pubkey();
    let coin = rt.fund(&addr).unwrap();
    let change = coin.txout.value - amount - Amount::from_sat(1_000);
    let mut tx = coin.spend_to(vec![
        TxOut { value: amount, script_pubkey: destination.clone() },
        TxOut { value: change, script_pubkey: addr.script_pubkey() },
    ]);
    let sighash = SighashCache::new(&tx)
        .taproot_key_spend_signature_hash(0, &Prevouts::All(std::slice::from_ref(&coin.txout)), TapSighashType::Default)
        .unwrap();
    let tweaked = kp.tap_tweak(&secp, None);
    let sig = secp.sign_schnorr(&Message::from_digest(sighash.to_byte_array()), &tweaked.to_keypair());
    tx.input[0].witness.push(sig.as_ref());
    let txid = rt.send(&tx).unwrap();
    let block_hash = rt.confirm(&txid).unwrap();
    Payout { tx, destination, amount, block_hash }
}

/// The witness for a payout with `num_headers` headers from the payout block's parent.
fn witness(rt: &Regtest, p: &StatementParams, pay: &Payout) -> Result<StatementWitness, StatementError> {
    let block = rt.block(&pay.block_hash).unwrap();
    let checkpoint = block.header.prev_blockhash;
    let tip_height = rt.height().unwrap();
    let payout_height = tip_height - (rt.call("getblockheader", &[serde_json::json!(pay.block_hash.to_string())]).unwrap()["confirmations"].as_u64().unwrap() - 1);
    let mut chain = Vec::new();
    for h in payout_height..payout_height + p.num_headers as u64 {
        let hash: BlockHash = rt.call("getblockhash", &[serde_json::json!(h)]).unwrap().as_str().unwrap().parse().unwrap();
        chain.push(rt.block(&hash).unwrap().header);
    }
    let claim = Claim {
        deposit: OutPoint { txid: Txid::from_byte_array([0x5a; 32]), vout: 0 },
        amount: pay.amount,
        destination: pay.destination.clone(),
        payout_txid: pay.tx.compute_txid(),
        checkpoint,
    };
    StatementWitness::build(p, claim, &pay.tx, &block, &chain)
}

#[test]
fn real_regtest_payout_proves_and_bad_claims_are_rejected() {
    let rt = Regtest::start().expect("bitcoind (set BITCOIND_EXE)");
    // Regtest defaults but with the smallest Merkle depth and input count this payout needs,
    // to keep the (debug-profile) constraint checks short; the synthetic tests use the defaults.
    let p = StatementParams {
        num_headers: 2,
        min_confirmations: 2,
        merkle_depth: 1,
        max_inputs: 1,
        ..StatementParams::regtest()
    };
    let pay = pay(&rt, Amount::from_sat(2_500_000));

    // One confirmation only: the native builder refuses, and a witness forced through anyway
    // does not satisfy the circuit.
    let one = StatementParams { num_headers: 1, min_confirmations: 1, ..p.clone() };
    let shallow = witness(&rt, &one, &pay).expect("one header is enough for k = 1");
    let mut forced = shallow.clone();
    forced.headers.push(forced.headers[0]); // pad to two headers: does not link
    assert!(!satisfied(&p, &forced));
    rt.mine(1).unwrap();

    let w = witness(&rt, &p, &pay).expect("good witness from a real payout");
    assert_eq!(w.merkle_siblings.len(), 1, "coinbase + payout");
    assert!(satisfied(&p, &w), "real payout satisfies the circuit");

    // Too few confirmations: payout block as the last of the two headers.
    let mut late = w.clone();
    late.headers = vec![rt.block(&w.claim.checkpoint).unwrap().header, w.headers[0]];
    late.claim.checkpoint = late.headers[0].prev_blockhash;
    late.payout_position = 1;
    assert!(matches!(late.check(&p), Err(StatementError::TooFewConfirmations { got: 1, want: 2 })));
    assert!(!satisfied(&p, &late));

    let mut bad = w.clone();
    bad.claim.amount = pay.amount + Amount::from_sat(1);
    assert!(!satisfied(&p, &bad), "wrong amount");
    let mut bad = w.clone();
    bad.claim.destination = pay.tx.output[1].script_pubkey.clone();
    assert!(!satisfied(&p, &bad), "wrong destination (the change output)");
    let mut bad = w.clone();
    bad.payout_position = 0;
    bad.headers.swap(0, 1);
    assert!(!satisfied(&p, &bad), "headers out of order");
    let mut bad = w.clone();
    bad.merkle_siblings[0] = [0u8; 32];
    assert!(!satisfied(&p, &bad), "tx not in the block");
    let mut bad = w.clone();
    bad.claim.checkpoint = rt.block(&w.claim.checkpoint).unwrap().header.prev_blockhash;
    assert!(!satisfied(&p, &bad), "different checkpoint");
    let mut bad = w.clone();
    bad.headers[1].nonce ^= 0xdead_beef; // ~half the nonces miss the regtest target
    let target = bitvm2_statement::witness::compact_target_le(bad.headers[1].bits.to_consensus()).unwrap();
    while bitvm2_statement::witness::le_u256_leq_native(&bad.headers[1].block_hash().to_byte_array(), &target) {
        bad.headers[1].nonce += 1;
    }
    assert!(matches!(bad.check(&p), Err(StatementError::BadWork(1))));
    assert!(!satisfied(&p, &bad), "header with bad work");

    // Real Groth16 proof for the smallest circuit that holds this payout (1 header, k = 1):
    // keys cached by content hash, so only the first run pays for the setup.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("statement-keys");
    let mut rng = rand::rngs::OsRng;
    let small = one.clone();
    let (k, files) = keys::load_or_setup(&dir, &small, &mut rng).unwrap();
    let (_, again) = keys::load_or_setup(&dir, &small, &mut rng).unwrap();
    assert!(!again.created, "second call reads the cached files");
    assert_eq!(again.vk_path, files.vk_path);
    let proof = keys::prove(&k.pk, &small, &shallow, &mut rng).unwrap();
    let x = shallow.claim.public_inputs().unwrap();
    assert!(keys::verify(&k.vk, &x, &proof).unwrap(), "proof of a real payout verifies");
    assert_eq!(Claim::from_public_inputs(&x).unwrap(), shallow.claim, "inputs decode to the claim");
    let mut other = shallow.claim.clone();
    other.amount = pay.amount + Amount::from_sat(1);
    assert!(!keys::verify_claim(&k.vk, &other, &proof).unwrap(), "bound to the claim");
}
