#!/usr/bin/env python3
"""Check `vqscope inspect` on a real memory dump against what QEMU said over QMP.

    check_dump.py VQSCOPE OUTDIR

OUTDIR is what capture-linux-dump.sh wrote: dump.elf, queues.json, qmp.jsonl, trace.log and
mode (pci, pci-packed, mmio or mmio-legacy).

For every virtio device in QUEUES_JSON (written by qmp_dump.py) it runs
`vqscope inspect --dump DUMP --queue ... --format json` with the device's negotiated
EVENT_IDX and INDIRECT_DESC, and requires: exit 0 (no error-level finding), used.idx in
memory equal to QEMU's used-idx for every queue (the VM was stopped), and avail.idx no
fewer than QEMU's last-avail-idx and at most the queue size ahead of used.idx.
It also runs `vqscope inspect --dump DUMP --qmp qmp.jsonl` (the raw exchange qmp_dump.py
saved) once for all devices and requires exit 0 and the same queues, in the same order, with
the same used.idx; for the mmio modes and pci `vqscope inspect --dump DUMP --trace trace.log`,
which must find every queue QMP lists at the same addresses (from the driver's virtio-mmio
register writes, or its virtio-pci common configuration writes) with the same used.idx; and `vqscope analyze trace.log --dump DUMP`, which
must join trace and dump (with --qmp for pci) with exit 0 and no warning or error about the
dump (DUMP-TRACE-MISMATCH included).
Prints one line per check and "N passed, N failed" at the end; exits 1 on a failure.
"""
import json
import shutil
import struct
import os
import subprocess
import sys


def main():
    vqscope, outdir = sys.argv[1:3]
    dump = os.path.join(outdir, "dump.elf")
    devices = json.load(open(os.path.join(outdir, "queues.json")))
    passed = failed = 0
    for device in devices:
        if device["packed"] or not device["queues"]:
            print(f"skip {device['name']}: {'packed rings' if device['packed'] else 'no queues set up'}")
            continue
        command = [vqscope, "inspect", "--dump", dump, "--format", "json",
                   "--indirect", "yes" if device["indirect"] else "no"]
        if device["eventIdx"]:
            command.append("--event-idx")
        for queue in device["queues"]:
            command += ["--queue", "desc=%#x,avail=%#x,used=%#x,size=%d" % (
                queue["desc"], queue["avail"], queue["used"], queue["size"])]
        report, problems = run_json(command)
        for qmp, seen in zip(device["queues"], report["queues"]):
            if seen["usedIdx"] != qmp["usedIdx"]:
                problems.append(f"queue {qmp['index']}: used.idx {seen['usedIdx']} in memory, QEMU says {qmp['usedIdx']}")
            ahead = (seen["availIdx"] - qmp["lastAvailIdx"]) % 65536 if seen["availIdx"] is not None else None
            if ahead is None or ahead > qmp["size"]:
                problems.append(f"queue {qmp['index']}: avail.idx {seen['availIdx']} vs last-avail-idx {qmp['lastAvailIdx']}")
        errors = [f for f in report.get("findings", []) if f["severity"] == "error"]
        problems += [f"{f['rule']}: {f['message']}" for f in errors]
        chains = sum(len(q["chains"]) for q in report["queues"])
        completed = sum(q["completedChecked"] for q in report["queues"])
        # Linux leaves the first received packets' buffers alone until it refills the ring
        # (at half empty), so the receive completions must be judged (NET-RX-NUMBUF,
        # SPLIT-USED-LEN-BOUND), not all left undecided.
        if device["name"] == "virtio-net" and completed == 0:
            problems.append("no completed chain judged")
        notes = ", ".join(f"{f['rule']}" for f in report.get("findings", []) if f["severity"] != "error")
        ok = verdict(device["name"], problems, f"{len(device['queues'])} queues, {chains} owned chains walked, {completed} completed judged"
                     + (f", findings: {notes}" if notes else ""))
        passed, failed = passed + ok, failed + (not ok)
    ok = check_qmp(vqscope, dump, os.path.join(outdir, "qmp.jsonl"), devices)
    passed, failed = passed + ok, failed + (not ok)
    trace = os.path.join(outdir, "trace.log")
    mode = open(os.path.join(outdir, "mode")).read().strip()
    if mode.startswith("mmio") or mode == "pci":
        ok = check_trace(vqscope, dump, trace, devices, mode)
        passed, failed = passed + ok, failed + (not ok)
    qmp = os.path.join(outdir, "qmp.jsonl") if mode.startswith("pci") else None
    ok = check_join(vqscope, dump, trace, qmp)
    passed, failed = passed + ok, failed + (not ok)
    ok = check_pcap(vqscope, outdir, mode)
    passed, failed = passed + ok, failed + (not ok)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


def read_pcap(path):
    """The records of a classic pcap file, read with struct alone (not libpcap, which vqscope
    writes with): [(seconds as float, frame bytes)]; the link type must be Ethernet."""
    data = open(path, "rb").read()
    magic, = struct.unpack_from("<I", data, 0)
    endian = {0xA1B2C3D4: "<", 0xD4C3B2A1: ">"}[magic]
    linktype, = struct.unpack_from(endian + "I", data, 20)
    assert linktype == 1, f"{path}: link type {linktype}, not Ethernet"
    records, offset = [], 24
    while offset + 16 <= len(data):
        seconds, micros, caplen, _ = struct.unpack_from(endian + "IIII", data, offset)
        records.append((seconds + micros / 1e6, data[offset + 16:offset + 16 + caplen]))
        offset += 16 + caplen
    return records


def check_pcap(vqscope, outdir, mode):
    """`vqscope pcap` on the dump: a pcap that libpcap wrote and tcpdump reads, whose every
    frame is one QEMU's filter-dump saw on the netdev (byte for byte, at the time the trace
    gives it up to the two clocks' offset), among them the guest's DHCP, ARP and ICMP replies;
    and a side file with one line per frame."""
    name = "pcap"
    frames, side = os.path.join(outdir, "frames.pcap"), os.path.join(outdir, "frames.jsonl")
    command = [vqscope, "pcap", os.path.join(outdir, "trace.log"), "--dump", os.path.join(outdir, "dump.elf"),
               "-o", frames, "--vnet-hdr", side]
    if mode.startswith("pci"):
        command += ["--qmp", os.path.join(outdir, "qmp.jsonl")]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return verdict(name, [f"exit {result.returncode}: {result.stderr.strip()[:300]}"], "")
    problems = []
    exported = read_pcap(frames)
    seen = read_pcap(os.path.join(outdir, "netdev.pcap"))
    lines = [json.loads(line) for line in open(side)][1:]
    if len(lines) != len(exported):
        problems.append(f"{len(lines)} side-file lines for {len(exported)} frames")
    # filter-dump and the trace read different clocks (offsets of 0.15 to 0.6 s were seen),
    # so the times must differ from filter-dump's by one constant, to within 10 ms.
    offsets = []
    for (time, frame), line in zip(exported, lines):
        matches = [t for t, f in seen if f == frame]
        if not matches:
            problems.append(f"frame {line['frame']} ({line['direction']}, {len(frame)} bytes) is not in filter-dump's pcap")
        elif line["timestamp"] == "trace":
            offsets.append(min((time - t for t in matches), key=abs))
    spread = max(offsets) - min(offsets) if offsets else 0.0
    if spread > 0.01:
        problems.append(f"the frames' times are off filter-dump's by {min(offsets):.3f} to {max(offsets):.3f} s")
    kinds = {describe_frame(frame) for _, frame in exported}
    if not mode.endswith("packed") and not {"DHCP reply", "ARP reply", "ICMP echo reply"} <= kinds:
        problems.append(f"the guest's DHCP, ARP and ICMP replies are not all exported (found {sorted(kinds)})")
    if shutil.which("tcpdump"):
        read = subprocess.run(["tcpdump", "-n", "-r", frames], capture_output=True, text=True)
        if read.returncode != 0 or len(read.stdout.splitlines()) != len(exported):
            problems.append(f"tcpdump -r: exit {read.returncode}, {len(read.stdout.splitlines())} lines")
    timed = f"{len(offsets)} timed by the trace, off filter-dump's clock by {offsets[0]:.3f} s ± {spread / 2:.4f}" \
        if offsets else "none timed by the trace"
    return verdict(name, problems, f"{len(exported)} frames ({', '.join(sorted(kinds))}), all in filter-dump's "
                   f"{len(seen)}; {timed}")


def describe_frame(frame):
    """What an Ethernet frame carries, in the words check_pcap expects."""
    ethertype = int.from_bytes(frame[12:14], "big") if len(frame) >= 14 else None
    if ethertype == 0x0806 and len(frame) >= 22:
        return "ARP reply" if frame[21] == 2 else "ARP request"
    if ethertype == 0x0800 and len(frame) >= 34:
        protocol, header = frame[23], (frame[14] & 15) * 4
        if protocol == 1:
            return {0: "ICMP echo reply", 8: "ICMP echo request"}.get(frame[14 + header], "ICMP")
        if protocol == 17 and len(frame) >= 14 + header + 4:
            source = int.from_bytes(frame[14 + header:16 + header], "big")
            return {67: "DHCP reply", 68: "DHCP request"}.get(source, "UDP")
        return "IPv4"
    return f"ethertype {ethertype}"


def verdict(name, problems, success):
    """Prints one check's line, FAIL with its problems or ok with `success`; True when ok."""
    if problems:
        print(f"FAIL {name}: " + "; ".join(problems))
        return False
    print(f"ok   {name}: {success}")
    return True


def run_json(command):
    """Runs a vqscope command for a JSON report: (report, problems), problems naming a
    non-zero exit or output that is not JSON."""
    result = subprocess.run(command, capture_output=True, text=True)
    problems = [f"exit {result.returncode}: {result.stderr.strip()[:300]}"] if result.returncode != 0 else []
    try:
        return json.loads(result.stdout), problems
    except json.JSONDecodeError:
        return {"queues": [], "findings": []}, problems + ["no JSON report"]


def check_qmp(vqscope, dump, transcript, devices):
    """One `inspect --qmp` run must find every queue QMP listed, features included, and the
    block device's capacity from query-block (queues.json has it from the same reply). A split
    queue's used.idx must be QEMU's used-idx; a packed queue's ring must be decoded (QEMU's
    packed used-idx is a slot, without its lap, and the driver re-offers used slots at once,
    so no count in the ring can be compared with it)."""
    report, problems = run_json([vqscope, "inspect", "--dump", dump, "--qmp", transcript, "--format", "json"])

    def expectation(device, queue):
        if not device["packed"]:
            return (device["name"], queue["index"], "split", queue["usedIdx"], device.get("capacitySectors"))
        return (device["name"], queue["index"], "packed", "decoded", device.get("capacitySectors"))

    def observed(queue):
        if queue["layout"] == "split":
            return (queue["device"].split("@")[0], queue["queue"], "split", queue["usedIdx"], queue["blockCapacity"])
        return (queue["device"].split("@")[0], queue["queue"], "packed",
                "decoded" if queue["packed"] is not None else "not decoded", queue["blockCapacity"])

    expected = [expectation(d, q) for d in devices for q in d["queues"]]
    seen = [observed(q) for q in report["queues"]]
    if seen != expected:
        differ = [(s, e) for s, e in zip(seen, expected) if s != e][:3]
        problems.append(f"{len(seen)} queues vs QMP's {len(expected)}; first differences (seen, QMP): {differ}")
    problems += [f"{f['rule']}: {f['message']}" for f in report.get("findings", []) if f["severity"] == "error"]
    lists = check_packed_lists(report, problems)
    return verdict("--qmp", problems, f"{len(seen)} queues of {len(devices)} devices found from the QMP transcript"
                   + (f", {lists} packed lists walked" if lists else ""))


def check_packed_lists(report, problems):
    """A packed queue's walk from QEMU's last-avail-idx must take in every descriptor whose
    AVAIL and USED flags differ: Linux keeps no used list's tail lying around (its lists are
    one slot, or one slot pointing at an indirect table), so each such descriptor is one the
    device has yet to read. Counted from the flags alone, without the walk's wrap-counter
    reasoning. Returns the number of lists walked; at least one queue (net receive) must have
    some when the capture is packed."""
    walked = 0
    packed = [q for q in report["queues"] if q["layout"] == "packed" and q["packed"] is not None]
    for queue in packed:
        slots = sum(sum(1 for d in c["descriptors"] if not d["indirect"])
                    + (1 if any(d["indirect"] for d in c["descriptors"]) else 0) for c in queue["chains"])
        if slots != queue["packed"]["availableLooking"]:
            problems.append(f"{queue['device'].split('@')[0]} queue {queue['queue']}: {slots} slots in walked lists, "
                            f"{queue['packed']['availableLooking']} with AVAIL ≠ USED")
        walked += len(queue["chains"])
    if packed and walked == 0:
        problems.append("no packed list walked")
    return walked


def check_trace(vqscope, dump, trace, devices, mode):
    """`inspect --trace` must locate every queue QMP lists from the trace alone: the virtio-mmio
    register writes, or the virtio-pci common configuration writes (memory_region_ops_write)."""
    report, problems = run_json([vqscope, "inspect", "--dump", dump, "--trace", trace, "--format", "json"])
    expected = sorted((q["desc"], q["avail"], q["used"], q["size"], q["usedIdx"])
                      for d in devices if not d["packed"] for q in d["queues"])
    seen = sorted((int(q["descriptorTable"], 16), int(q["availRing"], 16), int(q["usedRing"], 16), q["size"],
                   q["usedIdx"]) for q in report["queues"])
    if seen != expected:
        missing = [e for e in expected if e not in seen][:3]
        extra = [e for e in seen if e not in expected][:3]
        problems.append(f"queues differ from QMP's: missing {missing}, extra {extra}")
    source = "virtio-pci common configuration" if mode == "pci" else "virtio-mmio register"
    return verdict("--trace", problems, f"{len(seen)} queues located from the {source} writes, as QMP says")


def check_join(vqscope, dump, trace, qmp):
    """`analyze TRACE --dump DUMP [--qmp]`: the trace's flush counts and fill lengths match the dump."""
    command = [vqscope, "analyze", trace, "--dump", dump, "--format", "json"]
    if qmp:
        command += ["--qmp", qmp]
    report, problems = run_json(command)
    # The trace's own findings are checked against traces/real/*.expected.json elsewhere; here
    # only what the dump adds counts.
    bad = [f"{f['rule']}: {f['message']}" for f in report["findings"]
           if f["location"]["file"] == dump and f["severity"] != "note"]
    queues = len((report.get("memory") or {}).get("queues", []))
    problems += bad[:3] + (["no queue of the dump read"] if queues == 0 else [])
    return verdict("analyze --dump" + (" --qmp" if qmp else ""), problems,
                   f"no mismatch between the trace and the {queues} queues of the dump")


if __name__ == "__main__":
    main()
