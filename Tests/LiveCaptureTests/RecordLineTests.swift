import Foundation
import Testing
import VirtioAnalysis

@testable import LiveCapture

/// `rings.jsonl` lines built as bytes (``RecordLine``) are the JSON the replay reads.
struct RecordLineTests {
    @Test("integers at their bounds, hex, booleans and defects with characters JSON escapes make one JSON object with those values")
    func fields() throws {
        let directory = NSTemporaryDirectory() + "vqscope-line-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = try RingRecordWriter(path: directory + "/rings.jsonl")
        var line = RecordLine("used", location: "\"device\": \"virtio-net@/t\", \"queue\": 2")
        line.field("zero", 0)
        line.field("max", UInt64.max)
        line.field("min", Int64.min)
        line.field("write", false)
        line.field("data", hex: [0x00, 0x09, 0xAB, 0xFF])
        line.defects([ChainDefectFinding(rule: "SPLIT-CHAIN-RW-ORDER", message: "a \"quoted\"\nmessage")])
        writer.write(line)
        writer.flush()
        let text = try String(contentsOfFile: directory + "/rings.jsonl", encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2 && text.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(object["kind"] as? String == "used" && object["device"] as? String == "virtio-net@/t" && object["queue"] as? Int == 2)
        #expect(object["zero"] as? Int == 0 && object["min"] as? Int64 == Int64.min && object["write"] as? Bool == false)
        #expect(lines[1].contains("\"max\": 18446744073709551615"))
        #expect(object["data"] as? String == "0009abff")
        let defects = try #require(object["defects"] as? [[String: String]])
        #expect(defects == [["rule": "SPLIT-CHAIN-RW-ORDER", "message": "a \"quoted\"\nmessage"]])
        #expect((object["t"] as? Int).map { $0 > 1_700_000_000_000_000_000 } == true)
    }
}
