#!/usr/bin/env bash
# Benchmark vqscope on QEMU's `simple` binary traces (issue 7), on demand, release build.
#
#   traces/bench/simple.sh [SIZE]        (default 400M of text: a binary of about 260 MB)
#
# Makes a large text trace with make-large-trace.py (cached in .build-bench/), converts it to
# the simple form with traces/simple/log2simple.py (the same events), and with the page cache
# warm times RUNS (default 3) runs of each of
#   cat BINARY > /dev/null                       (the baseline: reading the bytes)
#   vqscope analyze BINARY --format json         (the simple form)
#   vqscope analyze TEXT --format json           (the log form of the same events)
#   simpletrace.py trace-events-all BINARY       (once, counting virtqueue_pop with count_pops.py;
#                                                 only when SIMPLETRACE=/path/to/simpletrace.py
#                                                 and TRACE_EVENTS=/path/to/trace-events-all are
#                                                 given: QEMU's script is not a Debian package and
#                                                 is not in this repository)
# and prints MB/s, events/s and peak RSS, and the ratios: vqscope to cat, the binary to the
# text analysis, and simpletrace.py to vqscope. Targets (issue 7): the binary analysed at least
# as fast as the text of the same events; at least 50x simpletrace.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/.build-bench"
size=${1:-400M}
runs=${RUNS:-3}
mkdir -p "$out"
cd "$root"
source "$here/timing.sh"
ensure_gnu_time simple.sh

if [ -n "${VQSCOPE:-}" ]; then vqscope=$VQSCOPE; else
    swift build -c release --scratch-path .build-release --product vqscope >&2
    vqscope="$root/.build-release/release/vqscope"
fi
text="$out/trace-$size.log"
binary="$out/trace-$size.simple"
[ -s "$text" ] || python3 "$here/make-large-trace.py" "$text" --size "$size"
[ -s "$binary" ] && [ "$binary" -nt "$text" ] || python3 "$root/traces/simple/log2simple.py" "$text" "$binary"

cat "$binary" >/dev/null
"$vqscope" analyze "$binary" --format json --fail-on never >"$out/report-simple.json"
"$vqscope" analyze "$text" --format json --fail-on never >/dev/null
: >"$out/.cat"; : >"$out/.bin"; : >"$out/.txt"; : >"$out/.st"
for _ in $(seq "$runs"); do time_once "$out/.cat" sh -c 'exec cat "$0" >/dev/null' "$binary"; done
for _ in $(seq "$runs"); do time_once "$out/.bin" sh -c 'exec "$0" analyze "$1" --format json --fail-on never >/dev/null' "$vqscope" "$binary"; done
for _ in $(seq "$runs"); do time_once "$out/.txt" sh -c 'exec "$0" analyze "$1" --format json --fail-on never >/dev/null' "$vqscope" "$text"; done
if [ -n "${SIMPLETRACE:-}" ] && [ -n "${TRACE_EVENTS:-}" ]; then
    # Once: it is slow. count_pops.py loads the given simpletrace.py and counts virtqueue_pop.
    time_once "$out/.st" python3 "$here/count_pops.py" "$SIMPLETRACE" "$TRACE_EVENTS" "$binary" >"$out/simpletrace-pops.txt"
else
    echo "simple.sh: simpletrace.py not given (SIMPLETRACE and TRACE_EVENTS): its ratio is not measured" >&2
fi
python3 - "$out" "$binary" "$text" <<'PY'
import json, os, statistics, sys
out, binary, text = sys.argv[1:]
def median(name):
    rows = [line.split() for line in open(os.path.join(out, name)) if line.strip()]
    return (statistics.median(int(r[0]) / 1e9 for r in rows), max(int(r[1]) for r in rows) / 1024) if rows else (None, None)
events = json.load(open(os.path.join(out, "report-simple.json")))["input"]["virtioEvents"]
mb = os.path.getsize(binary) / 1e6
cat, _ = median(".cat"); binary_s, binary_rss = median(".bin"); text_s, text_rss = median(".txt"); st, _ = median(".st")
print(f"binary {mb:.0f} MB ({events:,} virtio events); text {os.path.getsize(text) / 1e6:.0f} MB of the same events")
print(f"cat:              {cat:.3f} s ({mb / cat:,.0f} MB/s)")
print(f"vqscope (simple): {binary_s:.3f} s ({mb / binary_s:,.0f} MB/s, {events / binary_s / 1e6:.2f} M events/s), peak RSS {binary_rss:.0f} MiB; ratio to cat {cat / binary_s:.3f}")
print(f"vqscope (log):    {text_s:.3f} s, peak RSS {text_rss:.0f} MiB; simple/log speed {text_s / binary_s:.2f}x")
if st:
    pops = open(os.path.join(out, "simpletrace-pops.txt")).read().strip()
    print(f"simpletrace.py:   {st:.1f} s counting {int(pops):,} virtqueue_pop; vqscope is {st / binary_s:.0f}x faster")
PY
