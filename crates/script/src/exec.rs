//! A BIP-342 tapscript interpreter for development and measurement.
//!
//! [`execute`] runs a tapscript leaf on an initial stack (the witness items, bottom first) and
//! returns an [`ExecReport`]: whether it failed (which opcode, where, why), the final stack, the
//! peak number of stack + altstack items, the largest element, the script size and opcode counts.
//! Resource limits can be enforced (consensus behaviour) or only reported, so oversized
//! experiments can still be measured. Bitcoin Core remains the judge: the `core-oracle` feature
//! runs a corpus through Core's interpreter and checks that both agree.
//!
//! Rules implemented (BIP-342 as in Bitcoin Core's `EvalScript`/`ExecuteWitnessScript`):
//! - a pre-scan: an undecodable push fails the script (`BAD_OPCODE`), and an OP_SUCCESSx found
//!   before any such error makes the script succeed at once (reported in
//!   [`ExecReport::op_success`]);
//! - the legacy disabled opcodes (OP_CAT, OP_MUL, OP_LSHIFT, ...) are OP_SUCCESSx in tapscript,
//!   so they make a leaf succeed, as in Core; what fails is OP_VERIF/OP_VERNOTIF (even when not
//!   executed), OP_INVALIDOPCODE (0xff, when executed) and OP_CHECKMULTISIG(VERIFY);
//! - MINIMALIF (consensus in tapscript), OP_CHECKSIGADD, BIP-340 signatures against [`ExecOptions::sighash`],
//!   the signature-operation validation weight budget, numeric operands of at most 4 bytes
//!   (5 for CLTV/CSV);
//! - minimal pushes and minimal number encodings (MINIMALDATA): a *policy* rule in Core, on by
//!   default here ([`ExecContext::minimal_data`]) because disprove transactions must be standard;
//! - CLTV/CSV are checked against [`ExecContext::tx`] when given, otherwise only their operand is
//!   checked and a note is added to the report.
//!
//! Known simplifications: signatures are verified against the one digest in
//! [`ExecOptions::sighash`], whatever their hash type byte (a 65-byte signature adds a note) and
//! whether or not an OP_CODESEPARATOR preceded them; the validation-weight budget assumes the
//! control block size in [`ExecContext::control_block_len`] and no annex.
//!
//! Agreement with Core is tested in `tests/core_oracle.rs` (`--features core-oracle`): edge
//! cases, every gadget of this crate and 12,000 generated scripts.

use std::fmt;

use bitcoin::hashes::{hash160, ripemd160, sha1, sha256, sha256d, Hash};
use bitcoin::opcodes::Opcode;
use bitcoin::secp256k1::{schnorr, Message, Secp256k1, XOnlyPublicKey};

/// Resource limits checked during execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of stack + altstack items at any point (consensus: 1000).
    pub max_stack_items: usize,
    /// Maximum size of a pushed or initial stack element in bytes (consensus: 520).
    pub max_element_size: usize,
    /// Maximum script size in bytes; `None` = no limit (tapscript has none).
    pub max_script_size: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_stack_items: 1000, max_element_size: 520, max_script_size: None }
    }
}

/// What to do when a [`Limits`] value (or the signature validation budget) is exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitMode {
    /// Fail the script, like consensus does.
    #[default]
    Enforce,
    /// Keep executing and only record the violation in [`ExecReport::limit_violations`].
    Report,
}

/// Options of one execution.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Resource limits.
    pub limits: Limits,
    /// Enforce or only report the limits.
    pub mode: LimitMode,
    /// The BIP-341 signature message digest that OP_CHECKSIG* verify against. `None`: any
    /// non-empty signature makes execution fail with [`ExecErrorKind::NoSighash`].
    pub sighash: Option<[u8; 32]>,
}

/// Transaction fields needed by OP_CHECKLOCKTIMEVERIFY / OP_CHECKSEQUENCEVERIFY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxContext {
    /// The spending transaction's version.
    pub version: i32,
    /// The spending transaction's nLockTime.
    pub lock_time: u32,
    /// The spending input's nSequence.
    pub sequence: u32,
}

/// Further context of an execution that the common case does not need.
#[derive(Debug, Clone)]
pub struct ExecContext {
    /// Require minimal pushes and minimal number encodings (standardness policy; default true).
    pub minimal_data: bool,
    /// The spending transaction for CLTV/CSV; `None` = only check the operand and add a note.
    pub tx: Option<TxContext>,
    /// Size of the control block in the witness (33 + 32 * depth); it counts towards the
    /// signature validation budget. Default 33.
    pub control_block_len: usize,
}

impl Default for ExecContext {
    fn default() -> Self {
        ExecContext { minimal_data: true, tx: None, control_block_len: 33 }
    }
}

impl ExecContext {
    /// Consensus rules only (no MINIMALDATA), as Bitcoin Core's block validation applies them.
    pub fn consensus() -> Self {
        ExecContext { minimal_data: false, ..Default::default() }
    }
}

/// Why execution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecErrorKind {
    /// A push runs past the end of the script, or an undefined opcode was executed.
    #[error("bad opcode (undecodable push or invalid opcode)")]
    BadOpcode,
    /// Opcode not allowed in tapscript (OP_CHECKMULTISIG, OP_CHECKMULTISIGVERIFY).
    #[error("OP_CHECKMULTISIG(VERIFY) is disabled in tapscript")]
    TapscriptCheckMultisig,
    /// An operation needed more stack items than there were.
    #[error("invalid stack operation: needs {needed} item(s), stack has {have}")]
    InvalidStackOperation {
        /// Items the opcode needs.
        needed: usize,
        /// Items on the stack.
        have: usize,
    },
    /// OP_PICK/OP_ROLL index out of range.
    #[error("OP_PICK/OP_ROLL index {index} out of range for stack of {have}")]
    PickRollIndex {
        /// The requested index.
        index: i64,
        /// Items on the stack after popping the index.
        have: usize,
    },
    /// OP_FROMALTSTACK with an empty altstack.
    #[error("OP_FROMALTSTACK on an empty altstack")]
    InvalidAltstackOperation,
    /// OP_IF/OP_NOTIF argument was not empty or 0x01.
    #[error("MINIMALIF: OP_IF/OP_NOTIF argument must be empty or 0x01, got {0}")]
    MinimalIf(String),
    /// OP_IF without argument, OP_ELSE/OP_ENDIF without OP_IF, or OP_IF without OP_ENDIF.
    #[error("unbalanced conditional")]
    UnbalancedConditional,
    /// A push was not the shortest possible encoding.
    #[error("non-minimal push (MINIMALDATA)")]
    MinimalData,
    /// A number was not minimally encoded.
    #[error("non-minimally encoded number {0}")]
    NonMinimalNumber(String),
    /// A numeric operand was longer than allowed.
    #[error("number {value} is {len} bytes, more than the {max} allowed")]
    NumberOverflow {
        /// Hex of the operand.
        value: String,
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// OP_VERIFY on a false value.
    #[error("OP_VERIFY failed")]
    Verify,
    /// OP_EQUALVERIFY on unequal values.
    #[error("OP_EQUALVERIFY failed")]
    EqualVerify,
    /// OP_NUMEQUALVERIFY on unequal numbers.
    #[error("OP_NUMEQUALVERIFY failed")]
    NumEqualVerify,
    /// OP_CHECKSIGVERIFY with an empty signature.
    #[error("OP_CHECKSIGVERIFY failed")]
    CheckSigVerify,
    /// OP_RETURN executed.
    #[error("OP_RETURN executed")]
    OpReturn,
    /// A push or initial element is larger than the element size limit.
    #[error("element of {size} bytes exceeds the limit of {max}")]
    PushSize {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Stack + altstack exceed the item limit.
    #[error("stack + altstack hold {items} items, more than {max}")]
    StackSize {
        /// Items held.
        items: usize,
        /// The limit.
        max: usize,
    },
    /// The script is larger than the configured limit.
    #[error("script of {size} bytes exceeds the limit of {max}")]
    ScriptSize {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The public key of a signature check is empty.
    #[error("empty public key in signature check")]
    PubkeyType,
    /// A non-empty BIP-340 signature has the wrong size.
    #[error("Schnorr signature of {0} bytes (must be 64 or 65)")]
    SchnorrSigSize(usize),
    /// A 65-byte signature has an invalid hash type byte.
    #[error("invalid Schnorr signature hash type 0x{0:02x}")]
    SchnorrSigHashType(u8),
    /// A non-empty signature did not verify.
    #[error("invalid Schnorr signature")]
    SchnorrSig,
    /// A non-empty signature must be checked but no sighash was given in the options.
    #[error("a signature must be verified but ExecOptions::sighash is None")]
    NoSighash,
    /// Too many signature checks for the witness size (BIP-342 validation weight).
    #[error("signature validation weight budget exceeded")]
    ValidationWeight,
    /// CLTV/CSV with a negative operand.
    #[error("negative locktime")]
    NegativeLocktime,
    /// CLTV/CSV not satisfied by the transaction context.
    #[error("unsatisfied locktime")]
    UnsatisfiedLocktime,
    /// Execution ended with a stack other than exactly one true element.
    #[error("CLEANSTACK: final stack has {0} items, must be exactly 1")]
    CleanStack(usize),
    /// Execution ended with one false element.
    #[error("script evaluated to false")]
    EvalFalse,
}

/// A failed execution: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    /// Byte offset in the script of the failing opcode (script length for end-of-script errors).
    pub offset: usize,
    /// Index of the failing instruction (0-based, pushes included).
    pub opcode_index: usize,
    /// The failing opcode; `None` for errors not tied to one (initial stack, end of script).
    pub opcode: Option<Opcode>,
    /// The reason.
    pub kind: ExecErrorKind,
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.opcode {
            Some(op) => write!(
                f,
                "{} at byte offset {} (instruction #{}): {}",
                op, self.offset, self.opcode_index, self.kind
            ),
            None => write!(f, "at byte offset {} (end/start of script): {}", self.offset, self.kind),
        }
    }
}

impl std::error::Error for ExecError {}

/// Everything learned from one execution.
#[derive(Debug, Clone)]
pub struct ExecReport {
    /// `Ok` if the script ran to its end (or hit OP_SUCCESSx) without error. CLEANSTACK is not
    /// part of this: see [`ExecReport::success`].
    pub outcome: Result<(), ExecError>,
    /// The main stack at the end (bottom first); at the failure point if it failed.
    pub final_stack: Vec<Vec<u8>>,
    /// Largest number of stack + altstack items seen (initial stack included).
    pub peak_items: usize,
    /// Largest element (bytes) seen on either stack.
    pub largest_element: usize,
    /// Script size in bytes.
    pub script_size: usize,
    /// Number of non-push opcodes (opcode > OP_16) in the script.
    pub opcode_count: usize,
    /// Number of instructions executed (pushes and opcodes in taken branches).
    pub executed_ops: usize,
    /// Limit violations recorded (in [`LimitMode::Report`] execution continued past them).
    pub limit_violations: Vec<String>,
    /// If the script holds an OP_SUCCESSx reached by the pre-scan: (byte offset, opcode byte).
    /// The script then succeeds without executing anything.
    pub op_success: Option<(usize, u8)>,
    /// Remarks on things not fully checked (e.g. CLTV without a transaction context).
    pub notes: Vec<String>,
}

impl ExecReport {
    /// Whether Bitcoin Core would accept this leaf with this witness: the script succeeded
    /// through OP_SUCCESSx, or ran without error and left exactly one true item (CLEANSTACK).
    pub fn success(&self) -> bool {
        self.verdict().is_ok()
    }

    /// One line of figures: verdict, script size, opcodes, peak items, largest element.
    pub fn summary(&self) -> String {
        let verdict = match self.verdict() {
            Ok(()) if self.op_success.is_some() => "success (OP_SUCCESSx)".to_string(),
            Ok(()) => "success".to_string(),
            Err(e) => format!("failed: {e}"),
        };
        format!(
            "{verdict}; script {} B, {} opcodes, {} executed, peak {} items, largest element {} B{}",
            self.script_size,
            self.opcode_count,
            self.executed_ops,
            self.peak_items,
            self.largest_element,
            if self.limit_violations.is_empty() {
                String::new()
            } else {
                format!("; limit violations: {}", self.limit_violations.join("; "))
            }
        )
    }

    /// Like [`ExecReport::success`] but says why not.
    pub fn verdict(&self) -> Result<(), ExecError> {
        self.outcome.clone()?;
        if self.op_success.is_some() {
            return Ok(());
        }
        let end = |kind| ExecError { offset: self.script_size, opcode_index: 0, opcode: None, kind };
        if self.final_stack.len() != 1 {
            return Err(end(ExecErrorKind::CleanStack(self.final_stack.len())));
        }
        if !cast_to_bool(&self.final_stack[0]) {
            return Err(end(ExecErrorKind::EvalFalse));
        }
        Ok(())
    }
}

/// Encode a number as a minimal script number (little-endian sign-magnitude).
pub fn encode_num(n: i64) -> Vec<u8> {
    if n == 0 {
        return Vec::new();
    }
    let neg = n < 0;
    let mut abs = n.unsigned_abs();
    let mut out = Vec::with_capacity(9);
    while abs > 0 {
        out.push((abs & 0xff) as u8);
        abs >>= 8;
    }
    if out.last().unwrap() & 0x80 != 0 {
        out.push(if neg { 0x80 } else { 0x00 });
    } else if neg {
        *out.last_mut().unwrap() |= 0x80;
    }
    out
}

/// Decode a minimally encoded script number of at most `max_len` bytes (4 for arithmetic
/// operands, 5 for CLTV/CSV).
pub fn decode_num(bytes: &[u8], max_len: usize) -> Result<i64, ExecErrorKind> {
    decode_num_with(bytes, max_len, true)
}

/// Decode a script number, requiring minimal encoding only if `require_minimal`.
pub fn decode_num_with(bytes: &[u8], max_len: usize, require_minimal: bool) -> Result<i64, ExecErrorKind> {
    if bytes.len() > max_len {
        return Err(ExecErrorKind::NumberOverflow {
            value: hex::encode(bytes),
            len: bytes.len(),
            max: max_len,
        });
    }
    if bytes.is_empty() {
        return Ok(0);
    }
    if require_minimal {
        let last = bytes[bytes.len() - 1];
        if last & 0x7f == 0 && (bytes.len() <= 1 || bytes[bytes.len() - 2] & 0x80 == 0) {
            return Err(ExecErrorKind::NonMinimalNumber(hex::encode(bytes)));
        }
    }
    let mut v: i64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        v |= (*b as i64) << (8 * i);
    }
    let last = bytes[bytes.len() - 1];
    if last & 0x80 != 0 {
        let mask = !(0x80i64 << (8 * (bytes.len() - 1)));
        Ok(-(v & mask))
    } else {
        Ok(v)
    }
}

/// Script truthiness: false for empty, all-zero and negative zero.
pub fn cast_to_bool(v: &[u8]) -> bool {
    for (i, b) in v.iter().enumerate() {
        if *b != 0 {
            return !(i == v.len() - 1 && *b == 0x80);
        }
    }
    false
}

/// Whether `op` is an OP_SUCCESSx in tapscript (BIP-342).
pub fn is_op_success(op: u8) -> bool {
    matches!(op, 80 | 98 | 126..=129 | 131..=134 | 137..=138 | 141..=142 | 149..=153 | 187..=254)
}

/// One decoded instruction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Instr<'a> {
    /// The opcode byte.
    pub op: u8,
    /// Push payload for push opcodes (0x00..=0x4e), empty otherwise.
    pub data: &'a [u8],
}

/// Decode the instruction at `pos`; `None` if the push runs past the end.
pub(crate) fn decode_at(script: &[u8], pos: usize) -> Option<(Instr<'_>, usize)> {
    let op = script[pos];
    let (len, hdr) = match op {
        0x01..=0x4b => (op as usize, 1),
        0x4c => (*script.get(pos + 1)? as usize, 2),
        0x4d => {
            let b = script.get(pos + 1..pos + 3)?;
            (u16::from_le_bytes([b[0], b[1]]) as usize, 3)
        }
        0x4e => {
            let b = script.get(pos + 1..pos + 5)?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 5)
        }
        _ => (0, 1),
    };
    let start = pos + hdr;
    let end = start.checked_add(len)?;
    if end > script.len() {
        return None;
    }
    Some((Instr { op, data: &script[start..end] }, end))
}

/// Whether a push instruction is the minimal encoding of its data (Core's CheckMinimalPush).
pub(crate) fn is_minimal_push(op: u8, data: &[u8]) -> bool {
    match data.len() {
        0 => op == 0x00,
        1 if (1..=16).contains(&data[0]) => false,
        1 if data[0] == 0x81 => false,
        n if n <= 75 => op as usize == n,
        n if n <= 255 => op == 0x4c,
        n if n <= 65535 => op == 0x4d,
        _ => true,
    }
}

const VALIDATION_WEIGHT_PER_SIGOP_PASSED: i64 = 50;
const VALIDATION_WEIGHT_OFFSET: i64 = 50;

fn compact_size_len(n: usize) -> usize {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Serialized size of a tapscript spend's witness: items, script, control block.
fn witness_size(items: &[Vec<u8>], script_len: usize, cb_len: usize) -> usize {
    let mut n = compact_size_len(items.len() + 2);
    for it in items {
        n += compact_size_len(it.len()) + it.len();
    }
    n + compact_size_len(script_len) + script_len + compact_size_len(cb_len) + cb_len
}

/// Run `script` as a tapscript leaf on `initial_stack` (bottom first, like witness items) with
/// the default [`ExecContext`] (MINIMALDATA on, no transaction for CLTV/CSV).
pub fn execute(script: &bitcoin::Script, initial_stack: &[Vec<u8>], opts: &ExecOptions) -> ExecReport {
    execute_with(script, initial_stack, opts, &ExecContext::default())
}

/// Run `script` as a tapscript leaf with an explicit [`ExecContext`].
pub fn execute_with(
    script: &bitcoin::Script,
    initial_stack: &[Vec<u8>],
    opts: &ExecOptions,
    ctx: &ExecContext,
) -> ExecReport {
    let bytes = script.as_bytes();
    let mut m = Machine::new(bytes, initial_stack, opts, ctx);
    let outcome = m.run();
    ExecReport {
        outcome,
        final_stack: m.stack,
        peak_items: m.peak_items,
        largest_element: m.largest_element,
        script_size: bytes.len(),
        opcode_count: m.opcode_count,
        executed_ops: m.executed_ops,
        limit_violations: m.violations,
        op_success: m.op_success,
        notes: m.notes,
    }
}

struct Machine<'a> {
    script: &'a [u8],
    opts: &'a ExecOptions,
    ctx: &'a ExecContext,
    stack: Vec<Vec<u8>>,
    alt: Vec<Vec<u8>>,
    peak_items: usize,
    largest_element: usize,
    opcode_count: usize,
    executed_ops: usize,
    violations: Vec<String>,
    op_success: Option<(usize, u8)>,
    notes: Vec<String>,
    weight_left: i64,
    // position of the current instruction, for errors
    cur_offset: usize,
    cur_index: usize,
    cur_op: Option<u8>,
    reported_stack_violation: bool,
    reported_push_violation: bool,
    reported_weight_violation: bool,
}

type R<T> = Result<T, ExecErrorKind>;

impl<'a> Machine<'a> {
    fn new(script: &'a [u8], init: &[Vec<u8>], opts: &'a ExecOptions, ctx: &'a ExecContext) -> Self {
        let weight = witness_size(init, script.len(), ctx.control_block_len) as i64 + VALIDATION_WEIGHT_OFFSET;
        Machine {
            script,
            opts,
            ctx,
            stack: init.to_vec(),
            alt: Vec::new(),
            peak_items: init.len(),
            largest_element: init.iter().map(|v| v.len()).max().unwrap_or(0),
            opcode_count: 0,
            executed_ops: 0,
            violations: Vec::new(),
            op_success: None,
            notes: Vec::new(),
            weight_left: weight,
            cur_offset: 0,
            cur_index: 0,
            cur_op: None,
            reported_stack_violation: false,
            reported_push_violation: false,
            reported_weight_violation: false,
        }
    }

    fn err_here(&self, kind: ExecErrorKind) -> ExecError {
        ExecError {
            offset: self.cur_offset,
            opcode_index: self.cur_index,
            opcode: self.cur_op.map(Opcode::from),
            kind,
        }
    }

    fn err_global(&self, offset: usize, kind: ExecErrorKind) -> ExecError {
        ExecError { offset, opcode_index: 0, opcode: None, kind }
    }

    /// A limit was exceeded: error in Enforce mode, record in Report mode.
    fn limit(&mut self, kind: ExecErrorKind, which: u8) -> R<()> {
        match self.opts.mode {
            LimitMode::Enforce => Err(kind),
            LimitMode::Report => {
                let flag = match which {
                    0 => &mut self.reported_stack_violation,
                    1 => &mut self.reported_push_violation,
                    _ => &mut self.reported_weight_violation,
                };
                if !*flag {
                    *flag = true;
                    let at = match self.cur_op {
                        Some(op) => format!("{} at offset {} (#{})", Opcode::from(op), self.cur_offset, self.cur_index),
                        None => "initial stack".to_string(),
                    };
                    self.violations.push(format!("{at}: {kind} (first occurrence)"));
                }
                Ok(())
            }
        }
    }

    fn run(&mut self) -> Result<(), ExecError> {
        let script = self.script;
        // Script size limit (none by default in tapscript).
        if let Some(max) = self.opts.limits.max_script_size {
            if script.len() > max {
                let k = ExecErrorKind::ScriptSize { size: script.len(), max };
                match self.opts.mode {
                    LimitMode::Enforce => return Err(self.err_global(0, k)),
                    LimitMode::Report => self.violations.push(k.to_string()),
                }
            }
        }
        // Pre-scan: decodability, OP_SUCCESSx, opcode count.
        let mut pos = 0;
        let mut index = 0;
        while pos < script.len() {
            let Some((ins, next)) = decode_at(script, pos) else {
                self.cur_offset = pos;
                self.cur_index = index;
                self.cur_op = Some(script[pos]);
                return Err(self.err_here(ExecErrorKind::BadOpcode));
            };
            if is_op_success(ins.op) {
                self.op_success = Some((pos, ins.op));
                return Ok(());
            }
            if ins.op > 0x60 {
                self.opcode_count += 1;
            }
            pos = next;
            index += 1;
        }
        // Initial stack limits.
        let max_items = self.opts.limits.max_stack_items;
        if self.stack.len() > max_items {
            let k = ExecErrorKind::StackSize { items: self.stack.len(), max: max_items };
            self.limit(k, 0).map_err(|k| self.err_global(0, k))?;
        }
        let max_el = self.opts.limits.max_element_size;
        if let Some(big) = self.stack.iter().map(|v| v.len()).max() {
            if big > max_el {
                let k = ExecErrorKind::PushSize { size: big, max: max_el };
                self.limit(k, 1).map_err(|k| self.err_global(0, k))?;
            }
        }
        // Execution.
        let mut exec_stack: Vec<bool> = Vec::new();
        let mut false_count = 0usize;
        let mut pos = 0;
        let mut index = 0;
        while pos < script.len() {
            let (ins, next) = decode_at(script, pos).expect("pre-scanned");
            self.cur_offset = pos;
            self.cur_index = index;
            self.cur_op = Some(ins.op);
            let res = self.step(ins, &mut exec_stack, &mut false_count);
            res.map_err(|k| self.err_here(k))?;
            let items = self.stack.len() + self.alt.len();
            if items > self.peak_items {
                self.peak_items = items;
            }
            if items > max_items {
                let k = ExecErrorKind::StackSize { items, max: max_items };
                self.limit(k, 0).map_err(|k| self.err_here(k))?;
            }
            pos = next;
            index += 1;
        }
        if !exec_stack.is_empty() {
            return Err(self.err_global(script.len(), ExecErrorKind::UnbalancedConditional));
        }
        Ok(())
    }

    fn need(&self, n: usize) -> R<()> {
        if self.stack.len() < n {
            Err(ExecErrorKind::InvalidStackOperation { needed: n, have: self.stack.len() })
        } else {
            Ok(())
        }
    }

    fn push(&mut self, v: Vec<u8>) {
        if v.len() > self.largest_element {
            self.largest_element = v.len();
        }
        self.stack.push(v);
    }

    fn pop(&mut self) -> R<Vec<u8>> {
        self.stack.pop().ok_or(ExecErrorKind::InvalidStackOperation { needed: 1, have: 0 })
    }

    fn top(&self, i: usize) -> &Vec<u8> {
        &self.stack[self.stack.len() - i]
    }

    fn pop_num(&mut self, max_len: usize) -> R<i64> {
        self.need(1)?;
        let n = decode_num_with(self.top(1), max_len, self.ctx.minimal_data)?;
        self.pop()?;
        Ok(n)
    }

    fn push_bool(&mut self, b: bool) {
        self.push(if b { vec![1] } else { vec![] });
    }

    fn step(&mut self, ins: Instr<'_>, vf: &mut Vec<bool>, false_count: &mut usize) -> R<()> {
        use bitcoin::opcodes::all::*;
        let op = ins.op;
        let fexec = *false_count == 0;
        // Push size limit applies to every push, executed or not.
        if ins.data.len() > self.opts.limits.max_element_size {
            let k = ExecErrorKind::PushSize { size: ins.data.len(), max: self.opts.limits.max_element_size };
            self.limit(k, 1)?;
        }
        if op <= 0x4e {
            if fexec {
                self.executed_ops += 1;
                if self.ctx.minimal_data && !is_minimal_push(op, ins.data) {
                    return Err(ExecErrorKind::MinimalData);
                }
                self.push(ins.data.to_vec());
            }
            return Ok(());
        }
        let is_cond = (OP_IF.to_u8()..=OP_ENDIF.to_u8()).contains(&op);
        if !fexec && !is_cond {
            return Ok(());
        }
        self.executed_ops += 1;
        let o = Opcode::from(op);
        match o {
            OP_PUSHNUM_NEG1 => self.push(vec![0x81]),
            _ if (OP_PUSHNUM_1.to_u8()..=OP_PUSHNUM_16.to_u8()).contains(&op) => {
                self.push(vec![op - OP_PUSHNUM_1.to_u8() + 1])
            }
            OP_NOP | OP_NOP1 | OP_NOP4 | OP_NOP5 | OP_NOP6 | OP_NOP7 | OP_NOP8 | OP_NOP9 | OP_NOP10 => {}
            OP_CLTV | OP_CSV => self.locktime(o == OP_CLTV)?,
            OP_IF | OP_NOTIF => {
                let mut value = false;
                if fexec {
                    if self.stack.is_empty() {
                        return Err(ExecErrorKind::UnbalancedConditional);
                    }
                    let v = self.top(1);
                    if v.len() > 1 || (v.len() == 1 && v[0] != 1) {
                        return Err(ExecErrorKind::MinimalIf(hex::encode(v)));
                    }
                    value = v.len() == 1;
                    if o == OP_NOTIF {
                        value = !value;
                    }
                    self.pop()?;
                }
                if !value {
                    *false_count += 1;
                }
                vf.push(value);
            }
            OP_ELSE => {
                let Some(last) = vf.last_mut() else {
                    return Err(ExecErrorKind::UnbalancedConditional);
                };
                if *last {
                    *false_count += 1;
                } else {
                    *false_count -= 1;
                }
                *last = !*last;
            }
            OP_ENDIF => {
                let Some(last) = vf.pop() else {
                    return Err(ExecErrorKind::UnbalancedConditional);
                };
                if !last {
                    *false_count -= 1;
                }
            }
            OP_VERIFY => {
                self.need(1)?;
                if cast_to_bool(self.top(1)) {
                    self.pop()?;
                } else {
                    return Err(ExecErrorKind::Verify);
                }
            }
            OP_RETURN => return Err(ExecErrorKind::OpReturn),
            OP_TOALTSTACK => {
                self.need(1)?;
                let v = self.pop()?;
                self.alt.push(v);
            }
            OP_FROMALTSTACK => {
                let v = self.alt.pop().ok_or(ExecErrorKind::InvalidAltstackOperation)?;
                self.push(v);
            }
            OP_2DROP => {
                self.need(2)?;
                self.pop()?;
                self.pop()?;
            }
            OP_2DUP => {
                self.need(2)?;
                let (a, b) = (self.top(2).clone(), self.top(1).clone());
                self.push(a);
                self.push(b);
            }
            OP_3DUP => {
                self.need(3)?;
                let (a, b, c) = (self.top(3).clone(), self.top(2).clone(), self.top(1).clone());
                self.push(a);
                self.push(b);
                self.push(c);
            }
            OP_2OVER => {
                self.need(4)?;
                let (a, b) = (self.top(4).clone(), self.top(3).clone());
                self.push(a);
                self.push(b);
            }
            OP_2ROT => {
                self.need(6)?;
                let n = self.stack.len();
                let a = self.stack.remove(n - 6);
                let b = self.stack.remove(n - 6);
                self.stack.push(a);
                self.stack.push(b);
            }
            OP_2SWAP => {
                self.need(4)?;
                let n = self.stack.len();
                self.stack.swap(n - 4, n - 2);
                self.stack.swap(n - 3, n - 1);
            }
            OP_IFDUP => {
                self.need(1)?;
                if cast_to_bool(self.top(1)) {
                    let v = self.top(1).clone();
                    self.push(v);
                }
            }
            OP_DEPTH => {
                let d = self.stack.len() as i64;
                self.push(encode_num(d));
            }
            OP_DROP => {
                self.need(1)?;
                self.pop()?;
            }
            OP_DUP => {
                self.need(1)?;
                let v = self.top(1).clone();
                self.push(v);
            }
            OP_NIP => {
                self.need(2)?;
                let n = self.stack.len();
                self.stack.remove(n - 2);
            }
            OP_OVER => {
                self.need(2)?;
                let v = self.top(2).clone();
                self.push(v);
            }
            OP_PICK | OP_ROLL => {
                self.need(2)?;
                let n = self.pop_num(4)?;
                if n < 0 || n as usize >= self.stack.len() {
                    return Err(ExecErrorKind::PickRollIndex { index: n, have: self.stack.len() });
                }
                let idx = self.stack.len() - 1 - n as usize;
                if o == OP_ROLL {
                    let v = self.stack.remove(idx);
                    self.stack.push(v);
                } else {
                    let v = self.stack[idx].clone();
                    self.push(v);
                }
            }
            OP_ROT => {
                self.need(3)?;
                let n = self.stack.len();
                let v = self.stack.remove(n - 3);
                self.stack.push(v);
            }
            OP_SWAP => {
                self.need(2)?;
                let n = self.stack.len();
                self.stack.swap(n - 2, n - 1);
            }
            OP_TUCK => {
                self.need(2)?;
                let n = self.stack.len();
                let v = self.top(1).clone();
                self.stack.insert(n - 2, v);
            }
            OP_SIZE => {
                self.need(1)?;
                let s = self.top(1).len() as i64;
                self.push(encode_num(s));
            }
            OP_EQUAL | OP_EQUALVERIFY => {
                self.need(2)?;
                let b = self.pop()?;
                let a = self.pop()?;
                let eq = a == b;
                if o == OP_EQUALVERIFY {
                    if !eq {
                        self.push_bool(eq);
                        return Err(ExecErrorKind::EqualVerify);
                    }
                } else {
                    self.push_bool(eq);
                }
            }
            OP_1ADD | OP_1SUB | OP_NEGATE | OP_ABS | OP_NOT | OP_0NOTEQUAL => {
                self.need(1)?;
                let a = self.pop_num(4)?;
                let r = match o {
                    OP_1ADD => a + 1,
                    OP_1SUB => a - 1,
                    OP_NEGATE => -a,
                    OP_ABS => a.abs(),
                    OP_NOT => (a == 0) as i64,
                    _ => (a != 0) as i64,
                };
                self.push(encode_num(r));
            }
            OP_ADD | OP_SUB | OP_BOOLAND | OP_BOOLOR | OP_NUMEQUAL | OP_NUMEQUALVERIFY | OP_NUMNOTEQUAL
            | OP_LESSTHAN | OP_GREATERTHAN | OP_LESSTHANOREQUAL | OP_GREATERTHANOREQUAL | OP_MIN | OP_MAX => {
                self.need(2)?;
                // Core decodes both operands before popping; order of errors: bn1 (second from
                // top) first.
                let min = self.ctx.minimal_data;
                let a = decode_num_with(self.top(2), 4, min)?;
                let b = decode_num_with(self.top(1), 4, min)?;
                self.pop()?;
                self.pop()?;
                let r = match o {
                    OP_ADD => a + b,
                    OP_SUB => a - b,
                    OP_BOOLAND => (a != 0 && b != 0) as i64,
                    OP_BOOLOR => (a != 0 || b != 0) as i64,
                    OP_NUMEQUAL | OP_NUMEQUALVERIFY => (a == b) as i64,
                    OP_NUMNOTEQUAL => (a != b) as i64,
                    OP_LESSTHAN => (a < b) as i64,
                    OP_GREATERTHAN => (a > b) as i64,
                    OP_LESSTHANOREQUAL => (a <= b) as i64,
                    OP_GREATERTHANOREQUAL => (a >= b) as i64,
                    OP_MIN => a.min(b),
                    _ => a.max(b),
                };
                if o == OP_NUMEQUALVERIFY {
                    if r == 0 {
                        self.push(encode_num(r));
                        return Err(ExecErrorKind::NumEqualVerify);
                    }
                } else {
                    self.push(encode_num(r));
                }
            }
            OP_WITHIN => {
                self.need(3)?;
                let min = self.ctx.minimal_data;
                let x = decode_num_with(self.top(3), 4, min)?;
                let lo = decode_num_with(self.top(2), 4, min)?;
                let hi = decode_num_with(self.top(1), 4, min)?;
                self.pop()?;
                self.pop()?;
                self.pop()?;
                self.push_bool(lo <= x && x < hi);
            }
            OP_RIPEMD160 | OP_SHA1 | OP_SHA256 | OP_HASH160 | OP_HASH256 => {
                self.need(1)?;
                let v = self.pop()?;
                let h = match o {
                    OP_RIPEMD160 => ripemd160::Hash::hash(&v).to_byte_array().to_vec(),
                    OP_SHA1 => sha1::Hash::hash(&v).to_byte_array().to_vec(),
                    OP_SHA256 => sha256::Hash::hash(&v).to_byte_array().to_vec(),
                    OP_HASH160 => hash160::Hash::hash(&v).to_byte_array().to_vec(),
                    _ => sha256d::Hash::hash(&v).to_byte_array().to_vec(),
                };
                self.push(h);
            }
            OP_CODESEPARATOR => {
                self.notes.push(format!(
                    "OP_CODESEPARATOR at offset {}: it changes the BIP-341 sighash; opts.sighash must already account for it",
                    self.cur_offset
                ));
            }
            OP_CHECKSIG | OP_CHECKSIGVERIFY => {
                self.need(2)?;
                let sig = self.top(2).clone();
                let pk = self.top(1).clone();
                let ok = self.check_sig(&sig, &pk)?;
                self.pop()?;
                self.pop()?;
                if o == OP_CHECKSIGVERIFY {
                    if !ok {
                        return Err(ExecErrorKind::CheckSigVerify);
                    }
                } else {
                    self.push_bool(ok);
                }
            }
            OP_CHECKSIGADD => {
                self.need(3)?;
                let sig = self.top(3).clone();
                let n = decode_num_with(self.top(2), 4, self.ctx.minimal_data)?;
                let pk = self.top(1).clone();
                let ok = self.check_sig(&sig, &pk)?;
                self.pop()?;
                self.pop()?;
                self.pop()?;
                self.push(encode_num(n + ok as i64));
            }
            OP_CHECKMULTISIG | OP_CHECKMULTISIGVERIFY => return Err(ExecErrorKind::TapscriptCheckMultisig),
            // OP_VERIF, OP_VERNOTIF (reached even unexecuted), OP_INVALIDOPCODE and anything
            // else undefined. OP_SUCCESSx never gets here (pre-scan).
            _ => return Err(ExecErrorKind::BadOpcode),
        }
        Ok(())
    }

    fn check_sig(&mut self, sig: &[u8], pk: &[u8]) -> R<bool> {
        let success = !sig.is_empty();
        if success {
            self.weight_left -= VALIDATION_WEIGHT_PER_SIGOP_PASSED;
            if self.weight_left < 0 {
                self.limit(ExecErrorKind::ValidationWeight, 2)?;
            }
        }
        if pk.is_empty() {
            return Err(ExecErrorKind::PubkeyType);
        }
        if pk.len() == 32 {
            if success {
                let raw = match sig.len() {
                    64 => sig,
                    65 => {
                        let ht = sig[64];
                        if !matches!(ht, 0x01..=0x03 | 0x81..=0x83) {
                            return Err(ExecErrorKind::SchnorrSigHashType(ht));
                        }
                        self.notes.push(format!(
                            "signature with hash type 0x{ht:02x} at offset {}: verified against opts.sighash as given",
                            self.cur_offset
                        ));
                        &sig[..64]
                    }
                    n => return Err(ExecErrorKind::SchnorrSigSize(n)),
                };
                let digest = self.opts.sighash.ok_or(ExecErrorKind::NoSighash)?;
                let secp = Secp256k1::verification_only();
                let ok = match (schnorr::Signature::from_slice(raw), XOnlyPublicKey::from_slice(pk)) {
                    (Ok(s), Ok(k)) => secp.verify_schnorr(&s, &Message::from_digest(digest), &k).is_ok(),
                    _ => false,
                };
                if !ok {
                    return Err(ExecErrorKind::SchnorrSig);
                }
            }
        } else {
            // Unknown public key type: succeeds as if valid (upgradable; policy discourages it).
            self.notes.push(format!(
                "public key of {} bytes at offset {}: unknown key type, treated as valid (non-standard)",
                pk.len(),
                self.cur_offset
            ));
        }
        Ok(success)
    }

    fn locktime(&mut self, cltv: bool) -> R<()> {
        self.need(1)?;
        let n = decode_num_with(self.top(1), 5, self.ctx.minimal_data)?;
        if n < 0 {
            return Err(ExecErrorKind::NegativeLocktime);
        }
        let Some(tx) = self.ctx.tx else {
            self.notes.push(format!(
                "{} at offset {} not checked against a transaction (no ExecContext::tx)",
                if cltv { "OP_CHECKLOCKTIMEVERIFY" } else { "OP_CHECKSEQUENCEVERIFY" },
                self.cur_offset
            ));
            return Ok(());
        };
        const THRESHOLD: i64 = 500_000_000;
        if cltv {
            let lt = tx.lock_time as i64;
            let same_kind = (lt < THRESHOLD) == (n < THRESHOLD);
            if !same_kind || n > lt || tx.sequence == 0xffff_ffff {
                return Err(ExecErrorKind::UnsatisfiedLocktime);
            }
        } else {
            const DISABLE: i64 = 1 << 31;
            const TYPE: i64 = 1 << 22;
            const MASK: i64 = TYPE | 0xffff;
            if n & DISABLE != 0 {
                return Ok(());
            }
            let seq = tx.sequence as i64;
            if tx.version < 2 || seq & DISABLE != 0 {
                return Err(ExecErrorKind::UnsatisfiedLocktime);
            }
            let (nm, sm) = (n & MASK, seq & MASK);
            let same_kind = (nm < TYPE) == (sm < TYPE);
            if !same_kind || nm > sm {
                return Err(ExecErrorKind::UnsatisfiedLocktime);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::Fragment;
    use bitcoin::opcodes::all::*;
    use bitcoin::secp256k1::{Keypair, SecretKey};
    use proptest::prelude::*;

    fn run(f: &Fragment, stack: &[Vec<u8>]) -> ExecReport {
        execute(&f.to_script(), stack, &ExecOptions::default())
    }

    fn run_raw(bytes: &[u8], stack: &[Vec<u8>]) -> ExecReport {
        execute(bitcoin::Script::from_bytes(bytes), stack, &ExecOptions::default())
    }

    fn kind(r: &ExecReport) -> ExecErrorKind {
        r.outcome.clone().expect_err("expected failure").kind
    }

    fn n(v: i64) -> Vec<u8> {
        encode_num(v)
    }

    #[test]
    fn num_encoding_known_values() {
        assert_eq!(encode_num(0), Vec::<u8>::new());
        assert_eq!(encode_num(1), vec![1]);
        assert_eq!(encode_num(-1), vec![0x81]);
        assert_eq!(encode_num(127), vec![0x7f]);
        assert_eq!(encode_num(128), vec![0x80, 0x00]);
        assert_eq!(encode_num(-128), vec![0x80, 0x80]);
        assert_eq!(encode_num(255), vec![0xff, 0x00]);
        assert_eq!(encode_num(0x7fff_ffff), vec![0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(encode_num(0x8000_0000), vec![0, 0, 0, 0x80, 0]);
        assert_eq!(decode_num(&[0x00], 4), Err(ExecErrorKind::NonMinimalNumber("00".into())));
        assert_eq!(decode_num(&[0x01, 0x00], 4), Err(ExecErrorKind::NonMinimalNumber("0100".into())));
        assert_eq!(decode_num_with(&[0x01, 0x00], 4, false), Ok(1));
        assert_eq!(decode_num_with(&[0x80], 4, false), Ok(0)); // negative zero
        assert_eq!(decode_num(&[0xff, 0x80], 4), Ok(-255));
        assert!(matches!(decode_num(&[1, 2, 3, 4, 5], 4), Err(ExecErrorKind::NumberOverflow { len: 5, .. })));
        assert_eq!(decode_num(&[1, 2, 3, 4, 5], 5), Ok(0x05_0403_0201));
    }

    proptest! {
        #[test]
        fn num_round_trip(v in -(1i64 << 39) + 1..(1i64 << 39)) {
            let e = encode_num(v);
            prop_assert!(e.len() <= 5);
            prop_assert_eq!(decode_num(&e, 5), Ok(v));
        }

        #[test]
        fn decode_accepts_only_minimal(bytes in proptest::collection::vec(any::<u8>(), 0..5)) {
            let lax = decode_num_with(&bytes, 4, false).unwrap();
            let strict = decode_num(&bytes, 4);
            // Minimal iff re-encoding gives the same bytes.
            prop_assert_eq!(strict.is_ok(), encode_num(lax) == bytes);
        }

        #[test]
        fn binary_arithmetic_matches_native(a in -(1i64 << 31) + 1..(1i64 << 31), b in -(1i64 << 31) + 1..(1i64 << 31)) {
            let cases: [(Opcode, i64); 12] = [
                (OP_ADD, a + b), (OP_SUB, a - b), (OP_BOOLAND, (a != 0 && b != 0) as i64),
                (OP_BOOLOR, (a != 0 || b != 0) as i64), (OP_NUMEQUAL, (a == b) as i64),
                (OP_NUMNOTEQUAL, (a != b) as i64), (OP_LESSTHAN, (a < b) as i64),
                (OP_GREATERTHAN, (a > b) as i64), (OP_LESSTHANOREQUAL, (a <= b) as i64),
                (OP_GREATERTHANOREQUAL, (a >= b) as i64), (OP_MIN, a.min(b)), (OP_MAX, a.max(b)),
            ];
            for (op, want) in cases {
                let r = run(&Fragment::new().op(op), &[n(a), n(b)]);
                prop_assert!(r.outcome.is_ok(), "{op}: {:?}", r.outcome);
                prop_assert_eq!(&r.final_stack, &vec![n(want)], "{}", op);
            }
        }

        #[test]
        fn unary_arithmetic_matches_native(a in -(1i64 << 31) + 1..(1i64 << 31)) {
            let cases: [(Opcode, i64); 6] = [
                (OP_1ADD, a + 1), (OP_1SUB, a - 1), (OP_NEGATE, -a), (OP_ABS, a.abs()),
                (OP_NOT, (a == 0) as i64), (OP_0NOTEQUAL, (a != 0) as i64),
            ];
            for (op, want) in cases {
                let r = run(&Fragment::new().op(op), &[n(a)]);
                prop_assert_eq!(&r.final_stack, &vec![n(want)], "{}", op);
            }
            let lo = a.min(0); let hi = a.max(0);
            let r = run(&Fragment::new().op(OP_WITHIN), &[n(a), n(lo), n(hi)]);
            prop_assert_eq!(&r.final_stack, &vec![if lo <= a && a < hi { vec![1] } else { vec![] }]);
        }
    }

    #[test]
    fn five_byte_results_are_not_valid_operands() {
        let f = Fragment::new().push_int(0x7fff_ffff).op(OP_1ADD);
        let r = run(&f, &[]);
        assert_eq!(r.final_stack, vec![vec![0, 0, 0, 0x80, 0]]);
        let r = run(&f.clone().op(OP_1ADD), &[]);
        assert!(matches!(kind(&r), ExecErrorKind::NumberOverflow { len: 5, max: 4, .. }));
        let r = run(&Fragment::new().op(OP_ADD), &[vec![0x00], vec![1]]);
        assert!(matches!(kind(&r), ExecErrorKind::NonMinimalNumber(_)));
        let r = execute_with(&Fragment::new().op(OP_ADD).to_script(), &[vec![0x00], vec![1]], &ExecOptions::default(), &ExecContext::consensus());
        assert_eq!(r.final_stack, vec![vec![1]]);
    }

    #[test]
    fn minimal_push_rules() {
        // (script, minimal?)
        let cases: Vec<(Vec<u8>, bool)> = vec![
            (vec![0x00], true),
            (vec![0x01, 0x00], true),       // [0x00] has no opcode of its own
            (vec![0x01, 0x05], false),      // OP_5
            (vec![0x01, 0x81], false),      // OP_1NEGATE
            (vec![0x4c, 0x00], false),      // empty via PUSHDATA1
            (vec![0x4c, 0x01, 0x07], false),
            (vec![0x02, 0x07, 0x08], true),
        ];
        for (bytes, minimal) in cases {
            let r = run_raw(&bytes, &[]);
            assert_eq!(r.outcome.is_ok(), minimal, "{}", hex::encode(&bytes));
            if !minimal {
                assert_eq!(kind(&r), ExecErrorKind::MinimalData);
                let r = execute_with(bitcoin::Script::from_bytes(&bytes), &[], &ExecOptions::default(), &ExecContext::consensus());
                assert!(r.outcome.is_ok());
            }
        }
        let mut pd1 = vec![0x4c, 75];
        pd1.extend([1u8; 75]);
        assert_eq!(kind(&run_raw(&pd1, &[])), ExecErrorKind::MinimalData);
        let mut pd2 = vec![0x4d, 255, 0];
        pd2.extend([1u8; 255]);
        assert_eq!(kind(&run_raw(&pd2, &[])), ExecErrorKind::MinimalData);
        // Non-minimal pushes in an unexecuted branch are fine (Core checks only executed ones).
        let r = run_raw(&[0x00, 0x63, 0x01, 0x05, 0x68, 0x51], &[]);
        assert!(r.success(), "{:?}", r.verdict());
    }

    #[test]
    fn truncated_push_is_bad_opcode_even_after_the_point_of_failure() {
        let r = run_raw(&[0x6a, 0x4c], &[]);
        let e = r.outcome.unwrap_err();
        assert_eq!((e.kind, e.offset, e.opcode_index), (ExecErrorKind::BadOpcode, 1, 1));
        let r = run_raw(&[0x51, 0x03, 0x01], &[]);
        assert_eq!(kind(&r), ExecErrorKind::BadOpcode);
    }

    #[test]
    fn op_success_short_circuits_and_is_reported() {
        // OP_CAT (0x7e) is OP_SUCCESS126 in tapscript: even after OP_RETURN.
        let r = run_raw(&[0x6a, 0x7e], &vec![vec![0; 600]; 1200]);
        assert!(r.success());
        assert_eq!(r.op_success, Some((1, 0x7e)));
        for op in [80u8, 98, 126, 129, 131, 134, 137, 138, 141, 142, 149, 153, 187, 254] {
            assert!(run_raw(&[op], &[]).success(), "{op}");
        }
        // A bad push before the OP_SUCCESS fails; after it does not matter.
        assert_eq!(kind(&run_raw(&[0x4c], &[])), ExecErrorKind::BadOpcode);
        assert!(run_raw(&[0xbb, 0x4c], &[]).success());
        assert!(!run_raw(&[0x4c, 0xbb], &[]).success());
    }

    #[test]
    fn invalid_and_disabled_opcodes() {
        // OP_VERIF / OP_VERNOTIF fail even in an unexecuted branch.
        for op in [0x65u8, 0x66] {
            let r = run_raw(&[0x00, 0x63, op, 0x68, 0x51], &[]);
            assert_eq!(kind(&r), ExecErrorKind::BadOpcode);
        }
        // OP_INVALIDOPCODE fails only when executed.
        assert_eq!(kind(&run_raw(&[0xff], &[])), ExecErrorKind::BadOpcode);
        assert!(run_raw(&[0x00, 0x63, 0xff, 0x68, 0x51], &[]).success());
        for op in [OP_CHECKMULTISIG, OP_CHECKMULTISIGVERIFY] {
            let r = run(&Fragment::new().push_int(0).push_int(0).push_int(0).op(op), &[]);
            assert_eq!(kind(&r), ExecErrorKind::TapscriptCheckMultisig);
        }
        // Upgradable NOPs are no-ops.
        for op in [OP_NOP, OP_NOP1, OP_NOP4, OP_NOP10] {
            assert!(run(&Fragment::new().push_int(1).op(op), &[]).success());
        }
        assert_eq!(kind(&run(&Fragment::new().push_int(1).op(OP_RETURN), &[])), ExecErrorKind::OpReturn);
    }

    #[test]
    fn conditionals() {
        let f = Fragment::new().ops(&[OP_IF, OP_IF]).push_int(1).op(OP_ELSE).push_int(2).ops(&[OP_ENDIF, OP_ELSE]).push_int(3).op(OP_ENDIF);
        let eval = |a: &[Vec<u8>]| run(&f, a).final_stack;
        assert_eq!(eval(&[vec![1], vec![1]]), vec![n(1)]);
        assert_eq!(eval(&[vec![], vec![1]]), vec![n(2)]);
        assert_eq!(eval(&[vec![]]), vec![n(3)]);
        let notif = Fragment::new().op(OP_NOTIF).push_int(7).op(OP_ENDIF);
        assert_eq!(run(&notif, &[vec![]]).final_stack, vec![n(7)]);
        assert!(run(&notif, &[vec![1]]).final_stack.is_empty());
        // MINIMALIF
        for bad in [vec![2u8], vec![1, 0], vec![0], vec![0x81]] {
            assert!(matches!(kind(&run(&f, &[bad])), ExecErrorKind::MinimalIf(_)));
        }
        // Unbalanced
        for s in [&[0x67u8][..], &[0x68], &[0x51, 0x63], &[0x63]] {
            assert_eq!(kind(&run_raw(s, &[])), ExecErrorKind::UnbalancedConditional, "{}", hex::encode(s));
        }
        // Multiple OP_ELSE toggle.
        let r = run_raw(&[0x51, 0x63, 0x52, 0x67, 0x53, 0x67, 0x54, 0x68], &[]);
        assert_eq!(r.final_stack, vec![n(2), n(4)]);
        // VERIFY
        assert_eq!(kind(&run(&Fragment::new().op(OP_VERIFY), &[vec![0x80]])), ExecErrorKind::Verify);
        assert!(run(&Fragment::new().op(OP_VERIFY).push_int(1), &[vec![0, 2]]).success());
    }

    #[test]
    fn stack_operations() {
        let s: Vec<Vec<u8>> = (1..=6).map(n).collect();
        let cases: Vec<(Opcode, Vec<i64>)> = vec![
            (OP_2DROP, vec![1, 2, 3, 4]),
            (OP_2DUP, vec![1, 2, 3, 4, 5, 6, 5, 6]),
            (OP_3DUP, vec![1, 2, 3, 4, 5, 6, 4, 5, 6]),
            (OP_2OVER, vec![1, 2, 3, 4, 5, 6, 3, 4]),
            (OP_2ROT, vec![3, 4, 5, 6, 1, 2]),
            (OP_2SWAP, vec![1, 2, 5, 6, 3, 4]),
            (OP_IFDUP, vec![1, 2, 3, 4, 5, 6, 6]),
            (OP_DEPTH, vec![1, 2, 3, 4, 5, 6, 6]),
            (OP_DROP, vec![1, 2, 3, 4, 5]),
            (OP_DUP, vec![1, 2, 3, 4, 5, 6, 6]),
            (OP_NIP, vec![1, 2, 3, 4, 6]),
            (OP_OVER, vec![1, 2, 3, 4, 5, 6, 5]),
            (OP_PICK, vec![1, 2, 3, 4, 5, 1]), // index 6-> pops 6, picks depth... see below
            (OP_ROT, vec![1, 2, 3, 5, 6, 4]),
            (OP_SWAP, vec![1, 2, 3, 4, 6, 5]),
            (OP_TUCK, vec![1, 2, 3, 4, 6, 5, 6]),
            (OP_SIZE, vec![1, 2, 3, 4, 5, 6, 1]),
        ];
        for (op, want) in cases {
            let input: Vec<Vec<u8>> = if op == OP_PICK { [&s[..5], &[n(4)][..]].concat() } else { s.clone() };
            let r = run(&Fragment::new().op(op), &input);
            assert!(r.outcome.is_ok(), "{op}: {:?}", r.outcome);
            assert_eq!(r.final_stack, want.into_iter().map(n).collect::<Vec<_>>(), "{op}");
        }
        let r = run(&Fragment::new().push_int(4).op(OP_ROLL), &s[..5]);
        assert_eq!(r.final_stack, [2, 3, 4, 5, 1].map(n).to_vec());
        let r = run(&Fragment::new().push_int(0).op(OP_ROLL), &s[..2]);
        assert_eq!(r.final_stack, [1, 2].map(n).to_vec());
        assert!(matches!(kind(&run(&Fragment::new().push_int(2).op(OP_PICK), &s[..2])), ExecErrorKind::PickRollIndex { index: 2, have: 2 }));
        assert!(matches!(kind(&run(&Fragment::new().push_int(-1).op(OP_ROLL), &s[..2])), ExecErrorKind::PickRollIndex { .. }));
        // IFDUP of false does not dup.
        assert_eq!(run(&Fragment::new().op(OP_IFDUP), &[vec![]]).final_stack, vec![Vec::<u8>::new()]);
        // Underflow names the need.
        assert_eq!(kind(&run(&Fragment::new().op(OP_2ROT), &s[..5])), ExecErrorKind::InvalidStackOperation { needed: 6, have: 5 });
        // Altstack
        let f = Fragment::new().ops(&[OP_TOALTSTACK, OP_TOALTSTACK, OP_FROMALTSTACK]);
        let r = run(&f, &s[..3]);
        assert_eq!(r.final_stack, [1, 2].map(n).to_vec());
        assert_eq!(kind(&run(&Fragment::new().op(OP_FROMALTSTACK), &[])), ExecErrorKind::InvalidAltstackOperation);
        // EQUAL / EQUALVERIFY compare bytes, not numbers.
        assert_eq!(run(&Fragment::new().op(OP_EQUAL), &[vec![1], vec![1, 0]]).final_stack, vec![Vec::<u8>::new()]);
        assert_eq!(kind(&run(&Fragment::new().op(OP_EQUALVERIFY), &[vec![1], vec![2]])), ExecErrorKind::EqualVerify);
        assert_eq!(kind(&run(&Fragment::new().op(OP_NUMEQUALVERIFY), &[vec![1], vec![2]])), ExecErrorKind::NumEqualVerify);
    }

    #[test]
    fn hashes_match_known_vectors() {
        let abc = b"abc".to_vec();
        let cases = [
            (OP_SHA256, abc.clone(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (OP_SHA1, abc.clone(), "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (OP_RIPEMD160, vec![], "9c1185a5c5e9fc54612808977ee8f548b2258d31"),
            (OP_HASH160, vec![], "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb"),
            (OP_HASH256, vec![], "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"),
        ];
        for (op, input, want) in cases {
            let r = run(&Fragment::new().op(op), &[input]);
            assert_eq!(hex::encode(&r.final_stack[0]), want, "{op}");
        }
    }

    fn keypair(seed: u8) -> Keypair {
        Keypair::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[seed; 32]).unwrap())
    }

    fn sign(kp: &Keypair, msg: [u8; 32]) -> Vec<u8> {
        Secp256k1::new().sign_schnorr_no_aux_rand(&Message::from_digest(msg), kp).as_ref().to_vec()
    }

    #[test]
    fn signatures() {
        let msg = [7u8; 32];
        let kp = keypair(1);
        let pk = kp.x_only_public_key().0.serialize().to_vec();
        let sig = sign(&kp, msg);
        let opts = ExecOptions { sighash: Some(msg), ..Default::default() };
        let checksig = Fragment::new().push_bytes(&pk).op(OP_CHECKSIG);
        let go = |f: &Fragment, st: &[Vec<u8>], o: &ExecOptions| execute(&f.to_script(), st, o);
        assert!(go(&checksig, std::slice::from_ref(&sig), &opts).success());
        // Empty signature: false, not an error.
        let r = go(&checksig, &[vec![]], &opts);
        assert!(r.outcome.is_ok() && r.final_stack == vec![Vec::<u8>::new()]);
        // A wrong signature is an error, not false.
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert_eq!(kind(&go(&checksig, &[bad], &opts)), ExecErrorKind::SchnorrSig);
        // Signature for another message / another key.
        assert_eq!(kind(&go(&checksig, &[sign(&kp, [8; 32])], &opts)), ExecErrorKind::SchnorrSig);
        assert_eq!(kind(&go(&checksig, &[sign(&keypair(2), msg)], &opts)), ExecErrorKind::SchnorrSig);
        // Sizes and hash types.
        assert_eq!(kind(&go(&checksig, &[vec![1; 63]], &opts)), ExecErrorKind::SchnorrSigSize(63));
        let mut s65 = sig.clone();
        s65.push(0);
        assert_eq!(kind(&go(&checksig, &[s65.clone()], &opts)), ExecErrorKind::SchnorrSigHashType(0));
        s65[64] = 1;
        assert!(go(&checksig, &[s65], &opts).success());
        // No sighash given.
        assert_eq!(kind(&go(&checksig, std::slice::from_ref(&sig), &ExecOptions::default())), ExecErrorKind::NoSighash);
        // Empty key fails; unknown key types succeed.
        assert_eq!(kind(&go(&Fragment::new().push_int(0).op(OP_CHECKSIG), std::slice::from_ref(&sig), &opts)), ExecErrorKind::PubkeyType);
        let r = go(&Fragment::new().push_bytes(&[2; 33]).op(OP_CHECKSIG), &[vec![5; 10]], &opts);
        assert!(r.success() && !r.notes.is_empty());
        // CHECKSIGVERIFY
        let csv = Fragment::new().push_bytes(&pk).op(OP_CHECKSIGVERIFY).push_int(1);
        assert!(go(&csv, std::slice::from_ref(&sig), &opts).success());
        assert_eq!(kind(&go(&csv, &[vec![]], &opts)), ExecErrorKind::CheckSigVerify);
        // CHECKSIGADD: 2-of-3 with one empty signature.
        let kps = [keypair(3), keypair(4), keypair(5)];
        let pks: Vec<Vec<u8>> = kps.iter().map(|k| k.x_only_public_key().0.serialize().to_vec()).collect();
        let multi = Fragment::new()
            .push_bytes(&pks[0]).op(OP_CHECKSIG)
            .push_bytes(&pks[1]).op(OP_CHECKSIGADD)
            .push_bytes(&pks[2]).op(OP_CHECKSIGADD)
            .push_int(2).op(OP_NUMEQUAL);
        let wit = vec![sign(&kps[2], msg), vec![], sign(&kps[0], msg)];
        assert!(go(&multi, &wit, &opts).success());
        let wit1 = vec![vec![], vec![], sign(&kps[0], msg)];
        assert!(!go(&multi, &wit1, &opts).success());
    }

    #[test]
    fn validation_weight_budget() {
        // Each passing signature check costs 50 weight; the budget is witness size + 50.
        let msg = [9u8; 32];
        let kp = keypair(6);
        let pk = kp.x_only_public_key().0.serialize().to_vec();
        let sig = sign(&kp, msg);
        let opts = ExecOptions { sighash: Some(msg), ..Default::default() };
        // One signature reused by n checks of 35 script bytes each. Witness = 1 + 65 + (3 + 35n
        // + 3) + 34, budget = witness + 50: n = 10 uses 500 of 506, n = 11 needs 550 of 541.
        let body = Fragment::new().op(OP_DUP).push_bytes(&pk).op(OP_CHECKSIGVERIFY);
        let f = Fragment::new().repeat(10, &body).op(OP_DROP).push_int(1);
        assert!(execute(&f.to_script(), std::slice::from_ref(&sig), &opts).success());
        let f = Fragment::new().repeat(11, &body).op(OP_DROP).push_int(1);
        let r = execute(&f.to_script(), std::slice::from_ref(&sig), &opts);
        assert_eq!(kind(&r), ExecErrorKind::ValidationWeight);
        let r = execute(&f.to_script(), &[sig], &ExecOptions { mode: LimitMode::Report, ..opts });
        assert!(r.success() && r.limit_violations.len() == 1);
    }

    #[test]
    fn limits_enforced_or_reported() {
        // 1000 items is fine, 1001 fails at the push that makes it.
        let f = Fragment::new().push_int(1).repeat(999, &Fragment::new().op(OP_DUP));
        let r = run(&f, &[]);
        assert!(r.outcome.is_ok());
        assert_eq!(r.peak_items, 1000);
        let f2 = f.clone().op(OP_DUP);
        let e = run(&f2, &[]).outcome.unwrap_err();
        assert_eq!(e.kind, ExecErrorKind::StackSize { items: 1001, max: 1000 });
        assert_eq!(e.opcode_index, 1000);
        assert_eq!(e.opcode, Some(OP_DUP));
        // Altstack counts too.
        let f3 = Fragment::new().push_int(1).repeat(600, &Fragment::new().ops(&[OP_DUP, OP_TOALTSTACK])).op(OP_DUP)
            .repeat(400, &Fragment::new().op(OP_DUP));
        assert!(matches!(kind(&run(&f3, &[])), ExecErrorKind::StackSize { .. }));
        // Report mode continues and records.
        let rep = ExecOptions { mode: LimitMode::Report, ..Default::default() };
        let r = execute(&f2.clone().repeat(1000, &Fragment::new().op(OP_DROP)).to_script(), &[], &rep);
        assert!(r.success(), "{:?}", r.verdict());
        assert_eq!(r.peak_items, 1001);
        assert_eq!(r.limit_violations.len(), 1);
        // Initial stack limits.
        assert!(matches!(kind(&run_raw(&[0x51], &vec![vec![]; 1001])), ExecErrorKind::StackSize { .. }));
        assert!(matches!(kind(&run_raw(&[0x75, 0x51], &[vec![0; 521]])), ExecErrorKind::PushSize { size: 521, .. }));
        let r = run_raw(&[0x75, 0x51], &[vec![0; 520]]);
        assert!(r.success() && r.largest_element == 520);
        // Push of 521 bytes fails even in an unexecuted branch.
        let big = Fragment::new().push_int(0).op(OP_IF).push_bytes(&[1; 521]).op(OP_ENDIF).push_int(1);
        assert!(matches!(kind(&run(&big, &[])), ExecErrorKind::PushSize { size: 521, max: 520 }));
        // Configurable: a larger limit allows it; a script size limit.
        let loose = ExecOptions { limits: Limits { max_element_size: 1000, ..Default::default() }, ..Default::default() };
        assert!(execute(&big.to_script(), &[], &loose).success());
        let tight = ExecOptions { limits: Limits { max_script_size: Some(10), ..Default::default() }, ..Default::default() };
        assert!(matches!(execute(&big.to_script(), &[], &tight).outcome.unwrap_err().kind, ExecErrorKind::ScriptSize { .. }));
    }

    #[test]
    fn cleanstack_and_verdict() {
        assert!(run_raw(&[0x51], &[]).success());
        assert_eq!(run_raw(&[0x51, 0x51], &[]).verdict().unwrap_err().kind, ExecErrorKind::CleanStack(2));
        assert_eq!(run_raw(&[], &[]).verdict().unwrap_err().kind, ExecErrorKind::CleanStack(0));
        assert_eq!(run_raw(&[0x00], &[]).verdict().unwrap_err().kind, ExecErrorKind::EvalFalse);
        assert_eq!(run_raw(&[], &[vec![0, 0x80]]).verdict().unwrap_err().kind, ExecErrorKind::EvalFalse);
    }

    #[test]
    fn report_measures_the_run() {
        let f = Fragment::new().push_bytes(&[1; 40]).op(OP_SHA256).push_int(1).push_int(2).op(OP_2DROP).op(OP_DROP).push_int(1);
        let r = run(&f, &[]);
        assert!(r.success());
        assert_eq!(r.script_size, f.len());
        assert_eq!(r.opcode_count, 3); // SHA256, 2DROP, DROP
        assert_eq!(r.executed_ops, 7);
        assert_eq!(r.peak_items, 3);
        assert_eq!(r.largest_element, 40);
    }

    #[test]
    fn summary_states_verdict_and_figures() {
        let s = run_raw(&[0x51, 0x76, 0x75], &[]).summary();
        assert_eq!(s, "success; script 3 B, 2 opcodes, 3 executed, peak 2 items, largest element 1 B");
        let s = run_raw(&[0x51, 0x51], &[]).summary();
        assert!(s.starts_with("failed:") && s.contains("CLEANSTACK"), "{s}");
        let rep = ExecOptions { mode: LimitMode::Report, ..Default::default() };
        let r = execute(bitcoin::Script::from_bytes(&[0x75, 0x51]), &[vec![0; 600]], &rep);
        assert!(r.summary().contains("limit violations") && r.summary().contains("600"), "{}", r.summary());
    }

    #[test]
    fn error_display_names_opcode_position_and_reason() {
        let f = Fragment::new().push_int(1).push_int(2).op(OP_EQUALVERIFY);
        let e = run(&f, &[]).outcome.unwrap_err();
        assert_eq!((e.offset, e.opcode_index), (2, 2));
        let s = e.to_string();
        assert!(s.contains("OP_EQUALVERIFY") && s.contains("offset 2") && s.contains("#2") && s.contains("failed"), "{s}");
    }

    #[test]
    fn locktime_opcodes() {
        let cltv = Fragment::new().push_int(100).op(OP_CLTV).op(OP_DROP).push_int(1);
        let csv = Fragment::new().push_int(10).op(OP_CSV).op(OP_DROP).push_int(1);
        // No context: operand checks only, with a note.
        let r = run(&cltv, &[]);
        assert!(r.success() && r.notes.len() == 1);
        let neg = Fragment::new().push_int(-1).op(OP_CLTV);
        assert_eq!(kind(&run(&neg, &[])), ExecErrorKind::NegativeLocktime);
        let ctx = |lock_time, sequence, version| ExecContext { tx: Some(TxContext { version, lock_time, sequence }), ..Default::default() };
        let go = |f: &Fragment, c: &ExecContext| execute_with(&f.to_script(), &[], &ExecOptions::default(), c);
        assert!(go(&cltv, &ctx(100, 0, 2)).success());
        assert_eq!(kind(&go(&cltv, &ctx(99, 0, 2))), ExecErrorKind::UnsatisfiedLocktime);
        assert_eq!(kind(&go(&cltv, &ctx(100, 0xffff_ffff, 2))), ExecErrorKind::UnsatisfiedLocktime);
        assert_eq!(kind(&go(&cltv, &ctx(500_000_100, 0, 2))), ExecErrorKind::UnsatisfiedLocktime);
        assert!(go(&csv, &ctx(0, 10, 2)).success());
        assert_eq!(kind(&go(&csv, &ctx(0, 9, 2))), ExecErrorKind::UnsatisfiedLocktime);
        assert_eq!(kind(&go(&csv, &ctx(0, 10, 1))), ExecErrorKind::UnsatisfiedLocktime);
        assert_eq!(kind(&go(&csv, &ctx(0, 10 | (1 << 22), 2))), ExecErrorKind::UnsatisfiedLocktime);
        // Disable flag in the operand: no-op.
        let off = Fragment::new().push_int(1 << 31).op(OP_CSV).op(OP_DROP).push_int(1);
        assert!(go(&off, &ctx(0, 0, 1)).success());
    }
}
