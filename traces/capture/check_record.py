#!/usr/bin/env python3
"""check_record.py VQSCOPE OUTDIR [--above-4g] [--no-lockstep] [--expect RULE=N ...]: holds a `vqscope record` run of
record-linux.sh, record-uboot.sh or record-ipxe.sh to what
QEMU itself saw. Every recorded device must be joined with one of the trace's, and the
recording's used elements per queue, with those it counted as missed, must equal the trace's
virtqueue_fill count for that device and queue (a completion lost without being counted fails), and
analyze's own account of them (RECORD-TRACE-MISMATCH) must be this one; `vqscope pcap RUN` must give the frames
QEMU's filter-dump saw on the netdev, byte for byte, both directions, the guest's DHCP, ARP and
ICMP among them where filter-dump has them (all of them but as many as the recorder reported
missing on net queues);
`vqscope analyze RUN` (the trace and the replayed rings) raises no error but the ones
--expect names, as many times as it says; with two processors or more, the sampler ran on one
of its own and QEMU on the others; run.json names QEMU's version as the program says it, the
machine, RAM size and RAM regions the command line gives, and the command line recorded as the
user's plus the recorder's; every watched queue's rings lie in those regions (with --above-4g,
some at 4 GiB and above); QEMU's trace came in lockstep with the sampler (not, with --no-lockstep,
for a run recorded with it). Prints the recorder's overhead from timing.json
(the guest's uptime at power-off and the wall time, with and without recording) when the
run had a plain twin."""
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_dump import describe_frame, read_pcap, verdict  # noqa: E402


def main():
    vqscope, outdir = sys.argv[1:3]
    expected = collections.Counter()
    arguments = sys.argv[3:]
    above_4g, lockstep = "--above-4g" in arguments, "--no-lockstep" not in arguments
    arguments = [argument for argument in arguments if argument not in ("--above-4g", "--no-lockstep")]
    while arguments[:1] == ["--expect"] and len(arguments) >= 2:
        rule, _, times = arguments[1].partition("=")
        expected[rule] += int(times or 1)
        arguments = arguments[2:]
    if arguments:
        sys.exit(f"check_record.py: not understood: {' '.join(arguments)}")
    run = os.path.join(outdir, "run")
    passed = failed = 0

    def count(ok):
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)

    # 1. Used elements against the trace's fills.
    used = collections.Counter()
    before_attach = collections.Counter()
    # Completions the recorder counted as missed (a used ring lapped, a packed slot made
    # available again before its used descriptor was read): not seen, but not lost silently.
    missed_used = collections.Counter()
    avail = collections.Counter()
    types = {}
    roles = {}
    missed = 0
    # Chains read only once the device had used them: recorded, not judged (docs/record.md).
    late = 0
    # Frames the recorder says it could not read: transmit chains recorded without their bytes
    # (stale, or packed lists used while walked) and entries of the data queues it missed.
    net_missed = 0
    refilled = 0
    for line in open(os.path.join(run, "rings.jsonl")):
        record = json.loads(line)
        kind, device = record["kind"], record.get("device")
        data_queue = types.get(device) == "net" and roles.get((device, record.get("queue"))) in ("tx", "rx")
        if kind == "queue":
            types[device] = record["type"]
            roles[(device, record["queue"])] = record["role"]
        elif kind == "used":
            used[(device, record["queue"])] += 1
            # A received frame the recorder could not read (its buffer's offer stale, missed or
            # read late, so its bytes are not taken) is one it reports missing; so is one copied
            # while its buffer was offered again, which pcap exports only if the trace shows the
            # copy whole.
            if data_queue and roles[(device, record["queue"])] == "rx" and ("data" not in record or record.get("refilled")):
                net_missed += 1
                refilled += bool(record.get("refilled"))
        elif kind == "avail":
            avail[(device, record["queue"])] += 1
            missed += bool(record.get("stale"))
            late += bool(record.get("late"))
            if data_queue and roles[(device, record["queue"])] == "tx" and "data" not in record:
                net_missed += 1
        elif kind == "missed" and record.get("beforeAttach"):
            # A packed ring found with completions made already (QMP's used-idx): counted, not seen.
            before_attach[(device, record["queue"])] += record["used"]
            missed += record["used"]
            net_missed += record["used"] if data_queue else 0
        elif kind == "missed":
            missed_used[(device, record["queue"])] += record.get("used", 0)
            missed += record.get("avail", 0) + record.get("used", 0)
            # On a receive queue an offer missed still has its used line (counted there).
            if data_queue:
                receive = roles[(device, record["queue"])] == "rx"
                net_missed += record.get("used", 0) + (0 if receive else record.get("avail", 0))
    # `vqscope analyze RUN`: the trace and the recorded rings replayed (chain structure when
    # offered, used ids owned, used lengths within the chains).
    analysis = subprocess.run([vqscope, "analyze", run, "--format", "json"], capture_output=True, text=True)
    report = json.loads(analysis.stdout)
    replayed = report.get("recording") or {}
    # Each recorded device is held to the traced device analyze joined it with (by the ring
    # addresses its driver programmed, else as the only one of its type): two disks each to its own.
    joined = {q["device"]: q["tracedDevice"] for q in replayed.get("queues", [])}
    problems = [f"{device}: not joined with a device of the trace" for device in sorted({d for d, _ in used} - {
        d for d, label in joined.items() if label})]

    def by_traced(counter):
        return collections.Counter({(joined.get(device) or device, queue): n for (device, queue), n in counter.items()})
    used, before_attach, missed_used = by_traced(used), by_traced(before_attach), by_traced(missed_used)
    fills = collections.Counter({(d["label"], q["index"]): q["fills"] for d in report["devices"] for q in d["queues"]
                                 if q["fills"]})
    problems += [f"{key}: {used[key]} used elements recorded (+{before_attach[key]} before the queue was found, "
                 f"+{missed_used[key]} counted as missed), the trace fills {fills[key]}"
                 for key in sorted(set(used) | set(fills), key=str)
                 if used[key] + before_attach[key] + missed_used[key] != fills[key]]
    errors = collections.Counter(f["rule"] for f in report["findings"] if f["severity"] == "error")
    if errors != expected:
        problems += [f"{f['rule']}: {f['message']}" for f in report["findings"] if f["severity"] == "error"]
        problems.append(f"errors {dict(errors)}, expected {dict(expected)}")
    if sum(q["usedEntries"] for q in replayed.get("queues", [])) != sum(used.values()):
        problems.append("analyze RUN did not replay every used element")
    # analyze's own account (RECORD-TRACE-MISMATCH): no queue differs, and where it compared
    # every queue (it leaves out those with completions found before their watch), it counted
    # what this script did.
    against = replayed.get("againstTrace") or {}
    if against.get("mismatched") != 0 or against.get("fills") != against.get("usedEntries", 0) + against.get("missedCompletions", 0) \
            or against.get("notCompared") == 0 and (against.get("usedEntries"), against.get("missedCompletions")) != (
                sum(used.values()), sum(missed_used.values())):
        problems.append(f"analyze RUN's account against the trace {against}, here {sum(used.values())} used "
                        f"+ {sum(missed_used.values())} counted as missed")
    # SPLIT-DRV-MUST-NOTIFY: every device is joined with the trace's, so every wait is judged.
    waits = sum(q["awaitedNotifications"] for q in replayed.get("queues", []))
    unjudged = sum(q["unjudgedWaits"] for q in replayed.get("queues", []))
    if unjudged:
        problems.append(f"{unjudged} of {waits} waits for a notification not joined with the trace")
    count(verdict("record vs trace", problems,
                  f"{sum(used.values())} used elements in {len(used)} queues of {len(set(joined.values()))} devices "
                  f"joined with the trace's (+{sum(missed_used.values())} counted "
                  f"as missed), each queue's count the trace's fills; "
                  f"{sum(avail.values())} chains made available; {waits} waits of a second and more for a notification "
                  f"judged against the trace; {missed} entries missed (overwritten before the "
                  f"recorder attached or read them), {late} chains read only once completed; errors from the trace and the replayed rings: "
                  f"{dict(errors) or 'none'}, as expected"))

    # 2. Frames against filter-dump.
    frames = os.path.join(outdir, "frames.pcap")
    result = subprocess.run([vqscope, "pcap", run, "-o", frames, "--vnet-hdr", os.path.join(outdir, "frames.jsonl")],
                            capture_output=True, text=True)
    problems = [f"pcap exit {result.returncode}: {result.stderr.strip()[:200]}"] if result.returncode else []
    exported = collections.Counter(frame for _, frame in read_pcap(frames)) if not problems else collections.Counter()
    seen = collections.Counter(frame for _, frame in read_pcap(os.path.join(outdir, "netdev.pcap")))
    # Every recorded frame is one filter-dump saw; the frames filter-dump has beyond them are
    # no more than the net entries the recorder reported missing (none, when it kept up).
    only_ours, only_theirs = exported - seen, seen - exported
    if only_ours or sum(only_theirs.values()) > net_missed:
        problems.append(f"{sum(exported.values())} frames recorded, filter-dump has {sum(seen.values())}; "
                        f"{sum(only_ours.values())} only in vqscope's, {sum(only_theirs.values())} only in filter-dump's, "
                        f"{net_missed} net entries reported missed")
    kinds = collections.Counter(describe_frame(frame) for frame in exported.elements())
    # The guest's own kinds: those filter-dump saw (iPXE sends no ICMP).
    wanted = {"DHCP request", "DHCP reply", "ARP request", "ARP reply", "ICMP echo request", "ICMP echo reply"} \
        & {describe_frame(frame) for frame in seen}
    # A kind may be absent only as one of the frames the recorder said it missed (packed rings
    # lose lists made available and used between two polls: docs/record.md).
    absent = sorted(wanted - set(kinds))
    if len(absent) > net_missed:
        problems.append(f"missing {absent}")
    elif absent:
        print(f"info record pcap: {absent} among the {net_missed} net entries the recorder reported missed")
    count(verdict("record pcap", problems, f"{sum(exported.values())} frames of filter-dump's {sum(seen.values())}, "
                  f"byte for byte ({net_missed} net entries reported missed, {refilled} of them received frames copied "
                  f"while their buffer was offered again): "
                  + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))))

    # 3. The sampler's processor: its own, QEMU on the others, when the host gives two or more.
    manifest = json.load(open(os.path.join(run, "run.json")))
    sampler, qemu = manifest["processors"]["sampler"], manifest["processors"]["qemu"]
    allowed = os.sched_getaffinity(0)
    problems = []
    if len(allowed) >= 2 and (sampler not in allowed or not qemu or sampler in qemu or not set(qemu) <= allowed):
        problems.append(f"sampler on {sampler}, QEMU on {qemu}, of the processors {sorted(allowed)}")
    # With a processor of its own, the stall guard watched the sampler from QEMU's.
    pauses = manifest.get("pauses")
    if sampler is not None and pauses is None and manifest.get("pauseAfterMicroseconds") != 0:
        problems.append("the sampler had a processor of its own, but run.json has no pauses: no stall guard ran")
    count(verdict("record processors", problems, f"sampler on processor {sampler}, QEMU on {qemu}"
                  + (", the stall guard on QEMU's" + (" (SCHED_FIFO)" if pauses.get("realTime") else "")
                     if pauses is not None else "")))

    # 4. The clocks: the trace's lines read after their own timestamps, on the recorder's clock;
    # and read in lockstep (record's default): QEMU's next line waited for the sampler's read.
    clock = manifest.get("traceClock") or {}
    problems = []
    if manifest.get("traceLockstep") is not lockstep:
        problems.append(f"the trace was {'not ' if lockstep else ''}read in lockstep (traceLockstep "
                        f"{manifest.get('traceLockstep')}, a pipe of {manifest.get('tracePipeBytes')} bytes)")
    if not clock.get("lines"):
        problems.append("run.json has no timestamped trace lines read (traceClock)")
    elif clock["lagMinimumMicroseconds"] < 0:
        problems.append(f"a trace line was read {-clock['lagMinimumMicroseconds']} µs before its own timestamp: "
                        "the trace's clock is not the recorder's")
    count(verdict("record clock", problems, f"{clock.get('lines')} trace lines read {clock.get('lagMinimumMicroseconds')}–"
                  f"{clock.get('lagMaximumMicroseconds')} µs after their timestamps, on the recorder's clock, "
                  + (f"in lockstep through a {manifest.get('tracePipeBytes')}-byte packet pipe" if lockstep
                     else f"through a {manifest.get('tracePipeBytes')}-byte pipe (--no-lockstep)")))

    # 5. The manifest's account of the run: QEMU's version as the program says it, the machine
    # and RAM size the command line gives, the RAM file's regions covering the RAM from where
    # the machine puts it, and the command line recorded as the user's plus the recorder's.
    problems = []
    arguments = manifest["qemu"]["arguments"]
    said = subprocess.run([arguments[0], "--version"], capture_output=True, text=True).stdout.split()
    version = said[said.index("version") + 1] if "version" in said else None
    if manifest["qemu"]["version"] != version:
        problems.append(f"QEMU version {manifest['qemu']['version']}, but {arguments[0]} --version says {version}")
    def option(*names):  # the last value given to any of names (QEMU takes the last)
        values = [arguments[i + 1] for i, a in enumerate(arguments[:-1]) if a.lstrip("-") in names]
        return values[-1] if values else None
    machine = (option("M", "machine") or "").split(",")[0].removeprefix("type=") or None
    if manifest["machine"] != machine:
        problems.append(f"machine {manifest['machine']}, the command line's -M {machine}")
    size = next((part.removeprefix("size=") for part in (option("m") or "").split(",")
                 if part.startswith("size=") or "=" not in part), None)
    units = {"M": 20, "G": 30}
    expected = None if not size else int(size) << 20 if size.isdigit() else \
        int(size[:-1]) << units[size[-1].upper()] if size[:-1].isdigit() and size[-1].upper() in units else None
    if expected is None or manifest["memory"] != expected:
        problems.append(f"memory {manifest['memory']} bytes, the command line's -m {size}")
    regions = manifest["ramRegions"]
    start = 0x40000000 if machine == "virt" else 0
    if not regions or regions[0]["guestAddress"] != start or regions[0]["fileOffset"] != 0 or \
            sum(region["length"] for region in regions) != manifest["memory"]:
        problems.append(f"RAM regions {regions} do not cover {manifest['memory']} bytes from 0x{start:x}")
    recorded = manifest["recordedArguments"]
    backend = f"memory-backend-file,id=vqscope-ram,size={manifest['memory']},"
    if recorded[:len(arguments)] != arguments or not any(a.startswith(backend) and a.endswith(",share=on") for a in recorded) \
            or "timestamp=on" not in recorded or "memory-backend=vqscope-ram" not in recorded:
        problems.append("the recorded command line is not the user's followed by the shared RAM file, "
                        "the machine's memory backend and -msg timestamp=on")
    count(verdict("record manifest", problems, f"QEMU {version}, {machine} with {manifest['memory'] >> 20} MiB in "
                  f"{len(regions)} RAM region(s) from 0x{start:x}, the command line the user's plus "
                  f"{len(recorded) - len(arguments)} arguments"))

    # 5b. Where the driver put its rings: every area of every watched queue in one of those
    # regions; with --above-4g, some at 4 GiB and above (the layout's second region mapped).
    problems = []
    watches = [record for record in map(json.loads, open(os.path.join(run, "rings.jsonl"))) if record["kind"] == "queue"]

    def length(record, name):  # the area's bytes: §2.7 (split), §2.8 (packed: event suppression structures of 4)
        size = record["size"]
        if record.get("packed"):
            return 16 * size if name == "desc" else 4
        return {"desc": 16 * size, "avail": 6 + 2 * size, "used": 6 + 8 * size}[name]
    areas = [(record["device"], record["queue"], name, record[name], length(record, name)) for record in watches
             for name in ("desc", "avail", "used") if record.get(name) is not None]
    outside = [f"{device} queue {queue} {name} 0x{address:x}+{size}" for device, queue, name, address, size in areas
               if not any(region["guestAddress"] <= address and address + size <= region["guestAddress"] + region["length"]
                          for region in regions)]
    if outside:
        problems.append(f"ring areas outside the RAM regions: {', '.join(outside[:5])}")
    high = sum(address >= 1 << 32 for _, _, _, address, _ in areas)
    if above_4g and not high:
        problems.append("no ring area at 4 GiB or above (--above-4g)")
    count(verdict("record ring areas", problems, f"{len(areas)} areas of {len(watches)} watches in the RAM regions, "
                  f"{high} of them at 4 GiB and above"))

    # 6. The devices: every one QMP listed, with its transport; every watched queue's among them.
    devices = manifest.get("devices") or []
    problems = []
    if not devices:
        problems.append("run.json lists no devices")
    unknown = sorted({queue["device"] for queue in manifest["queues"]} - {device["label"] for device in devices})
    if unknown:
        problems.append(f"queues of devices run.json does not list: {', '.join(unknown)}")
    untold = [device["label"] for device in devices if device.get("transport") is None or device.get("queues") is None]
    if untold:
        problems.append(f"devices without their transport or queue count: {', '.join(untold)}")
    count(verdict("record devices", problems, f"{len(devices)} in run.json: " + ", ".join(
        f"{device['type'] or device['name']} on {(device['transport'] or {}).get('kind')} ({device['queues']} queues)"
        for device in devices)))
    def gap_lengths(gaps):
        """The gaps counted by length: '; 100–200 µs: 12, ...', or nothing from an older recorder."""
        lengths = gaps.get("lengths") or []
        bounds = [length["fromMicroseconds"] for length in lengths] + [None]
        return "".join(f"; {low}{'–' + str(high) if high else '+'} µs: {length['count']}"
                       for length, low, high in zip(lengths, bounds, bounds[1:]))

    gaps = manifest.get("samplerGaps")
    if gaps is not None:
        lost = "".join(f", {what} {gaps[key] / 1000:.1f} ms" for key, what in
                       (("waitingMicroseconds", "waiting while other tasks had its processor"),
                        ("stealMicroseconds", "taken by the hypervisor")) if gaps.get(key) is not None)
        if manifest.get("peakResidentKiB") is not None:
            print(f"info record peak RSS: {manifest['peakResidentKiB'] / 1024:.0f} MiB (the recorder's own, VmHWM)")
        print(f"info record sampler: {gaps['count']} rounds began more than {gaps['overMicroseconds']} µs after the one "
              f"before (the longest gap {gaps['longestMicroseconds']} µs{gap_lengths(gaps)}){lost}")
    if pauses is not None:
        print(f"info record pauses: QEMU paused {pauses['count']} times while the sampler stalled over "
              f"{pauses['afterMicroseconds']} µs, {pauses['totalMicroseconds'] / 1000:.1f} ms in all (the longest "
              f"{pauses['longestMicroseconds']} µs, the longest stall before one {pauses['longestStallMicroseconds']} µs, "
              f"{pauses['cutShort']} ended by the limit" + (f"; the guard looked {pauses['looks']} times" if "looks" in pauses else "")
              + ")")

    # 4. Overhead (reported, not judged: TCG timings on a shared 2-core machine vary).
    timing = json.load(open(os.path.join(outdir, "timing.json")))
    plain, recorded = timing.get("plain"), timing["netdev"]
    if plain is None:
        print(f"info record: {recorded['wallSeconds']:.1f} s wall, recorded (no plain run to compare)")
    else:
        print(f"info record overhead: guest uptime at power-off {plain['guestUptimeSeconds']:.2f} s plain, "
              f"{recorded['guestUptimeSeconds']:.2f} s recorded "
              f"({(recorded['guestUptimeSeconds'] / plain['guestUptimeSeconds'] - 1) * 100:+.1f} %); wall "
              f"{plain['wallSeconds']:.1f} s and {recorded['wallSeconds']:.1f} s")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
