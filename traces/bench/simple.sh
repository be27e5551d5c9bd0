#!/usr/bin/env bash
# Benchmark vqscope on QEMU's `simple` binary traces (issue 7), on demand, release build.
#
#   traces/bench/simple.sh [SIZE]        (default 400M of text: a binary of about 270 MB)
#
# Makes a large text trace with make-large-trace.py (cached in .build-bench/), converts it to
# the simple form with traces/simple/log2simple.py (the same events), and with the page cache
# warm times, in RUNS (default 5) interleaved rounds,
#   cat BINARY > /dev/null                       (the baseline: reading the bytes)
#   vqscope analyze BINARY --format json         (the simple form)
#   vqscope analyze TEXT --format json           (the log form of the same events)
# and, ST_RUNS times (default 1, it is slow), between the rounds,
#   simpletrace.py trace-events-all BINARY       (counting virtqueue_pop with count_pops.py;
#                                                 only when SIMPLETRACE=/path/to/simpletrace.py
#                                                 and TRACE_EVENTS=/path/to/trace-events-all are
#                                                 given: QEMU's script is not a Debian package and
#                                                 is not in this repository)
# and prints, for each, the fastest and the median run (a shared 2-core VM is noisy: the
# fastest run is the program's speed, the median what to expect), MB/s, events/s and peak RSS,
# and the ratios: vqscope to cat, the binary to the text analysis, and simpletrace.py to
# vqscope. Targets (issue 7): the binary analysed at least as fast as the text of the same
# events; at least 50x simpletrace.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/.build-bench"
size=${1:-400M}
runs=${RUNS:-5}
st_runs=${ST_RUNS:-1}
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
round() {
    time_once "$out/.cat" sh -c 'exec cat "$0" >/dev/null' "$binary"
    time_once "$out/.bin" sh -c 'exec "$0" analyze "$1" --format json --fail-on never >/dev/null' "$vqscope" "$binary"
    time_once "$out/.txt" sh -c 'exec "$0" analyze "$1" --format json --fail-on never >/dev/null' "$vqscope" "$text"
}
if [ -z "${SIMPLETRACE:-}" ] || [ -z "${TRACE_EVENTS:-}" ]; then
    echo "simple.sh: simpletrace.py not given (SIMPLETRACE and TRACE_EVENTS): its ratio is not measured" >&2
    st_runs=0
fi
# The simpletrace.py runs go between the rounds, so that both see the machine in the same state.
for i in $(seq "$runs"); do
    round
    if [ "$i" -le "$st_runs" ]; then
        # count_pops.py loads the given simpletrace.py and counts virtqueue_pop.
        time_once "$out/.st" python3 "$here/count_pops.py" "$SIMPLETRACE" "$TRACE_EVENTS" "$binary" >"$out/simpletrace-pops.txt"
    fi
done
python3 - "$out" "$binary" "$text" <<'PY'
import json, os, statistics, sys
out, binary, text = sys.argv[1:]
def runs(name):
    rows = [line.split() for line in open(os.path.join(out, name)) if line.strip()]
    times = [int(r[0]) / 1e9 for r in rows]
    return (min(times), statistics.median(times), max(int(r[1]) for r in rows) / 1024) if rows else (None, None, None)
events = json.load(open(os.path.join(out, "report-simple.json")))["input"]["virtioEvents"]
mb = os.path.getsize(binary) / 1e6
cat, cat_median, _ = runs(".cat")
fast, median, rss = runs(".bin")
text_fast, text_median, text_rss = runs(".txt")
st, st_median, _ = runs(".st")
print(f"binary {mb:.0f} MB ({events:,} virtio events); text {os.path.getsize(text) / 1e6:.0f} MB of the same events; fastest / median run")
print(f"cat:              {cat:.3f} / {cat_median:.3f} s ({mb / cat:,.0f} MB/s)")
print(f"vqscope (simple): {fast:.3f} / {median:.3f} s ({mb / fast:,.0f} MB/s, {events / fast / 1e6:.2f} M events/s), "
      f"peak RSS {rss:.0f} MiB; ratio to cat {cat / fast:.3f}")
print(f"vqscope (log):    {text_fast:.3f} / {text_median:.3f} s, peak RSS {text_rss:.0f} MiB; "
      f"the simple form is {text_fast / fast:.2f}x as fast")
if st:
    pops = open(os.path.join(out, "simpletrace-pops.txt")).read().strip()
    print(f"simpletrace.py:   {st:.1f} / {st_median:.1f} s counting {int(pops):,} virtqueue_pop; "
          f"vqscope is {st / fast:.0f}x faster (fastest runs), {st_median / median:.0f}x (medians)")
PY
