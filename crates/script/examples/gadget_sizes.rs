//! Prints a markdown table of the arithmetic and hash gadgets: script bytes, peak stack items
//! (stack + altstack, inputs included) and largest element, each measured by running the
//! gadget in the executor on a sample input. Regenerate the table in docs/script.md with:
//!
//! ```text
//! cargo run --release -p bitvm2-script --example gadget_sizes
//! ```

use bitvm2_script::arith::{
    bn254_fq, limbs_to_nibbles, nibbles_to_limbs, Layout, Nat, U32,
};
use bitvm2_script::builder::Fragment;
use bitvm2_script::exec::{encode_num, execute, ExecOptions};
use bitvm2_script::hash;

fn row(name: &str, frag: &Fragment, inputs: &[Vec<u8>]) {
    let r = execute(&frag.to_script(), inputs, &ExecOptions::default());
    let status = match &r.outcome {
        Ok(()) => String::new(),
        Err(e) => format!(" (FAILED: {e})"),
    };
    println!("| {name}{status} | {} | {} | {} |", r.script_size, r.peak_items, r.largest_element);
}

fn main() {
    println!("| gadget | script bytes | peak stack | largest element |");
    println!("|---|---:|---:|---:|");
    let fq = bn254_fq();
    let p = fq.modulus().clone();
    let a = p.checked_sub(&Nat::from_u128(12345)).unwrap();
    let b = p.shr(1).add(&Nat::from_u128(987654321));
    let l254 = Layout::new(254, 29);
    let two = |l: &Layout, x: &Nat, y: &Nat| -> Vec<Vec<u8>> {
        let mut v = l.to_stack(x);
        v.extend(l.to_stack(y));
        v
    };
    for (name, l) in [("u32 (2x16-bit limbs)", U32), ("u254 (9x29-bit limbs)", l254), ("u256 (9x30-bit limbs)", Layout::new(256, 30))] {
        let x = Nat::from_u128(0xdead_beef_u128 << 100).rem(&Nat::from_u128(1).shl(l.bits as usize));
        let y = Nat::from_u128(0x1234_5678_9abc).rem(&Nat::from_u128(1).shl(l.bits as usize));
        let st = two(&l, &x, &y);
        row(&format!("{name} add"), &l.add(), &st);
        row(&format!("{name} sub"), &l.sub(), &st);
        row(&format!("{name} equal"), &l.equal(), &st);
        row(&format!("{name} less-than"), &l.less_than(), &st);
        row(&format!("{name} range check"), &l.range_check(), &l.to_stack(&x));
    }
    let st = two(&l254, &a, &b);
    row("Fq add", &fq.add(), &st);
    row("Fq sub", &fq.sub(), &st);
    row("Fq double", &fq.double(), &l254.to_stack(&a));
    row("Fq neg", &fq.neg(), &l254.to_stack(&a));
    row("Fq canonical check (limbs + < p)", &fq.check_canonical(), &l254.to_stack(&a));
    for c in [2u64, 3, 9] {
        row(&format!("Fq mul by small constant {c}"), &fq.mul_small(c), &l254.to_stack(&a));
    }
    let mut h = fq.mul_hints(&a, &a, 4).unwrap();
    h.extend(l254.to_stack(&a));
    row("Fq square, hinted w=4", &fq.square_hinted(4).unwrap(), &h);
    for w in 1..=5 {
        row(&format!("Fq mul, windowed w={w} (no hints)"), &fq.mul_windowed(w).unwrap(), &st);
    }
    for w in 1..=5 {
        let mut h = fq.mul_hints(&a, &b, w).unwrap();
        h.extend(st.clone());
        row(&format!("Fq mul, hinted w={w} ({} hints)", fq.mul_hint_count(w).unwrap()), &fq.mul_hinted(w).unwrap(), &h);
    }
    let mut h = fq.mul_hints(&a, &b, 4).unwrap();
    h.extend(l254.to_stack(&a));
    h.extend((0..64).rev().map(|i| encode_num(b.bits_at(4 * i, 4) as i64)));
    row("Fq mul, hinted w=4, B as 64 nibbles", &fq.mul_hinted_digits(4).unwrap(), &h);
    let nibbles: Vec<Vec<u8>> = (0..64).rev().map(|i| encode_num(a.bits_at(4 * i, 4) as i64)).collect();
    row("254-bit: 64 nibbles -> 9 limbs", &nibbles_to_limbs(&l254), &nibbles);
    row("254-bit: 9 limbs -> 64 nibbles", &limbs_to_nibbles(&l254), &l254.to_stack(&a));
    hash::print_size_rows(&mut |name, frag, inputs| row(name, frag, inputs));
}
