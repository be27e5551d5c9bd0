#!/usr/bin/env python3
"""generate.py NAME: writes one of the large adversarial traces to standard output (they are
re-created, not committed). Each is a QEMU log-backend trace (the `pid@sec.usec:` form):

  never-completed   a device set up, one request popped and never filled, then 10 million
                    notifications of its queue (the request stays in flight to the end)
  many-devices      100,000 distinct devices, each set up to DRIVER_OK and kicked once
  colliding         every pointer the same (device, queue and element 0x1000), 200,000
                    lines of pops, fills, flushes and notifies with no order to them
  simple-mappings   a QEMU `simple` binary trace of 10 million mapping records, each naming
                    another subsystem's event with a new id, then a device's status writes
"""
import struct
import sys

OUT = sys.stdout.buffer
TIME = [1_700_000_000_000_000]


def line(text):
    TIME[0] += 10
    seconds, micros = divmod(TIME[0], 1_000_000)
    return f"100@{seconds}.{micros:06d}:{text}\n".encode()


def setup(vdev):
    return b"".join(line(f"virtio_set_status vdev {vdev} val {value}") for value in (0, 1, 3, 11, 15))


def never_completed():
    vdev, vq = "0x55d0c0001000", "0x7f0000002000"
    OUT.write(setup(vdev))
    OUT.write(line(f"virtio_queue_notify vdev {vdev} n 0 vq {vq}"))
    OUT.write(line(f"virtqueue_pop vq {vq} elem 0x55d0c0003000 in_num 1 out_num 0"))
    # 10 million notifications, written in blocks (one timestamp per block: the reader does
    # not require them to grow).
    block = line(f"virtio_queue_notify vdev {vdev} n 0 vq {vq}") * 100_000
    for _ in range(100):
        OUT.write(block)


def many_devices():
    for number in range(100_000):
        vdev = f"0x{0x550000000000 + number * 0x1000:x}"
        vq = f"0x{0x7f0000000000 + number * 0x1000:x}"
        OUT.write(setup(vdev) + line(f"virtio_queue_notify vdev {vdev} n 0 vq {vq}"))


def colliding():
    pointer = "0x1000"
    OUT.write(setup(pointer))
    events = [
        f"virtio_queue_notify vdev {pointer} n 0 vq {pointer}",
        f"virtqueue_pop vq {pointer} elem {pointer} in_num 1 out_num 1",
        f"virtqueue_fill vq {pointer} elem {pointer} len 4294967295 idx 65535",
        f"virtqueue_flush vq {pointer} count 4294967295",
        f"virtio_notify vdev {pointer} vq {pointer}",
        f"virtqueue_pop vq {pointer} elem {pointer} in_num 0 out_num 0",
        f"virtio_set_status vdev {pointer} val 255",
        f"virtio_set_status vdev {pointer} val 0",
    ]
    OUT.write(b"".join(line(events[(i * 7) % len(events)]) for i in range(200_000)))


def simple_mappings():
    OUT.write(struct.pack("<QQQ", 0xFFFFFFFFFFFFFFFF, 0xF2B177CB0AA429B4, 4))
    name = b"foreign_subsystem_event"
    record = struct.Struct("<QQI%ds" % len(name))
    for block in range(100):
        OUT.write(b"".join(record.pack(0, block * 100_000 + i, len(name), name) for i in range(100_000)))
    status = b"virtio_set_status"
    OUT.write(struct.pack("<QQI", 0, 20_000_000, len(status)) + status)
    for value in (0, 1, 3, 11, 15):
        OUT.write(struct.pack("<QQQIIQQ", 1, 20_000_000, 1000 + value, 24 + 16, 1, 0x55D0C0001000, value))


{"never-completed": never_completed, "many-devices": many_devices, "colliding": colliding,
 "simple-mappings": simple_mappings}[sys.argv[1]]()
