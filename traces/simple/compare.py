#!/usr/bin/env python3
"""compare.py VQSCOPE [TRACE.log.xz ...]: converts each real trace (default: all of
traces/real/*.log.xz) to QEMU's `simple` binary form (log2simple.py) and checks that
`vqscope analyze` reports the same for both: the devices and their status writes, each
queue's counts, the latency percentiles (up to the simple format's nanoseconds, which here
carry the log's microseconds), and the findings by rule, severity, device and queue —
leaving out what only the text can hold (QEMU's own messages, which are not trace events)
line numbers (a simple trace has record numbers), and the latencies of a log without
timestamps."""
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


# Debian's QEMU ships its build's declarations: with them (`--trace-events`) the simple form
# must read the same too.
TRACE_EVENTS = "/usr/share/qemu/trace-events-all"


def analyze(vqscope, path, *extra):
    result = subprocess.run([vqscope, "analyze", path, "--format", "json", "--fail-on", "never", *extra],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"vqscope analyze {path}: exit {result.returncode}: {result.stderr[:300]}")
    return json.loads(result.stdout)


def view(report, latencies=True):
    devices = [(d["label"], d["type"], tuple(d["statusHistory"]),
                tuple((q["index"], q["kicks"], q["pops"], q["fills"], q["flushes"], q["interrupts"], q["bytesUsed"],
                       tuple(sorted((stage, s["p50Ns"], s["p90Ns"], s["p99Ns"], s["maxNs"])
                                    for stage, s in q["latency"].items())) if latencies else ())
                      for q in d["queues"]))
               for d in report["devices"]]
    findings = collections.Counter(
        (f["rule"], f["severity"], f["location"].get("device"), f["location"].get("queue"))
        for f in report["findings"] if not f["message"].startswith("QEMU reported:"))
    return devices, findings


def main():
    vqscope = sys.argv[1]
    traces = sys.argv[2:] or sorted(glob.glob(os.path.join(HERE, "..", "real", "*.log.xz")))
    failed = 0
    with tempfile.TemporaryDirectory() as work:
        for trace in traces:
            binary = os.path.join(work, os.path.basename(trace).replace(".log.xz", ".simple"))
            subprocess.run([sys.executable, os.path.join(HERE, "log2simple.py"), trace, binary], check=True,
                           capture_output=True)
            text, simple = analyze(vqscope, trace), analyze(vqscope, binary)
            # A log without timestamps becomes a simple trace whose times are all 0: its
            # latencies are not compared.
            timed = text["input"]["timestampedEvents"] > 0
            (text_devices, text_findings), (simple_devices, simple_findings) = view(text, timed), view(simple, timed)
            problems = []
            if text_devices != simple_devices:
                problems.append("devices, queues or latencies differ")
            if text_findings != simple_findings:
                problems.append(f"findings differ: {dict(text_findings - simple_findings)} only in the text form, "
                                f"{dict(simple_findings - text_findings)} only in the simple form")
            if simple["input"]["format"] != "simple":
                problems.append("the binary was not read as a simple trace")
            if os.path.exists(TRACE_EVENTS):
                declared = analyze(vqscope, binary, "--trace-events", TRACE_EVENTS)
                if view(declared, timed) != view(simple, timed):
                    problems.append(f"with --trace-events {TRACE_EVENTS} the report differs")
            name = os.path.basename(trace)
            if problems:
                failed += 1
                print(f"FAIL {name}: " + "; ".join(problems))
            else:
                print(f"ok   {name}: {len(text_devices)} devices, {sum(text_findings.values())} findings, "
                      f"{simple['input']['virtioEvents']} events, the same in both forms")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
