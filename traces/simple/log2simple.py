#!/usr/bin/env python3
"""log2simple.py TRACE.log[.xz] OUT: rewrites a QEMU `log` backend trace as the `simple`
backend would have written it (format version 4, little-endian; trace/simple.c): the
header, a mapping record for each event name before its first use (ids in order of first
appearance), and an event record per event line with its arguments as the event declares
them (`u64` each, a `u32` length and the bytes for a string). Timestamps become nanoseconds
(the log's microseconds × 1000; lines without one get 0); the thread id of `tid@` is the
record's pid. Lines that are not trace events (QEMU's messages) have no simple-trace form and
are dropped; the script says how many on standard error.

The arguments are read back from each line's text by the event's printf format, so this is
also an independent reading of the log format: `compare.py` checks that vqscope reports the
same for both forms.
"""
import lzma
import re
import struct
import sys

PREFIX = re.compile(rb"^(?:(\d+)@(\d+)\.(\d+):|(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d+)Z )?([A-Za-z0-9_]+)(?: (.*))?$")
NUMBER = re.compile(rb"\(nil\)|-?0x[0-9a-fA-F]+|-?\d+")
PCI_CFG = re.compile(rb"^(\S+) ([0-9a-fA-F]+):([0-9a-fA-F]+)\.([0-9a-fA-F]+) @0x([0-9a-fA-F]+) <- 0x([0-9a-fA-F]+)")
MR_WRITE = re.compile(rb"^cpu (-?\d+) mr (\S+) addr (0x[0-9a-fA-F]+) value (0x[0-9a-fA-F]+) size (\d+) name '(.*)'$")


def number(token):
    if token == b"(nil)":
        return 0
    value = int(token, 0) if token.lstrip(b"-").startswith(b"0x") else int(token)
    return value & 0xFFFFFFFFFFFFFFFF


def arguments(name, text):
    """The event's arguments as (kind, value) pairs, or None when the text does not hold them."""
    if name == b"pci_cfg_write":
        match = PCI_CFG.match(text)
        if not match:
            return None
        dev, bus, slot, func, offset, value = match.groups()
        return [("s", dev)] + [("u", int(x, 16)) for x in (bus, slot, func, offset, value)]
    if name == b"memory_region_ops_write":
        match = MR_WRITE.match(text)
        if not match:
            return None
        cpu, mr, addr, value, size, region = match.groups()
        return [("u", number(cpu)), ("u", number(mr)), ("u", int(addr, 16)), ("u", int(value, 16)),
                ("u", int(size)), ("s", region)]
    # Every other event prints its numeric arguments in declaration order.
    return [("u", number(token)) for token in NUMBER.findall(text)]


def timestamp(groups):
    if groups[0] is not None:
        return int(groups[1]) * 1_000_000_000 + int(groups[2].ljust(6, b"0")[:6]) * 1000, int(groups[0])
    if groups[3] is not None:
        import calendar
        seconds = calendar.timegm(tuple(int(g) for g in groups[3:9]))
        return seconds * 1_000_000_000 + int(groups[9].ljust(9, b"0")[:9]), 0
    return 0, 0


def main():
    source, target = sys.argv[1:3]
    opener = lzma.open if source.endswith(".xz") else open
    ids = {}
    dropped = 0
    out = open(target, "wb")
    out.write(struct.pack("<QQQ", 0xFFFFFFFFFFFFFFFF, 0xF2B177CB0AA429B4, 4))
    with opener(source, "rb") as lines:
        for raw in lines:
            line = raw.rstrip(b"\n")
            match = PREFIX.match(line)
            if not match or b"_" not in match.group(11):
                dropped += 1
                continue
            name, text = match.group(11), match.group(12) or b""
            args = arguments(name, text)
            if args is None:
                dropped += 1
                continue
            if name not in ids:
                ids[name] = len(ids)
                out.write(struct.pack("<QQI", 0, ids[name], len(name)) + name)
            payload = b"".join(struct.pack("<Q", value) if kind == "u" else struct.pack("<I", len(value[:512])) + value[:512]
                               for kind, value in args)
            ns, pid = timestamp(match.groups())
            out.write(struct.pack("<QQQII", 1, ids[name], ns, 24 + len(payload), pid & 0xFFFFFFFF) + payload)
    out.close()
    print(f"log2simple: {len(ids)} event names; {dropped} lines without a simple-trace form dropped", file=sys.stderr)


if __name__ == "__main__":
    main()
