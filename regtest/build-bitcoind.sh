#!/usr/bin/env bash
# Build Bitcoin Core's bitcoind and bitcoin-cli from the source tree shipped in the crate
# libbitcoinkernel-sys, and cache the two stripped binaries per user, keyed by crate version
# and build flags. Idempotent: a second run with a good cache is instant.
#
# Prints the directory holding the binaries on its last line (stdout).
# Env: BITVM2_CACHE_DIR (default ~/.cache/bitvm2), BITVM2_SKIP_APT=1 to skip apt-get.
set -euo pipefail

KERNEL_CRATE_VERSION="0.4.1"
CMAKE_FLAGS=(
  -DCMAKE_BUILD_TYPE=Release
  -DBUILD_DAEMON=ON -DBUILD_CLI=ON
  -DBUILD_BITCOIN_BIN=OFF -DBUILD_TX=OFF -DBUILD_UTIL=OFF -DENABLE_WALLET=OFF
  -DBUILD_TESTS=OFF -DBUILD_BENCH=OFF -DBUILD_GUI=OFF -DENABLE_IPC=OFF -DWITH_ZMQ=OFF
  -DBUILD_KERNEL_LIB=OFF -DWITH_EMBEDDED_ASMAP=OFF -DENABLE_EXTERNAL_SIGNER=OFF
  -DINSTALL_MAN=OFF -DWITH_CCACHE=OFF
)
DEB_PACKAGES=(cmake pkg-config libboost-dev g++ make)

log() { echo "[build-bitcoind] $*" >&2; }
die() { echo "[build-bitcoind] error: $*" >&2; exit 1; }

cache_root="${BITVM2_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bitvm2}"
key="$(printf '%s\n' "$KERNEL_CRATE_VERSION" "${CMAKE_FLAGS[@]}" | sha256sum | cut -c1-16)"
out_dir="$cache_root/bitcoind/core-kernel-sys-$KERNEL_CRATE_VERSION-$key"

cache_ok() {
  [[ -x "$out_dir/bitcoind" && -x "$out_dir/bitcoin-cli" ]] || return 1
  "$out_dir/bitcoind" -version >/dev/null 2>&1 || return 1
  "$out_dir/bitcoin-cli" -version >/dev/null 2>&1 || return 1
}

if cache_ok; then
  log "cached binaries are good: $out_dir"
  echo "$out_dir"
  exit 0
fi
[[ -e "$out_dir" ]] && { log "cache at $out_dir is incomplete or does not run; rebuilding"; rm -rf "$out_dir"; }

# 1. Debian build packages.
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ "${BITVM2_SKIP_APT:-0}" == 1 ]]; then
    die "missing Debian packages: ${missing[*]} (BITVM2_SKIP_APT=1 set, install them yourself)"
  fi
  command -v apt-get >/dev/null || die "missing Debian packages: ${missing[*]} and no apt-get here"
  sudo_cmd=()
  [[ "$(id -u)" != 0 ]] && sudo_cmd=(sudo)
  log "installing Debian packages: ${missing[*]}"
  apt_log="$cache_root/apt.log"; mkdir -p "$cache_root"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$apt_log" 2>&1 \
    || die "apt-get update failed (log: $apt_log)"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$apt_log" 2>&1 \
    || die "apt-get install failed for: ${missing[*]} (log: $apt_log)"
fi
for tool in cmake g++ make pkg-config cargo; do
  command -v "$tool" >/dev/null || die "required tool '$tool' not found on PATH"
done

# 2. The Core source tree, through cargo (the only registry reachable).
work="$cache_root/bitcoind/work-$key"
mkdir -p "$work/fetch/src"
cat >"$work/fetch/Cargo.toml" <<TOML
[package]
name = "bitvm2-core-source-fetch"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
libbitcoinkernel-sys = "=$KERNEL_CRATE_VERSION"
[workspace]
TOML
: >"$work/fetch/src/lib.rs"
log "fetching libbitcoinkernel-sys $KERNEL_CRATE_VERSION through cargo"
(cd "$work/fetch" && cargo fetch -q) || die "cargo fetch of libbitcoinkernel-sys=$KERNEL_CRATE_VERSION failed"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
crate_file="$(ls "$cargo_home"/registry/cache/*/"libbitcoinkernel-sys-$KERNEL_CRATE_VERSION.crate" 2>/dev/null | head -1)"
[[ -n "$crate_file" ]] || die "libbitcoinkernel-sys-$KERNEL_CRATE_VERSION.crate not found in $cargo_home/registry/cache"
src="$work/src"
if [[ ! -f "$src/libbitcoinkernel-sys-$KERNEL_CRATE_VERSION/bitcoin/CMakeLists.txt" ]]; then
  rm -rf "$src" && mkdir -p "$src"
  tar xzf "$crate_file" -C "$src" || die "could not unpack $crate_file"
fi
core="$src/libbitcoinkernel-sys-$KERNEL_CRATE_VERSION/bitcoin"
[[ -f "$core/src/bitcoind.cpp" ]] || die "the crate does not contain Core's daemon sources ($core/src/bitcoind.cpp)"

# 3. Configure and build only the two targets.
build="$work/build"
jobs="${BITVM2_BUILD_JOBS:-$(nproc)}"
log "configuring (cmake) in $build"
cmake -S "$core" -B "$build" "${CMAKE_FLAGS[@]}" >"$work/cmake.log" 2>&1 \
  || { tail -40 "$work/cmake.log" >&2; die "cmake configure failed (full log: $work/cmake.log)"; }
log "building bitcoind and bitcoin-cli with $jobs jobs (12-20 minutes on 2 cores; progress below)"
cmake --build "$build" --target bitcoind bitcoin-cli -j "$jobs" 2>&1 \
  | tee "$work/build.log" | grep --line-buffered -E '^\[ *[0-9]+%\]' | awk 'NR % 20 == 1 { print "[build-bitcoind] " $0; fflush() }' >&2
[[ ${PIPESTATUS[0]} == 0 ]] || { tail -40 "$work/build.log" >&2; die "build failed (full log: $work/build.log)"; }

# 4. Install into the cache atomically.
tmp="$out_dir.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
for b in bitcoind bitcoin-cli; do
  f="$(find "$build" -type f -name "$b" -perm -u+x | head -1)"
  [[ -n "$f" ]] || die "built binary $b not found under $build"
  cp "$f" "$tmp/$b" && strip "$tmp/$b"
done
mv "$tmp" "$out_dir"
cache_ok || die "freshly built binaries in $out_dir do not run"
rm -rf "$build"
log "done: $out_dir"
echo "$out_dir"
