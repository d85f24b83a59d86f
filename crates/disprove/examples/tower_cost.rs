//! Cost of BN254 extension-field arithmetic as disprove-program operations
//! (`bitvm2_disprove::bn254`): per Fq2 operation its script bytes, peak stack (stack +
//! altstack, inputs and hints included) and hint items; per Fq6/Fq12 builder its number of
//! operations, total script bytes and Fq multiplications. Run for each Fq multiplication
//! gadget: `cargo run --release -p bitvm2-disprove --example tower_cost`.

use std::sync::Arc;

use ark_bn254::{Fq, Fq2};
use bitvm2_disprove::bn254::{
    checked_mul, fq2_val, fq_mul_count, hinted_mul, Fq12Ids, Fq2Mul, Fq2MulConst, Fq2MulFq, Fq2Square, Linear,
    Tower,
};
use bitvm2_disprove::chunk::{chunk, ChunkLimits, CostModel};
use bitvm2_disprove::program::{CommitMode, Op, Program, Val};
use bitvm2_disprove::programs::{fq_from_label, op_stack};
use bitvm2_script::exec::{execute, ExecOptions};

fn fq2(i: u64) -> Fq2 {
    Fq2::new(fq_from_label("tower-cost", 2 * i), fq_from_label("tower-cost", 2 * i + 1))
}

/// Script bytes, peak items, hint items, outcome of one op on sample inputs.
fn measure(op: &dyn Op, inputs: &[Val]) -> (usize, usize, usize, String) {
    let stack = op_stack(op, inputs);
    let r = execute(&op.script().into_script(), &stack, &ExecOptions::default());
    let ok = match &r.outcome {
        Ok(()) if r.final_stack == bitvm2_disprove::program::val_stack(&op.native(inputs)) => "ok".to_string(),
        Ok(()) => "WRONG RESULT".to_string(),
        Err(e) => format!("FAILS: {}", e.kind),
    };
    (r.script_size, r.peak_items, op.hint_items(), ok)
}

fn fq12_input(prog: &mut Program, name: &str) -> Fq12Ids {
    let ids: Vec<usize> = (0..6).map(|i| prog.input(format!("{name}{i}"), 2)).collect();
    [[ids[0], ids[1], ids[2]], [ids[3], ids[4], ids[5]]]
}

fn builder_row(name: &str, build: impl Fn(&Tower, &mut Program, Fq12Ids, Fq12Ids, [usize; 3]) -> Fq12Ids, t: &Tower) {
    let mut prog = Program::new(name);
    let a = fq12_input(&mut prog, "a");
    let b = fq12_input(&mut prog, "b");
    let l = [0, 1, 2].map(|i| prog.input(format!("l{i}"), 2));
    let out = build(t, &mut prog, a, b, l);
    let ops = prog.ops.len();
    // Claim the outputs (as computed) so that the chunker has something to check at the end.
    let inputs: Vec<Val> = (0..prog.inputs.len() as u64).map(|i| fq2_val(&fq2(100 + i))).collect();
    let vals = prog.evaluate(&inputs).expect("builder program evaluates");
    for id in out.iter().flatten() {
        if !prog.inputs.contains(id) && !prog.claims.iter().any(|c| c.0 == *id) {
            let v = vals[*id].clone();
            prog.claim(*id, v);
        }
    }
    let plan = CostModel::measure(&prog).map_err(|e| e.to_string()).and_then(|m| chunk(&prog, &m, ChunkLimits::default()).map_err(|e| e.to_string()));
    let leaves = match plan {
        Ok(p) => {
            let shape = p.limits.spend_shape(p.steps.len());
            let weight = p.estimates.iter().map(|e| e.spend_weight(&shape)).max().unwrap_or(0);
            let stack = p.estimates.iter().map(|e| e.peak_stack).max().unwrap_or(0);
            let most = p.steps.iter().map(|s| s.ops.len()).max().unwrap_or(0);
            format!("{} leaves, {} commitments; largest leaf ~{weight} WU, peak ~{stack} items, most ops in a leaf {most}", p.steps.len(), p.commitments.len())
        }
        Err(e) => format!("does not chunk: {e}"),
    };
    let linear = prog.ops.iter().filter(|n| fq_mul_count(&n.op.name()) == Some(0)).count();
    let bytes: usize = prog.ops.iter().map(|n| n.op.script().len()).sum();
    let muls: usize = prog.ops.iter().map(|n| fq_mul_count(&n.op.name()).unwrap_or(0)).sum();
    let hints: usize = prog.ops.iter().map(|n| n.op.hint_items()).sum();
    println!("| {name} | {ops} ({linear} linear) | {bytes} | {muls} | {hints} | {leaves} |");
}

fn main() {
    let (a, b, k) = (fq2(0), fq2(1), fq2(2));
    let x = fq_from_label("tower-cost", 99);
    let frob_k = Fq2::new(k.c0, Fq::from(0u64));
    for mul in [checked_mul(), hinted_mul()] {
        println!("\n## Fq multiplication: {}\n", mul.name());
        println!(
            "one Fq product: {} B script, {} hint items\n",
            mul.fragment().len(),
            mul.hint_count()
        );
        println!("| op | script bytes | peak stack | hint items | Fq muls | result |");
        println!("|---|---|---|---|---|---|");
        let ops: Vec<(Arc<dyn Op>, Vec<Val>)> = vec![
            (Arc::new(Fq2Mul::new(mul.clone())), vec![fq2_val(&a), fq2_val(&b)]),
            (Arc::new(Fq2Square::new(mul.clone())), vec![fq2_val(&a)]),
            (Arc::new(Fq2MulFq::new(mul.clone())), vec![fq2_val(&a), vec![x]]),
            (Arc::new(Fq2MulConst::new(mul.clone(), k, false)), vec![fq2_val(&a)]),
            (Arc::new(Fq2MulConst::new(mul.clone(), k, true)), vec![fq2_val(&a)]),
            (Arc::new(Fq2MulConst::new(mul.clone(), frob_k, true)), vec![fq2_val(&a)]),
            (Arc::new(Linear::mul_by_xi()), vec![fq2_val(&a)]),
            (Arc::new(Linear::conjugate()), vec![fq2_val(&a)]),
            (Arc::new(Linear::fq2_combination(&[(1, 0), (-1, 0)], Fq2::from(0u64)).expect("valid")), vec![fq2_val(&a), fq2_val(&b)]),
            (Arc::new(Linear::fq2_combination(&[(9, 1), (-18, -2)], Fq2::from(0u64)).expect("valid")), vec![fq2_val(&a), fq2_val(&b)]),
        ];
        for (op, inputs) in &ops {
            let (bytes, peak, hints, ok) = measure(op.as_ref(), inputs);
            println!("| {} | {bytes} | {peak} | {hints} | {} | {ok} |", op.name(), fq_mul_count(&op.name()).unwrap_or(0));
        }
        let t = Tower::new(mul.clone(), CommitMode::Direct);
        println!("\n| builder | ops | total script bytes | Fq muls | hint items | chunked (default limits) |");
        println!("|---|---|---|---|---|---|");
        builder_row("fq12_mul", |t, p, a, b, _| t.fq12_mul(p, "mul", a, b), &t);
        builder_row("fq12_square", |t, p, a, _, _| t.fq12_square(p, "sq", a), &t);
        builder_row("fq12_mul_by_034", |t, p, a, _, l| t.fq12_mul_by_034(p, "sparse", a, l[0], l[1], l[2]), &t);
        for k in 1..=3 {
            builder_row(&format!("fq12_frobenius p^{k}"), move |t, p, a, _, _| t.fq12_frobenius(p, "frob", a, k), &t);
        }
        builder_row("fq12_conjugate", |t, p, a, _, _| t.fq12_conjugate(p, "conj", a), &t);
        builder_row("fq6_mul", |t, p, a, b, _| [t.fq6_mul(p, "mul6", a[0], b[0]), a[1]], &t);
        builder_row("fq6_square", |t, p, a, _, _| [t.fq6_square(p, "sq6", a[0]), a[1]], &t);
    }
}
