import ArgumentParser
import Foundation
import GuestMemory
import Testing
import VirtioAnalysis
import VirtioTestSupport

@testable import vqscope

struct InspectCLITests {
    /// A raw image from a rule's hand-written memory layout, written to a temporary file.
    static func image(_ rule: String, _ file: String) throws -> (MemoryFixture, TemporaryFile) {
        let text = try #require(Fixtures.text("traces/rules/\(rule)/\(file)"))
        let fixture = try MemoryFixture(json: text)
        return (fixture, TemporaryFile(bytes: fixture.bytes, name: "mem.raw"))
    }

    @Test("a clean raw image: exit 0, the chain listed")
    func clean() throws {
        let (fixture, file) = try Self.image("SPLIT-ALIGN", "clean.handwritten.json")
        defer { file.remove() }
        let result = Inspect.execute(
            dump: file.path, base: fixture.base, queues: [fixture.queue], options: fixture.options, format: .text,
            failOn: .error)
        #expect(result.code == 0)
        #expect(result.output.contains("avail.idx 1 (flags 0), used.idx 0 (flags 0), 1 chain(s) owned by the device"))
        #expect(result.output.contains("Findings (0: 0 error, 0 warning, 0 note)"))
    }

    @Test("a violation: exit 1, and JSON with the finding and the decoded chain")
    func violation() throws {
        let (fixture, file) = try Self.image("SPLIT-INDIRECT-NOT-NEXT", "violates.handwritten.json")
        defer { file.remove() }
        let result = Inspect.execute(
            dump: file.path, base: fixture.base, queues: [fixture.queue], options: fixture.options, format: .json,
            failOn: .error)
        #expect(result.code == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "vqscope.inspection")
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.map { $0["rule"] as? String } == ["SPLIT-INDIRECT-NOT-NEXT"])
        let queue = try #require((object["queues"] as? [[String: Any]])?.first)
        let chain = try #require((queue["chains"] as? [[String: Any]])?.first)
        #expect((chain["descriptors"] as? [[String: Any]])?.count == 3)
        #expect(chain["writableBytes"] as? Int == 32)
    }

    @Test("missing dumps exit 66; unknown formats and raw images without --base exit 65")
    func badDumps() {
        let queue = SplitQueueAddresses(descriptorTable: 0, availRing: 0x1000, usedRing: 0x2000, size: 8)
        #expect(Inspect.execute(dump: "/nonexistent", base: nil, queues: [queue], format: .text, failOn: .error).code == 66)
        let file = TemporaryFile(text: "makedumpfile\u{0}\u{0}\u{0}\u{0}", name: "flat")
        defer { file.remove() }
        let flattened = Inspect.execute(dump: file.path, base: nil, queues: [queue], format: .text, failOn: .error)
        #expect(flattened.code == 65 && flattened.diagnostics.contains("flattened"))
        let raw = TemporaryFile(bytes: [UInt8](repeating: 0, count: 4096), name: "raw")
        defer { raw.remove() }
        let noBase = Inspect.execute(dump: raw.path, base: nil, queues: [queue], format: .text, failOn: .error)
        #expect(noBase.code == 65 && noBase.diagnostics.contains("--base"))
    }

    @Test("usage errors exit 64", arguments: [
        ["inspect", "--dump", "x"], ["inspect", "--dump", "x", "--queue", "desc=1,avail=2"],
        ["inspect", "--dump", "x", "--queue", "desc=1,avail=2,used=3,size=70000"],
        ["inspect", "--dump", "x", "--base", "0xZZ", "--queue", "desc=1,avail=2,used=3,size=8"],
    ])
    func usage(arguments: [String]) {
        do {
            var command = try VQScope.parseAsRoot(arguments)
            try command.validate()
            Issue.record("accepted \(arguments)")
        } catch {
            #expect(VQScope.exitCode(for: error).rawValue == 64, "\(arguments)")
        }
    }
}
