//! Composing scripts from fragments.
//!
//! A [`Fragment`] is a piece of script (raw bytes, always minimal pushes) plus a stack effect:
//! how many items it takes from the top of the stack and how many it leaves there. The effect
//! is inferred while a fragment is built from pushes and fixed-arity opcodes, and can be
//! declared with [`Fragment::with_effect`] where inference gives up (OP_IF blocks, OP_PICK,
//! OP_ROLL, ...). Gadgets are plain functions returning a `Fragment`; [`check_effect`] runs a
//! fragment in the executor and checks its declared effect.

use bitcoin::opcodes::Opcode;
use bitcoin::script::{Script, ScriptBuf};
use bitcoin::taproot::ControlBlock;
use bitcoin::Witness;

use crate::exec::{self, encode_num, ExecOptions, LimitMode};

/// How a fragment changes the main stack: it removes `consumes` items from the top and then
/// leaves `produces` new items there. Items below the consumed ones are untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StackEffect {
    /// Items taken from the top of the stack.
    pub consumes: usize,
    /// Items left on top afterwards.
    pub produces: usize,
}

impl StackEffect {
    /// The effect of running `self` and then `next`.
    pub fn then(self, next: StackEffect) -> StackEffect {
        if next.consumes <= self.produces {
            StackEffect { consumes: self.consumes, produces: self.produces - next.consumes + next.produces }
        } else {
            StackEffect { consumes: self.consumes + (next.consumes - self.produces), produces: next.produces }
        }
    }
}

/// A piece of script with an optional known stack effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    bytes: Vec<u8>,
    effect: Option<StackEffect>,
}

impl Default for Fragment {
    fn default() -> Self {
        Self::new()
    }
}

/// The fixed main-stack effect of an opcode, if it has one.
pub fn opcode_effect(op: Opcode) -> Option<StackEffect> {
    use bitcoin::opcodes::all::*;
    let e = |c, p| Some(StackEffect { consumes: c, produces: p });
    let b = op.to_u8();
    if b == OP_PUSHNUM_NEG1.to_u8() || (OP_PUSHNUM_1.to_u8()..=OP_PUSHNUM_16.to_u8()).contains(&b) || b <= 0x4e {
        return e(0, 1);
    }
    match op {
        OP_NOP | OP_NOP1 | OP_NOP4 | OP_NOP5 | OP_NOP6 | OP_NOP7 | OP_NOP8 | OP_NOP9 | OP_NOP10 | OP_CODESEPARATOR => e(0, 0),
        OP_CLTV | OP_CSV => e(1, 1),
        OP_VERIFY | OP_TOALTSTACK | OP_DROP => e(1, 0),
        OP_FROMALTSTACK | OP_DEPTH => e(0, 1),
        OP_2DROP => e(2, 0),
        OP_2DUP => e(2, 4),
        OP_3DUP => e(3, 6),
        OP_2OVER => e(4, 6),
        OP_2ROT => e(6, 6),
        OP_2SWAP => e(4, 4),
        OP_DUP => e(1, 2),
        OP_NIP => e(2, 1),
        OP_OVER => e(2, 3),
        OP_ROT => e(3, 3),
        OP_SWAP => e(2, 2),
        OP_TUCK => e(2, 3),
        OP_SIZE => e(1, 2),
        OP_EQUAL => e(2, 1),
        OP_EQUALVERIFY => e(2, 0),
        OP_1ADD | OP_1SUB | OP_NEGATE | OP_ABS | OP_NOT | OP_0NOTEQUAL => e(1, 1),
        OP_ADD | OP_SUB | OP_BOOLAND | OP_BOOLOR | OP_NUMEQUAL | OP_NUMNOTEQUAL | OP_LESSTHAN
        | OP_GREATERTHAN | OP_LESSTHANOREQUAL | OP_GREATERTHANOREQUAL | OP_MIN | OP_MAX => e(2, 1),
        OP_NUMEQUALVERIFY => e(2, 0),
        OP_WITHIN => e(3, 1),
        OP_RIPEMD160 | OP_SHA1 | OP_SHA256 | OP_HASH160 | OP_HASH256 => e(1, 1),
        OP_CHECKSIG => e(2, 1),
        OP_CHECKSIGVERIFY => e(2, 0),
        OP_CHECKSIGADD => e(3, 1),
        // OP_IF/OP_NOTIF/OP_ELSE/OP_ENDIF, OP_PICK, OP_ROLL, OP_IFDUP, OP_RETURN, OP_SUCCESSx...
        _ => None,
    }
}

impl Fragment {
    /// An empty fragment (effect: nothing consumed, nothing produced).
    pub fn new() -> Self {
        Fragment { bytes: Vec::new(), effect: Some(StackEffect { consumes: 0, produces: 0 }) }
    }

    /// A fragment from raw script bytes; its effect is unknown until declared.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Fragment { bytes, effect: None }
    }

    /// Concatenate fragments in order.
    pub fn concat<'a>(parts: impl IntoIterator<Item = &'a Fragment>) -> Self {
        parts.into_iter().fold(Fragment::new(), |acc, f| acc.append(f))
    }

    fn then_effect(&mut self, e: Option<StackEffect>) {
        self.effect = match (self.effect, e) {
            (Some(a), Some(b)) => Some(a.then(b)),
            _ => None,
        };
    }

    /// Push a number with the shortest encoding (OP_0, OP_1NEGATE, OP_1..OP_16 or a push).
    pub fn push_int(mut self, n: i64) -> Self {
        match n {
            0 => self.bytes.push(0x00),
            -1 => self.bytes.push(0x4f),
            1..=16 => self.bytes.push(0x50 + n as u8),
            _ => push_data(&mut self.bytes, &encode_num(n)),
        }
        self.then_effect(Some(StackEffect { consumes: 0, produces: 1 }));
        self
    }

    /// Push bytes with the minimal push opcode.
    pub fn push_bytes(mut self, data: &[u8]) -> Self {
        match data {
            [] => self.bytes.push(0x00),
            [b @ 1..=16] => self.bytes.push(0x50 + b),
            [0x81] => self.bytes.push(0x4f),
            _ => push_data(&mut self.bytes, data),
        }
        self.then_effect(Some(StackEffect { consumes: 0, produces: 1 }));
        self
    }

    /// Append one opcode. Push opcodes (0x00..=0x4e) are not allowed here: use
    /// [`Fragment::push_bytes`].
    pub fn op(mut self, op: Opcode) -> Self {
        assert!(op.to_u8() > 0x4e || op.to_u8() == 0, "use push_bytes for data pushes, not {op}");
        self.bytes.push(op.to_u8());
        self.then_effect(opcode_effect(op));
        self
    }

    /// Append several opcodes.
    pub fn ops(self, ops: &[Opcode]) -> Self {
        ops.iter().fold(self, |f, o| f.op(*o))
    }

    /// Append another fragment.
    pub fn append(mut self, other: &Fragment) -> Self {
        self.bytes.extend_from_slice(&other.bytes);
        self.then_effect(other.effect);
        self
    }

    /// Append `n` copies of `other`.
    pub fn repeat(mut self, n: usize, other: &Fragment) -> Self {
        self.bytes.reserve(other.bytes.len() * n);
        for _ in 0..n {
            self = self.append(other);
        }
        self
    }

    /// Declare the stack effect (overrides what was inferred); [`check_effect`] tests it.
    pub fn with_effect(mut self, consumes: usize, produces: usize) -> Self {
        self.effect = Some(StackEffect { consumes, produces });
        self
    }

    /// Forget the stack effect (e.g. a fragment whose effect depends on data).
    pub fn without_effect(mut self) -> Self {
        self.effect = None;
        self
    }

    /// The declared or inferred stack effect, if known.
    pub fn effect(&self) -> Option<StackEffect> {
        self.effect
    }

    /// Script size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the fragment is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The script bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Turn into a script.
    pub fn into_script(self) -> ScriptBuf {
        ScriptBuf::from_bytes(self.bytes)
    }

    /// A copy as a script.
    pub fn to_script(&self) -> ScriptBuf {
        ScriptBuf::from_bytes(self.bytes.clone())
    }
}

impl std::fmt::Display for Fragment {
    /// The script as ASM (rust-bitcoin's notation), for debugging.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&bitcoin::Script::from_bytes(&self.bytes).to_asm_string())
    }
}

fn push_data(out: &mut Vec<u8>, data: &[u8]) {
    let n = data.len();
    if n <= 75 {
        out.push(n as u8);
    } else if n <= 0xff {
        out.push(0x4c);
        out.push(n as u8);
    } else if n <= 0xffff {
        out.push(0x4d);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    } else {
        out.push(0x4e);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(data);
}

/// Run `frag` on `inputs` (bottom first) and check its stack effect: it must execute without
/// error, leave `inputs.len() - consumes + produces` items, and leave the `inputs.len() -
/// consumes` bottom items untouched. Limits are only reported, not enforced, so large
/// fragments can be checked on their own. Errors say what differed.
pub fn check_effect(frag: &Fragment, inputs: &[Vec<u8>]) -> Result<(), String> {
    let eff = frag.effect().ok_or_else(|| "fragment has no declared or inferred stack effect".to_string())?;
    if inputs.len() < eff.consumes {
        return Err(format!("fragment consumes {} items but only {} inputs given", eff.consumes, inputs.len()));
    }
    let opts = ExecOptions { mode: LimitMode::Report, ..Default::default() };
    let report = exec::execute(&frag.to_script(), inputs, &opts);
    if let Err(e) = &report.outcome {
        return Err(format!("fragment failed: {e}"));
    }
    if report.op_success.is_some() {
        return Err("fragment contains OP_SUCCESSx; its effect cannot be checked".to_string());
    }
    let kept = inputs.len() - eff.consumes;
    let want = kept + eff.produces;
    let got = report.final_stack.len();
    if got != want {
        return Err(format!(
            "declared effect {}->{} on {} inputs should leave {} items, left {}",
            eff.consumes,
            eff.produces,
            inputs.len(),
            want,
            got
        ));
    }
    if report.final_stack[..kept] != inputs[..kept] {
        return Err(format!("fragment modified items below the {} it declares to consume", eff.consumes));
    }
    Ok(())
}

/// The witness that spends a taproot output through leaf `script`: the stack `items` (bottom
/// first), then the script and its control block.
pub fn leaf_spend_witness<I: AsRef<[u8]>>(items: impl IntoIterator<Item = I>, script: &Script, control: &ControlBlock) -> Witness {
    let mut w = Witness::new();
    for item in items {
        w.push(item);
    }
    w.push(script.as_bytes());
    w.push(control.serialize());
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::execute;
    use bitcoin::opcodes::all::*;
    use proptest::prelude::*;

    #[test]
    fn push_int_uses_small_opcodes() {
        assert_eq!(Fragment::new().push_int(0).as_bytes(), &[0x00]);
        assert_eq!(Fragment::new().push_int(-1).as_bytes(), &[0x4f]);
        assert_eq!(Fragment::new().push_int(16).as_bytes(), &[0x60]);
        assert_eq!(Fragment::new().push_int(17).as_bytes(), &[0x01, 17]);
        assert_eq!(Fragment::new().push_int(-2).as_bytes(), &[0x01, 0x82]);
        assert_eq!(Fragment::new().push_int(128).as_bytes(), &[0x02, 0x80, 0x00]);
    }

    #[test]
    fn push_bytes_is_minimal_at_every_boundary() {
        for n in [0usize, 1, 2, 75, 76, 255, 256, 520] {
            let data = vec![0x42u8; n];
            let f = Fragment::new().push_bytes(&data);
            let r = execute(&f.to_script(), &[], &ExecOptions::default());
            assert!(r.outcome.is_ok(), "len {n}: {:?}", r.outcome);
            assert_eq!(r.final_stack, vec![data]);
        }
        assert_eq!(Fragment::new().push_bytes(&[5]).as_bytes(), &[0x55]);
        assert_eq!(Fragment::new().push_bytes(&[0x81]).as_bytes(), &[0x4f]);
    }

    #[test]
    fn effects_are_inferred_and_composed() {
        let f = Fragment::new().push_int(3).push_int(4).op(OP_ADD);
        assert_eq!(f.effect(), Some(StackEffect { consumes: 0, produces: 1 }));
        let g = Fragment::new().op(OP_ADD).op(OP_ADD);
        assert_eq!(g.effect(), Some(StackEffect { consumes: 3, produces: 1 }));
        let h = Fragment::new().op(OP_DUP).op(OP_2DROP);
        assert_eq!(h.effect(), Some(StackEffect { consumes: 1, produces: 0 }));
        assert_eq!(Fragment::new().op(OP_IF).effect(), None);
        assert_eq!(Fragment::new().op(OP_PICK).with_effect(2, 2).effect(), Some(StackEffect { consumes: 2, produces: 2 }));
    }

    #[test]
    fn check_effect_accepts_true_and_rejects_false_declarations() {
        let inputs = vec![vec![9u8], vec![2u8], vec![3u8]];
        let add = Fragment::new().op(OP_ADD);
        check_effect(&add, &inputs).unwrap();
        // Lie about the effect: consumes 1 (would leave 3 items, leaves 2).
        assert!(check_effect(&add.clone().with_effect(1, 1), &inputs).is_err());
        // An effect that touches an item it says it does not consume.
        let sneaky = Fragment::new().op(OP_ROT).op(OP_DROP).with_effect(2, 1);
        let err = check_effect(&sneaky, &inputs).unwrap_err();
        assert!(err.contains("modified"), "{err}");
        // A branchy fragment with a declared effect: pick the larger of two numbers.
        let max = Fragment::new()
            .ops(&[OP_2DUP, OP_LESSTHAN, OP_IF, OP_NIP, OP_ELSE, OP_DROP, OP_ENDIF])
            .with_effect(2, 1);
        check_effect(&max, &inputs).unwrap();
        // A failing fragment.
        assert!(check_effect(&Fragment::new().op(OP_VERIFY), &[vec![]]).unwrap_err().contains("OP_VERIFY"));
    }

    #[test]
    fn display_is_asm() {
        let f = Fragment::new().push_int(2).push_bytes(&[0xab; 3]).op(OP_ADD);
        assert_eq!(f.to_string(), "OP_PUSHNUM_2 OP_PUSHBYTES_3 ababab OP_ADD");
    }

    #[test]
    fn repeat_and_concat() {
        let inc = Fragment::new().op(OP_1ADD);
        let f = Fragment::new().push_int(5).repeat(10, &inc);
        let r = execute(&f.to_script(), &[], &ExecOptions::default());
        assert_eq!(r.final_stack, vec![encode_num(15)]);
        let g = Fragment::concat([&Fragment::new().push_int(1), &Fragment::new().push_int(2), &Fragment::new().op(OP_ADD)]);
        assert_eq!(g.as_bytes(), &[0x51, 0x52, 0x93]);
        assert_eq!(g.effect(), Some(StackEffect { consumes: 0, produces: 1 }));
    }

    proptest! {
        #[test]
        fn push_int_round_trips_through_executor(n in -(1i64 << 31) + 1..(1i64 << 31)) {
            let f = Fragment::new().push_int(n);
            let r = execute(&f.to_script(), &[], &ExecOptions::default());
            prop_assert!(r.outcome.is_ok());
            prop_assert_eq!(exec::decode_num(&r.final_stack[0], 5).unwrap(), n);
        }

        #[test]
        fn effect_composition_matches_execution(ops in proptest::collection::vec(0usize..8, 0..12), depth in 6usize..10) {
            let table = [OP_ADD, OP_DUP, OP_SWAP, OP_DROP, OP_OVER, OP_ROT, OP_NIP, OP_TUCK];
            let f = ops.iter().fold(Fragment::new(), |f, i| f.op(table[*i]));
            let inputs: Vec<Vec<u8>> = (0..depth + 12).map(|i| encode_num(i as i64 % 5)).collect();
            prop_assert!(check_effect(&f, &inputs).is_ok(), "{:?}", check_effect(&f, &inputs));
        }
    }
}
