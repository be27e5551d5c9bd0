import Foundation
import GuestMemory
import Testing
import VirtioModel
import VirtioTestSupport

/// Saved QMP replies: real ones from a Linux guest, and hand-written ones for each shape.
struct QMPVirtioSnapshotTests {
    static let status = #"{"return": {"name": "virtio-net", "num-vqs": 3, "guest-features": {"transports": ["VIRTIO_RING_F_INDIRECT_DESC: Indirect descriptors supported", "VIRTIO_F_VERSION_1: Device compliant for v1 spec (legacy)"], "dev-features": []}}}"#

    static func queue(_ index: Int, desc: Int = 0x1000, num: Int = 256, used: Int = 7) -> String {
        #"{"return": {"name": "virtio-net", "queue-index": \#(index), "vring-num": \#(num), "vring-desc": \#(desc), "vring-avail": \#(desc + 4096), "vring-used": \#(desc + 8192), "used-idx": \#(used), "last-avail-idx": \#(used), "shadow-avail-idx": \#(used), "inuse": 0, "vring-align": 4096}}"#
    }

    @Test("the real transcripts of the Linux guest: every device, its queues and features", arguments: [
        "linux-pci-dump", "linux-pci-packed-dump",
    ])
    func realTranscript(name: String) throws {
        let devices = try QMPVirtioSnapshot.read(path: Fixtures.path("traces/real/qmp/\(name).jsonl"))
        let text = try #require(Fixtures.text("traces/real/qmp/\(name).expected.json"))
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
        let expected = try #require(parsed as? [String: Any])
        let want = try #require(expected["devices"] as? [[String: Any]])
        #expect(devices.map(\.name) == want.map { $0["name"] as? String })
        for (device, wanted) in zip(devices, want) {
            #expect(device.path == wanted["path"] as? String)
            #expect(device.queues.map(\.index) == wanted["queues"] as? [Int])
            #expect(device.queues.map { Int($0.usedIndex) } == wanted["usedIdx"] as? [Int])
            #expect(device.eventIndex == wanted["eventIdx"] as? Bool && device.indirect == wanted["indirect"] as? Bool)
            #expect(device.packed == wanted["packed"] as? Bool)
            #expect(device.packed == (name == "linux-pci-packed-dump"))
            // query-block's virtual-size / 512, where the transcript has that reply.
            if wanted.keys.contains("capacity") {
                #expect(device.blockCapacity.map { Int($0) } == wanted["capacity"] as? Int)
            }
        }
        // Only the PCI transcript was saved with a query-block reply (16384 sectors: 8 MiB).
        #expect(devices.compactMap(\.blockCapacity) == (name == "linux-pci-dump" ? [16_384] : []))
        // The names become types and feature bits for the request checks.
        #expect(devices.map(\.deviceType) == [.console, .entropy, .block, .network])
        let net = try #require(devices.last?.features)
        #expect(net.contains(.version1) && net.contains(.netMergeableRxBuffers) && net.contains(.netControlQueue))
        #expect(devices.first?.features?.contains(.consoleMultiport) == true)
    }

    @Test("features QEMU has no name for (7.2's VIRTIO_F_RING_RESET in unknown-dev-features) are kept as bits, offered and negotiated")
    func unnamedFeatures() throws {
        let text = #"{"name": "virtio-blk", "num-vqs": 1, "guest-features": {"transports": ["VIRTIO_F_VERSION_1: Device compliant for v1 spec (legacy)"], "dev-features": ["VIRTIO_BLK_F_FLUSH: Flush command supported"], "unknown-dev-features": 1099511627776}, "host-features": {"transports": ["VIRTIO_RING_F_EVENT_IDX: Used & avail. event fields enabled", "VIRTIO_F_VERSION_1: Device compliant for v1 spec (legacy)"], "dev-features": ["VHOST_USER_F_PROTOCOL_FEATURES: Vhost-user protocol features negotiation supported", "VIRTIO_BLK_F_FLUSH: Flush command supported"], "unknown-dev-features": 1099511627776}}"#
        let reply = try JSONDecoder().decode(QMPVirtioStatusReply.self, from: Data(text.utf8))
        let ringReset = FeatureBits(bit: 40)
        #expect(reply.guestFeatures.bits(device: .block) == [.version1, FeatureBits(bit: 9), ringReset])
        #expect(reply.hostFeatures?.bits(device: .block) == [.version1, .eventIndex, FeatureBits(bit: 9), ringReset])
        // In a transcript too (`vqscope inspect --qmp`).
        let file = TemporaryFile(text: #"{"execute": "x-query-virtio-status", "arguments": {"path": "/b"}}"# + "\n" + #"{"return": "# + text + "}\n")
        defer { file.remove() }
        #expect(try QMPVirtioSnapshot.read(path: file.path).first?.features == [.version1, FeatureBits(bit: 9), ringReset])
    }

    @Test("a transcript's qom-get of host_mtu is the network device's mtu: another property, 0, past 16 bits or another device's type say none")
    func hostMTU() throws {
        func mtu(_ property: String, _ value: String, device: String = "virtio-net") throws -> UInt16? {
            let status = Self.status.replacingOccurrences(of: "virtio-net", with: device)
            let text = [
                #"{"execute": "x-query-virtio-status", "arguments": {"path": "/n"}}"#, status,
                #"{"execute": "qom-get", "arguments": {"path": "/n", "property": "\#(property)"}}"#, #"{"return": \#(value)}"#,
            ].joined(separator: "\n")
            let file = TemporaryFile(text: text, name: "qmp.jsonl")
            defer { file.remove() }
            return try QMPVirtioSnapshot.read(path: file.path).first?.netMTU
        }
        #expect(try mtu("host_mtu", "1400") == 1400)
        #expect(try mtu("host_mtu", "65535") == 65535)
        #expect(try mtu("addr", "1400") == nil)
        #expect(try mtu("host_mtu", "0") == nil)
        #expect(try mtu("host_mtu", "65536") == nil)
        #expect(try mtu("host_mtu", "-1") == nil)
        #expect(try mtu("host_mtu", "1400", device: "virtio-blk") == nil)
    }

    @Test("one reply per file in a directory, matched by device name; unset queues are left out")
    func directoryOfReplies() throws {
        let first = TemporaryFile(text: Self.status, name: "a-status.json")
        defer { first.remove() }
        let directory = String(first.path[..<first.path.lastIndex(of: "/")!])
        let files = [
            ("b-queue0.json", Self.queue(0)), ("c-queue1.json", Self.queue(1, desc: 0x9000, used: 65_535 + 2)),
            ("d-queue2.json", Self.queue(2, desc: 0, num: 0)), ("notes.txt", "not read"),
        ]
        for (name, text) in files {
            let file = fopen(directory + "/" + name, "w")!
            fputs(text, file)
            fclose(file)
        }
        defer { for (name, _) in files { unlink(directory + "/" + name) } }
        let devices = try QMPVirtioSnapshot.read(path: directory)
        #expect(devices.count == 1)
        let net = try #require(devices.first)
        #expect(net.name == "virtio-net" && net.path == nil && net.label == "virtio-net")
        #expect(net.indirect == true && net.eventIndex == false && net.packed == false)
        #expect(net.queues.map(\.index) == [0, 1])
        #expect(net.queues.last?.addresses.descriptorArea == 0x9000 && net.queues.last?.addresses.deviceArea == 0x9000 + 8192)
        #expect(net.queues.last?.usedIndex == 1)  // QEMU's used-idx is reported modulo 2^16
    }

    @Test("a transcript: the command's path decides the device when two have the same name")
    func transcriptWithPaths() throws {
        let text = [
            #"{"QMP": {"version": {}}}"#,
            #"{"execute": "x-query-virtio-queue-status", "arguments": {"path": "/a", "queue": 0}}"#, Self.queue(0, desc: 0x1000),
            #"{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}"#,
            #"{"execute": "x-query-virtio-queue-status", "arguments": {"path": "/b", "queue": 0}}"#,
            Self.queue(0, desc: 0x5000).replacingOccurrences(of: "{\"return\"", with: "\n  {\"return\""),
        ].joined(separator: "\n")
        let file = TemporaryFile(text: text, name: "qmp.jsonl")
        defer { file.remove() }
        let devices = try QMPVirtioSnapshot.read(path: file.path)
        #expect(devices.map(\.label) == ["virtio-net@/a", "virtio-net@/b"])
        #expect(devices.map { $0.queues.first?.addresses.descriptorArea } == [0x1000, 0x5000])
        #expect(devices.first?.eventIndex == nil)  // no status reply: features unknown
    }

    @Test("bad input: an unclosed value, a stray character, no virtio reply, a missing path")
    func badInput() throws {
        for (text, offset) in [(#"{"return": {}}"# + "\n{\"return\": [", UInt64(15)), ("{} x", UInt64(3))] {
            let file = TemporaryFile(text: text, name: "bad.json")
            defer { file.remove() }
            #expect {
                try QMPVirtioSnapshot.read(path: file.path)
            } throws: { error in
                guard case .malformed(_, let at, _) = error as? MemoryError else { return false }
                return at == offset
            }
        }
        let empty = TemporaryFile(text: #"{"return": {}}"#, name: "other.json")
        defer { empty.remove() }
        #expect {
            try QMPVirtioSnapshot.read(path: empty.path)
        } throws: { error in
            guard case .unsupportedFormat = error as? MemoryError else { return false }
            return true
        }
        #expect(throws: MemoryError.missing(path: "/nonexistent/qmp.json")) {
            try QMPVirtioSnapshot.read(path: "/nonexistent/qmp.json")
        }
    }

    @Test("more devices than one VM has are refused, and grouping stays linear")
    func limits() throws {
        func list(_ count: Int) -> String {
            #"{"return": ["# + (0..<count).map { #"{"name": "virtio-net", "path": "/d\#($0)"}"# }.joined(separator: ",") + "]}"
        }
        let many = TemporaryFile(text: list(QMPVirtioSnapshot.maximumDevices + 1), name: "many.json")
        defer { many.remove() }
        #expect {
            try QMPVirtioSnapshot.read(path: many.path)
        } throws: { error in
            guard case .unsupportedFormat(_, let reason) = error as? MemoryError else { return false }
            return reason.contains("more than 4096 virtio devices")
        }
        // 4096 devices and a queue reply for each, matched by path: all kept.
        let replies = (0..<4096).map { index in
            #"{"execute": "x-query-virtio-queue-status", "arguments": {"path": "/d\#(index)", "queue": 0}}"# + "\n"
                + Self.queue(0, desc: 0x1000 + index * 0x1000)
        }
        let file = TemporaryFile(text: list(4096) + "\n" + replies.joined(separator: "\n"), name: "all.jsonl")
        defer { file.remove() }
        let devices = try QMPVirtioSnapshot.read(path: file.path)
        #expect(devices.count == 4096 && devices.allSatisfy { $0.queues.count == 1 })
        #expect(devices.last?.queues.first?.addresses.descriptorArea == UInt64(0x1000 + 4095 * 0x1000))
    }
}
