#!/usr/bin/env bash
# Benchmark `vqscope record` (issue 6), on demand, release build.
#
#   traces/bench/record.sh [RUNS]        (default 3)
#
# Runs traces/capture/record-linux.sh RUNS times with split rings and RUNS times with
# packed=on (PACKED=1). Each run boots the Linux guest twice, one guest at a time: plainly
# (the baseline, measured in the same run) and under `vqscope record`. Prints, per ring kind,
# the medians of the guest's own uptime at power-off (plain, recorded, and the overhead),
# the wall time of both, the recorder's own peak RSS (VmHWM, from run.json: polling it from
# outside ran a process every 200 ms that could take the sampler's processor), and the share of ring
# transitions it missed (missed / (chains made available + used elements + missed)), with
# the frames check_record.py found against QEMU's filter-dump, and the chains it read only
# once the device had used them (`late`: recorded, not judged; not counted as missed), and
# per run the sampler's longest gap with the time it waited while other tasks had its
# processor and the time the hypervisor took, and its gaps by length (run.json `samplerGaps`), and how often the
# stall guard paused QEMU meanwhile, for how long, and the longest stall before a pause
# (run.json `pauses`). RECORD_OPTIONS (e.g. "--pause-after 300") goes to `vqscope record`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/.build-bench/record"
runs=${1:-3}
rm -rf "$out"
mkdir -p "$out"
cd "$root"

if [ -n "${VQSCOPE:-}" ]; then vqscope=$VQSCOPE; else
    swift build -c release --scratch-path .build-release --product vqscope >&2
    vqscope="$root/.build-release/release/vqscope"
fi

for kind in split packed; do
    for run in $(seq "$runs"); do
        dir="$out/$kind-$run"
        PACKED=$([ "$kind" = packed ] && echo 1 || true) bash traces/capture/record-linux.sh "$vqscope" "$dir" >"$dir.log" 2>&1
        # shellcheck disable=SC2046  # no word, or the one option
        python3 traces/capture/check_record.py "$vqscope" "$dir" $(case "${RECORD_OPTIONS:-}" in *--no-lockstep*) echo --no-lockstep;; esac) \
            --expect RESET-WAIT-ZERO=2 >"$dir.check" 2>&1 || true
    done
done

python3 - "$out" "$runs" <<'PY'
import json, os, re, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
for kind in ("split", "packed"):
    plain, recorded, wall_plain, wall_recorded, shares, frames, totals, lost, rss, paused = [], [], [], [], [], [], [], [], [], []
    for run in range(1, runs + 1):
        base = os.path.join(out, f"{kind}-{run}")
        timing = json.load(open(os.path.join(base, "timing.json")))
        plain.append(timing["plain"]["guestUptimeSeconds"]); recorded.append(timing["netdev"]["guestUptimeSeconds"])
        wall_plain.append(timing["plain"]["wallSeconds"]); wall_recorded.append(timing["netdev"]["wallSeconds"])
        summary = re.search(r"(\d+) chains made available and (\d+) used elements recorded, (\d+) missed, (\d+) read late",
                            open(base + ".log").read())
        avail, used, missed, late = map(int, summary.groups())
        shares.append(missed / (avail + used + missed)); totals.append((avail, used, missed, late))
        manifest = json.load(open(os.path.join(base, "run", "run.json")))
        rss.append(manifest.get("peakResidentKiB"))
        gaps = manifest.get("samplerGaps") or {}
        lost.append("/".join("?" if gaps.get(key) is None else f"{gaps[key] / 1000:.0f}"
                             for key in ("longestMicroseconds", "waitingMicroseconds", "stealMicroseconds"))
                    + " (" + "/".join(str(length["count"]) for length in gaps.get("lengths") or []) + ")")
        pauses = manifest.get("pauses")
        paused.append("-" if pauses is None else f"{pauses['count']}/{pauses['totalMicroseconds'] / 1000:.0f}/"
                      f"{pauses['longestMicroseconds'] / 1000:.0f}/{pauses['longestStallMicroseconds'] / 1000:.1f}")
        found = re.search(r"(\d+) frames of filter-dump's (\d+)", open(base + ".check").read())
        frames.append(f"{found.group(1)}/{found.group(2)}" if found else "?")
    up_plain, up_recorded = statistics.median(plain), statistics.median(recorded)
    print(f"{kind}: {runs} runs; guest uptime median {up_plain:.2f} s plain, {up_recorded:.2f} s recorded "
          f"({(up_recorded / up_plain - 1) * 100:+.1f} %; each run {', '.join(f'{(r / p - 1) * 100:+.1f} %' for p, r in zip(plain, recorded))}); "
          f"wall median {statistics.median(wall_plain):.1f} s and {statistics.median(wall_recorded):.1f} s; "
          f"recorder peak RSS {max(r for r in rss if r is not None) / 1024:.0f} MiB" if any(r is not None for r in rss)
          else "recorder peak RSS not reported")
    print(f"{kind}: missed {statistics.median(shares) * 100:.2f} % of transitions (median; "
          + ", ".join(f"{m} of {a + u + m}" for a, u, m, _ in totals) + "); chains read only once completed "
          + ", ".join(str(late) for *_, late in totals) + f"; frames found {', '.join(frames)}")
    print(f"{kind}: sampler's longest gap / time waiting while other tasks had its processor / steal, ms "
          f"(gaps of 100-200 / 200-500 / 500-1000 / 1000+ µs): {', '.join(lost)}")
    print(f"{kind}: QEMU paused while the sampler stalled, pauses / total ms / longest ms / longest stall before one ms: "
          f"{', '.join(paused)}")
PY
