#!/usr/bin/env bash
# Benchmark `vqscope analyze` against `wc -l` on the same large trace, in the same run.
#
#   traces/bench/run.sh [SIZES...]        (default: 100M 1G)
#
# Builds vqscope in release mode (scratch path .build-release), generates the traces
# with make-large-trace.py if missing (cached in .build-bench/), then for each size,
# with the page cache warm (each command runs once untimed first), times 3 runs of
#   wc -l FILE
#   vqscope analyze FILE --format json > /dev/null      (exit 0 or 1 both count as success)
# and reports the medians. Peak RSS comes from /usr/bin/time's %M; wall time is taken
# with a nanosecond clock around the same call (time's %e only has 10 ms resolution).
# Results: stdout and .build-bench/results.md.
#
# Targets: vqscope throughput >= 1/10 of wc -l's, and vqscope peak RSS < 64 MB, for every size.
# Environment: RUNS (default 3), VQSCOPE (use this binary, skip the build),
# BENCH_STRICT=1 (exit 1 when a target is missed), POINTERS=requests|fresh|reuse (default
# requests: the same devices and queues in every copy, fresh request pointers — one long run;
# fresh: new devices in every copy; reuse: identical copies; results for a non-default mode
# go to .build-bench/results-MODE.md; see make-large-trace.py --pointers).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/.build-bench"
runs=${RUNS:-3}
pointers=${POINTERS:-requests}
case "$pointers" in
requests) suffix=""; results="$out/results.md" ;;
fresh | reuse) suffix="-$pointers"; results="$out/results-$pointers.md" ;;
*) echo "run.sh: POINTERS must be requests, fresh or reuse" >&2; exit 2 ;;
esac
mkdir -p "$out"
cd "$root"

if [ $# -eq 0 ]; then set -- 100M 1G; fi

source "$here/timing.sh"
ensure_gnu_time run.sh

if [ -n "${VQSCOPE:-}" ]; then
    vqscope=$VQSCOPE
else
    echo "run.sh: building vqscope (release, --scratch-path .build-release)" >&2
    swift build -c release --scratch-path .build-release --product vqscope >&2
    vqscope="$root/.build-release/release/vqscope"
fi
[ -x "$vqscope" ] || { echo "run.sh: no vqscope binary at $vqscope" >&2; exit 2; }

rows="$out/.rows"
: >"$rows"
for size in "$@"; do
    trace="$out/trace-$size$suffix.log"
    if [ ! -s "$trace" ] || [ "$here/make-large-trace.py" -nt "$trace" ]; then
        python3 "$here/make-large-trace.py" "$trace" --size "$size" --pointers "$pointers"
    fi
    bytes=$(stat -c %s "$trace")

    # Warm-up: one untimed run of each (page cache), and the JSON report for the event count.
    lines=$(wc -l <"$trace")
    set +e
    "$vqscope" analyze "$trace" --format json >"$out/report-$size$suffix.json"
    rc=$?
    set -e
    if [ "$rc" -gt 1 ]; then echo "run.sh: vqscope analyze $trace exited $rc" >&2; exit 2; fi
    events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["input"]["virtioEvents"])' "$out/report-$size$suffix.json")

    : >"$out/.wc"; : >"$out/.vq"
    for _ in $(seq "$runs"); do time_once "$out/.wc" wc -l "$trace" >/dev/null; done
    for _ in $(seq "$runs"); do time_once "$out/.vq" sh -c 'exec "$0" analyze "$1" --format json >/dev/null' "$vqscope" "$trace"; done
    if awk '$3 > 1 { bad = 1 } END { exit !bad }' "$out/.vq"; then
        echo "run.sh: a timed vqscope run failed: $(cat "$out/.vq")" >&2; exit 2
    fi
    echo "$size$suffix $bytes $lines $events $(tr '\n' ' ' <"$out/.wc") | $(tr '\n' ' ' <"$out/.vq")" >>"$rows"
done

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain -- Sources Package.swift 2>/dev/null | head -n 1)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)

status=0
python3 - "$rows" "$results" "$commit${dirty:+ (+ uncommitted Sources changes)}" "$cpu" "$(nproc)" "$runs" "$pointers" "$("$vqscope" --version 2>/dev/null || echo '?')" <<'PY' || status=$?
import statistics, sys, datetime
rows_path, md_path, commit, cpu, cores, runs, pointers, version = sys.argv[1:]
MIB = 1 << 20
RATIO_TARGET, RSS_TARGET_MB = 0.10, 64

def parse(text):
    samples = [text.split()[i:i + 3] for i in range(0, len(text.split()), 3)]
    secs = statistics.median(int(s[0]) / 1e9 for s in samples)
    rss = max(int(s[1]) for s in samples)  # KiB
    return secs, rss

table = []
verdicts = []
for line in open(rows_path):
    head, vq = line.split("|")
    fields = head.split()
    size, nbytes, lines, events = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    wc_s, _ = parse(" ".join(fields[4:]))
    vq_s, vq_rss = parse(vq)
    mib = nbytes / MIB
    wc_tp, vq_tp = mib / wc_s, mib / vq_s
    ratio = vq_tp / wc_tp
    rss_mb = vq_rss * 1024 / 1e6
    ok_ratio, ok_rss = ratio >= RATIO_TARGET, rss_mb < RSS_TARGET_MB
    verdicts.append(ok_ratio and ok_rss)
    table.append([size, f"{mib:,.1f}", f"{lines:,}", f"{events:,}", f"{wc_s:.3f}", f"{wc_tp:,.0f}",
                  f"{vq_s:.2f}", f"{vq_tp:,.1f}", f"{events / vq_s / 1e6:.2f} M",
                  f"{ratio:.3f} {'✅' if ok_ratio else '❌'}", f"{rss_mb:.1f} {'✅' if ok_rss else '❌'}"])

header = ["size", "file MiB", "lines", "virtio events", "wc -l s", "wc -l MiB/s", "vqscope s",
          "vqscope MiB/s", "events/s", "throughput ratio (≥ 0.10)", "peak RSS MB (< 64)"]
out = []
out.append(f"# vqscope analyze vs wc -l\n")
out.append(f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; commit {commit}; vqscope {version}; "
           f"{cpu}, {cores} cores; median of {runs} warm runs; `vqscope analyze FILE --format json > /dev/null`; "
           f"traces from make-large-trace.py --pointers {pointers}.\n")
out.append("| " + " | ".join(header) + " |")
out.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
for row in table:
    out.append("| " + " | ".join(row) + " |")
out.append("")
out.append(f"Targets: analysis throughput ≥ 1/10 of wc -l's (ratio ≥ {RATIO_TARGET:.2f}) and vqscope peak RSS "
           f"< {RSS_TARGET_MB} MB, for every size. "
           + ("All targets met." if all(verdicts) else "NOT MET for: "
              + ", ".join(r[0] for r, ok in zip(table, verdicts) if not ok) + "."))
out.append("MiB = 2^20 bytes (throughput in MiB/s); peak RSS in MB = 10^6 bytes (from /usr/bin/time %M KiB); "
           "events/s = virtio events (JSON input.virtioEvents) / vqscope median seconds.")
text = "\n".join(out) + "\n"
open(md_path, "w").write(text)
print(text)
sys.exit(0 if all(verdicts) else 3)
PY
echo "run.sh: results written to $results" >&2
if [ "$status" -ne 0 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then exit 1; fi
exit 0
