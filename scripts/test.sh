#!/usr/bin/env bash
# Install what the project needs (Debian build packages, the cached bitcoind build) and run the
# whole test suite. Idempotent and non-interactive; works as root on a fresh Debian machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source "$root/scripts/env.sh"

echo "[test] running the test suite (target dir: $CARGO_TARGET_DIR)"
cargo test --workspace --locked "$@"
