#!/usr/bin/env bash
# Runs each fuzz target for a bounded time, one after the other, single
# process, and prints a summary line per target. Not part of CI.
#
#   fuzz/run.sh [seconds-per-target] [target ...]
#
# Defaults: 120 seconds, every target. Needs cargo-fuzz (`cargo install
# cargo-fuzz`) and SoftHSM (`apt-get install softhsm2`, for aws_ops and
# huawei_ops). Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets it take
# the nightly-only flags cargo-fuzz passes, and the sanitizer is off
# (SANITIZER=address to turn AddressSanitizer on; Trent's own code has no
# unsafe blocks, so a panic or failed assertion is what the targets look
# for). Debug assertions (and so overflow checks) are on.
#
# The corpus column is libFuzzer's final corpus (inputs kept for coverage).
# Per target: corpus in fuzz/corpus/<target> (grown from fuzz/seeds/<target>),
# crashing inputs in fuzz/artifacts/<target>, libFuzzer's log in
# fuzz/logs/<target>.log. Extra libFuzzer flags: LIBFUZZER_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-120}"
shift || true
all=(aws_ops huawei_ops sigv4 huawei_sign ciphertext policy)
targets=("${@:-${all[@]}}")
sanitizer="${SANITIZER:-none}"
export RUSTC_BOOTSTRAP=1
mkdir -p fuzz/logs
cargo fuzz build --sanitizer "$sanitizer" --debug-assertions
printf '%-12s %8s %12s %8s %8s %8s\n' target seconds executions exec/s corpus crashes
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    seeds=()
    [[ -d "fuzz/seeds/$target" ]] && seeds=("fuzz/seeds/$target")
    dict=()
    [[ -f "fuzz/dicts/$target.dict" ]] && dict=("-dict=fuzz/dicts/$target.dict")
    log="fuzz/logs/$target.log"
    status=0
    start=$SECONDS
    # The service targets leave their SoftHSM tokens in a temporary directory
    # (libFuzzer exits without running destructors): keep it here, and remove it.
    tmp="$PWD/fuzz/target/tmp-$target"
    rm -rf "$tmp" && mkdir -p "$tmp"
    TMPDIR="$tmp" cargo fuzz run --sanitizer "$sanitizer" --debug-assertions "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
        "${dict[@]}" ${LIBFUZZER_ARGS:-} \
        >"$log" 2>&1 || status=$?
    rm -rf "$tmp"
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    size=$(grep -o 'DONE .* corp: [0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    crashes=$(find "fuzz/artifacts/$target" -type f | wc -l)
    printf '%-12s %8s %12s %8s %8s %8s\n' "$target" "$((SECONDS - start))" "$runs" "$rate" \
        "$size" "$crashes"
    if [[ $status -ne 0 ]]; then
        echo "  $target stopped with status $status: see $log" >&2
        grep -m1 -A3 "panicked at" "$log" >&2 || true
    fi
done
