#!/usr/bin/env python3
"""Wait for the guest's "traffic done", then, over QMP: list the virtio devices and their
queues (x-query-virtio, x-query-virtio-status, x-query-virtio-queue-status), stop the VM,
write an ELF memory dump (dump-guest-memory) and quit QEMU.

    qmp_dump.py QMP_SOCKET CONSOLE_LOG DUMP_FILE QUEUES_JSON TRANSCRIPT [TRACE]

With TRACE (QEMU's trace file), the VM is stopped only after the trace has been quiet for a
second: a driver caught between rewriting a free chain's descriptors and making it available
(Linux's control queue reuses head 0 for every command, and an IPv6 address configured late
changes the receive filter) leaves a chain no snapshot can tell from a completed one.

QUEUES_JSON lists, per device, its queues with the ring addresses, size and QEMU's own
indices, and the features that matter to `vqscope inspect`. TRANSCRIPT is the raw QMP
exchange (one JSON message per line, commands and replies as sent and received), what
`vqscope inspect --qmp` reads. Python 3 stdlib only.
x-query-virtio-queue-element is never used: on an idle queue it can break the device.
"""
import json
import os
import socket
import sys
import time


class QMP:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(100):
            try:
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.1)
        self.file = self.sock.makefile("rw")
        self.transcript = []
        json.loads(self.file.readline())  # greeting
        self.command("qmp_capabilities")

    def command(self, name, **arguments):
        message = {"execute": name}
        if arguments:
            message["arguments"] = arguments
        self.file.write(json.dumps(message) + "\n")
        self.file.flush()
        self.transcript.append(message)
        while True:
            reply = json.loads(self.file.readline())
            self.transcript.append(reply)
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise RuntimeError(f"{name}: {reply['error']}")
            # an asynchronous event: keep reading


def main():
    socket_path, console, dump, out, transcript = sys.argv[1:6]
    trace = sys.argv[6] if len(sys.argv) > 6 else None
    deadline = time.time() + 150
    while time.time() < deadline:
        if os.path.exists(console) and "traffic done" in open(console, errors="replace").read():
            break
        time.sleep(0.5)
    else:
        sys.exit("qmp_dump: the guest never printed 'traffic done'")
    time.sleep(2)  # let the last interrupts settle
    if trace:
        quiet_since, size = time.time(), os.path.getsize(trace)
        while time.time() < deadline and time.time() - quiet_since < 1.0:
            time.sleep(0.1)
            if os.path.getsize(trace) != size:
                quiet_since, size = time.time(), os.path.getsize(trace)
    qmp = QMP(socket_path)
    qmp.command("stop")
    devices = []
    for device in qmp.command("x-query-virtio"):
        status = qmp.command("x-query-virtio-status", path=device["path"])
        features = status["guest-features"]
        transports = [f.split(":")[0] for f in features.get("transports", [])]
        queues = []
        for index in range(status["num-vqs"]):
            queue = qmp.command("x-query-virtio-queue-status", path=device["path"], queue=index)
            if queue["vring-desc"] == 0 or queue["vring-num"] == 0:
                continue
            queues.append({
                "index": index, "desc": queue["vring-desc"], "avail": queue["vring-avail"],
                "used": queue["vring-used"], "size": queue["vring-num"], "usedIdx": queue["used-idx"],
                "lastAvailIdx": queue["last-avail-idx"], "shadowAvailIdx": queue["shadow-avail-idx"],
                "inuse": queue["inuse"],
            })
        devices.append({
            "name": status["name"], "path": device["path"],
            "eventIdx": "VIRTIO_RING_F_EVENT_IDX" in transports or "VIRTIO_F_EVENT_IDX" in transports,
            "indirect": "VIRTIO_RING_F_INDIRECT_DESC" in transports or "VIRTIO_F_INDIRECT_DESC" in transports,
            "packed": "VIRTIO_F_RING_PACKED" in transports,
            "transports": transports, "queues": queues,
        })
    # The block devices' capacities: query-block names each drive's device by its QOM path.
    sizes = {block["qdev"]: block["inserted"]["image"]["virtual-size"]
             for block in qmp.command("query-block") if block.get("qdev") and block.get("inserted")}
    for device in devices:
        holder = device["path"].removesuffix("/virtio-backend")
        size = sizes.get(device["path"], sizes.get(holder))
        if size is not None:
            device["capacitySectors"] = size // 512
    qmp.command("dump-guest-memory", paging=False, protocol="file:" + os.path.abspath(dump))
    json.dump(devices, open(out, "w"), indent=2)
    with open(transcript, "w") as file:
        file.writelines(json.dumps(message) + "\n" for message in qmp.transcript)
    try:
        qmp.command("quit")
    except (OSError, ValueError, json.JSONDecodeError):
        pass


if __name__ == "__main__":
    main()
