#!/usr/bin/env bash
# Counts the instructions a Trent server executes per request, under
# valgrind's callgrind: a figure that, unlike CPU time, repeats within a
# fraction of a percent from run to run and does not move with what else the
# machine is doing, for judging changes of a few percent (README,
# "Performance"). Kernel time is not counted, and valgrind's CPU lacks the
# SHA extensions, so SHA-256 (SigV4, the audit chain) weighs several times
# more than on the real processor.
#
# Usage: scripts/instructions.sh [OP] [TRENT...]
#   OP     a bench operation (default encrypt32; see `bench --help`)
#   TRENT  trent binaries to compare (default target/release/trent)
# Needs valgrind (Debian's package) and `cargo build --release --bin trent
# --examples`. Each binary serves a fresh data directory: started once
# natively to provision its tokens, then under callgrind; the bench loads
# it at concurrency 4 for a 5-second warm-up, the counters are zeroed, 15
# more seconds run, and the total is divided by the requests the server's
# /metrics counted in between.

set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
op="${1:-encrypt32}"
shift || true
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=("$root/target/release/trent")
bench="$root/target/release/examples/bench"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The operation's requests the server answered with success, per /metrics.
answered() {
    curl -s "http://127.0.0.1:$port/metrics" |
        awk -v op="$1" '/^trent_requests_total\{/ && index($0, "operation=\"" op "\"") && /outcome="ok"/ { n += $2 } END { print n + 0 }'
}

# The server starts once the log says where it serves.
wait_serving() {
    for _ in $(seq 1 300); do
        grep -q "serving addr" "$1" 2>/dev/null && return 0
        sleep 1
    done
    echo "the server did not start: $1" >&2
    exit 1
}

load() {
    "$bench" --ops "$op" --concurrency 4 --duration "$1" --warmup 0 --no-ceiling \
        --endpoint "http://127.0.0.1:$port" --data-dir "$2" --server-pid "$3" >/dev/null
}

for trent in "${binaries[@]}"; do
    data="$work/data-$(basename "$trent")-$RANDOM"
    env TRENT_DATA_DIR="$data" TRENT_LISTEN="127.0.0.1:$port" "$trent" serve >/dev/null 2>"$work/native.log" &
    pid=$!
    wait_serving "$work/native.log"
    kill "$pid" && wait "$pid" || true
    out="$work/callgrind.out"
    env TRENT_DATA_DIR="$data" TRENT_LISTEN="127.0.0.1:$port" TRENT_LOG=info \
        valgrind --tool=callgrind --callgrind-out-file="$out" "$trent" serve >/dev/null 2>"$work/callgrind.log" &
    pid=$!
    wait_serving "$work/callgrind.log"
    load 5 "$data" "$pid"
    # The bench names operations by the API's names in /metrics.
    name=$(curl -s "http://127.0.0.1:$port/metrics" |
        awk '/^trent_requests_total\{/ && /outcome="ok"/ { match($0, /operation="[A-Za-z]+"/); o = substr($0, RSTART + 11, RLENGTH - 12); n[o] += $2 } END { best = ""; for (o in n) if (n[o] > n[best]) best = o; print best }')
    callgrind_control -z "$pid" >/dev/null 2>&1
    before=$(answered "$name")
    load 15 "$data" "$pid"
    after=$(answered "$name")
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill "$pid" && wait "$pid" || true
    total=$(awk '/^totals:/ { print $2 }' "$out".1)
    python3 -c "import sys; t, n = int(sys.argv[1]), int(sys.argv[2]) - int(sys.argv[3]); print(f'{sys.argv[4]}: {sys.argv[5]} x {n}: {t / n:,.0f} instructions per request')" \
        "$total" "$after" "$before" "$trent" "$name"
done
