//! Prints the cost of one Winternitz-signed value under the standard check
//! (`winternitz::verify_script`, two witness items per chain; a leaf then regroups the 4-bit
//! digits of a 256-bit element into 29-bit limbs with `arith::nibbles_to_limbs`) and under the
//! compact check (`winternitz::compact`, one item per chain plus the message in 29-bit limbs,
//! which come out ready for arithmetic). Same keys and signatures for both.

use bitvm2_script::arith::{nibbles_to_limbs, Layout};
use bitvm2_script::winternitz::compact::{compact_figures, Packing};
use bitvm2_script::winternitz::{size_figures, Params};

fn main() {
    println!("| message | w | check | witness items | witness bytes (max) | script bytes (keep) | + regroup to limbs | script bytes (drop) | peak items |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (len, what) in [(32usize, "256-bit element"), (20, "160-bit digest")] {
        let layout = Layout::new(8 * len as u32, 29);
        let regroup = nibbles_to_limbs(&layout).len();
        let p = Params::new(4, len).expect("valid parameters");
        let old = size_figures(p);
        println!(
            "| {what} | 4 | standard | {} | {} | {} | {} | {} | {} |",
            2 * old.digits,
            old.witness_max,
            old.script_keep,
            old.script_keep + regroup,
            old.script_drop,
            old.peak_items
        );
        for w in [4u32, 5, 6, 8] {
            let p = Params::new(w, len).expect("valid parameters");
            let packing = Packing::limbs(p, 29).expect("valid packing");
            let c = compact_figures(&packing);
            println!(
                "| {what} | {w} | compact, {} limbs | {} | {} | {} | {} | {} | {} |",
                packing.packed_items(),
                c.items,
                c.witness_max,
                c.script_keep,
                c.script_keep,
                c.script_drop,
                c.peak_items
            );
        }
    }
    let p = Params::new(4, 32).expect("valid parameters");
    let old = size_figures(p);
    let c = compact_figures(&Packing::limbs(p, 29).expect("valid packing"));
    let regroup = nibbles_to_limbs(&Layout::new(256, 29)).len();
    println!();
    println!(
        "256-bit element, w=4: witness items {} -> {} ({:.1}% fewer), script to limbs {} -> {} B ({:+.1}%), witness bytes {} -> {}",
        2 * old.digits,
        c.items,
        100.0 * (1.0 - c.items as f64 / (2 * old.digits) as f64),
        old.script_keep + regroup,
        c.script_keep,
        100.0 * (c.script_keep as f64 / (old.script_keep + regroup) as f64 - 1.0),
        old.witness_max,
        c.witness_max
    );
}
