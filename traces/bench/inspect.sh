#!/usr/bin/env bash
# Benchmark `vqscope inspect` and `vqscope analyze --dump` on real guest memory dumps, against
# `cat DUMP > /dev/null` (reading the whole file) in the same run.
#
#   traces/bench/inspect.sh
#
# Builds vqscope in release mode (.build-release), captures a Linux virtio-mmio guest with
# traces/capture/capture-linux-dump.sh (cached in .build-bench/dump-mmio/), and builds from
# its 256 MiB ELF dump a sparse 4 GiB raw image holding the same guest RAM at the same
# guest-physical addresses. Then, page cache warm (one untimed run each), it times RUNS runs
# (default 3) of
#   cat FILE > /dev/null
#   vqscope inspect --dump FILE [--base 0] --qmp qmp.jsonl --format json > /dev/null
#   vqscope analyze trace.log --dump FILE [--base 0] --format json > /dev/null
# for both files and reports medians, the ratio to cat, and peak RSS (GNU time %M).
# Targets: inspect's peak RSS stays far below the dump's size (the dump is memory-mapped
# and only the pages of the rings and the owned chains are touched): under 64 MB for both.
# Results: stdout and .build-bench/inspect.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/.build-bench"
runs=${RUNS:-3}
mkdir -p "$out"
cd "$root"
source "$here/timing.sh"
ensure_gnu_time inspect.sh
echo "inspect.sh: building vqscope (release, --scratch-path .build-release)" >&2
swift build -c release --scratch-path .build-release --product vqscope >&2
vqscope="$root/.build-release/release/vqscope"

dumpdir="$out/dump-mmio"
if [ ! -s "$dumpdir/dump.elf" ]; then bash "$root/traces/capture/capture-linux-dump.sh" "$dumpdir" mmio >&2; fi
big="$out/dump-4g.raw"
if [ ! -s "$big" ] || [ "$dumpdir/dump.elf" -nt "$big" ]; then
    # The ELF's PT_LOAD segments at their guest-physical addresses in a sparse 4 GiB file.
    python3 - "$dumpdir/dump.elf" "$big" <<'PY'
import struct, sys
src, dst = sys.argv[1:]
with open(src, "rb") as elf, open(dst, "wb") as raw:
    raw.truncate(4 << 30)
    header = elf.read(64)
    phoff, = struct.unpack_from("<Q", header, 32)
    phentsize, phnum = struct.unpack_from("<HH", header, 54)
    for index in range(phnum):
        elf.seek(phoff + index * phentsize)
        kind, _, offset, _, paddr, filesz = struct.unpack("<IIQQQQ", elf.read(40))
        if kind != 1 or paddr + filesz > 4 << 30:
            continue
        elf.seek(offset)
        raw.seek(paddr)
        left = filesz
        while left:
            chunk = elf.read(min(left, 16 << 20))
            raw.write(chunk)
            left -= len(chunk)
PY
fi

rows="$out/.inspect-rows"
: >"$rows"
for file in "$dumpdir/dump.elf" "$big"; do
    base=()
    case "$file" in *.raw) base=(--base 0) ;; esac
    qmp="$dumpdir/qmp.jsonl"
    trace="$dumpdir/trace.log"
    measure() {  # NAME CMD...: warm-up, then RUNS timed runs with stdout to /dev/null
        local name=$1; shift
        sh -c '"$@" >/dev/null 2>&1' sh "$@" || true
        : >"$out/.samples"
        for _ in $(seq "$runs"); do time_once "$out/.samples" sh -c '"$@" >/dev/null' sh "$@"; done
        echo "$(basename "$file")|$(stat -c %s "$file")|$name|$(tr '\n' ' ' <"$out/.samples")" >>"$rows"
    }
    measure "cat" cat "$file"
    measure "inspect --qmp" "$vqscope" inspect --dump "$file" "${base[@]}" --qmp "$qmp" --format json
    measure "analyze --dump" "$vqscope" analyze "$trace" --dump "$file" "${base[@]}" --format json
done

python3 - "$rows" "$out/inspect.md" "$runs" "$(git -C "$root" rev-parse --short HEAD)" <<'PY'
import statistics, sys
rows, md, runs, commit = sys.argv[1:]
table, baseline, ok = [], {}, True
for line in open(rows):
    name, size, what, samples = line.rstrip("\n").split("|")
    values = samples.split()
    triples = [values[i:i + 3] for i in range(0, len(values), 3)]
    if any(int(t[2]) > 1 for t in triples):
        sys.exit(f"inspect.sh: {what} on {name} failed: {triples}")
    secs = statistics.median(int(t[0]) / 1e9 for t in triples)
    rss = max(int(t[1]) for t in triples) * 1024 / 1e6
    if what == "cat":
        baseline[name] = secs
    ratio = secs / baseline[name]
    if what != "cat" and rss >= 64:
        ok = False
    table.append(f"| {name} | {int(size) / (1 << 20):,.0f} | {what} | {secs:.3f} | {ratio:.2f} | {rss:.1f} |")
text = [f"# vqscope inspect on real dumps (commit {commit}, median of {runs} warm runs)", "",
        "| file | MiB | command | seconds | time / cat's | peak RSS MB |", "|---|---:|---|---:|---:|---:|"] + table
open(md, "w").write("\n".join(text) + "\n")
print("\n".join(text))
print("target (peak RSS < 64 MB for inspect and analyze --dump):", "met" if ok else "MISSED")
PY
