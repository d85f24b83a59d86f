//! Cost of one BN254 Fq multiplication: the windowed-hinted gadgets of `PrimeField` against
//! the checked-product gadgets of `CheckedMul` (script bytes, peak stack items incl. inputs,
//! hint items, executed instructions), each run once in the executor with limits enforced.
//!
//! ```text
//! cargo run --release -p bitvm2-script --example fq_mul_cost
//! ```

use bitvm2_script::arith::{bn254_fq, CheckedMul, Nat};
use bitvm2_script::builder::Fragment;
use bitvm2_script::exec::{encode_num, execute, ExecOptions, ExecReport};

struct Cost {
    bytes: usize,
    peak: usize,
    hints: usize,
    executed: usize,
}

fn measure(frag: &Fragment, stack: &[Vec<u8>], hints: usize) -> Cost {
    let r: ExecReport = execute(&frag.to_script(), stack, &ExecOptions::default());
    if let Err(e) = &r.outcome {
        panic!("gadget failed on its sample input: {e}");
    }
    Cost { bytes: r.script_size, peak: r.peak_items, hints, executed: r.executed_ops }
}

fn main() {
    let fq = bn254_fq();
    let m = CheckedMul::new(&fq).expect("BN254 fits");
    let p = fq.modulus().clone();
    let a = p.checked_sub(&Nat::from_u128(12345)).unwrap();
    let b = p.shr(1).add(&Nat::from_u128(987654321));
    let nib = |x: &Nat| -> Vec<Vec<u8>> { (0..m.digit_count()).rev().map(|j| encode_num(x.bits_at(4 * j, 4) as i64)).collect() };
    let with = |mut h: Vec<Vec<u8>>, rest: &[Vec<Vec<u8>>]| {
        for r in rest {
            h.extend(r.iter().cloned());
        }
        h
    };
    let (sa, sb) = (fq.to_stack(&a), fq.to_stack(&b));

    let old_hints = fq.mul_hints(&a, &b, 4).unwrap();
    let old = measure(&fq.mul_hinted(4).unwrap(), &with(old_hints.clone(), &[sa.clone(), sb.clone()]), old_hints.len());
    let old_dig = measure(&fq.mul_hinted_digits(4).unwrap(), &with(old_hints.clone(), &[sa.clone(), nib(&b)]), old_hints.len());
    let old_sq_h = fq.mul_hints(&a, &a, 4).unwrap();
    let old_sq = measure(&fq.square_hinted(4).unwrap(), &with(old_sq_h.clone(), std::slice::from_ref(&sa)), old_sq_h.len());

    let h = m.mul_hints(&a, &b).unwrap();
    let new = measure(&m.mul(), &with(h.clone(), &[sa.clone(), sb.clone()]), h.len());
    let h = m.mul_digits_hints(&a, &b).unwrap();
    let new_dig = measure(&m.mul_digits(), &with(h.clone(), &[sa.clone(), nib(&b)]), h.len());
    // Square as copy + mul (no dedicated gadget: it would not be cheaper, see docs/script.md).
    let h = m.mul_hints(&a, &a).unwrap();
    let sq = Fragment::new().with_effect(0, 0);
    let copy = (0..fq.layout().limbs()).fold(Fragment::new(), |f, _| f.push_int(fq.layout().limbs() as i64 - 1).op(bitcoin::opcodes::all::OP_PICK));
    let sq = sq.append(&copy).append(&m.mul()).without_effect();
    let new_sq = measure(&sq, &with(h.clone(), std::slice::from_ref(&sa)), h.len());
    // Constant: a random-looking 254-bit constant, and a small one.
    let k_big = p.checked_sub(&Nat::from_u128(0x1234_5678_9abc_def0)).unwrap().shr(1);
    let h = m.mul_const_hints(&k_big, &a).unwrap();
    let kc = measure(&m.mul_const(&k_big).unwrap(), &with(h.clone(), std::slice::from_ref(&sa)), h.len());
    let k_small = Nat::from_u128(9);
    let h = m.mul_const_hints(&k_small, &a).unwrap();
    let kc_small = measure(&m.mul_const(&k_small).unwrap(), &with(h.clone(), std::slice::from_ref(&sa)), h.len());
    let small_old = measure(&fq.mul_small(9), &sa, 0);

    // Sum of two products (one Fq2 product component): a*b - b*a' with one quotient.
    let a2 = p.shr(2).add(&Nat::from_u128(77));
    let negate = [false, true];
    let pairs = [(a.clone(), b.clone()), (a2.clone(), a.clone())];
    let h = m.sum_of_products_hints(&negate, &pairs).unwrap();
    let sop = measure(&m.sum_of_products(&negate).unwrap(), &with(h.clone(), &[sa.clone(), sb.clone(), fq.to_stack(&a2), sa.clone()]), h.len());
    let h = m.sum_of_products_digits_hints(&negate, &pairs).unwrap();
    let sop_dig = measure(&m.sum_of_products_digits(&negate).unwrap(), &with(h.clone(), &[sa.clone(), nib(&b), fq.to_stack(&a2), nib(&a)]), h.len());
    let sub = measure(&fq.sub(), &with(sa.clone(), std::slice::from_ref(&sb)), 0);
    let two = |c: &Cost| Cost { bytes: 2 * c.bytes + sub.bytes, peak: c.peak, hints: 2 * c.hints, executed: 2 * c.executed + sub.executed };

    println!("| BN254 Fq gadget | script bytes | peak stack | hint items | executed ops | bytes old/new |");
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |name: &str, c: &Cost, base: Option<&Cost>| {
        let ratio = base.map_or(String::new(), |o| format!("{:.2}", o.bytes as f64 / c.bytes as f64));
        println!("| {name} | {} | {} | {} | {} | {ratio} |", c.bytes, c.peak, c.hints, c.executed);
    };
    row("PrimeField::mul_hinted(4)", &old, None);
    row("PrimeField::mul_hinted_digits(4)", &old_dig, None);
    row("PrimeField::square_hinted(4)", &old_sq, None);
    row("PrimeField::mul_small(9)", &small_old, None);
    row("CheckedMul::mul", &new, Some(&old));
    row("CheckedMul::mul_digits", &new_dig, Some(&old_dig));
    row("square = copy + CheckedMul::mul", &new_sq, Some(&old_sq));
    row("CheckedMul::mul_const (254-bit k)", &kc, Some(&old));
    row("CheckedMul::mul_const (k = 9)", &kc_small, Some(&small_old));
    row("2 x CheckedMul::mul + Fq sub", &two(&new), None);
    row("CheckedMul::sum_of_products([+, -])", &sop, Some(&two(&new)));
    row("2 x CheckedMul::mul_digits + Fq sub", &two(&new_dig), None);
    row("CheckedMul::sum_of_products_digits([+, -])", &sop_dig, Some(&two(&new_dig)));
}
