import Testing
import TraceSources
import VirtioAnalysis
import VirtioModel
import VirtioTestSupport

/// Received frames the recorder copied while their buffer was offered again, judged against
/// the trace of the same run (``RefilledCopies``).
struct RefilledCopiesTests {
    static let net = RefilledRunFixture.device

    static func copy(_ position: UInt16, length: UInt32, copied microseconds: Int64, line: Int, type: DeviceType? = .network) -> RefilledCopy {
        RefilledCopy(
            device: Self.net, type: type, queue: 0, position: position, length: length, copied: RefilledRunFixture.base + microseconds * 1_000, line: line)
    }

    static func whole(_ copies: [RefilledCopy], trace text: String) throws -> Set<Int> {
        let trace = TemporaryFile(text: text)
        defer { trace.remove() }
        let recorded = Dictionary(copies.map { ($0.device, RecordedDevice(type: $0.type)) }, uniquingKeysWith: { first, _ in first })
        return try RefilledCopies.whole(copies, recorded: recorded, analysis: try analyze(trace.path), trace: trace.path)
    }

    @Test("a copy is whole when the device took no buffer between the frame's fill and the copy's end; a take during it, another length, a fill after the copy, or a frame counted before a reset is not")
    func judged() throws {
        // Frames 0 and 1 at 100 and 300 µs; the device reset at 500 µs; frame 0 again at 600 µs,
        // frame 1 at 2000 µs.
        let text = RefilledRunFixture.trace(
            RefilledRunFixture.received(100, length: 74) + RefilledRunFixture.received(300, length: 73)
                + [(500, "virtio_set_status vdev 0x55d0c0003000 val 0")]
                + RefilledRunFixture.received(600, length: 600) + RefilledRunFixture.received(2000, length: 62))
        let report = try analyze(text: text)
        #expect(report.devices.map(\.type) == [.network])
        let copies = [
            // Complete at 200 µs; the next take at 300 µs.
            Self.copy(0, length: 74, copied: 200, line: 10),
            // Complete at 350 µs: the take at 300 µs may have been this buffer's.
            Self.copy(0, length: 74, copied: 350, line: 11),
            // Within 1 µs of a take: taken as during it.
            Self.copy(0, length: 74, copied: 299, line: 12),
            // Another length than the fill's at that position.
            Self.copy(1, length: 999, copied: 400, line: 13),
            // The fill at that position after the copy: not this frame's.
            Self.copy(1, length: 62, copied: 1500, line: 14),
            // Position 0 after the reset (length 600), then no take until 2000 µs.
            Self.copy(0, length: 600, copied: 1900, line: 15),
            // Position 1 after the reset, nothing taken after it.
            Self.copy(1, length: 62, copied: 3000, line: 16),
        ]
        #expect(try Self.whole(copies, trace: text) == [10, 15, 16])
    }

    @Test("nothing is whole when the recorded device is not joined with the trace's (another type, or two recorded of its type), or the trace has no times")
    func unjoined() throws {
        let text = RefilledRunFixture.trace(RefilledRunFixture.received(100, length: 74))
        #expect(try Self.whole([Self.copy(0, length: 74, copied: 200, line: 3)], trace: text) == [3])
        #expect(try Self.whole([Self.copy(0, length: 74, copied: 200, line: 3, type: .block)], trace: text).isEmpty)
        var other = Self.copy(0, length: 74, copied: 200, line: 4)
        other.device = "virtio-net@/m"
        #expect(try Self.whole([Self.copy(0, length: 74, copied: 200, line: 3), other], trace: text).isEmpty)
        let untimed = text.split(separator: "\n").map { $0.split(separator: ":", maxSplits: 1)[1] }.joined(separator: "\n") + "\n"
        #expect(try Self.whole([Self.copy(0, length: 74, copied: 200, line: 3)], trace: untimed).isEmpty)
    }

    @Test("hostile: 65536 copies of one frame complete at the end of time, a reset before each of 20000 fills and a take after each: no copy past the first 16 of a position is judged, each take decides the open ones at once")
    func hostile() throws {
        let cycle = [
            (200, "virtio_set_status vdev 0x55d0c0003000 val 0"),
            (201, "virtqueue_fill vq 0x7f000000a000 elem 0x55d0c0008000 len 74 idx 0"),
            (202, "virtqueue_pop vq 0x7f000000a000 elem 0x55d0c0008000 in_num 1 out_num 0"),
        ]
        let text = RefilledRunFixture.trace(RefilledRunFixture.received(100, length: 74) + Array((0..<20_000).map { _ in cycle }.joined()))
        let copies = (0..<RefilledCopies.maximumCopies + 10).map { line in
            RefilledCopy(device: Self.net, type: .network, queue: 0, position: 0, length: 74, copied: .max, line: line)
        }
        #expect(try Self.whole(copies, trace: text).isEmpty)
        // Without the takes after them, the first 16 are whole and no other.
        let untaken = RefilledRunFixture.trace(RefilledRunFixture.received(100, length: 74) + [cycle[0], cycle[1]])
        #expect(try Self.whole(copies, trace: untaken) == Set(0..<16))
    }
}
