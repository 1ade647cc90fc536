#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 30), starting from the committed
# seed corpora in fuzz/corpus/<target>, and fails on the first crash (a panic, an abort, a
# timeout of a single input or running out of memory). New inputs go to a scratch
# corpus, so the committed seeds stay as they are; a crashing input is kept in
# fuzz/artifacts/<target>/. Prints one summary line per target: executions and speed.
#
# Works on the stable toolchain: no sanitizer (`-s none`), libFuzzer's coverage guidance
# only. With a nightly toolchain, FUZZ_SANITIZER=address adds AddressSanitizer (hemlis has
# no unsafe code, so it mostly checks the dependencies).
#
#   fuzz/run.sh 30                 # every target, 30 s each
#   fuzz/run.sh 600 interaction    # one target
set -euo pipefail
seconds="${1:-30}"
shift || true
cd "$(dirname "$0")"
sanitizer="${FUZZ_SANITIZER:-none}"
flags=(--sanitizer "$sanitizer" --debug-assertions)
if [ "$#" -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi
work="corpus-work"
mkdir -p "$work"
echo "building ${#targets[@]} targets (sanitizer: $sanitizer)"
cargo fuzz build "${flags[@]}" >/dev/null
summary=()
for target in "${targets[@]}"; do
    mkdir -p "$work/$target" "corpus/$target"
    log="$work/$target.log"
    echo "== $target: ${seconds}s"
    status=0
    cargo fuzz run "${flags[@]}" "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=16384 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    units=$(find "$work/$target" -type f | wc -l)
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log"
        echo "FAILED: $target crashed (exit $status); the input is in fuzz/artifacts/$target/"
        exit 1
    fi
    line="$target: $runs executions ($speed/s), 0 crashes, $units new corpus units"
    echo "$line"
    summary+=("$line")
done
echo "== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
