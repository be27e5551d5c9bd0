import Foundation
import GuestMemory
import Testing
import VirtioAnalysis
import VirtioModel
import VirtioTestSupport

/// The frames `vqscope pcap` finds in a dump's net queues.
struct NetFramesTests {
    /// A receive queue (index 0) of 1536-byte buffers at 0x40008000 + 0x800·i, used in order
    /// with `lengths`; `headers` puts a virtio_net_hdr with num_buffers n at buffer i, and
    /// `payload` bytes after the header of buffer 0 and at the start of buffer 1.
    static func receive(lengths: [Int], headers: [(Int, Int)], features: String = #""VIRTIO_F_VERSION_1", "VIRTIO_NET_F_MRG_RXBUF""#)
        -> String
    {
        let descriptors = (0..<4).map {
            #"{"index": \#($0), "addr": "0x\#(String(0x4000_8000 + $0 * 0x800, radix: 16))", "len": 1536, "flags": ["write"]}"#
        }
        let used = lengths.enumerated().map { "[\($0.offset), \($0.element)]" }
        let bytes = headers.map { buffer, count in
            #"{"addr": "0x\#(String(0x4000_8000 + buffer * 0x800, radix: 16))", "values": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, \#(count), 0, 170, 187]}"#
        } + [#"{"addr": "0x40008800", "values": [204, 221]}"#]
        return """
            {"base": "0x40000000", "size": 65536, "device": "net", "features": [\(features)],
             "queue": {"desc": "0x40001000", "avail": "0x40002000", "used": "0x40003000", "size": 8, "index": 0},
             "descriptors": [\(descriptors.joined(separator: ", "))],
             "avail": {"idx": 4, "ring": [0, 1, 2, 3]}, "used": {"idx": \(lengths.count), "ring": [\(used.joined(separator: ", "))]},
             "bytes": [\(bytes.joined(separator: ", "))]}
            """
    }

    @Test("a received packet of two merged buffers is one frame: the header removed, the buffers joined up to each len")
    func mergedReceive() throws {
        // Packet 1: buffers 0 (full) and 1 (20 bytes); packet 2: buffer 2 alone (60 bytes).
        let exported = try MemoryFixture(json: Self.receive(lengths: [1536, 20, 60], headers: [(0, 2), (2, 1)])).frames()
        #expect(exported.findings.isEmpty && exported.unreadable == 0)
        #expect(exported.frames.map(\.bytes.count) == [1536 - 12 + 20, 60 - 12])
        #expect(exported.frames.map(\.usedIndex) == [0, 2] && exported.frames.map(\.direction) == [.receive, .receive])
        let first = try #require(exported.frames.first)
        #expect(first.bytes.prefix(2) == [170, 187] && first.bytes[1524...].prefix(2) == [204, 221])
        #expect(first.header.flags == 1 && first.bufferCount == 2 && first.origin == .completed)
    }

    @Test("without MRG_RXBUF (legacy, 10-byte header) every used buffer is one frame")
    func legacyReceive() throws {
        let layout = Self.receive(lengths: [100, 50], headers: [(0, 2), (1, 9)], features: "")
        let exported = try MemoryFixture(json: layout).frames()
        #expect(exported.frames.map(\.bytes.count) == [90, 40] && exported.frames.allSatisfy { $0.bufferCount == nil })
    }

    @Test("a used len beyond the buffer, and a packet whose buffers are not all in the ring: skipped or counted")
    func receiveSkips() throws {
        let over = try MemoryFixture(json: Self.receive(lengths: [2000], headers: [(0, 1)])).frames()
        #expect(over.frames.isEmpty)
        #expect(over.findings.map(\.message) == ["RX chain at head 0: the device claims 2000 bytes written into 1536 writable"])
        // num_buffers 2 with one buffer used: NET-RX-NUMBUF's; nothing to export.
        let short = try MemoryFixture(json: Self.receive(lengths: [1536], headers: [(0, 2)])).frames()
        #expect(short.frames.isEmpty && short.findings.isEmpty)
    }
}
