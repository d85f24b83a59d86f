#!/usr/bin/env bash
# `bitvm2 demo`: ensures the cached bitcoind build (scripts/env.sh), builds the `bitvm2` binary
# and plays the four scenarios on a fresh regtest node with 2 operators and 3 verifiers as
# separate processes. Extra arguments go to `bitvm2 demo` (e.g. --json, --keep).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source "$root/scripts/env.sh"
echo "[demo] building bitvm2 (target dir: $CARGO_TARGET_DIR)" >&2
cargo build --quiet -p bitvm2-cli --bin bitvm2
exec "$CARGO_TARGET_DIR/debug/bitvm2" demo "$@"
