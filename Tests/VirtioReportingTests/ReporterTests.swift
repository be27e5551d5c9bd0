import Foundation
import Testing
import TraceSources
import VirtioAnalysis
import VirtioReporting
import VirtioTestSupport

struct ReporterTests {
    static let trace = """
        1@1700000000.000010:virtio_set_status vdev 0x1000 val 1
        1@1700000000.000020:virtio_set_status vdev 0x1000 val 3
        1@1700000000.000030:virtio_set_status vdev 0x1000 val 11
        1@1700000000.000040:virtio_set_status vdev 0x1000 val 15
        1@1700000000.000050:virtio_queue_notify vdev 0x1000 n 0 vq 0x2000
        1@1700000000.000060:virtqueue_pop vq 0x2000 elem 0x3000 in_num 1 out_num 0
        1@1700000000.000070:virtio_rng_pushed rng 0x1000: 16 bytes pushed
        1@1700000000.000090:virtqueue_fill vq 0x2000 elem 0x3000 len 16 idx 0
        1@1700000000.000100:virtqueue_flush vq 0x2000 count 1
        1@1700000000.000110:virtio_notify vdev 0x1000 vq 0x2000
        1@1700000000.000120:virtio_set_status vdev 0x1000 val 11
        2023-11-14T22:13:20.000200Z qemu-system-x86_64: Desc next is 65535 "quoted" \\ path

        """

    @Test("the text report has aligned tables, the findings with sections, and no colour unless asked")
    func text() throws {
        let report = try analyze(text: Self.trace)
        let plain = TextReporter.render(report, color: false)
        #expect(plain.contains("entropy@0x1000"))
        #expect(plain.contains("Clock: wall clock, 2023-11-14T22:13:20.000010Z to 2023-11-14T22:13:20.000200Z (190.0 µs)"))
        #expect(plain.contains("error STATUS-NO-CLEAR"))
        #expect(plain.contains("— §2.1.1"))
        #expect(!plain.contains("\u{1B}["))
        // Every row of the queue table is as wide as its header up to the last column.
        let lines = plain.split(separator: "\n", omittingEmptySubsequences: false)
        let header = try #require(lines.firstIndex { $0.contains("KICKS") && $0.contains("POPS") })
        let headerWidth = try #require(lines[header].range(of: "INFL@END")).upperBound
        let row = lines[header + 1]
        #expect(row.distance(from: row.startIndex, to: row.endIndex) == lines[header].distance(from: lines[header].startIndex, to: headerWidth))
        let coloured = TextReporter.render(report, color: true)
        #expect(coloured.contains("\u{1B}[31;1merror\u{1B}[0m STATUS-NO-CLEAR"))
    }

    @Test("the JSON report escapes text, orders keys and carries every documented field")
    func json() throws {
        let report = try analyze(text: Self.trace)
        let text = JSONReporter.render(report, toolVersion: "9.9.9")
        #expect(text.hasPrefix("{\n  \"schema\": \"vqscope.report\",\n  \"schemaVersion\": 1,"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["schema", "schemaVersion", "tool", "input", "devices", "memory", "recording", "findings", "summary"])
        #expect(object["memory"] is NSNull && object["recording"] is NSNull)  // no --dump, not a recorded run
        let input = try #require(object["input"] as? [String: Any])
        #expect(input["clock"] as? String == "wall")
        #expect(input["spanNs"] as? Int == 190_000)
        #expect(input["virtioEvents"] as? Int == 12 && input["timestampedEvents"] as? Int == 12)
        let device = try #require((object["devices"] as? [[String: Any]])?.first)
        #expect(device["type"] as? String == "entropy" && device["deviceID"] as? Int == 4)
        #expect(device["statusHistory"] as? [Int] == [1, 3, 11, 15, 11])
        let queue = try #require((device["queues"] as? [[String: Any]])?.first)
        let latency = try #require(queue["latency"] as? [String: [String: Any]])
        #expect(Set(latency.keys) == ["kickToPop", "popToFill", "fillToFlush", "flushToInterrupt"])
        #expect(latency["popToFill"]?["maxNs"] as? Int == 30_000)
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.map { $0["rule"] as? String } == ["STATUS-NO-CLEAR", "SPLIT-NEXT-IN-RANGE"])
        let summary = try #require(object["summary"] as? [String: Any])
        #expect(summary["highestSeverity"] as? String == "error")
        #expect((summary["byRule"] as? [String: Int]) == ["STATUS-NO-CLEAR": 1, "SPLIT-NEXT-IN-RANGE": 1])
        // Identical input gives byte-identical output.
        let file = TemporaryFile(text: Self.trace)
        defer { file.remove() }
        #expect(JSONReporter.render(try analyze(file.path), toolVersion: "1") == JSONReporter.render(try analyze(file.path), toolVersion: "1"))
    }

    @Test("a trace without timestamps says so and reports no latency")
    func untimed() throws {
        let untimed = Self.trace.split(separator: "\n").filter { $0.hasPrefix("1@") }
            .map { $0[$0.index(after: $0.firstIndex(of: ":")!)...] }.joined(separator: "\n")
        let report = try analyze(text: untimed + "\n")
        #expect(report.devices.first?.queues.first?.pops == 1)
        let text = TextReporter.render(report, color: false)
        #expect(text.contains("the trace has no timestamps"))
        #expect(!text.contains("Latency ("))
    }

    @Test("the rules listing as JSON names every rule once")
    func rulesJSON() throws {
        let text = RulesListing.json(RuleCatalog.all)
        let rules = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(rules.count == RuleCatalog.all.count)
        #expect(rules.first?["rule"] as? String == "INIT-SEQUENCE")
    }

    @Test("JSON strings: text without escapes copied whole; quotes, backslashes and control characters escaped; other scalars kept")
    func quoting() throws {
        #expect(JSONWriter.quoted("virtio-net@/machine/peripheral/net0") == #""virtio-net@/machine/peripheral/net0""#)
        #expect(JSONWriter.quoted("") == #""""#)
        #expect(JSONWriter.quoted("a \"b\" \\ c\nd\te\u{1}f — ü") == #""a \"b\" \\ c\nd\te\u0001f — ü""#)
        for text in ["plain", "q\"", "\u{1f}", "é\r"] {
            let decoded = try JSONSerialization.jsonObject(with: Data(JSONWriter.quoted(text).utf8), options: .fragmentsAllowed)
            #expect(decoded as? String == text)
        }
    }
}
