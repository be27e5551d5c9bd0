import GuestMemory
import Testing
import VirtioModel

@testable import LiveCapture

/// One scan of a queue reads at most ``WatchedQueue/entriesPerScan`` entries on each side (a
/// split ring's available and used entries, a packed ring's lists and used descriptors): a
/// burst on one queue does not keep the sampler from the others.
struct ScanLimitTests {
    typealias GuestRAM = RingWatcherTests.GuestRAM

    /// A second packed ring of 8 in the test's RAM, after the first (descriptors at 0x6000).
    static let otherRing = QueueAddresses(descriptorArea: 0x6000, driverArea: 0x7000, deviceArea: 0x7100, size: 8)

    @Test("a round over two packed queues, one with a ring full of new lists: the other's list is read in the first round, the full one's over eight")
    func burstDoesNotHoldOthers() throws {
        let ram = try GuestRAM()
        var rings = Rings(writer: ram.writer)
        rings.memory = ram.memory
        let busy = RingWatcherTests.packedQueue(ram)
        let control = WatchedQueue(
            device: "virtio-net@/t", type: .network, index: 2, addresses: Self.otherRing, features: [.version1, .ringPacked],
            netControlQueue: 2)
        rings.watched = [busy, control]
        // Eight receive-like buffers on the first queue; one command (header, status) on the second.
        for slot in 0..<8 { ram.packedDescriptor(slot, address: 0x8000 + UInt64(slot) * 0x100, length: 256, id: UInt16(slot), flags: 0x0082) }
        ram.put(UInt64(0xA000), at: 0x6000)
        ram.put(UInt32(2), at: 0x6008)
        ram.put(UInt16(0), at: 0x600C)
        ram.put(UInt64(0xA010), at: 0x6010)
        ram.put(UInt32(1), at: 0x6018)
        ram.put(UInt16(0), at: 0x601C)
        ram.put(UInt16(0x0082), at: 0x601E)
        ram.put(UInt16(0x0081), at: 0x600E)
        let changed = rings.scanAll()
        #expect(changed)
        let first = try ram.lines("avail")
        #expect(first.compactMap { $0["queue"] as? Int } == [0, 2])
        var rounds = 1
        while rings.scanAll() { rounds += 1 }
        #expect(rounds == 8)
        #expect(try ram.lines("avail").count == 9)
    }

    @Test("a round over two split queues, one with a ring full of new entries: the other's command is read in the first round, the full one's over eight")
    func splitBurstDoesNotHoldOthers() throws {
        let ram = try GuestRAM()
        var rings = Rings(writer: ram.writer)
        rings.memory = ram.memory
        let busy = WatchedQueue(
            device: "virtio-net@/t", type: .network, index: 0, addresses: RingWatcherTests.split, features: [.version1],
            netControlQueue: 2)
        let other = QueueAddresses(descriptorArea: 0x6000, driverArea: 0x7000, deviceArea: 0x7100, size: 8)
        let control = WatchedQueue(
            device: "virtio-net@/t", type: .network, index: 2, addresses: other, features: [.version1], netControlQueue: 2)
        rings.watched = [busy, control]
        // Eight receive buffers made available at once; one command (header, then status) on the other ring.
        for index in 0..<8 {
            ram.splitDescriptor(index, address: 0x8000 + UInt64(index) * 0x100, length: 256, flags: 2)
            ram.splitAvail(index, head: UInt16(index))
        }
        ram.put(UInt64(0xA000), at: 0x6000)
        ram.put(UInt32(2), at: 0x6008)
        ram.put(UInt16(1), at: 0x600C)
        ram.put(UInt16(1), at: 0x600E)
        ram.put(UInt64(0xA010), at: 0x6010)
        ram.put(UInt32(1), at: 0x6018)
        ram.put(UInt16(2), at: 0x601C)
        ram.put(UInt16(0), at: 0x7004)
        ram.put(UInt16(1), at: 0x7002)
        let changed = rings.scanAll()
        #expect(changed)
        #expect(try ram.lines("avail").compactMap { $0["queue"] as? Int } == [0, 2])
        var rounds = 1
        while rings.scanAll() { rounds += 1 }
        #expect(rounds == 8)
        let offers = try ram.lines("avail")
        #expect(offers.filter { $0["queue"] as? Int == 0 }.compactMap { $0["head"] as? Int } == Array(0..<8))
        #expect(offers.allSatisfy { $0["late"] == nil && $0["stale"] == nil })
    }

    @Test("split, completed out of order while the scan limit held an offer back: the used element waits for its offer, which is read late, and is matched with it")
    func splitUsedWaitsForItsOffer() throws {
        let ram = try GuestRAM()
        var queue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: RingWatcherTests.split, features: [.version1],
            netControlQueue: nil)
        // Heads 0 and 1 made available, and head 1 used before head 0, all before a scan.
        ram.splitDescriptor(0, address: 0x8000, length: 16, flags: 2)
        ram.splitDescriptor(1, address: 0x8100, length: 16, flags: 2)
        ram.splitAvail(0, head: 0)
        ram.splitAvail(1, head: 1)
        ram.splitUsed(0, id: 1, length: 16)
        queue.scan(memory: ram.memory, writer: ram.writer)
        // The first scan read head 0's offer; the element of head 1 waited for head 1's.
        #expect(try ram.lines("avail").compactMap { $0["head"] as? Int } == [0] && ram.lines("used").isEmpty)
        RingWatcherTests.drain(&queue, ram)
        let offers = try ram.lines("avail")
        #expect(offers.compactMap { $0["head"] as? Int } == [0, 1] && offers.map { $0["late"] as? Bool ?? false } == [false, true])
        let used = try ram.lines("used")
        #expect(used.compactMap { $0["id"] as? Int } == [1] && used.first?["unread"] as? Bool == true)
        // Head 0 still owned, head 1 completed: one offer outstanding.
        let (completed, owned) = (queue.offers[1], queue.offers[0]?.count)
        #expect(queue.offerCount == 1 && completed == nil && owned == 1)
    }

    @Test("packed with EVENT_IDX, used descriptors read over several scans: no wait begins at a position the device had passed before the first (the same as one scan reading them all)")
    func noWaitBehindTheDevice() throws {
        let ram = try GuestRAM()
        var queue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: RingWatcherTests.packedRing,
            features: [.version1, .ringPacked, .eventIndex], netControlQueue: nil)
        for slot in 0..<3 { ram.packedDescriptor(slot, address: 0x8000 + UInt64(slot) * 0x100, length: 16, id: UInt16(slot), flags: 0x0082) }
        RingWatcherTests.drain(&queue, ram)
        // The driver asks to be told of slot 1; the device then uses slots 0–2 between two scans.
        RingWatcherTests.eventSuppression(ram, at: RingWatcherTests.packedRing.driverArea, slot: 1, wrap: true)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 100)
        for slot in 0..<3 { ram.packedDescriptor(slot, address: 0x8000 + UInt64(slot) * 0x100, length: 16, id: UInt16(slot), flags: 0x8080) }
        for time in [200, 300, 400, 500] { queue.scan(memory: ram.memory, writer: ram.writer, time: Int64(time)) }
        #expect(try ram.lines("used").count == 3)
        // The driver takes them and asks for slot 3: no wait is recorded, now or at the end.
        RingWatcherTests.eventSuppression(ram, at: RingWatcherTests.packedRing.driverArea, slot: 3, wrap: true)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 600)
        queue.endWaits(writer: ram.writer)
        #expect(try ram.lines("awaiting").isEmpty)
    }
}
