//! Unit tests across modules: determinism, exclusivity of paths, signing sessions, encodings,
//! amounts.

use bitcoin::secp256k1::{Keypair, Message, Secp256k1};
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, TapSighashType};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::encode::{decode_nonce_set, decode_params, decode_partials, encode_nonce_set, encode_params, encode_partials};
use crate::graph::{leaf, Signer, TxKind, TRUC};
use crate::musig::{presign_in_process, Coordinator, Session, SignerState};
use crate::toy::Fixture;
use crate::{DecodeError, Graph, GraphError, SignError};

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn fixture() -> Fixture {
    Fixture::new("unit", 3, 2, 2, 2)
}

fn session(g: &Graph, op: usize, salt: u8) -> Session {
    Session::new(g.committee().clone(), g.id(), g.peg_out_committee_tasks(op).unwrap(), [salt; 32]).unwrap()
}

#[test]
fn independent_builds_are_byte_identical() {
    let f = fixture();
    let a = Graph::build(f.params()).unwrap();
    // A second party: committee listed in another order, parameters through JSON.
    let mut p = f.params();
    p.committee.reverse();
    let p: crate::GraphParams = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    let b = Graph::build(p).unwrap();
    assert_eq!(a.id(), b.id());
    assert_eq!(a.transactions().len(), b.transactions().len());
    for (x, y) in a.transactions().iter().zip(b.transactions()) {
        assert_eq!(bitcoin::consensus::serialize(&x.tx), bitcoin::consensus::serialize(&y.tx));
    }
    assert_eq!(a.peg_out_committee_tasks(1).unwrap(), b.peg_out_committee_tasks(1).unwrap());
    // Any parameter change changes the id.
    let mut p = f.params();
    p.timelocks.take2 += 1;
    assert_ne!(Graph::build(p).unwrap().id(), a.id());
    assert_ne!(a.peg_out_id(0).unwrap(), a.peg_out_id(1).unwrap());
}

#[test]
fn connectors_make_paths_exclusive_and_only_the_owner_takes() {
    let f = fixture();
    let g = Graph::build(f.params()).unwrap();
    let vault = g.peg_in.confirm.outpoint(0);
    for (i, po) in g.peg_outs.iter().enumerate() {
        let spends = |t: &crate::GraphTx| t.tx.input.iter().map(|x| x.previous_output).collect::<Vec<OutPoint>>();
        let conn_a = po.kickoff.outpoint(0);
        let conn_b = po.kickoff.outpoint(1);
        let conn_d = po.assert_final.outpoint(0);
        let stake_d = po.assert_final.outpoint(1);
        // Challenge kills Take1.
        assert_eq!(spends(&po.challenge), vec![conn_a]);
        assert!(spends(&po.take1).contains(&conn_a));
        // Take1, AssertInitial and KickoffTimeout all need the stake connector.
        assert!(spends(&po.take1).contains(&conn_b));
        assert_eq!(spends(&po.assert_initial), vec![conn_b]);
        assert_eq!(spends(&po.kickoff_timeout), vec![conn_b]);
        // Disprove kills Take2: both need the assert connector and the stake after the asserts.
        assert!(spends(&po.take2).contains(&conn_d));
        assert!(spends(&po.take2).contains(&stake_d));
        assert_eq!(spends(&po.disprove), vec![stake_d, conn_d]);
        // Only this operator's Take1/Take2 spend the vault, and they pay this operator.
        let payout = &f.operator_params(i, f.params().operators[i].kickoff_funding.clone()).payout_script;
        for t in [&po.take1, &po.take2] {
            assert_eq!(spends(t)[0], vault);
            assert_eq!(&t.tx.output[0].script_pubkey, payout);
        }
        // Timelocks sit in the signed sequences.
        assert_eq!(po.take1.tx.input[1].sequence, Sequence::from_height(f.timelocks.take1));
        assert_eq!(po.take2.tx.input[1].sequence, Sequence::from_height(f.timelocks.take2));
        assert_eq!(po.kickoff_timeout.tx.input[0].sequence, Sequence::from_height(f.timelocks.assert_timeout));
        assert_eq!(po.assert_timeout.tx.input[0].sequence, Sequence::from_height(f.timelocks.assert_timeout));
        // Presigned fee-by-child transactions carry an anchor and pay no fee themselves: TRUC,
        // except the asserts and AssertFinal (version 2: a Groth16 assertion is far above TRUC's
        // 10,000 vB).
        for t in [&po.kickoff, &po.take1, &po.assert_initial, &po.take2] {
            assert_eq!(t.tx.version, TRUC, "{}", t.kind);
        }
        for t in po.asserts.iter().chain(&po.lanes).chain([&po.assert_final]) {
            assert_eq!(t.tx.version, crate::graph::ASSERT_VERSION, "{}", t.kind);
        }
        for t in po.asserts.iter().chain(&po.lanes).chain([&po.kickoff, &po.take1, &po.assert_initial, &po.assert_final, &po.take2]) {
            assert!(t.tx.output.iter().any(|o| o.script_pubkey == ScriptBuf::new_p2a()), "{}", t.kind);
            assert_eq!(t.fee().unwrap(), Amount::ZERO, "{}", t.kind);
        }
        // Disprove leaf l sits at leaf index l + 1 of the assert connector, next to Take2, and
        // its control block proves the program's leaf script.
        let prog = &f.programs[i];
        let n = prog.disprove_scripts().disprove_leaves.len();
        assert_eq!(po.assert_connector.len(), n + 1);
        let secp = Secp256k1::new();
        let out = po.assert_connector.output_key().to_x_only_public_key();
        for l in 0..n {
            let cb = po.assert_connector.control_block(leaf::disprove(l));
            assert!(cb.verify_taproot_commitment(&secp, out, &prog.disprove_leaf(l)));
        }
        assert!(po.assert_connector.control_block(leaf::ASSERT_TAKE2).verify_taproot_commitment(&secp, out, po.assert_connector.leaf(leaf::ASSERT_TAKE2)));
    }
    // The two operators' graphs spend the same vault (only one can ever take it).
    assert_eq!(g.peg_outs[0].take1.tx.input[0].previous_output, g.peg_outs[1].take2.tx.input[0].previous_output);
}

#[test]
fn assert_transactions_above_the_standard_weight_are_refused() {
    let f = fixture();
    let mut p = f.params();
    // A 45 kB commitment script is fine for a version 2 assert (above TRUC's 40,000 WU).
    p.operators[0].disprove.assert_commitments[1][0] = bitcoin::ScriptBuf::from_bytes(vec![0x61; 45_000]);
    Graph::build(p.clone()).unwrap();
    // Ten such inputs (450 kB of script) exceed the standard 400,000 WU.
    p.operators[0].disprove.assert_commitments[1] = vec![bitcoin::ScriptBuf::from_bytes(vec![0x61; 45_000]); 10];
    match Graph::build(p).unwrap_err() {
        GraphError::TooHeavy { tx, weight, limit } => {
            assert_eq!(tx, "operator 0: Assert1");
            assert!(weight > 450_000);
            assert_eq!(limit, 400_000);
        }
        e => panic!("unexpected {e}"),
    }
    // The toy graph's presigned transactions are far below the limit.
    let g = Graph::build(f.params()).unwrap();
    for t in g.transactions() {
        assert!(t.min_weight() < 10_000, "{} {}", t.kind, t.min_weight());
    }
}

#[test]
fn wrong_kickoff_funding_is_refused() {
    let f = fixture();
    let mut p = f.params();
    p.operators[1].kickoff_funding.txout.value += Amount::from_sat(1);
    assert!(matches!(Graph::build(p).unwrap_err(), GraphError::BadKickoffFunding { operator: 1, .. }));
    let mut p = f.params();
    p.operators[0].kickoff_funding.txout.script_pubkey = f.depositor_script();
    assert!(matches!(Graph::build(p).unwrap_err(), GraphError::BadKickoffFunding { operator: 0, .. }));
    let mut p = f.params();
    p.timelocks.assert_timeout = p.timelocks.take1;
    assert!(matches!(Graph::build(p).unwrap_err(), GraphError::BadTimelock { name: "assert_timeout", .. }));
}

#[test]
fn full_presign_gives_valid_signatures_for_every_task() {
    let f = fixture();
    let g = Graph::build(f.params()).unwrap();
    let secp = Secp256k1::new();
    let mut r = rng(1);
    for op in 0..2 {
        let s = session(&g, op, 7);
        let sigs = presign_in_process(&s, &f.committee, &mut r).unwrap();
        assert_eq!(sigs.len(), s.tasks.len());
        for t in &s.tasks {
            let key = if t.key_path { g.committee().vault_output_key() } else { g.committee().script_key() };
            secp.verify_schnorr(&sigs[&t.id], &Message::from_digest(t.sighash), &key).unwrap();
        }
        // The key-path key is the vault's output key.
        assert_eq!(
            ScriptBuf::new_p2tr_tweaked(bitcoin::key::TweakedPublicKey::dangerous_assume_tweaked(g.committee().vault_output_key())),
            g.peg_in.confirm.tx.output[0].script_pubkey
        );
        // Completed transactions carry the right signature sizes.
        let take1 = g.take1_tx(op, &sigs).unwrap();
        assert_eq!(take1.input[0].witness.len(), 1);
        assert_eq!(take1.input[0].witness.nth(0).unwrap().len(), 64);
        let prog = &f.programs[op];
        let d = g.disprove_tx(op, 0, &prog.disprove_leaf(0), &sigs, prog.disprove_witness(&prog.honest_values(), 0)).unwrap();
        assert_eq!(d.input[0].witness.nth(0).unwrap().len(), 65, "SINGLE signature has its type byte");
        assert_eq!(*d.input[0].witness.nth(0).unwrap().last().unwrap(), TapSighashType::Single as u8);
        assert_eq!(d.input[1].witness.len(), 3 + 2, "leaf items, script, control block");
        // Another leaf's script under this index, or a foreign script, is refused.
        assert_eq!(
            g.disprove_tx(op, 0, &prog.disprove_leaf(1), &sigs, vec![]).unwrap_err(),
            GraphError::WrongLeafScript { operator: op, leaf: 0 }
        );
        // The Disprove signature commits to the assert connector: with a foreign second input
        // it is not valid.
        let task = s.tasks.iter().find(|t| t.id.tx == TxKind::Disprove).unwrap();
        let mut other = g.peg_out(op).unwrap().disprove.clone();
        other.inputs[1].prevout.value += Amount::from_sat(1);
        assert_ne!(other.sighash(0, crate::graph::SINGLE).unwrap(), task.sighash);
        // Committee tasks no longer grow with the program: 11 per peg-out graph.
        assert_eq!(s.tasks.len(), 11);
    }
    // The depositor's check before PegInConfirm: complete and valid, or the culprit task named.
    let s0 = session(&g, 0, 7);
    let mut sigs0 = presign_in_process(&s0, &f.committee, &mut r).unwrap();
    g.verify_peg_out_presigned(0, &sigs0).unwrap();
    assert!(g.verify_peg_out_presigned(1, &sigs0).is_err(), "another graph's signatures do not count");
    let t = s0.tasks[4].id;
    let other = sigs0[&s0.tasks[5].id];
    sigs0.insert(t, other);
    assert_eq!(g.verify_peg_out_presigned(0, &sigs0).unwrap_err(), GraphError::Signatures(format!("invalid signature for {t}")));
    sigs0.remove(&t);
    assert_eq!(g.verify_peg_out_presigned(0, &sigs0).unwrap_err(), GraphError::Signatures(format!("missing signature for {t}")));
    let s = Session::new(g.committee().clone(), g.id(), g.peg_in_committee_tasks().unwrap(), [1; 32]).unwrap();
    presign_in_process(&s, &f.committee, &mut r).unwrap();
    // Operator tasks are refused in a committee session.
    let op_tasks = g.operator_tasks(0).unwrap();
    assert!(op_tasks.iter().all(|t| t.signer == Signer::Operator));
    // The committee checks the operator's Challenge signature before presigning.
    let op = &f.operators[0];
    let good = crate::musig::sign_single(&op_tasks[0], op, &mut r);
    g.verify_single_signature(&op_tasks[0], &good).unwrap();
    let wrong_key = crate::musig::sign_single(&op_tasks[0], &f.operators[1], &mut r);
    assert!(g.verify_single_signature(&op_tasks[0], &wrong_key).is_err());
    let wrong_msg = crate::musig::sign_single(&op_tasks[1], op, &mut r);
    assert!(g.verify_single_signature(&op_tasks[0], &wrong_msg).is_err());
    assert!(Session::new(g.committee().clone(), g.id(), op_tasks, [0; 32]).is_err());
}

/// Runs nonce round and signing; returns coordinator ready for partials, the partial sets.
fn run_to_partials(s: &Session, keys: &[Keypair], seed: u64) -> (Coordinator, Vec<crate::PartialSigSet>) {
    let mut r = rng(seed);
    let mut c = Coordinator::new(s.clone());
    let mut states = Vec::new();
    for k in keys {
        let (st, set) = SignerState::new(s, *k, &mut r).unwrap();
        c.add_nonce_set(set).unwrap();
        states.push(st);
    }
    let round = c.nonce_round().unwrap();
    let parts = states.iter_mut().map(|st| st.sign(s, &round).unwrap()).collect();
    (c, parts)
}

#[test]
fn bad_partial_signature_is_attributed_to_its_signer() {
    let f = fixture();
    let g = Graph::build(f.params()).unwrap();
    let s = session(&g, 0, 3);
    let (mut c, mut parts) = run_to_partials(&s, &f.committee, 2);
    // Signer 1 (in sorted order, whichever it is) corrupts its partial signature for task 5.
    let culprit = parts[1].signer;
    let task = s.tasks[5].id;
    parts[1].sigs[5] += musig2::secp::MaybeScalar::one();
    c.add_partials(parts[0].clone()).unwrap();
    assert_eq!(c.add_partials(parts[1].clone()).unwrap_err(), SignError::BadPartialSignature { signer: culprit, task });
    // A valid set relabelled as another signer's is caught too, naming the claimed signer.
    let mut forged = parts[0].clone();
    forged.signer = parts[2].signer;
    assert!(matches!(c.add_partials(forged).unwrap_err(), SignError::BadPartialSignature { signer, .. } if signer == parts[2].signer));
    // A resend from an accepted signer is refused; the round cannot finish without the culprit.
    assert_eq!(c.add_partials(parts[0].clone()).unwrap_err(), SignError::Duplicate(parts[0].signer));
    c.add_partials(parts[2].clone()).unwrap();
    assert_eq!(c.finish().unwrap_err(), SignError::Incomplete(vec![culprit]));
}

#[test]
fn replayed_reordered_or_duplicated_nonce_sets_are_rejected() {
    let f = fixture();
    let g = Graph::build(f.params()).unwrap();
    let s1 = session(&g, 0, 1);
    let s2 = session(&g, 0, 2); // a retry of the same graph: new salt, new session
    assert_ne!(s1.id, s2.id);
    let mut r = rng(3);
    let (_, old) = SignerState::new(&s1, f.committee[0], &mut r).unwrap();
    let mut c = Coordinator::new(s2.clone());
    // Replay from the earlier session.
    assert!(matches!(c.add_nonce_set(old.clone()).unwrap_err(), SignError::WrongSession { .. }));
    // Replay with the session id rewritten: authentication fails.
    let mut rewritten = old.clone();
    rewritten.session = s2.id;
    assert_eq!(c.add_nonce_set(rewritten).unwrap_err(), SignError::BadNonceSetAuth(old.signer));
    // Reordered nonces.
    let (_, set) = SignerState::new(&s2, f.committee[0], &mut r).unwrap();
    let mut reordered = set.clone();
    reordered.nonces.swap(0, 1);
    assert_eq!(c.add_nonce_set(reordered).unwrap_err(), SignError::BadNonceSetAuth(set.signer));
    // Truncated.
    let mut short = set.clone();
    short.nonces.pop();
    assert!(matches!(c.add_nonce_set(short).unwrap_err(), SignError::WrongLength { .. }));
    // Outsider.
    let outsider = crate::toy::test_key(b"outsider");
    assert_eq!(SignerState::new(&s2, outsider, &mut r).unwrap_err(), SignError::UnknownSigner(outsider.public_key()));
    // The genuine one is accepted once.
    c.add_nonce_set(set.clone()).unwrap();
    assert_eq!(c.add_nonce_set(set).unwrap_err(), SignError::Duplicate(f.committee[0].public_key()));
    // Round incomplete.
    assert!(matches!(c.nonce_round().unwrap_err(), SignError::Incomplete(m) if m.len() == 2));
}

#[test]
fn secret_nonces_are_used_once_and_own_nonces_are_checked() {
    let f = fixture();
    let g = Graph::build(f.params()).unwrap();
    let s = session(&g, 1, 9);
    let mut r = rng(4);
    let mut c = Coordinator::new(s.clone());
    let mut states = Vec::new();
    for k in &f.committee {
        let (st, set) = SignerState::new(&s, *k, &mut r).unwrap();
        c.add_nonce_set(set).unwrap();
        states.push(st);
    }
    // A round of another session is refused before any nonce is touched.
    let other = session(&g, 1, 10);
    let mut oc = Coordinator::new(other.clone());
    let mut os = Vec::new();
    for k in &f.committee {
        let (st, set) = SignerState::new(&other, *k, &mut r).unwrap();
        oc.add_nonce_set(set).unwrap();
        os.push(st);
    }
    let other_round = oc.nonce_round().unwrap();
    assert!(matches!(states[0].sign(&s, &other_round).unwrap_err(), SignError::WrongRound { .. }));
    assert!(states[0].can_sign());
    // Signer 0 restarts and makes a second state: the round carries its first set.
    let (mut second, _) = SignerState::new(&s, f.committee[0], &mut r).unwrap();
    let round = c.nonce_round().unwrap();
    assert!(matches!(second.sign(&s, &round).unwrap_err(), SignError::OwnNonceAltered(_)));
    assert!(!second.can_sign(), "a failed attempt destroys the nonces too");
    let first = states[0].sign(&s, &round).unwrap();
    assert_eq!(first.sigs.len(), s.tasks.len());
    assert!(!states[0].can_sign());
    assert_eq!(states[0].sign(&s, &round).unwrap_err(), SignError::NonceReuse);
}

#[test]
fn encodings_round_trip() {
    let f = fixture();
    let g = Graph::build(f.params()).unwrap();
    // Params binary.
    let b = encode_params(g.params());
    assert_eq!(&decode_params(&b).unwrap(), g.params());
    assert_eq!(decode_params(&b[..b.len() - 1]).unwrap_err(), DecodeError::Truncated("disprove leaf hash"));
    let mut long = b.clone();
    long.push(0);
    assert_eq!(decode_params(&long).unwrap_err(), DecodeError::Trailing(1));
    // Graph binary and JSON.
    let wire = g.to_bytes();
    assert_eq!(Graph::from_bytes(&wire).unwrap(), g);
    let mut bad = wire.clone();
    bad[5] ^= 1; // first byte of the id
    assert!(matches!(Graph::from_bytes(&bad).unwrap_err(), DecodeError::GraphIdMismatch { .. }));
    let json = g.to_json();
    assert_eq!(Graph::from_json(&json).unwrap(), g);
    let tampered = json.replacen("\"take2\": 3", "\"take2\": 4", 1);
    assert_ne!(tampered, json);
    assert!(matches!(Graph::from_json(&tampered).unwrap_err(), DecodeError::GraphIdMismatch { .. }));
    // Session messages.
    let s = session(&g, 0, 5);
    let (c, parts) = run_to_partials(&s, &f.committee, 6);
    let mut r = rng(7);
    let (_, set) = SignerState::new(&s, f.committee[1], &mut r).unwrap();
    assert_eq!(decode_nonce_set(&encode_nonce_set(&set)).unwrap(), set);
    assert!(s.tasks.len() < 253);
    assert_eq!(encode_nonce_set(&set).len(), 5 + 32 + 33 + 1 + 66 * s.tasks.len() + 64);
    for p in &parts {
        assert_eq!(&decode_partials(&encode_partials(p)).unwrap(), p);
    }
    let mut wrong_tag = encode_partials(&parts[0]);
    wrong_tag[0] = b'X';
    assert!(matches!(decode_partials(&wrong_tag).unwrap_err(), DecodeError::BadHeader { .. }));
    drop(c);
}

fn outputs_ok(g: &Graph) -> Result<(), String> {
    for t in g.transactions() {
        if t.kind == TxKind::Challenge {
            // Open by design: the challenger adds the premium it pays the operator.
            let i = t.inputs[0].prevout.value;
            let premium = t.tx.output[0].value - i;
            let op = &g.params().operators[g.peg_outs.iter().position(|p| &p.challenge == t).unwrap()];
            if premium != op.challenge_amount {
                return Err(format!("challenge premium {premium} != {}", op.challenge_amount));
            }
            continue;
        }
        let fee = t.fee().map_err(|e| e.to_string())?;
        if t.tx.version == TRUC && t.kind != TxKind::Deposit && fee != Amount::ZERO {
            return Err(format!("{} pays {fee} itself", t.kind));
        }
        for (i, o) in t.tx.output.iter().enumerate() {
            let exempt = o.script_pubkey == ScriptBuf::new_p2a() || o.script_pubkey.is_op_return();
            if !exempt && o.value < o.script_pubkey.minimal_non_dust() {
                return Err(format!("{} output {i} is dust: {}", t.kind, o.value));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, .. ProptestConfig::default() })]
    /// Whatever the amounts, the graph either refuses with an amount/dust error or has no dust
    /// output and no negative fee anywhere.
    #[test]
    fn amounts_never_dust_nor_negative_fee(
        deposit in 0u64..3_000_000,
        stake in 0u64..500_000,
        connector in 0u64..2_000,
        anchor in prop_oneof![Just(0u64), 0u64..1_000],
        dep_fee in 0u64..5_000,
        refund_fee in 0u64..5_000,
        reward in 0u64..300_000,
        extra_in in 0u64..100_000,
    ) {
        let mut f = fixture();
        f.deposit_amount = Amount::from_sat(deposit);
        f.stake = Amount::from_sat(stake);
        f.fees.connector_value = Amount::from_sat(connector);
        f.fees.anchor_value = Amount::from_sat(anchor);
        f.fees.deposit_fee = Amount::from_sat(dep_fee);
        f.fees.refund_fee = Amount::from_sat(refund_fee);
        let mut p = f.params();
        p.deposit_inputs[0].txout.value = Amount::from_sat(deposit + dep_fee + extra_in);
        for o in &mut p.operators {
            o.disprover_reward = Amount::from_sat(reward);
            o.watcher_reward = Amount::from_sat(reward / 2);
        }
        match Graph::build(p) {
            Ok(g) => prop_assert_eq!(outputs_ok(&g), Ok(())),
            Err(GraphError::BelowDust { .. }) | Err(GraphError::Amount(_)) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

#[test]
fn default_amounts_build_and_deposit_fee_is_exact() {
    let f = fixture();
    let g = Graph::build(f.params()).unwrap();
    outputs_ok(&g).unwrap();
    assert_eq!(g.peg_in.deposit.fee().unwrap(), f.fees.deposit_fee);
    assert_eq!(g.peg_in.refund.fee().unwrap(), f.fees.refund_fee);
    // Vault value is preserved to the operator (minus anchors, which are zero by default).
    assert_eq!(
        g.peg_outs[0].take2.tx.output[0].value,
        f.deposit_amount + g.peg_outs[0].assert_final.tx.output[0].value + g.peg_outs[0].assert_final.tx.output[1].value
    );
}

#[test]
fn budget_constants_match_built_transactions() {
    use crate::graph::budget::*;
    let f = fixture();
    let g = Graph::build(f.params()).unwrap();
    let mut r = rng(11);
    let sigs = presign_in_process(&session(&g, 0, 1), &f.committee, &mut r).unwrap();
    let po = g.peg_out(0).unwrap();
    let prog = &f.programs[0];
    let ds = prog.disprove_scripts();

    // An assert transaction.
    let a = &po.asserts[0];
    let wrapped = match &a.inputs[0].path {
        crate::graph::SpendPath::Leaf { script, control_block } => {
            assert_eq!(control_block.serialize().len(), ASSERT_INPUT_CONTROL_BLOCK);
            script.clone()
        }
        _ => unreachable!(),
    };
    assert_eq!(wrapped.len() - ds.assert_commitments[0][0].len(), ASSERT_INPUT_EXTRA_SCRIPT_BYTES);
    let op_sigs: Vec<_> = (0..a.inputs.len())
        .map(|j| {
            let t = g.operator_task(0, TxKind::Assert(0), j as u32).unwrap();
            crate::musig::sign_single(&t, &f.operators[0], &mut r)
        })
        .collect();
    let wit = prog.assert_witnesses(&prog.honest_values()).remove(0);
    let program_items: Vec<usize> = wit[0].iter().map(Vec::len).collect();
    let tx = g.assert_tx(0, 0, &op_sigs, wit).unwrap();
    let w0 = &tx.input[0].witness;
    assert_eq!(w0.len(), program_items.len() + ASSERT_INPUT_EXTRA_ITEMS + 2);
    let extra: usize = (program_items.len()..program_items.len() + ASSERT_INPUT_EXTRA_ITEMS).map(|i| 1 + w0.nth(i).unwrap().len()).sum();
    assert_eq!(extra, ASSERT_INPUT_EXTRA_WITNESS_BYTES);
    let mut bare = tx.clone();
    for i in &mut bare.input {
        i.witness.clear();
    }
    assert_eq!(bare.weight().to_wu() as usize - 164 * bare.input.len() + 2, ASSERT_TX_BASE_WEIGHT);

    // A Disprove completed with the disprover's P2TR reward output.
    let d = g.disprove_tx(0, 0, &prog.disprove_leaf(0), &sigs, prog.disprove_witness(&prog.honest_values(), 0)).unwrap();
    let prevouts: Vec<bitcoin::TxOut> = po.disprove.inputs.iter().map(|i| i.prevout.clone()).collect();
    let full = crate::wallet::add_reward(d, &prevouts, f.depositor_script(), Amount::from_sat(1_000)).unwrap();
    let leaf_witness_weight = full.input[1].witness.size();
    assert_eq!(full.weight().to_wu() as usize - leaf_witness_weight, DISPROVE_BASE_WEIGHT);
    assert_eq!(full.output[1].value, prevouts[0].value + prevouts[1].value - full.output[0].value - Amount::from_sat(1_000));
    let _ = ds;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
    /// Canonical encoding round-trips for varied parameters, and the wire form rebuilds the same
    /// graph (same id).
    #[test]
    fn params_and_graph_round_trip(
        take1 in 1u16..50, extra in 1u16..50, take2 in 1u16..100, refund in 1u16..1000,
        stake in 100_000u64..1_000_000, ops in 1usize..3, n in 1usize..5,
    ) {
        let mut f = Fixture::new("rt", n, ops, 1, 3);
        f.timelocks = crate::Timelocks { deposit_refund: refund, take1, assert_timeout: take1 + extra, take2 };
        f.stake = Amount::from_sat(stake);
        let p = f.params();
        let b = encode_params(&p);
        prop_assert_eq!(decode_params(&b).unwrap(), p.clone());
        let g = Graph::build(p).unwrap();
        let g2 = Graph::from_bytes(&g.to_bytes()).unwrap();
        prop_assert_eq!(g2.id(), g.id());
        prop_assert_eq!(Graph::from_json(&g.to_json()).unwrap().id(), g.id());
    }

    /// Hostile bytes never panic the decoders (peers' messages go through them).
    #[test]
    fn decoders_reject_garbage_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..2000) {
        let _ = decode_params(&bytes);
        let _ = Graph::from_bytes(&bytes);
        let _ = decode_nonce_set(&bytes);
        let _ = decode_partials(&bytes);
        // Truncations of valid encodings fail cleanly.
        let f = fixture();
        let valid = encode_params(&f.params());
        let cut = cut % valid.len();
        prop_assert!(decode_params(&valid[..cut]).is_err());
    }
}

#[test]
fn deposit_outpoint_is_known_before_the_operators_join() {
    let f = fixture();
    let p = f.params();
    let g = Graph::build(p.clone()).unwrap();
    assert_eq!(crate::graph::deposit_outpoint(&p).unwrap(), g.peg_in.deposit.outpoint(0));
    let mut q = p.clone();
    q.operators.clear();
    q.committee.reverse();
    assert_eq!(crate::graph::deposit_outpoint(&q).unwrap(), g.peg_in.deposit.outpoint(0), "operators and committee order do not matter");
}

#[test]
fn thousands_of_commitments_go_through_assert_lanes_within_the_standard_weight() {
    use crate::graph::budget::{LANE_MAX_OUTPUTS, STANDARD_MAX_WEIGHT, TRUC_MAX_WEIGHT};
    let mut f = fixture();
    f.stake = Amount::from_sat(5_000_000);
    let mut p = f.params();
    // 3,100 commitment inputs in 310 asserts (as many as a Groth16 assertion needs).
    let tiny = bitcoin::ScriptBuf::from_bytes(vec![0x75]); // OP_DROP
    p.operators[0].disprove.assert_commitments = vec![vec![tiny; 10]; 310];
    let g = Graph::build(p).unwrap();
    let po = g.peg_out(0).unwrap();
    assert_eq!(po.lanes.len(), 3100usize.div_ceil(LANE_MAX_OUTPUTS));
    assert_eq!(po.assert_initial.tx.output.len(), 1 + po.lanes.len() + 1, "carry, lanes, anchor");
    assert!(po.assert_initial.min_weight() <= TRUC_MAX_WEIGHT);
    let mut seen = std::collections::HashSet::new();
    for (l, lane) in po.lanes.iter().enumerate() {
        assert_eq!(lane.tx.input[0].previous_output, po.assert_initial.outpoint(1 + l as u32));
        assert!(lane.min_weight() <= STANDARD_MAX_WEIGHT, "lane {l}: {} WU", lane.min_weight());
        assert_eq!(lane.fee().unwrap(), Amount::ZERO);
    }
    // Every assert input spends a distinct lane output, and every lane output but the anchors
    // is spent by exactly one assert input.
    for a in &po.asserts {
        for i in &a.tx.input {
            assert!(po.lanes.iter().any(|l| l.txid() == i.previous_output.txid));
            assert!(seen.insert(i.previous_output), "{} spent twice", i.previous_output);
        }
    }
    assert_eq!(seen.len(), 3100);
    outputs_ok(&g).unwrap();
    // The operator signs every lane.
    let ops = g.operator_tasks(0).unwrap();
    assert_eq!(ops.iter().filter(|t| matches!(t.id.tx, TxKind::AssertLane(_))).count(), po.lanes.len());
}

#[test]
fn one_operator_task_equals_its_entry_in_the_full_list_and_others_are_refused() {
    let f = fixture();
    let g = Graph::build(f.params()).unwrap();
    for i in 0..2 {
        let all = g.operator_tasks(i).unwrap();
        assert!(all.iter().any(|t| matches!(t.id.tx, TxKind::Assert(_))), "the fixture has assert tasks");
        for t in &all {
            assert_eq!(&g.operator_task(i, t.id.tx, t.id.input).unwrap(), t, "{}", t.id);
        }
    }
    let po = g.peg_out(0).unwrap();
    let n_asserts = po.asserts.len() as u32;
    let n_inputs = po.asserts[0].inputs.len() as u32;
    for (tx, input) in [
        (TxKind::Take1, 0),
        (TxKind::Take2, 0),
        (TxKind::Kickoff, 1),
        (TxKind::AssertFinal, 0),
        (TxKind::Assert(n_asserts), 0),
        (TxKind::Assert(0), n_inputs),
        (TxKind::AssertLane(po.lanes.len() as u32), 0),
    ] {
        assert!(matches!(g.operator_task(0, tx, input), Err(GraphError::NoSuchTx(_))), "{tx} input {input} was given a task");
    }
    assert!(matches!(g.operator_task(2, TxKind::Kickoff, 0), Err(GraphError::OutOfRange { .. })), "operator 2 does not exist");
}
