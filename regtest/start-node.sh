#!/usr/bin/env bash
# Start one regtest bitcoind by hand, in the foreground, on a free loopback RPC port.
# Prints the RPC URL, the credentials and a ready-to-use bitcoin-cli command line.
# Usage: regtest/start-node.sh [DATADIR]   (default: a new temporary folder)
# Ctrl-C stops the node.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin_dir="$(bash "$here/build-bitcoind.sh" | tail -1)"
datadir="${1:-$(mktemp -d -t bitvm2-node-XXXXXX)}"
mkdir -p "$datadir"

port=""
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[[ -n "$port" ]] || { echo "start-node: no free loopback port found" >&2; exit 1; }

"$bin_dir/bitcoind" -conf="$here/bitcoin.conf" -datadir="$datadir" -rpcport="$port" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null' INT TERM EXIT

cookie="$datadir/regtest/.cookie"
for _ in $(seq 1 100); do
  [[ -f "$cookie" ]] && break
  kill -0 "$pid" 2>/dev/null || { echo "start-node: bitcoind exited; see $datadir/regtest/debug.log" >&2; exit 1; }
  sleep 0.1
done
[[ -f "$cookie" ]] || { echo "start-node: no cookie file after 10 s" >&2; exit 1; }

cat <<INFO
regtest bitcoind running (pid $pid)
  RPC URL:      http://127.0.0.1:$port
  credentials:  $(cat "$cookie")   (user:password, from $cookie)
  datadir:      $datadir
  cli:          $bin_dir/bitcoin-cli -regtest -datadir=$datadir -rpcport=$port getblockchaininfo
Ctrl-C stops it.
INFO
wait "$pid"
