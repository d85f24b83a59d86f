//! The whole chunked Groth16 verifier (`bitvm2_disprove::groth16::program`) on a real node, under
//! default relay policy: every leaf of the program (about 6,500, compact leaf encoding) is
//! committed in one taproot output.
//!
//! - A valid proof: the verifier's search finds nothing, every leaf run with the honest witness
//!   in our executor is unspendable, and Core refuses a sample of them (its own interpreter).
//! - The operator's assertion of it on chain: every assert transaction of the layout (its
//!   commitment scripts in single-leaf outputs, without the graph's operator signature) is
//!   accepted under default policy and mined; the verifier reads the assertion back from the
//!   mined transactions' witnesses.
//! - Invalid proofs, asserted by an operator who computes every intermediate value honestly
//!   from them: a proof of another statement, tampered A, B, C, a tampered public input; and an
//!   honest proof with single corrupted intermediate values (a spread sample: first, last and
//!   evenly spaced commitments). For each, the search names a leaf and Core accepts and mines its
//!   spend (at most 400,000 WU).
//!
//! - Public-input binding: the public inputs stand for claim fields the Kickoff signed (one
//!   16-byte Winternitz message each); one binding leaf per input sits in the same tree. With the
//!   Kickoff's claim equal to the asserted inputs no binding leaf is spendable; a Kickoff that
//!   claimed another value than the (valid) proof's input is caught by its binding leaf, mined.
//!
//! As in `disprove_on_chain.rs` the leaves are used bare (no committee signature around them).

mod common;

use std::sync::Arc;
use std::time::Instant;

use ark_bn254::{Bn254, Fr, G1Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::One;
use ark_groth16::{Groth16, Proof};
use ark_snark::SNARK;
use bitcoin::key::Secp256k1;
use bitcoin::taproot::{LeafVersion, TaprootBuilder, TaprootSpendInfo};
use bitcoin::{Address, Amount, Network, Transaction, TxOut};
use bitcoin::ScriptBuf;
use bitvm2_disprove::binding::{binding_leaves, binding_witness, find_binding_fault, Binding};
use bitvm2_disprove::bn254::{FqMul, ModeMul};
use bitvm2_disprove::chunk::ChunkLimits;
use bitvm2_disprove::groth16::program::{build, ProgramOptions, PublicInput, VerifierProgram};
use bitvm2_disprove::groth16::residue::ResidueWitness;
use bitvm2_disprove::groth16::verifier::{self, PreparedVerifyingKey};
use bitvm2_disprove::layout::AssertShape;
use bitvm2_disprove::program::{CommitMode, Committed, Val};
use bitvm2_disprove::programs::MulMode;
use bitvm2_disprove::setup::{Disprove, OperatorKeys, Planned, SignedAssertion};
use bitvm2_disprove::wots::LeafEncoding;
use bitvm2_harness::{Funded, Regtest};
use bitvm2_script::builder::leaf_spend_witness;
use bitvm2_script::exec::{execute, ExecOptions};
use bitvm2_script::winternitz as sw;
use common::TestKey;
use rand::{rngs::StdRng, SeedableRng};

#[path = "../crates/disprove/src/groth16/testdata/circuit.rs"]
mod circuit;
use circuit::TestCircuit;

struct Chain {
    d: Disprove,
    /// Leaves after the program's (the binding leaves).
    extra: Vec<ScriptBuf>,
    keys: OperatorKeys,
    info: TaprootSpendInfo,
    node: Regtest,
    coins: Vec<Funded>,
}

impl Chain {
    /// What a verifier reads from the chain: signed by the operator, packed into assert
    /// witnesses, parsed back.
    fn assertion(&self, committed: &[Committed]) -> SignedAssertion {
        let signed = self.keys.sign(&self.d, committed);
        self.d.read_assertion(&self.d.assert_witnesses(&signed)).expect("operator signatures verify")
    }

    fn script(&self, leaf: usize) -> &ScriptBuf {
        let n = self.d.leaf_scripts.len();
        if leaf < n { &self.d.leaf_scripts[leaf] } else { &self.extra[leaf - n] }
    }

    /// Spends `coin` through leaf `step` (program leaves first, then the extra ones).
    fn spend(&self, coin: &Funded, step: usize, items: Vec<Vec<u8>>) -> Transaction {
        let script = self.script(step);
        let control = self.info.control_block(&(script.clone(), LeafVersion::TapScript)).expect("leaf is in the tree");
        let w = leaf_spend_witness(items, script, &control);
        let mut tx = coin.spend_to(vec![TxOut {
            value: coin.txout.value - Amount::from_sat(150_000),
            script_pubkey: TestKey::from_seed(41).script_pubkey(),
        }]);
        tx.input[0].witness = w;
        tx
    }

    /// The search must name a leaf for `committed`, and Core must accept and mine its spend.
    fn disprove(&mut self, what: &str, committed: &[Committed]) -> (usize, u64) {
        let a = self.assertion(committed);
        let fault = self.d.find_fault(&a).unwrap_or_else(|| panic!("{what}: the search finds no faulty step"));
        let weight = self.mine_spend(what, fault.step, fault.witness.clone());
        eprintln!("{what}: leaf {} ({:?}) spent on chain, {weight} WU", fault.step, fault.reason);
        (fault.step, weight)
    }

    /// Core must accept the spend of leaf `step` with `witness` under default policy; mined.
    fn mine_spend(&mut self, what: &str, step: usize, witness: Vec<Vec<u8>>) -> u64 {
        let coin = self.coins.pop().expect("enough coins");
        let tx = self.spend(&coin, step, witness);
        let weight = tx.weight().to_wu();
        assert!(weight <= 400_000, "{what}: spend of leaf {step} weighs {weight} WU");
        let v = &self.node.test_mempool_accept(std::slice::from_ref(&tx)).unwrap()[0];
        assert!(v.allowed, "{what}, leaf {step}: {:?}", v.reject_reason);
        let txid = self.node.send(&tx).unwrap();
        self.node.confirm(&txid).unwrap();
        weight
    }
}

/// Mines every assert transaction of the layout carrying the signed `committed` values (each
/// input spends a single-leaf output whose leaf is the input's commitment script plus `OP_1`,
/// standing for the graph's operator signature check) and reads the assertion back from the
/// mined witnesses.
fn assert_on_chain(chain: &Chain, committed: &[Committed]) {
    let t = Instant::now();
    let secp = Secp256k1::new();
    let signed = chain.keys.sign(&chain.d, committed);
    let witnesses = chain.d.assert_witnesses(&signed);
    let internal = TestKey::from_seed(43).internal_key();
    // One output per assert input (paid by splitter transactions below).
    let leaves: Vec<Vec<(ScriptBuf, TaprootSpendInfo)>> = chain
        .d
        .layout
        .txs
        .iter()
        .map(|tx| {
            tx.inputs
                .iter()
                .map(|i| {
                    let mut leaf = i.script.to_bytes();
                    leaf.push(bitcoin::opcodes::OP_TRUE.to_u8());
                    let leaf = ScriptBuf::from_bytes(leaf);
                    let info = TaprootBuilder::new().add_leaf(0, leaf.clone()).unwrap().finalize(&secp, internal).unwrap();
                    (leaf, info)
                })
                .collect()
        })
        .collect();
    let inputs: usize = leaves.iter().map(Vec::len).sum();
    let per_input = Amount::from_sat(40_000);
    let funder = TestKey::from_seed(44);
    // Splitter transactions of at most 1,500 outputs each (standard size).
    let outs: Vec<TxOut> = leaves
        .iter()
        .flatten()
        .map(|(_, info)| TxOut { value: per_input, script_pubkey: ScriptBuf::new_p2tr_tweaked(info.output_key()) })
        .collect();
    let groups: Vec<&[TxOut]> = outs.chunks(1_500).collect();
    let coins = chain.node.fund_many(&funder.address(), groups.len() as u64).unwrap();
    let mut funding: Vec<bitcoin::OutPoint> = Vec::with_capacity(inputs);
    let mut splits = Vec::new();
    for (group, coin) in groups.iter().zip(&coins) {
        let mut outs = group.to_vec();
        let spent = per_input * outs.len() as u64;
        outs.push(TxOut { value: coin.txout.value - spent - Amount::from_sat(200_000), script_pubkey: funder.script_pubkey() });
        let mut split = coin.spend_to(outs);
        funder.sign_key_path(&mut split, 0, std::slice::from_ref(&coin.txout));
        let id = chain.node.send(&split).unwrap();
        funding.extend((0..group.len() as u32).map(|vout| bitcoin::OutPoint { txid: id, vout }));
        splits.push(id);
    }
    chain.node.mine(1).unwrap();
    for id in &splits {
        assert!(chain.node.confirmations(id).unwrap() >= 1, "splitter {id} mined");
    }
    // The assert transactions, each checked by Core before it is sent.
    let mut funding = funding.into_iter();
    let mut sent = Vec::new();
    let mut vbytes = 0;
    for (k, (tx_leaves, tx_wits)) in leaves.iter().zip(&witnesses).enumerate() {
        let mut tx = bitcoin::Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: Vec::new(),
            output: Vec::new(),
        };
        for ((leaf, info), items) in tx_leaves.iter().zip(tx_wits) {
            let control = info.control_block(&(leaf.clone(), LeafVersion::TapScript)).unwrap();
            let w = leaf_spend_witness(items, leaf, &control);
            tx.input.push(bitcoin::TxIn { previous_output: funding.next().expect("one output per input"), witness: w, ..Default::default() });
        }
        let fee = Amount::from_sat(tx.weight().to_wu().div_ceil(4) * 2 + 1_000);
        tx.output.push(TxOut { value: per_input * tx_leaves.len() as u64 - fee, script_pubkey: funder.script_pubkey() });
        let weight = tx.weight().to_wu();
        assert!(weight <= 400_000, "assert {k}: {weight} WU");
        let v = &chain.node.test_mempool_accept(&[tx.clone()]).unwrap()[0];
        assert!(v.allowed, "assert {k} of {}: {:?}", leaves.len(), v.reject_reason);
        vbytes += tx.vsize();
        sent.push(chain.node.send(&tx).unwrap());
    }
    for txid in &sent {
        while chain.node.confirmations(txid).unwrap() == 0 {
            chain.node.mine(1).unwrap();
        }
    }
    // The verifier's view: the signature items of every input of the mined transactions.
    let read: Vec<Vec<Vec<Vec<u8>>>> = sent
        .iter()
        .map(|txid| {
            let tx = chain.node.get_tx(txid).unwrap();
            tx.input.iter().map(|i| i.witness.iter().take(i.witness.len() - 2).map(<[u8]>::to_vec).collect()).collect()
        })
        .collect();
    assert_eq!(chain.d.read_assertion(&read).expect("the mined assertion reads back"), signed);
    eprintln!(
        "assertion on chain: {} assert transactions ({inputs} inputs), {vbytes} vB in all, each accepted by Core and mined, read back, in {:.1} s",
        sent.len(),
        t.elapsed().as_secs_f64()
    );
}

/// A public input as the Kickoff's 16-byte big-endian claim message (inputs here are < 2^128).
fn be16(x: &Fr) -> [u8; 16] {
    use ark_ff::{BigInteger, PrimeField};
    let be = x.into_bigint().to_bytes_be();
    assert!(be[..16].iter().all(|b| *b == 0), "claim fields are below 2^128");
    be[16..].try_into().unwrap()
}

fn program(pvk: &PreparedVerifyingKey, n_public: usize) -> VerifierProgram {
    let mul: Arc<dyn FqMul> = Arc::new(ModeMul::new(MulMode::Hinted(4)).expect("window 4"));
    build(pvk, &ProgramOptions { mul, commit: CommitMode::Direct, public: vec![PublicInput::Committed { bits: 128 }; n_public] })
}

#[test]
fn groth16_verifier_leaves_disprove_invalid_proofs_on_chain_and_not_a_valid_one() {
    let t = Instant::now();
    let mut rng = StdRng::seed_from_u64(11);
    let circuit = TestCircuit { a: Fr::from(3u64), b: Fr::from(5u64), n_public: 2 };
    let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(circuit.clone(), &mut rng).unwrap();
    let proof = Groth16::<Bn254>::prove(&pk, circuit.clone(), &mut rng).unwrap();
    let public = circuit.public_inputs();
    let other_circuit = TestCircuit { a: Fr::from(7u64), b: Fr::from(11u64), n_public: 2 };
    let other = Groth16::<Bn254>::prove(&pk, other_circuit, &mut rng).unwrap();
    let pvk = PreparedVerifyingKey::new(&vk, verifier::DEFAULT_WINDOW_BITS).unwrap();
    let vp = program(&pvk, public.len());

    // Every leaf, generated from nothing, in one balanced taproot tree.
    let limits = ChunkLimits { encoding: LeafEncoding::Compact, other_leaves: public.len(), ..ChunkLimits::default() };
    let planned = Planned::new(vp.program.clone(), limits).expect("the verifier chunks at the standard limits");
    let keys = OperatorKeys::new([6; 32], b"groth16-on-chain");
    let pks = keys.public_keys(&planned);
    let d = planned.with_keys(pks, AssertShape::default()).expect("keys");
    // The Kickoff's claim keys, one per public input, and their binding leaves.
    let claim_keys: Vec<sw::SecretKey> =
        (0..public.len()).map(|k| sw::SecretKey::derive(&[8; 32], format!("kickoff claim x{k}").as_bytes(), sw::Params::new(4, 16).unwrap())).collect();
    let bindings: Vec<Binding> = vp
        .inputs
        .public
        .iter()
        .zip(&claim_keys)
        .map(|((_, v), key)| Binding { claim_field: key.public_key(), commitment: d.plan.commitment_of(*v).expect("public inputs are committed") })
        .collect();
    let extra = binding_leaves(&d, &bindings).unwrap();
    let secp = Secp256k1::new();
    let info = TaprootBuilder::with_huffman_tree(d.leaf_scripts.iter().chain(&extra).map(|s| (1u32, s.clone())))
        .expect("tree")
        .finalize(&secp, TestKey::from_seed(42).internal_key())
        .expect("finalize");
    let leaves = d.leaf_scripts.len();
    eprintln!("{leaves} program leaves and {} binding leaves generated and committed in one output in {:.1} s", public.len(), t.elapsed().as_secs_f64());

    let node = Regtest::start().expect("start bitcoind");
    let address = Address::p2tr_tweaked(info.output_key(), Network::Regtest);
    let coins = node.fund_many(&address, 16).unwrap();
    let mut chain = Chain { d, extra, keys, info, node, coins };

    // The valid proof: honest values, nothing to find, no leaf spendable.
    let witness = verifier::prove(&pvk, &proof, &public).unwrap().witness;
    let inputs = vp.input_values(&proof, &public, &witness).unwrap();
    let honest = chain.d.honest_commitments(&inputs).unwrap();
    let a = chain.assertion(&honest);
    assert_eq!(chain.d.find_fault(&a).map(|f| f.step), None, "a valid proof has no faulty step");
    let t = Instant::now();
    let all = chain.d.leaf_witnesses(&a).unwrap();
    let mut peak = 0;
    for (s, w) in all.iter().enumerate() {
        let r = execute(&chain.d.leaf_scripts[s], w, &ExecOptions::default());
        assert!(r.outcome.is_ok() && r.final_stack == vec![Vec::<u8>::new()], "leaf {s} with the valid proof: {:?}", r.outcome);
        peak = peak.max(r.peak_items);
    }
    assert!(peak <= 1000, "peak stack {peak}");
    eprintln!("valid proof: all {leaves} leaves run, none spendable (peak stack {peak}) in {:.1} s", t.elapsed().as_secs_f64());
    // Core's own verdict on a spread sample of those leaves (plus the last one, the final check).
    let probe = chain.coins.pop().unwrap();
    let sample: Vec<usize> = (0..leaves).step_by(leaves / 24).chain([leaves - 1]).collect();
    for &s in &sample {
        let tx = chain.spend(&probe, s, all[s].clone());
        let v = &chain.node.test_mempool_accept(&[tx]).unwrap()[0];
        assert!(!v.allowed, "leaf {s} spendable with the valid proof");
        let reason = v.reject_reason.clone().unwrap_or_default();
        assert!(reason.contains("false/empty top stack element"), "leaf {s}: {reason}");
    }
    drop(all);
    eprintln!("valid proof: Core refuses all {} sampled leaves", sample.len());

    // The assertion on chain: every assert transaction standard and mined, and read back.
    assert_on_chain(&chain, &honest);

    // Binding: the Kickoff claimed exactly the asserted public inputs; no binding leaf spendable.
    let kickoff = |xs: &[Fr]| -> Vec<Vec<Vec<u8>>> { claim_keys.iter().zip(xs).map(|(k, x)| k.sign(&be16(x)).unwrap().to_witness()).collect() };
    let honest_kickoff = kickoff(&public);
    assert_eq!(find_binding_fault(&bindings, &honest_kickoff, &a).unwrap().map(|f| f.0), None);
    for (k, b) in bindings.iter().enumerate() {
        let w = binding_witness(&b.claim_field, &honest_kickoff[k], &a.sigs[b.commitment]).unwrap();
        let tx = chain.spend(&probe, leaves + k, w);
        let v = &chain.node.test_mempool_accept(&[tx]).unwrap()[0];
        assert!(!v.allowed, "binding leaf {k} spendable with the claimed inputs");
    }
    // The Kickoff claimed another x1 than the asserted (valid) proof's: its binding leaf is mined.
    let mut claimed = public.clone();
    claimed[1] += Fr::one();
    let (field, w) = find_binding_fault(&bindings, &kickoff(&claimed), &a).unwrap().expect("the mismatch is found");
    assert_eq!(field, 1);
    let weight = chain.mine_spend("kickoff claim != asserted public input", leaves + field, w);
    eprintln!("kickoff claim x1 != asserted x1: binding leaf spent on chain, {weight} WU");

    // Invalid proofs, every value computed honestly from them (the operator's best effort).
    let d = &chain.d;
    let from = |p: &Proof<Bn254>, xs: &[Fr], w: &ResidueWitness| -> Vec<Committed> {
        let inputs: Vec<Val> = vp.input_values(p, xs, w).expect("inputs of the right shape");
        d.honest_commitments(&inputs).expect("every value computes")
    };
    let g1 = |p: &ark_bn254::G1Affine| (G1Projective::from(*p) + ark_bn254::G1Affine::generator()).into_affine();
    let mut pa = proof.clone();
    pa.a = g1(&pa.a);
    let mut pb = proof.clone();
    pb.b = (ark_bn254::G2Projective::from(pb.b) + ark_bn254::G2Affine::generator()).into_affine();
    let mut pc = proof.clone();
    pc.c = g1(&pc.c);
    let mut xs = public.clone();
    xs[1] += Fr::one();
    let cases: Vec<(&str, Vec<Committed>)> = vec![
        ("proof of another statement", from(&other, &public, &witness)),
        ("tampered A", from(&pa, &public, &witness)),
        ("tampered B", from(&pb, &public, &witness)),
        ("tampered C", from(&pc, &public, &witness)),
        ("tampered public input", from(&proof, &xs, &witness)),
    ];
    for (what, committed) in cases {
        chain.disprove(what, &committed);
    }

    // Single corrupted intermediate values of the valid proof's assertion.
    let n = honest.len();
    let mut largest = 0;
    for c in [0, n / 7, 2 * n / 7, 3 * n / 7, 4 * n / 7, 5 * n / 7, 6 * n / 7, n - 1] {
        let mut bad = honest.clone();
        *bad[c].last_mut().unwrap() ^= 1;
        let (_, w) = chain.disprove(&format!("commitment {c} of {n} corrupted"), &bad);
        largest = largest.max(w);
    }
    eprintln!("largest disprove spend mined: {largest} WU");
}
