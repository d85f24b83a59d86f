//! Parameters of a deposit graph: who signs, how much, which timelocks, which fees, and the
//! disprove program's scripts taken as plain data.

use bitcoin::taproot::TapLeafHash;
use bitcoin::{Amount, Network, OutPoint, ScriptBuf, TxOut};
use secp256k1::PublicKey;
use serde::{Deserialize, Serialize};

use crate::error::GraphError;

/// A coin a party brings into the graph: where it is and what it is (value and script are needed
/// for taproot sighashes). Its script must be a witness program so that the spending
/// transaction's id does not depend on its signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundingInput {
    /// The coin.
    pub outpoint: OutPoint,
    /// Its value and script.
    pub txout: TxOut,
}

/// Relative timelocks in blocks (BIP-68/112). Regtest defaults are a few blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timelocks {
    /// Deposit -> DepositRefund: how long the committee has to confirm the peg-in.
    pub deposit_refund: u16,
    /// Kickoff -> Take1: the challenge window.
    pub take1: u16,
    /// Kickoff -> KickoffTimeout and AssertInitial -> AssertTimeout: how long a challenged
    /// operator has to start (and then to finish) its assertion. Must exceed `take1`.
    pub assert_timeout: u16,
    /// AssertFinal -> Take2: the disprove window.
    pub take2: u16,
}

impl Timelocks {
    /// Regtest defaults: a few blocks each.
    pub const REGTEST: Timelocks =
        Timelocks { deposit_refund: 12, take1: 3, assert_timeout: 6, take2: 3 };

    /// Checks every timelock is usable and that the timeout comes after the challenge window.
    pub fn validate(&self) -> Result<(), GraphError> {
        for (name, v) in [
            ("deposit_refund", self.deposit_refund),
            ("take1", self.take1),
            ("assert_timeout", self.assert_timeout),
            ("take2", self.take2),
        ] {
            if v == 0 {
                return Err(GraphError::BadTimelock { name, reason: "must be at least 1 block" });
            }
        }
        if self.assert_timeout <= self.take1 {
            return Err(GraphError::BadTimelock {
                name: "assert_timeout",
                reason: "must be longer than take1, or an unchallenged operator could be slashed before it may take",
            });
        }
        Ok(())
    }
}

/// How fees are paid and which small values connectors carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeePolicy {
    /// Value of the P2A anchor on presigned (TRUC) transactions. Zero makes it an ephemeral
    /// anchor: the parent pays no fee and the child that spends the anchor pays for both.
    /// Nonzero values must be at least 240 sat (P2A dust limit).
    pub anchor_value: Amount,
    /// Fee the depositor leaves in the Deposit transaction.
    pub deposit_fee: Amount,
    /// Fee the depositor leaves in DepositRefund.
    pub refund_fee: Amount,
    /// Value of small connector outputs (the challenge connector, assert commitment outputs).
    pub connector_value: Amount,
}

impl Default for FeePolicy {
    fn default() -> Self {
        FeePolicy {
            anchor_value: Amount::ZERO,
            deposit_fee: Amount::from_sat(2_000),
            refund_fee: Amount::from_sat(2_000),
            connector_value: Amount::from_sat(330),
        }
    }
}

/// P2A dust limit (Bitcoin Core, 3 sat/vB dust relay fee).
pub const P2A_DUST: Amount = Amount::from_sat(240);

/// The Winternitz commitment to the claim data (deposit, payout txid) that the operator reveals in
/// Kickoff. The graph does not look inside: `script` consumes its witness items, checks them and
/// leaves nothing on the stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimCommitment {
    /// Checks the claim commitment; leaves nothing.
    pub script: ScriptBuf,
}

/// The disprove program as plain data (from `crates/disprove` or any other program).
///
/// * `assert_commitments[k][j]` is the script of input `j` of assert transaction `k`: it consumes
///   its witness items (Winternitz signatures of some committed values), checks them and leaves
///   nothing. The graph wraps it with `<operator> CHECKSIGVERIFY ... OP_1` so only the operator
///   can assert, and only in the transaction it signs.
/// * `disprove_leaves[i]` is the tapleaf hash of a script that consumes its witness (the
///   committed values' signatures copied from the assert transactions) and leaves exactly one
///   true element if and only if some committed value is wrong. The leaves sit bare in the
///   assert connector's taptree, next to the Take2 leaf: the graph needs only their hashes (a
///   Groth16 verifier has thousands of leaves, gigabytes of script); a disprover brings the
///   script of the one leaf it spends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisproveScripts {
    /// Per assert transaction, per input: the commitment check.
    pub assert_commitments: Vec<Vec<ScriptBuf>>,
    /// One leaf hash per verification step.
    pub disprove_leaves: Vec<TapLeafHash>,
}

impl DisproveScripts {
    /// Number of assert transactions (between AssertInitial and AssertFinal).
    pub fn assert_count(&self) -> usize {
        self.assert_commitments.len()
    }

    /// Total number of commitment inputs over all assert transactions.
    pub fn commitment_count(&self) -> usize {
        self.assert_commitments.iter().map(Vec::len).sum()
    }

    fn validate(&self) -> Result<(), GraphError> {
        if self.assert_commitments.is_empty() {
            return Err(GraphError::BadDisproveScripts("no assert transaction"));
        }
        if self.assert_commitments.iter().any(Vec::is_empty) {
            return Err(GraphError::BadDisproveScripts("an assert transaction has no commitment input"));
        }
        if self.disprove_leaves.is_empty() {
            return Err(GraphError::BadDisproveScripts("no disprove leaf"));
        }
        if self.disprove_leaves.len() > u32::MAX as usize / 2 {
            return Err(GraphError::BadDisproveScripts("too many disprove leaves"));
        }
        Ok(())
    }
}

/// What one operator brings to a deposit: its key, its stake coin, and its commitments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorParams {
    /// The operator's key (signs Kickoff, Challenge, the asserts).
    pub key: PublicKey,
    /// Where Take1, Take2 and Challenge pay the operator.
    pub payout_script: ScriptBuf,
    /// The coin Kickoff spends. It must pay exactly `stake + connector_value + anchor_value` to
    /// [`crate::claim_funding_script`] for this operator and claim commitment.
    pub kickoff_funding: FundingInput,
    /// Stake the operator loses if it is slashed or disproved.
    pub stake: Amount,
    /// What a challenger pays the operator (on top of the connector value) to challenge.
    pub challenge_amount: Amount,
    /// What a disprover may keep of the stake; the rest is burned.
    pub disprover_reward: Amount,
    /// What a watcher that publishes a timeout may keep; the rest is burned.
    pub watcher_reward: Amount,
    /// Winternitz commitment to the claim data, revealed in Kickoff.
    pub claim: ClaimCommitment,
    /// The disprove program's commitment scripts and leaves for this operator's keys.
    pub disprove: DisproveScripts,
}

/// Everything needed to build one deposit's graph: the peg-in and one peg-out graph per operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphParams {
    /// Network the addresses are for.
    pub network: Network,
    /// Verifier committee keys (the n-of-n). Order does not matter: they are sorted (BIP-327).
    pub committee: Vec<PublicKey>,
    /// The depositor's key.
    pub depositor: PublicKey,
    /// Coins the depositor spends in Deposit (segwit only).
    pub deposit_inputs: Vec<FundingInput>,
    /// Amount locked in the deposit output and then in the vault.
    pub deposit_amount: Amount,
    /// Where the depositor's change goes (if any).
    pub depositor_change_script: ScriptBuf,
    /// Where DepositRefund pays the depositor.
    pub depositor_refund_script: ScriptBuf,
    /// Relative timelocks.
    pub timelocks: Timelocks,
    /// Fee policy.
    pub fees: FeePolicy,
    /// The operators, in the order their peg-out graphs are built.
    pub operators: Vec<OperatorParams>,
}

impl GraphParams {
    /// Checks everything that does not need the transactions.
    pub fn validate(&self) -> Result<(), GraphError> {
        if self.committee.is_empty() {
            return Err(GraphError::EmptyCommittee);
        }
        let mut keys: Vec<[u8; 33]> = self.committee.iter().map(|k| k.serialize()).collect();
        keys.sort();
        if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
            return Err(GraphError::DuplicateKey(hex::encode(w[0])));
        }
        self.timelocks.validate()?;
        let f = &self.fees;
        if f.anchor_value != Amount::ZERO && f.anchor_value < P2A_DUST {
            return Err(GraphError::BelowDust {
                what: "anchor_value (use 0 for an ephemeral anchor or at least 240 sat)".into(),
                value: f.anchor_value,
                dust: P2A_DUST,
            });
        }
        if self.deposit_inputs.is_empty() {
            return Err(GraphError::NoDepositInputs);
        }
        for (i, input) in self.deposit_inputs.iter().enumerate() {
            if !input.txout.script_pubkey.is_witness_program() {
                return Err(GraphError::NonSegwitInput(format!("deposit input {i}")));
            }
        }
        if self.operators.is_empty() {
            return Err(GraphError::NoOperators);
        }
        let mut op_keys: Vec<[u8; 33]> = self.operators.iter().map(|o| o.key.serialize()).collect();
        op_keys.sort();
        if let Some(w) = op_keys.windows(2).find(|w| w[0] == w[1]) {
            return Err(GraphError::DuplicateKey(hex::encode(w[0])));
        }
        for (i, op) in self.operators.iter().enumerate() {
            op.disprove.validate()?;
            if !op.kickoff_funding.txout.script_pubkey.is_witness_program() {
                return Err(GraphError::NonSegwitInput(format!("operator {i} kickoff funding")));
            }
            if op.disprover_reward > op.stake {
                return Err(GraphError::Amount(format!(
                    "operator {i}: disprover_reward {} exceeds stake {}",
                    op.disprover_reward, op.stake
                )));
            }
        }
        Ok(())
    }
}
