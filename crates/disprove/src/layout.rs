//! Assert layout: pack the Winternitz commitments into standard assert transactions.
//!
//! Each assert input spends a taproot output whose leaf is a *commitment script*: it checks
//! the signatures of a few committed values and leaves nothing (the transaction graph adds the
//! operator's `<pk> OP_CHECKSIG` and the control block). Revealing the signatures in the
//! witness is what puts the values on chain for the verifiers. Limits: the initial witness of
//! an input has at most 1000 items (stack limit), and every transaction at most 400,000 WU.
//! Packing is greedy in commitment order: values into an input up to the item limit, inputs
//! into a transaction up to the weight limit.

use bitcoin::ScriptBuf;
use bitvm2_script::builder::Fragment;
use serde::{Deserialize, Serialize};

use crate::chunk::varint_len;
use crate::wots::{verify_script_drop, KeyTemplate, WotsParams, WotsPublicKey};

/// Shape and limits of an assert transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertShape {
    /// Largest transaction weight (standard: 400,000).
    pub max_tx_weight: usize,
    /// Largest initial witness stack of one input (consensus: 1000).
    pub max_input_items: usize,
    /// Items per input the graph adds (operator signature).
    pub reserved_items: usize,
    /// Script bytes per input the graph adds (`<pk> OP_CHECKSIG`: 34).
    pub reserved_script_bytes: usize,
    /// Witness bytes per input the graph adds (64-byte signature with its length: 65).
    pub reserved_witness_bytes: usize,
    /// Control block of a commitment leaf (33 + 32 * depth).
    pub control_block_len: usize,
    /// Weight of the transaction without inputs: version, locktime, counts, outputs, marker.
    pub base_weight: usize,
}

impl Default for AssertShape {
    /// Two P2TR outputs and a P2A anchor (43 + 43 + 13 bytes), 3-byte input count:
    /// (4 + 4 + 3 + 1 + 99) * 4 + 2 = 446 WU; commitment leaves at depth 1 (65-byte control
    /// block); one operator signature per input.
    fn default() -> Self {
        AssertShape {
            max_tx_weight: 400_000,
            max_input_items: 1000,
            reserved_items: 1,
            reserved_script_bytes: 34,
            reserved_witness_bytes: 65,
            control_block_len: 65,
            base_weight: 446,
        }
    }
}

/// One assert input: which commitments it reveals and its commitment script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertInput {
    /// Commitment indices, in witness order (first deepest).
    pub commitments: Vec<usize>,
    /// The commitment script (signature checks only; leaves an empty stack).
    pub script: ScriptBuf,
    /// Witness items of the signatures (without the graph's additions).
    pub witness_items: usize,
    /// Weight of this input at the largest signature sizes (non-witness 164 WU + witness,
    /// including the graph's reserved script/witness bytes and the control block).
    pub weight: usize,
}

/// One assert transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertTx {
    /// Its inputs.
    pub inputs: Vec<AssertInput>,
    /// Total weight at the largest signature sizes.
    pub weight: usize,
}

/// All assert transactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertLayout {
    /// The transactions in order.
    pub txs: Vec<AssertTx>,
    /// The shape they were packed for.
    pub shape: AssertShape,
}

impl AssertLayout {
    /// Total weight of all assert transactions.
    pub fn total_weight(&self) -> usize {
        self.txs.iter().map(|t| t.weight).sum()
    }
    /// Total virtual bytes (weight / 4, rounded up per transaction).
    pub fn total_vbytes(&self) -> usize {
        self.txs.iter().map(|t| t.weight.div_ceil(4)).sum()
    }
    /// Where commitment `c` is revealed: (tx, input, position in the input).
    pub fn locate(&self, c: usize) -> Option<(usize, usize, usize)> {
        for (t, tx) in self.txs.iter().enumerate() {
            for (i, inp) in tx.inputs.iter().enumerate() {
                if let Some(p) = inp.commitments.iter().position(|&x| x == c) {
                    return Some((t, i, p));
                }
            }
        }
        None
    }
}

/// Why packing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// One commitment alone does not fit an input or a transaction.
    #[error("commitment {0} alone does not fit an assert input/transaction")]
    TooLarge(usize),
}

/// The commitment script of some values (witness: their signatures, first value deepest).
pub fn commitment_script(keys: &[&WotsPublicKey]) -> ScriptBuf {
    let mut f = Fragment::new();
    for pk in keys.iter().rev() {
        f = f.append(&verify_script_drop(pk));
    }
    f.into_script()
}

/// [`commitment_script`] from one signature-check template per parameters (built on first
/// use): the same bytes, without generating every check again.
#[derive(Default)]
struct Checks(Vec<(WotsParams, KeyTemplate)>);

impl Checks {
    fn script(&mut self, keys: &[&WotsPublicKey]) -> ScriptBuf {
        let mut bytes = Vec::new();
        for pk in keys.iter().rev() {
            let i = match self.0.iter().position(|(p, _)| *p == pk.params) {
                Some(i) => i,
                None => {
                    self.0.push((pk.params, KeyTemplate::new(pk.params, verify_script_drop)));
                    self.0.len() - 1
                }
            };
            self.0[i].1.fill(&mut bytes, pk);
        }
        ScriptBuf::from_bytes(bytes)
    }
}

fn input_weight(shape: &AssertShape, checks: &mut Checks, keys: &[&WotsPublicKey]) -> (ScriptBuf, usize, usize) {
    let script = checks.script(keys);
    let items: usize = keys.iter().map(|k| k.params.witness_items()).sum();
    let sig_bytes: usize = keys.iter().map(|k| k.params.max_witness_bytes()).sum();
    let script_len = script.len() + shape.reserved_script_bytes;
    let cb = shape.control_block_len;
    let witness = varint_len(items + shape.reserved_items + 2)
        + sig_bytes
        + shape.reserved_witness_bytes
        + varint_len(script_len)
        + script_len
        + varint_len(cb)
        + cb;
    (script, items, 41 * 4 + witness)
}

/// Items a signature check needs beyond the witness items (measured once per parameters: the
/// verifying script builds a table of chain elements on top of the remaining signatures).
fn check_working(pk: &WotsPublicKey) -> usize {
    let sk = crate::wots::WotsSecret::derive(&[0; 32], b"layout-working", 0, pk.params);
    let sig = sk.sign(&vec![0; pk.params.msg_digits]).expect("digits in range");
    let items = sig.to_witness();
    let r = bitvm2_script::exec::execute(
        &verify_script_drop(&sk.public_key()).into_script(),
        &items,
        &bitvm2_script::exec::ExecOptions { mode: bitvm2_script::exec::LimitMode::Report, ..Default::default() },
    );
    r.peak_items.saturating_sub(items.len())
}

/// Pack commitments `0..keys.len()` (in order) into assert transactions.
pub fn pack(keys: &[WotsPublicKey], shape: AssertShape) -> Result<AssertLayout, LayoutError> {
    let mut working: Vec<(crate::wots::WotsParams, usize)> = Vec::new();
    let mut work = |pk: &WotsPublicKey| -> usize {
        if let Some((_, w)) = working.iter().find(|(p, _)| *p == pk.params) {
            return *w;
        }
        let w = check_working(pk);
        working.push((pk.params, w));
        w
    };
    let mut checks = Checks::default();
    let mut txs: Vec<AssertTx> = Vec::new();
    let mut cur = AssertTx { inputs: Vec::new(), weight: shape.base_weight };
    let mut c = 0;
    'fill: while c < keys.len() {
        // Fill one input with as many values as the item limit allows.
        // The first value checked (the last in the input) has every other signature under it.
        let mut end = c;
        let mut items = shape.reserved_items;
        while end < keys.len()
            && items + keys[end].params.witness_items() + work(&keys[end]) <= shape.max_input_items
        {
            items += keys[end].params.witness_items();
            end += 1;
        }
        if end == c {
            return Err(LayoutError::TooLarge(c));
        }
        // Shrink it until it fits the current transaction, or open a new one.
        loop {
            let refs: Vec<&WotsPublicKey> = keys[c..end].iter().collect();
            let (script, witness_items, weight) = input_weight(&shape, &mut checks, &refs);
            if cur.weight + weight <= shape.max_tx_weight {
                cur.weight += weight;
                cur.inputs.push(AssertInput { commitments: (c..end).collect(), script, witness_items, weight });
                c = end;
                break;
            }
            if !cur.inputs.is_empty() && end - c == 1 {
                // Not even one more value fits: close this transaction, refill the input.
                txs.push(std::mem::replace(&mut cur, AssertTx { inputs: Vec::new(), weight: shape.base_weight }));
                continue 'fill;
            }
            if end - c == 1 {
                return Err(LayoutError::TooLarge(c));
            }
            end -= 1;
        }
    }
    if !cur.inputs.is_empty() {
        txs.push(cur);
    }
    Ok(AssertLayout { txs, shape })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wots::{WotsParams, WotsSecret};
    use proptest::prelude::*;

    fn keys(n: usize) -> Vec<WotsPublicKey> {
        secrets(n).iter().map(|s| s.public_key()).collect()
    }

    /// Mixed sizes: 256-bit values and 160-bit digests.
    fn secrets(n: usize) -> Vec<WotsSecret> {
        (0..n)
            .map(|i| {
                let bits = if i % 3 == 2 { 160 } else { 256 };
                WotsSecret::derive(&[3; 32], b"layout", i as u32, WotsParams::for_bits(bits))
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        #[test]
        fn packing_respects_limits_and_keeps_order(n in 1usize..120, max_w in 40_000usize..400_000) {
            let sks = secrets(n);
            let ks: Vec<WotsPublicKey> = sks.iter().map(|s| s.public_key()).collect();
            let sigs: Vec<_> = sks.iter().map(|s| s.sign(&vec![7; s.public_key().params.msg_digits]).unwrap()).collect();
            let shape = AssertShape { max_tx_weight: max_w, ..Default::default() };
            let layout = pack(&ks, shape).unwrap();
            let order: Vec<usize> = layout.txs.iter().flat_map(|t| t.inputs.iter().flat_map(|i| i.commitments.clone())).collect();
            prop_assert_eq!(order, (0..n).collect::<Vec<_>>());
            for tx in &layout.txs {
                prop_assert!(tx.weight <= max_w);
                prop_assert_eq!(tx.weight, shape.base_weight + tx.inputs.iter().map(|i| i.weight).sum::<usize>());
                for inp in &tx.inputs {
                    prop_assert!(inp.witness_items + shape.reserved_items <= shape.max_input_items);
                    // The script from templates is the reference script.
                    let refs: Vec<&WotsPublicKey> = inp.commitments.iter().map(|&c| &ks[c]).collect();
                    prop_assert_eq!(&inp.script, &commitment_script(&refs));
                    let items: Vec<Vec<u8>> = inp.commitments.iter().flat_map(|&c| sigs[c].to_witness()).collect();
                    let r = bitvm2_script::exec::execute(&inp.script, &items, &Default::default());
                    prop_assert!(r.outcome.is_ok(), "{:?}", r.outcome);
                    prop_assert!(r.peak_items + shape.reserved_items <= shape.max_input_items);
                }
            }
            // no transaction could have taken the first value of the next one
            for pair in layout.txs.windows(2) {
                let next = pair[1].inputs[0].commitments[0];
                let (_, _, w1) = input_weight(&shape, &mut Checks::default(), &[&ks[next]]);
                prop_assert!(pair[0].weight + w1 > max_w);
            }
        }
    }

    #[test]
    fn too_small_a_transaction_is_an_error() {
        let shape = AssertShape { max_tx_weight: 5_000, ..Default::default() };
        assert_eq!(pack(&keys(2), shape), Err(LayoutError::TooLarge(0)));
    }
}
