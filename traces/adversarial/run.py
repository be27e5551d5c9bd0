#!/usr/bin/env python3
"""run.py VQSCOPE: the large adversarial traces (generate.py), each piped into
`vqscope analyze - --format json` under a time limit, with vqscope's peak RSS measured
(getrusage of the child) and its report checked: the finding that names the problem, the
counts, and memory that does not grow with the input (the same bound for 10 million events
as for the smallest)."""
import json
import os
import resource
import tempfile
import subprocess
import sys
import time

HERE = __file__.rsplit("/", 1)[0]
LIMIT_SECONDS = 300
LIMIT_RSS_MB = 200

# name: (exit code, {rule: count} that must be in summary.byRule, events, extra check)
CASES = {
    "never-completed": (0, {"QUEUE-INFLIGHT-AT-END": 1}, 10_000_007,
                        lambda r: r["devices"][0]["queues"][0]["inFlightAtEnd"] == 1),
    "many-devices": (0, {"TRACE-MODEL-LIMITS": 1}, 600_000,
                     lambda r: len(r["devices"]) == 4096 and r["summary"]["ignoredEvents"] == 575_424),
    "colliding": (1, {"QUEUE-INFLIGHT-AT-END": 1}, 200_005, lambda r: len(r["devices"]) == 1),
    "simple-mappings": (0, {}, 5, lambda r: r["input"]["format"] == "simple" and r["input"]["lines"] == 10_000_006
                        and r["devices"][0]["statusHistory"] == [0, 1, 3, 11, 15]),
}


def run(vqscope, name):
    expected_exit, rules, events, check = CASES[name]
    start = time.monotonic()
    generator = subprocess.Popen([sys.executable, f"{HERE}/generate.py", name], stdout=subprocess.PIPE)
    # vqscope's own peak RSS, from GNU time (Debian's `time`) when installed; else the largest
    # of any child so far (getrusage keeps the maximum over all children).
    measured = os.path.join(tempfile.gettempdir(), f"vqscope-adversarial-{os.getpid()}.rss")
    prefix = ["/usr/bin/time", "-f", "%M", "-o", measured] if os.path.exists("/usr/bin/time") else []
    analysis = subprocess.run(prefix + [vqscope, "analyze", "-", "--format", "json"], stdin=generator.stdout,
                              capture_output=True, timeout=LIMIT_SECONDS)
    generator.wait()
    seconds = time.monotonic() - start
    if prefix:
        rss_mb = int(open(measured).read().split()[-1]) / 1024
        os.remove(measured)
    else:
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    problems = []
    if analysis.returncode != expected_exit:
        problems.append(f"exit {analysis.returncode}, expected {expected_exit}: {analysis.stderr.decode()[:200]}")
    report = json.loads(analysis.stdout or b"{}")
    by_rule = report.get("summary", {}).get("byRule", {})
    for rule, count in rules.items():
        if by_rule.get(rule) != count:
            problems.append(f"{rule}: {by_rule.get(rule)} findings, expected {count}")
    if report.get("input", {}).get("virtioEvents") != events:
        problems.append(f"{report.get('input', {}).get('virtioEvents')} events read, expected {events}")
    if report and not check(report):
        problems.append("report check failed")
    if rss_mb > LIMIT_RSS_MB:
        problems.append(f"peak RSS {rss_mb:.0f} MB over {LIMIT_RSS_MB} MB")
    status = "FAIL" if problems else "ok  "
    print(f"{status} {name}: {events:,} events in {seconds:.1f} s, peak RSS {rss_mb:.0f} MB, "
          f"{sorted(by_rule.items())[:4]}" + ("; " + "; ".join(problems) if problems else ""))
    return not problems


def main():
    vqscope = sys.argv[1]
    results = [run(vqscope, name) for name in CASES]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
