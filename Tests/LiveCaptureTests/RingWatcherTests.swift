import Foundation
import GuestMemory
import Synchronization
import Testing
import VirtioAnalysis
import VirtioModel

@testable import LiveCapture

/// The recorder's watchers on a guest RAM file the test writes into between scans, as a
/// driver and a device would: what lands in `rings.jsonl` and what its replay raises.
struct RingWatcherTests {
    /// 64 KiB of guest RAM at guest-physical 0, in a shared file mapped as the recorder maps it.
    /// Another thread may write into it while the recorder reads it, as a guest does (each
    /// `put` one store, in program order); the writer and the reads of the recording stay the recorder's.
    final class GuestRAM: @unchecked Sendable {
        let directory: String
        let descriptor: Int32
        /// The file mapped writable, as the guest's side of it.
        let guest: UnsafeMutableRawPointer
        let memory: GuestMemoryMap
        let writer: RingRecordWriter

        init() throws {
            self.directory = NSTemporaryDirectory() + "vqscope-watch-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
            let path = self.directory + "/guest-ram"
            self.descriptor = open(path, O_RDWR | O_CREAT, 0o600)
            #expect(ftruncate(self.descriptor, 0x10000) == 0)
            let mapped = mmap(nil, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, self.descriptor, 0)
            guard let mapped, mapped != MAP_FAILED else { throw POSIXError(.ENOMEM) }
            self.guest = mapped
            self.memory = try GuestMemoryMap(
                file: MappedFile(path: path, shared: true), regions: [.init(guestAddress: 0, length: 0x10000, fileOffset: 0)])
            self.writer = try RingRecordWriter(path: self.directory + "/rings.jsonl")
        }

        deinit {
            munmap(self.guest, 0x10000)
            close(self.descriptor)
            try? FileManager.default.removeItem(atPath: self.directory)
        }

        func put<T: FixedWidthInteger>(_ value: T, at address: Int) {
            precondition(address >= 0 && address + MemoryLayout<T>.size <= 0x10000, "outside the test's RAM")
            // Stores stay in program order, as a guest's (x86 keeps them so; this keeps the compiler from reordering them).
            atomicMemoryFence(ordering: .releasing)
            self.guest.storeBytes(of: value.littleEndian, toByteOffset: address, as: T.self)
        }

        /// A split descriptor (§2.7.5) at `index` of the table at 0x1000.
        func splitDescriptor(_ index: Int, address: UInt64, length: UInt32, flags: UInt16, next: UInt16 = 0) {
            let base = 0x1000 + 16 * index
            self.put(address, at: base)
            self.put(length, at: base + 8)
            self.put(flags, at: base + 12)
            self.put(next, at: base + 14)
        }

        /// A block request at descriptors `head`…`head`+2: its 16-byte header at `header`, `length`
        /// data bytes the device writes at `data`, and the status byte after the header.
        func splitBlockRequest(head: Int, header: UInt64, data: UInt64, length: UInt32) {
            self.splitDescriptor(head, address: header, length: 16, flags: 1, next: UInt16(head + 1))
            self.splitDescriptor(head + 1, address: data, length: length, flags: 3, next: UInt16(head + 2))
            self.splitDescriptor(head + 2, address: header + 16, length: 1, flags: 2)
        }

        /// The driver makes `head` available as entry `index` of the split ring of 8 at 0x2000
        /// and publishes avail.idx.
        func splitAvail(_ index: Int, head: UInt16) {
            self.put(head, at: 0x2004 + 2 * (index % 8))
            self.put(UInt16(truncatingIfNeeded: index + 1), at: 0x2002)
        }

        /// The device returns `id` as used element `index` of the split ring of 8 at 0x3000 and
        /// publishes used.idx.
        func splitUsed(_ index: Int, id: UInt32, length: UInt32) {
            self.put(id, at: 0x3004 + 8 * (index % 8))
            self.put(length, at: 0x3008 + 8 * (index % 8))
            self.put(UInt16(truncatingIfNeeded: index + 1), at: 0x3002)
        }

        /// A packed descriptor (§2.8.13) at `slot` of the ring at 0x4000.
        func packedDescriptor(_ slot: Int, address: UInt64, length: UInt32, id: UInt16, flags: UInt16) {
            let base = 0x4000 + 16 * slot
            self.put(address, at: base)
            self.put(length, at: base + 8)
            self.put(id, at: base + 12)
            self.put(flags, at: base + 14)
        }

        /// The recording so far, replayed.
        func replay() throws -> (queues: [RecordedQueueReport], rules: [String], problems: [String]) {
            self.writer.flush()
            let result = try RecordedRun.replay(directory: self.directory)
            return (result.queues, result.findings.kept.map(\.rule.id), result.problems)
        }

        func lines(_ kind: String) throws -> [[String: Any]] {
            self.writer.flush()
            let text = try String(contentsOfFile: self.directory + "/rings.jsonl", encoding: .utf8)
            return text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.filter { $0["kind"] as? String == kind }
        }
    }

    /// Scans `queue` until a scan records nothing, as the sampler's rounds would: a scan reads
    /// one entry of each side of a ring (``WatchedQueue/entriesPerScan``).
    static func drain(_ queue: inout WatchedQueue, _ ram: GuestRAM) {
        for _ in 0..<64 {
            let lines = ram.writer.lines
            queue.scan(memory: ram.memory, writer: ram.writer)
            if ram.writer.lines == lines { return }
        }
        Issue.record("still recording after 64 scans")
    }

    static let split = QueueAddresses(descriptorArea: 0x1000, driverArea: 0x2000, deviceArea: 0x3000, size: 8)

    @Test("split: a chain rewritten while the device owns it is recorded as touched once; rewritten after its used element, not")
    func touched() throws {
        let ram = try GuestRAM()
        // A block request: header, 512 writable bytes, status; head 0 made available.
        ram.splitDescriptor(0, address: 0x8000, length: 16, flags: 1, next: 1)
        ram.splitDescriptor(1, address: 0x9000, length: 512, flags: 3, next: 2)
        ram.splitDescriptor(2, address: 0x8010, length: 1, flags: 2)
        ram.splitAvail(0, head: 0)
        var queue = WatchedQueue(
            device: "virtio-blk@/t", type: .block, index: 0, addresses: Self.split, features: [.version1], netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        queue.scan(memory: ram.memory, writer: ram.writer)
        for _ in 0..<16 { queue.checkExposed(memory: ram.memory, writer: ram.writer) }
        #expect(try ram.lines("touched").isEmpty)
        // The driver moves the data buffer while the device owns the chain.
        ram.splitDescriptor(1, address: 0xA000, length: 512, flags: 3, next: 2)
        for _ in 0..<16 { queue.checkExposed(memory: ram.memory, writer: ram.writer) }
        let touched = try ram.lines("touched")
        #expect(touched.count == 1 && touched.first?["head"] as? Int == 0)
        // The device returns it; the driver offers head 0 again and rewrites it only once it is used.
        ram.splitUsed(0, id: 0, length: 513)
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.splitAvail(1, head: 0)
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.splitUsed(1, id: 0, length: 513)
        // Rewritten after the used element is written, before the recorder has read it: not a finding.
        ram.splitDescriptor(1, address: 0xB000, length: 512, flags: 3, next: 2)
        for _ in 0..<16 { queue.checkExposed(memory: ram.memory, writer: ram.writer) }
        queue.scan(memory: ram.memory, writer: ram.writer)
        let result = try ram.replay()
        #expect(result.rules == ["CLEANUP-NO-TOUCH-EXPOSED"] && result.problems.isEmpty)
        #expect(result.queues.first?.availEntries == 2 && result.queues.first?.usedEntries == 2)
    }

    @Test("packed: found mid-run, the cursors start at QMP's used-idx with the wrap counter its slot shows")
    func packedAttach() throws {
        let ram = try GuestRAM()
        let ring = QueueAddresses(descriptorArea: 0x4000, driverArea: 0x5000, deviceArea: 0x5100, size: 8)
        // Lap 1 (wrap counter 1): eight one-buffer lists, IDs 0–7 (AVAIL set, USED clear, WRITE).
        for slot in 0..<8 { ram.packedDescriptor(slot, address: 0x8000 + UInt64(slot) * 0x100, length: 256, id: UInt16(slot), flags: 0x0082) }
        // The device used slots 0–2 (AVAIL = USED = 1, no WRITE: as QEMU writes them), and the
        // driver made them available again in lap 0 (AVAIL clear, USED set).
        for slot in 0..<3 { ram.packedDescriptor(slot, address: 0xC000 + UInt64(slot) * 0x100, length: 256, id: UInt16(slot), flags: 0x8002) }
        var queue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: ring, features: [.version1, .ringPacked],
            netControlQueue: nil, packedStart: .init(slot: 3, wrap: true))
        ram.writer.write(queue.queueLine)
        Self.drain(&queue, ram)
        let offered = try ram.lines("avail")
        #expect(offered.compactMap { $0["slot"] as? Int } == [3, 4, 5, 6, 7, 0, 1, 2])
        #expect(offered.compactMap { $0["head"] as? Int } == [3, 4, 5, 6, 7, 0, 1, 2])
        #expect(try ram.lines("missed").first?["used"] as? Int == 3)
        // The device uses slot 3 with 16 bytes written.
        ram.packedDescriptor(3, address: 0x8300, length: 16, id: 3, flags: 0x8080)
        Self.drain(&queue, ram)
        let used = try ram.lines("used")
        #expect(used.count == 1 && used.first?["id"] as? Int == 3 && used.first?["write"] as? Bool == false)
        let result = try ram.replay()
        #expect(result.rules == ["PACKED-USED-WRITE-FLAG"] && result.problems.isEmpty)
        #expect(result.queues.first?.availEntries == 8 && result.queues.first?.missed == 3)
    }

    @Test("packed: a list made available and used between two scans is counted as missed, its completion recorded unread")
    func packedMissed() throws {
        let ram = try GuestRAM()
        let ring = QueueAddresses(descriptorArea: 0x4000, driverArea: 0x5000, deviceArea: 0x5100, size: 8)
        var queue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: ring, features: [.version1, .ringPacked],
            netControlQueue: nil)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("avail").isEmpty)
        ram.packedDescriptor(0, address: 0x8000, length: 16, id: 5, flags: 0x8082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("missed").first?["avail"] as? Int == 1)
        #expect(try ram.lines("used").first?["unread"] as? Bool == true)
        ram.packedDescriptor(1, address: 0x8100, length: 64, id: 6, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("avail").compactMap { $0["slot"] as? Int } == [1])
    }

    @Test("packed: found after a whole lap, at slot 0 with the counter its flags give (0), lap 0 is read")
    func packedAttachSecondLap() throws {
        let ram = try GuestRAM()
        let ring = QueueAddresses(descriptorArea: 0x4000, driverArea: 0x5000, deviceArea: 0x5100, size: 8)
        for slot in 0..<8 { ram.packedDescriptor(slot, address: 0x8000, length: 4, id: UInt16(slot), flags: 0x8080) }
        let wrap = WatchedQueue.deviceWrapCounter(
            at: 0, flags: PackedDescriptorFlags(rawValue: 0x8080), previousFlags: PackedDescriptorFlags(rawValue: 0x8080))
        #expect(!wrap)
        var queue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: ring, features: [.version1, .ringPacked],
            netControlQueue: nil, packedStart: .init(slot: 0, wrap: wrap))
        ram.writer.write(queue.queueLine)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("avail").isEmpty && ram.lines("used").isEmpty)
        // Lap 0: the driver offers slot 0 (AVAIL clear, USED set), the device uses it (both clear).
        ram.packedDescriptor(0, address: 0x9000, length: 64, id: 7, flags: 0x8002)
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.packedDescriptor(0, address: 0x9000, length: 64, id: 7, flags: 0x0002)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("avail").compactMap { $0["head"] as? Int } == [7])
        #expect(try ram.lines("used").compactMap { $0["len"] as? Int } == [64])
        let result = try ram.replay()
        #expect(result.rules.isEmpty && result.queues.first?.missed == 0)
    }

    @Test("split: a chain made available with a descriptor of a chain the device owns is SPLIT-CHAINS-DISJOINT; after its used element, not")
    func sharedDescriptors() throws {
        let ram = try GuestRAM()
        ram.splitDescriptor(0, address: 0x8000, length: 16, flags: 1, next: 1)
        ram.splitDescriptor(1, address: 0x9000, length: 513, flags: 2)
        ram.splitAvail(0, head: 0)
        var queue = WatchedQueue(
            device: "virtio-blk@/t", type: .block, index: 0, addresses: Self.split, features: [.version1], netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        queue.scan(memory: ram.memory, writer: ram.writer)
        // Head 2 links to descriptor 1, still head 0's.
        ram.splitDescriptor(2, address: 0xA000, length: 16, flags: 1, next: 1)
        ram.splitAvail(1, head: 2)
        queue.scan(memory: ram.memory, writer: ram.writer)
        // Head 0 comes back, then head 3 links to descriptor 1: fine now.
        ram.splitUsed(0, id: 0, length: 513)
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.splitUsed(1, id: 2, length: 513)
        ram.splitDescriptor(3, address: 0xB000, length: 16, flags: 1, next: 1)
        ram.splitAvail(2, head: 3)
        queue.scan(memory: ram.memory, writer: ram.writer)
        let result = try ram.replay()
        #expect(result.rules == ["SPLIT-CHAINS-DISJOINT"] && result.problems.isEmpty)
        let defects = try ram.lines("avail").map { ($0["defects"] as? [[String: Any]])?.count ?? -1 }
        #expect(defects == [0, 1, 0])
    }

    /// (slot, flags there, flags in the slot before, the device's wrap counter), flags as AVAIL/USED bits.
    static let attachCases: [(Int, UInt16, UInt16, Bool)] = [
        (0, 0x0000, 0x0000, true),  // a fresh ring
        (3, 0x8080, 0x8080, true),  // lap 1: slot 2 used, slot 3 made available and used since QMP answered
        (3, 0x0080, 0x8080, true),  // lap 1: slot 3 available
        (3, 0x0000, 0x8080, true),  // lap 1: slot 3 never written
        (3, 0x0080, 0x8000, true),  // lap 1, the driver a lap ahead: slot 2 available again in lap 0
        (3, 0x0000, 0x0000, false),  // lap 0: slot 2 used
        (3, 0x0080, 0x0080, true),  // lap 1: slot 2 the last descriptor of a list used at slot 1, slot 3 available
        (3, 0x0000, 0x0080, true),  // lap 1: the same list, slot 3 never written
        (3, 0x8000, 0x0080, false),  // lap 0, the driver a lap ahead: slot 2 available again in lap 1, slot 3 in lap 0
        (0, 0x8080, 0x8080, false),  // after lap 1: slot 7 used in lap 1
        (0, 0x0080, 0x0080, true),  // lap 1 from slot 0: the driver's whole lap available, slot 7 last
        (0, 0x8000, 0x0080, false),  // lap 0 from slot 0: slot 7 inside lap 1's last list, slot 0 offered in lap 0
    ]

    @Test("packed: the device's wrap counter where the recorder attaches", arguments: Self.attachCases)
    func attachWrapCounter(slot: Int, here: UInt16, before: UInt16, expected: Bool) {
        #expect(
            WatchedQueue.deviceWrapCounter(
                at: slot, flags: PackedDescriptorFlags(rawValue: here), previousFlags: PackedDescriptorFlags(rawValue: before))
                == expected)
    }

    @Test("packed: found while the driver fills the ring, every list is read as it appears")
    func packedFilling() throws {
        let ram = try GuestRAM()
        let ring = QueueAddresses(descriptorArea: 0x4000, driverArea: 0x5000, deviceArea: 0x5100, size: 8)
        var queue = WatchedQueue(
            device: "virtio-serial@/t", type: .console, index: 2, addresses: ring, features: [.version1, .ringPacked],
            netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        for slot in 0..<3 { ram.packedDescriptor(slot, address: 0x8000, length: 4096, id: UInt16(slot), flags: 0x0082) }
        Self.drain(&queue, ram)
        for slot in 3..<8 { ram.packedDescriptor(slot, address: 0x8000, length: 4096, id: UInt16(slot), flags: 0x0082) }
        Self.drain(&queue, ram)
        ram.packedDescriptor(0, address: 0x8000, length: 8, id: 0, flags: 0x8080)
        Self.drain(&queue, ram)
        #expect(try ram.lines("avail").compactMap { $0["slot"] as? Int } == Array(0..<8))
        #expect(try ram.lines("used").compactMap { $0["id"] as? Int } == [0])
    }

    /// A split entropy queue of 8 with every head made available once (64 writable bytes each),
    /// watched and scanned once.
    static func fullEntropyRing(_ ram: GuestRAM) -> WatchedQueue {
        for head in 0..<8 {
            ram.splitDescriptor(head, address: 0x8000 + UInt64(head) * 0x100, length: 64, flags: 2)
            ram.put(UInt16(head), at: 0x2004 + 2 * head)
        }
        ram.put(UInt16(8), at: 0x2002)
        var queue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: Self.split, features: [.version1], netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        Self.drain(&queue, ram)
        return queue
    }

    @Test("split: avail.idx more than the size past used.idx is SPLIT-AVAIL-IDX-WINDOW, once; a full ring is not")
    func exposedWindow() throws {
        let ram = try GuestRAM()
        var queue = Self.fullEntropyRing(ram)
        #expect(try ram.lines("window").isEmpty && ram.lines("avail").count == 8)
        // A ninth chain while none came back: the driver has overwritten an entry the device may not have read.
        ram.put(UInt16(0), at: 0x2004)
        ram.put(UInt16(9), at: 0x2002)
        queue.scan(memory: ram.memory, writer: ram.writer)
        queue.scan(memory: ram.memory, writer: ram.writer)
        let window = try ram.lines("window")
        #expect(window.count == 1 && window.first?["avail"] as? Int == 9 && window.first?["used"] as? Int == 0)
        let result = try ram.replay()
        #expect(result.rules.first == "SPLIT-AVAIL-IDX-WINDOW" && result.rules.filter { $0 == "SPLIT-AVAIL-IDX-WINDOW" }.count == 1)
    }

    @Test("split: avail.idx going back is recorded with where it was and where it went, and is SPLIT-AVAIL-IDX-NO-DECREASE unless a reset follows within a second; an index found far ahead at the first scan is a jump")
    func availWentBack() throws {
        let ram = try GuestRAM()
        var queue = Self.fullEntropyRing(ram)
        ram.put(UInt16(5), at: 0x2002)
        queue.scan(memory: ram.memory, writer: ram.writer)
        let suspended = try ram.lines("suspended")
        #expect(suspended.count == 1 && suspended.first?["availBefore"] as? Int == 8 && suspended.first?["avail"] as? Int == 5)
        #expect(try ram.replay().rules == ["SPLIT-AVAIL-IDX-NO-DECREASE"])
        // The trace told the recorder of the device's reset right after: a queue set up again.
        ram.writer.write(RecordLine("reset", location: queue.location))
        #expect(try ram.replay().rules == [])

        // A queue watched from index 0 whose avail.idx is already 65533, used.idx 65530 (the
        // recorder attached late): no entry was read, so it has not gone back; it jumped.
        let late = try GuestRAM()
        late.splitDescriptor(0, address: 0x8000, length: 64, flags: 2)
        late.put(UInt16(65533), at: 0x2002)
        late.put(UInt16(65530), at: 0x3002)
        var watch = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: Self.split, features: [.version1], netControlQueue: nil)
        late.writer.write(watch.queueLine)
        watch.scan(memory: late.memory, writer: late.writer)
        let jumped = try late.lines("suspended")
        #expect(jumped.count == 1 && jumped.first?["availBefore"] == nil && jumped.first?["why"] as? String == "an index jumped by more than two rings")
        #expect(try late.replay().rules == [])
    }

    @Test("split: used.idx going back, or found past avail.idx read after it, is recorded with both indices and is SPLIT-USED-IDX-WINDOW unless a reset follows within a second; used.idx catching up with avail.idx is neither")
    func usedIndexWindow() throws {
        let ram = try GuestRAM()
        var queue = Self.fullEntropyRing(ram)
        for index in 0..<3 { ram.splitUsed(index, id: UInt32(index), length: 64) }
        Self.drain(&queue, ram)
        #expect(try ram.lines("used").count == 3 && ram.lines("suspended").isEmpty)
        ram.put(UInt16(1), at: 0x3002)
        queue.scan(memory: ram.memory, writer: ram.writer)
        let back = try ram.lines("suspended")
        #expect(back.count == 1 && back.first?["usedBefore"] as? Int == 3 && back.first?["used"] as? Int == 1)
        #expect(back.first?["why"] as? String == "used.idx went back")
        #expect(try ram.replay().rules == ["SPLIT-USED-IDX-WINDOW"])
        ram.writer.write(RecordLine("reset", location: queue.location))
        #expect(try ram.replay().rules == [])

        // All eight used (avail.idx 8, used.idx 8): a full catch-up, no finding. Then a ninth
        // used element while avail.idx is still 8: the device returned a chain never made available.
        let ahead = try GuestRAM()
        var full = Self.fullEntropyRing(ahead)
        for index in 0..<8 { ahead.splitUsed(index, id: UInt32(index), length: 64) }
        Self.drain(&full, ahead)
        #expect(try ahead.lines("used").count == 8 && ahead.lines("suspended").isEmpty && ahead.replay().rules == [])
        ahead.splitUsed(8, id: 0, length: 64)
        full.scan(memory: ahead.memory, writer: ahead.writer)
        let passed = try ahead.lines("suspended")
        #expect(passed.count == 1 && passed.first?["avail"] as? Int == 8 && passed.first?["used"] as? Int == 9)
        #expect(passed.first?["usedBefore"] == nil && passed.first?["availBefore"] == nil)
        // The device's fault, not the driver's: no SPLIT-AVAIL-IDX-WINDOW.
        #expect(try ahead.lines("window").isEmpty && ahead.replay().rules == ["SPLIT-USED-IDX-WINDOW"])

        // used.idx far past avail.idx (by more than the size, less than half the index space):
        // the device's as well. Found so at the first read, the ring was not set up from zero:
        // suspended, no fault.
        for (seen, rules) in [(true, ["SPLIT-USED-IDX-WINDOW"]), (false, [String]())] {
            let far = try GuestRAM()
            var watch = seen ? Self.fullEntropyRing(far) : WatchedQueue(
                device: "virtio-rng@/t", type: .entropy, index: 0, addresses: Self.split, features: [.version1], netControlQueue: nil)
            if !seen { far.writer.write(watch.queueLine) }
            far.put(UInt16(seen ? 8 : 0) &+ 100, at: 0x3002)
            watch.scan(memory: far.memory, writer: far.writer)
            let line = try far.lines("suspended")
            #expect(line.count == 1 && (line.first?["used"] as? Int == (seen ? 108 : nil)), "\(line)")
            #expect(try far.lines("window").isEmpty && far.replay().rules == rules)
        }
    }

    @Test("a queue's layout judged when its watch starts: a split ring's parts misaligned or its used ring over the available ring (SPLIT-ALIGN, SPLIT-NO-OVERLAP), a packed ring's event suppression structure misaligned (PACKED-ALIGN); aligned rings apart, nothing")
    func layoutAtWatchStart() throws {
        let ram = try GuestRAM()
        var rings = Rings(writer: ram.writer)
        let queue = { (index: Int, addresses: QueueAddresses, features: FeatureBits) in
            WatchedQueue(device: "virtio-rng@/t", type: .entropy, index: index, addresses: addresses, features: features, netControlQueue: nil)
        }
        rings.watch([
            queue(0, Self.split, [.version1]),
            queue(1, QueueAddresses(descriptorArea: 0x1008, driverArea: 0x2001, deviceArea: 0x2010, size: 8), [.version1]),
            queue(2, Self.packedRing, [.version1, .ringPacked]),
            queue(3, QueueAddresses(descriptorArea: 0x4000, driverArea: 0x5002, deviceArea: 0x5100, size: 8), [.version1, .ringPacked]),
        ])
        let defects = try ram.lines("defect")
        #expect(defects.map { $0["queue"] as? Int } == [1, 3])
        let findings = try ram.replay().rules
        #expect(findings == ["SPLIT-ALIGN", "SPLIT-ALIGN", "SPLIT-NO-OVERLAP", "PACKED-ALIGN"])
        let messages = defects.compactMap { ($0["defects"] as? [[String: Any]])?.compactMap { $0["message"] as? String } }
        #expect(messages.first?.first == "descriptor table at 0x1008 is not 16-byte aligned")
        #expect(messages.last == ["driver event suppression at 0x5002 is not 4-byte aligned"])
    }

    @Test("split: chains the driver got wrong in guest memory are walked as offered, recorded with their defects, and reported by analyze at their avail lines; a well-formed indirect chain beside them, nothing")
    func chainDefectsFromMemory() throws {
        let ram = try GuestRAM()
        // 0 → 1: device-writable, then device-readable.
        ram.splitDescriptor(0, address: 0x8000, length: 64, flags: 3, next: 1)
        ram.splitDescriptor(1, address: 0x8100, length: 64, flags: 0)
        // 2: INDIRECT and NEXT at once.
        ram.splitDescriptor(2, address: 0x9000, length: 32, flags: 5, next: 3)
        // 3: an indirect table whose second entry is INDIRECT itself.
        ram.splitDescriptor(3, address: 0x9100, length: 32, flags: 4)
        for (entry, flags) in [(0, UInt16(3)), (1, UInt16(4))] {
            ram.put(UInt64(0x8200 + 64 * entry), at: 0x9100 + 16 * entry)
            ram.put(UInt32(64), at: 0x9108 + 16 * entry)
            ram.put(flags, at: 0x910C + 16 * entry)
            ram.put(UInt16(1), at: 0x910E + 16 * entry)
        }
        // 4: an indirect table of 20 bytes.
        ram.splitDescriptor(4, address: 0x9200, length: 20, flags: 4)
        // 5 → 5: a loop.
        ram.splitDescriptor(5, address: 0x8300, length: 64, flags: 3, next: 5)
        // 6: a well-formed indirect table of two writable entries.
        ram.splitDescriptor(6, address: 0x9300, length: 32, flags: 4)
        for entry in 0..<2 {
            ram.put(UInt64(0x8400 + 64 * entry), at: 0x9300 + 16 * entry)
            ram.put(UInt32(64), at: 0x9308 + 16 * entry)
            ram.put(UInt16(entry == 0 ? 3 : 2), at: 0x930C + 16 * entry)
            ram.put(UInt16(1), at: 0x930E + 16 * entry)
        }
        var queue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: Self.split, features: [.version1, .indirectDescriptors],
            netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        for (index, head) in [0, 2, 3, 4, 5, 6].enumerated() { ram.splitAvail(index, head: UInt16(head)) }
        Self.drain(&queue, ram)
        let offers = try ram.lines("avail")
        #expect(offers.compactMap { $0["head"] as? Int } == [0, 2, 3, 4, 5, 6])
        #expect((offers.last?["defects"] as? [Any])?.isEmpty == true && offers.last?["writable"] as? Int == 128)
        #expect(offers.dropLast().allSatisfy { ($0["defects"] as? [Any])?.count == 1 })
        let rules = try ram.replay().rules
        #expect(rules == ["SPLIT-CHAIN-RW-ORDER", "SPLIT-INDIRECT-NOT-NEXT", "SPLIT-INDIRECT-NO-NEST", "SPLIT-INDIRECT-LEN", "SPLIT-CHAIN-NO-LOOP"])
    }

    static let packedRing = QueueAddresses(descriptorArea: 0x4000, driverArea: 0x5000, deviceArea: 0x5100, size: 8)

    /// A packed queue whose buffers are device-writable (an entropy device's), or, for
    /// `transmit`, device-readable (a net transmit queue).
    static func packedQueue(_ ram: GuestRAM, transmit: Bool = false) -> WatchedQueue {
        let queue = WatchedQueue(
            device: transmit ? "virtio-net@/t" : "virtio-rng@/t", type: transmit ? .network : .entropy, index: transmit ? 1 : 0,
            addresses: Self.packedRing, features: [.version1, .ringPacked],
            netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        return queue
    }

    @Test("packed: a list of two slots made available and used between two scans is passed over whole; later ones are recorded")
    func packedMissedTwoSlots() throws {
        let ram = try GuestRAM()
        var queue = Self.packedQueue(ram, transmit: true)
        queue.scan(memory: ram.memory, writer: ram.writer)
        // ID 5 over slots 0 and 1 (NEXT on the first; Linux writes the ID in both), used at slot 0.
        ram.packedDescriptor(1, address: 0x8100, length: 64, id: 5, flags: 0x0080)
        ram.packedDescriptor(0, address: 0x8000, length: 0, id: 5, flags: 0x8080)
        queue.scan(memory: ram.memory, writer: ram.writer)
        // ID 6 at slot 2, then used (the device moved on by the two slots of ID 5's list).
        ram.packedDescriptor(2, address: 0x8200, length: 64, id: 6, flags: 0x0080)
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.packedDescriptor(2, address: 0x8200, length: 0, id: 6, flags: 0x8080)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("avail").compactMap { $0["head"] as? Int } == [6])
        #expect(try ram.lines("used").compactMap { $0["id"] as? Int } == [5, 6])
        // The device went on past slot 1: it was the rest of ID 5's list, not a list to wait for.
        #expect(queue.packed?.mergedSlot == nil)
        let result = try ram.replay()
        #expect(result.rules.isEmpty && result.queues.first?.missed == 1)
    }

    @Test("packed: after a list missed in order, the next list with the Buffer ID just freed (INDIRECT) is read, not passed over")
    func packedMissedThenReusedID() throws {
        let ram = try GuestRAM()
        var queue = Self.packedQueue(ram)
        queue.scan(memory: ram.memory, writer: ram.writer)
        // A control command: ID 0, one INDIRECT slot, offered and used between two scans; the
        // driver already sent the next command with ID 0 again at slot 1 (Linux reuses the ID).
        ram.put(UInt64(0xA000), at: 0x7000)  // its table: one readable entry
        ram.put(UInt32(8), at: 0x7008)
        ram.packedDescriptor(0, address: 0x7000, length: 1, id: 0, flags: 0x8084)
        ram.packedDescriptor(1, address: 0x7000, length: 16, id: 0, flags: 0x0084)
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.packedDescriptor(1, address: 0x7000, length: 1, id: 0, flags: 0x8084)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("avail").compactMap { $0["slot"] as? Int } == [1])
        #expect(try ram.lines("used").compactMap { $0["id"] as? Int } == [0, 0])
        #expect(try ram.lines("missed").map { $0["avail"] as? Int } == [1])
        let result = try ram.replay()
        #expect(result.queues.first?.usedEntries == 2 && result.queues.first?.availEntries == 1 && result.queues.first?.missed == 1)
    }

    @Test("packed: after a list missed in order, a one-slot list with the Buffer ID just freed is passed over with it, and its completion recorded when the device writes it there")
    func packedMissedThenSameIDList() throws {
        let ram = try GuestRAM()
        var queue = Self.packedQueue(ram)
        queue.scan(memory: ram.memory, writer: ram.writer)
        // A buffer of ID 0 at slot 0, offered and used between two scans (used descriptors with
        // WRITE, as the spec has the device write them); the driver has given
        // the freed ID 0 to the next buffer, at slot 1: from the ring alone, slot 1 could be the
        // rest of the first list (``packedMissedTwoSlots()``).
        ram.packedDescriptor(0, address: 0x8000, length: 64, id: 0, flags: 0x8082)
        ram.packedDescriptor(1, address: 0x8100, length: 64, id: 0, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("used").count == 1)
        // The device uses slot 1: it was a list of its own.
        ram.packedDescriptor(1, address: 0x8100, length: 32, id: 0, flags: 0x8082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        // The next list, ID 1 at slot 2, is read and completed as usual.
        ram.packedDescriptor(2, address: 0x8200, length: 64, id: 1, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.packedDescriptor(2, address: 0x8200, length: 16, id: 1, flags: 0x8082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        let used = try ram.lines("used")
        #expect(used.compactMap { $0["len"] as? Int } == [64, 32, 16])
        #expect(used.map { $0["unread"] as? Bool == true } == [true, true, false])
        #expect(queue.missed == 2 && queue.usedSeen == 3 && queue.packed?.mergedSlot == nil)
        let result = try ram.replay()
        #expect(result.rules.isEmpty && result.queues.first?.usedEntries == 3 && result.queues.first?.missed == 2)
    }

    @Test("packed: a completion the sampler never saw (the driver made the slot available again first) is counted as missed")
    func packedLappedSlot() throws {
        let ram = try GuestRAM()
        var queue = Self.packedQueue(ram)
        // The driver fills the ring of 8 in lap 1 (AVAIL = 1, USED = 0); all eight lists are read.
        for slot in 0..<8 { ram.packedDescriptor(slot, address: 0x8000 + UInt64(slot) * 0x100, length: 256, id: UInt16(slot), flags: 0x0082) }
        Self.drain(&queue, ram)
        // Between two scans the device uses ID 0 at slot 0, and the driver takes it back and
        // offers ID 0 there again in lap 0 (AVAIL = 0, USED = 1): the used descriptor is gone.
        ram.packedDescriptor(0, address: 0x9000, length: 256, id: 0, flags: 0x8002)
        Self.drain(&queue, ram)
        // Nothing else is taken for missed: slot 1 still holds its list of lap 1, not yet used.
        Self.drain(&queue, ram)
        #expect(try ram.lines("missed").map { $0["used"] as? Int } == [1])
        // The device goes on in order: slot 1 (ID 1), then, a lap on, slot 0 (ID 0 again).
        ram.packedDescriptor(1, address: 0x8100, length: 100, id: 1, flags: 0x8082)
        for slot in 2..<8 { ram.packedDescriptor(slot, address: 0x8000, length: 200, id: UInt16(slot), flags: 0x8082) }
        Self.drain(&queue, ram)
        ram.packedDescriptor(0, address: 0x9000, length: 50, id: 0, flags: 0x0002)
        Self.drain(&queue, ram)
        #expect(try ram.lines("avail").compactMap { $0["head"] as? Int } == [0, 1, 2, 3, 4, 5, 6, 7, 0])
        #expect(try ram.lines("used").compactMap { $0["id"] as? Int } == [1, 2, 3, 4, 5, 6, 7, 0])
        #expect(try ram.lines("used").compactMap { $0["len"] as? Int } == [100, 200, 200, 200, 200, 200, 200, 50])
        let result = try ram.replay()
        #expect(result.rules.isEmpty && result.problems.isEmpty && result.queues.first?.missed == 1)
        #expect(result.queues.first?.usedEntries == 8 && result.queues.first?.availEntries == 9)
    }

    @Test("packed: a list used out of order before it was read is counted, not left outstanding; the ID's next list is matched right")
    func packedOutOfOrder() throws {
        let ram = try GuestRAM()
        var queue = Self.packedQueue(ram)
        ram.packedDescriptor(0, address: 0x8000, length: 4096, id: 0, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        // ID 1 made available at slot 1 and completed first, its used descriptor at slot 0.
        ram.packedDescriptor(1, address: 0x9000, length: 64, id: 1, flags: 0x0082)
        ram.packedDescriptor(0, address: 0x9000, length: 60, id: 1, flags: 0x8082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        // ID 0 completes at slot 1; ID 1 comes again at slot 2 with 4096 bytes, and completes with 2000.
        ram.packedDescriptor(1, address: 0x8000, length: 100, id: 0, flags: 0x8082)
        ram.packedDescriptor(2, address: 0xA000, length: 4096, id: 1, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.packedDescriptor(2, address: 0xA000, length: 2000, id: 1, flags: 0x8082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        let offered = try ram.lines("avail")
        #expect(offered.compactMap { $0["head"] as? Int } == [0, 1, 1])
        #expect(offered.map { $0["completed"] as? Bool ?? false } == [false, true, false])
        let result = try ram.replay()
        #expect(result.rules.isEmpty && result.queues.first?.usedEntries == 3)
    }

    @Test("split: the used ring lapping the watcher forgets the offers it returned, so no chain is judged against them")
    func usedLapped() throws {
        let ram = try GuestRAM()
        var queue = Self.fullEntropyRing(ram)
        // Nine completions and eight new offers of the same heads (with 4096 writable) before the next scan.
        // The ninth returns head 0's new chain with 1000 bytes: against its old 64-byte offer it
        // would look like SPLIT-USED-LEN-BOUND.
        for index in 0..<9 {
            ram.put(UInt32(index % 8), at: 0x3004 + 8 * (index % 8))
            ram.put(UInt32(index == 8 ? 1000 : 64), at: 0x3008 + 8 * (index % 8))
        }
        ram.put(UInt16(9), at: 0x3002)
        for head in 0..<8 { ram.splitDescriptor(head, address: 0xC000 + UInt64(head) * 0x1000, length: 4096, flags: 2) }
        ram.put(UInt16(16), at: 0x2002)
        queue.scan(memory: ram.memory, writer: ram.writer)
        let result = try ram.replay()
        #expect(!result.rules.contains("SPLIT-CHAINS-DISJOINT") && !result.rules.contains("SPLIT-USED-LEN-BOUND"))
        #expect(try ram.lines("missed").first?["used"] as? Int == 1)
    }

    @Test("a receive buffer sharing its header buffer with the other offers (iPXE): the copy is kept with headerShared, not missed; its frame bytes in another offer, or with MRG_RXBUF, it is marked refilled")
    func sharedReceiveHeader() throws {
        func record(features: FeatureBits, secondData: UInt64) throws -> [String: Any] {
            let ram = try GuestRAM()
            // Heads 0 and 2: a 12-byte header at 0x8000 for both, then 1518 bytes of frame each.
            ram.splitDescriptor(0, address: 0x8000, length: 12, flags: 3, next: 1)
            ram.splitDescriptor(1, address: 0x9000, length: 1518, flags: 2)
            ram.splitDescriptor(2, address: 0x8000, length: 12, flags: 3, next: 3)
            ram.splitDescriptor(3, address: secondData, length: 1518, flags: 2)
            var queue = WatchedQueue(
                device: "virtio-net@/t", type: .network, index: 0, addresses: Self.split, features: features, netControlQueue: nil)
            ram.splitAvail(0, head: 0)
            ram.splitAvail(1, head: 2)
            queue.scan(memory: ram.memory, writer: ram.writer)
            for (offset, byte) in [UInt8](repeating: 0xAB, count: 60).enumerated() { ram.put(byte, at: 0x9000 + offset) }
            ram.splitUsed(0, id: 0, length: 72)
            queue.scan(memory: ram.memory, writer: ram.writer)
            #expect(queue.missed == (try ram.lines("used").first?["refilled"] == nil ? 0 : 1))
            return try #require(try ram.lines("used").first)
        }
        let shared = try record(features: [.version1], secondData: 0xA000)
        #expect(shared["headerShared"] as? Bool == true && shared["refilled"] == nil)
        #expect((shared["data"] as? String)?.hasSuffix(String(repeating: "ab", count: 60)) == true)
        // The frame's own buffer in the other offer too: marked.
        let frame = try record(features: [.version1], secondData: 0x9000)
        #expect(frame["refilled"] as? Bool == true && frame["headerShared"] == nil)
        // With MRG_RXBUF the header says how many buffers the frame takes: marked.
        let merged = try record(features: [.version1, .netMergeableRxBuffers], secondData: 0xA000)
        #expect(merged["refilled"] as? Bool == true && merged["headerShared"] == nil)
    }

    /// avail_event, after the used ring of 8 at 0x3000; used_event, after the available ring at 0x2000.
    static let availEvent = 0x3000 + 4 + 8 * 8
    static let usedEvent = 0x2000 + 4 + 2 * 8

    /// An entropy device's split queue (one-descriptor writable chains at heads 0 and 1 in `ram`).
    static func entropyQueue(_ ram: GuestRAM, eventIndex: Bool = true) -> WatchedQueue {
        ram.splitDescriptor(0, address: 0x8000, length: 16, flags: 2)
        ram.splitDescriptor(1, address: 0x8100, length: 16, flags: 2)
        return WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: Self.split,
            features: eventIndex ? [.version1, .eventIndex] : [.version1], netControlQueue: nil)
    }

    /// A scan at time 100, then heads 0 and 1 made available, each followed by a scan (at 200
    /// and 300): a wait begins with the second scan (``expectOneWait(_:_:index:reached:)``).
    static func offerTwo(_ queue: inout WatchedQueue, _ ram: GuestRAM) {
        queue.scan(memory: ram.memory, writer: ram.writer, time: 100)
        ram.splitAvail(0, head: 0)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 200)
        ram.splitAvail(1, head: 1)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 300)
    }

    /// The recording holds one `awaiting` line: of `notification`, at `index` up to `reached`,
    /// from the scan at time 100, seen at 200, last at 300.
    static func expectOneWait(_ ram: GuestRAM, _ notification: String, index: Int, reached: Int) throws {
        let waits = try ram.lines("awaiting")
        #expect(waits.count == 1)
        let wait = try #require(waits.first)
        #expect(wait["notification"] as? String == notification && wait["index"] as? Int == index && wait["reached"] as? Int == reached)
        #expect(wait["from"] as? Int == 100 && wait["seen"] as? Int == 200 && wait["last"] as? Int == 300)
    }

    @Test("split with EVENT_IDX: entries made available while avail_event names their index are one wait, recorded when avail_event moves")
    func availEventWait() throws {
        let ram = try GuestRAM()
        let availEvent = Self.availEvent
        var queue = Self.entropyQueue(ram)
        // The device has taken nothing and asks to be told of entry 0.
        ram.put(UInt16(0), at: availEvent)
        Self.offerTwo(&queue, ram)
        #expect(try ram.lines("awaiting").isEmpty)
        // The device takes entry 0: avail_event moves on, the wait is over.
        ram.put(UInt16(1), at: availEvent)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 400)
        try Self.expectOneWait(ram, "available", index: 0, reached: 1)
        // The device took entry 0 and waits at 1, where entry 1 already is: it is not waiting
        // for a notification, and nothing more is recorded, even when the watch ends.
        queue.scan(memory: ram.memory, writer: ram.writer, time: 500)
        queue.endWaits(writer: ram.writer)
        #expect(try ram.lines("awaiting").count == 1)
    }

    @Test("split: no wait without EVENT_IDX while used.flags says no notification is needed (avail_event is not looked at), or when avail_event was not at avail.idx before the entries; a wait going on is recorded when the watch ends")
    func availEventNoWait() throws {
        let ram = try GuestRAM()
        let availEvent = Self.availEvent
        var plain = Self.entropyQueue(ram, eventIndex: false)
        ram.put(UInt16(0), at: availEvent)
        ram.put(UInt16(1), at: 0x3000)  // VIRTQ_USED_F_NO_NOTIFY
        plain.scan(memory: ram.memory, writer: ram.writer, time: 100)
        ram.splitAvail(0, head: 0)
        plain.scan(memory: ram.memory, writer: ram.writer, time: 200)
        plain.endWaits(writer: ram.writer)
        #expect(try ram.lines("awaiting").isEmpty)
        ram.put(UInt16(0), at: 0x3000)
        // With EVENT_IDX, watched from here: avail.idx is 1 and avail_event 0 — the device has
        // not taken entry 0 (it is still at work), so entry 1 needs no notification.
        var queue = Self.entropyQueue(ram)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 300)
        ram.splitAvail(1, head: 1)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 400)
        queue.endWaits(writer: ram.writer)
        #expect(try ram.lines("awaiting").isEmpty)
        // The device catches up and waits at 2; entry 2 comes and the recording ends.
        ram.put(UInt16(2), at: availEvent)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 500)
        ram.splitDescriptor(2, address: 0x8200, length: 16, flags: 2)
        ram.splitAvail(2, head: 2)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 600)
        queue.endWaits(writer: ram.writer)
        let waits = try ram.lines("awaiting")
        #expect(waits.count == 1 && waits.first?["index"] as? Int == 2 && waits.first?["from"] as? Int == 500)
        #expect(waits.first?["seen"] as? Int == 600 && waits.first?["last"] as? Int == 600)
    }

    @Test("split without EVENT_IDX: entries made available while used.flags was clear in this scan and the last, used.idx unchanged, are one wait (flags), over when the device sets VIRTQ_USED_F_NO_NOTIFY or used.idx moves")
    func usedFlagWait() throws {
        let ram = try GuestRAM()
        var queue = Self.entropyQueue(ram, eventIndex: false)
        // used.flags clear: the device asks for every notification.
        Self.offerTwo(&queue, ram)
        #expect(try ram.lines("awaiting").isEmpty)
        // The device turns notifications off (it is taking the entries): the wait is over.
        ram.put(UInt16(1), at: 0x3000)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 400)
        try Self.expectOneWait(ram, "available", index: 0, reached: 1)
        #expect(try ram.lines("awaiting").first?["flags"] as? Bool == true)
        // On again, with entry 2 to come: a wait from 500, over at 700 when used.idx moves
        // (the device completed entry 0), though the flag stays clear.
        ram.put(UInt16(0), at: 0x3000)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 500)
        ram.splitDescriptor(2, address: 0x8200, length: 16, flags: 2)
        ram.splitAvail(2, head: 2)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 600)
        ram.splitUsed(0, id: 0, length: 16)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 700)
        let waits = try ram.lines("awaiting")
        #expect(waits.count == 2)
        #expect(waits.last?["index"] as? Int == 2 && waits.last?["reached"] as? Int == 3 && waits.last?["from"] as? Int == 500)
        #expect(waits.last?["seen"] as? Int == 600 && waits.last?["last"] as? Int == 600)
        // Entries made available while the device also used some: not a wait.
        ram.splitAvail(3, head: 3)
        ram.splitUsed(1, id: 1, length: 16)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 800)
        queue.endWaits(writer: ram.writer)
        #expect(try ram.lines("awaiting").count == 2)
        // The driver's waits for used buffer notifications are not followed without EVENT_IDX.
        #expect(try ram.lines("awaiting").allSatisfy { $0["notification"] as? String == "available" })
    }

    @Test("split with EVENT_IDX: used elements written while used_event names their index are a wait for the device's notification")
    func usedEventWait() throws {
        let ram = try GuestRAM()
        let usedEvent = Self.usedEvent
        var queue = Self.entropyQueue(ram)
        ram.splitAvail(0, head: 0)
        ram.put(UInt16(0), at: usedEvent)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 100)
        ram.splitUsed(0, id: 0, length: 16)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 200)
        // The driver takes the element and asks for the next: the wait is over.
        ram.put(UInt16(1), at: usedEvent)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 300)
        let waits = try ram.lines("awaiting").filter { $0["notification"] as? String == "used" }
        #expect(waits.count == 1)
        #expect(waits.first?["index"] as? Int == 0 && waits.first?["reached"] as? Int == 1)
        #expect(waits.first?["from"] as? Int == 100 && waits.first?["seen"] as? Int == 200 && waits.first?["last"] as? Int == 200)
    }

    @Test("split: the request rules of a dump judge each chain as it is made available (BLK-DATA-512 on a 100-byte read; a 512-byte one clean)")
    func requestRulesOverTime() throws {
        let ram = try GuestRAM()
        // Block reads (header type 0): head 0 with 512 data bytes, head 3 with 100.
        ram.splitBlockRequest(head: 0, header: 0x8000, data: 0x9000, length: 512)
        ram.splitBlockRequest(head: 3, header: 0x8100, data: 0xA000, length: 100)
        var queue = WatchedQueue(
            device: "virtio-blk@/t", type: .block, index: 0, addresses: Self.split, features: [.version1], netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        ram.splitAvail(0, head: 0)
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.splitAvail(1, head: 3)
        queue.scan(memory: ram.memory, writer: ram.writer)
        let offers = try ram.lines("avail")
        #expect((offers.first?["defects"] as? [Any])?.isEmpty == true)
        let defects = try #require(offers.last?["defects"] as? [[String: Any]])
        #expect(defects.map { $0["rule"] as? String } == ["BLK-DATA-512"])
        #expect((defects.first?["message"] as? String)?.contains("100 data bytes") == true)
        let result = try ram.replay()
        #expect(result.rules == ["BLK-DATA-512"] && result.problems.isEmpty)
    }

    @Test("split: with the disk's capacity (QMP query-block), a read past its end is BLK-CAPACITY as it is made available")
    func blockCapacityOverTime() throws {
        let ram = try GuestRAM()
        // A read of one sector at sector 7 (the last of 8), then one at sector 8.
        ram.put(UInt64(7), at: 0x8008)
        ram.put(UInt64(8), at: 0x8108)
        ram.splitBlockRequest(head: 0, header: 0x8000, data: 0x9000, length: 512)
        ram.splitBlockRequest(head: 3, header: 0x8100, data: 0xA000, length: 512)
        var queue = WatchedQueue(
            device: "virtio-blk@/t", type: .block, index: 0, addresses: Self.split, features: [.version1], netControlQueue: nil)
        queue.blockCapacity = 8
        ram.writer.write(queue.queueLine)
        #expect(try ram.lines("queue").first?["capacity"] as? Int == 8)
        ram.splitAvail(0, head: 0)
        ram.splitAvail(1, head: 3)
        Self.drain(&queue, ram)
        let offers = try ram.lines("avail")
        #expect(offers.map { ($0["defects"] as? [[String: Any]] ?? []).compactMap { $0["rule"] as? String } } == [[], ["BLK-CAPACITY"]])
        #expect(try ram.replay().rules == ["BLK-CAPACITY"])
    }

    @Test("split: with the device's mtu (QMP qom-get of host_mtu), a frame past mtu + 14 bytes is NET-TX-MTU as it is made available")
    func transmitMTUOverTime() throws {
        let ram = try GuestRAM()
        // Two transmit chains of one descriptor: a 12-byte header (zeros: gso_type NONE) and
        // a 1414-byte frame, then a 1415-byte one.
        ram.splitDescriptor(0, address: 0x8000, length: 12 + 1414, flags: 0)
        ram.splitDescriptor(1, address: 0x9000, length: 12 + 1415, flags: 0)
        var queue = WatchedQueue(
            device: "virtio-net@/t", type: .network, index: 1, addresses: Self.split, features: [.version1, .netMTU],
            netControlQueue: nil)
        queue.netMTU = 1400
        ram.writer.write(queue.queueLine)
        #expect(try ram.lines("queue").first?["mtu"] as? Int == 1400)
        ram.splitAvail(0, head: 0)
        ram.splitAvail(1, head: 1)
        Self.drain(&queue, ram)
        let offers = try ram.lines("avail")
        #expect(offers.map { ($0["defects"] as? [[String: Any]] ?? []).compactMap { $0["rule"] as? String } } == [[], ["NET-TX-MTU"]])
        #expect(try ram.replay().rules == ["NET-TX-MTU"])
    }

    @Test("split: a block request's status byte is recorded as the driver finds it at the completion, not judged (the trace is the device's word)", arguments: [UInt8(0), 7])
    func blockStatusOverTime(status: UInt8) throws {
        let ram = try GuestRAM()
        ram.splitBlockRequest(head: 0, header: 0x8000, data: 0x9000, length: 512)
        var queue = WatchedQueue(device: "virtio-blk@/t", type: .block, index: 0, addresses: Self.split, features: [.version1], netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        ram.splitAvail(0, head: 0)
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.put(status, at: 0x8010)  // the status byte: the one-byte descriptor after the 16-byte header
        ram.splitUsed(0, id: 0, length: 513)
        queue.scan(memory: ram.memory, writer: ram.writer)
        let used = try ram.lines("used")
        #expect(used.count == 1 && used.first?["status"] as? Int == Int(status))
        let result = try ram.replay()
        #expect(result.rules.isEmpty && result.problems.isEmpty)
    }

    @Test("packed: a block request's status byte is recorded at its used descriptor")
    func packedBlockStatus() throws {
        let ram = try GuestRAM()
        var queue = WatchedQueue(
            device: "virtio-blk@/t", type: .block, index: 0, addresses: Self.packedRing, features: [.version1, .ringPacked], netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        queue.scan(memory: ram.memory, writer: ram.writer)
        // Buffer ID 3 over slots 0–2: the header, 512 bytes to read into, the status byte.
        ram.packedDescriptor(2, address: 0x8010, length: 1, id: 3, flags: 0x0082)
        ram.packedDescriptor(1, address: 0x9000, length: 512, id: 3, flags: 0x0083)
        ram.packedDescriptor(0, address: 0x8000, length: 16, id: 3, flags: 0x0081)
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.put(UInt8(1), at: 0x8010)
        ram.packedDescriptor(0, address: 0x8000, length: 513, id: 3, flags: 0x8082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        let used = try ram.lines("used")
        #expect(used.count == 1 && used.first?["status"] as? Int == 1)
        #expect(try ram.replay().rules.isEmpty)
    }

    @Test("split: no status is recorded for other devices' queues, nor for a completion whose chain was not read or read late")
    func blockStatusNotRead() throws {
        let ram = try GuestRAM()
        ram.splitBlockRequest(head: 0, header: 0x8000, data: 0x9000, length: 512)
        ram.put(UInt8(7), at: 0x8010)
        // An entropy queue with the same chain: no status.
        var entropy = WatchedQueue(device: "virtio-rng@/t", type: .entropy, index: 0, addresses: Self.split, features: [.version1], netControlQueue: nil)
        ram.splitAvail(0, head: 0)
        entropy.scan(memory: ram.memory, writer: ram.writer)
        ram.splitUsed(0, id: 0, length: 513)
        entropy.scan(memory: ram.memory, writer: ram.writer)
        // A block queue found after the chain was made available and used twice: the first
        // offer stale (head 0 offered again before it was read), the second read late.
        ram.splitAvail(1, head: 0)
        ram.splitUsed(1, id: 0, length: 513)
        var block = WatchedQueue(device: "virtio-blk@/t", type: .block, index: 0, addresses: Self.split, features: [.version1], netControlQueue: nil)
        Self.drain(&block, ram)
        let offers = try ram.lines("avail").filter { $0["device"] as? String == "virtio-blk@/t" }
        #expect(offers.map { $0["stale"] as? Bool ?? false } == [true, false] && offers.last?["late"] as? Bool == true)
        // Counted apart: the stale offer as missed, the late one as late.
        #expect((block.missed, block.late, entropy.late) == (1, 1, 0))
        let used = try ram.lines("used")
        #expect(used.count == 3)
        #expect(used.allSatisfy { $0["status"] == nil })
    }

    @Test("packed: each event suppression structure judged when it changes: the reserved mode, DESC without EVENT_IDX, reserved bits (PACKED-EVENT-FLAGS)")
    func packedEventFlagsOverTime() throws {
        let ram = try GuestRAM()
        var queue = Self.packedQueue(ram)
        let driverFlags = Int(Self.packedRing.driverArea) + 2
        let deviceFlags = Int(Self.packedRing.deviceArea) + 2
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.put(UInt16(1), at: driverFlags)  // DISABLE: fine
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("defect").isEmpty)
        ram.put(UInt16(3), at: deviceFlags)  // the reserved value
        queue.scan(memory: ram.memory, writer: ram.writer)
        queue.scan(memory: ram.memory, writer: ram.writer)  // unchanged: not said again
        ram.put(UInt16(2 | 4), at: driverFlags)  // DESC without EVENT_IDX, and a reserved bit
        queue.scan(memory: ram.memory, writer: ram.writer)
        let lines = try ram.lines("defect")
        #expect(lines.count == 2)
        // The device's structure, unchanged, is not judged again when the driver's changes.
        let messages = lines.flatMap { ($0["defects"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String } }
        #expect(messages.count == 3)
        #expect(messages.first == "device event suppression flags hold the reserved value 3")
        let result = try ram.replay()
        #expect(result.rules == Array(repeating: "PACKED-EVENT-FLAGS", count: 3) && result.problems.isEmpty)
    }

    @Test("split: each ring's flags judged as a scan reads them, also when nothing else moved; a value not allowed said once a watch (SPLIT-AVAIL-FLAGS-VALUE, SPLIT-USED-FLAGS-VALUE)")
    func splitRingFlagsOverTime() throws {
        let ram = try GuestRAM()
        var queue = WatchedQueue(device: "virtio-rng@/t", type: .entropy, index: 0, addresses: Self.split, features: [.version1], netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(queue.quiet != nil)
        ram.put(UInt16(1), at: 0x2000)  // VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_USED_F_NO_NOTIFY: allowed without EVENT_IDX
        ram.put(UInt16(1), at: 0x3000)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("defect").isEmpty)
        ram.put(UInt16(3), at: 0x2000)  // a bit the spec does not define, the indices unchanged
        queue.scan(memory: ram.memory, writer: ram.writer)
        ram.put(UInt16(5), at: 0x2000)  // another: not said again this watch
        queue.scan(memory: ram.memory, writer: ram.writer)
        var messages = try ram.lines("defect").flatMap { ($0["defects"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String } }
        #expect(messages == ["avail.flags is 0x3: only 0 and 1 (VIRTQ_AVAIL_F_NO_INTERRUPT) are defined"])
        // With EVENT_IDX the device's NO_NOTIFY is not allowed either (the driver's flags back to 0).
        ram.put(UInt16(0), at: 0x2000)
        var eventQueue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 1, addresses: Self.split, features: [.version1, .eventIndex], netControlQueue: nil)
        ram.writer.write(eventQueue.queueLine)
        eventQueue.scan(memory: ram.memory, writer: ram.writer)
        messages = try ram.lines("defect").flatMap { ($0["defects"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String } }
        #expect(messages.count == 2)
        #expect(messages.last == "used.flags is 1 (VIRTQ_USED_F_NO_NOTIFY) with VIRTIO_F_EVENT_IDX negotiated: it must stay 0, the event index says when to notify")
        let result = try ram.replay()
        #expect(result.rules == ["SPLIT-AVAIL-FLAGS-VALUE", "SPLIT-USED-FLAGS-VALUE"] && result.problems.isEmpty)
        // A watch begun again says it again.
        queue = queue.restarted(at: Self.split, packedStart: .init(slot: 0, wrap: true))
        ram.put(UInt16(2), at: 0x3000)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("defect").count == 3)
    }

    /// An event suppression structure (§2.8.14) at `area`: RING_EVENT_FLAGS_DESC at `slot` in
    /// the lap of wrap counter `wrap`, or another mode.
    static func eventSuppression(_ ram: GuestRAM, at area: UInt64, slot: Int, wrap: Bool, mode: UInt16 = 2) {
        ram.put(UInt16(slot) | (wrap ? 0x8000 : 0), at: Int(area))
        ram.put(mode, at: Int(area) + 2)
    }

    @Test("packed with EVENT_IDX: lists made available while the Device Area (DESC) names the driver's next slot are one wait, recorded when it moves")
    func packedAvailEventWait() throws {
        let ram = try GuestRAM()
        var queue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: Self.packedRing,
            features: [.version1, .ringPacked, .eventIndex], netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        // The device has taken nothing and asks to be told of slot 0 in the first lap.
        Self.eventSuppression(ram, at: Self.packedRing.deviceArea, slot: 0, wrap: true)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 100)
        ram.packedDescriptor(0, address: 0x8000, length: 16, id: 0, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 200)
        ram.packedDescriptor(1, address: 0x8100, length: 16, id: 1, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 300)
        #expect(try ram.lines("awaiting").isEmpty)
        // The device turns notifications off to work: the wait is over.
        Self.eventSuppression(ram, at: Self.packedRing.deviceArea, slot: 0, wrap: true, mode: 1)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 400)
        try Self.expectOneWait(ram, "available", index: 0x8000, reached: 0x8001)
        // DESC at a slot the driver has already passed (the device is behind): no wait.
        Self.eventSuppression(ram, at: Self.packedRing.deviceArea, slot: 1, wrap: true)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 500)
        ram.packedDescriptor(2, address: 0x8200, length: 16, id: 2, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 600)
        queue.endWaits(writer: ram.writer)
        #expect(try ram.lines("awaiting").count == 1)
    }

    @Test("packed with EVENT_IDX: a used descriptor at the last slot, with the Driver Area naming it, is a wait across the wrap (slot 7 wrap 1 → slot 0 wrap 0)")
    func packedUsedEventWaitAcrossWrap() throws {
        let ram = try GuestRAM()
        var queue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: Self.packedRing,
            features: [.version1, .ringPacked, .eventIndex], netControlQueue: nil,
            packedStart: WatchedQueue.PackedStart(slot: 7, wrap: true))
        ram.writer.write(queue.queueLine)
        // Slot 0 as the first lap left it: used (AVAIL = USED = 1).
        ram.packedDescriptor(0, address: 0x8000, length: 16, id: 0, flags: 0x8080)
        ram.packedDescriptor(7, address: 0x8000, length: 16, id: 3, flags: 0x0082)
        Self.eventSuppression(ram, at: Self.packedRing.driverArea, slot: 7, wrap: true)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 100)
        ram.packedDescriptor(7, address: 0x8000, length: 16, id: 3, flags: 0x8080)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 200)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 300)
        // The watch ends (a reset) while the driver still asks at slot 7.
        queue.endWaits(writer: ram.writer)
        try Self.expectOneWait(ram, "used", index: 0x8007, reached: 0)
        #expect(try ram.lines("used").compactMap { $0["id"] as? Int } == [3])
    }

    @Test("packed without EVENT_IDX, with the structure in ENABLE mode, or DESC past the ring's end: no position, no wait", arguments: [
        (false, UInt16(2), 0), (true, 0, 0), (true, 2, 8),
    ])
    func packedNoEventWait(eventIndex: Bool, mode: UInt16, slot: Int) throws {
        let ram = try GuestRAM()
        var queue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: Self.packedRing,
            features: eventIndex ? [.version1, .ringPacked, .eventIndex] : [.version1, .ringPacked], netControlQueue: nil)
        Self.eventSuppression(ram, at: Self.packedRing.deviceArea, slot: slot, wrap: true, mode: mode)
        if eventIndex { #expect(WatchedQueue.packedEventPosition(.available, addresses: queue.addresses, memory: ram.memory) == nil) }
        queue.scan(memory: ram.memory, writer: ram.writer, time: 100)
        ram.packedDescriptor(0, address: 0x8000, length: 16, id: 0, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 200)
        queue.endWaits(writer: ram.writer)
        #expect(try ram.lines("avail").count == 1)
        #expect(try ram.lines("awaiting").isEmpty)
    }

    @Test("the distance between ring positions: split indices modulo 2^16, packed positions modulo two laps", arguments: [
        (UInt16(65535), UInt16(1), false, 2), (0x8000, 0x8003, true, 3), (0x8007, 0x0000, true, 1), (0x0007, 0x8000, true, 1),
        (0x8003, 0x8003, true, 0), (0x0002, 0x8001, true, 7),
    ])
    func eventDistance(from: UInt16, to: UInt16, packed: Bool, expected: Int) {
        #expect(EventIndexWatch.distance(from: from, to: to, size: 8, packed: packed) == expected)
    }

    /// Checks the packed queue's outstanding lists at `clock`, one slot a call, until one is
    /// found changed (to be confirmed once the change has lasted), at most a lap of calls.
    static func checkUntilSuspected(_ queue: inout WatchedQueue, _ ram: GuestRAM, clock: Double) {
        for _ in 0..<8 where queue.packed?.rewriteSuspect == nil {
            queue.checkExposed(memory: ram.memory, writer: ram.writer, clock: clock)
        }
    }

    /// `count` checks of the packed queue's outstanding lists at `clock`.
    static func check(_ queue: inout WatchedQueue, _ ram: GuestRAM, clock: Double, count: Int = 16) {
        for _ in 0..<count { queue.checkExposed(memory: ram.memory, writer: ram.writer, clock: clock) }
    }

    @Test("packed: a list the driver changes while the device owns it is PACKED-DRV-NO-REWRITE once the change has lasted, once; an unchanged one is not")
    func packedRewritten() throws {
        let ram = try GuestRAM()
        var queue = Self.packedQueue(ram)
        ram.packedDescriptor(0, address: 0x8000, length: 16, id: 0, flags: 0x0082)
        ram.packedDescriptor(1, address: 0x8100, length: 16, id: 1, flags: 0x0082)
        Self.drain(&queue, ram)
        Self.check(&queue, ram, clock: 0)
        #expect(try queue.packed?.rewriteSuspect == nil && ram.lines("touched").isEmpty)
        // The driver moves the buffer of ID 1, its flags untouched.
        ram.packedDescriptor(1, address: 0xA000, length: 16, id: 1, flags: 0x0082)
        Self.checkUntilSuspected(&queue, ram, clock: 10)
        #expect(try queue.packed?.rewriteSuspect?.slot == 1 && ram.lines("touched").isEmpty)
        // Still changed 50 ms later: not yet.
        Self.check(&queue, ram, clock: 10 + WatchedQueue.rewriteConfirmation / 2)
        #expect(try ram.lines("touched").isEmpty)
        Self.check(&queue, ram, clock: 10 + 1.5 * WatchedQueue.rewriteConfirmation)
        let touched = try ram.lines("touched")
        #expect(touched.count == 1 && touched.first?["head"] as? Int == 1 && touched.first?["slot"] as? Int == 1)
        let result = try ram.replay()
        #expect(result.rules == ["PACKED-DRV-NO-REWRITE"] && result.problems.isEmpty)
    }

    @Test("packed: a used descriptor half written (Buffer ID and length before flags), even for a while, is not a rewrite; nor a table freed after an out-of-order completion")
    func packedNotRewritten() throws {
        let ram = try GuestRAM()
        var queue = Self.packedQueue(ram)
        ram.packedDescriptor(0, address: 0x8000, length: 16, id: 0, flags: 0x0082)
        Self.drain(&queue, ram)
        // The device has written ID 0's length, not yet its flags, and is held there for 50 ms.
        ram.packedDescriptor(0, address: 0x8000, length: 12, id: 0, flags: 0x0082)
        Self.checkUntilSuspected(&queue, ram, clock: 0)
        #expect(queue.packed?.rewriteSuspect?.slot == 0)
        Self.check(&queue, ram, clock: WatchedQueue.rewriteConfirmation / 2)
        ram.packedDescriptor(0, address: 0x8000, length: 12, id: 0, flags: 0x8082)
        Self.check(&queue, ram, clock: 2 * WatchedQueue.rewriteConfirmation)
        #expect(try ram.lines("touched").isEmpty)
        Self.drain(&queue, ram)

        // IDs 2 and 3 at slots 1 and 2, each through an indirect table (a watch begun at slot
        // 1). The device completes ID 3 first, its used descriptor at slot 1 (its position),
        // and the driver frees ID 3's table before the recorder has read that completion.
        let table = 0x6000
        ram.put(UInt64(0x9000), at: table)
        ram.put(UInt32(64), at: table + 8)
        ram.put(UInt16(2), at: table + 14)
        ram.put(UInt64(0x9100), at: table + 16)
        ram.put(UInt32(64), at: table + 24)
        ram.put(UInt16(2), at: table + 30)
        var indirect = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: Self.packedRing,
            features: [.version1, .ringPacked, .indirectDescriptors], netControlQueue: nil,
            packedStart: WatchedQueue.PackedStart(slot: 1, wrap: true))
        ram.packedDescriptor(1, address: UInt64(table), length: 16, id: 2, flags: 0x0084)
        ram.packedDescriptor(2, address: UInt64(table + 16), length: 16, id: 3, flags: 0x0084)
        Self.drain(&indirect, ram)
        #expect(try ram.lines("avail").count == 3)
        ram.packedDescriptor(1, address: 0, length: 64, id: 3, flags: 0x8080)
        ram.put(UInt64(0xB000), at: table + 16)
        Self.checkUntilSuspected(&indirect, ram, clock: 0)
        #expect(indirect.packed?.rewriteSuspect?.slot == 2)
        Self.check(&indirect, ram, clock: 1)
        #expect(try ram.lines("touched").isEmpty)
    }

    /// A packed entropy queue whose driver has made available the first slot (0) of a list of
    /// two, not the second, scanned once at `clock`.
    static func publishedFirst(clock: Double) throws -> (GuestRAM, WatchedQueue) {
        let ram = try GuestRAM()
        var queue = Self.packedQueue(ram)
        ram.packedDescriptor(0, address: 0x8000, length: 16, id: 0, flags: 0x0083)
        queue.scan(memory: ram.memory, writer: ram.writer, clock: clock)
        return (ram, queue)
    }

    @Test("packed: a list whose first descriptor is available before the rest is waited for, and recorded whole with PACKED-LIST-PUBLISH")
    func packedPublishedEarly() throws {
        // ID 0 over slots 0 and 1: the driver flips slot 0 first.
        var (ram, queue) = try Self.publishedFirst(clock: 0)
        #expect(try ram.lines("avail").isEmpty && queue.packed?.partialList?.slot == 0)
        ram.packedDescriptor(1, address: 0x8100, length: 16, id: 0, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer, clock: 0.001)
        let offered = try ram.lines("avail")
        #expect(offered.count == 1 && (offered.first?["descriptors"] as? [Any])?.count == 2)
        // The next list, published right, is read as usual.
        ram.packedDescriptor(2, address: 0x8200, length: 16, id: 1, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer, clock: 0.002)
        #expect(try ram.lines("avail").count == 2)
        let result = try ram.replay()
        #expect(result.rules == ["PACKED-LIST-PUBLISH"] && result.problems.isEmpty)
    }

    @Test("packed: a list whose rest never comes is recorded as it is after a second (PACKED-AVAIL-ENCODING); one used first, or whose first slot goes, is PACKED-LIST-PUBLISH")
    func packedPublishedEarlyUnresolved() throws {
        var (ram, queue) = try Self.publishedFirst(clock: 100)
        queue.scan(memory: ram.memory, writer: ram.writer, clock: 100 + WatchedQueue.partialListWait / 2)
        #expect(try ram.lines("avail").isEmpty)
        queue.scan(memory: ram.memory, writer: ram.writer, clock: 100 + WatchedQueue.partialListWait)
        #expect(try ram.lines("avail").count == 1)
        var result = try ram.replay()
        #expect(result.rules == ["PACKED-AVAIL-ENCODING"])

        var (used, other) = try Self.publishedFirst(clock: 0)
        // The device takes it as it is (QEMU reads a list's later descriptors without looking at their flags).
        used.packedDescriptor(0, address: 0x8000, length: 16, id: 0, flags: 0x8082)
        other.scan(memory: used.memory, writer: used.writer, clock: 0.001)
        #expect(try used.lines("avail").isEmpty && other.packed?.partialList == nil)
        result = try used.replay()
        #expect(result.rules == ["PACKED-LIST-PUBLISH"] && result.queues.first?.missed == 1)

        // The driver takes its first slot back (flags 0): said at once, not after the second.
        var (gone, third) = try Self.publishedFirst(clock: 0)
        gone.packedDescriptor(0, address: 0x8000, length: 16, id: 0, flags: 0)
        third.scan(memory: gone.memory, writer: gone.writer, clock: 0.001)
        let defects = try gone.lines("defect")
        #expect(defects.count == 1 && third.packed?.partialList == nil)
        #expect(try gone.replay().rules == ["PACKED-LIST-PUBLISH"])
    }

    @Test("packed: a list whose later slot holds a used descriptor of its lap (an out-of-order device wrote it there) is read late, not judged")
    func packedContinuationOverwritten() throws {
        let ram = try GuestRAM()
        var queue = Self.packedQueue(ram)
        // ID 4 over slots 0 and 1 (chained); the device, having read it, completed ID 9 (a
        // list it had read before) with a used descriptor at slot 1.
        ram.packedDescriptor(1, address: 0x8100, length: 16, id: 9, flags: 0x8080)
        ram.packedDescriptor(0, address: 0x8000, length: 16, id: 4, flags: 0x0083)
        queue.scan(memory: ram.memory, writer: ram.writer, clock: 0)
        let offered = try ram.lines("avail")
        #expect(offered.count == 1 && offered.first?["late"] as? Bool == true && queue.packed?.partialList == nil)
        #expect((queue.late, queue.missed) == (1, 0))
        #expect(try ram.replay().rules.isEmpty)
    }
}
