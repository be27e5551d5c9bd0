#!/usr/bin/env python3
"""Build a large QEMU `log`-backend trace for benchmarking vqscope.

    traces/bench/make-large-trace.py OUT --size 1G

The output repeats the real traces in traces/real/*.log.xz (round-robin, whole
copies, until OUT holds at least --size bytes), re-basing every copy so that it
looks like a fresh QEMU run appended to the previous one:

* Host pointers (`0x` followed by 11 or more hex digits: vdev, vq, elem, req,
  rng, dataplane ...) are relocated per copy. Each source's pointers are grouped
  into runs of adjacent 16 MiB pages; every copy gets fresh pages for each run
  from a heap-like (0x55..) or mmap-like (0x7f.., growing down) allocator,
  keeping the low 24 bits. So identities stay consistent inside a copy, pointers
  of different copies never collide, and the values stay 12-digit user-space
  addresses. Shorter hex values (register offsets, config values) are untouched.
  With --pointers reuse, every copy of a source uses the pointers of its first
  copy instead (one long QEMU run, guest rebooted over and over). With
  --pointers requests (the default), devices and queues keep the pointers of the
  first copy while request pointers (`elem`, `req`) are fresh in every copy: the
  same devices doing ever new requests, as in one long run.
* `TID@SEC.USEC:` prefixes are shifted by a whole number of seconds per copy so
  time never goes backwards: each copy starts at least one second after the
  previous copy's last timestamp. Relative timing inside a copy is preserved.
* Lines, event names and arguments are otherwise byte-for-byte those of the
  real traces, so the event mix is what the real traces contain.

Traces without timestamps (e.g. seabios-blk-notime) are skipped when others have
them, because a real trace file is one or the other.

Python 3 standard library only; the output is deterministic.
"""

import argparse
import glob
import lzma
import os
import re
import sys
import time
from operator import itemgetter

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SOURCES = os.path.join(HERE, "..", "real", "*.log.xz")

PREFIX = re.compile(r"^(\d+)@(\d+)\.(\d{6}):")
POINTER = re.compile(r"0x([0-9a-fA-F]{11,})\b")
REQUEST_WORDS = ("elem ", "req ")  # the argument names of request pointers

PAGE_BITS = 24  # 16 MiB pages; the low 24 bits of every pointer are kept
HEAP_FIRST_PAGE = 0x5500_0000_0000 >> PAGE_BITS  # heap-like pointers grow up from here
HEAP_LIMIT_PAGE = 0x6000_0000_0000 >> PAGE_BITS
MMAP_TOP_PAGE = 0x7FFF_FF00_0000 >> PAGE_BITS  # mmap-like pointers grow down from here
MMAP_LIMIT_PAGE = 0x7000_0000_0000 >> PAGE_BITS


def parse_size(text):
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B?)", text.strip(), re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (use e.g. 100M, 1G, 1048576)")
    scale = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[match.group(2).upper()]
    return int(float(match.group(1)) * scale)


class Template:
    """One real trace turned into a %-format string plus a slot table.

    Slots are indices into a per-copy value list: first the distinct SEC values of
    the source (shifted per copy), then the distinct pointer pages (relocated per copy).
    """

    def __init__(self, name, text):
        self.name = name
        lines = text.splitlines()
        seconds = sorted({int(m.group(2)) for m in map(PREFIX.match, lines) if m})
        self.timed = bool(seconds)
        self.first_second = seconds[0] if seconds else 0
        self.last_second = seconds[-1] if seconds else 0
        second_slot = {s: i for i, s in enumerate(seconds)}
        self.seconds = seconds

        pages = sorted({int(m.group(1), 16) >> PAGE_BITS for m in POINTER.finditer(text)})
        # Runs of adjacent pages move together, so a region straddling a page boundary stays contiguous.
        self.runs = []  # [(first_page, page_count, is_heap)]
        for page in pages:
            if self.runs and self.runs[-1][0] + self.runs[-1][1] == page:
                first, count, heap = self.runs[-1]
                self.runs[-1] = (first, count + 1, heap)
            else:
                self.runs.append((page, 1, page < (0x7000_0000_0000 >> PAGE_BITS)))
        self.heap_pages = sum(count for _, count, heap in self.runs if heap)
        self.mmap_pages = sum(count for _, count, heap in self.runs if not heap)
        page_slot = {p: len(seconds) + i for i, p in enumerate(pages)}
        # Request pointers get slots of their own after the pages, so they can move per copy alone.
        request_slot = {p: len(seconds) + len(pages) + i for i, p in enumerate(pages)}
        self.pages = pages

        slots = []
        out = []
        for line in lines:
            line = line.replace("%", "%%")
            m = PREFIX.match(line)
            if m:
                slots.append(second_slot[int(m.group(2))])
                line = f"{m.group(1)}@%s.{m.group(3)}:" + line[m.end():]

            def pointer(match):
                value = int(match.group(1), 16)
                is_request = match.string[max(0, match.start() - 5):match.start()].endswith(REQUEST_WORDS)
                slots.append((request_slot if is_request else page_slot)[value >> PAGE_BITS])
                return "0x%s" + format(value & ((1 << PAGE_BITS) - 1), "06x")

            out.append(POINTER.sub(pointer, line))
        self.format = "\n".join(out) + "\n"
        self.slots = slots
        self.pick = itemgetter(*slots) if len(slots) > 1 else (lambda values: (values[slots[0]],) if slots else ())
        self.lines = len(lines)
        self.reused_pages = None  # --pointers reuse: the pages of this source's first copy


class PageAllocator:
    def __init__(self):
        self.heap_next = HEAP_FIRST_PAGE
        self.mmap_next = MMAP_TOP_PAGE

    def heap(self, count):
        first = self.heap_next
        self.heap_next += count
        if self.heap_next > HEAP_LIMIT_PAGE:
            sys.exit("make-large-trace: ran out of heap-like pointer space; use a smaller --size")
        return first

    def mmap(self, count):
        self.mmap_next -= count
        if self.mmap_next < MMAP_LIMIT_PAGE:
            sys.exit("make-large-trace: ran out of mmap-like pointer space; use a smaller --size")
        return self.mmap_next


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output file (written via OUT.tmp, then renamed)")
    parser.add_argument("--size", type=parse_size, default=parse_size("100M"),
                        help="minimum output size: bytes or K/M/G/T (binary units), default 100M")
    parser.add_argument("--sources", default=DEFAULT_SOURCES, help="glob of xz traces to repeat")
    parser.add_argument("--pointers", choices=("requests", "fresh", "reuse"), default="requests",
                        help="requests (default): devices and queues keep the pointers of a source's first "
                             "copy, request pointers (elem, req) are new in every copy, like one long run; "
                             "fresh: new host pointers for every copy, so every copy adds new devices and "
                             "queues; reuse: every copy keeps the pointers of the source's first copy")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()

    paths = sorted(glob.glob(args.sources))
    if not paths:
        sys.exit(f"make-large-trace: no traces match {args.sources}")
    templates = []
    for path in paths:
        with lzma.open(path, "rt", encoding="ascii", newline="") as handle:
            templates.append(Template(os.path.basename(path), handle.read()))
    if any(t.timed for t in templates):
        skipped = [t.name for t in templates if not t.timed]
        templates = [t for t in templates if t.timed]
        if skipped and not args.quiet:
            print(f"make-large-trace: skipping traces without timestamps: {', '.join(skipped)}", file=sys.stderr)

    allocator = PageAllocator()
    next_second = min(t.first_second for t in templates)
    written = 0
    copies = 0
    lines = 0
    started = time.monotonic()
    tmp = args.out + ".tmp"
    chunk = []
    chunk_bytes = 0
    with open(tmp, "w", encoding="ascii", newline="\n", buffering=1 << 20) as out:
        while written < args.size:
            template = templates[copies % len(templates)]
            shift = next_second - template.first_second if template.timed else 0
            values = [str(s + shift) for s in template.seconds]
            if args.pointers != "fresh" and template.reused_pages is not None:
                values.extend(template.reused_pages)
            else:
                # One block per region and copy, runs in their original order, so pointer order is kept too.
                heap_next = allocator.heap(template.heap_pages)
                mmap_next = allocator.mmap(template.mmap_pages)
                pages = []
                for first, count, heap in template.runs:
                    if heap:
                        base, heap_next = heap_next, heap_next + count
                    else:
                        base, mmap_next = mmap_next, mmap_next + count
                    pages.extend(format(base + i, "x") for i in range(count))
                template.reused_pages = pages
                values.extend(pages)
            if args.pointers == "requests":
                # Above every real pointer (< 2^47): bits 48 and up count the copies.
                values.extend(format(page + ((copies + 1) << (48 - PAGE_BITS)), "x") for page in template.pages)
            else:
                values.extend(values[len(template.seconds):len(template.seconds) + len(template.pages)])
            text = template.format % template.pick(values)
            if template.timed:
                next_second = template.last_second + shift + 1
            chunk.append(text)
            chunk_bytes += len(text)
            written += len(text)
            lines += template.lines
            copies += 1
            if chunk_bytes >= 16 << 20:
                out.write("".join(chunk))
                chunk.clear()
                chunk_bytes = 0
        out.write("".join(chunk))
    os.replace(tmp, args.out)
    if not args.quiet:
        elapsed = time.monotonic() - started
        print(f"make-large-trace: wrote {args.out}: {written} bytes, {lines} lines, {copies} copies of "
              f"{len(templates)} traces ({args.pointers} pointers) in {elapsed:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
