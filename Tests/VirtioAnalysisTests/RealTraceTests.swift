import Foundation
import Testing
import TraceSources
import VirtioAnalysis
import VirtioModel
import VirtioTestSupport

/// The traces captured from real guests under Debian's QEMU (traces/real/, re-created by
/// traces/capture/). Each has an expected-results file whose counts come from an independent
/// oracle (traces/capture/count_events.py) and whose findings are real driver deviations
/// explained in traces/README.md.
struct RealTraceTests {
    static let traces = Fixtures.list(Fixtures.realTraces).filter { $0.hasSuffix(".expected.json") }
        .map { String($0.dropLast(".expected.json".count)) }

    static func expected(_ name: String) throws -> [String: Any] {
        let text = try #require(Fixtures.text(Fixtures.realTraces + "/\(name).expected.json"))
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    static func hex(_ text: String) -> UInt64? { UInt64(text.dropFirst(2), radix: 16) }

    @Test("the corpus holds the captures issue 2 asks for")
    func corpus() {
        #expect(Self.traces.count >= 5)
        for name in ["linux-pci", "linux-mmio", "linux-mmio-legacy", "seabios-blk", "seabios-blk-notime"] {
            #expect(Self.traces.contains(name), "\(name)")
        }
    }

    @Test("device types, transports and per-queue counts match the oracle", arguments: Self.traces)
    func devicesAndCounts(name: String) throws {
        let expected = try Self.expected(name)
        let report = try analyze(Fixtures.realTraces + "/\(name).log.xz")
        let devices = try #require(expected["devices"] as? [[String: Any]])
        // QEMU's messages (guest errors) are not trace events for the oracle, but are decoded here.
        let messages = report.findings.filter { $0.message.hasPrefix("QEMU reported") }.count
        #expect(report.input.virtioEvents + report.input.otherEvents - messages == expected["eventLines"] as? Int)
        #expect(report.timestamped == (expected["timestamps"] as? Bool))
        let transport = try #require(expected["transport"] as? String)
        for device in devices {
            let vdevText = try #require(device["vdev"] as? String)
            let vdev = try #require(Self.hex(vdevText))
            let actual = try #require(report.devices.first { $0.vdev == vdev }, "device \(vdev) missing")
            #expect(actual.type?.shortName == (device["type"] as? String).map { $0 == "entropy" ? "entropy" : $0 })
            #expect(actual.transport.rawValue == transport.replacingOccurrences(of: "-legacy", with: ""))
            if transport.hasPrefix("virtio-mmio") {
                #expect(actual.mmioVersion == (transport.hasSuffix("legacy") ? .legacy : .modern), "\(actual.label)")
            }
            #expect(actual.statusHistory.map(Int.init) == (device["statuses"] as? [Int] ?? []).prefix(64).map { $0 })
            let queues = try #require(device["queues"] as? [[String: Any]])
            for queue in queues {
                let index = try #require(queue["index"] as? Int)
                let got = try #require(actual.queues.first { $0.index == index }, "\(actual.label) queue \(index)")
                #expect(got.pops == queue["pops"] as? Int, "\(actual.label) q\(index) pops")
                #expect(got.fills == queue["fills"] as? Int, "\(actual.label) q\(index) fills")
                #expect(got.flushes == queue["flushes"] as? Int, "\(actual.label) q\(index) flushes")
                #expect(Int(got.flushedElements) == queue["flushedElements"] as? Int, "\(actual.label) q\(index)")
                #expect(got.kicks + got.qemuNotifies == queue["notifies"] as? Int, "\(actual.label) q\(index) notifies")
                #expect(got.interrupts == queue["interrupts"] as? Int, "\(actual.label) q\(index) interrupts")
            }
        }
        #expect(report.devices.count == devices.count)
    }

    @Test("warning and error findings are exactly the documented deviations", arguments: Self.traces)
    func findings(name: String) throws {
        let file = try Self.expected(name)
        let expected = try #require(file["findings"] as? [String: Int])
        let report = try analyze(Fixtures.realTraces + "/\(name).log.xz")
        var actual: [String: Int] = [:]
        for finding in report.findings where finding.severity >= .warning { actual[finding.rule.id, default: 0] += 1 }
        #expect(actual == expected)
        let explanations = try #require(Fixtures.text("traces/README.md"))
        for rule in expected.keys { #expect(explanations.contains(rule), "traces/README.md must explain \(rule)") }
    }

    @Test("latencies are measured on timestamped traces and absent without timestamps")
    func latencies() throws {
        let timed = try analyze(Fixtures.realTraces + "/seabios-blk.log.xz")
        let untimed = try analyze(Fixtures.realTraces + "/seabios-blk-notime.log.xz")
        let timedQueue = try #require(timed.devices.first { $0.type == .block }?.queues.first)
        let untimedQueue = try #require(untimed.devices.first { $0.type == .block }?.queues.first)
        #expect(timedQueue.pops == untimedQueue.pops)
        let popToFill = try #require(timedQueue.latencies.first { $0.stage == "pop→fill" })
        #expect(popToFill.count == UInt64(timedQueue.fills))
        #expect(popToFill.p50 > 0 && popToFill.p50 <= popToFill.p99 && popToFill.p99 <= popToFill.maximum)
        #expect(untimedQueue.latencies.isEmpty)
        #expect(!untimed.timestamped)
    }

    @Test("QEMU's ioeventfd replay after DRIVER_OK is told apart from guest kicks")
    func ioeventfdReplay() throws {
        let report = try analyze(Fixtures.realTraces + "/linux-pci.log.xz")
        let console = try #require(report.devices.first { $0.type == .console })
        // virtio-serial has 64 queues; QEMU notifies each once when it starts ioeventfd.
        #expect(console.queues.reduce(0) { $0 + $1.qemuNotifies } == 64)
        #expect(console.queues.filter { $0.kicks > 0 }.allSatisfy { $0.index! <= 3 })
    }

    @Test("the PCI bus-master toggles are QEMU's status writes, and name the net device")
    func busMaster() throws {
        let report = try analyze(Fixtures.realTraces + "/linux-pci.log.xz")
        let net = try #require(report.devices.first { $0.type == .network })
        #expect(net.typeDecidedBy.contains("virtio-net-pci"))
        #expect(net.transport == .pci)
    }

    @Test("virtio-mmio register writes are attributed: legacy QueuePFN and modern QueueNum per device")
    func mmioAttribution() throws {
        let legacy = try analyze(Fixtures.realTraces + "/linux-mmio-legacy.log.xz")
        #expect(legacy.devices.allSatisfy { $0.mmioVersion == .legacy })
        let modern = try analyze(Fixtures.realTraces + "/linux-mmio.log.xz")
        #expect(modern.devices.allSatisfy { $0.mmioVersion == .modern })
        #expect(modern.devices.allSatisfy { $0.driverFeatures?.contains(.version1) == true })
        #expect(!modern.findings.contains { $0.rule.id == "MMIO-UNATTRIBUTED-WRITES" })
    }
}
