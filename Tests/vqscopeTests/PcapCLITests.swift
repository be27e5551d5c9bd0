import ArgumentParser
import Foundation
import PcapExport
import Testing
import VirtioTestSupport

@testable import vqscope

/// `vqscope pcap` through its parsed command line, in process.
struct PcapCLITests {
    static let queue = "desc=0x40001000,avail=0x40002000,used=0x40003000,size=8,index=1"
    static let features = "VIRTIO_F_VERSION_1,VIRTIO_NET_F_MRG_RXBUF"

    /// Runs `vqscope pcap ARGUMENTS` on the rule's layout written as a raw image.
    static func run(_ file: String, _ arguments: [String]) throws -> (result: (output: String, diagnostics: String, code: Int32), pcap: String, side: String) {
        let text = try #require(Fixtures.text("traces/rules/PCAP-FRAME-SKIPPED/\(file)"))
        let image = TemporaryFile(bytes: try MemoryFixture(json: text).bytes, name: "mem.raw")
        defer { image.remove() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vqscope-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let pcap = directory + "/frames.pcap"
        let side = directory + "/frames.jsonl"
        var command = try VQScope.parseAsRoot(
            ["pcap", "--dump", image.path, "--base", "0x40000000", "--queue", Self.queue, "--device", "net",
             "--features", Self.features, "-o", pcap, "--vnet-hdr", side] + arguments)
        try command.validate()
        let parsed = try #require(command as? Pcap)
        let result = Pcap.execute(
            location: parsed.location, output: parsed.output, vnetHeader: parsed.vnetHeader, failOn: parsed.failOn)
        return (result, pcap, side)
    }

    @Test("the clean layout: one ARP frame in a pcap libpcap reads back, and a side-file line with its header")
    func clean() throws {
        let (result, pcap, side) = try Self.run("clean.handwritten.json", [])
        defer { try? FileManager.default.removeItem(atPath: (pcap as NSString).deletingLastPathComponent) }
        #expect(result.code == 0)
        #expect(result.output.hasPrefix("vqscope: 1 frame(s) to \(pcap): 1 transmitted, 0 received, from 1 net queue(s)"))
        var records: [PcapRecord] = []
        #expect(try PcapReader.read(path: pcap) { records.append($0) } == 1)
        #expect(records.map(\.bytes.count) == [42] && records.first?.bytes.prefix(6) == [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        let lines = try String(contentsOfFile: side, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines.first?.contains(#""schema": "vqscope.vnet-hdr""#) == true)
        let frame = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(frame["frame"] as? Int == 1 && frame["direction"] as? String == "tx" && frame["queue"] as? Int == 1)
        #expect(frame["timestamp"] as? String == "dump" && frame["length"] as? Int == 42)
        #expect((frame["vnetHdr"] as? [String: Any])?["numBuffers"] as? Int == 0)
    }

    @Test("the violating layout: three frames skipped with findings, the pcap still valid; --fail-on warning exits 1")
    func skipped() throws {
        let (result, pcap, _) = try Self.run("violates.handwritten.json", ["--fail-on", "warning"])
        defer { try? FileManager.default.removeItem(atPath: (pcap as NSString).deletingLastPathComponent) }
        #expect(result.code == 1)
        #expect(result.output.components(separatedBy: "warning PCAP-FRAME-SKIPPED").count - 1 == 3)
        var count = 0
        _ = try PcapReader.read(path: pcap) { _ in count += 1 }
        #expect(count == 1)
    }

    @Test("usage: a trace given twice, and no queue source at all, are usage errors (64)")
    func usage() throws {
        #expect(throws: (any Error).self) {
            var command = try VQScope.parseAsRoot(["pcap", "t.log", "--trace", "t.log", "--dump", "d", "-o", "x.pcap"])
            try command.validate()
        }
        do {
            var command = try VQScope.parseAsRoot(["pcap", "--dump", "d", "-o", "x.pcap"])
            try command.validate()
            Issue.record("validated without a queue source")
        } catch {
            #expect(VQScope.exitCode(for: error).rawValue == 64)
        }
    }

    @Test("a missing dump exits 66 and writes nothing")
    func missing() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("vqscope-\(UUID()).pcap").path
        let parsed = try #require(
            try VQScope.parseAsRoot(["pcap", "--dump", "/nonexistent/dump.elf", "--queue", Self.queue, "-o", output])
                as? Pcap)
        let result = Pcap.execute(location: parsed.location, output: parsed.output, vnetHeader: nil, failOn: .error)
        #expect(result.code == 66 && result.diagnostics.contains("/nonexistent/dump.elf"))
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
