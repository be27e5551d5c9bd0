#!/usr/bin/env python3
"""seeds.py TARGET OUTDIR: a seed corpus for vqscope-fuzz's TARGET (trace, dump, rings or recording),
from what the repository has: the hand-written rule traces and the start of each real trace
(trace); small ELF cores and raw images built here (dump); the hand-written memory layouts of
the rules that read memory, each as a 64-byte RingsInput header and its image (rings); the
hand-written recordings of the rules checked on recordings (recording)."""
import glob
import json
import lzma
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def trace_seeds():
    for path in sorted(glob.glob(os.path.join(ROOT, "traces/rules/*/*.log")) + glob.glob(os.path.join(ROOT, "traces/rules/*/*.simple"))):
        yield os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path), open(path, "rb").read()
    for path in sorted(glob.glob(os.path.join(ROOT, "traces/real/*.log.xz"))):
        yield os.path.basename(path)[:-3], lzma.open(path).read()[:32768]


def elf(loads):
    """An ELF64 core with one PT_LOAD per (paddr, bytes)."""
    header_size, phdr_size = 64, 56
    offset = header_size + phdr_size * len(loads)
    phdrs, body = b"", b""
    for paddr, data in loads:
        phdrs += struct.pack("<IIQQQQQQ", 1, 6, offset + len(body), paddr, paddr, len(data), len(data), 4096)
        body += data
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, header_size, 0, 0, header_size, phdr_size,
                                 len(loads), 64, 0, 0)
    return header + phdrs + body


def dump_seeds():
    yield "one-load.elf", elf([(0x40000000, bytes(range(256)) * 4)])
    yield "two-loads-hole.elf", elf([(0, b"\x01" * 512), (0x100000, b"\x02" * 512)])
    yield "raw.bin", bytes(1024)


def rings_seeds():
    bits = {"next": 1, "write": 2, "indirect": 4, "avail": 128, "used": 32768}
    types = {"net": 1, "blk": 2, "console": 3, "rng": 4, "input": 18}
    for path in sorted(glob.glob(os.path.join(ROOT, "traces/rules/*/*.handwritten.json"))):
        layout = json.load(open(path))
        if "queue" not in layout:
            continue
        number = lambda v: int(v, 16) if isinstance(v, str) else int(v)
        base, queue = number(layout["base"]), layout["queue"]
        image = bytearray(min(number(layout["size"]), 65536))

        def put(value, width, address):
            at = address - base
            if 0 <= at and at + width <= len(image):
                image[at:at + width] = int(value).to_bytes(width, "little")
        packed = layout.get("packed", False)
        for d in layout.get("descriptors", []):
            at = number(d.get("table", queue["desc"])) + number(d["index"]) * 16
            flags = sum(bits[f] for f in d.get("flags", []))
            put(number(d["addr"]) - base if number(d["addr"]) >= base else 0, 8, at)
            put(number(d["len"]), 4, at + 8)
            if packed:
                put(number(d.get("id", 0)), 2, at + 12)
                put(flags, 2, at + 14)
            else:
                put(flags & 7, 2, at + 12)
                put(number(d.get("next", 0)), 2, at + 14)
        for key, area in (("avail", "avail"), ("used", "used")):
            ring = layout.get(key)
            if not ring or packed:
                continue
            at = number(queue[area])
            put(number(ring.get("flags", 0)), 2, at)
            put(number(ring.get("idx", 0)), 2, at + 2)
            for i, entry in enumerate(ring.get("ring", [])):
                if key == "avail":
                    put(number(entry), 2, at + 4 + 2 * i)
                elif len(entry) == 2:
                    put(number(entry[0]), 4, at + 4 + 8 * i)
                    put(number(entry[1]), 4, at + 8 + 8 * i)
        for run in layout.get("bytes", []):
            for i, value in enumerate(run["values"]):
                put(number(value), 1, number(run["addr"]) + i)
        flags = (1 if layout.get("eventIdx") else 0) | (2 if layout.get("indirect") else 0) | (4 if packed else 0)
        flags |= (16 if "lastAvailIdx" in layout else 0) | (32 if "capacity" in layout else 0)
        flags |= (64 if "netControlQueue" in layout else 0) | (128 if "mtu" in layout else 0)
        header = struct.pack("<QQQHHBBHQQH", number(queue["desc"]) - base, number(queue["avail"]) - base,
                             number(queue["used"]) - base, number(queue["size"]), flags,
                             types.get(layout.get("device"), 0), number(queue.get("index", 0)),
                             number(layout.get("lastAvailIdx", 0)), 0, number(layout.get("capacity", 0)),
                             number(layout.get("mtu", 0)))
        name = os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path)[:-5]
        yield name, header.ljust(64, b"\0") + bytes(image)


def recording_seeds():
    """The hand-written recordings of the rule fixtures (rings.jsonl of a run directory), one of
    a net device whose received frames were all copied while their buffer was offered again,
    for the fixed trace the fuzzer judges such copies against (FuzzTargets.netTrace), and a
    run.json manifest (each input is written as both files)."""
    for path in sorted(glob.glob(os.path.join(ROOT, "traces/rules/*/*.handwritten/rings.jsonl"))):
        parts = path.split(os.sep)
        yield parts[-3] + "-" + parts[-2], open(path, "rb").read()
    device = "virtio-net@/n"
    lines = ['{"kind": "header", "schema": "vqscope.rings", "version": 2}']
    lines += [json.dumps({"kind": "queue", "t": 1, "device": device, "type": "net", "queue": queue, "size": 8,
                          "features": 0, "role": role, "packed": False, "desc": 4096 * (queue + 1)})
              for queue, role in ((0, "rx"), (1, "tx"))]
    for frame in range(8):
        position = frame if frame < 5 else frame - 5
        lines.append(json.dumps({"kind": "avail", "t": 1, "device": device, "queue": 0, "index": frame, "head": 0,
                                 "descriptors": [[32768, 1526, 2, 0]], "writable": 1526, "defects": []}))
        lines.append(json.dumps({"kind": "used", "t": 2, "device": device, "queue": 0, "index": position, "id": 0,
                                 "len": 60 + frame, "data": "00" * 10 + "%02x" % frame * (50 + frame),
                                 "refilled": True, "copied": 1700000000000000000 + 1000 * (60 + 40 * frame)}))
    yield "refilled-net", ("\n".join(lines) + "\n").encode()
    # The same bytes are the run directory's run.json too: a manifest as the recorder writes it.
    yield "manifest", json.dumps({
        "schema": "vqscope.run", "version": 1, "qemu": {"version": "7.2.22"}, "exitStatus": 0,
        "samplerGaps": {"overMicroseconds": 100, "count": 32, "longestMicroseconds": 5873},
        "queues": [{"device": device, "queue": 0, "availEntries": 8, "usedEntries": 8, "missed": 1, "late": 2}]}).encode()


def main():
    target, outdir = sys.argv[1:3]
    os.makedirs(outdir, exist_ok=True)
    seeds = {"trace": trace_seeds, "dump": dump_seeds, "rings": rings_seeds, "recording": recording_seeds}[target]()
    count = 0
    for name, data in seeds:
        open(os.path.join(outdir, "seed-" + name), "wb").write(data)
        count += 1
    print(f"seeds.py: {count} {target} seeds in {outdir}")


if __name__ == "__main__":
    main()
