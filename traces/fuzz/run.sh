#!/usr/bin/env bash
# run.sh TARGET|all SECONDS: fuzz vqscope's readers with libFuzzer (Swift's -sanitize=fuzzer,
# with AddressSanitizer) for SECONDS per target. Targets: trace (the trace reader and model),
# dump (the ELF and raw dump readers), rings (the ring decoders, frame export and reports),
# recording (a run directory's rings.jsonl replayed, its frames exported, its run.json read);
# see Sources/vqscope-fuzz. Builds into .build-fuzz (release), seeds each corpus from the
# repository (seeds.py) and keeps it in .build-fuzz/corpus/TARGET between runs; an input that
# crashes, hangs (10 s) or needs more than 2 GiB is written to .build-fuzz/artifacts/ and the
# script fails. Prints each target's executions.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: run.sh trace|dump|rings|recording|all SECONDS}
seconds=${2:?usage: run.sh trace|dump|rings|recording|all SECONDS}
targets=("$target")
[ "$target" = all ] && targets=(trace dump rings recording)

swift build -c release --product vqscope-fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING 2>&1 | grep -v "Cannot export local symbol" | tail -3
binary=$(swift build -c release --product vqscope-fuzz --scratch-path .build-fuzz --show-bin-path)/vqscope-fuzz
mkdir -p .build-fuzz/artifacts
status=0
for name in "${targets[@]}"; do
    corpus=.build-fuzz/corpus/$name
    mkdir -p "$corpus"
    python3 traces/fuzz/seeds.py "$name" "$corpus" >/dev/null
    log=.build-fuzz/$name.log
    if VQSCOPE_FUZZ_TARGET=$name "$binary" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=131072 -artifact_prefix=".build-fuzz/artifacts/$name-" -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
        echo "fuzz $name: ${seconds} s, $runs executions, no crash ($(ls "$corpus" | wc -l) inputs in the corpus)"
    else
        echo "fuzz $name: FAILED, see $log and .build-fuzz/artifacts/" >&2
        grep -E "ERROR|SUMMARY|Fatal error|artifact" "$log" | head -10 >&2
        status=1
    fi
done
exit $status
