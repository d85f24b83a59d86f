//! `bitvm2-statement-setup --out DIR`: writes the statement circuit's Groth16 proving and
//! verifying keys to DIR once, named by the circuit's content hash; a second run reuses them.

use clap::Parser;

/// Generate (once) the statement circuit's keys.
#[derive(Parser)]
struct Args {
    /// Directory for `statement-<id>.pk` / `.vk`.
    #[arg(long)]
    out: std::path::PathBuf,
    /// Override: payout tx capacity in SHA-256 blocks.
    #[arg(long)]
    max_tx_blocks: Option<usize>,
    /// Override: Merkle depth.
    #[arg(long)]
    merkle_depth: Option<usize>,
    /// Override: number of headers after the checkpoint.
    #[arg(long)]
    num_headers: Option<usize>,
    /// Override: minimum confirmations.
    #[arg(long)]
    min_confirmations: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let mut p = bitvm2_statement::StatementParams::regtest();
    if let Some(v) = a.max_tx_blocks { p.max_tx_blocks = v; }
    if let Some(v) = a.merkle_depth { p.merkle_depth = v; }
    if let Some(v) = a.num_headers { p.num_headers = v; }
    if let Some(v) = a.min_confirmations { p.min_confirmations = v; }
    p.validate()?;
    let (_, files) = bitvm2_statement::keys::load_or_setup(&a.out, &p, &mut rand::rngs::OsRng)?;
    println!("{} {}", if files.created { "created" } else { "exists" }, files.pk_path.display());
    println!("{} {}", if files.created { "created" } else { "exists" }, files.vk_path.display());
    Ok(())
}
