import Foundation

/// A net device's receive traffic as QEMU traces it and `vqscope record` records it, for the
/// frames copied while their buffer was offered again (`refilled`): the device 0x55d0c0003000
/// driven as U-Boot drives one — receive queue 0 (vq …a000), transmit queue 1 (vq …b000), one
/// buffer taken and filled at a time — on the trace's clock from 1700000000 s.
public enum RefilledRunFixture {
    /// 1700000000 s in nanoseconds.
    public static let base: Int64 = 1_700_000_000_000_000_000
    public static let device = "virtio-net@/n"

    /// The trace: the device's reset and notifications, then `events` (`(microseconds past
    /// base, event text)`).
    public static func trace(_ events: [(Int, String)]) -> String {
        ([
            traceLine(1, "virtio_set_status vdev 0x55d0c0003000 val 0"),
            traceLine(2, "virtio_queue_notify vdev 0x55d0c0003000 n 0 vq 0x7f000000a000"),
            traceLine(3, "virtio_queue_notify vdev 0x55d0c0003000 n 1 vq 0x7f000000b000"),
            traceLine(4, "virtqueue_pop vq 0x7f000000b000 elem 0x55d0c0009000 in_num 0 out_num 2"),
            traceLine(5, "virtqueue_fill vq 0x7f000000b000 elem 0x55d0c0009000 len 0 idx 0"),
            traceLine(6, "virtqueue_flush vq 0x7f000000b000 count 1"),
        ] + events.map { traceLine($0.0, $0.1) }).joined(separator: "\n") + "\n"
    }

    /// One frame received at `time` µs past base: the device takes a buffer (`virtqueue_pop`),
    /// fills it with `length` bytes a microsecond later, and flushes.
    public static func received(_ time: Int, length: Int) -> [(Int, String)] {
        [
            (time, "virtqueue_pop vq 0x7f000000a000 elem 0x55d0c0008000 in_num 1 out_num 0"),
            (time + 1, "virtqueue_fill vq 0x7f000000a000 elem 0x55d0c0008000 len \(length) idx 0"),
            (time + 2, "virtqueue_flush vq 0x7f000000a000 count 1"),
        ]
    }

    /// The frame of used element `index`: a 10-byte virtio_net_hdr (legacy, no features) and
    /// 60 bytes of Ethernet frame, each byte `index + 1`.
    public static func frame(_ index: Int) -> [UInt8] { [UInt8](repeating: 0, count: 10) + [UInt8](repeating: UInt8(index + 1), count: 60) }

    /// A run directory: three frames received at 100, 300 and 2000 µs, each recorded as copied
    /// while its buffer was offered again, complete at `copied[i]` µs; returns the directory and
    /// the line of each frame's `used` line.
    public static func directory(copied: [Int64]) throws -> (path: String, lines: [Int]) {
        let path = NSTemporaryDirectory() + "vqscope-refilled-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var rings = [
            #"{"kind": "header", "schema": "vqscope.rings", "version": 2}"#,
            #"{"kind": "queue", "t": 1, "device": "\#(Self.device)", "type": "net", "queue": 0, "size": 8, "features": 0, "role": "rx", "packed": false}"#,
            #"{"kind": "queue", "t": 1, "device": "\#(Self.device)", "type": "net", "queue": 1, "size": 8, "features": 0, "role": "tx", "packed": false}"#,
        ]
        var lines: [Int] = []
        for (index, time) in copied.enumerated() {
            let hex = Self.frame(index).map { String(format: "%02x", $0) }.joined()
            rings.append(
                #"{"kind": "avail", "t": 1, "device": "\#(Self.device)", "queue": 0, "index": \#(index), "head": 0, "descriptors": [[32768, 1526, 2, 0]], "writable": 1526, "defects": []}"#)
            rings.append(
                #"{"kind": "used", "t": 2, "device": "\#(Self.device)", "queue": 0, "index": \#(index), "id": 0, "len": 70, "data": "\#(hex)", "refilled": true, "copied": \#(Self.base + time * 1_000)}"#)
            lines.append(rings.count)
        }
        try (rings.joined(separator: "\n") + "\n").write(toFile: path + "/rings.jsonl", atomically: true, encoding: .utf8)
        let trace = Self.trace(Self.received(100, length: 70) + Self.received(300, length: 70) + Self.received(2000, length: 70))
        try trace.write(toFile: path + "/trace.log", atomically: true, encoding: .utf8)
        return (path, lines)
    }
}
