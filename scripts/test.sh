#!/usr/bin/env bash
# Install what the project needs (Debian build packages, the cached bitcoind build) and run the
# whole test suite. Idempotent and non-interactive; works as root on a fresh Debian machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source "$root/scripts/env.sh"

echo "[test] running the test suite (target dir: $CARGO_TARGET_DIR)"
cargo test --workspace --locked "$@"

# Our tapscript executor against Bitcoin Core's own interpreter (libbitcoinkernel). Its first
# build compiles Core's consensus code (about 8 minutes); the target folder caches it.
echo "[test] cross-checking the script executor against Bitcoin Core (feature core-oracle)"
cargo test --locked -p bitvm2-script --features core-oracle --test core_oracle --test arith_core_oracle "$@"
echo "[test] disprove leaves and Groth16 operation scripts judged by Bitcoin Core (feature core-oracle)"
cargo test --locked -p bitvm2-disprove --features core-oracle --test msm_program --test groth16_program "$@"
