//! Disprove leaves: one tapscript per step that succeeds only if the step's committed output
//! is wrong.
//!
//! Witness of a leaf (bottom first): the hints of the step's operations (first operation's
//! deepest), then the Winternitz signature of every leaf value: the step's committed inputs,
//! then its committed outputs (see [`crate::chunk::Step::leaf_values`]).
//!
//! Script:
//! 1. for every leaf value, from the top: verify its signature against the operator's key
//!    (fails on a bad signature), regroup its 4-bit digits into 29-bit limbs, park them on the
//!    altstack; then bring all values back;
//! 2. `ok` = every committed input is a canonical field element (`< p`);
//! 3. `OP_IF` (inputs canonical): recompute the operations (operands copied with `OP_PICK`,
//!    hints rolled up, dead intermediates dropped), compare every committed output with the
//!    recomputed one and every claimed value with its constant, leave `NOT(all equal)`;
//!    `OP_ELSE` (a non-canonical input): leave 1; `OP_ENDIF`, everything else dropped.
//!
//! So the leaf ends with exactly one item: 1 (spendable) iff an input is non-canonical, an
//! output differs or a claim fails; with honest values it ends with 0 (`EvalFalse`).

use ark_bn254::Fq;
use bitcoin::opcodes::all::*;
use bitvm2_script::arith::{nibbles_to_limbs, Layout};
use bitvm2_script::builder::Fragment;

use crate::chunk::Step;
use crate::program::{field, fq_to_nat, Operand, Program, ValueId, ValueKind};
use crate::wots::{verify_script, WotsPublicKey};

/// `d OP_PICK`, with the one-byte forms for small depths.
pub(crate) fn pick(f: Fragment, d: usize) -> Fragment {
    match d {
        0 => f.op(OP_DUP),
        1 => f.op(OP_OVER),
        _ => f.push_int(d as i64).op(OP_PICK),
    }
}

/// `d OP_ROLL`, with the one-byte forms for small depths.
pub(crate) fn roll(f: Fragment, d: usize) -> Fragment {
    match d {
        0 => f,
        1 => f.op(OP_SWAP),
        2 => f.op(OP_ROT),
        _ => f.push_int(d as i64).op(OP_ROLL),
    }
}

/// Drop `n` items from the top.
pub(crate) fn drop_n(mut f: Fragment, n: usize) -> Fragment {
    for _ in 0..n / 2 {
        f = f.op(OP_2DROP);
    }
    if n % 2 == 1 {
        f = f.op(OP_DROP);
    }
    f
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Hints(usize),
    Committed(ValueId),
    Computed(ValueId),
    Temp,
}

/// A static picture of the main stack while the leaf script is generated.
struct Tracker {
    entries: Vec<(Slot, usize)>,
    f: Fragment,
    /// Largest main-stack item count seen plus the working excess of gadgets at that point.
    peak: usize,
}

impl Tracker {
    fn items(&self) -> usize {
        self.entries.iter().map(|e| e.1).sum()
    }
    fn note(&mut self, extra: usize) {
        self.peak = self.peak.max(self.items() + extra);
    }
    /// Depth of the deepest item of the entry at `idx`.
    fn bottom_depth(&self, idx: usize) -> usize {
        self.entries[idx..].iter().map(|e| e.1).sum::<usize>() - 1
    }
    fn find(&self, slot: Slot) -> usize {
        self.entries.iter().rposition(|e| e.0 == slot).expect("slot on the stack")
    }
    /// Copy the entry to the top as a `Temp`.
    fn copy(&mut self, slot: Slot) {
        let idx = self.find(slot);
        let (d, n) = (self.bottom_depth(idx), self.entries[idx].1);
        let mut f = std::mem::take(&mut self.f);
        for _ in 0..n {
            f = pick(f, d);
        }
        self.f = f;
        self.entries.push((Slot::Temp, n));
        self.note(0);
    }
    /// Move the entry to the top as a `Temp`.
    fn raise(&mut self, slot: Slot) {
        let idx = self.find(slot);
        let (d, n) = (self.bottom_depth(idx), self.entries[idx].1);
        let mut f = std::mem::take(&mut self.f);
        for _ in 0..n {
            f = roll(f, d);
        }
        self.f = f;
        self.entries.remove(idx);
        self.entries.push((Slot::Temp, n));
    }
    /// Remove the entry from the stack.
    fn remove(&mut self, slot: Slot) {
        let idx = self.find(slot);
        let n = self.entries[idx].1;
        let mut f = std::mem::take(&mut self.f);
        if idx + 1 == self.entries.len() {
            f = drop_n(f, n);
        } else {
            let d = self.bottom_depth(idx);
            for k in 0..n {
                f = roll(f, d - k).op(OP_DROP);
            }
        }
        self.f = f;
        self.entries.remove(idx);
    }
    fn append(&mut self, frag: &Fragment) {
        let f = std::mem::take(&mut self.f);
        self.f = f.append(frag);
    }
}

/// What the leaf generator needs to know about the gadgets' working space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkingSpace {
    /// Items a signature check + digit regrouping needs beyond its own witness items.
    pub per_value_check: usize,
    /// Items the largest operation needs beyond its hints and operands.
    pub per_op: usize,
}

/// A generated leaf.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The tapscript.
    pub script: bitcoin::ScriptBuf,
    /// Static estimate of the peak stack + altstack items (from the stack picture and the
    /// gadgets' measured working space).
    pub peak_estimate: usize,
}

/// The operator's public keys of the leaf values, in [`Step::leaf_values`] order.
pub fn build_leaf(prog: &Program, step: &Step, keys: &[&WotsPublicKey], ws: WorkingSpace) -> Leaf {
    let values = step.leaf_values();
    assert_eq!(values.len(), keys.len(), "one key per leaf value");
    let fld = field();
    let flayout = fld.layout();
    let dlayout = ValueKind::Fq.decode_layout();
    assert_eq!(dlayout.limbs(), flayout.limbs(), "decoded and field layouts must have the same limb count");
    let l = flayout.limbs();
    let to_limbs = nibbles_to_limbs(&dlayout);

    let mut t = Tracker { entries: Vec::new(), f: Fragment::new(), peak: 0 };
    for (j, node) in prog.ops[step.ops.clone()].iter().enumerate() {
        let h = node.op.hint_items();
        if h > 0 {
            t.entries.push((Slot::Hints(step.ops.start + j), h));
        }
    }
    let sig_items: Vec<usize> = values.iter().map(|v| prog.values[*v].kind.wots_params().witness_items()).collect();
    let hint_items = t.items();
    let witness_items = hint_items + sig_items.iter().sum::<usize>();
    // 1. signatures, from the top (last value first); limbs parked on the altstack.
    let mut alt = 0;
    let mut remaining = witness_items;
    for i in (0..values.len()).rev() {
        t.peak = t.peak.max(remaining + alt + ws.per_value_check);
        t.append(&verify_script(keys[i]));
        t.append(&to_limbs);
        for _ in 0..l {
            t.f = std::mem::take(&mut t.f).op(OP_TOALTSTACK);
        }
        remaining -= sig_items[i];
        alt += l;
    }
    for _ in 0..alt {
        t.f = std::mem::take(&mut t.f).op(OP_FROMALTSTACK);
    }
    for v in &values {
        t.entries.push((Slot::Committed(*v), l));
    }
    t.note(0);
    // 2. ok = all committed inputs canonical
    let p = fld.modulus().clone();
    let mut have_ok = false;
    for v in &step.inputs {
        t.copy(Slot::Committed(*v));
        t.append(&dlayout.push(&p));
        t.append(&Layout::less_than(&dlayout));
        t.entries.pop();
        t.entries.push((Slot::Temp, 1));
        t.note(l);
        if have_ok {
            t.f = std::mem::take(&mut t.f).op(OP_BOOLAND);
            t.entries.pop();
        }
        have_ok = true;
    }
    if !have_ok {
        t.f = std::mem::take(&mut t.f).push_int(1);
        t.entries.push((Slot::Temp, 1));
    }
    t.f = std::mem::take(&mut t.f).op(OP_IF);
    t.entries.pop();
    let saved = t.entries.clone();
    let below = t.items();

    // 3a. compute
    let ops = &prog.ops[step.ops.clone()];
    let needed_at_end: Vec<ValueId> = step
        .outputs
        .iter()
        .copied()
        .chain(step.claims.iter().map(|&c| prog.claims[c].0))
        .collect();
    for (j, node) in ops.iter().enumerate() {
        let opi = step.ops.start + j;
        let mut consumed = 0;
        if node.op.hint_items() > 0 {
            t.raise(Slot::Hints(opi));
            consumed += 1;
        }
        for a in &node.args {
            match a {
                Operand::Const(c) => {
                    t.append(&flayout.push(&fq_to_nat(c)));
                    t.entries.push((Slot::Temp, l));
                }
                Operand::Value(v) => {
                    let slot = if t.entries.iter().any(|e| e.0 == Slot::Computed(*v)) {
                        Slot::Computed(*v)
                    } else {
                        Slot::Committed(*v)
                    };
                    t.copy(slot);
                }
            }
            consumed += 1;
        }
        t.note(ws.per_op);
        t.append(&node.op.script());
        for _ in 0..consumed {
            t.entries.pop();
        }
        t.entries.push((Slot::Computed(node.out), l));
        t.note(0);
        // drop computed values with no further use in this step
        let later = &ops[j + 1..];
        let dead: Vec<ValueId> = t
            .entries
            .iter()
            .filter_map(|e| match e.0 {
                Slot::Computed(v) => Some(v),
                _ => None,
            })
            .filter(|v| {
                !needed_at_end.contains(v) && !later.iter().any(|n| n.args.contains(&Operand::Value(*v)))
            })
            .collect();
        for v in dead {
            t.remove(Slot::Computed(v));
        }
    }
    // 3b. compare: all_equal over outputs and claims
    let mut have_acc = false;
    let mut compare = |t: &mut Tracker, rhs: Result<ValueId, Fq>, v: ValueId| {
        t.copy(Slot::Computed(v));
        match rhs {
            Ok(c) => t.copy(Slot::Committed(c)),
            Err(k) => {
                t.append(&flayout.push(&fq_to_nat(&k)));
                t.entries.push((Slot::Temp, l));
                t.note(0);
            }
        }
        t.append(&flayout.equal());
        t.entries.pop();
        t.entries.pop();
        t.entries.push((Slot::Temp, 1));
        if have_acc {
            t.f = std::mem::take(&mut t.f).op(OP_BOOLAND);
            t.entries.pop();
        }
        have_acc = true;
    };
    for v in &step.outputs {
        compare(&mut t, Ok(*v), *v);
    }
    for c in &step.claims {
        let (v, k) = prog.claims[*c];
        compare(&mut t, Err(k), v);
    }
    assert!(have_acc, "a step must have a committed output or a claim");
    // diff = NOT(all equal); park it, drop everything else.
    t.f = std::mem::take(&mut t.f).op(OP_NOT).op(OP_TOALTSTACK);
    t.entries.pop();
    let rest = t.items();
    t.f = drop_n(std::mem::take(&mut t.f), rest).op(OP_FROMALTSTACK);
    // 3c. else: drop everything, leave 1
    t.f = std::mem::take(&mut t.f).op(OP_ELSE);
    t.f = drop_n(std::mem::take(&mut t.f), below).push_int(1).op(OP_ENDIF);
    t.entries = saved;
    Leaf { script: t.f.into_script(), peak_estimate: t.peak }
}

/// Witness of a leaf: `hints` (per operation of the step, in order) then the signatures of
/// the leaf values in order.
pub fn leaf_witness(hints: &[Vec<Vec<u8>>], sigs: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    hints.iter().flatten().chain(sigs.iter().flatten()).cloned().collect()
}
