//! Finding the bitcoind binary and explaining why it would not start.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{HarnessError, Result};

/// The per-user cache folder that `regtest/build-bitcoind.sh` fills (same rule as the script:
/// `$BITVM2_CACHE_DIR`, else `$XDG_CACHE_HOME/bitvm2`, else `~/.cache/bitvm2`).
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("BITVM2_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("bitvm2"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("bitvm2"))
}

/// The bitcoind to run: `$BITCOIND_EXE` if set, else the newest cached build of
/// `regtest/build-bitcoind.sh`. Checks that the file exists and is executable.
pub fn bitcoind_exe() -> Result<PathBuf> {
    let path = match std::env::var_os("BITCOIND_EXE") {
        Some(p) => PathBuf::from(p),
        None => newest_cached_build().ok_or_else(|| {
            HarnessError::NoBitcoind(
                "BITCOIND_EXE is not set and no cached build was found; run \
                 `bash regtest/build-bitcoind.sh` (or scripts/test.sh) first"
                    .into(),
            )
        })?,
    };
    let meta = std::fs::metadata(&path)
        .map_err(|e| HarnessError::NoBitcoind(format!("{}: {e}", path.display())))?;
    use std::os::unix::fs::PermissionsExt;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(HarnessError::NoBitcoind(format!("{} is not an executable file", path.display())));
    }
    Ok(path)
}

fn newest_cached_build() -> Option<PathBuf> {
    let dir = default_cache_dir()?.join("bitcoind");
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let candidate = entry.path().join("bitcoind");
        if !entry.file_name().to_string_lossy().starts_with("core-") {
            continue;
        }
        if let Ok(m) = std::fs::metadata(&candidate) {
            let t = m.modified().unwrap_or(std::time::UNIX_EPOCH);
            if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
                best = Some((t, candidate));
            }
        }
    }
    best.map(|(_, p)| p)
}

/// Runs bitcoind once more with the same arguments and stderr captured, for at most a few
/// seconds, to show the user why it would not start (bad flag, datadir locked, ...).
pub(crate) fn probe_stderr(exe: &Path, datadir: &Path, args: &[&str]) -> String {
    let child = Command::new(exe)
        .arg(format!("-datadir={}", datadir.display()))
        .arg("-listen=0")
        .arg("-rpcport=0")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return format!("could not execute {}: {e}", exe.display()),
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    let out = child.wait_with_output().map(|o| String::from_utf8_lossy(&o.stderr).into_owned());
    match out {
        Ok(s) if !s.trim().is_empty() => s,
        Ok(_) => "(bitcoind printed nothing on stderr; see debug.log in the datadir)".into(),
        Err(e) => format!("(could not read stderr: {e})"),
    }
}
