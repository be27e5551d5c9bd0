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
            dump: file.path, base: fixture.base, queues: [QueueTarget(addresses: fixture.queue, queue: 0, options: fixture.options)], format: .text,
            failOn: .error)
        #expect(result.code == 0)
        #expect(result.output.contains("avail.idx 1 (flags 0), used.idx 0 (flags 0), 1 chain(s) owned by the device"))
        #expect(result.output.contains("Findings (0: 0 error, 0 warning, 0 note)"))
        #expect(!result.output.contains("ADDRESS"))
        // --descriptors: one row per descriptor, with its table, address, length and flags.
        let listed = Inspect.execute(
            dump: file.path, base: fixture.base, queues: [QueueTarget(addresses: fixture.queue, queue: 0, options: fixture.options)],
            format: .text, failOn: .error, descriptors: true)
        let rows = listed.output.split(separator: "\n").filter { $0.contains("queue") && $0.contains("0x4000") }
        #expect(rows.count == fixture.descriptorCount)
        #expect(rows.first?.contains("NEXT") == true && rows.last?.contains("WRITE") == true)
    }

    @Test("a violation: exit 1, and JSON with the finding and the decoded chain")
    func violation() throws {
        let (fixture, file) = try Self.image("SPLIT-INDIRECT-NOT-NEXT", "violates.handwritten.json")
        defer { file.remove() }
        let result = Inspect.execute(
            dump: file.path, base: fixture.base, queues: [QueueTarget(addresses: fixture.queue, queue: 0, options: fixture.options)], format: .json,
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

    @Test("--qmp: queues, device labels and negotiated features from a QMP transcript")
    func qmp() throws {
        // One chain through an indirect table: whether that is a violation depends on the
        // features QMP reports.
        let fixture = try MemoryFixture(json: """
            {"base": "0x40000000", "size": 65536,
             "queue": {"desc": "0x40001000", "avail": "0x40002000", "used": "0x40003000", "size": 8},
             "descriptors": [{"index": 0, "addr": "0x40004000", "len": 16, "flags": ["indirect"]},
                             {"table": "0x40004000", "index": 0, "addr": "0x40008000", "len": 16, "flags": ["write"]}],
             "avail": {"idx": 1, "ring": [0]}, "used": {"idx": 0}}
            """)
        let file = TemporaryFile(bytes: fixture.bytes, name: "mem.raw")
        defer { file.remove() }
        let q = fixture.queue
        func transcript(_ transports: String) -> String {
            [
                #"{"execute": "x-query-virtio-status", "arguments": {"path": "/machine/peripheral/rng0/virtio-backend"}}"#,
                #"{"return": {"name": "virtio-rng", "num-vqs": 1, "guest-features": {"transports": [\#(transports)]}}}"#,
                #"{"execute": "x-query-virtio-queue-status", "arguments": {"path": "/machine/peripheral/rng0/virtio-backend", "queue": 0}}"#,
                #"{"return": {"name": "virtio-rng", "queue-index": 0, "vring-num": \#(q.size), "vring-desc": \#(q.descriptorArea), "vring-avail": \#(q.driverArea), "vring-used": \#(q.deviceArea), "used-idx": 0, "inuse": 0}}"#,
            ].joined(separator: "\n")
        }
        let without = TemporaryFile(text: transcript(#""VIRTIO_F_VERSION_1: Device compliant for v1 spec (legacy)""#), name: "qmp.jsonl")
        defer { without.remove() }
        let gated = Inspect.execute(
            dump: file.path, base: fixture.base, qmp: without.path, queues: [], format: .json, failOn: .error)
        #expect(gated.code == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(gated.output.utf8)) as? [String: Any])
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.map { $0["rule"] as? String } == ["FEAT-INDIRECT-GATED"])
        let location = try #require(findings.first?["location"] as? [String: Any])
        #expect(location["device"] as? String == "virtio-rng@/machine/peripheral/rng0/virtio-backend")
        #expect(location["queue"] as? Int == 0)
        let with = TemporaryFile(text: transcript(#""VIRTIO_RING_F_INDIRECT_DESC: Indirect descriptors supported""#), name: "qmp.jsonl")
        defer { with.remove() }
        let allowed = Inspect.execute(
            dump: file.path, base: fixture.base, qmp: with.path, queues: [], format: .text, failOn: .error)
        #expect(allowed.code == 0)
        #expect(allowed.output.contains("virtio-rng@/machine/peripheral/rng0/virtio-backend queue 0: size \(q.size)"))
        #expect(Inspect.execute(dump: file.path, base: fixture.base, qmp: "/nonexistent.json", queues: [], format: .text, failOn: .error).code == 66)
    }

    @Test("--qmp: a network device's mtu from the transcript's qom-get of host_mtu (as `record` asks it) enables NET-TX-MTU")
    func qmpHostMTU() throws {
        let (fixture, file) = try Self.image("NET-TX-MTU", "violates.handwritten.json")
        defer { file.remove() }
        let q = fixture.queue
        let path = "/machine/peripheral/net0/virtio-backend"
        func transcript(mtu: Int?) -> String {
            var lines = [
                #"{"execute": "x-query-virtio-status", "arguments": {"path": "\#(path)"}}"#,
                #"{"return": {"name": "virtio-net", "num-vqs": 2, "guest-features": {"transports": ["VIRTIO_F_VERSION_1: Device compliant for v1 spec (legacy)"], "dev-features": ["VIRTIO_NET_F_MTU: Device MTU supported"]}}}"#,
                #"{"execute": "x-query-virtio-queue-status", "arguments": {"path": "\#(path)", "queue": 1}}"#,
                #"{"return": {"name": "virtio-net", "queue-index": 1, "vring-num": \#(q.size), "vring-desc": \#(q.descriptorArea), "vring-avail": \#(q.driverArea), "vring-used": \#(q.deviceArea), "used-idx": 0, "inuse": 0}}"#,
            ]
            if let mtu {
                lines += [#"{"execute": "qom-get", "arguments": {"path": "\#(path)", "property": "host_mtu"}}"#, #"{"return": \#(mtu)}"#]
            }
            return lines.joined(separator: "\n")
        }
        func rules(mtu: Int?) throws -> [String] {
            let qmp = TemporaryFile(text: transcript(mtu: mtu), name: "qmp.jsonl")
            defer { qmp.remove() }
            let result = Inspect.execute(dump: file.path, base: fixture.base, qmp: qmp.path, queues: [], format: .json, failOn: .error)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
            return try #require(object["findings"] as? [[String: Any]]).compactMap { $0["rule"] as? String }
        }
        // The fixture's second frame is 1415 bytes: one over an mtu of 1400 with its Ethernet header.
        #expect(try rules(mtu: 1400) == ["NET-TX-MTU"])
        #expect(try rules(mtu: 1401) == [])
        #expect(try rules(mtu: nil) == [])
    }

    @Test("--trace: the rings the driver programmed through virtio-mmio, found in the dump")
    func trace() throws {
        // The queue MMIO-QUEUE-LOCKED's clean trace sets up: 128 entries at 0x1000/0x2000/0x3000.
        let fixture = try MemoryFixture(json: """
            {"base": "0x0", "size": 65536,
             "queue": {"desc": "0x1000", "avail": "0x2000", "used": "0x3000", "size": 128},
             "descriptors": [{"index": 0, "addr": "0x8000", "len": 16, "flags": ["next"], "next": 0}],
             "avail": {"idx": 1, "ring": [0]}, "used": {"idx": 0}}
            """)
        let file = TemporaryFile(bytes: fixture.bytes, name: "mem.raw")
        defer { file.remove() }
        let trace = Fixtures.path("traces/rules/MMIO-QUEUE-LOCKED/clean.handwritten.log")
        let result = Inspect.execute(dump: file.path, base: 0, trace: trace, queues: [], format: .json, failOn: .error)
        #expect(result.code == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let queues = try #require(object["queues"] as? [[String: Any]])
        #expect(queues.count == 1)
        #expect((queues.first?["device"] as? String)?.hasSuffix("@0x55d0c0005000") == true)
        #expect(queues.first?["descriptorTable"] as? String == "0x1000" && queues.first?["size"] as? Int == 128)
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.map { $0["rule"] as? String } == ["SPLIT-CHAIN-NO-LOOP"])
        // A virtio-pci trace without its common configuration writes has no ring addresses: nothing to inspect, exit 65.
        let pci = Inspect.execute(
            dump: file.path, base: 0, trace: Fixtures.path("traces/real/linux-pci.log.xz"), queues: [], format: .text,
            failOn: .error)
        #expect(pci.code == 65 && pci.diagnostics.contains("no queue setup in the trace"))
    }

    @Test("--device, --features and index=: request checks for queues given on the command line")
    func commandLineFeatures() throws {
        let text = try #require(Fixtures.text("traces/rules/NET-TX-GSO-GATED/violates.handwritten.json"))
        let fixture = try MemoryFixture(json: text)
        let file = TemporaryFile(bytes: fixture.bytes, name: "mem.raw")
        defer { file.remove() }
        let queue = "desc=0x40001000,avail=0x40002000,used=0x40003000,size=8,index=1"
        func run(_ extra: [String]) throws -> [String] {
            var command = try VQScope.parseAsRoot(
                ["inspect", "--dump", file.path, "--base", "0x40000000", "--queue", queue, "--format", "json"] + extra)
            try command.validate()
            let inspect = try #require(command as? Inspect)
            let result = Inspect.execute(
                dump: file.path, base: 0x4000_0000, queues: inspect.location.targets, format: .json, failOn: .error)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
            return (object["findings"] as? [[String: Any]] ?? []).compactMap { $0["rule"] as? String }
        }
        #expect(try run(["--device", "net", "--features", "VIRTIO_F_VERSION_1,VIRTIO_NET_F_CSUM"]) == ["NET-TX-GSO-GATED"])
        #expect(try run(["--device", "net", "--features", "0x100000801"]) == [])  // VERSION_1, HOST_TSO4, CSUM
        #expect(try run(["--device", "net"]) == [])  // features unknown: not judged
    }

    @Test("missing dumps exit 66; unknown formats and raw images without --base exit 65")
    func badDumps() {
        let queue = QueueTarget(
            addresses: QueueAddresses(descriptorArea: 0, driverArea: 0x1000, deviceArea: 0x2000, size: 8), queue: 0,
            options: Inspector.Options())
        #expect(Inspect.execute(dump: "/nonexistent", base: nil, queues: [queue], format: .text, failOn: .error).code == 66)
        let file = TemporaryFile(text: "makedumpfile\u{0}\u{0}\u{0}\u{0}", name: "flat")
        defer { file.remove() }
        let flattened = Inspect.execute(dump: file.path, base: nil, queues: [queue], format: .text, failOn: .error)
        #expect(flattened.code == 65 && flattened.diagnostics.contains("flattened"))
        let raw = TemporaryFile(bytes: [UInt8](repeating: 0, count: 4096), name: "raw")
        defer { raw.remove() }
        let noBase = Inspect.execute(dump: raw.path, base: nil, queues: [queue], format: .text, failOn: .error)
        #expect(noBase.code == 65 && noBase.diagnostics.contains("--base"))
        // A directory is no dump (66, as for traces); a character device cannot be mapped (65).
        let directory = Inspect.execute(dump: "/tmp", base: 0, queues: [queue], format: .text, failOn: .error)
        #expect(directory.code == 66 && directory.diagnostics.contains("is a directory"))
        let device = Inspect.execute(dump: "/dev/null", base: 0, queues: [queue], format: .text, failOn: .error)
        #expect(device.code == 65 && device.diagnostics.contains("not a regular file"))
    }

    @Test("usage errors exit 64", arguments: [
        ["inspect", "--dump", "x"], ["inspect", "--dump", "x", "--queue", "desc=1,avail=2"],
        ["inspect", "--dump", "x", "--queue", "desc=1,avail=2,used=3,size=70000"],
        ["inspect", "--dump", "x", "--base", "0xZZ", "--queue", "desc=1,avail=2,used=3,size=8"],
        ["inspect", "--dump", "x", "--queue", "desc=1,avail=2,used=3,size=8", "--features", "VIRTIO_NET_F_CSUM"],
        ["inspect", "--dump", "x", "--queue", "desc=1,avail=2,used=3,size=8", "--device", "net", "--features", "VIRTIO_F_NOPE"],
        ["inspect", "--dump", "x", "--queue", "desc=1,avail=2,used=3,size=8,index=70000"],
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
