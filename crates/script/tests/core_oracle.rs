//! Cross-check of the tapscript executor against Bitcoin Core's interpreter (libbitcoinkernel).
//!
//! Every case is a tapscript leaf plus witness items. For Core, the leaf is put in a one-leaf
//! taproot tree, a one-input transaction spends that P2TR output with witness = items + script +
//! control block, and `bitcoinkernel::verify` checks it with all consensus flags. Our executor
//! runs the same leaf with the same BIP-341 sighash, the same transaction fields (for CLTV/CSV)
//! and consensus rules only (`ExecContext::consensus()`: the kernel cannot be given policy flags
//! such as MINIMALDATA). Both verdicts must agree.
//!
//! Run: `cargo test -p bitvm2-script --features core-oracle --test core_oracle -- --nocapture`.
#![cfg(feature = "core-oracle")]

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::opcodes::all::*;
use bitcoin::opcodes::Opcode;
use bitcoin::secp256k1::{Keypair, Message, Secp256k1, SecretKey, XOnlyPublicKey};
use bitcoin::sighash::{Prevouts, SighashCache};
use bitcoin::taproot::{LeafVersion, TapLeafHash, TaprootBuilder};
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, TapSighashType, Transaction, TxIn, TxOut, Txid, Witness};
use bitvm2_script::builder::{leaf_spend_witness, Fragment};
use bitvm2_script::exec::{encode_num, execute, execute_with, ExecContext, ExecOptions, TxContext};
use bitvm2_script::winternitz::{self, Params, SecretKey as WotsKey};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The key that signs in the corpus.
fn signer() -> Keypair {
    Keypair::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[0x11; 32]).unwrap())
}

fn signer_pk() -> Vec<u8> {
    signer().x_only_public_key().0.serialize().to_vec()
}

/// A witness item: given bytes, or a BIP-340 signature of the spend by [`signer`] (computed
/// once the script and transaction are fixed).
#[derive(Clone, Debug)]
enum Item {
    Bytes(Vec<u8>),
    Sig,
    /// A signature with one flipped bit.
    BadSig,
}

#[derive(Clone, Debug)]
struct Case {
    name: String,
    script: ScriptBuf,
    items: Vec<Item>,
    lock_time: u32,
    sequence: u32,
}

impl Case {
    fn new(name: impl Into<String>, script: ScriptBuf, items: Vec<Vec<u8>>) -> Self {
        Case {
            name: name.into(),
            script,
            items: items.into_iter().map(Item::Bytes).collect(),
            lock_time: 0,
            sequence: 0xffff_fffe,
        }
    }
    fn frag(name: impl Into<String>, f: &Fragment, items: Vec<Vec<u8>>) -> Self {
        Self::new(name, f.to_script(), items)
    }
}

struct Outcome {
    core: bool,
    ours: bool,
    ours_policy: bool,
    detail: String,
}

fn run_case(c: &Case) -> Outcome {
    let secp = Secp256k1::new();
    let internal = XOnlyPublicKey::from_slice(&[
        0x50, 0x92, 0x9b, 0x74, 0xc1, 0xa0, 0x49, 0x54, 0xb7, 0x8b, 0x4b, 0x60, 0x35, 0xe9, 0x7a, 0x5e, 0x07, 0x8a,
        0x5a, 0x0f, 0x28, 0xec, 0x96, 0xd5, 0x47, 0xbf, 0xee, 0x9a, 0xce, 0x80, 0x3a, 0xc0,
    ])
    .expect("BIP-341 NUMS point");
    let spend = TaprootBuilder::new()
        .add_leaf(0, c.script.clone())
        .expect("one leaf")
        .finalize(&secp, internal)
        .expect("finalize");
    let leaf = (c.script.clone(), LeafVersion::TapScript);
    let control = spend.control_block(&leaf).expect("control block");
    let spk = ScriptBuf::new_p2tr_tweaked(spend.output_key());
    let prevout = TxOut { value: Amount::from_sat(100_000), script_pubkey: spk.clone() };
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::from_consensus(c.lock_time),
        input: vec![TxIn {
            previous_output: OutPoint { txid: Txid::from_byte_array([7; 32]), vout: 0 },
            script_sig: ScriptBuf::new(),
            sequence: Sequence(c.sequence),
            witness: Witness::new(),
        }],
        output: vec![TxOut { value: Amount::from_sat(90_000), script_pubkey: ScriptBuf::new_op_return([1u8; 4]) }],
    };
    let sighash = SighashCache::new(&tx)
        .taproot_script_spend_signature_hash(
            0,
            &Prevouts::All(std::slice::from_ref(&prevout)),
            TapLeafHash::from_script(&c.script, LeafVersion::TapScript),
            TapSighashType::Default,
        )
        .expect("sighash")
        .to_byte_array();
    let sig = secp.sign_schnorr_no_aux_rand(&Message::from_digest(sighash), &signer()).as_ref().to_vec();
    let items: Vec<Vec<u8>> = c
        .items
        .iter()
        .map(|i| match i {
            Item::Bytes(b) => b.clone(),
            Item::Sig => sig.clone(),
            Item::BadSig => {
                let mut s = sig.clone();
                s[5] ^= 0x40;
                s
            }
        })
        .collect();
    tx.input[0].witness = leaf_spend_witness(&items, &c.script, &control);

    let raw = bitcoin::consensus::serialize(&tx);
    let ktx = bitcoinkernel::Transaction::new(&raw).expect("kernel parses tx");
    let kspk = bitcoinkernel::ScriptPubkey::new(spk.as_bytes()).expect("kernel parses spk");
    let kout = bitcoinkernel::TxOut::new(&kspk, prevout.value.to_sat() as i64);
    let data = bitcoinkernel::PrecomputedTransactionData::new(&ktx, std::slice::from_ref(&kout)).expect("txdata");
    let core = bitcoinkernel::verify(&kspk, Some(prevout.value.to_sat() as i64), &ktx, 0, Some(bitcoinkernel::VERIFY_ALL), &data);

    let opts = ExecOptions { sighash: Some(sighash), ..Default::default() };
    let ctx = ExecContext {
        tx: Some(TxContext { version: 2, lock_time: c.lock_time, sequence: c.sequence }),
        control_block_len: control.size(),
        ..ExecContext::consensus()
    };
    let ours = execute_with(&c.script, &items, &opts, &ctx);
    let ctx_policy = ExecContext { minimal_data: true, ..ctx.clone() };
    let ours_policy = execute_with(&c.script, &items, &opts, &ctx_policy);
    Outcome {
        core: core.is_ok(),
        ours: ours.success(),
        ours_policy: ours_policy.success(),
        detail: format!("core: {:?}; ours: {:?}", core.err(), ours.verdict().err().map(|e| e.to_string())),
    }
}

/// Run cases, print a summary, and fail listing every disagreement.
fn check_all(cases: &[Case]) -> (usize, usize) {
    let mut bad = Vec::new();
    let mut passes = 0;
    for c in cases {
        let o = run_case(c);
        if o.core != o.ours {
            bad.push(format!("{}: core={} ours={} ({}) script={}", c.name, o.core, o.ours, o.detail, c.script.to_asm_string()));
        }
        if o.core {
            passes += 1;
        }
    }
    assert!(bad.is_empty(), "{} disagreements:\n{}", bad.len(), bad.join("\n"));
    (cases.len(), passes)
}

fn f() -> Fragment {
    Fragment::new()
}

fn raw(name: &str, bytes: &[u8], items: Vec<Vec<u8>>) -> Case {
    Case::new(name, ScriptBuf::from_bytes(bytes.to_vec()), items)
}

#[test]
fn edge_cases_agree_with_core() {
    let mut cases = vec![
        raw("true", &[0x51], vec![]),
        raw("empty script, one true item", &[], vec![vec![1]]),
        raw("cleanstack two items", &[0x51, 0x51], vec![]),
        raw("cleanstack zero items", &[0x51, 0x75], vec![]),
        raw("eval false", &[0x00], vec![]),
        raw("negative zero is false", &[], vec![vec![0, 0x80]]),
        raw("op_success after op_return", &[0x6a, 0x50], vec![]),
        raw("op_success 0x7e (OP_CAT)", &[0x7e], vec![vec![1], vec![2]]),
        raw("op_success 0xbb", &[0xbb], vec![]),
        raw("op_success 0xfe", &[0xfe], vec![]),
        raw("op_success with 1001 initial items", &[0xbb], vec![vec![]; 1001]),
        raw("op_success with 521-byte item", &[0xbb], vec![vec![1; 521]]),
        raw("bad push before op_success", &[0x4c], vec![]),
        raw("bad push after op_success", &[0xbb, 0x4c], vec![]),
        raw("truncated pushdata2", &[0x51, 0x4d, 0x01], vec![]),
        raw("OP_VERIF unexecuted", &[0x00, 0x63, 0x65, 0x68, 0x51], vec![]),
        raw("OP_VERNOTIF unexecuted", &[0x00, 0x63, 0x66, 0x68, 0x51], vec![]),
        raw("OP_INVALIDOPCODE unexecuted", &[0x00, 0x63, 0xff, 0x68, 0x51], vec![]),
        raw("OP_INVALIDOPCODE executed", &[0xff, 0x51], vec![]),
        raw("CHECKMULTISIG", &[0x00, 0x00, 0x00, 0xae], vec![]),
        raw("CHECKMULTISIG unexecuted", &[0x00, 0x63, 0xae, 0x68, 0x51], vec![]),
        raw("CHECKMULTISIGVERIFY", &[0x00, 0x00, 0x00, 0xaf, 0x51], vec![]),
        raw("OP_RETURN unexecuted", &[0x00, 0x63, 0x6a, 0x68, 0x51], vec![]),
        raw("NOP1 NOP4 NOP10", &[0xb0, 0xb3, 0xb9, 0x51], vec![]),
        raw("CODESEPARATOR", &[0xab, 0x51], vec![]),
        // MINIMALIF (consensus in tapscript)
        raw("if with 0x01", &[0x63, 0x51, 0x68], vec![vec![1]]),
        raw("if with empty", &[0x63, 0x00, 0x67, 0x51, 0x68], vec![vec![]]),
        raw("if with 0x02", &[0x63, 0x51, 0x68], vec![vec![2]]),
        raw("if with 0x0100", &[0x63, 0x51, 0x68], vec![vec![1, 0]]),
        raw("if with 0x00", &[0x63, 0x51, 0x67, 0x51, 0x68], vec![vec![0]]),
        raw("notif with 0x81", &[0x64, 0x51, 0x67, 0x51, 0x68], vec![vec![0x81]]),
        raw("if on empty stack", &[0x63, 0x68, 0x51], vec![]),
        raw("unbalanced else", &[0x51, 0x67], vec![]),
        raw("missing endif", &[0x51, 0x63, 0x51], vec![]),
        raw("double else", &[0x51, 0x63, 0x52, 0x67, 0x53, 0x67, 0x54, 0x68, 0x75, 0x75, 0x51], vec![]),
        // Minimal pushes: not consensus (Core accepts them with consensus flags).
        raw("non-minimal push of 5", &[0x01, 0x05], vec![]),
        raw("non-minimal pushdata1", &[0x4c, 0x01, 0x07], vec![]),
        raw("non-minimal empty push", &[0x4c, 0x00, 0x75, 0x51], vec![]),
        raw("non-minimal number operand", &[0x01, 0x00, 0x8b], vec![]),
        // Number sizes
        raw("4-byte operand", &[0x04, 0xff, 0xff, 0xff, 0x7f, 0x8b, 0x75, 0x51], vec![]),
        raw("5-byte operand", &[0x05, 0xff, 0xff, 0xff, 0xff, 0x00, 0x8b, 0x75, 0x51], vec![]),
        raw("5-byte result reused", &[0x04, 0xff, 0xff, 0xff, 0x7f, 0x8b, 0x8b, 0x75, 0x51], vec![]),
        raw("pick out of range", &[0x52, 0x79], vec![vec![1], vec![1]]),
        raw("fromaltstack empty", &[0x6c], vec![]),
    ];
    // Element size 520 / 521.
    cases.push(Case::frag("push 520", &f().push_bytes(&[1; 520]).op(OP_DROP).push_int(1), vec![]));
    cases.push(Case::new(
        "push 521 (pushdata2)",
        ScriptBuf::from_bytes([&[0x4d, 0x09, 0x02][..], &[1u8; 521][..], &[0x75, 0x51][..]].concat()),
        vec![],
    ));
    cases.push(Case::new(
        "push 521 unexecuted",
        ScriptBuf::from_bytes([&[0x00, 0x63, 0x4d, 0x09, 0x02][..], &[1u8; 521][..], &[0x68, 0x51][..]].concat()),
        vec![],
    ));
    cases.push(Case::frag("initial item 520", &f().op(OP_DROP).push_int(1), vec![vec![3; 520]]));
    cases.push(Case::frag("initial item 521", &f().op(OP_DROP).push_int(1), vec![vec![3; 521]]));
    // Stack size 1000 / 1001, main + alt.
    let dups = |n: usize| f().push_int(1).repeat(n, &f().op(OP_DUP));
    let drops = |n: usize| f().repeat(n, &f().op(OP_DROP));
    cases.push(Case::frag("stack 1000", &dups(999).append(&drops(999)), vec![]));
    cases.push(Case::frag("stack 1001", &dups(1000).append(&drops(1000)), vec![]));
    let alt = f().push_int(1).repeat(500, &f().ops(&[OP_DUP, OP_TOALTSTACK])).repeat(500, &f().op(OP_DUP));
    cases.push(Case::frag("stack+alt 1001", &alt.clone().append(&drops(500)).repeat(500, &f().ops(&[OP_FROMALTSTACK, OP_DROP])), vec![]));
    let alt_ok = f().push_int(1).repeat(500, &f().ops(&[OP_DUP, OP_TOALTSTACK])).repeat(499, &f().op(OP_DUP));
    cases.push(Case::frag("stack+alt 1000", &alt_ok.append(&drops(499)).repeat(500, &f().ops(&[OP_FROMALTSTACK, OP_DROP])), vec![]));
    cases.push(Case::frag("initial 1000 items", &drops(999), vec![vec![1]; 1000]));
    cases.push(Case::frag("initial 1001 items", &drops(1000), vec![vec![1]; 1001]));
    cases.push(Case::frag("initial 1000 + 1 push", &drops(1000), vec![vec![1]; 1000]).with_push());
    // Signatures.
    let pk = signer_pk();
    let checksig = f().push_bytes(&pk).op(OP_CHECKSIG);
    let mut sig_cases = vec![
        ("checksig valid", checksig.clone(), vec![Item::Sig]),
        ("checksig empty sig", checksig.clone(), vec![Item::Bytes(vec![])]),
        ("checksig empty sig then not", checksig.clone().op(OP_NOT), vec![Item::Bytes(vec![])]),
        ("checksig bad sig", checksig.clone(), vec![Item::BadSig]),
        ("checksig 63-byte sig", checksig.clone(), vec![Item::Bytes(vec![1; 63])]),
        ("checksig 65-byte sig hashtype 0", checksig.clone(), vec![Item::Bytes(vec![1; 65])]),
        ("checksig empty key", f().push_int(0).op(OP_CHECKSIG), vec![Item::Sig]),
        ("checksig unknown key type", f().push_bytes(&[2; 33]).op(OP_CHECKSIG), vec![Item::Bytes(vec![9; 10])]),
        ("checksig wrong key", f().push_bytes(&{ let mut k = pk.clone(); k[31] ^= 1; k }).op(OP_CHECKSIG), vec![Item::Sig]),
        ("checksigverify valid", f().push_bytes(&pk).op(OP_CHECKSIGVERIFY).push_int(1), vec![Item::Sig]),
        ("checksigverify empty", f().push_bytes(&pk).op(OP_CHECKSIGVERIFY).push_int(1), vec![Item::Bytes(vec![])]),
        (
            "checksigadd 1-of-2",
            f().push_bytes(&pk).op(OP_CHECKSIG).push_bytes(&pk).op(OP_CHECKSIGADD).push_int(1).op(OP_NUMEQUAL),
            vec![Item::Bytes(vec![]), Item::Sig],
        ),
        (
            "checksigadd 2-of-2",
            f().push_bytes(&pk).op(OP_CHECKSIG).push_bytes(&pk).op(OP_CHECKSIGADD).push_int(2).op(OP_NUMEQUAL),
            vec![Item::Sig, Item::Sig],
        ),
    ];
    // Validation weight budget: n checks of one signature.
    for n in [5usize, 10, 11, 12, 30] {
        let body = f().op(OP_DUP).push_bytes(&pk).op(OP_CHECKSIGVERIFY);
        sig_cases.push((&*Box::leak(format!("sig budget {n}").into_boxed_str()), f().repeat(n, &body).op(OP_DROP).push_int(1), vec![Item::Sig]));
    }
    for (name, frag, items) in sig_cases {
        let mut c = Case::frag(name, &frag, vec![]);
        c.items = items;
        cases.push(c);
    }
    // Locktimes.
    let cltv = |n: i64| f().push_int(n).op(OP_CLTV).op(OP_DROP).push_int(1);
    let csv = |n: i64| f().push_int(n).op(OP_CSV).op(OP_DROP).push_int(1);
    for (name, frag, lt, seq) in [
        ("cltv ok", cltv(100), 100, 0xffff_fffe),
        ("cltv too early", cltv(101), 100, 0xffff_fffe),
        ("cltv final sequence", cltv(100), 100, 0xffff_ffff),
        ("cltv time vs height", cltv(500_000_001), 100, 0xffff_fffe),
        ("cltv negative", cltv(-1), 100, 0xffff_fffe),
        ("csv ok", csv(10), 0, 10),
        ("csv too early", csv(11), 0, 10),
        ("csv type mismatch", csv(10), 0, 10 | (1 << 22)),
        ("csv disabled operand", csv(1 << 31), 0, 0),
        ("csv sequence disabled", csv(10), 0, 0x8000_000a),
    ] {
        let mut c = Case::frag(name, &frag, vec![]);
        c.lock_time = lt;
        c.sequence = seq;
        cases.push(c);
    }
    let (n, passes) = check_all(&cases);
    println!("edge cases: {n} agree with Core ({passes} accepted, {} rejected)", n - passes);

    // The oracle is not a constant: Core's verdicts on cases whose answer BIP-342 fixes.
    let expect = |name: &str, want: bool| {
        let c = cases.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no case {name}"));
        assert_eq!(run_case(c).core, want, "Core on {name}");
    };
    for name in ["true", "op_success after op_return", "op_success with 1001 initial items", "bad push after op_success",
        "OP_VERIF unexecuted", "stack 1000", "stack+alt 1000", "initial item 520", "checksig valid", "sig budget 10", "csv ok"] {
        expect(name, !name.starts_with("OP_VERIF"));
    }
    for name in ["cleanstack two items", "if with 0x02", "stack 1001", "stack+alt 1001", "initial 1001 items",
        "push 521 unexecuted", "initial item 521", "CHECKMULTISIG", "checksig bad sig", "sig budget 11", "cltv too early"] {
        expect(name, false);
    }

    // The policy difference is the expected one: our default (MINIMALDATA on) rejects exactly
    // the non-minimal cases that Core accepts under consensus rules.
    for c in cases.iter().filter(|c| c.name.starts_with("non-minimal")) {
        let o = run_case(c);
        assert!(o.core && o.ours && !o.ours_policy, "{}", c.name);
    }
}

trait WithPush {
    fn with_push(self) -> Self;
}
impl WithPush for Case {
    /// Prepend a push to the script (1001 items after the first op).
    fn with_push(mut self) -> Self {
        let mut b = vec![0x51];
        b.extend_from_slice(self.script.as_bytes());
        self.script = ScriptBuf::from_bytes(b);
        self.name.push_str(" (overflows)");
        self
    }
}

#[test]
fn winternitz_gadgets_agree_with_core() {
    let mut cases = Vec::new();
    for (w, len) in [(4u32, 16usize), (4, 32), (3, 4), (8, 2)] {
        let p = Params::new(w, len).unwrap();
        let sk = WotsKey::derive(&[5; 32], b"oracle", p);
        let pk = sk.public_key();
        let msg: Vec<u8> = (0..len).map(|i| (i * 29 + 3) as u8).collect();
        let sig = sk.sign(&msg).unwrap();
        let mut keep = winternitz::verify_script(&pk);
        for d in p.to_digits(&msg).unwrap().iter().rev() {
            keep = keep.push_int(*d as i64).op(OP_EQUALVERIFY);
        }
        let keep = keep.push_int(1);
        let drop = winternitz::verify_script_drop(&pk).push_int(1);
        let wit = sig.to_witness();
        cases.push(Case::frag(format!("wots w={w} len={len} keep"), &keep, wit.clone()));
        cases.push(Case::frag(format!("wots w={w} len={len} drop"), &drop, wit.clone()));
        // Negative: wrong digit, out-of-range digit, forged checksum, other key.
        let mut bad = wit.clone();
        bad[1] = encode_num(((p.to_digits(&msg).unwrap()[0] + 1) % (p.max_digit() + 1)) as i64);
        cases.push(Case::frag(format!("wots w={w} len={len} wrong digit"), &drop, bad));
        let mut bad = wit.clone();
        bad[1] = encode_num(p.max_digit() as i64 + 1);
        cases.push(Case::frag(format!("wots w={w} len={len} digit out of range"), &drop, bad));
        let mut forged = sig.clone();
        if forged.items[0].1 < p.max_digit() {
            forged.items[0].0 = bitcoin::hashes::hash160::Hash::hash(&forged.items[0].0).to_byte_array();
            forged.items[0].1 += 1;
            cases.push(Case::frag(format!("wots w={w} len={len} raised digit"), &drop, forged.to_witness()));
        }
        let other = WotsKey::derive(&[6; 32], b"oracle", p).sign(&msg).unwrap();
        cases.push(Case::frag(format!("wots w={w} len={len} other key"), &drop, other.to_witness()));
    }
    let (n, passes) = check_all(&cases);
    println!("winternitz gadgets: {n} agree with Core ({passes} accepted)");
    assert!(passes >= 8, "every valid signature must be accepted");
}

/// Opcodes the random generator draws from (no OP_CODESEPARATOR: it changes the sighash).
const POOL: &[Opcode] = &[
    OP_NOP, OP_IF, OP_NOTIF, OP_ELSE, OP_ENDIF, OP_VERIFY, OP_RETURN, OP_TOALTSTACK, OP_FROMALTSTACK, OP_2DROP,
    OP_2DUP, OP_3DUP, OP_2OVER, OP_2ROT, OP_2SWAP, OP_IFDUP, OP_DEPTH, OP_DROP, OP_DUP, OP_NIP, OP_OVER, OP_PICK,
    OP_ROLL, OP_ROT, OP_SWAP, OP_TUCK, OP_SIZE, OP_EQUAL, OP_EQUALVERIFY, OP_1ADD, OP_1SUB, OP_NEGATE, OP_ABS,
    OP_NOT, OP_0NOTEQUAL, OP_ADD, OP_SUB, OP_BOOLAND, OP_BOOLOR, OP_NUMEQUAL, OP_NUMEQUALVERIFY, OP_NUMNOTEQUAL,
    OP_LESSTHAN, OP_GREATERTHAN, OP_LESSTHANOREQUAL, OP_GREATERTHANOREQUAL, OP_MIN, OP_MAX, OP_WITHIN,
    OP_RIPEMD160, OP_SHA1, OP_SHA256, OP_HASH160, OP_HASH256, OP_CHECKSIG, OP_CHECKSIGVERIFY, OP_CHECKSIGADD,
    OP_CLTV, OP_CSV, OP_NOP1, OP_NOP10,
];

fn random_item(rng: &mut StdRng) -> Item {
    match rng.gen_range(0..10) {
        0 => Item::Bytes(vec![]),
        1 => Item::Bytes(vec![1]),
        2 => Item::Sig,
        3 => Item::Bytes(vec![0x80]),
        4 => Item::Bytes((0..rng.gen_range(0..6)).map(|_| rng.gen()).collect()),
        5 => Item::Bytes(vec![0; rng.gen_range(1..3)]),
        _ => Item::Bytes(encode_num(rng.gen_range(-20..20))),
    }
}

fn random_case(rng: &mut StdRng, i: usize) -> Case {
    let mut b: Vec<u8> = Vec::new();
    let len = rng.gen_range(1..25);
    let pk = signer_pk();
    for _ in 0..len {
        match rng.gen_range(0..100) {
            0..=29 => b.extend(f().push_int(rng.gen_range(-3..20)).as_bytes()),
            30..=33 => b.extend(f().push_bytes(&pk).as_bytes()),
            34..=36 => {
                // Small raw push, sometimes non-minimal.
                let n = rng.gen_range(0..4);
                let data: Vec<u8> = (0..n).map(|_| rng.gen_range(0..3)).collect();
                if rng.gen_bool(0.5) {
                    b.push(0x4c);
                    b.push(n as u8);
                } else {
                    b.push(n as u8);
                }
                b.extend(data);
            }
            37 => b.extend(f().push_int(rng.gen_range(0x7fff_fff0..0x8000_0000)).as_bytes()),
            38 => b.push(rng.gen_range(0..=255u8)), // any byte: OP_SUCCESSx, bad pushes, ...
            _ => b.push(POOL[rng.gen_range(0..POOL.len())].to_u8()),
        }
    }
    let n_items = rng.gen_range(0..6);
    let items = (0..n_items).map(|_| random_item(rng)).collect();
    let mut c = Case::new(format!("random #{i}"), ScriptBuf::from_bytes(b), vec![]);
    c.items = items;
    c.lock_time = rng.gen_range(0..30);
    c.sequence = if rng.gen_bool(0.1) { 0xffff_ffff } else { rng.gen_range(0..30) };
    c
}

#[test]
fn random_scripts_agree_with_core() {
    let mut rng = StdRng::seed_from_u64(0x5eed_b17c);
    let cases: Vec<Case> = (0..10000).map(|i| random_case(&mut rng, i)).collect();
    let (n, passes) = check_all(&cases);
    println!("random scripts: {n} agree with Core ({passes} accepted, {} rejected)", n - passes);
    assert!(passes > 40, "the generator should produce some accepted scripts, got {passes}");
}

#[test]
fn random_scripts_with_a_true_ending_agree_with_core() {
    // Bias towards scripts that get far: end with a DEPTH-based cleanup to one true item.
    let mut rng = StdRng::seed_from_u64(0xc0ffee);
    let cases: Vec<Case> = (0..2000)
        .map(|i| {
            let mut c = random_case(&mut rng, i);
            let mut b = c.script.as_bytes().to_vec();
            // Drop everything: DEPTH 0 NUMNOTEQUAL IF DROP ENDIF repeated, then push 1.
            for _ in 0..12 {
                b.extend([0x74, 0x00, 0x9e, 0x63, 0x75, 0x68]);
            }
            b.push(0x51);
            c.script = ScriptBuf::from_bytes(b);
            c.name.push_str(" +cleanup");
            c
        })
        .collect();
    let (n, passes) = check_all(&cases);
    println!("random scripts with cleanup: {n} agree with Core ({passes} accepted, {} rejected)", n - passes);
    assert!(passes > 200, "got {passes}");
}

#[test]
fn default_execute_matches_policy_context() {
    // `execute` (the common entry point) is MINIMALDATA + no tx context; sanity-check that it is
    // stricter than consensus only where minimal pushes are concerned.
    let s = ScriptBuf::from_bytes(vec![0x01, 0x05, 0x75, 0x51]);
    assert!(!execute(&s, &[], &ExecOptions::default()).success());
    assert!(execute_with(&s, &[], &ExecOptions::default(), &ExecContext::consensus()).success());
}

/// The arithmetic and hash gadgets of `arith` / `hash` (written by another helper), each
/// followed by a comparison with the natively computed result so that the leaf succeeds only if
/// the gadget computed it; plus the same leaves with a wrong expected result.
#[test]
fn arith_and_hash_gadgets_agree_with_core() {
    use bitvm2_script::arith::{bn254_fq, Layout, Nat};
    use bitvm2_script::hash::{blake3, blake3_native, bytes_to_nibbles};

    let fq = bn254_fq();
    let p = fq.modulus().clone();
    let l = fq.layout();
    let a = p.checked_sub(&Nat::from_u128(12345)).unwrap();
    let b = Nat::from_hex("1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcde").unwrap().rem(&p);
    let inputs = [l.to_stack(&a), l.to_stack(&b)].concat();
    let equal_to = |f: Fragment, want: &Nat, layout: &Layout| f.append(&layout.push(want)).append(&layout.equal());
    let one = Nat::from_u128(1);
    let mut cases = Vec::new();
    let mut both = |name: &str, gadget: Fragment, want: Nat, wrong: Nat, layout: Layout, items: Vec<Vec<u8>>| {
        cases.push(Case::frag(format!("{name} right"), &equal_to(gadget.clone(), &want, &layout), items.clone()));
        cases.push(Case::frag(format!("{name} wrong"), &equal_to(gadget, &wrong, &layout), items));
    };
    let sum = a.add(&b).rem(&p);
    both("fq add", fq.add(), sum.clone(), sum.add(&one), l, inputs.clone());
    let diff = a.add(&p).checked_sub(&b).unwrap().rem(&p);
    both("fq sub", fq.sub(), diff.clone(), diff.add(&one), l, inputs.clone());
    let prod = a.mul(&b).rem(&p);
    for window in [3u32, 4] {
        if let Ok(g) = fq.mul_windowed(window) {
            both(&format!("fq mul windowed w={window}"), g, prod.clone(), prod.add(&one), l, inputs.clone());
        }
        if let Ok(g) = fq.mul_hinted(window) {
            let items = [fq.mul_hints(&a, &b, window).expect("hints for canonical inputs"), inputs.clone()].concat();
            both(&format!("fq mul hinted w={window}"), g, prod.clone(), prod.add(&one), l, items);
        }
    }
    // u64 in 29-bit limbs: add leaves [sum carry]; check the carry first.
    let u = Layout::new(64, 29);
    let x = Nat::from_u128(0xffff_ffff_ffff_fff0);
    let y = Nat::from_u128(0x25);
    let items = [u.to_stack(&x), u.to_stack(&y)].concat();
    let wrapped = x.add(&y).rem(&Nat::from_u128(1 << 64));
    let add_carry = u.add().push_int(1).op(OP_NUMEQUALVERIFY);
    both("u64 add", add_carry, wrapped.clone(), wrapped.add(&one), u, items.clone());
    let lt = u.less_than().op(OP_NOT); // x < y is false
    cases.push(Case::frag("u64 less_than", &lt, items.clone()));
    cases.push(Case::frag("u64 less_than wrong", &u.less_than(), items));
    // BLAKE3 of 32 bytes -> 20 bytes, compared nibble by nibble.
    let msg: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37)).collect();
    let digest = blake3_native(&msg).unwrap();
    if let Ok(g) = blake3(32, 20) {
        let cmp = |d: &[u8]| {
            let mut f = g.clone();
            for nib in bytes_to_nibbles(&d[..20]).iter().rev() {
                f = f.push_bytes(nib).op(OP_EQUALVERIFY);
            }
            f.push_int(1)
        };
        let mut wrong = digest;
        wrong[19] ^= 1;
        cases.push(Case::frag("blake3 32->20 right", &cmp(&digest), bytes_to_nibbles(&msg)));
        cases.push(Case::frag("blake3 32->20 wrong", &cmp(&wrong), bytes_to_nibbles(&msg)));
    }
    let mut sizes = Vec::new();
    for c in &cases {
        let o = run_case(c);
        assert_eq!(o.core, o.ours, "{}: {}", c.name, o.detail);
        assert_eq!(o.core, !c.name.ends_with("wrong"), "{}: {}", c.name, o.detail);
        sizes.push(format!("{} ({} B)", c.name, c.script.len()));
    }
    println!("arith/hash gadgets: {} agree with Core: {}", cases.len(), sizes.join(", "));
}
