#!/usr/bin/env python3
"""count_pops.py SIMPLETRACE TRACE_EVENTS BINARY: the simpletrace.py side of simple.sh.

Loads QEMU's scripts/simpletrace.py from the path given (it is not in this repository and
not a Debian package) and runs it over BINARY with an analyzer that only counts
virtqueue_pop records (Analyzer2 where that QEMU version has it, else Analyzer), so that the
comparison with `vqscope analyze` measures reading and decoding, not printing. Prints the
count."""
import importlib.util
import os
import sys


def main():
    script, events, binary = sys.argv[1:4]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    spec = importlib.util.spec_from_file_location("simpletrace", script)
    simpletrace = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(simpletrace)
    base = getattr(simpletrace, "Analyzer2", simpletrace.Analyzer)

    class CountPops(base):
        def __init__(self):
            super().__init__()
            self.pops = 0

        def virtqueue_pop(self, *args, **kwargs):
            self.pops += 1

    analyzer = CountPops()
    with open(events) as events_file, open(binary, "rb") as trace_file:
        simpletrace.process(events_file, trace_file, analyzer)
    print(analyzer.pops)


if __name__ == "__main__":
    main()
