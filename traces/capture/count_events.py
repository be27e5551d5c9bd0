#!/usr/bin/env python3
"""Independent oracle for vqscope: count virtqueue events in a QEMU trace log.

Usage: count_events.py TRACE[.xz]  -> JSON on stdout

Plain Python 3, stdlib only.  Accepts the three `log`-backend line forms:
  TID@SEC.USEC:name args            (QEMU <= 10.0 with -msg timestamp=on)
  name args                         (no timestamps)
  YYYY-MM-DDTHH:MM:SS.ffffffZ name args   (QEMU 10.x with -msg timestamp=on)
Lines that are not trace events (error reports such as
"...Z qemu-system-x86_64: ...", guest_errors text such as
"virtio_mmio_write: ...", guest output) are skipped.

For every vdev pointer (seen in any event carrying a `vdev` argument, or
`rng` for virtio-rng) it lists queues by index; the index of a vq pointer is
learned from `virtio_queue_notify vdev V n N vq Q` anywhere in the file.
Per queue it counts virtqueue_pop / virtqueue_fill / virtqueue_flush lines
(attributed through the `vq` pointer) and the sum of flush counts.
Pops/fills/flushes on vq pointers never named by a notify go to
"unnamedQueues", keyed by pointer.
"""
import json
import lzma
import re
import sys
from collections import OrderedDict

PREFIX_TID = re.compile(r'^(\d+)@(\d+)\.(\d+):(.*)$')
PREFIX_ISO = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (.*)$')
EVENT = re.compile(r'^([a-z_][a-z0-9_]*)(?: (.*))?$')

ARG_RE = {
    'virtio_queue_notify': re.compile(r'^vdev (\S+) n (-?\d+) vq (\S+)$'),
    'virtqueue_pop': re.compile(r'^vq (\S+) elem (\S+) in_num (\d+) out_num (\d+)$'),
    'virtqueue_fill': re.compile(r'^vq (\S+) elem (\S+) len (\d+) idx (\d+)$'),
    'virtqueue_flush': re.compile(r'^vq (\S+) count (\d+)$'),
    'virtio_set_status': re.compile(r'^vdev (\S+) val (\d+)$'),
    'virtio_notify': re.compile(r'^vdev (\S+) vq (\S+)$'),
    'virtio_notify_irqfd': re.compile(r'^vdev (\S+) vq (\S+)$'),
    'virtio_notify_irqfd_deferred_fn': re.compile(r'^vdev (\S+) vq (\S+)$'),
}
VDEV_ARG = re.compile(r'(?:^|\s)(?:vdev|rng) (0x[0-9a-fA-F]+)')


def open_trace(path):
    if path.endswith('.xz'):
        return lzma.open(path, 'rt', encoding='utf-8', errors='replace')
    return open(path, 'r', encoding='utf-8', errors='replace')


def parse_line(line):
    """Return (name, args) for a trace event line, else None."""
    line = line.rstrip('\r\n')
    m = PREFIX_TID.match(line)
    if m:
        rest = m.group(4)
    else:
        m = PREFIX_ISO.match(line)
        rest = m.group(2) if m else line
    m = EVENT.match(rest)
    if not m:
        return None
    return m.group(1), (m.group(2) or '').rstrip()


def new_counts():
    return OrderedDict([('pops', 0), ('fills', 0), ('flushes', 0), ('flushedElements', 0)])


def count(path):
    events = []          # (name, match) for the counted events, in file order
    vq_name = {}         # vq -> (vdev, index)
    vdevs = OrderedDict()  # vdev -> {"statuses": [...]}
    event_lines = 0
    skipped = 0
    malformed = 0
    with open_trace(path) as f:
        for line in f:
            p = parse_line(line)
            if p is None:
                if line.strip():
                    skipped += 1
                continue
            name, args = p
            event_lines += 1
            m = VDEV_ARG.search(args)
            if m and (name.startswith('virtio') or name.startswith('virtqueue')):
                vdevs.setdefault(m.group(1), {'statuses': []})
            rx = ARG_RE.get(name)
            if rx is None:
                continue
            a = rx.match(args)
            if a is None:
                malformed += 1
                continue
            if name == 'virtio_queue_notify':
                vdev, n, vq = a.group(1), int(a.group(2)), a.group(3)
                prev = vq_name.get(vq)
                if prev is not None and prev != (vdev, n):
                    print('warning: vq %s named both %s and %s' % (vq, prev, (vdev, n)), file=sys.stderr)
                vq_name.setdefault(vq, (vdev, n))
            elif name == 'virtio_set_status':
                vdevs[a.group(1)]['statuses'].append(int(a.group(2)))
            events.append((name, a))

    per_vq = {}
    notifies = {}
    interrupts = {}
    for name, a in events:
        if name == 'virtqueue_pop':
            per_vq.setdefault(a.group(1), new_counts())['pops'] += 1
        elif name == 'virtqueue_fill':
            per_vq.setdefault(a.group(1), new_counts())['fills'] += 1
        elif name == 'virtqueue_flush':
            c = per_vq.setdefault(a.group(1), new_counts())
            c['flushes'] += 1
            c['flushedElements'] += int(a.group(2))
        elif name == 'virtio_queue_notify':
            notifies[a.group(3)] = notifies.get(a.group(3), 0) + 1
        elif name in ('virtio_notify', 'virtio_notify_irqfd', 'virtio_notify_irqfd_deferred_fn'):
            interrupts[a.group(2)] = interrupts.get(a.group(2), 0) + 1

    out_devs = OrderedDict()
    for vdev, info in vdevs.items():
        out_devs[vdev] = OrderedDict([('statuses', info['statuses']), ('queues', [])])
    for vq, (vdev, n) in vq_name.items():
        d = out_devs.setdefault(vdev, OrderedDict([('statuses', []), ('queues', [])]))
        q = OrderedDict([('index', n), ('vq', vq)])
        q.update(per_vq.get(vq, new_counts()))
        q['notifies'] = notifies.get(vq, 0)
        q['interrupts'] = interrupts.get(vq, 0)
        d['queues'].append(q)
    for d in out_devs.values():
        d['queues'].sort(key=lambda q: q['index'])

    unnamed = OrderedDict()
    for vq in sorted(per_vq):
        if vq not in vq_name:
            c = per_vq[vq]
            u = OrderedDict(c)
            u['interrupts'] = interrupts.get(vq, 0)
            unnamed[vq] = u

    return OrderedDict([
        ('trace', path),
        ('eventLines', event_lines),
        ('nonEventLines', skipped),
        ('malformedEventLines', malformed),
        ('devices', out_devs),
        ('unnamedQueues', unnamed),
    ])


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    json.dump(count(argv[1]), sys.stdout, indent=2)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
