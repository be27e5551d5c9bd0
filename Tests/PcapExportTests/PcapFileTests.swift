import Foundation
import PcapExport
import Testing
import VirtioTestSupport

/// pcap files written through libpcap and read back the same way (and by tcpdump where it is
/// installed).
struct PcapFileTests {
    /// A 60-byte ARP request from 52:54:00:12:34:56 asking for 10.0.2.2.
    static let arp: [UInt8] =
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06]
        + [0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0, 2, 15]
        + [0, 0, 0, 0, 0, 0, 10, 0, 2, 2] + [UInt8](repeating: 0, count: 18)

    @Test("frames written with libpcap read back byte for byte, with their timestamps, as Ethernet")
    func roundTrip() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vqscope-\(UUID()).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try PcapWriter(path: path)
        writer.write(Self.arp, at: PcapTimestamp(seconds: 1_700_000_000, microseconds: 123_456))
        writer.write([UInt8](repeating: 0xab, count: 70_000), at: PcapTimestamp(nanoseconds: 1_700_000_001_999_999_999))
        try writer.close()
        #expect(writer.framesWritten == 2)
        var records: [PcapRecord] = []
        let linkType = try PcapReader.read(path: path) { records.append($0) }
        #expect(linkType == 1)
        #expect(records.count == 2)
        #expect(records.first?.bytes == Self.arp && records.first?.timestamp == PcapTimestamp(seconds: 1_700_000_000, microseconds: 123_456))
        // Longer than the snapshot length: stored cut, with its real length.
        #expect(records.last?.bytes.count == 65_535 && records.last?.originalLength == 70_000)
        #expect(records.last?.timestamp == PcapTimestamp(seconds: 1_700_000_001, microseconds: 999_999))
    }

    @Test("a directory that does not exist, and a file that is not pcap: errors with libpcap's reason")
    func errors() throws {
        #expect(throws: PcapError.self) { _ = try PcapWriter(path: "/nonexistent-dir/x.pcap") }
        let text = TemporaryFile(text: "not a pcap file\n", name: "x.pcap")
        defer { text.remove() }
        #expect(throws: PcapError.self) { _ = try PcapReader.read(path: text.path) { _ in } }
    }

    @Test("tcpdump decodes the written ARP frame", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump")))
    func tcpdump() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vqscope-\(UUID()).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try PcapWriter(path: path)
        writer.write(Self.arp, at: PcapTimestamp(seconds: 0, microseconds: 0))
        try writer.close()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/tcpdump")
        process.arguments = ["-n", "-r", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = Pipe()
        try process.run()
        process.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0)
        #expect(output.contains("ARP, Request who-has 10.0.2.2 tell 10.0.2.15"))
    }
}
