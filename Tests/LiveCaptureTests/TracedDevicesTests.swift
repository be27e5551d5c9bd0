import Foundation
import GuestMemory
import Testing
import VirtioAnalysis
import VirtioModel

@testable import LiveCapture

/// Queues found from the driver's common configuration writes in the trace (``TraceTail``,
/// ``TracedDevice``): watched the moment they are enabled, handed over with QMP's answers.
struct TracedDevicesTests {
    typealias GuestRAM = RingWatcherTests.GuestRAM
    typealias Field = CommonConfig.Field
    static let rng = TracedDevices(pciByName: ["virtio-rng": TracedDevice(label: "virtio-rng@/r", type: .entropy, blockCapacity: nil, queueCount: 2, offered: nil)])
    static let net = TracedDevices(pciByName: ["virtio-net": TracedDevice(label: "virtio-net@/n", type: .network, blockCapacity: nil, queueCount: 3, offered: nil)])
    /// Where the test's common configuration structures are (any address: these devices are followed by name).
    static let structure: UInt64 = 0xFEBF_4000

    /// Writes of `device`'s driver: features, then queue `queue` set up at the test RAM's split
    /// ring (0x1000, 0x2000, 0x3000) with `size` (none: not written) and enabled.
    static func setUp(
        _ device: String, features: UInt64, queue: UInt64 = 0, size: UInt64? = 8, base: UInt64 = 0, at: UInt64 = Self.structure
    ) -> [TraceTail.TransportWrite] {
        var writes: [(Field, UInt64)] = [
            (.driverFeatureSelect, 0), (.driverFeature, features & 0xFFFF_FFFF), (.driverFeatureSelect, 1), (.driverFeature, features >> 32),
            (.queueSelect, queue),
        ]
        if let size { writes.append((.queueSize, size)) }
        writes += [(.queueDescLow, base + 0x1000), (.queueDescHigh, 0), (.queueDriverLow, base + 0x2000), (.queueDriverHigh, 0),
            (.queueDeviceLow, base + 0x3000), (.queueDeviceHigh, 0), (.queueEnable, 1)]
        return writes.map { TraceTail.TransportWrite(transport: .pci(name: device, address: at), offset: $0.0.rawValue, value: $0.1, size: 4) }
    }

    static func write(_ device: String, _ field: Field, _ value: UInt64) -> TraceTail.TransportWrite {
        TraceTail.TransportWrite(transport: .pci(name: device, address: Self.structure), offset: field.rawValue, value: value, size: 4)
    }

    static let version1: UInt64 = 1 << 32

    /// Rings recording into `ram`'s `rings.jsonl`, following `devices`; reading its RAM when `mapped`.
    static func rings(_ ram: GuestRAM, following devices: TracedDevices, mapped: Bool = false) -> Rings {
        var rings = Rings(writer: ram.writer)
        if mapped { rings.memory = ram.memory }
        rings.follow(devices)
        return rings
    }

    @Test("a queue enabled in the trace is watched at once (source trace), and a buffer offered right after is read as it is offered")
    func watchedWhenEnabled() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.rng, mapped: true)
        rings.apply(Self.setUp("virtio-rng", features: Self.version1 | 1 << 29))
        #expect(rings.traceOwned == ["virtio-rng@/r"])
        let queue = try #require(rings.watched.first)
        #expect(rings.watched.count == 1)
        #expect(queue.addresses == RingWatcherTests.split && queue.source == .trace && queue.features == [.version1, .eventIndex])
        let line = try #require(try ram.lines("queue").first)
        #expect(line["source"] as? String == "trace" && line["device"] as? String == "virtio-rng@/r" && line["size"] as? Int == 8)
        ram.splitDescriptor(0, address: 0x8000, length: 64, flags: 2)
        ram.splitAvail(0, head: 0)
        _ = rings.scanAll()
        let offers = try ram.lines("avail")
        #expect(offers.count == 1 && offers.first?["writable"] as? Int == 64 && offers.first?["late"] == nil)
    }

    @Test("QMP's later answer for the same queue at the same addresses adds nothing; at other addresses the queue is watched anew")
    func mergedWithQMP() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.rng)
        rings.apply(Self.setUp("virtio-rng", features: Self.version1))
        let same = WatchedQueue(
            device: "virtio-rng@/r", type: .entropy, index: 0, addresses: RingWatcherTests.split, features: [.version1], netControlQueue: nil)
        rings.watch([same])
        #expect(rings.watched.count == 1 && rings.watched.first?.source == .trace)
        #expect(try ram.lines("queue").count == 1)
        let moved = QueueAddresses(descriptorArea: 0x5000, driverArea: 0x6000, deviceArea: 0x7000, size: 8)
        rings.watch([WatchedQueue(device: "virtio-rng@/r", type: .entropy, index: 0, addresses: moved, features: [.version1], netControlQueue: nil)])
        #expect(rings.watched.count == 1 && rings.watched.first?.addresses == moved)
        #expect(try ram.lines("queue").count == 2)
        #expect(try ram.lines("reset").map { $0["queue"] as? Int } == [0])
    }

    @Test("writes seen before QMP named the devices: the queues they enabled are watched once the device is known")
    func enabledBeforeFollowed() throws {
        let ram = try GuestRAM()
        var rings = Rings(writer: ram.writer)
        rings.apply(Self.setUp("virtio-rng", features: Self.version1))
        #expect(rings.watched.isEmpty)
        rings.follow(Self.rng)
        #expect(rings.watched.map(\.index) == [0])
    }

    @Test("two devices of one name, followed by where their common configuration structures are: each structure's writes set up its own device's queue; one nobody placed sets up none; one placed later has its queue watched then")
    func sameNameByAddress() throws {
        let ram = try GuestRAM()
        let disk = { (label: String) in TracedDevice(label: label, type: .block, blockCapacity: nil, queueCount: 1, offered: nil) }
        var rings = Self.rings(ram, following: TracedDevices(pciPlaced: [.pci(name: "virtio-blk", address: 0xFEBF_4000): disk("virtio-blk@/b0")]))
        rings.apply(Self.setUp("virtio-blk", features: Self.version1, at: 0xFEBF_4000))
        rings.apply(Self.setUp("virtio-blk", features: Self.version1, base: 0x10000, at: 0xFEBF_8000))
        #expect(rings.watched.map(\.device) == ["virtio-blk@/b0"] && rings.watched.first?.addresses.descriptorArea == 0x1000)
        rings.follow(TracedDevices(pciPlaced: [
            .pci(name: "virtio-blk", address: 0xFEBF_4000): disk("virtio-blk@/b0"), .pci(name: "virtio-blk", address: 0xFEBF_8000): disk("virtio-blk@/b1"),
        ]))
        #expect(rings.watched.map(\.device) == ["virtio-blk@/b0", "virtio-blk@/b1"])
        #expect(rings.watched.last?.addresses.descriptorArea == 0x11000 && rings.watched.last?.source == .trace)
        #expect(try ram.lines("queue").count == 2)
    }

    @Test("a queue the device does not have (at or past QMP's num-vqs) is not watched, whatever the driver writes")
    func queueBeyondCount() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.rng)
        rings.apply(Self.setUp("virtio-rng", features: Self.version1, queue: 2))
        rings.apply(Self.setUp("virtio-rng", features: Self.version1, queue: 1023))
        #expect(rings.watched.isEmpty)
        rings.apply(Self.setUp("virtio-rng", features: Self.version1, queue: 1))
        #expect(rings.watched.map(\.index) == [1])
    }

    @Test("a device whose name is not unique (not followed) is left to QMP")
    func notFollowed() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.rng)
        rings.apply(Self.setUp("virtio-blk", features: Self.version1))
        #expect(rings.watched.isEmpty && rings.traceOwned.isEmpty)
    }

    @Test("a queue enabled without a queue_size write is watched at the device's default size when QMP gave it (SeaBIOS's disk)")
    func defaultQueueSize() throws {
        let ram = try GuestRAM()
        var rng = Self.rng
        rng.pciByName["virtio-rng"]?.defaultQueueSizes = [0: 8]
        var rings = Self.rings(ram, following: rng)
        rings.apply(Self.setUp("virtio-rng", features: Self.version1, size: nil))
        #expect(rings.watched.map(\.addresses) == [QueueAddresses(descriptorArea: 0x1000, driverArea: 0x2000, deviceArea: 0x3000, size: 8)])
        #expect(rings.traceOwned == ["virtio-rng@/r"] && rings.watched.first?.source == .trace)
        // Another queue of it has no default given: left to QMP, as before.
        rings.apply(Self.setUp("virtio-rng", features: Self.version1, queue: 1, size: nil, base: 0x10000))
        #expect(rings.traceRefused == ["virtio-rng@/r"])
    }

    @Test("left to QMP: a queue enabled without a queue_size write, a network device with VIRTIO_NET_F_MQ")
    func leftToQMP() throws {
        let ram = try GuestRAM()
        var devices = Self.rng
        devices.pciByName.merge(Self.net.pciByName) { $1 }
        var rings = Self.rings(ram, following: devices)
        rings.apply(Self.setUp("virtio-rng", features: Self.version1, size: nil))
        rings.apply(Self.setUp("virtio-net", features: Self.version1 | 1 << 22 | 1 << 17, at: 0xFEBF_8000))
        #expect(rings.watched.isEmpty && rings.traceOwned.isEmpty)
    }

    @Test("FEAT-ACCEPT-SUBSET: features the driver wrote that QMP says the device does not offer are a defect line, once an initialization (at its first queue); none within the offer")
    func unofferedFeatures() throws {
        let ram = try GuestRAM()
        let offered: FeatureBits = [.version1, .eventIndex]
        var rings = Self.rings(
            ram,
            following: TracedDevices(pciByName: [
                "virtio-rng": TracedDevice(label: "virtio-rng@/r", type: .entropy, blockCapacity: nil, queueCount: 2, offered: offered)
            ]))
        // VIRTIO_F_RING_PACKED (34) accepted without being offered; both queues enabled.
        let accepted = Self.version1 | 1 << 29 | 1 << 34
        rings.apply(Self.setUp("virtio-rng", features: accepted, queue: 0))
        rings.apply(Self.setUp("virtio-rng", features: accepted, queue: 1, base: 0x10000))
        var defects = try ram.lines("defect")
        #expect(defects.count == 1 && defects.first?["queue"] as? Int == 0)
        let message = (defects.first?["defects"] as? [[String: Any]])?.first?["message"] as? String
        #expect(message?.hasPrefix("the driver accepted VIRTIO_F_RING_PACKED, which the device does not offer") == true)
        // The sampler watches the queue with the features QEMU kept.
        #expect(rings.watched.first?.features == offered)
        // A reset, then the same: said again; then a driver within the offer: nothing more.
        rings.apply([Self.write("virtio-rng", .deviceStatus, 0)])
        rings.apply(Self.setUp("virtio-rng", features: accepted, queue: 0))
        rings.apply([Self.write("virtio-rng", .deviceStatus, 0)])
        rings.apply(Self.setUp("virtio-rng", features: offered.rawValue, queue: 0))
        defects = try ram.lines("defect")
        #expect(defects.count == 2)
        #expect(try ram.replay().rules == ["FEAT-ACCEPT-SUBSET", "FEAT-ACCEPT-SUBSET"])
    }

    @Test("FEAT-OFFER-DEPS and BLK-WCE-NEEDS-FLUSH: a network device offering MQ and CTRL_RX without CTRL_VQ, a disk offering CONFIG_WCE without FLUSH, each said once a run, at its first queue; offers that hold together, not")
    func offerDependencies() throws {
        let ram = try GuestRAM()
        let offered: FeatureBits = [.version1, .netMultiqueue, FeatureBits(bit: 18)]
        var rings = Self.rings(
            ram,
            following: TracedDevices(pciByName: [
                "virtio-net": TracedDevice(label: "virtio-net@/n", type: .network, blockCapacity: nil, queueCount: 3, offered: offered),
                "virtio-rng": TracedDevice(label: "virtio-rng@/r", type: .entropy, blockCapacity: nil, queueCount: 1, offered: [.version1]),
                // CONFIG_WCE (11) with FLUSH (9): holds; the second disk offers it without.
                "virtio-blk": TracedDevice(
                    label: "virtio-blk@/b", type: .block, blockCapacity: nil, queueCount: 1, offered: [.version1, FeatureBits(bit: 9), FeatureBits(bit: 11)]),
                "virtio-blk-1": TracedDevice(
                    label: "virtio-blk@/c", type: .block, blockCapacity: nil, queueCount: 1, offered: [.version1, FeatureBits(bit: 11)]),
            ]))
        rings.apply(Self.setUp("virtio-net", features: Self.version1, queue: 0))
        rings.apply(Self.setUp("virtio-net", features: Self.version1, queue: 1, base: 0x10000))
        rings.apply([Self.write("virtio-net", .deviceStatus, 0)])
        rings.apply(Self.setUp("virtio-net", features: Self.version1, queue: 0))
        rings.apply(Self.setUp("virtio-rng", features: Self.version1, queue: 0, base: 0x20000))
        rings.apply(Self.setUp("virtio-blk", features: Self.version1, queue: 0, base: 0x30000))
        rings.apply(Self.setUp("virtio-blk-1", features: Self.version1, queue: 0, base: 0x40000))
        let defects = try ram.lines("defect")
        #expect(defects.map { $0["device"] as? String } == ["virtio-net@/n", "virtio-blk@/c"] && defects.first?["queue"] as? Int == 0)
        let messages = defects.map { ($0["defects"] as? [[String: Any]])?.first?["message"] as? String }
        #expect(messages == [
            "the device offers VIRTIO_NET_F_CTRL_RX without VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MQ without VIRTIO_NET_F_CTRL_VQ (offered 0x100440000)",
            "the device offers VIRTIO_BLK_F_CONFIG_WCE without VIRTIO_BLK_F_FLUSH (offered 0x100000800)",
        ])
        #expect(try ram.replay().rules == ["FEAT-OFFER-DEPS", "BLK-WCE-NEEDS-FLUSH"])
    }

    @Test("a network device with VIRTIO_NET_F_CTRL_VQ and no MQ: queue 2 is its control queue")
    func netControlQueue() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.net)
        for queue in 0..<3 { rings.apply(Self.setUp("virtio-net", features: Self.version1 | 1 << 17, queue: UInt64(queue), base: UInt64(queue) * 0x10000)) }
        #expect(rings.watched.map(\.role) == [.receive, .transmit, .control])
    }

    @Test("device_status 0 in the trace retires the device's queues (one reset line); queue_reset retires one queue")
    func resets() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.net)
        rings.apply(Self.setUp("virtio-net", features: Self.version1, queue: 0))
        rings.apply(Self.setUp("virtio-net", features: Self.version1, queue: 1, base: 0x10000))
        rings.apply([Self.write("virtio-net", .queueSelect, 1), Self.write("virtio-net", .queueReset, 1)])
        #expect(rings.watched.map(\.index) == [0])
        rings.apply([Self.write("virtio-net", .deviceStatus, 0), Self.write("virtio-net", .deviceStatus, 0)])
        #expect(rings.watched.isEmpty && rings.traceOwned.isEmpty)
        let resets = try ram.lines("reset")
        #expect(resets.count == 2 && resets[0]["queue"] as? Int == 1 && resets[1]["queue"] == nil)
        #expect(rings.summary(exitStatus: 0).queues == 2 && rings.retired.map { "\($0.queue): \($0.resets)" } == ["1: 1", "0: 1"])
    }

    @Test("a driver looping set-up and reset: the manifest keeps one entry for the queue, with the count of its resets")
    func resetLoop() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.rng)
        for _ in 0..<100 {
            rings.apply(Self.setUp("virtio-rng", features: Self.version1))
            rings.apply([Self.write("virtio-rng", .deviceStatus, 0)])
        }
        #expect(rings.retired.count == 1 && rings.retired.first?.resets == 100)
        #expect(rings.summary(exitStatus: 0).queues == 100)
        // What a watch counted goes with it into the entry: chains read late, here.
        rings.apply(Self.setUp("virtio-rng", features: Self.version1))
        rings.watched[0].late = 3
        #expect(rings.summary(exitStatus: 0).late == 3)
        rings.apply([Self.write("virtio-rng", .deviceStatus, 0)])
        #expect(rings.summary(exitStatus: 0).late == 3 && rings.retired.first?.manifestEntry.contains(#""late": 3,"#) == true)
    }

    @Test("replayed, a queue reset ends that queue only: the other queue's later entries still count")
    func queueResetReplayed() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.rng, mapped: true)
        rings.apply(Self.setUp("virtio-rng", features: Self.version1, queue: 0))
        rings.apply(Self.setUp("virtio-rng", features: Self.version1, queue: 1, base: 0x4000))
        rings.apply([Self.write("virtio-rng", .queueSelect, 1), Self.write("virtio-rng", .queueReset, 1)])
        ram.splitDescriptor(0, address: 0x8000, length: 64, flags: 2)
        ram.splitAvail(0, head: 0)
        _ = rings.scanAll()
        let replayed = try ram.replay()
        #expect(replayed.problems.isEmpty)
        #expect(replayed.queues.map { "\($0.queue): \($0.availEntries)" }.sorted() == ["0: 1", "1: 0"])
    }

    static let mmioNet = TracedDevices(mmio: [0x0a00_3e00: TracedDevice(label: "virtio-net@/n", type: .network, blockCapacity: nil, queueCount: 3, offered: nil)])

    static func mmio(_ writes: [(MMIORegister, UInt64)], base: UInt64 = 0x0a00_3e00, size: UInt32 = 4) -> [TraceTail.TransportWrite] {
        writes.map { TraceTail.TransportWrite(transport: .mmio(base), offset: $0.0.rawValue, value: $0.1, size: size) }
    }

    @Test("virtio-mmio version 1 (legacy): a queue is watched when its QueuePFN is written, its rings laid out from the page frame and the GuestPageSize written before the reset (§2.7.2, §4.2.4)")
    func mmioLegacy() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.mmioNet)
        // U-Boot's order: GuestPageSize before the reset, which keeps it (QEMU resets the device, not the transport).
        rings.apply(Self.mmio([(.guestPageSize, 4096), (.status, 0), (.status, 1), (.driverFeatures, 1 << 5), (.queueSel, 1), (.queueNum, 8), (.queueAlign, 4096)]))
        #expect(rings.watched.isEmpty)
        rings.apply(Self.mmio([(.queuePFN, 1)]))
        let queue = try #require(rings.watched.first)
        // 8 descriptors (128 bytes) then the available ring; the used ring at the next 4096 boundary.
        #expect(queue.addresses == QueueAddresses(descriptorArea: 0x1000, driverArea: 0x1080, deviceArea: 0x2000, size: 8))
        #expect(queue.index == 1 && queue.role == .transmit && queue.features.rawValue == 1 << 5 && queue.source == .trace)
        // Another transport's writes (another address) are not this device's.
        rings.apply(Self.mmio([(.status, 0)], base: 0x0a00_3c00))
        #expect(rings.watched.count == 1)
        rings.apply(Self.mmio([(.status, 0)]))
        #expect(rings.watched.isEmpty)
    }

    @Test("virtio-mmio version 2: a queue is watched when QueueReady is set, at the three areas written (§4.2.3.2)")
    func mmioModern() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.mmioNet)
        rings.apply(Self.mmio([(.driverFeaturesSel, 1), (.driverFeatures, 1), (.queueSel, 0), (.queueNum, 8),
            (.queueDescLow, 0x1000), (.queueDescHigh, 0), (.queueDriverLow, 0x2000), (.queueDriverHigh, 0), (.queueDeviceLow, 0x3000), (.queueDeviceHigh, 0)]))
        #expect(rings.watched.isEmpty)
        rings.apply(Self.mmio([(.queueReady, 1)]))
        #expect(rings.watched.map(\.addresses) == [RingWatcherTests.split])
        #expect(rings.watched.first?.features == [.version1])
    }

    @Test("virtio-mmio as QEMU 7.2 takes it: a register write of other than 4 bytes is ignored, a legacy QueuePFN of 0 resets the device")
    func mmioQEMUWrites() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.mmioNet)
        let setUp: [(MMIORegister, UInt64)] = [(.guestPageSize, 4096), (.queueSel, 0), (.queueNum, 8), (.queueAlign, 4096), (.queuePFN, 1)]
        rings.apply(Self.mmio(setUp))
        #expect(rings.watched.count == 1)
        rings.apply(Self.mmio([(.status, 0)], size: 1))
        #expect(rings.watched.count == 1)
        rings.apply(Self.mmio([(.queuePFN, 0)]))
        let resets = try ram.lines("reset")
        #expect(rings.watched.isEmpty && resets.count == 1)
    }

    @Test("a device left to QMP stays with QMP until its next reset, even if a later queue could be followed; QMP is asked again if it had found the device ready")
    func refusedUntilReset() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.rng)
        rings.ready.insert("virtio-rng@/r")
        rings.apply(Self.setUp("virtio-rng", features: Self.version1, queue: 0, size: nil))
        rings.apply(Self.setUp("virtio-rng", features: Self.version1, queue: 1, base: 0x4000))
        #expect(rings.watched.isEmpty && rings.traceOwned.isEmpty && rings.ready.isEmpty)
        rings.apply([Self.write("virtio-rng", .deviceStatus, 0)])
        rings.apply(Self.setUp("virtio-rng", features: Self.version1, queue: 1, base: 0x4000))
        #expect(rings.watched.map(\.index) == [1] && rings.traceOwned == ["virtio-rng@/r"])
    }

    @Test("features the device does not offer are not taken from the driver's writes (QEMU keeps only offered ones); RSS leaves a network device to QMP")
    func offeredFeatures() throws {
        let ram = try GuestRAM()
        var devices = Self.net
        devices.pciByName["virtio-rng"] = TracedDevice(label: "virtio-rng@/r", type: .entropy, blockCapacity: nil, queueCount: 1, offered: [.version1, .eventIndex])
        var rings = Self.rings(ram, following: devices)
        rings.apply(Self.setUp("virtio-rng", features: Self.version1 | 1 << 34 | 1 << 29))  // RING_PACKED not offered
        #expect(rings.watched.first?.features == [.version1, .eventIndex] && rings.watched.first?.packed == nil)
        rings.apply(Self.setUp("virtio-net", features: Self.version1 | 1 << 60 | 1 << 17, at: 0xFEBF_8000))
        #expect(rings.watched.count == 1 && rings.traceRefused == ["virtio-net@/n"])
    }

    @Test("a reset QMP found and the trace did not show (a system reset) retires the queues and forgets the transport's registers; a suspended queue set up at the same addresses is watched anew")
    func resetNotInTrace() throws {
        let ram = try GuestRAM()
        var rings = Self.rings(ram, following: Self.mmioNet)
        rings.apply(Self.mmio([(.guestPageSize, 4096), (.queueSel, 0), (.queueNum, 8), (.queuePFN, 1)]))
        rings.watched[0].suspended = true
        let again = WatchedQueue(
            device: "virtio-net@/n", type: .network, index: 0, addresses: rings.watched[0].addresses, features: [], netControlQueue: nil)
        rings.watch([again])
        let queueLines = try ram.lines("queue")
        #expect(rings.watched.count == 1 && rings.watched[0].suspended == false && queueLines.count == 2)
        rings.deviceReset("virtio-net@/n", transport: true)
        #expect(rings.watched.isEmpty && rings.transports.isEmpty && rings.resets["virtio-net@/n"] == 1)
        // GuestPageSize went with the transport: a QueuePFN alone no longer lays out a ring.
        rings.apply(Self.mmio([(.queueSel, 0), (.queueNum, 8), (.queuePFN, 1)]))
        #expect(rings.watched.isEmpty)
    }
}
