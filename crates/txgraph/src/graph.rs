//! Building the graph: parameters in, transactions, sighashes and witnesses out.
//!
//! The shape is documented in `docs/graph.md`. Every function here is deterministic: the same
//! [`GraphParams`] give byte-identical transactions on every machine.

use std::collections::BTreeMap;
use std::fmt;

use bitcoin::absolute::LockTime;
use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::secp256k1::{schnorr, Secp256k1, Verification};
use bitcoin::sighash::{Prevouts, SighashCache};
use bitcoin::taproot::{ControlBlock, LeafVersion, TapLeafHash};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, OutPoint, ScriptBuf, Sequence, TapSighashType, Transaction, TxIn, TxOut, Txid, Witness,
    XOnlyPublicKey,
};
use serde::{Deserialize, Serialize};

use crate::error::GraphError;
use crate::musig::Committee;
use crate::params::{GraphParams, OperatorParams};
use crate::scripts::{self, Connector, Leaf};

/// Version of the transactions presigned with fees paid by a CPFP child (TRUC, BIP-431).
pub const TRUC: Version = Version(3);
/// Version of the transactions completed by whoever publishes them (Challenge, Disprove,
/// timeouts): they add their own inputs and outputs, so they are not bound by TRUC limits.
pub const OPEN: Version = Version::TWO;
/// Version of the assert transactions and AssertFinal: presigned in shape (their txids are
/// fixed at setup) and zero-fee with a P2A anchor like the TRUC ones, but a Groth16 verifier's
/// assertion needs transactions far above TRUC's 10,000 vB (up to the 400,000 WU standard
/// limit), so they are plain version 2, bumped by a CPFP child in a package.
pub const ASSERT_VERSION: Version = Version::TWO;
/// SIGHASH type of transactions that a third party completes.
pub const SINGLE_ACP: TapSighashType = TapSighashType::SinglePlusAnyoneCanPay;
/// SIGHASH type of the committee's Disprove signature: it commits to every input (the stake and
/// the assert connector, so it is usable only together with a disprove leaf spend) and to the
/// burn output; the disprover adds its reward output.
pub const SINGLE: TapSighashType = TapSighashType::Single;

/// Which transaction of the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TxKind {
    /// Depositor -> deposit output.
    Deposit,
    /// Deposit output -> depositor after the refund timelock.
    DepositRefund,
    /// Deposit output -> vault (n-of-n + depositor).
    PegInConfirm,
    /// The operator's claim.
    Kickoff,
    /// Kills Take1; completed and funded by any challenger.
    Challenge,
    /// Vault + kickoff connectors -> operator, after T1 without challenge.
    Take1,
    /// Splits the stake into the carry and the assert lanes.
    AssertInitial,
    /// Assert lane `l`: splits its share of the stake into commitment outputs (up to
    /// `budget::LANE_MAX_OUTPUTS`; a Groth16 assertion needs about 2,500).
    AssertLane(u32),
    /// Assert transaction `k`.
    Assert(u32),
    /// Joins the asserts into the assert connector.
    AssertFinal,
    /// Vault + assert connector -> operator, after T3 without disprove.
    Take2,
    /// Disprove: the stake plus the assert connector through any disprove leaf.
    Disprove,
    /// Slash: no AssertInitial within T2 of Kickoff (nor Take1).
    KickoffTimeout,
    /// Slash: no AssertFinal within T2 of AssertInitial.
    AssertTimeout,
}

impl fmt::Display for TxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxKind::Assert(k) => write!(f, "Assert{k}"),
            TxKind::AssertLane(l) => write!(f, "AssertLane{l}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// One signature the graph needs: (operator graph or peg-in, transaction, input).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskId {
    /// Peg-out graph index (operator), `None` for peg-in transactions.
    pub operator: Option<u32>,
    /// Transaction.
    pub tx: TxKind,
    /// Input index.
    pub input: u32,
}

impl TaskId {
    /// Canonical 13-byte encoding: operator (u32 LE, `u32::MAX` for peg-in), kind code (u8),
    /// kind index (u32 LE), input (u32 LE).
    pub fn to_bytes(&self) -> [u8; 13] {
        let (code, index) = match self.tx {
            TxKind::Deposit => (0u8, 0u32),
            TxKind::DepositRefund => (1, 0),
            TxKind::PegInConfirm => (2, 0),
            TxKind::Kickoff => (3, 0),
            TxKind::Challenge => (4, 0),
            TxKind::Take1 => (5, 0),
            TxKind::AssertInitial => (6, 0),
            TxKind::Assert(k) => (7, k),
            TxKind::AssertFinal => (8, 0),
            TxKind::Take2 => (9, 0),
            TxKind::Disprove => (10, 0),
            TxKind::KickoffTimeout => (11, 0),
            TxKind::AssertTimeout => (12, 0),
            TxKind::AssertLane(l) => (13, l),
        };
        let mut b = [0u8; 13];
        b[..4].copy_from_slice(&self.operator.unwrap_or(u32::MAX).to_le_bytes());
        b[4] = code;
        b[5..9].copy_from_slice(&index.to_le_bytes());
        b[9..].copy_from_slice(&self.input.to_le_bytes());
        b
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operator {
            Some(o) => write!(f, "op{o}/{}/in{}", self.tx, self.input),
            None => write!(f, "pegin/{}/in{}", self.tx, self.input),
        }
    }
}

/// How an input is spent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpendPath {
    /// A party's own coin (depositor's funding): signed outside the graph.
    External,
    /// The vault's n-of-n key path (taproot-tweaked MuSig2 key).
    VaultKeyPath,
    /// One of the assert connector's disprove leaves, chosen by the disprover when it
    /// completes the Disprove (no signature: the leaf itself is the authorization).
    DisproveLeaf,
    /// A tapscript leaf.
    Leaf {
        /// The leaf script.
        script: ScriptBuf,
        /// Its control block.
        control_block: ControlBlock,
    },
}

impl SpendPath {
    fn leaf(c: &Connector, i: usize) -> SpendPath {
        SpendPath::Leaf { script: c.leaf(i).clone(), control_block: c.control_block(i) }
    }

    /// The leaf hash for script-path spends.
    pub fn leaf_hash(&self) -> Option<TapLeafHash> {
        match self {
            SpendPath::Leaf { script, .. } => Some(TapLeafHash::from_script(script, LeafVersion::TapScript)),
            _ => None,
        }
    }
}

/// Per input: what it spends and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputInfo {
    /// The spent output.
    pub prevout: TxOut,
    /// How it is unlocked.
    pub path: SpendPath,
}

/// An unsigned transaction of the graph with what is needed to sign and complete it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphTx {
    /// Which transaction.
    pub kind: TxKind,
    /// The transaction, witnesses empty.
    pub tx: Transaction,
    /// One per input.
    pub inputs: Vec<InputInfo>,
}

impl GraphTx {
    /// The txid (fixed before any signature, since every input is segwit).
    pub fn txid(&self) -> Txid {
        self.tx.compute_txid()
    }

    /// Output `vout` as an outpoint.
    pub fn outpoint(&self, vout: u32) -> OutPoint {
        OutPoint { txid: self.txid(), vout }
    }

    /// Sum of spent values minus sum of outputs (what it leaves as fee before any completion).
    pub fn fee(&self) -> Result<Amount, GraphError> {
        let ins = sum(self.inputs.iter().map(|i| i.prevout.value), "inputs")?;
        let outs = sum(self.tx.output.iter().map(|o| o.value), "outputs")?;
        ins.checked_sub(outs)
            .ok_or_else(|| GraphError::Amount(format!("{}: outputs {outs} exceed inputs {ins}", self.kind)))
    }

    /// The BIP-341 sighash of input `input` under `ty`.
    pub fn sighash(&self, input: usize, ty: TapSighashType) -> Result<[u8; 32], GraphError> {
        let info = self.inputs.get(input).ok_or(GraphError::OutOfRange {
            what: "input",
            index: input,
            len: self.inputs.len(),
        })?;
        let prevouts: Vec<TxOut> = self.inputs.iter().map(|i| i.prevout.clone()).collect();
        let mut cache = SighashCache::new(&self.tx);
        let anyone = matches!(
            ty,
            TapSighashType::AllPlusAnyoneCanPay
                | TapSighashType::NonePlusAnyoneCanPay
                | TapSighashType::SinglePlusAnyoneCanPay
        );
        if info.path == SpendPath::DisproveLeaf {
            return Err(GraphError::Sighash(format!("{} input {input} is a disprove leaf spend: nobody signs it", self.kind)));
        }
        let h = match (&info.path, anyone) {
            (SpendPath::Leaf { .. }, false) => cache.taproot_script_spend_signature_hash(
                input,
                &Prevouts::All(&prevouts),
                info.path.leaf_hash().expect("leaf"),
                ty,
            ),
            (SpendPath::Leaf { .. }, true) => cache.taproot_script_spend_signature_hash(
                input,
                &Prevouts::One(input, &prevouts[input]),
                info.path.leaf_hash().expect("leaf"),
                ty,
            ),
            (_, false) => cache.taproot_key_spend_signature_hash(input, &Prevouts::All(&prevouts), ty),
            (_, true) => cache.taproot_key_spend_signature_hash(input, &Prevouts::One(input, &prevouts[input]), ty),
        }
        .map_err(|e| GraphError::Sighash(e.to_string()))?;
        Ok(h.to_byte_array())
    }

    /// A lower bound of the completed weight: every signature the leaf needs (64 bytes each,
    /// one per CHECKSIG/CHECKSIGVERIFY among the leaf's first five opcodes), leaf script and control
    /// block, but none of the program's own witness items.
    pub fn min_weight(&self) -> usize {
        let mut t = self.clone();
        for i in 0..t.inputs.len() {
            let sigs = match &t.inputs[i].path {
                SpendPath::Leaf { script, .. } => script
                    .instructions()
                    .take(5)
                    .filter(|ins| {
                        matches!(ins, Ok(bitcoin::script::Instruction::Op(op))
                            if *op == bitcoin::opcodes::all::OP_CHECKSIG || *op == bitcoin::opcodes::all::OP_CHECKSIGVERIFY)
                    })
                    .count(),
                SpendPath::DisproveLeaf => 0,
                _ => 1,
            };
            t = t.with_witness(i, vec![vec![0u8; 64]; sigs]);
        }
        t.tx.weight().to_wu() as usize
    }

    /// A copy with the witness of `input` set from `items` (bottom first) plus, for a leaf
    /// spend, the leaf script and control block.
    pub fn with_witness(mut self, input: usize, items: Vec<Vec<u8>>) -> Self {
        let mut w = Witness::new();
        for item in items {
            w.push(item);
        }
        if let SpendPath::Leaf { script, control_block } = &self.inputs[input].path {
            w.push(script.as_bytes());
            w.push(control_block.serialize());
        }
        self.tx.input[input].witness = w;
        self
    }
}

/// Who must sign a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signer {
    /// The verifier committee (MuSig2).
    Committee,
    /// The graph's operator alone.
    Operator,
    /// The depositor alone.
    Depositor,
}

/// One signature to make: which input, over which digest, with which key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningTask {
    /// Where it goes.
    pub id: TaskId,
    /// Who signs.
    pub signer: Signer,
    /// BIP-341 sighash.
    pub sighash: [u8; 32],
    /// Sighash type (appended to the signature unless Default).
    pub sighash_type: TapSighashType,
    /// Key path of the vault: the committee signs with the taproot-tweaked key.
    pub key_path: bool,
}

/// Signatures by task.
pub type Signatures = BTreeMap<TaskId, schnorr::Signature>;

/// The peg-in part of the graph (one per deposit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PegIn {
    /// Deposit transaction (depositor signs its own inputs).
    pub deposit: GraphTx,
    /// Refund after the timelock.
    pub refund: GraphTx,
    /// Deposit output -> vault.
    pub confirm: GraphTx,
}

/// One operator's peg-out graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PegOut {
    /// Index of the operator in the parameters.
    pub operator: u32,
    /// Kickoff.
    pub kickoff: GraphTx,
    /// Challenge (input 0 and output 0 only; the challenger adds the rest).
    pub challenge: GraphTx,
    /// Take1.
    pub take1: GraphTx,
    /// AssertInitial.
    pub assert_initial: GraphTx,
    /// The assert lanes (between AssertInitial and the asserts).
    pub lanes: Vec<GraphTx>,
    /// The assert transactions.
    pub asserts: Vec<GraphTx>,
    /// AssertFinal.
    pub assert_final: GraphTx,
    /// Take2.
    pub take2: GraphTx,
    /// Disprove: input 0 the stake (committee, SIGHASH_SINGLE), input 1 the assert connector
    /// through the disprover's leaf; output 0 the burn, the disprover adds its reward output.
    pub disprove: GraphTx,
    /// AssertFinal:0, the assert connector: Take2's leaf, then every disprove leaf (by hash).
    pub assert_connector: Connector,
    /// Slash when the operator does not start asserting.
    pub kickoff_timeout: GraphTx,
    /// Slash when the operator does not finish asserting.
    pub assert_timeout: GraphTx,
}

impl PegOut {
    /// Every transaction of this peg-out graph in canonical order.
    pub fn transactions(&self) -> Vec<&GraphTx> {
        let mut v = vec![&self.kickoff, &self.challenge, &self.take1, &self.assert_initial];
        v.extend(self.lanes.iter());
        v.extend(self.asserts.iter());
        v.extend([&self.assert_final, &self.take2, &self.disprove, &self.kickoff_timeout, &self.assert_timeout]);
        v
    }

    /// The transaction of a kind.
    pub fn get(&self, kind: TxKind) -> Option<&GraphTx> {
        Some(match kind {
            TxKind::Kickoff => &self.kickoff,
            TxKind::Challenge => &self.challenge,
            TxKind::Take1 => &self.take1,
            TxKind::AssertInitial => &self.assert_initial,
            TxKind::Assert(k) => self.asserts.get(k as usize)?,
            TxKind::AssertLane(l) => self.lanes.get(l as usize)?,
            TxKind::AssertFinal => &self.assert_final,
            TxKind::Take2 => &self.take2,
            TxKind::Disprove => &self.disprove,
            TxKind::KickoffTimeout => &self.kickoff_timeout,
            TxKind::AssertTimeout => &self.assert_timeout,
            _ => return None,
        })
    }
}

/// A graph id: tagged SHA-256 of the canonical encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GraphId(pub [u8; 32]);

impl fmt::Display for GraphId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Tagged SHA-256 (BIP-340 style) over the concatenation of `parts`.
pub fn tagged_hash(tag: &str, parts: &[&[u8]]) -> [u8; 32] {
    let t = sha256::Hash::hash(tag.as_bytes());
    let mut e = sha256::Hash::engine();
    e.input(t.as_byte_array());
    e.input(t.as_byte_array());
    for p in parts {
        e.input(p);
    }
    sha256::Hash::from_engine(e).to_byte_array()
}

/// The Deposit transaction and its output's connector (which needs only the committee, the
/// depositor and its coins: not the operators).
fn build_deposit<C: Verification>(secp: &Secp256k1<C>, params: &GraphParams, nofn: &XOnlyPublicKey) -> Result<(GraphTx, Connector), GraphError> {
    let depositor = params.depositor.x_only_public_key().0;
    let deposit_conn = Connector::new(
        secp,
        vec![scripts::two_sigs(nofn, &depositor), scripts::csv_checksig(params.timelocks.deposit_refund, &depositor)],
    )?;
    let total_in = sum(params.deposit_inputs.iter().map(|i| i.txout.value), "deposit inputs")?;
    let change = sub(total_in, add(params.deposit_amount, params.fees.deposit_fee, "deposit")?, "deposit inputs minus amount and fee")?;
    let mut outs = vec![output(params.deposit_amount, deposit_conn.script_pubkey(), "deposit output")?];
    if change > Amount::ZERO {
        outs.push(output(change, params.depositor_change_script.clone(), "depositor change")?);
    }
    let deposit = GraphTx {
        kind: TxKind::Deposit,
        tx: tx(OPEN, params.deposit_inputs.iter().map(|i| txin(i.outpoint, NO_LOCK)).collect(), outs),
        inputs: params.deposit_inputs.iter().map(|i| InputInfo { prevout: i.txout.clone(), path: SpendPath::External }).collect(),
    };
    Ok((deposit, deposit_conn))
}

/// The deposit output (Deposit:0) that a graph built from `params` will have, computable before
/// the operators join (their programs bind it: the statement's public inputs x6..x8).
pub fn deposit_outpoint(params: &GraphParams) -> Result<OutPoint, GraphError> {
    let mut p = params.clone();
    p.committee.sort_by_key(|k| k.serialize());
    let committee = Committee::new(p.committee.clone()).map_err(|e| GraphError::Committee(e.to_string()))?;
    let (deposit, _) = build_deposit(&Secp256k1::verification_only(), &p, &committee.script_key())?;
    Ok(deposit.outpoint(0))
}

/// The address (script) an operator's Kickoff funding coin must pay: a NUMS taproot whose only
/// leaf is `<operator> CHECKSIGVERIFY <claim commitment> OP_1`.
pub fn claim_funding_script<C: Verification>(
    secp: &Secp256k1<C>,
    operator: &OperatorParams,
) -> Result<ScriptBuf, GraphError> {
    Ok(claim_connector(secp, operator)?.script_pubkey())
}

fn claim_connector<C: Verification>(secp: &Secp256k1<C>, op: &OperatorParams) -> Result<Connector, GraphError> {
    let opk = op.key.x_only_public_key().0;
    Connector::new(secp, vec![scripts::signed_commitment(None, &opk, &op.claim.script)])
}

/// Amount an operator's Kickoff funding coin must carry.
pub fn kickoff_funding_amount(params: &GraphParams, op: &OperatorParams) -> Result<Amount, GraphError> {
    add(add(op.stake, params.fees.connector_value, "kickoff funding")?, params.fees.anchor_value, "kickoff funding")
}

fn add(a: Amount, b: Amount, what: &str) -> Result<Amount, GraphError> {
    a.checked_add(b).ok_or_else(|| GraphError::Amount(format!("{what}: overflow")))
}

fn sub(a: Amount, b: Amount, what: &str) -> Result<Amount, GraphError> {
    a.checked_sub(b)
        .ok_or_else(|| GraphError::Amount(format!("{what}: {b} exceeds {a}")))
}

fn sum(mut it: impl Iterator<Item = Amount>, what: &str) -> Result<Amount, GraphError> {
    it.try_fold(Amount::ZERO, |acc, x| add(acc, x, what))
}

fn mul(a: Amount, n: usize, what: &str) -> Result<Amount, GraphError> {
    a.checked_mul(n as u64).ok_or_else(|| GraphError::Amount(format!("{what}: overflow")))
}

/// An output of value at least the script's dust limit.
fn output(value: Amount, script: ScriptBuf, what: impl Into<String>) -> Result<TxOut, GraphError> {
    let dust = script.minimal_non_dust();
    if value < dust {
        return Err(GraphError::BelowDust { what: what.into(), value, dust });
    }
    Ok(TxOut { value, script_pubkey: script })
}

fn anchor(params: &GraphParams) -> TxOut {
    TxOut { value: params.fees.anchor_value, script_pubkey: ScriptBuf::new_p2a() }
}

fn burn(value: Amount) -> TxOut {
    TxOut { value, script_pubkey: scripts::burn_script() }
}

fn txin(outpoint: OutPoint, sequence: Sequence) -> TxIn {
    TxIn { previous_output: outpoint, script_sig: ScriptBuf::new(), sequence, witness: Witness::new() }
}

const NO_LOCK: Sequence = Sequence::ENABLE_RBF_NO_LOCKTIME;

fn tx(version: Version, input: Vec<TxIn>, output: Vec<TxOut>) -> Transaction {
    Transaction { version, lock_time: LockTime::ZERO, input, output }
}

/// The connectors of one peg-out graph.
struct OpConnectors {
    claim: Connector,
    /// Kickoff:0: [challenge: <op> CHECKSIG, take1: <T1> CSV <nofn> CHECKSIG]
    challenge: Connector,
    /// Kickoff:1: [assert_initial: nofn+op, take1: nofn, timeout: <T2> CSV nofn]
    stake: Connector,
    /// AssertInitial:0: [assert_final: nofn, timeout: <T2> CSV nofn]
    carry: Connector,
    /// AssertInitial:1..: the lanes: [op]
    lane: Connector,
    /// Lane outputs: per (k, j): [op + commitment]
    commitments: Vec<Vec<Connector>>,
    /// Assert_k:0: [op]
    assert_out: Connector,
    /// AssertFinal:0: [take2: <T3> CSV nofn, disprove_0 (by hash), ..]
    assert_conn: Connector,
    /// AssertFinal:1, the stake: [nofn] (Take2 or Disprove)
    stake_out: Connector,
}

/// What the graph adds around the program's scripts, for the chunker's weight budget (checked
/// against built transactions by a unit test; see docs/graph.md).
pub mod budget {
    /// Witness items the graph adds to each assert input (the operator's signature).
    pub const ASSERT_INPUT_EXTRA_ITEMS: usize = 1;
    /// Script bytes the graph adds to each commitment leaf (`<op> CHECKSIGVERIFY .. OP_1`).
    pub const ASSERT_INPUT_EXTRA_SCRIPT_BYTES: usize = 35;
    /// Witness bytes of the 64-byte signature with its length prefix.
    pub const ASSERT_INPUT_EXTRA_WITNESS_BYTES: usize = 65;
    /// Control block of a commitment leaf (each commitment output has a single leaf).
    pub const ASSERT_INPUT_CONTROL_BLOCK: usize = 33;
    /// Weight of an assert transaction without its inputs (fewer than 253 inputs): version,
    /// locktime, counts, one P2TR output, the P2A anchor, segwit marker and flag.
    pub const ASSERT_TX_BASE_WEIGHT: usize = 266;
    /// Weight of a Disprove without the disprove leaf's witness items, script and control
    /// block: both inputs, the committee-signed stake input's witness, the burn, and one P2TR
    /// reward output the disprover adds.
    pub const DISPROVE_BASE_WEIGHT: usize = 770;
    /// Largest weight of a presigned TRUC transaction (BIP-431: 10,000 vB), witness included.
    pub const TRUC_MAX_WEIGHT: usize = 40_000;
    /// Largest standard transaction weight (Bitcoin Core's MAX_STANDARD_TX_WEIGHT): every
    /// assert, AssertFinal and Disprove stays at or below it.
    pub const STANDARD_MAX_WEIGHT: usize = 400_000;
    /// Room kept below [`STANDARD_MAX_WEIGHT`] when packing assert transactions, for the CPFP
    /// child of each (Core's cluster limit is 101,000 vB for parent and child together).
    pub const ASSERT_PACKAGE_MARGIN: usize = 2_000;
    /// Most commitment outputs one assert lane creates (1,500 P2TR outputs: about 260,000 WU).
    pub const LANE_MAX_OUTPUTS: usize = 1_500;
}

/// Leaf indices in the connectors (documented in docs/graph.md).
pub mod leaf {
    /// Challenge connector: Challenge spends it.
    pub const CHALLENGE: usize = 0;
    /// Challenge connector: Take1 spends it after T1.
    pub const CHALLENGE_TAKE1: usize = 1;
    /// Stake connector: AssertInitial.
    pub const STAKE_ASSERT: usize = 0;
    /// Stake connector: Take1.
    pub const STAKE_TAKE1: usize = 1;
    /// Stake connector: KickoffTimeout after T2.
    pub const STAKE_TIMEOUT: usize = 2;
    /// Carry connector: AssertFinal.
    pub const CARRY_FINAL: usize = 0;
    /// Carry connector: AssertTimeout after T2.
    pub const CARRY_TIMEOUT: usize = 1;
    /// Assert connector: Take2 after T3; disprove leaf i is at i + 1.
    pub const ASSERT_TAKE2: usize = 0;
    /// Index in the assert connector of disprove leaf `i`.
    pub const fn disprove(i: usize) -> usize {
        i + 1
    }
    /// Deposit output: PegInConfirm (n-of-n + depositor).
    pub const DEPOSIT_CONFIRM: usize = 0;
    /// Deposit output: refund after the timelock.
    pub const DEPOSIT_REFUND: usize = 1;
}

/// A deposit's whole graph, built from its parameters.
#[derive(Clone, Debug)]
pub struct Graph {
    params: GraphParams,
    committee: Committee,
    /// Peg-in transactions.
    pub peg_in: PegIn,
    /// One peg-out graph per operator, in parameter order.
    pub peg_outs: Vec<PegOut>,
    id: GraphId,
}

impl PartialEq for Graph {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.params == other.params && self.peg_in == other.peg_in && self.peg_outs == other.peg_outs
    }
}
impl Eq for Graph {}

impl Graph {
    /// Builds the graph. The committee is put in canonical (sorted) order first.
    pub fn build(params: GraphParams) -> Result<Graph, GraphError> {
        let secp = Secp256k1::verification_only();
        let mut params = params;
        params.committee.sort_by_key(|k| k.serialize());
        params.validate()?;
        let committee = Committee::new(params.committee.clone()).map_err(|e| GraphError::Committee(e.to_string()))?;
        let nofn = committee.script_key();
        let vault_spk = committee.vault_script_pubkey();

        // ---- peg-in ----
        let (deposit, deposit_conn) = build_deposit(&secp, &params, &nofn)?;
        let deposit_out = InputInfo {
            prevout: deposit.tx.output[0].clone(),
            path: SpendPath::leaf(&deposit_conn, leaf::DEPOSIT_CONFIRM),
        };
        let refund = GraphTx {
            kind: TxKind::DepositRefund,
            tx: tx(
                OPEN,
                vec![txin(deposit.outpoint(0), Sequence::from_height(params.timelocks.deposit_refund))],
                vec![output(
                    sub(params.deposit_amount, params.fees.refund_fee, "refund")?,
                    params.depositor_refund_script.clone(),
                    "refund output",
                )?],
            ),
            inputs: vec![InputInfo {
                prevout: deposit_out.prevout.clone(),
                path: SpendPath::leaf(&deposit_conn, leaf::DEPOSIT_REFUND),
            }],
        };
        let vault_value = sub(params.deposit_amount, params.fees.anchor_value, "vault")?;
        let confirm = GraphTx {
            kind: TxKind::PegInConfirm,
            tx: tx(
                TRUC,
                vec![txin(deposit.outpoint(0), NO_LOCK)],
                vec![output(vault_value, vault_spk.clone(), "vault")?, anchor(&params)],
            ),
            inputs: vec![deposit_out],
        };
        let vault_in = InputInfo {
            prevout: confirm.tx.output[0].clone(),
            path: SpendPath::VaultKeyPath,
        };
        let vault_outpoint = confirm.outpoint(0);
        let peg_in = PegIn { deposit, refund, confirm };

        // ---- peg-outs ----
        let mut peg_outs = Vec::with_capacity(params.operators.len());
        for (oi, op) in params.operators.iter().enumerate() {
            peg_outs.push(build_peg_out(&secp, &params, oi, op, &nofn, &vault_in, vault_outpoint)?);
        }

        for po in &peg_outs {
            for t in po.transactions() {
                let limit = match t.tx.version {
                    TRUC => budget::TRUC_MAX_WEIGHT,
                    _ if matches!(t.kind, TxKind::AssertFinal | TxKind::Assert(_) | TxKind::AssertLane(_)) => budget::STANDARD_MAX_WEIGHT,
                    _ => continue,
                };
                let w = t.min_weight();
                if w > limit {
                    return Err(GraphError::TooHeavy { tx: format!("operator {}: {}", po.operator, t.kind), weight: w, limit });
                }
            }
        }

        let mut g = Graph { params, committee, peg_in, peg_outs, id: GraphId([0; 32]) };
        g.id = g.compute_id();
        Ok(g)
    }

    /// The canonical parameters (committee sorted).
    pub fn params(&self) -> &GraphParams {
        &self.params
    }

    /// The committee's MuSig2 contexts.
    pub fn committee(&self) -> &Committee {
        &self.committee
    }

    /// The graph id: tagged hash of the canonical parameter encoding and every transaction.
    pub fn id(&self) -> GraphId {
        self.id
    }

    /// Id of one operator's peg-out graph (binds the deposit graph id and its transactions).
    pub fn peg_out_id(&self, operator: usize) -> Result<GraphId, GraphError> {
        let po = self.peg_out(operator)?;
        let mut parts: Vec<Vec<u8>> = vec![self.id.0.to_vec(), (operator as u32).to_le_bytes().to_vec()];
        for t in po.transactions() {
            parts.push(bitcoin::consensus::serialize(&t.tx));
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        Ok(GraphId(tagged_hash("bitvm2/txgraph/peg-out-id", &refs)))
    }

    fn compute_id(&self) -> GraphId {
        let mut parts: Vec<Vec<u8>> = vec![crate::encode::encode_params(&self.params)];
        for t in self.transactions() {
            parts.push(bitcoin::consensus::serialize(&t.tx));
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        GraphId(tagged_hash("bitvm2/txgraph/graph-id", &refs))
    }

    /// Every transaction in canonical order: peg-in, then each peg-out graph.
    pub fn transactions(&self) -> Vec<&GraphTx> {
        let mut v = vec![&self.peg_in.deposit, &self.peg_in.refund, &self.peg_in.confirm];
        for po in &self.peg_outs {
            v.extend(po.transactions());
        }
        v
    }

    /// Peg-out graph of operator `i`.
    pub fn peg_out(&self, i: usize) -> Result<&PegOut, GraphError> {
        self.peg_outs.get(i).ok_or(GraphError::OutOfRange { what: "operator", index: i, len: self.peg_outs.len() })
    }

    /// The transaction a task refers to.
    pub fn tx(&self, operator: Option<u32>, kind: TxKind) -> Result<&GraphTx, GraphError> {
        match operator {
            None => match kind {
                TxKind::Deposit => Ok(&self.peg_in.deposit),
                TxKind::DepositRefund => Ok(&self.peg_in.refund),
                TxKind::PegInConfirm => Ok(&self.peg_in.confirm),
                _ => Err(GraphError::NoSuchTx(format!("{kind} in the peg-in"))),
            },
            Some(o) => {
                let po = self.peg_out(o as usize)?;
                po.get(kind).ok_or_else(|| GraphError::NoSuchTx(format!("{kind} of operator {o}")))
            }
        }
    }

    fn task(&self, id: TaskId, signer: Signer, ty: TapSighashType) -> Result<SigningTask, GraphError> {
        let t = self.tx(id.operator, id.tx)?;
        let sighash = t.sighash(id.input as usize, ty)?;
        let key_path = matches!(t.inputs[id.input as usize].path, SpendPath::VaultKeyPath);
        Ok(SigningTask { id, signer, sighash, sighash_type: ty, key_path })
    }

    /// The committee's tasks for the peg-in (PegInConfirm input 0).
    pub fn peg_in_committee_tasks(&self) -> Result<Vec<SigningTask>, GraphError> {
        Ok(vec![self.task(
            TaskId { operator: None, tx: TxKind::PegInConfirm, input: 0 },
            Signer::Committee,
            TapSighashType::Default,
        )?])
    }

    /// The depositor's tasks: PegInConfirm input 0 and DepositRefund input 0.
    pub fn depositor_tasks(&self) -> Result<Vec<SigningTask>, GraphError> {
        Ok(vec![
            self.task(TaskId { operator: None, tx: TxKind::PegInConfirm, input: 0 }, Signer::Depositor, TapSighashType::Default)?,
            self.task(TaskId { operator: None, tx: TxKind::DepositRefund, input: 0 }, Signer::Depositor, TapSighashType::Default)?,
        ])
    }

    /// The committee's tasks for operator `i`'s peg-out graph, in canonical order.
    pub fn peg_out_committee_tasks(&self, i: usize) -> Result<Vec<SigningTask>, GraphError> {
        let po = self.peg_out(i)?;
        let op = Some(i as u32);
        let mut v = Vec::new();
        let push = |kind: TxKind, n_inputs: usize, ty: TapSighashType, v: &mut Vec<SigningTask>| -> Result<(), GraphError> {
            for input in 0..n_inputs {
                v.push(self.task(TaskId { operator: op, tx: kind, input: input as u32 }, Signer::Committee, ty)?);
            }
            Ok(())
        };
        let d = TapSighashType::Default;
        push(TxKind::Take1, 3, d, &mut v)?;
        push(TxKind::AssertInitial, 1, d, &mut v)?;
        // Input 0 (the carry) only: SIGHASH_DEFAULT commits to every assert output it joins.
        push(TxKind::AssertFinal, 1, d, &mut v)?;
        push(TxKind::Take2, po.take2.inputs.len(), d, &mut v)?;
        // Input 0 (the stake) only: the leaf spend of input 1 needs no signature.
        push(TxKind::Disprove, 1, SINGLE, &mut v)?;
        push(TxKind::KickoffTimeout, 1, SINGLE_ACP, &mut v)?;
        push(TxKind::AssertTimeout, 1, SINGLE_ACP, &mut v)?;
        Ok(v)
    }

    /// Operator `i`'s own signatures, in the order they are made: Challenge (at setup, with
    /// SINGLE|ANYONECANPAY) and, when it acts, Kickoff, AssertInitial, every assert lane,
    /// every assert input and AssertFinal's assert inputs (1..).
    pub fn operator_tasks(&self, i: usize) -> Result<Vec<SigningTask>, GraphError> {
        self.operator_inputs(i)?.into_iter().map(|(tx, input)| self.operator_task_unchecked(i, tx, input)).collect()
    }

    /// One of [`Graph::operator_tasks`], computed alone: an operator signing one assert input
    /// hashes that transaction, not the hundreds of a Groth16 assertion. A transaction or
    /// input the operator does not sign is [`GraphError::NoSuchTx`].
    pub fn operator_task(&self, i: usize, tx: TxKind, input: u32) -> Result<SigningTask, GraphError> {
        if !self.operator_inputs(i)?.contains(&(tx, input)) {
            return Err(GraphError::NoSuchTx(format!("operator {i}'s signature on {tx} input {input}")));
        }
        self.operator_task_unchecked(i, tx, input)
    }

    /// The (transaction, input) pairs operator `i` signs, in the order of
    /// [`Graph::operator_tasks`] (no hashing: cheap to list).
    fn operator_inputs(&self, i: usize) -> Result<Vec<(TxKind, u32)>, GraphError> {
        let po = self.peg_out(i)?;
        let mut ids = vec![(TxKind::Challenge, 0), (TxKind::Kickoff, 0), (TxKind::AssertInitial, 0)];
        ids.extend((0..po.lanes.len()).map(|l| (TxKind::AssertLane(l as u32), 0)));
        for (k, a) in po.asserts.iter().enumerate() {
            ids.extend((0..a.inputs.len()).map(|j| (TxKind::Assert(k as u32), j as u32)));
        }
        ids.extend((1..po.assert_final.inputs.len()).map(|j| (TxKind::AssertFinal, j as u32)));
        Ok(ids)
    }

    fn operator_task_unchecked(&self, i: usize, tx: TxKind, input: u32) -> Result<SigningTask, GraphError> {
        let ty = if tx == TxKind::Challenge { SINGLE_ACP } else { TapSighashType::Default };
        self.task(TaskId { operator: Some(i as u32), tx, input }, Signer::Operator, ty)
    }

    /// Checks that `sigs` holds a valid committee signature for every one of `tasks` (what a
    /// depositor checks for every peg-out graph before it signs PegInConfirm). Names the first
    /// missing or invalid task.
    pub fn verify_committee_signatures(&self, tasks: &[SigningTask], sigs: &Signatures) -> Result<(), GraphError> {
        let secp = Secp256k1::verification_only();
        for t in tasks {
            let s = sigs.get(&t.id).ok_or_else(|| GraphError::Signatures(format!("missing signature for {}", t.id)))?;
            let key = self.committee.task_key(t);
            secp.verify_schnorr(s, &bitcoin::secp256k1::Message::from_digest(t.sighash), &key)
                .map_err(|_| GraphError::Signatures(format!("invalid signature for {}", t.id)))?;
        }
        Ok(())
    }

    /// Checks a single-key signature (operator or depositor) for `task`. The committee checks the
    /// operator's Challenge signature before it presigns a peg-out graph: without a valid one
    /// nobody could challenge, and Take1 would be unconditional.
    pub fn verify_single_signature(&self, task: &SigningTask, sig: &schnorr::Signature) -> Result<(), GraphError> {
        let key = match (task.signer, task.id.operator) {
            (Signer::Operator, Some(o)) => self.params.operators.get(o as usize).map(|op| op.key),
            (Signer::Depositor, None) => Some(self.params.depositor),
            _ => None,
        }
        .ok_or_else(|| GraphError::Signatures(format!("{} is not a single-key task", task.id)))?;
        let secp = Secp256k1::verification_only();
        secp.verify_schnorr(sig, &bitcoin::secp256k1::Message::from_digest(task.sighash), &key.x_only_public_key().0)
            .map_err(|_| GraphError::Signatures(format!("invalid signature for {}", task.id)))
    }

    /// Whether operator `i`'s peg-out graph is fully presigned by `sigs`.
    pub fn verify_peg_out_presigned(&self, i: usize, sigs: &Signatures) -> Result<(), GraphError> {
        self.verify_committee_signatures(&self.peg_out_committee_tasks(i)?, sigs)
    }

    // ---------------------------------------------------------------- completion

    /// DepositRefund signed by the depositor.
    pub fn refund_tx(&self, depositor_sig: &schnorr::Signature) -> Transaction {
        self.peg_in.refund.clone().with_witness(0, vec![depositor_sig.as_ref().to_vec()]).tx
    }

    /// PegInConfirm with the committee's and the depositor's signatures.
    pub fn peg_in_confirm_tx(&self, sigs: &Signatures, depositor_sig: &schnorr::Signature) -> Result<Transaction, GraphError> {
        let nofn = get(sigs, TaskId { operator: None, tx: TxKind::PegInConfirm, input: 0 })?;
        Ok(self.peg_in.confirm.clone().with_witness(0, vec![depositor_sig.as_ref().to_vec(), nofn.to_vec()]).tx)
    }

    /// Kickoff with the operator's signature and the claim commitment's witness (bottom first).
    pub fn kickoff_tx(&self, i: usize, operator_sig: &schnorr::Signature, claim_witness: Vec<Vec<u8>>) -> Result<Transaction, GraphError> {
        let mut items = claim_witness;
        items.push(operator_sig.as_ref().to_vec());
        Ok(self.peg_out(i)?.kickoff.clone().with_witness(0, items).tx)
    }

    /// Challenge input 0 and output 0 signed by the operator (SINGLE|ANYONECANPAY): a challenger
    /// appends its own inputs (to pay output 0's premium and the fee) and outputs.
    pub fn challenge_tx(&self, i: usize, operator_sig: &schnorr::Signature) -> Result<Transaction, GraphError> {
        Ok(self.peg_out(i)?.challenge.clone().with_witness(0, vec![sig_bytes(operator_sig, SINGLE_ACP)]).tx)
    }

    /// Take1, fully presigned.
    pub fn take1_tx(&self, i: usize, sigs: &Signatures) -> Result<Transaction, GraphError> {
        let po = self.peg_out(i)?;
        let mut t = po.take1.clone();
        for input in 0..3 {
            let s = get(sigs, TaskId { operator: Some(i as u32), tx: TxKind::Take1, input })?;
            t = t.with_witness(input as usize, vec![s]);
        }
        Ok(t.tx)
    }

    /// AssertInitial with the operator's signature.
    pub fn assert_initial_tx(&self, i: usize, sigs: &Signatures, operator_sig: &schnorr::Signature) -> Result<Transaction, GraphError> {
        let po = self.peg_out(i)?;
        let s = get(sigs, TaskId { operator: Some(i as u32), tx: TxKind::AssertInitial, input: 0 })?;
        // leaf: <nofn> CHECKSIGVERIFY <op> CHECKSIG  => witness [op_sig, nofn_sig]
        Ok(po.assert_initial.clone().with_witness(0, vec![operator_sig.as_ref().to_vec(), s]).tx)
    }

    /// Assert lane `l` with the operator's signature.
    pub fn assert_lane_tx(&self, i: usize, l: usize, operator_sig: &schnorr::Signature) -> Result<Transaction, GraphError> {
        let po = self.peg_out(i)?;
        let t = po.lanes.get(l).ok_or(GraphError::OutOfRange { what: "assert lane", index: l, len: po.lanes.len() })?;
        Ok(t.clone().with_witness(0, vec![operator_sig.as_ref().to_vec()]).tx)
    }

    /// Assert transaction `k`: per input the commitment witness (bottom first) and the
    /// operator's signature.
    pub fn assert_tx(
        &self,
        i: usize,
        k: usize,
        operator_sigs: &[schnorr::Signature],
        commitment_witnesses: Vec<Vec<Vec<u8>>>,
    ) -> Result<Transaction, GraphError> {
        let po = self.peg_out(i)?;
        let mut t = po
            .asserts
            .get(k)
            .ok_or(GraphError::OutOfRange { what: "assert", index: k, len: po.asserts.len() })?
            .clone();
        let n = t.inputs.len();
        if operator_sigs.len() != n || commitment_witnesses.len() != n {
            return Err(GraphError::Signatures(format!(
                "assert {k} has {n} inputs, got {} operator signatures and {} witnesses",
                operator_sigs.len(),
                commitment_witnesses.len()
            )));
        }
        for (j, mut items) in commitment_witnesses.into_iter().enumerate() {
            items.push(operator_sigs[j].as_ref().to_vec());
            t = t.with_witness(j, items);
        }
        Ok(t.tx)
    }

    /// AssertFinal: the committee's presigned carry input and the operator's signatures of the
    /// assert outputs (inputs 1.., in order).
    pub fn assert_final_tx(&self, i: usize, sigs: &Signatures, operator_sigs: &[schnorr::Signature]) -> Result<Transaction, GraphError> {
        let po = self.peg_out(i)?;
        let mut t = po.assert_final.clone();
        let n = t.inputs.len() - 1;
        if operator_sigs.len() != n {
            return Err(GraphError::Signatures(format!("AssertFinal joins {n} asserts, got {} operator signatures", operator_sigs.len())));
        }
        let s = get(sigs, TaskId { operator: Some(i as u32), tx: TxKind::AssertFinal, input: 0 })?;
        t = t.with_witness(0, vec![s]);
        for (j, sig) in operator_sigs.iter().enumerate() {
            t = t.with_witness(j + 1, vec![sig.as_ref().to_vec()]);
        }
        Ok(t.tx)
    }

    /// Take2, fully presigned.
    pub fn take2_tx(&self, i: usize, sigs: &Signatures) -> Result<Transaction, GraphError> {
        self.all_committee(i, TxKind::Take2, sigs)
    }

    /// KickoffTimeout input 0 and output 0 (SINGLE|ANYONECANPAY): the publisher adds a fee
    /// input and takes the watcher reward in its own output.
    pub fn kickoff_timeout_tx(&self, i: usize, sigs: &Signatures) -> Result<Transaction, GraphError> {
        self.all_committee(i, TxKind::KickoffTimeout, sigs)
    }

    /// AssertTimeout input 0 and output 0 (SINGLE|ANYONECANPAY), like KickoffTimeout.
    pub fn assert_timeout_tx(&self, i: usize, sigs: &Signatures) -> Result<Transaction, GraphError> {
        self.all_committee(i, TxKind::AssertTimeout, sigs)
    }

    /// Disprove through disprove leaf `leaf`, whose script the disprover brings (it must hash
    /// to the graph's leaf) with the leaf's witness (bottom first). Inputs: 0 the stake (the
    /// committee's SIGHASH_SINGLE signature), 1 the assert connector through the leaf; output 0
    /// the burn. The disprover appends its reward output (paying the fee from the reward); it
    /// cannot add inputs, since the committee's signature commits to both.
    pub fn disprove_tx(
        &self,
        i: usize,
        leaf: usize,
        script: &ScriptBuf,
        sigs: &Signatures,
        leaf_witness: Vec<Vec<u8>>,
    ) -> Result<Transaction, GraphError> {
        let po = self.peg_out(i)?;
        let hashes = &self.params.operators[i].disprove.disprove_leaves;
        let want = hashes.get(leaf).ok_or(GraphError::OutOfRange { what: "disprove leaf", index: leaf, len: hashes.len() })?;
        if TapLeafHash::from_script(script, LeafVersion::TapScript) != *want {
            return Err(GraphError::WrongLeafScript { operator: i, leaf });
        }
        let s = get(sigs, TaskId { operator: Some(i as u32), tx: TxKind::Disprove, input: 0 })?;
        let mut t = po.disprove.clone().with_witness(0, vec![s]);
        let mut w = Witness::new();
        for item in leaf_witness {
            w.push(item);
        }
        w.push(script.as_bytes());
        w.push(po.assert_connector.control_block(leaf::disprove(leaf)).serialize());
        t.tx.input[1].witness = w;
        Ok(t.tx)
    }

    fn all_committee(&self, i: usize, kind: TxKind, sigs: &Signatures) -> Result<Transaction, GraphError> {
        let mut t = self.tx(Some(i as u32), kind)?.clone();
        for input in 0..t.inputs.len() {
            let s = get(sigs, TaskId { operator: Some(i as u32), tx: kind, input: input as u32 })?;
            t = t.with_witness(input, vec![s]);
        }
        Ok(t.tx)
    }
}

/// A signature as it goes in a witness: 64 bytes for Default, 65 with the type byte otherwise.
pub fn sig_bytes(sig: &schnorr::Signature, ty: TapSighashType) -> Vec<u8> {
    bitcoin::taproot::Signature { signature: *sig, sighash_type: ty }.to_vec()
}

/// The committee signature of a task, serialized for its witness.
fn get(sigs: &Signatures, id: TaskId) -> Result<Vec<u8>, GraphError> {
    let s = sigs.get(&id).ok_or_else(|| GraphError::Signatures(format!("missing signature for {id}")))?;
    let ty = match id.tx {
        TxKind::Disprove => SINGLE,
        TxKind::KickoffTimeout | TxKind::AssertTimeout | TxKind::Challenge => SINGLE_ACP,
        _ => TapSighashType::Default,
    };
    Ok(sig_bytes(s, ty))
}

fn build_peg_out<C: Verification>(
    secp: &Secp256k1<C>,
    params: &GraphParams,
    oi: usize,
    op: &OperatorParams,
    nofn: &XOnlyPublicKey,
    vault_in: &InputInfo,
    vault_outpoint: OutPoint,
) -> Result<PegOut, GraphError> {
    let tl = params.timelocks;
    let fees = params.fees;
    let opk = op.key.x_only_public_key().0;
    let ds = &op.disprove;
    let name = |s: &str| format!("operator {oi}: {s}");

    let mut commitments = Vec::with_capacity(ds.assert_count());
    for per_tx in &ds.assert_commitments {
        let mut row = Vec::with_capacity(per_tx.len());
        for c in per_tx {
            row.push(Connector::new(secp, vec![scripts::signed_commitment(None, &opk, c)])?);
        }
        commitments.push(row);
    }
    let mut assert_leaves = vec![Leaf::Script(scripts::csv_checksig(tl.take2, nofn))];
    assert_leaves.extend(ds.disprove_leaves.iter().map(|h| Leaf::Hash(*h)));
    let c = OpConnectors {
        claim: claim_connector(secp, op)?,
        challenge: Connector::new(secp, vec![scripts::checksig(&opk), scripts::csv_checksig(tl.take1, nofn)])?,
        stake: Connector::new(
            secp,
            vec![scripts::two_sigs(nofn, &opk), scripts::checksig(nofn), scripts::csv_checksig(tl.assert_timeout, nofn)],
        )?,
        carry: Connector::new(secp, vec![scripts::checksig(nofn), scripts::csv_checksig(tl.assert_timeout, nofn)])?,
        lane: Connector::new(secp, vec![scripts::checksig(&opk)])?,
        commitments,
        assert_out: Connector::new(secp, vec![scripts::checksig(&opk)])?,
        assert_conn: Connector::with_leaves(secp, assert_leaves)?,
        stake_out: Connector::new(secp, vec![scripts::checksig(nofn)])?,
    };

    // Kickoff
    let need = kickoff_funding_amount(params, op)?;
    if op.kickoff_funding.txout.value != need {
        return Err(GraphError::BadKickoffFunding {
            operator: oi,
            reason: format!("carries {}, must carry exactly {need}", op.kickoff_funding.txout.value),
        });
    }
    if op.kickoff_funding.txout.script_pubkey != c.claim.script_pubkey() {
        return Err(GraphError::BadKickoffFunding {
            operator: oi,
            reason: "does not pay the claim script of this operator and claim commitment".into(),
        });
    }
    let kickoff = GraphTx {
        kind: TxKind::Kickoff,
        tx: tx(
            TRUC,
            vec![txin(op.kickoff_funding.outpoint, NO_LOCK)],
            vec![
                output(fees.connector_value, c.challenge.script_pubkey(), name("challenge connector"))?,
                output(op.stake, c.stake.script_pubkey(), name("stake connector"))?,
                anchor(params),
            ],
        ),
        inputs: vec![InputInfo { prevout: op.kickoff_funding.txout.clone(), path: SpendPath::leaf(&c.claim, 0) }],
    };
    let conn_a = InputInfo { prevout: kickoff.tx.output[0].clone(), path: SpendPath::leaf(&c.challenge, leaf::CHALLENGE) };
    let conn_b = |l| InputInfo { prevout: kickoff.tx.output[1].clone(), path: SpendPath::leaf(&c.stake, l) };

    // Challenge
    let challenge = GraphTx {
        kind: TxKind::Challenge,
        tx: tx(
            OPEN,
            vec![txin(kickoff.outpoint(0), NO_LOCK)],
            vec![output(
                add(fees.connector_value, op.challenge_amount, "challenge")?,
                op.payout_script.clone(),
                name("challenge payment"),
            )?],
        ),
        inputs: vec![conn_a.clone()],
    };

    // Take1
    let take1_in = vec![
        vault_in.clone(),
        InputInfo { prevout: conn_a.prevout.clone(), path: SpendPath::leaf(&c.challenge, leaf::CHALLENGE_TAKE1) },
        conn_b(leaf::STAKE_TAKE1),
    ];
    let take1_value = sub(sum(take1_in.iter().map(|i| i.prevout.value), "take1")?, fees.anchor_value, "take1")?;
    let take1 = GraphTx {
        kind: TxKind::Take1,
        tx: tx(
            TRUC,
            vec![
                txin(vault_outpoint, NO_LOCK),
                txin(kickoff.outpoint(0), Sequence::from_height(tl.take1)),
                txin(kickoff.outpoint(1), NO_LOCK),
            ],
            vec![output(take1_value, op.payout_script.clone(), name("take1 payout"))?, anchor(params)],
        ),
        inputs: take1_in,
    };

    // AssertInitial: the carry and one output per lane.
    let n_commit = ds.commitment_count();
    let lane_sizes: Vec<usize> = (0..n_commit).step_by(budget::LANE_MAX_OUTPUTS).map(|s| (n_commit - s).min(budget::LANE_MAX_OUTPUTS)).collect();
    let lane_values = lane_sizes
        .iter()
        .map(|&n| add(mul(fees.connector_value, n, "lane outputs")?, fees.anchor_value, "lane"))
        .collect::<Result<Vec<_>, _>>()?;
    let lanes_total = sum(lane_values.iter().copied(), "lanes")?;
    let carry_value = sub(sub(op.stake, lanes_total, "stake minus assert lanes")?, fees.anchor_value, "carry")?;
    let mut ai_outs = vec![output(carry_value, c.carry.script_pubkey(), name("assert carry (stake minus lanes and anchor)"))?];
    for v in &lane_values {
        ai_outs.push(output(*v, c.lane.script_pubkey(), name("assert lane"))?);
    }
    ai_outs.push(anchor(params));
    let assert_initial = GraphTx {
        kind: TxKind::AssertInitial,
        tx: tx(TRUC, vec![txin(kickoff.outpoint(1), NO_LOCK)], ai_outs),
        inputs: vec![conn_b(leaf::STAKE_ASSERT)],
    };

    // Lanes: the commitment outputs, in (assert, input) order.
    let flat: Vec<&Connector> = c.commitments.iter().flatten().collect();
    let mut lanes = Vec::with_capacity(lane_sizes.len());
    let mut commit_at = Vec::with_capacity(n_commit); // (lane, vout) of each commitment output
    for (l, chunk) in flat.chunks(budget::LANE_MAX_OUTPUTS).enumerate() {
        let mut outs = Vec::with_capacity(chunk.len() + 1);
        for (j, conn) in chunk.iter().enumerate() {
            outs.push(output(fees.connector_value, conn.script_pubkey(), name("commitment output"))?);
            commit_at.push((l, j as u32));
        }
        outs.push(anchor(params));
        lanes.push(GraphTx {
            kind: TxKind::AssertLane(l as u32),
            tx: tx(ASSERT_VERSION, vec![txin(assert_initial.outpoint(1 + l as u32), NO_LOCK)], outs),
            inputs: vec![InputInfo { prevout: assert_initial.tx.output[1 + l].clone(), path: SpendPath::leaf(&c.lane, 0) }],
        });
    }

    // Asserts
    let mut asserts = Vec::with_capacity(ds.assert_count());
    let mut next = commit_at.into_iter();
    for (k, row) in c.commitments.iter().enumerate() {
        let mut ins = Vec::new();
        let mut infos = Vec::new();
        for conn in row {
            let (l, vout) = next.next().expect("one output per commitment");
            ins.push(txin(lanes[l].outpoint(vout), NO_LOCK));
            infos.push(InputInfo { prevout: lanes[l].tx.output[vout as usize].clone(), path: SpendPath::leaf(conn, 0) });
        }
        let value = sub(sum(infos.iter().map(|i| i.prevout.value), "assert")?, fees.anchor_value, "assert output")?;
        asserts.push(GraphTx {
            kind: TxKind::Assert(k as u32),
            tx: tx(ASSERT_VERSION, ins, vec![output(value, c.assert_out.script_pubkey(), name(&format!("assert {k} output")))?, anchor(params)]),
            inputs: infos,
        });
    }

    // AssertFinal
    let mut af_in = vec![txin(assert_initial.outpoint(0), NO_LOCK)];
    let mut af_info = vec![InputInfo {
        prevout: assert_initial.tx.output[0].clone(),
        path: SpendPath::leaf(&c.carry, leaf::CARRY_FINAL),
    }];
    for a in &asserts {
        af_in.push(txin(a.outpoint(0), NO_LOCK));
        af_info.push(InputInfo { prevout: a.tx.output[0].clone(), path: SpendPath::leaf(&c.assert_out, 0) });
    }
    let joined = sum(af_info.iter().map(|i| i.prevout.value), "assert final")?;
    let stake_value = sub(sub(joined, fees.connector_value, "assert final")?, fees.anchor_value, "stake output")?;
    let assert_final = GraphTx {
        kind: TxKind::AssertFinal,
        tx: tx(
            ASSERT_VERSION,
            af_in,
            vec![
                output(fees.connector_value, c.assert_conn.script_pubkey(), name("assert connector"))?,
                output(stake_value, c.stake_out.script_pubkey(), name("stake after the asserts"))?,
                anchor(params),
            ],
        ),
        inputs: af_info,
    };
    let conn_d = InputInfo { prevout: assert_final.tx.output[0].clone(), path: SpendPath::leaf(&c.assert_conn, leaf::ASSERT_TAKE2) };
    let stake_in = InputInfo { prevout: assert_final.tx.output[1].clone(), path: SpendPath::leaf(&c.stake_out, 0) };

    // Take2
    let take2_in = vec![vault_in.clone(), conn_d, stake_in.clone()];
    let take2_value = sub(sum(take2_in.iter().map(|i| i.prevout.value), "take2")?, fees.anchor_value, "take2")?;
    let take2 = GraphTx {
        kind: TxKind::Take2,
        tx: tx(
            TRUC,
            vec![
                txin(vault_outpoint, NO_LOCK),
                txin(assert_final.outpoint(0), Sequence::from_height(tl.take2)),
                txin(assert_final.outpoint(1), NO_LOCK),
            ],
            vec![output(take2_value, op.payout_script.clone(), name("take2 payout"))?, anchor(params)],
        ),
        inputs: take2_in,
    };

    // Disprove: one transaction for every leaf. The committee's signature on the stake input
    // commits to both prevouts, so it only works next to a spend of the assert connector, and
    // the only such spend other than Take2 (which needs the committee's own signature) is
    // through a disprove leaf.
    let disprove_in = add(stake_value, fees.connector_value, "disprove inputs")?;
    let burn_d = sub(disprove_in, op.disprover_reward, &name("disprove burn (stake and connector minus reward)"))?;
    let disprove = GraphTx {
        kind: TxKind::Disprove,
        tx: tx(OPEN, vec![txin(assert_final.outpoint(1), NO_LOCK), txin(assert_final.outpoint(0), NO_LOCK)], vec![burn(burn_d)]),
        inputs: vec![
            stake_in,
            InputInfo { prevout: assert_final.tx.output[0].clone(), path: SpendPath::DisproveLeaf },
        ],
    };

    // Timeouts
    let kickoff_timeout = GraphTx {
        kind: TxKind::KickoffTimeout,
        tx: tx(
            OPEN,
            vec![txin(kickoff.outpoint(1), Sequence::from_height(tl.assert_timeout))],
            vec![burn(sub(op.stake, op.watcher_reward, &name("kickoff timeout burn"))?)],
        ),
        inputs: vec![conn_b(leaf::STAKE_TIMEOUT)],
    };
    let assert_timeout = GraphTx {
        kind: TxKind::AssertTimeout,
        tx: tx(
            OPEN,
            vec![txin(assert_initial.outpoint(0), Sequence::from_height(tl.assert_timeout))],
            vec![burn(sub(carry_value, op.watcher_reward, &name("assert timeout burn"))?)],
        ),
        inputs: vec![InputInfo {
            prevout: assert_initial.tx.output[0].clone(),
            path: SpendPath::leaf(&c.carry, leaf::CARRY_TIMEOUT),
        }],
    };

    Ok(PegOut {
        operator: oi as u32,
        kickoff,
        challenge,
        take1,
        assert_initial,
        lanes,
        asserts,
        assert_final,
        take2,
        disprove,
        assert_connector: c.assert_conn,
        kickoff_timeout,
        assert_timeout,
    })
}
