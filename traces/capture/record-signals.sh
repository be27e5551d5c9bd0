#!/usr/bin/env bash
# record-signals.sh VQSCOPE: how `vqscope record` ends on a signal. SIGHUP (as SIGINT and
# SIGTERM) is passed on to QEMU, which shuts down saying so on its standard error (shown, and
# kept in trace.log after QEMU's last trace line; the trace lines themselves are not shown, and
# accesses to memory regions other than virtio's are counted in run.json, not kept), and
# run.json is written. Killed outright
# (SIGKILL, which it cannot pass on), it takes QEMU with it, once while QEMU runs and once
# while it is stopped as the stall guard stops it (SIGSTOP); the guest's RAM file is out of
# its directory by then. All three record into one directory: each replaces the one before
# whole (no run.json, and one QMP greeting in qmp.jsonl, after a killed one). Last, SIGHUP
# with record's standard error a pipe no one reads: QEMU's message cannot be shown, and the
# recording still ends as usual. The guest: q35 with no disk (SeaBIOS finds nothing to boot
# and waits), one at a time, under `timeout`.
VQSCOPE=$(realpath "${1:?usage: record-signals.sh VQSCOPE}")
source "$(dirname "$0")/common.sh"

# From /proc, not procps (not in every Debian installation).
alive() {  # alive PID: a process that has not exited (a zombie has)
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ]
}
child() {  # child PID [NAME]: its first child process (running NAME, where given)
  local pid
  for pid in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    if [ -z "${2:-}" ] || tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "$2"; then echo "$pid"; return; fi
  done
}

attempt() {  # attempt hangup|running|stopped
  local run=$WORK/run recorder qemu waited=0
  # Marks the last run's transcript, which this run must replace.
  [ ! -e "$run/qmp.jsonl" ] || echo '{"before": true}' >> "$run/qmp.jsonl"
  # In a subshell that outlives the kill, its report of the kill ("Killed") silenced.
  (timeout 60 "$VQSCOPE" record -o "$run" -- \
    qemu-system-x86_64 -M q35 -accel tcg -m 64M -nodefaults -display none </dev/null >"$WORK/$1.out" 2>&1 || true) 2>/dev/null &
  local shell=$!
  # QMP's first answers, in this run's transcript: the recorder has mapped the RAM file (and
  # taken it out of the directory).
  until grep -qs '"x-query-virtio"' "$run/qmp.jsonl" && ! grep -qs '"before"' "$run/qmp.jsonl"; do
    waited=$((waited + 1))
    [ "$waited" -le 300 ] || { echo "record-signals ($1): no QMP transcript of this run in 30 s" >&2; cat "$WORK/$1.out" >&2; exit 1; }
    sleep 0.1
  done
  recorder=$(child "$(child "$shell")")
  qemu=$(child "$recorder")
  # The RAM file: in /dev/shm named after the recorder, or in the run directory.
  if [ -e "$run/guest-ram" ] || [ -e "/dev/shm/vqscope-ram-$recorder" ]; then
    echo "record-signals ($1): the RAM file is still in its directory after QMP answered" >&2
    kill -9 "$qemu" "$recorder"; exit 1
  fi
  if [ "$1" = hangup ]; then
    kill -HUP "$recorder"
    wait "$shell"
    if alive "$qemu" || ! grep -q '"exitStatus"' "$run/run.json"; then
      echo "record-signals (hangup): QEMU still runs, or no run.json" >&2; cat "$WORK/$1.out" >&2
      kill -9 "$qemu" 2>/dev/null; exit 1
    fi
    # QEMU says why it stopped on its standard error: shown, and kept in the trace after its
    # last event; the trace's events (SeaBIOS's port writes among them) are kept, not shown.
    if ! tail -n 1 "$run/trace.log" | grep -q "terminating on signal 1 " || ! grep -q "terminating on signal 1 " "$WORK/$1.out"; then
      echo "record-signals (hangup): QEMU's message not both shown and kept at the end of trace.log" >&2; exit 1
    fi
    if ! grep -q ":pci_cfg_write " "$run/trace.log" || grep -q ":pci_cfg_write " "$WORK/$1.out"; then
      echo "record-signals (hangup): the trace's events not kept in trace.log, or shown" >&2; exit 1
    fi
    # SeaBIOS's accesses to other regions than virtio's (there are none of virtio's): counted, not kept.
    dropped=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["traceLinesDropped"])' "$run/run.json")
    if [ "$dropped" -le 0 ] || grep -q ":memory_region_ops_" "$run/trace.log"; then
      echo "record-signals (hangup): other regions' accesses kept in trace.log, or none counted ($dropped)" >&2; exit 1
    fi
    echo "record-signals (hangup): passed on, QEMU shut down, its message shown and kept at the trace's end, its events only kept ($dropped accesses to other regions counted, not kept), run.json written"
    return
  fi
  [ "$1" = running ] || kill -STOP "$qemu"
  kill -9 "$recorder"
  waited=0
  while alive "$qemu" && [ "$waited" -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
  if alive "$qemu"; then
    echo "record-signals ($1): QEMU ($qemu) outlived the recorder by 10 s" >&2
    kill -9 "$qemu"; exit 1
  fi
  wait "$shell"
  if [ -e "$run/run.json" ] || [ "$(grep -c '"QMP"' "$run/qmp.jsonl")" != 1 ]; then
    echo "record-signals ($1): the recording before this one left its run.json or QMP transcript" >&2; exit 1
  fi
  echo "record-signals ($1): QEMU gone $((waited * 100)) ms or less after the recorder, no RAM file left, nothing of the run before"
}
# record's standard error a pipe whose reader has gone: QEMU's message on SIGHUP cannot be
# shown there, and that must not end the recording (SIGPIPE) before run.json is written.
closed_reader() {
  local run=$WORK/closed waited=0 recorder status
  timeout 60 "$VQSCOPE" record -o "$run" -- \
    qemu-system-x86_64 -M q35 -accel tcg -m 64M -nodefaults -display none </dev/null >/dev/null 2> >(exec true) &
  local shell=$!
  until grep -qs '"x-query-virtio"' "$run/qmp.jsonl"; do
    waited=$((waited + 1))
    [ "$waited" -le 300 ] || { echo "record-signals (closed): no QMP transcript in 30 s" >&2; exit 1; }
    sleep 0.1
  done
  # timeout's children: the recorder, and the reader that has gone (bash starts it there).
  recorder=$(child "$shell" "vqscope")
  kill -HUP "$recorder"
  status=0
  wait "$shell" || status=$?
  if [ "$status" != 0 ] || ! grep -q '"exitStatus": 0' "$run/run.json" || ! tail -n 1 "$run/trace.log" | grep -q "terminating on signal 1 "; then
    echo "record-signals (closed): record exited with $status, or without run.json or QEMU's message in trace.log" >&2; exit 1
  fi
  echo "record-signals (closed): with no one reading its standard error, record kept QEMU's message in trace.log, wrote run.json and exited with QEMU's status"
}
attempt hangup
attempt running
attempt stopped
closed_reader
