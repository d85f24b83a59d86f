//! The operator's peer handler without a network: its offer (claim coin decided and queued in
//! the same commit), idempotence, and refusal of a graph that does not carry its offer.

use std::sync::Arc;

use bitcoin::secp256k1::{Keypair, Parity};
use bitcoin::{Amount, OutPoint, TxOut};
use bitvm2_node::peer::HandlerError;
use bitvm2_node::runtime::NodeContext;
use bitvm2_node::{Config, Metrics, NodeKeys, PeerHandler, Role, Store, VerifiedMessage};
use bitvm2_operator::OperatorHandler;
use bitvm2_txgraph::toy::{test_key, Fixture};
use bitvm2_txgraph::wallet::p2tr_script;
use bitvm2_txgraph::{FundingInput, Graph, TxKind};
use bitvm2_verifier::common::{Coins, NS_WALLET};
use bitvm2_verifier::protocol::*;

fn setup(f: &Fixture) -> (OperatorHandler, Arc<Store>, Keypair) {
    let op = f.operators[0];
    let mut text = "[node]\nrole = \"operator\"\nkeys_file = \"/x/k.json\"\nstore_path = \"/x/s.sqlite\"\nlisten = \"127.0.0.1:1\"\n[bitcoind]\nrpc_url = \"http://127.0.0.1:1\"\n".to_string();
    for (i, k) in f.committee.iter().enumerate() {
        text += &format!("[[committee]]\nname = \"v{i}\"\nrole = \"verifier\"\npubkey = \"{}\"\nurl = \"http://127.0.0.1:1\"\n", k.x_only_public_key().0);
    }
    text += &format!("[[committee]]\nname = \"op0\"\nrole = \"operator\"\npubkey = \"{}\"\nurl = \"http://127.0.0.1:1\"\n", op.x_only_public_key().0);
    let keys = NodeKeys::from_parts(op.secret_key(), [5; 32]);
    let store = Arc::new(Store::open_in_memory().unwrap());
    // Its wallet: two coins.
    let script = p2tr_script(op.x_only_public_key().0);
    let coins = Coins(
        (0..2u32)
            .map(|i| FundingInput { outpoint: OutPoint { txid: bitcoin::Txid::from_byte_array([i as u8 + 1; 32]), vout: 0 }, txout: TxOut { value: Amount::from_sat(5_000_000), script_pubkey: script.clone() } })
            .collect(),
    );
    store.with(|t| t.kv_put(NS_WALLET, "coins", &serde_json::to_vec(&coins).unwrap())).unwrap();
    let ctx = Arc::new(NodeContext { config: Config::parse(&text).unwrap(), keys, store: store.clone(), metrics: Arc::new(Metrics::default()) });
    (OperatorHandler::new(ctx, None), store, op)
}

use bitcoin::hashes::Hash;

fn ask(h: &OperatorHandler, store: &Store, from: &Keypair, kind: &str, payload: Vec<u8>) -> Result<Vec<u8>, HandlerError> {
    let msg = VerifiedMessage::from_key(from, Role::Operator, kind, payload);
    store.transaction(|t| h.handle(t, &msg))
}

#[test]
fn offer_queues_its_claim_coin_once_and_a_graph_without_the_offer_is_refused() {
    let f = Fixture::new("op-handler", 3, 1, 2, 2);
    let (h, store, op) = setup(&f);
    let coord = test_key(b"coordinator");
    let p = f.params();
    let req = DepositRequest {
        depositor: p.depositor,
        inputs: p.deposit_inputs.clone(),
        amount: p.deposit_amount,
        change_script: p.depositor_change_script.clone(),
        refund_script: p.depositor_refund_script.clone(),
        committee: f.committee.iter().map(|k| k.x_only_public_key().0.public_key(Parity::Even)).collect(),
        timelocks: p.timelocks,
        fees: p.fees,
    };
    let a = ask(&h, &store, &coord, kind::OFFER, encode(&req)).unwrap();
    // Asked again: the same offer, no second claim coin.
    assert_eq!(a, ask(&h, &store, &coord, kind::OFFER, encode(&req)).unwrap());
    let offer: OperatorOffer = decode(kind::OFFER, &a).unwrap();
    let outbox = store.with(|t| t.outbox_active()).unwrap();
    assert_eq!(outbox.len(), 1, "one claim-coin transaction queued");
    let claim_tx = &outbox[0].txs[0];
    assert_eq!(offer.params.kickoff_funding.outpoint, OutPoint { txid: claim_tx.compute_txid(), vout: 0 });
    assert_eq!(claim_tx.output[0], offer.params.kickoff_funding.txout);
    assert_eq!(offer.params.key.x_only_public_key().0, op.x_only_public_key().0);

    // The graph with its offer: answered with a valid Challenge signature.
    let params = bitvm2_txgraph::encode::encode_params(&req.params(vec![offer.params.clone()]));
    let programs = vec![offer.program.clone()];
    let g = bitvm2_verifier::real::build(&params, &programs, None).unwrap().graph.clone();
    let msg = |params: &[u8], g: &Graph| encode(&GraphMsg { graph_id: g.id(), params: hex::encode(params), programs: programs.clone() });
    let GraphReply::ChallengeSig { operator, sig } = decode(kind::GRAPH, &ask(&h, &store, &coord, kind::GRAPH, msg(&params, &g)).unwrap()).unwrap() else {
        panic!("challenge signature expected")
    };
    assert_eq!(operator, 0);
    let task = g.operator_task(0, TxKind::Challenge, 0).unwrap();
    g.verify_single_signature(&task, &sig).unwrap();

    // A graph where its challenge premium was changed: refused, nothing stored.
    let mut changed = offer.params.clone();
    changed.challenge_amount += Amount::from_sat(1);
    let params2 = bitvm2_txgraph::encode::encode_params(&req.params(vec![changed]));
    let g2 = bitvm2_verifier::real::build(&params2, &programs, None).unwrap().graph.clone();
    let before = store.row_counts().unwrap();
    let e = ask(&h, &store, &coord, kind::GRAPH, msg(&params2, &g2)).unwrap_err();
    assert!(e.to_string().contains("not what this operator offered"), "{e}");
    assert_eq!(before, store.row_counts().unwrap());

    // Fault injection only from its own key.
    let cheat = encode(&CheatMsg { graph_id: g.id(), kickoff_without_payout: true, wrong_asserts: false });
    assert!(matches!(ask(&h, &store, &coord, kind::CHEAT, cheat.clone()), Err(HandlerError::Refused(_))));
}

#[test]
fn misclaim_switch_only_from_its_admin_and_only_before_the_kickoff() {
    use bitvm2_operator::{Duty, NS_DUTIES, NS_MISCLAIMS};
    let f = Fixture::new("op-handler-misclaim", 3, 1, 2, 2);
    let (h, store, op) = setup(&f);
    let coord = test_key(b"coordinator");
    let rid = hex::encode([7u8; 32]);
    let switch = |request_id: &str, extra_sat: u64| encode(&MisclaimMsg { request_id: request_id.into(), extra_sat });
    let stored = |id: &str| store.with(|t| t.kv_get(NS_MISCLAIMS, id)).unwrap();
    // Refused, nothing stored: from another key, a zero offset, an id that is not 32 bytes.
    let before = store.row_counts().unwrap();
    assert!(matches!(ask(&h, &store, &coord, kind::MISCLAIM, switch(&rid, 1)), Err(HandlerError::Refused(_))));
    assert!(matches!(ask(&h, &store, &op, kind::MISCLAIM, switch(&rid, 0)), Err(HandlerError::Refused(_))));
    assert!(matches!(ask(&h, &store, &op, kind::MISCLAIM, switch("abcd", 1)), Err(HandlerError::BadPayload(_))));
    assert_eq!(before, store.row_counts().unwrap());
    // From its own key: recorded (before the withdrawal is even known).
    assert_eq!(ask(&h, &store, &op, kind::MISCLAIM, switch(&rid, 1)).unwrap(), b"ok");
    assert_eq!(stored(&rid), Some(b"1".to_vec()));
    // Once a withdrawal's Kickoff is signed its claim is fixed: refused.
    let signed = hex::encode([8u8; 32]);
    let d = Duty { graph_id: "g".into(), request: Some(signed.clone()), sent: ["kickoff".to_string()].into(), ..Default::default() };
    store.with(|t| t.kv_put(NS_DUTIES, &signed, &serde_json::to_vec(&d).unwrap())).unwrap();
    let e = ask(&h, &store, &op, kind::MISCLAIM, switch(&signed, 1)).unwrap_err();
    assert!(e.to_string().contains("already signed"), "{e}");
    assert_eq!(stored(&signed), None);
}
