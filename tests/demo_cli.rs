//! `bitvm2 demo` as a user runs it: the JSON table of the four scenarios, and every process it
//! started gone afterwards, also when interrupted with Ctrl-C (SIGINT) half-way.

mod common;

use common::bitvm2_exe;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};


/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            if String::from_utf8_lossy(&c).contains(needle) {
                out.push(pid);
            }
        }
    }
    out
}

fn demo_dir(line: &str) -> Option<String> {
    line.split("demo dir ").nth(1).map(|s| s.trim().to_string())
}

#[test]
fn demo_prints_four_scenarios_as_json_and_leaves_nothing_running() -> Result<()> {
    let out = Command::new(bitvm2_exe()?).args(["demo", "--json", "--program", "horner"]).env("RUST_BACKTRACE", "0").output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "demo failed:\n{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let rows = v["scenarios"].as_array().context("scenarios")?;
    let names: Vec<&str> = rows.iter().filter_map(|r| r["scenario"].as_str()).collect();
    assert_eq!(names, ["1 deposit (x2)", "2 honest withdrawal", "3 dishonest claim", "4 challenged honest"]);
    for r in rows {
        assert!(r["blocks"].as_u64().unwrap_or(0) > 0, "{r}");
        for t in r["txs"].as_array().context("txs")? {
            assert_eq!(t["txid"].as_str().map(str::len), Some(64));
            assert!(t["vsize"].as_u64().unwrap_or(0) > 100, "{t}");
        }
    }
    let dir = err.lines().find_map(demo_dir).context("demo dir line")?;
    assert!(!std::path::Path::new(&dir).exists(), "demo dir {dir} left behind");
    assert!(processes_mentioning(&dir).is_empty(), "daemons of {dir} still running");
    Ok(())
}

#[test]
fn demo_interrupted_by_sigint_kills_every_process_it_started() -> Result<()> {
    let mut child = Command::new(bitvm2_exe()?)
        .args(["demo", "--program", "horner"])
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let mut dir = None;
    let start = Instant::now();
    // Interrupt once the daemons run and the first deposit has started.
    while let Some(l) = lines.next().transpose()? {
        if let Some(d) = demo_dir(&l) {
            dir = Some(d);
        }
        if l.starts_with("[1]") {
            break;
        }
        ensure!(start.elapsed() < Duration::from_secs(60), "demo did not start");
    }
    let dir = dir.context("demo dir line")?;
    ensure!(!processes_mentioning(&dir).is_empty(), "no daemons seen for {dir}");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let st = child.wait()?;
    assert!(!st.success(), "an interrupted demo must not report success");
    assert!(processes_mentioning(&dir).is_empty(), "daemons of {dir} survived Ctrl-C");
    assert!(!std::path::Path::new(&dir).exists(), "demo dir {dir} left behind");
    Ok(())
}
