//! A compile-time picture of the stack for writing operation scripts with named values instead
//! of hand-computed `OP_PICK` / `OP_ROLL` depths.
//!
//! Each [`Var`] is a group of consecutive items (a field element is `limbs` items). The
//! [`Frame`] records where every live group sits, emits the picks and rolls that bring groups
//! to the top, and checks that a gadget is applied to exactly the groups on top.

use bitvm2_script::builder::Fragment;

use crate::leaf::{drop_group, pick_group, roll_group};

/// A group of consecutive stack items tracked by a [`Frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Var(u32);

/// The tracked stack (bottom first) and the script emitted so far.
#[derive(Debug, Default)]
pub struct Frame {
    groups: Vec<(Var, usize)>,
    next: u32,
    f: Fragment,
}

impl Frame {
    /// An empty frame (nothing tracked yet).
    pub fn new() -> Self {
        Self::default()
    }

    fn fresh(&mut self, items: usize) -> Var {
        let v = Var(self.next);
        self.next += 1;
        self.groups.push((v, items));
        v
    }

    /// Declare a group of `items` already on the stack above everything tracked so far.
    pub fn input(&mut self, items: usize) -> Var {
        self.fresh(items)
    }

    fn index(&self, v: Var) -> usize {
        self.groups.iter().position(|g| g.0 == v).expect("variable is live in this frame")
    }

    /// Depth (0 = top) of the deepest item of `v`.
    fn bottom_depth(&self, idx: usize) -> usize {
        self.groups[idx..].iter().map(|g| g.1).sum::<usize>() - 1
    }

    /// Emit script directly (the caller keeps the picture consistent).
    fn emit(&mut self, g: impl FnOnce(Fragment) -> Fragment) {
        let f = std::mem::take(&mut self.f);
        self.f = g(f);
    }

    /// Copy `v` to the top; returns the copy.
    pub fn copy(&mut self, v: Var) -> Var {
        let idx = self.index(v);
        let (n, d) = (self.groups[idx].1, self.bottom_depth(idx));
        self.emit(|f| pick_group(f, d, n));
        self.fresh(n)
    }

    /// Move `v` to the top (no-op if it is there).
    pub fn take(&mut self, v: Var) -> Var {
        let idx = self.index(v);
        if idx + 1 == self.groups.len() {
            return v;
        }
        let (n, d) = (self.groups[idx].1, self.bottom_depth(idx));
        self.emit(|f| roll_group(f, d, n));
        let g = self.groups.remove(idx);
        self.groups.push(g);
        v
    }

    /// Remove `v` from wherever it is.
    pub fn drop(&mut self, v: Var) {
        let idx = self.index(v);
        let (n, d) = (self.groups[idx].1, self.bottom_depth(idx));
        self.emit(|f| drop_group(f, d, n));
        self.groups.remove(idx);
    }

    /// Move `args` to the top in this order and forget them (a gadget consumes them).
    fn consume_args(&mut self, args: &[Var]) {
        for &a in args {
            self.take(a);
        }
        for &a in args.iter().rev() {
            let g = self.groups.pop().expect("argument on top");
            assert_eq!(g.0, a, "arguments on top in order");
        }
    }

    /// Apply `frag` to `args` (moved to the top in this order, consumed) producing `items`
    /// items as a new group.
    pub fn apply(&mut self, frag: &Fragment, args: &[Var], items: usize) -> Var {
        self.consume_args(args);
        self.emit(|f| f.append(frag));
        self.fresh(items)
    }

    /// Apply `frag` to `args` producing nothing (e.g. a check ending in `OP_VERIFY`).
    pub fn consume(&mut self, frag: &Fragment, args: &[Var]) {
        self.consume_args(args);
        self.emit(|f| f.append(frag));
    }

    /// Drop every group except `keep`, leave `keep` on top in this order; the script.
    pub fn finish(mut self, keep: &[Var]) -> Fragment {
        let doomed: Vec<Var> = self.groups.iter().map(|g| g.0).filter(|v| !keep.contains(v)).collect();
        for v in doomed {
            self.drop(v);
        }
        for &v in keep {
            self.take(v);
        }
        self.f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitvm2_script::exec::{execute, ExecOptions};

    fn run(f: &Fragment, stack: &[i64]) -> Vec<Vec<u8>> {
        let init: Vec<Vec<u8>> = stack.iter().map(|&n| bitvm2_script::exec::encode_num(n)).collect();
        let r = execute(&f.to_script(), &init, &ExecOptions::default());
        assert!(r.outcome.is_ok(), "{:?}", r.outcome);
        r.final_stack
    }

    #[test]
    fn copy_take_drop_and_finish_track_depths() {
        let mut fr = Frame::new();
        let a = fr.input(2); // [1 2]
        let b = fr.input(1); // [3]
        let c = fr.input(3); // [4 5 6]
        let e = fr.input(3); // [7 8 9]
        let a2 = fr.copy(a);
        fr.drop(b);
        fr.drop(c); // a group of several items under others
        let f = fr.finish(&[a2, e, a]);
        let out = run(&f, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        let want: Vec<Vec<u8>> = [1, 2, 7, 8, 9, 1, 2].iter().map(|&n| bitvm2_script::exec::encode_num(n)).collect();
        assert_eq!(out, want);
    }
}
