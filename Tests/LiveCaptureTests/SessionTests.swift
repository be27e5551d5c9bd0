import Foundation
import GuestMemory
import Testing
import VirtioModel

@testable import LiveCapture

/// The recorder's QMP side (``Session``) against a scripted QMP server: which devices the trace
/// can name, and how QMP's view of a device's status and the trace's hand over.
struct SessionTests {
    /// A QMP server on a Unix socket that answers each command from `reply` (nil: an error
    /// reply), one client, on a thread of its own.
    final class FakeQMP: @unchecked Sendable {
        let path: String
        private let listener: Int32
        private let lock = NSLock()
        private var replies: (String, [String: Any]) -> String?
        private(set) var commands: [String] = []

        init(directory: String, reply: @escaping (String, [String: Any]) -> String?) throws {
            self.path = directory + "/qmp.sock"
            self.replies = reply
            self.listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in self.path.utf8.enumerated() { raw[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(self.listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            #expect(bound == 0 && listen(self.listener, 1) == 0)
            Thread.detachNewThread { self.serve() }
        }

        /// Changes the answers from now on.
        func answer(_ reply: @escaping (String, [String: Any]) -> String?) {
            self.lock.withLock { self.replies = reply }
        }

        var received: [String] { self.lock.withLock { self.commands } }

        private func serve() {
            let client = accept(self.listener, nil, nil)
            guard client >= 0 else { return }
            defer { close(client) }
            func send(_ text: String) { _ = (text + "\n").withCString { Glibc.send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
            send(#"{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}}, "capabilities": []}}"#)
            var pending = Data()
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(client, &chunk, chunk.count)
                guard count > 0 else { return }
                pending.append(contentsOf: chunk[..<count])
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = pending[pending.startIndex..<newline]
                    pending = Data(pending[(newline + 1)...])
                    guard let message = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                        let name = message["execute"] as? String
                    else { continue }
                    let arguments = message["arguments"] as? [String: Any] ?? [:]
                    let reply = self.lock.withLock { () -> String? in
                        self.commands.append(name)
                        return name == "qmp_capabilities" ? "{}" : self.replies(name, arguments)
                    }
                    send(reply.map { #"{"return": \#($0)}"# } ?? #"{"error": {"class": "GenericError", "desc": "no"}}"#)
                }
            }
        }

        deinit { close(self.listener) }
    }

    /// An `x-query-virtio-status` reply.
    static func status(_ name: String, queues: Int, offered: [String], driverOK: Bool) -> String {
        let statuses = driverOK ? #"["VIRTIO_CONFIG_S_DRIVER_OK: Driver setup and ready"]"# : "[]"
        let features = offered.map { "\"\($0): described\"" }.joined(separator: ", ")
        return #"{"name": "\#(name)", "num-vqs": \#(queues), "status": {"statuses": \#(statuses)}, "#
            + #""guest-features": {"transports": []}, "host-features": {"transports": [\#(features)]}}"#
    }

    /// One line: QMP sends each message on its own.
    static let devices = #"[{"name": "virtio-blk", "path": "/p/blk0"}, {"name": "virtio-blk", "path": "/p/blk1"}, "#
        + #"{"name": "virtio-net", "path": "/p/net0"}, {"name": "virtio-rng", "path": "/p/rng0"}]"#

    /// Answers for the four devices: the two disks and the entropy device on virtio-pci, the
    /// network device on virtio-mmio at 0xa000600; `driverOK` and the queue count for the
    /// entropy device.
    static func machine(rngDriverOK: Bool, rngQueues: Int = 1, bar1: UInt64? = nil) -> (String, [String: Any]) -> String? {
        { name, arguments in
            let path = arguments["path"] as? String ?? ""
            switch (name, path, arguments["property"] as? String) {
            case ("x-query-virtio", _, _): return Self.devices
            case ("query-block", _, _): return "[]"
            case ("x-query-virtio-status", "/p/rng0", _):
                return Self.status("virtio-rng", queues: rngQueues, offered: ["VIRTIO_F_VERSION_1", "VIRTIO_RING_F_EVENT_IDX"], driverOK: rngDriverOK)
            case ("x-query-virtio-status", _, _):
                return Self.status(path.contains("net") ? "virtio-net" : "virtio-blk", queues: 2, offered: ["VIRTIO_F_VERSION_1"], driverOK: false)
            case ("qom-get", "/p/net0", "parent_bus"): return #""/m/device[3]/virtio-mmio-bus.3""#
            case ("qom-get", "/m/device[3]/virtio-mmio[0]", "addr"): return "167773696"
            case ("qom-get", "/p/blk0", "parent_bus"): return #""/m/b0/virtio-bus""#
            case ("qom-get", "/p/blk1", "parent_bus"): return #""/m/b1/virtio-bus""#
            case ("qom-get", _, "parent_bus"): return #""/m/pcie.0/device[1]/virtio-bus""#
            // The first disk's common configuration structure at 0x4000 in its BAR at 0xfebf0000,
            // in PCI memory, in system memory; the second's BAR not placed (`bar1` nil) or at 0xfebf8000.
            case ("qom-get", "/m/b0/virtio-pci-common-virtio-blk[0]", "addr"): return "16384"
            case ("qom-get", "/m/b0/virtio-pci-common-virtio-blk[0]", "container"): return #""/m/b0/virtio-pci[0]""#
            case ("qom-get", "/m/b0/virtio-pci[0]", "addr"): return "\(0xfebf_0000)"
            case ("qom-get", "/m/b0/virtio-pci[0]", "container"), ("qom-get", "/m/b1/virtio-pci[0]", "container"):
                return path.hasPrefix("/m/b1") && bar1 == nil ? #""""# : #""/m/pci[0]""#
            case ("qom-get", "/m/b1/virtio-pci-common-virtio-blk[0]", "addr"): return "0"
            case ("qom-get", "/m/b1/virtio-pci-common-virtio-blk[0]", "container"): return #""/m/b1/virtio-pci[0]""#
            case ("qom-get", "/m/b1/virtio-pci[0]", "addr"): return "\(bar1 ?? 0)"
            case ("qom-get", "/m/pci[0]", "addr"), ("qom-get", "/m/system[0]", "addr"): return "0"
            case ("qom-get", "/m/pci[0]", "container"): return #""/m/system[0]""#
            case ("qom-get", "/m/system[0]", "container"): return #""""#
            case ("x-query-virtio-queue-status", _, _):  // a queue not set up, of default size 8 (the disks': 128)
                return #"{"name": "virtio-rng", "queue-index": 0, "vring-num": 8, "vring-num-default": \#(path.contains("blk") ? 128 : 8), "#
                    + #""vring-desc": 0, "vring-avail": 0, "vring-used": 0, "used-idx": 0, "inuse": 0}"#
            default: return nil
            }
        }
    }

    /// A session whose first poll (connection) has run against the scripted machine; `body`
    /// gets the server, the client, the sampler (stopped afterwards) and the session.
    static func connected(
        rngDriverOK: Bool, rngQueues: Int = 1, _ body: (FakeQMP, QMPConnection, Sampler, inout Session) throws -> Void
    ) throws {
        let ram = try RingWatcherTests.GuestRAM()
        let server = try FakeQMP(directory: ram.directory, reply: Self.machine(rngDriverOK: rngDriverOK, rngQueues: rngQueues))
        let sampler = try Sampler(writer: ram.writer)
        defer { _ = sampler.stop() }
        var session = Session(command: try QEMUCommand(arguments: ["qemu-system-x86_64", "-M", "q35"]), ramPath: ram.directory + "/none", sampler: sampler)
        let client = try QMPConnection(path: server.path, transcript: nil, wait: 1)
        try session.pollDevices(client)
        try body(server, client, sampler, &session)
    }

    @Test("at connection: virtio-mmio devices by their register block's address, virtio-pci ones by unique name, with num-vqs and host-features; two disks by where their common configuration structure is, each once its BAR is in system memory")
    func followedDevices() throws {
        try Self.connected(rngDriverOK: false) { server, client, sampler, session in
            let traced = sampler.withRings { $0.traced }
            #expect(Array(traced.mmio.keys) == [0xa00_0600] && Array(traced.pciByName.keys) == ["virtio-rng"])
            #expect(traced.mmio[0xa00_0600]?.label == "virtio-net@/p/net0" && traced.mmio[0xa00_0600]?.type == .network)
            #expect(traced.pciByName["virtio-rng"]?.queueCount == 1 && traced.pciByName["virtio-rng"]?.offered == [.version1, .eventIndex])
            // Default queue sizes, for a driver that writes no queue_size: virtio-pci only.
            #expect(traced.pciByName["virtio-rng"]?.defaultQueueSizes == [0: 8] && traced.mmio[0xa00_0600]?.defaultQueueSizes == [:])
            #expect(session.unplaced.first?.followed.defaultQueueSizes == [0: 128, 1: 128])
            #expect(traced.pciPlaced.mapValues(\.label) == [.pci(name: "virtio-blk", address: 0xfebf_4000): "virtio-blk@/p/blk0"])
            #expect(session.unplaced.map(\.device.path) == ["/p/blk1"])
            server.answer(Self.machine(rngDriverOK: false, bar1: 0xfebf_8000))
            try session.pollDevices(client)
            #expect(sampler.withRings { $0.traced.pciPlaced.mapValues(\.label) } == [
                .pci(name: "virtio-blk", address: 0xfebf_4000): "virtio-blk@/p/blk0", .pci(name: "virtio-blk", address: 0xfebf_8000): "virtio-blk@/p/blk1",
            ])
            #expect(session.unplaced.isEmpty)
            #expect(sampler.withRings { $0.traced[.pci(name: "virtio-blk", address: 0xfebf_8000)]?.label } == "virtio-blk@/p/blk1")
        }
    }

    @Test("run.json devices: each device QMP listed, in its order, with its type, transport, queue count and offered features")
    func manifestDevices() throws {
        try Self.connected(rngDriverOK: false) { _, _, _, session in
            let entries = try #require(session.manifestDevices)
            let devices = try entries.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            #expect(devices.compactMap { $0["label"] as? String } == ["virtio-blk@/p/blk0", "virtio-blk@/p/blk1", "virtio-net@/p/net0", "virtio-rng@/p/rng0"])
            #expect(devices.compactMap { $0["type"] as? String } == ["block", "block", "net", "entropy"])
            let transports = devices.map { $0["transport"] as? [String: Any] ?? [:] }
            #expect(transports.compactMap { $0["kind"] as? String } == ["virtio-pci", "virtio-pci", "virtio-mmio", "virtio-pci"])
            // The first disk placed at 0xfebf4000, the second's BAR not yet; the network device's register block.
            #expect(transports[0]["commonConfig"] as? UInt64 == 0xfebf_4000 && transports[1]["commonConfig"] is NSNull)
            #expect(transports[2]["address"] as? UInt64 == 0xa00_0600)
            #expect(devices.compactMap { $0["queues"] as? Int } == [2, 2, 2, 1])
            // VERSION_1 (bit 32), and EVENT_IDX (bit 29) for the entropy device.
            #expect(devices.compactMap { $0["offeredFeatures"] as? String } == ["0x100000000", "0x100000000", "0x100000000", "0x120000000"])
        }
        // Before QMP listed them: none.
        let ram = try RingWatcherTests.GuestRAM()
        let sampler = try Sampler(writer: ram.writer)
        defer { _ = sampler.stop() }
        let session = Session(command: try QEMUCommand(arguments: ["qemu-system-x86_64", "-M", "q35"]), ramPath: ram.directory + "/none", sampler: sampler)
        #expect(session.manifestDevices == nil)
    }

    @Test("a device the trace followed: at DRIVER_OK QMP only logs its status (no queue asked), and QMP finding it out of DRIVER_OK without a reset in the trace retires its queues")
    func handOver() throws {
        try Self.connected(rngDriverOK: true) { server, client, sampler, session in
            // Not followed yet when the first poll found it at DRIVER_OK: QMP asked for its queue (none set up here).
            // Five asked at connection for the default sizes (two queues of each disk, the entropy device's one), one now.
            #expect(server.received.filter { $0 == "x-query-virtio-queue-status" }.count == 6)
            sampler.withRings {
                $0.ready.remove("virtio-rng@/p/rng0")
                $0.apply(TracedDevicesTests.setUp("virtio-rng", features: TracedDevicesTests.version1))
            }
            let before = server.received.count
            try session.pollDevices(client)
            #expect(!server.received.dropFirst(before).contains("x-query-virtio-queue-status"))
            #expect(sampler.withRings { ($0.ready, $0.watched.map(\.source)) } == (["virtio-rng@/p/rng0"], [.trace]))
            server.answer(Self.machine(rngDriverOK: false))
            try session.pollDevices(client)
            #expect(sampler.withRings { $0.watched.isEmpty && $0.traceOwned.isEmpty && $0.resets["virtio-rng@/p/rng0"] == 1 })
        }
    }

    @Test("a negative num-vqs at DRIVER_OK: no queue asked for, none followed, no trap")
    func negativeQueueCount() throws {
        try Self.connected(rngDriverOK: true, rngQueues: -3) { server, _, sampler, _ in
            // Only the disks' four, at connection, for their default sizes.
            #expect(server.received.filter { $0 == "x-query-virtio-queue-status" }.count == 4)
            #expect(sampler.withRings { ($0.traced.pciByName["virtio-rng"]?.queueCount, $0.ready.contains("virtio-rng@/p/rng0")) } == (0, true))
        }
    }

    @Test("the RAM file: mapped at the first poll, then out of the directory (a recorder killed outright leaves none), its mapping still the sampler's")
    func ramFileMapped() throws {
        let ram = try RingWatcherTests.GuestRAM()
        let server = try FakeQMP(directory: ram.directory, reply: Self.machine(rngDriverOK: false))
        let sampler = try Sampler(writer: ram.writer)
        defer { _ = sampler.stop() }
        let command = try QEMUCommand(arguments: ["qemu-system-x86_64", "-M", "q35", "-m", "2M"])
        let path = ram.directory + "/guest-ram-2M"
        let descriptor = open(path, O_RDWR | O_CREAT, 0o600)
        defer { close(descriptor) }
        #expect(ftruncate(descriptor, 2 << 20) == 0)
        // What the guest wrote, through QEMU's mapping.
        #expect(pwrite(descriptor, [0x5A], 1, 0x1234) == 1)
        var session = Session(command: command, ramPath: path, sampler: sampler)
        #expect(!session.mapped && access(path, F_OK) == 0)
        try session.pollDevices(try QMPConnection(path: server.path, transcript: nil, wait: 1))
        #expect(session.mapped && access(path, F_OK) != 0 && errno == ENOENT)
        #expect(sampler.withRings { $0.memory?.value(UInt8.self, at: 0x1234) } == 0x5A)
    }
}
