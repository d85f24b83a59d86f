//! Prints the Winternitz size table of docs/script.md: witness and script bytes per signed bit
//! for 16- and 32-byte messages at several digit widths, next to BitVM's published figure
//! (16-byte message, 35 digits of 4 bits, 21 witness bytes each).

use bitvm2_script::winternitz::{size_figures, Params};

fn main() {
    println!("| message | w | digits | witness max (B) | script keep (B) | script drop (B) | witness B/bit | script B/bit (keep) | witness+script B/bit | peak items |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for len in [16usize, 32] {
        for w in [2u32, 3, 4, 5, 6, 8] {
            let p = Params::new(w, len).expect("valid parameters");
            let f = size_figures(p);
            let bits = f.bits as f64;
            println!(
                "| {len} B | {w} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} |",
                f.digits,
                f.witness_max,
                f.script_keep,
                f.script_drop,
                f.witness_max as f64 / bits,
                f.script_keep as f64 / bits,
                (f.witness_max + f.script_keep) as f64 / bits,
                f.peak_items
            );
        }
    }
    let bitvm_witness = 35 * 21;
    println!();
    println!(
        "BitVM reference, 16 B message, w=4: 35 digits x 21 B = {bitvm_witness} B witness = {:.2} B/bit",
        bitvm_witness as f64 / 128.0
    );
    let ours = size_figures(Params::new(4, 16).expect("valid"));
    println!(
        "ours, 16 B message, w=4: {} B witness (worst case) = {:.2} B/bit, ratio ours/BitVM = {:.3}",
        ours.witness_max,
        ours.witness_max as f64 / 128.0,
        ours.witness_max as f64 / bitvm_witness as f64
    );
}
