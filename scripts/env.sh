# Sourced by the entry scripts: checks the toolchain, makes sure the cached bitcoind exists and
# exports BITCOIND_EXE, and picks a per-user cargo target folder shared across clones (unless
# CARGO_TARGET_DIR is already set) so a fresh clone does not rebuild every dependency.
command -v cargo >/dev/null || { echo "error: cargo (Rust toolchain) not found on PATH" >&2; exit 1; }
BITVM2_CACHE_DIR="${BITVM2_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bitvm2}"
export BITVM2_CACHE_DIR
echo "[setup] bitcoind: building or reusing the cached build (first time: 12-20 minutes)" >&2
bitcoind_dir="$(bash "$root/regtest/build-bitcoind.sh" | tail -1)"
export BITCOIND_EXE="$bitcoind_dir/bitcoind"
export BITCOIN_CLI_EXE="$bitcoind_dir/bitcoin-cli"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$BITVM2_CACHE_DIR/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
