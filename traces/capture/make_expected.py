#!/usr/bin/env python3
"""Write NAME.expected.json for a captured trace (stdout).

Counts come from count_events.py (the independent oracle).  Device types are
decided from evidence in the trace itself, never from pointer literals (heap
pointers change between runs):
  block    - the vdev is named by virtio_blk_* events (`vdev V`)
  entropy  - the vdev is named by virtio_rng_* events (`rng V`; VirtIORNG
             starts with its VirtIODevice, so the pointers are equal)
  console  - a virtio_serial_handle_control_message / virtio_console_flush_buf
             line follows (same thread) a virtqueue_pop on one of its queues
  net      - queue 0 pops are all device-writable only (in>=1, out 0: RX) and
             queue 1 pops are all device-readable only (in 0, out>=1: TX)
"""
import argparse
import json
import os
import re
import sys
from collections import OrderedDict

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import count_events  # noqa: E402

TID = re.compile(r'^(\d+)@')
VDEV = re.compile(r'(?:^|\s)vdev (0x[0-9a-fA-F]+)')
RNG = re.compile(r'(?:^|\s)rng (0x[0-9a-fA-F]+)')
POP = re.compile(r'^vq (\S+) elem \S+ in_num (\d+) out_num (\d+)$')


def gather_evidence(path, vq_name):
    blk, rng, console = set(), set(), {}
    pops = {}          # vq -> list of (in, out)
    last_pop = {}      # thread -> vq
    with count_events.open_trace(path) as f:
        for line in f:
            p = count_events.parse_line(line)
            if p is None:
                continue
            name, args = p
            m = TID.match(line)
            tid = m.group(1) if m else '-'
            if name.startswith('virtio_blk_'):
                m = VDEV.search(args)
                if m:
                    blk.add(m.group(1))
            elif name.startswith('virtio_rng_'):
                m = RNG.search(args)
                if m:
                    rng.add(m.group(1))
            elif name == 'virtqueue_pop':
                m = POP.match(args)
                if m:
                    pops.setdefault(m.group(1), []).append((int(m.group(2)), int(m.group(3))))
                    last_pop[tid] = m.group(1)
            elif name in ('virtio_serial_handle_control_message', 'virtio_console_flush_buf'):
                vq = last_pop.get(tid)
                if vq in vq_name:
                    vdev, n = vq_name[vq]
                    console.setdefault(vdev, set()).add((name, n))
    return blk, rng, console, pops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--trace', required=True)
    ap.add_argument('--capture-script', required=True)
    ap.add_argument('--qemu-version', required=True)
    ap.add_argument('--guest', required=True)
    ap.add_argument('--command-line', required=True)
    ap.add_argument('--transport', required=True,
                    choices=['virtio-pci', 'virtio-mmio', 'virtio-mmio-legacy'])
    ap.add_argument('--timestamps', default='true', choices=['true', 'false'])
    ap.add_argument('--capture-seconds', type=float)
    ap.add_argument('--qemu-exit-status', type=int)
    ap.add_argument('--finding', action='append', default=[], metavar='RULE=COUNT',
                    help='a warning/error finding vqscope must report (a real driver deviation, '
                         'explained in traces/README.md)')
    a = ap.parse_args()

    counts = count_events.count(a.trace)
    vq_name = {}
    for vdev, d in counts['devices'].items():
        for q in d['queues']:
            vq_name[q['vq']] = (vdev, q['index'])
    blk, rng, console, pops = gather_evidence(a.trace, vq_name)

    devices = []
    for vdev, d in counts['devices'].items():
        qs = {q['index']: q for q in d['queues']}
        if vdev in blk:
            typ, ev = 'block', 'virtio_blk_* events name this vdev'
        elif vdev in rng:
            typ, ev = 'entropy', 'virtio_rng_* events name this vdev (rng pointer)'
        elif vdev in console:
            what = sorted(console[vdev])
            typ = 'console'
            ev = 'virtio-serial: ' + ', '.join(
                '%s follows a pop on queue %d' % (n, i) for n, i in what)
        else:
            rx = pops.get(qs[0]['vq'], []) if 0 in qs else []
            tx = pops.get(qs[1]['vq'], []) if 1 in qs else []
            if rx and tx and all(i >= 1 and o == 0 for i, o in rx) and \
                    all(i == 0 and o >= 1 for i, o in tx):
                typ = 'net'
                ev = ('rx/tx pair: queue 0 pops all in>=1/out 0 (%d), queue 1 pops all '
                      'in 0/out>=1 (%d); no device-specific events' % (len(rx), len(tx)))
            else:
                typ, ev = 'unknown', 'no evidence in the trace'
        queues = []
        for q in d['queues']:
            queues.append(OrderedDict([(k, q[k]) for k in
                          ('index', 'vq', 'pops', 'fills', 'flushes', 'flushedElements',
                           'notifies', 'interrupts')]))
        devices.append(OrderedDict([
            ('vdev', vdev), ('type', typ), ('evidence', ev),
            ('statuses', d['statuses']), ('queues', queues)]))

    unnamed = []
    for vq, c in counts['unnamedQueues'].items():
        u = OrderedDict([('vq', vq)])
        u.update(c)
        unnamed.append(u)

    out = OrderedDict([
        ('trace', os.path.basename(a.trace)),
        ('captureScript', a.capture_script),
        ('qemuVersion', a.qemu_version),
        ('guest', a.guest),
        ('commandLine', a.command_line),
        ('transport', a.transport),
        ('timestamps', a.timestamps == 'true'),
        ('eventLines', counts['eventLines']),
        ('nonEventLines', counts['nonEventLines']),
    ])
    if a.capture_seconds is not None:
        out['captureSeconds'] = a.capture_seconds
    if a.qemu_exit_status is not None:
        out['qemuExitStatus'] = a.qemu_exit_status
    out['findings'] = OrderedDict(
        (rule, int(count)) for rule, count in (f.split('=', 1) for f in sorted(a.finding)))
    out['devices'] = devices
    out['unnamedQueues'] = unnamed
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
