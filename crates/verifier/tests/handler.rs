//! The verifier's peer handler without a network: three verifiers answer a whole presigning
//! setup in process, and every refusal changes nothing.

use std::sync::Arc;

use bitcoin::secp256k1::{Keypair, Parity};
use bitvm2_node::peer::HandlerError;
use bitvm2_node::runtime::NodeContext;
use bitvm2_node::{Config, Metrics, NodeKeys, PeerHandler, Role, Store, VerifiedMessage};
use bitvm2_txgraph::encode::decode_nonce_set;
use bitvm2_txgraph::toy::{test_key, Fixture};
use bitvm2_txgraph::{Coordinator, Graph, TxKind};
use bitvm2_verifier::protocol::*;
use bitvm2_verifier::VerifierHandler;

struct Party {
    h: VerifierHandler,
    store: Arc<Store>,
    key: Keypair,
}

fn config(f: &Fixture, me: usize) -> Config {
    let mut text = "[node]\nrole = \"verifier\"\nkeys_file = \"/nonexistent/k.json\"\nstore_path = \"/nonexistent/s.sqlite\"\nlisten = \"127.0.0.1:1\"\n[bitcoind]\nrpc_url = \"http://127.0.0.1:1\"\n".to_string();
    let _ = me;
    let mut add = |name: String, role: &str, kp: &Keypair| {
        text += &format!("[[committee]]\nname = \"{name}\"\nrole = \"{role}\"\npubkey = \"{}\"\nurl = \"http://127.0.0.1:1\"\n", kp.x_only_public_key().0);
    };
    for (i, k) in f.committee.iter().enumerate() {
        add(format!("v{i}"), "verifier", k);
    }
    for (i, k) in f.operators.iter().enumerate() {
        add(format!("op{i}"), "operator", k);
    }
    Config::parse(&text).expect("config")
}

fn parties(f: &Fixture) -> Vec<Party> {
    (0..f.committee.len())
        .map(|i| {
            let key = f.committee[i];
            let keys = NodeKeys::from_parts(key.secret_key(), [i as u8 + 1; 32]);
            let store = Arc::new(Store::open_in_memory().unwrap());
            let ctx = Arc::new(NodeContext { config: config(f, i), keys, store: store.clone(), metrics: Arc::new(Metrics::default()) });
            Party { h: VerifierHandler::new(ctx, Some(test_key(b"side").x_only_public_key().0)), store, key }
        })
        .collect()
}

fn ask(p: &Party, from: &Keypair, kind: &str, payload: Vec<u8>) -> Result<Vec<u8>, HandlerError> {
    p.store.transaction(|t| p.h.handle(t, &VerifiedMessage::from_key(from, Role::Verifier, kind, payload)))
}


/// The fixture's parameters with each operator running the real program (keys from a seed).
fn real_graph(f: &Fixture, committee_even: bool) -> (Vec<u8>, Vec<bitvm2_verifier::real::ProgramKeys>, Graph) {
    use bitvm2_disprove::claim::ClaimSecretKey;
    use bitvm2_disprove::setup::OperatorKeys;
    use bitvm2_verifier::real;
    let mut p = f.params();
    if committee_even {
        p.committee = f.committee.iter().map(|k| k.x_only_public_key().0.public_key(Parity::Even)).collect();
    }
    let deposit = bitvm2_txgraph::graph::deposit_outpoint(&p).unwrap();
    let spec = real::ProgramSpec::Horner;
    let planned = real::planned(&spec, deposit).unwrap();
    let mut programs = Vec::new();
    let probe = p.clone();
    for (i, op) in p.operators.iter_mut().enumerate() {
        let wots = OperatorKeys::new([i as u8 + 9; 32], b"handler test");
        let claim = ClaimSecretKey::derive(&[i as u8 + 9; 32], b"handler test");
        let keys = wots.public_keys(&planned.planned);
        let blob = real::remember_blob(real::encode_keys(&keys));
        op.disprove = real::Instance::new(&spec, deposit, keys, claim.public_key()).unwrap().scripts();
        op.claim = bitvm2_txgraph::ClaimCommitment { script: claim.public_key().script() };
        op.kickoff_funding.txout = bitcoin::TxOut {
            value: bitvm2_txgraph::kickoff_funding_amount(&probe, op).unwrap(),
            script_pubkey: bitvm2_txgraph::claim_funding_script(&bitcoin::secp256k1::Secp256k1::verification_only(), op).unwrap(),
        };
        programs.push(real::ProgramKeys { spec: spec.clone(), keys: blob, claim_key: hex::encode(claim.public_key().to_bytes()) });
    }
    let params = bitvm2_txgraph::encode::encode_params(&real::strip(&p));
    let g = real::build(&params, &programs, None).unwrap().graph.clone();
    (params, programs, g)
}

fn graph_msg(params: &[u8], programs: &[bitvm2_verifier::real::ProgramKeys], g: &Graph) -> Vec<u8> {
    encode(&GraphMsg { graph_id: g.id(), params: hex::encode(params), programs: programs.to_vec() })
}

fn challenge_sigs(f: &Fixture, g: &Graph) -> Vec<bitcoin::secp256k1::schnorr::Signature> {
    (0..f.operators.len())
        .map(|i| {
            let t = g.operator_task(i, TxKind::Challenge, 0).unwrap();
            bitvm2_txgraph::musig::sign_single(&t, &f.operators[i], &mut bitcoin::secp256k1::rand::thread_rng())
        })
        .collect()
}

#[test]
fn three_verifiers_presign_and_refuse_what_they_must() {
    let f = Fixture::new("handler", 3, 2, 2, 2);
    let ps = parties(&f);
    let coord = test_key(b"coordinator");
    let (params, programs, g) = real_graph(&f, true);
    let gmsg = graph_msg(&params, &programs, &g);

    // Nonces; asked twice, the same (issued once, from the store).
    let mut sets = Vec::new();
    for p in &ps {
        let a = ask(p, &coord, kind::GRAPH, gmsg.clone()).unwrap();
        assert_eq!(a, ask(p, &coord, kind::GRAPH, gmsg.clone()).unwrap());
        let GraphReply::Nonces(n) = decode(kind::GRAPH, &a).unwrap() else { panic!("nonces expected") };
        sets.push(n.iter().map(|h| decode_nonce_set(&hex::decode(h).unwrap()).unwrap()).collect::<Vec<_>>());
    }
    let sess = sessions(&g).unwrap();
    let m = f.operators.len();
    let mut coords: Vec<Coordinator> = sess.iter().cloned().map(Coordinator::new).collect();
    let rounds: Vec<_> = coords
        .iter_mut()
        .enumerate()
        .map(|(s, c)| {
            for v in &sets {
                c.add_nonce_set(v[s].clone()).unwrap();
            }
            c.nonce_round().unwrap()
        })
        .collect();

    // PegInConfirm before the peg-out graphs are stored: refused, nothing changes.
    let pin = encode(&SignPegInMsg { graph_id: g.id(), round: rounds[m].clone() });
    let before = ps[0].store.row_counts().unwrap();
    let e = ask(&ps[0], &coord, kind::SIGN_PEGIN, pin.clone()).unwrap_err();
    assert!(matches!(&e, HandlerError::Refused(r) if r.contains("only after every peg-out graph")), "{e}");
    assert_eq!(before, ps[0].store.row_counts().unwrap());

    // A forged Challenge signature: no presigning.
    let mut bad = challenge_sigs(&f, &g);
    bad[1] = bad[0];
    let e = ask(&ps[0], &coord, kind::SIGN, encode(&SignMsg { graph_id: g.id(), challenge_sigs: bad, rounds: rounds[..m].to_vec() })).unwrap_err();
    assert!(e.to_string().contains("Challenge signature"), "{e}");

    let cs = challenge_sigs(&f, &g);
    let sign = encode(&SignMsg { graph_id: g.id(), challenge_sigs: cs.clone(), rounds: rounds[..m].to_vec() });
    for p in &ps {
        let a = ask(p, &coord, kind::SIGN, sign.clone()).unwrap();
        // The same round again: the recorded partials, not a second signature.
        assert_eq!(a, ask(p, &coord, kind::SIGN, sign.clone()).unwrap());
        let PartialsReply(parts) = decode(kind::SIGN, &a).unwrap();
        for (i, s) in parts.into_iter().enumerate() {
            coords[i].add_partials(s).unwrap();
        }
    }
    // Another round for a spent nonce (the sets in another order): refused.
    let mut other = rounds[0].clone();
    other.sets.swap(0, 1);
    let e = ask(&ps[0], &coord, kind::SIGN, encode(&SignMsg { graph_id: g.id(), challenge_sigs: cs.clone(), rounds: vec![other, rounds[1].clone()] })).unwrap_err();
    assert!(matches!(e, HandlerError::Refused(_)), "{e}");

    let sigs: Vec<_> = coords[..m].iter().map(|c| c.finish().unwrap()).collect();
    let pre = PresignedMsg { graph_id: g.id(), challenge_sigs: cs.clone(), sigs: sigs.iter().map(sigs_to_list).collect() };
    // A tampered signature set is refused.
    let mut tampered = pre.clone();
    tampered.sigs[0][0].1 = tampered.sigs[1][0].1;
    assert!(ask(&ps[0], &coord, kind::PRESIGNED, encode(&tampered)).is_err());
    for p in &ps {
        assert_eq!(ask(p, &coord, kind::PRESIGNED, encode(&pre)).unwrap(), b"stored");
        let PartialsReply(parts) = decode(kind::SIGN_PEGIN, &ask(p, &coord, kind::SIGN_PEGIN, pin.clone()).unwrap()).unwrap();
        coords[m].add_partials(parts.into_iter().next().unwrap()).unwrap();
    }
    let pegin = coords[m].finish().unwrap();
    g.verify_committee_signatures(&g.peg_in_committee_tasks().unwrap(), &pegin).unwrap();
    let _ = ps[0].key;
}

#[test]
fn graph_with_another_committee_or_withdrawal_with_a_forged_signature_is_refused() {
    let f = Fixture::new("handler-refuse", 3, 1, 2, 2);
    let ps = parties(&f);
    let coord = test_key(b"coordinator");
    // A graph whose committee is not the configured verifiers.
    let other = Fixture::new("someone-else", 3, 1, 2, 2);
    let mut f2 = f.clone();
    f2.committee = other.committee.clone();
    let (params, programs, g) = real_graph(&f2, false);
    let before = ps[0].store.row_counts().unwrap();
    let e = ask(&ps[0], &coord, kind::GRAPH, graph_msg(&params, &programs, &g)).unwrap_err();
    assert!(e.to_string().contains("committee differs"), "{e}");
    assert_eq!(before, ps[0].store.row_counts().unwrap());

    // Store the real graph, then a withdrawal signed by someone else than the side system.
    let (params, programs, g) = real_graph(&f, true);
    ask(&ps[0], &coord, kind::GRAPH, graph_msg(&params, &programs, &g)).unwrap();
    let p2tr = bitcoin::ScriptBuf::from_bytes([&[0x51, 0x20][..], &[7; 32]].concat());
    let req = WithdrawalRequest { graph_id: g.id(), operator: 0, destination: p2tr, amount: bitcoin::Amount::from_sat(1), nonce: 0 };
    let forged = req.clone().sign(&test_key(b"not the side system"));
    let e = ask(&ps[0], &coord, kind::WITHDRAW, encode(&forged)).unwrap_err();
    assert!(matches!(e, HandlerError::BadPayload(_)), "{e}");
    // A destination the Kickoff cannot commit (empty, or longer than 34 bytes) is refused.
    let before = ps[0].store.row_counts().unwrap();
    for bad in [bitcoin::ScriptBuf::new(), bitcoin::ScriptBuf::from_bytes(vec![0x51; 35])] {
        let unclaimable = WithdrawalRequest { destination: bad, ..req.clone() }.sign(&test_key(b"side"));
        let e = ask(&ps[0], &coord, kind::WITHDRAW, encode(&unclaimable)).unwrap_err();
        assert!(matches!(&e, HandlerError::Refused(m) if m.contains("cannot be claimed")), "{e}");
    }
    assert_eq!(before, ps[0].store.row_counts().unwrap());
    assert!(ask(&ps[0], &coord, kind::WITHDRAW, encode(&req.sign(&test_key(b"side")))).is_ok());
    // Fault injection only from the node's own key.
    let e = ask(&ps[0], &coord, kind::FORCE_CHALLENGE, encode(&ForceChallengeMsg { graph_id: g.id(), operator: 0 })).unwrap_err();
    assert!(matches!(e, HandlerError::Refused(_)), "{e}");
    assert!(ask(&ps[0], &ps[0].key, kind::FORCE_CHALLENGE, encode(&ForceChallengeMsg { graph_id: g.id(), operator: 0 })).is_ok());
}
