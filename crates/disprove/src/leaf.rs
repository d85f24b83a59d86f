//! Disprove leaves: one tapscript per step that succeeds only if the step's committed output
//! is wrong.
//!
//! Witness of a leaf (bottom first): the hints of the step's operations (first operation's
//! deepest), the preimages (limbs) of its hash-committed inputs, then the Winternitz signature
//! of every leaf value: the step's committed inputs, then its committed outputs (see
//! [`crate::chunk::Step::leaf_values`]).
//!
//! Script:
//! 1. for every leaf value, from the top: verify its signature against the operator's key
//!    (fails on a bad signature), regroup its 4-bit digits into 29-bit limbs, park them on the
//!    altstack (a hash-committed value parks its digest digits); then bring all values back.
//!    Under [`LeafEncoding::Compact`] ([`build_leaf_with`]) the signature is one item per chain
//!    plus the packed message, and the check leaves the limbs directly (a digest: its 28-bit
//!    items, and hashes computed in the leaf are packed the same way before comparing);
//!    for every hash-committed input, hash the preimage from the witness and require it to
//!    equal the signed digest (else the script fails: a disprover cannot invent inputs);
//! 2. `ok` = every element of every committed input is canonical (`< p`);
//! 3. `OP_IF` (inputs canonical): recompute the operations (operands copied with `OP_PICK`,
//!    hints rolled up, dead intermediates dropped), compare every committed output with the
//!    recomputed one (a hash-committed output: its digest with the hash of the recomputed one)
//!    and every claimed value with its constant, leave `NOT(all equal)`;
//!    `OP_ELSE` (a non-canonical input): leave 1; `OP_ENDIF`, everything else dropped.
//!
//! So the leaf ends with exactly one item: 1 (spendable) iff an input is non-canonical, an
//! output differs or a claim fails; with honest values it ends with 0 (`EvalFalse`).

use std::collections::HashMap;
use std::sync::Mutex;

use bitcoin::hashes::{sha256, Hash};
use bitcoin::opcodes::all::*;
use bitvm2_script::arith::{nibbles_to_limbs, Layout};
use bitvm2_script::builder::Fragment;
use bitvm2_script::hash::blake3_of_bigints;

use crate::chunk::{Plan, Step};
use crate::parallel::par_map;
use crate::program::{field, push_val, CommitMode, OpNode, Operand, Program, ValueId, ValueKind};
use crate::wots::{compact_packing, leaf_verify_script, KeyTemplate, LeafEncoding, WotsPublicKey};

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

/// Copy a group of `n` items whose deepest item is at depth `d` to the top.
pub(crate) fn pick_group(mut f: Fragment, d: usize, n: usize) -> Fragment {
    for _ in 0..n {
        f = pick(f, d);
    }
    f
}

/// Move a group of `n` items whose deepest item is at depth `d` to the top.
pub(crate) fn roll_group(mut f: Fragment, d: usize, n: usize) -> Fragment {
    for _ in 0..n {
        f = roll(f, d);
    }
    f
}

/// Remove a group of `n` items whose deepest item is at depth `d` (plain drops when it is on
/// top; otherwise each roll-and-drop leaves the group's next item one less deep).
pub(crate) fn drop_group(mut f: Fragment, d: usize, n: usize) -> Fragment {
    if d + 1 == n {
        return drop_n(f, n);
    }
    for k in 0..n {
        f = roll(f, d - k).op(OP_DROP);
    }
    f
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Hints(usize),
    Preimage(ValueId),
    Committed(ValueId),
    Digest(ValueId),
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
    fn has(&self, slot: Slot) -> bool {
        self.entries.iter().any(|e| e.0 == slot)
    }
    fn emit(&mut self, g: impl FnOnce(Fragment) -> Fragment) {
        let f = std::mem::take(&mut self.f);
        self.f = g(f);
    }
    /// Copy `n` items of the entry, starting `skip` items above its deepest, to the top.
    fn copy_part(&mut self, slot: Slot, skip: usize, n: usize) {
        let idx = self.find(slot);
        let d = self.bottom_depth(idx) - skip;
        self.emit(|f| pick_group(f, d, n));
        self.entries.push((Slot::Temp, n));
        self.note(0);
    }
    /// Copy the entry to the top as a `Temp`.
    fn copy(&mut self, slot: Slot) {
        let n = self.entries[self.find(slot)].1;
        self.copy_part(slot, 0, n);
    }
    /// Move the entry to the top as a `Temp`.
    fn raise(&mut self, slot: Slot) {
        let idx = self.find(slot);
        let (d, n) = (self.bottom_depth(idx), self.entries[idx].1);
        self.emit(|f| roll_group(f, d, n));
        self.entries.remove(idx);
        self.entries.push((Slot::Temp, n));
    }
    /// Remove the entry from the stack.
    fn remove(&mut self, slot: Slot) {
        let idx = self.find(slot);
        let (d, n) = (self.bottom_depth(idx), self.entries[idx].1);
        self.emit(|f| drop_group(f, d, n));
        self.entries.remove(idx);
    }
    fn append(&mut self, frag: &Fragment) {
        self.emit(|f| f.append(frag));
    }
    /// Replace the top `consumed` entries by one `Temp` of `produced` items.
    fn replace_top(&mut self, consumed: usize, produced: usize) {
        for _ in 0..consumed {
            self.entries.pop();
        }
        self.entries.push((Slot::Temp, produced));
    }
}

/// `[A B] -> [A == B]` for two sequences of `k` numbers.
pub fn equal_items(k: usize) -> Fragment {
    let mut f = Fragment::new();
    for i in (1..=k).rev() {
        f = roll(f, i).op(OP_NUMEQUAL).op(OP_TOALTSTACK);
    }
    f = f.op(OP_FROMALTSTACK);
    for _ in 1..k {
        f = f.op(OP_FROMALTSTACK).op(OP_BOOLAND);
    }
    f
}

/// `[A B] -> []`, failing unless the two sequences of `k` numbers are equal.
pub fn equal_items_verify(k: usize) -> Fragment {
    let mut f = Fragment::new();
    for i in (1..=k).rev() {
        f = roll(f, i).op(OP_NUMEQUALVERIFY);
    }
    f
}

/// `[E_0 .. E_{n-1}] -> [2*bytes nibbles]`: BLAKE3 of a value's elements (32 bytes each).
pub fn hash_value(elems: usize, bytes: usize) -> Fragment {
    blake3_of_bigints(&field().layout(), elems, bytes).expect("value fits the hash gadget")
}

/// Items a hash-committed value's digest occupies in a leaf: its nibbles (standard encoding)
/// or its packed items (compact encoding). 0 for a direct commitment.
pub fn digest_items(kind: ValueKind, enc: LeafEncoding) -> usize {
    match (kind.commit, enc) {
        (CommitMode::Direct, _) => 0,
        (CommitMode::Hash { bytes }, LeafEncoding::Standard) => 2 * bytes,
        (CommitMode::Hash { .. }, LeafEncoding::Compact) => compact_packing(kind.wots_params(), kind.commit).packed_items(),
    }
}

/// `[E_0 .. E_{n-1}] -> [digest]`: the hash of a hash-committed value in the form the leaf's
/// signature check leaves it ([`digest_items`] items).
pub fn hash_to_digest(kind: ValueKind, enc: LeafEncoding) -> Fragment {
    let CommitMode::Hash { bytes } = kind.commit else { panic!("hash_to_digest of a direct commitment") };
    let h = hash_value(kind.elems, bytes);
    match enc {
        LeafEncoding::Standard => h,
        LeafEncoding::Compact => h.append(
            &bitvm2_script::winternitz::compact::pack_digits(&compact_packing(kind.wots_params(), kind.commit))
                .expect("digest items are whole nibbles"),
        ),
    }
}

/// What the leaf generator needs to know about the gadgets' working space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkingSpace {
    /// Items a signature check + digit regrouping needs beyond its own witness items.
    pub per_value_check: usize,
    /// Items the largest operation needs beyond its hints and operands.
    pub per_op: usize,
    /// Items the hash of the largest hashed value needs beyond its input.
    pub per_hash: usize,
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

/// Build the leaf of `step` for the standard signature encoding; `keys` are the operator's
/// public keys of the leaf values, in [`Step::leaf_values`] order.
pub fn build_leaf(prog: &Program, step: &Step, keys: &[&WotsPublicKey], ws: WorkingSpace) -> Leaf {
    build_leaf_with(prog, step, keys, ws, LeafEncoding::Standard)
}

/// Build the leaf of `step` for the signature encoding `enc` (its witness must carry the
/// signatures as `WotsSignature::to_leaf_witness` encodes them). Every piece is built on the
/// spot; [`LeafParts::build`] gives the same bytes from pieces built once per plan.
pub fn build_leaf_with(prog: &Program, step: &Step, keys: &[&WotsPublicKey], ws: WorkingSpace, enc: LeafEncoding) -> Leaf {
    build(prog, step, keys, ws, enc, &Fresh(enc), Vec::new())
}

/// Where the leaf generator takes its pieces from: built on the spot ([`Fresh`]) or from a
/// plan's [`LeafParts`]. Each method appends its piece to `f`.
trait Pieces {
    /// The leaf check of a signature of a `kind` value under `key` ([`leaf_verify_script`]).
    fn check(&self, f: Fragment, key: &WotsPublicKey, kind: ValueKind) -> Fragment;
    /// The script of operation `index` of the program.
    fn op(&self, f: Fragment, index: usize, node: &OpNode) -> Fragment;
    /// `[limbs] -> [limbs < p]`: the canonical check of one committed element.
    fn canonical(&self, f: Fragment) -> Fragment;
    /// [`hash_to_digest`] of `kind`.
    fn digest(&self, f: Fragment, kind: ValueKind) -> Fragment;
}

/// Every piece built when asked for.
struct Fresh(LeafEncoding);

impl Pieces for Fresh {
    fn check(&self, f: Fragment, key: &WotsPublicKey, kind: ValueKind) -> Fragment {
        f.append(&leaf_verify_script(key, self.0, kind.commit))
    }
    fn op(&self, f: Fragment, _: usize, node: &OpNode) -> Fragment {
        f.append(&node.op.script())
    }
    fn canonical(&self, f: Fragment) -> Fragment {
        f.append(&canonical_check())
    }
    fn digest(&self, f: Fragment, kind: ValueKind) -> Fragment {
        f.append(&hash_to_digest(kind, self.0))
    }
}

/// `[limbs] -> [limbs < p]` for one committed element in the decode layout.
fn canonical_check() -> Fragment {
    let dlayout = ValueKind::decode_layout();
    dlayout.push(field().modulus()).append(&Layout::less_than(&dlayout))
}

/// The leaf builder over `pieces`, writing into `buf` (cleared; its capacity is reused).
fn build(prog: &Program, step: &Step, keys: &[&WotsPublicKey], ws: WorkingSpace, enc: LeafEncoding, pieces: &dyn Pieces, mut buf: Vec<u8>) -> Leaf {
    buf.clear();
    let values = step.leaf_values();
    assert_eq!(values.len(), keys.len(), "one key per leaf value");
    let fld = field();
    let flayout = fld.layout();
    let dlayout = ValueKind::decode_layout();
    assert_eq!(dlayout.limbs(), flayout.limbs(), "decoded and field layouts must have the same limb count");
    let l = flayout.limbs();
    // Only the standard encoding regroups digits into limbs in the leaf.
    let to_limbs = (enc == LeafEncoding::Standard).then(|| nibbles_to_limbs(&dlayout));
    let kind = |v: &ValueId| prog.values[*v].kind;

    let mut t = Tracker { entries: Vec::new(), f: Fragment::from_bytes(buf), peak: 0 };
    for (j, node) in prog.ops[step.ops.clone()].iter().enumerate() {
        let h = node.op.hint_items();
        if h > 0 {
            t.entries.push((Slot::Hints(step.ops.start + j), h));
        }
    }
    for v in &step.inputs {
        if kind(v).commit != CommitMode::Direct {
            t.entries.push((Slot::Preimage(*v), kind(v).limbs()));
        }
    }
    let sig_items: Vec<usize> =
        values.iter().map(|v| kind(v).wots_params().leaf_witness_items(enc, kind(v).commit)).collect();
    let witness_items = t.items() + sig_items.iter().sum::<usize>();
    // 1. signatures, from the top (last value first); limbs or digest digits parked on the altstack.
    let mut alt = 0;
    let mut remaining = witness_items;
    let mut parked = Vec::with_capacity(values.len());
    for i in (0..values.len()).rev() {
        let k = kind(&values[i]);
        t.peak = t.peak.max(remaining + alt + ws.per_value_check);
        t.emit(|f| pieces.check(f, keys[i], k));
        let items = match (k.commit, enc) {
            (CommitMode::Direct, LeafEncoding::Standard) => {
                let to_limbs = to_limbs.as_ref().expect("built for the standard encoding");
                for _ in 0..k.elems {
                    t.append(to_limbs);
                    t.emit(|f| (0..l).fold(f, |f, _| f.op(OP_TOALTSTACK)));
                }
                k.elems * l
            }
            // The compact check leaves the limbs of every element.
            (CommitMode::Direct, LeafEncoding::Compact) => {
                t.emit(|f| (0..k.elems * l).fold(f, |f, _| f.op(OP_TOALTSTACK)));
                k.elems * l
            }
            (CommitMode::Hash { .. }, _) => {
                let n = digest_items(k, enc);
                t.emit(|f| (0..n).fold(f, |f, _| f.op(OP_TOALTSTACK)));
                n
            }
        };
        remaining -= sig_items[i];
        alt += items;
        parked.push((values[i], k.commit, items));
    }
    t.emit(|f| (0..alt).fold(f, |f, _| f.op(OP_FROMALTSTACK)));
    for (v, commit, items) in parked.into_iter().rev() {
        let slot = if commit == CommitMode::Direct { Slot::Committed(v) } else { Slot::Digest(v) };
        t.entries.push((slot, items));
    }
    t.note(0);
    // 2. hashed inputs: the preimage from the witness must hash to the signed digest.
    for v in &step.inputs {
        if let CommitMode::Hash { .. } = kind(v).commit {
            let n = digest_items(kind(v), enc);
            t.copy(Slot::Preimage(*v));
            t.note(ws.per_hash);
            t.emit(|f| pieces.digest(f, kind(v)));
            t.replace_top(1, n);
            t.copy(Slot::Digest(*v));
            t.append(&equal_items_verify(n));
            t.entries.pop();
            t.entries.pop();
            let idx = t.find(Slot::Preimage(*v));
            t.entries[idx].0 = Slot::Committed(*v);
        }
    }
    // 3. ok = every element of every committed input is canonical (< p)
    let mut have_ok = false;
    for v in &step.inputs {
        for e in 0..kind(v).elems {
            t.copy_part(Slot::Committed(*v), e * l, l);
            t.emit(|f| pieces.canonical(f));
            t.replace_top(1, 1);
            t.note(l);
            if have_ok {
                t.emit(|f| f.op(OP_BOOLAND));
                t.entries.pop();
            }
            have_ok = true;
        }
    }
    if !have_ok {
        t.emit(|f| f.push_int(1));
        t.entries.push((Slot::Temp, 1));
    }
    t.emit(|f| f.op(OP_IF));
    t.entries.pop();
    let saved = t.entries.clone();
    let below = t.items();

    // 4a. compute
    let ops = &prog.ops[step.ops.clone()];
    let needed_at_end: Vec<ValueId> =
        step.outputs.iter().copied().chain(step.claims.iter().map(|&c| prog.claims[c].0)).collect();
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
                    t.append(&push_val(c));
                    t.entries.push((Slot::Temp, c.len() * l));
                }
                Operand::Value(v) => {
                    let slot = if t.has(Slot::Computed(*v)) { Slot::Computed(*v) } else { Slot::Committed(*v) };
                    t.copy(slot);
                }
            }
            consumed += 1;
        }
        t.note(ws.per_op);
        t.emit(|f| pieces.op(f, opi, node));
        for _ in 0..consumed {
            t.entries.pop();
        }
        t.entries.push((Slot::Computed(node.out), node.op.output_elems() * l));
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
            .filter(|v| !needed_at_end.contains(v) && !later.iter().any(|n| n.args.contains(&Operand::Value(*v))))
            .collect();
        for v in dead {
            t.remove(Slot::Computed(v));
        }
    }
    // 4b. compare: all_equal over outputs and claims
    let mut have_acc = false;
    let mut combine = |t: &mut Tracker| {
        if have_acc {
            t.emit(|f| f.op(OP_BOOLAND));
            t.entries.pop();
        }
        have_acc = true;
    };
    for v in &step.outputs {
        let k = kind(v);
        t.copy(Slot::Computed(*v));
        match k.commit {
            CommitMode::Direct => {
                t.copy(Slot::Committed(*v));
                t.append(&equal_items(k.limbs()));
            }
            CommitMode::Hash { .. } => {
                let n = digest_items(k, enc);
                t.note(ws.per_hash);
                t.emit(|f| pieces.digest(f, k));
                t.replace_top(1, n);
                t.copy(Slot::Digest(*v));
                t.append(&equal_items(n));
            }
        }
        t.replace_top(2, 1);
        combine(&mut t);
    }
    for c in &step.claims {
        let (v, k) = &prog.claims[*c];
        t.copy(Slot::Computed(*v));
        t.append(&push_val(k));
        t.entries.push((Slot::Temp, k.len() * l));
        t.note(0);
        t.append(&equal_items(k.len() * l));
        t.replace_top(2, 1);
        combine(&mut t);
    }
    assert!(have_acc, "a step must have a committed output or a claim");
    // diff = NOT(all equal); park it, drop everything else.
    t.emit(|f| f.op(OP_NOT).op(OP_TOALTSTACK));
    t.entries.pop();
    let rest = t.items();
    t.emit(|f| drop_n(f, rest).op(OP_FROMALTSTACK));
    // 4c. else: drop everything, leave 1
    t.emit(|f| drop_n(f.op(OP_ELSE), below).push_int(1).op(OP_ENDIF));
    t.entries = saved;
    Leaf { script: t.f.into_script(), peak_estimate: t.peak }
}

/// The key-independent pieces of a plan's leaves, built once and shared by every key set
/// (every operator's graph): per graph only the Winternitz public keys and the per-step glue
/// (operand copies, parking, comparisons) are new. Holds the operation scripts that more than
/// one operation shares (deduplicated by content: operations with the same script but their
/// own `Op` instance are common), each committed kind's signature check as a template whose
/// public-key pushes are filled in per key, the canonical check and the digest hashes.
/// The bytes of a leaf are exactly those of [`build_leaf_with`].
pub struct LeafParts {
    enc: LeafEncoding,
    /// Per operation of the program: its script in `shared`, if shared.
    ops: Vec<Option<usize>>,
    shared: Vec<Fragment>,
    checks: Vec<(ValueKind, KeyTemplate)>,
    canonical: Fragment,
    digests: Vec<(ValueKind, Fragment)>,
}

impl std::fmt::Debug for LeafParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LeafParts({:?}: {} shared op scripts, {} bytes, serving {} of {} ops)", self.enc, self.shared.len(), self.shared_bytes(), self.shared_ops(), self.ops.len())
    }
}

impl LeafParts {
    /// The pieces of `plan`'s leaves over `prog` (every operation's script is built once, on
    /// every core, to find the shared ones).
    pub fn new(prog: &Program, plan: &Plan) -> Self {
        let enc = plan.limits.encoding;
        let mut kinds: Vec<ValueKind> = Vec::new();
        for &v in &plan.commitments {
            if !kinds.contains(&prog.values[v].kind) {
                kinds.push(prog.values[v].kind);
            }
        }
        // Scripts by content digest; a script is kept once a second operation has it.
        let seen: Mutex<HashMap<[u8; 32], Option<Fragment>>> = Mutex::default();
        let digests = par_map(
            &prog.ops,
            &|node| {
                let f = node.op.script();
                let d = sha256::Hash::hash(f.as_bytes()).to_byte_array();
                let mut seen = seen.lock().expect("no panics while held");
                match seen.get_mut(&d) {
                    None => {
                        seen.insert(d, None);
                    }
                    Some(kept) => {
                        kept.get_or_insert(f);
                    }
                }
                d
            },
            &|_, _| {},
        );
        let mut shared = Vec::new();
        let mut index: HashMap<[u8; 32], usize> = HashMap::new();
        for (d, f) in seen.into_inner().expect("no panics while held") {
            if let Some(f) = f {
                index.insert(d, shared.len());
                shared.push(f);
            }
        }
        LeafParts {
            enc,
            ops: digests.iter().map(|d| index.get(d).copied()).collect(),
            shared,
            checks: kinds.iter().map(|&k| (k, KeyTemplate::new(k.wots_params(), |pk| leaf_verify_script(pk, enc, k.commit)))).collect(),
            canonical: canonical_check(),
            digests: kinds.iter().filter(|k| k.commit != CommitMode::Direct).map(|&k| (k, hash_to_digest(k, enc))).collect(),
        }
    }

    /// The leaf of `step` (the same bytes as [`build_leaf_with`] under the plan's encoding),
    /// written into `buf` (its capacity is reused: generating many leaves with one buffer per
    /// thread allocates nothing per leaf but the result).
    pub fn build(&self, prog: &Program, step: &Step, keys: &[&WotsPublicKey], ws: WorkingSpace, buf: Vec<u8>) -> Leaf {
        assert_eq!(self.ops.len(), prog.ops.len(), "leaf parts of another program");
        build(prog, step, keys, ws, self.enc, self, buf)
    }

    /// Number of shared operation scripts held.
    pub fn shared_scripts(&self) -> usize {
        self.shared.len()
    }

    /// Bytes of the shared operation scripts held.
    pub fn shared_bytes(&self) -> usize {
        self.shared.iter().map(|f| f.len()).sum()
    }

    /// Number of the program's operations whose script is shared.
    pub fn shared_ops(&self) -> usize {
        self.ops.iter().filter(|o| o.is_some()).count()
    }
}

impl Pieces for LeafParts {
    fn check(&self, f: Fragment, key: &WotsPublicKey, kind: ValueKind) -> Fragment {
        let (_, t) = self.checks.iter().find(|(k, _)| *k == kind).expect("a template for every committed kind");
        let mut bytes = f.into_script().into_bytes();
        t.fill(&mut bytes, key);
        Fragment::from_bytes(bytes)
    }
    fn op(&self, f: Fragment, index: usize, node: &OpNode) -> Fragment {
        match self.ops[index] {
            Some(s) => f.append(&self.shared[s]),
            None => f.append(&node.op.script()),
        }
    }
    fn canonical(&self, f: Fragment) -> Fragment {
        f.append(&self.canonical)
    }
    fn digest(&self, f: Fragment, kind: ValueKind) -> Fragment {
        let (_, d) = self.digests.iter().find(|(k, _)| *k == kind).expect("a digest hash for every hashed kind");
        f.append(d)
    }
}

/// Witness of a leaf: `hints` (per operation of the step, in order), the preimages of the
/// step's hash-committed inputs (in input order), then the signatures of the leaf values.
pub fn leaf_witness(hints: &[Vec<Vec<u8>>], preimages: &[Vec<Vec<u8>>], sigs: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    hints.iter().flatten().chain(preimages.iter().flatten()).chain(sigs.iter().flatten()).cloned().collect()
}
