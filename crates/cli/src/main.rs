//! `bitvm2`: the command line of the BitVM2 bridge toolkit. It creates keys and configuration
//! files, runs the operator and verifier daemons, drives deposits (as the untrusted setup
//! coordinator and the depositor) and withdrawals (as the side system), shows the committee's
//! status, and plays the whole protocol on a local regtest node with `bitvm2 demo`.

use bitvm2_cli::{demo, driver};

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use bitcoin::secp256k1::XOnlyPublicKey;
use bitcoin::Amount;
use bitvm2_node::runtime::NodeContext;
use bitvm2_node::{Config, NodeKeys, Role};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bitvm2", version, about = "BitVM2 bridge toolkit: keys, config, operator and verifier daemons, deposits, withdrawals, status and a regtest demo.",
          long_about = "BitVM2 bridge toolkit.\n\nStart with `bitvm2 demo`: it runs a regtest bitcoind, 2 operators and 3 verifiers as separate processes and plays a deposit, an honest withdrawal, a dishonest claim that gets disproved and a challenged honest operator. See docs/protocol.md.")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a new key file (mode 0600; never overwrites). Prints the public key.
    Keygen {
        /// Where to write the key file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a node configuration file (TOML, see docs/operations.md) and check it.
    Init {
        /// operator or verifier.
        #[arg(long)]
        role: String,
        /// The node's key file (create it with `bitvm2 keygen`).
        #[arg(long)]
        keys: PathBuf,
        /// Peer API address, e.g. 127.0.0.1:9101.
        #[arg(long)]
        listen: String,
        /// SQLite store file.
        #[arg(long, default_value = "node.sqlite")]
        store: PathBuf,
        /// bitcoind RPC URL.
        #[arg(long)]
        rpc_url: String,
        /// bitcoind cookie file.
        #[arg(long)]
        cookie_file: PathBuf,
        /// A committee member as name:role:pubkey:url (repeat for every member, this node included).
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        /// Where to write the configuration.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run the operator daemon (pays withdrawals, kicks off, takes, asserts when challenged).
    Operator {
        #[command(subcommand)]
        cmd: RunCmd,
    },
    /// Run the verifier/watchtower daemon (presigns, checks kickoffs, challenges, disproves).
    Verifier {
        #[command(subcommand)]
        cmd: RunCmd,
    },
    /// Coordinate the setup of a deposit as this config's node (untrusted coordinator: every
    /// party checks the graph) and move the depositor's coins into the vault.
    Deposit {
        /// A committee member's configuration (its key signs the coordinator's messages).
        #[arg(long)]
        config: PathBuf,
        /// The depositor's key file; its BIP-86 address must hold two matured coins.
        #[arg(long)]
        depositor_keys: PathBuf,
        /// Amount in satoshis.
        #[arg(long)]
        amount: u64,
    },
    /// Submit a withdrawal request signed by the side system's key to every node.
    Withdraw {
        /// A committee member's configuration (carries the request to the others).
        #[arg(long)]
        config: PathBuf,
        /// The side system's key file (the daemons check requests against its public key).
        #[arg(long)]
        side_system_keys: PathBuf,
        /// The deposit's graph id (hex, as printed by `bitvm2 deposit`).
        #[arg(long)]
        graph: String,
        /// Index of the operator that fronts the withdrawal.
        #[arg(long)]
        operator: u32,
        /// Destination address.
        #[arg(long)]
        destination: String,
        /// Amount in satoshis.
        #[arg(long)]
        amount: u64,
    },
    /// Show every committee member's state (a table; --json for tools).
    Status {
        /// Any member's configuration.
        #[arg(long)]
        config: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Play the whole protocol on a fresh regtest node with 2 operators and 3 verifiers as
    /// separate processes; prints progress and a table of scenarios.
    Demo {
        /// Print the final table as JSON.
        #[arg(long)]
        json: bool,
        /// Keep the demo's directory (configs, stores, logs) instead of deleting it.
        #[arg(long)]
        keep: bool,
        /// The disprove program: `statement` (the Groth16 verifier of the payout statement:
        /// the real bridge; about 10 minutes on 2 cores) or `horner` (a small program that
        /// proves nothing about payouts; under a minute).
        #[arg(long, default_value = "statement", value_parser = ["statement", "horner"])]
        program: String,
    },
}

#[derive(Subcommand)]
enum RunCmd {
    /// Run until Ctrl-C or SIGTERM.
    Run {
        /// Node configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// The side system's x-only public key (hex): withdrawal requests must be signed by it.
        #[arg(long)]
        side_system_key: Option<String>,
    },
}

fn load_config(path: &std::path::Path) -> Result<Config> {
    Config::load(path).with_context(|| format!("reading configuration {}", path.display()))
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

fn run_daemon(role: Role, config: PathBuf, side: Option<String>) -> Result<()> {
    let cfg = load_config(&config)?;
    if cfg.node.role != role {
        bail!("{} is a {:?} configuration; use `bitvm2 {} run`", config.display(), cfg.node.role, format!("{:?}", cfg.node.role).to_lowercase());
    }
    let side: Option<XOnlyPublicKey> = side
        .map(|s| s.parse().map_err(|e| anyhow!("--side-system-key {s:?}: not an x-only public key ({e})")))
        .transpose()?;
    let ctx = NodeContext::open(cfg, true).context("opening the node")?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let env = Arc::new(bitvm2_verifier::common::Env::new(ctx));
        match role {
            Role::Operator => {
                let h = Arc::new(bitvm2_operator::OperatorHandler::new(env.ctx.clone(), side));
                bitvm2_verifier::common::run_daemon(env, h, bitvm2_operator::operator_tick, shutdown_signal()).await
            }
            Role::Verifier => {
                let h = Arc::new(bitvm2_verifier::VerifierHandler::new(env.ctx.clone(), side));
                bitvm2_verifier::common::run_daemon(env, h, bitvm2_verifier::verifier_tick, shutdown_signal()).await
            }
        }
    })?;
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let daemon = matches!(cli.cmd, Cmd::Operator { .. } | Cmd::Verifier { .. });
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| if daemon { "info".into() } else { "warn".into() });
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(filter)).with_writer(std::io::stderr).init();
    match cli.cmd {
        Cmd::Keygen { out } => {
            let k = NodeKeys::create_file(&out).with_context(|| format!("creating {}", out.display()))?;
            println!("{}", k.public_key());
        }
        Cmd::Init { role, keys, listen, store, rpc_url, cookie_file, members, out } => {
            let mut text = format!(
                "[node]\nrole = {role:?}\nkeys_file = {:?}\nstore_path = {:?}\nlisten = {listen:?}\n\n[bitcoind]\nrpc_url = {rpc_url:?}\ncookie_file = {:?}\n",
                keys.display().to_string(),
                store.display().to_string(),
                cookie_file.display().to_string()
            );
            for m in members {
                let parts: Vec<&str> = m.splitn(4, ':').collect();
                if parts.len() != 4 {
                    bail!("--member {m:?}: expected name:role:pubkey:url");
                }
                text += &format!("\n[[committee]]\nname = {:?}\nrole = {:?}\npubkey = {:?}\nurl = {:?}\n", parts[0], parts[1], parts[2], parts[3]);
            }
            Config::parse(&text).context("the configuration does not validate")?;
            if out.exists() {
                bail!("{} exists; not overwriting", out.display());
            }
            std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {}", out.display());
        }
        Cmd::Operator { cmd: RunCmd::Run { config, side_system_key } } => run_daemon(Role::Operator, config, side_system_key)?,
        Cmd::Verifier { cmd: RunCmd::Run { config, side_system_key } } => run_daemon(Role::Verifier, config, side_system_key)?,
        Cmd::Deposit { config, depositor_keys, amount } => {
            let cfg = load_config(&config)?;
            let me = NodeKeys::load(&cfg.node.keys_file)?;
            let dep = NodeKeys::load(&depositor_keys)?;
            let d = driver::Driver::new(&cfg, *me.keypair())?;
            let p = &cfg.params;
            let tl = bitvm2_txgraph::Timelocks { deposit_refund: p.deposit_refund, take1: p.take1, assert_timeout: p.assert_timeout, take2: p.take2 };
            let r = d.deposit(dep.keypair(), Amount::from_sat(amount), tl, &|s| eprintln!("  {s}"))?;
            println!("deposit {} vault {}:0 graph {}", r.deposit, r.peg_in_confirm, r.graph.id());
        }
        Cmd::Withdraw { config, side_system_keys, graph, operator, destination, amount } => {
            let cfg = load_config(&config)?;
            let me = NodeKeys::load(&cfg.node.keys_file)?;
            let side = NodeKeys::load(&side_system_keys)?;
            let d = driver::Driver::new(&cfg, *me.keypair())?;
            let gid = bitvm2_txgraph::GraphId(hex::decode(&graph)?.try_into().map_err(|_| anyhow!("--graph: expected 32 bytes of hex"))?);
            let dest = destination.parse::<bitcoin::Address<_>>()?.require_network(bitcoin::Network::Regtest)?.script_pubkey();
            let req = bitvm2_verifier::protocol::WithdrawalRequest { graph_id: gid, operator, destination: dest, amount: Amount::from_sat(amount), nonce: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos() as u64 };
            println!("withdrawal {}", d.withdraw(side.keypair(), req)?);
        }
        Cmd::Status { config, json } => {
            let cfg = load_config(&config)?;
            let me = NodeKeys::load(&cfg.node.keys_file)?;
            let d = driver::Driver::new(&cfg, *me.keypair())?;
            let mut all = Vec::new();
            for m in &cfg.committee {
                let s = d.status(m).unwrap_or_else(|e| serde_json::json!({"error": e.to_string()}));
                all.push(serde_json::json!({"name": m.name, "role": m.role, "url": m.url, "status": s}));
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!("{:<8} {:<9} {:>7} {:>7} duties / watch", "name", "role", "height", "graphs");
                for a in &all {
                    let s = &a["status"];
                    let daemon = &s["daemon"];
                    let extra: Vec<String> = daemon["duties"].as_array().into_iter().flatten().map(|d| d["state"].as_str().unwrap_or("").to_string())
                        .chain(daemon["watch"].as_array().into_iter().flatten().map(|w| format!("{} challenge={}", w["kickoff"].as_str().unwrap_or("").chars().take(8).collect::<String>(), w["challenge"].as_str().unwrap_or("-"))))
                        .collect();
                    let height = s["tip"]["height"].as_u64().map(|h| h.to_string()).unwrap_or_else(|| s.get("error").map(|_| "down".into()).unwrap_or("-".into()));
                    println!("{:<8} {:<9} {:>7} {:>7} {}", a["name"].as_str().unwrap_or(""), a["role"].as_str().unwrap_or(""), height,
                        daemon["graphs"].as_array().map(|g| g.len()).unwrap_or(0), extra.join("; "));
                }
            }
        }
        Cmd::Demo { json, keep, program } => {
            let program = if program == "horner" { bitvm2_node::ProgramKind::Horner } else { bitvm2_node::ProgramKind::Statement };
            demo::run(json, keep, program)?
        }
    }
    Ok(())
}
