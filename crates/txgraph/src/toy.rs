//! A small real program and a key fixture, for tests, benchmarks and demos while the real
//! disprove program (crates/disprove) is being written.
//!
//! The toy statement: committed bits `v_0 .. v_{N-1}` with `v_0 = 1`, `v_1 = 0` and
//! `v_i = v_{i-1} XOR v_{i-2}`. A bit is committed by revealing one of two SHA-256 preimages
//! (a hash lock standing in for a Winternitz digit). Disprove leaf `i - 2` recomputes step `i`
//! from the three revealed preimages and succeeds only if `v_i` is wrong. The claim commitment
//! is a single hash lock.

use bitcoin::hashes::{sha256, Hash};
use bitcoin::opcodes::all::{
    OP_DROP, OP_DUP, OP_ELSE, OP_ENDIF, OP_EQUAL, OP_EQUALVERIFY, OP_FROMALTSTACK, OP_IF, OP_NUMNOTEQUAL,
    OP_SHA256, OP_SWAP, OP_TOALTSTACK, OP_BOOLOR, OP_VERIFY,
};
use bitcoin::script::Builder;
use bitcoin::taproot::{LeafVersion, TapLeafHash};
use bitcoin::secp256k1::{Keypair, Secp256k1, SecretKey};
use bitcoin::{Amount, Network, OutPoint, ScriptBuf, Txid, TxOut};

use crate::graph::{claim_funding_script, kickoff_funding_amount};
use crate::params::{
    ClaimCommitment, DisproveScripts, FeePolicy, FundingInput, GraphParams, OperatorParams, Timelocks,
};
use crate::wallet::p2tr_script;

fn h(parts: &[&[u8]]) -> [u8; 32] {
    let mut v = Vec::new();
    for p in parts {
        v.extend_from_slice(p);
    }
    sha256::Hash::hash(&v).to_byte_array()
}

/// The toy program for one operator: its secrets and layout.
#[derive(Clone, Debug)]
pub struct ToyProgram {
    /// Per committed bit: the preimages for 0 and 1.
    secrets: Vec<[[u8; 32]; 2]>,
    claim_secret: [u8; 32],
    /// Inputs per assert transaction.
    layout: Vec<usize>,
}

impl ToyProgram {
    /// Four bits in two assert transactions of two inputs each: two disprove leaves.
    pub fn new(seed: &[u8]) -> ToyProgram {
        ToyProgram::scaled(seed, 2, 2)
    }

    /// `asserts` transactions of `inputs` commitments each; `asserts * inputs - 2` leaves.
    pub fn scaled(seed: &[u8], asserts: usize, inputs: usize) -> ToyProgram {
        let n = asserts * inputs;
        assert!(n >= 3, "the toy program needs at least 3 committed bits");
        let secrets = (0..n as u64)
            .map(|i| [h(&[seed, b"bit", &i.to_le_bytes(), b"0"]), h(&[seed, b"bit", &i.to_le_bytes(), b"1"])])
            .collect();
        ToyProgram { secrets, claim_secret: h(&[seed, b"claim"]), layout: vec![inputs; asserts] }
    }

    /// Number of committed bits.
    pub fn bits(&self) -> usize {
        self.secrets.len()
    }

    /// The claim commitment: `OP_SHA256 <h> OP_EQUALVERIFY`.
    pub fn claim_commitment(&self) -> ClaimCommitment {
        let hash = sha256::Hash::hash(&self.claim_secret).to_byte_array();
        ClaimCommitment {
            script: Builder::new().push_opcode(OP_SHA256).push_slice(hash).push_opcode(OP_EQUALVERIFY).into_script(),
        }
    }

    /// Witness of the claim commitment.
    pub fn claim_witness(&self) -> Vec<Vec<u8>> {
        vec![self.claim_secret.to_vec()]
    }

    fn hashes(&self, i: usize) -> [[u8; 32]; 2] {
        let s = &self.secrets[i];
        [sha256::Hash::hash(&s[0]).to_byte_array(), sha256::Hash::hash(&s[1]).to_byte_array()]
    }

    /// Commitment check of bit `i`: accepts either preimage, leaves nothing.
    fn commit_script(&self, i: usize) -> ScriptBuf {
        let [h0, h1] = self.hashes(i);
        Builder::new()
            .push_opcode(OP_SHA256)
            .push_opcode(OP_DUP)
            .push_slice(h0)
            .push_opcode(OP_EQUAL)
            .push_opcode(OP_SWAP)
            .push_slice(h1)
            .push_opcode(OP_EQUAL)
            .push_opcode(OP_BOOLOR)
            .push_opcode(OP_VERIFY)
            .into_script()
    }

    /// Replaces the preimage on top by the bit it opens (fails on anything else).
    fn decode(&self, b: Builder, i: usize) -> Builder {
        let [h0, h1] = self.hashes(i);
        b.push_opcode(OP_SHA256)
            .push_opcode(OP_DUP)
            .push_slice(h0)
            .push_opcode(OP_EQUAL)
            .push_opcode(OP_IF)
            .push_opcode(OP_DROP)
            .push_int(0)
            .push_opcode(OP_ELSE)
            .push_slice(h1)
            .push_opcode(OP_EQUALVERIFY)
            .push_int(1)
            .push_opcode(OP_ENDIF)
    }

    /// Disprove leaf `leaf` (step `leaf + 2`), the script a disprover brings.
    pub fn disprove_leaf(&self, leaf: usize) -> ScriptBuf {
        self.leaf_script(leaf + 2)
    }

    /// Disprove leaf for step `i` (`2 <= i < bits`): witness `[p_{i-2}, p_{i-1}, p_i]`.
    fn leaf_script(&self, i: usize) -> ScriptBuf {
        let mut b = self.decode(Builder::new(), i).push_opcode(OP_TOALTSTACK);
        b = self.decode(b, i - 1).push_opcode(OP_TOALTSTACK);
        b = self.decode(b, i - 2);
        b.push_opcode(OP_FROMALTSTACK)
            .push_opcode(OP_NUMNOTEQUAL)
            .push_opcode(OP_FROMALTSTACK)
            .push_opcode(OP_NUMNOTEQUAL)
            .into_script()
    }

    /// The program as the graph takes it.
    pub fn disprove_scripts(&self) -> DisproveScripts {
        let mut assert_commitments = Vec::new();
        let mut i = 0;
        for &m in &self.layout {
            assert_commitments.push((i..i + m).map(|j| self.commit_script(j)).collect());
            i += m;
        }
        let disprove_leaves =
            (2..self.bits()).map(|i| TapLeafHash::from_script(&self.leaf_script(i), LeafVersion::TapScript)).collect();
        DisproveScripts { assert_commitments, disprove_leaves }
    }

    /// The honest values.
    pub fn honest_values(&self) -> Vec<bool> {
        let mut v = vec![true, false];
        for i in 2..self.bits() {
            v.push(v[i - 1] ^ v[i - 2]);
        }
        v
    }

    /// Per assert transaction, per input: the commitment witness for `values`.
    pub fn assert_witnesses(&self, values: &[bool]) -> Vec<Vec<Vec<Vec<u8>>>> {
        let mut out = Vec::new();
        let mut i = 0;
        for &m in &self.layout {
            out.push((i..i + m).map(|j| vec![self.secrets[j][values[j] as usize].to_vec()]).collect());
            i += m;
        }
        out
    }

    /// The first leaf whose step is wrong under `values` (what a verifier finds natively).
    pub fn find_wrong_leaf(&self, values: &[bool]) -> Option<usize> {
        (2..self.bits()).find(|&i| values[i] != values[i - 1] ^ values[i - 2]).map(|i| i - 2)
    }

    /// Witness for disprove leaf `leaf` with the revealed values (copied from the asserts).
    pub fn disprove_witness(&self, values: &[bool], leaf: usize) -> Vec<Vec<u8>> {
        let i = leaf + 2;
        (i - 2..=i).map(|j| self.secrets[j][values[j] as usize].to_vec()).collect()
    }
}

/// Deterministic keys and toy programs for a committee, a depositor and operators.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// Committee members' keys.
    pub committee: Vec<Keypair>,
    /// The depositor's key.
    pub depositor: Keypair,
    /// Operators' keys.
    pub operators: Vec<Keypair>,
    /// One toy program per operator.
    pub programs: Vec<ToyProgram>,
    /// Deposit amount.
    pub deposit_amount: Amount,
    /// Stake per operator.
    pub stake: Amount,
    /// Timelocks.
    pub timelocks: Timelocks,
    /// Fee policy.
    pub fees: FeePolicy,
}

/// A keypair from a label (test keys only).
pub fn test_key(label: &[u8]) -> Keypair {
    let secp = Secp256k1::new();
    let mut d = h(&[b"bitvm2-txgraph test key", label]);
    loop {
        if let Ok(sk) = SecretKey::from_slice(&d) {
            return Keypair::from_secret_key(&secp, &sk);
        }
        d = h(&[&d]);
    }
}

impl Fixture {
    /// `n` verifiers, `m` operators, toy programs of `asserts * inputs` bits.
    pub fn new(seed: &str, n: usize, m: usize, asserts: usize, inputs: usize) -> Fixture {
        let s = seed.as_bytes();
        Fixture {
            committee: (0..n).map(|i| test_key(&[s, b"/verifier/", &i.to_le_bytes()].concat())).collect(),
            depositor: test_key(&[s, b"/depositor"].concat()),
            operators: (0..m).map(|i| test_key(&[s, b"/operator/", &i.to_le_bytes()].concat())).collect(),
            programs: (0..m).map(|i| ToyProgram::scaled(&[s, b"/program/", &i.to_le_bytes()].concat(), asserts, inputs)).collect(),
            deposit_amount: Amount::from_sat(1_000_000),
            stake: Amount::from_sat(200_000),
            timelocks: Timelocks::REGTEST,
            fees: FeePolicy::default(),
        }
    }

    /// Operator `i`'s parameters, funded by `funding` (its txout must pay
    /// [`Fixture::claim_funding`]).
    pub fn operator_params(&self, i: usize, funding: FundingInput) -> OperatorParams {
        let key = self.operators[i].public_key();
        OperatorParams {
            key,
            payout_script: p2tr_script(key.x_only_public_key().0),
            kickoff_funding: funding,
            stake: self.stake,
            challenge_amount: Amount::from_sat(10_000),
            disprover_reward: Amount::from_sat(50_000),
            watcher_reward: Amount::from_sat(20_000),
            claim: self.programs[i].claim_commitment(),
            disprove: self.programs[i].disprove_scripts(),
        }
    }

    /// The output operator `i`'s Kickoff funding coin must be.
    pub fn claim_funding(&self, i: usize) -> TxOut {
        let probe = self.operator_params(i, FundingInput { outpoint: OutPoint::null(), txout: TxOut::NULL });
        let params = self.params_with(vec![], vec![]);
        TxOut {
            value: kickoff_funding_amount(&params, &probe).expect("fixture amounts"),
            script_pubkey: claim_funding_script(&Secp256k1::verification_only(), &probe).expect("fixture scripts"),
        }
    }

    /// The depositor's BIP-86 script.
    pub fn depositor_script(&self) -> ScriptBuf {
        p2tr_script(self.depositor.x_only_public_key().0)
    }

    /// Parameters with the given coins.
    pub fn params_with(&self, deposit_inputs: Vec<FundingInput>, kickoff_fundings: Vec<FundingInput>) -> GraphParams {
        GraphParams {
            network: Network::Regtest,
            committee: self.committee.iter().map(|k| k.public_key()).collect(),
            depositor: self.depositor.public_key(),
            deposit_inputs,
            deposit_amount: self.deposit_amount,
            depositor_change_script: self.depositor_script(),
            depositor_refund_script: self.depositor_script(),
            timelocks: self.timelocks,
            fees: self.fees,
            operators: kickoff_fundings.into_iter().enumerate().map(|(i, f)| self.operator_params(i, f)).collect(),
        }
    }

    /// Parameters with made-up coins (for pure tests and benchmarks).
    pub fn params(&self) -> GraphParams {
        let fake = |label: &[u8], txout: TxOut| FundingInput {
            outpoint: OutPoint { txid: Txid::from_byte_array(h(&[b"fake", label])), vout: 0 },
            txout,
        };
        let dep_value = self.deposit_amount + self.fees.deposit_fee + Amount::from_sat(50_000);
        let deposit = fake(b"deposit", TxOut { value: dep_value, script_pubkey: self.depositor_script() });
        let fundings = (0..self.operators.len())
            .map(|i| fake(&(i as u64).to_le_bytes(), self.claim_funding(i)))
            .collect();
        self.params_with(vec![deposit], fundings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honest_values_leave_no_wrong_leaf_and_a_flip_is_found() {
        let p = ToyProgram::scaled(b"t", 3, 3);
        let v = p.honest_values();
        assert_eq!(p.find_wrong_leaf(&v), None);
        for i in 2..p.bits() {
            let mut w = v.clone();
            w[i] = !w[i];
            assert_eq!(p.find_wrong_leaf(&w), Some(i - 2));
        }
    }
}
