import GuestMemory
import Testing
import VirtioModel
import VirtioTestSupport

@testable import LiveCapture

/// The guest under `vqscope record` may be buggy or hostile: whatever it writes into its rings
/// between two scans, the sampler neither traps nor grows, and what it records replays.
struct HostileGuestMemoryTests {
    typealias GuestRAM = RingWatcherTests.GuestRAM

    /// The rings at 0x1000 (descriptors), 0x5000 (driver area) and 0x6000 (device area) of
    /// the test's 64 KiB of RAM.
    static func addresses(size: UInt16) -> QueueAddresses {
        QueueAddresses(descriptorArea: 0x1000, driverArea: 0x5000, deviceArea: 0x6000, size: size)
    }

    /// Random descriptors for a ring of `size`, half of them at the slots just past `near`
    /// (where the sampler looks next): addresses mostly inside the RAM, lengths up to 8 KiB,
    /// Buffer IDs mostly in range, any flags.
    static func scribbleDescriptors(_ ram: GuestRAM, size: UInt16, near: Int, random: inout SplitMix) {
        for _ in 0..<(1 + random.below(4)) {
            let slot = random.below(2) == 0 ? (near + Int(random.below(4))) % Int(max(size, 1)) : Int(random.below(UInt64(size) + 1))
            let base = 0x1000 + 16 * slot
            guard base + 16 <= 0x5000 else { continue }
            ram.put(random.below(8) == 0 ? random.next() : random.below(0x10000), at: base)
            ram.put(UInt32(truncatingIfNeeded: random.below(0x2000)), at: base + 8)
            ram.put(UInt16(truncatingIfNeeded: random.below(UInt64(size) + 2)), at: base + 12)
            ram.put(UInt16(truncatingIfNeeded: random.next()), at: base + 14)
        }
    }

    @Test("random packed rings between scans (descriptors, flags, event suppression, indirect tables): no trap, offers bounded, the recording replays",
          arguments: [(UInt16(8), UInt64(1)), (1, 2), (3, 3), (256, 4), (32768, 5)])
    func packed(size: UInt16, seed: UInt64) throws {
        let ram = try GuestRAM()
        var random = SplitMix(state: seed)
        var queue = WatchedQueue(
            device: "virtio-net@/t", type: .network, index: 0, addresses: Self.addresses(size: size),
            features: [.version1, .ringPacked, .eventIndex, .indirectDescriptors], netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        for step in 0..<600 {
            Self.scribbleDescriptors(ram, size: size, near: queue.packed?.availSlot ?? 0, random: &random)
            if random.below(4) == 0 { ram.put(UInt32(truncatingIfNeeded: random.next()), at: 0x5000 + 4 * Int(random.below(2))) }
            if random.below(16) == 0 { ram.put(random.next(), at: Int(random.below(0x10000 - 8))) }
            let clock = Double(step) * 0.02
            queue.scan(memory: ram.memory, writer: ram.writer, time: Int64(step) * 20_000_000, clock: clock)
            queue.checkExposed(memory: ram.memory, writer: ram.writer, clock: clock)
            #expect(queue.offerCount <= 2 * Int(size))
        }
        queue.endWaits(writer: ram.writer)
        let result = try ram.replay()
        #expect(result.queues.count == 1)
        #expect(try ram.lines("avail").count > 0)
    }

    /// Net queue 1 transmits (its chains' bytes are copied when offered), queue 0 receives
    /// (bytes copied at completion, then the rings read again for the buffer's reuse).
    @Test("random split rings between scans (descriptor table, ring entries, indices that advance, event indices): no trap, offers bounded, the recording replays",
          arguments: [(UInt16(8), UInt64(11), 1), (1, 12, 1), (256, 13, 1), (32768, 14, 1), (256, 15, 0), (256, 16, 0)])
    func split(size: UInt16, seed: UInt64, queueIndex: Int) throws {
        let ram = try GuestRAM()
        var random = SplitMix(state: seed)
        let addresses = Self.addresses(size: size)
        var queue = WatchedQueue(
            device: "virtio-net@/t", type: .network, index: queueIndex, addresses: addresses,
            features: [.version1, .eventIndex, .indirectDescriptors], netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        var (avail, used): (UInt16, UInt16) = (0, 0)
        let stray: UInt64 = queueIndex == 0 ? 4096 : 64
        for step in 0..<600 {
            // Split descriptors (address, length, flags, next) in the table.
            for _ in 0..<(1 + random.below(4)) {
                let base = 0x1000 + 16 * Int(random.below(UInt64(size)))
                guard base + 16 <= 0x5000 else { continue }
                ram.put(random.below(0x10000), at: base)
                ram.put(UInt32(truncatingIfNeeded: random.below(0x2000)), at: base + 8)
                ram.put(UInt16(truncatingIfNeeded: random.below(8)), at: base + 12)
                ram.put(UInt16(truncatingIfNeeded: random.below(UInt64(size) + 1)), at: base + 14)
            }
            // The indices move on a little (used behind avail), the entries they cover are
            // heads in range but one in 64 (one in 4096 on the receive queue, read long enough
            // to copy frames before it is suspended, its lengths short enough to fit them), and
            // the event indices wander near them.
            let entries = Int(min(size, 0x800))
            avail &+= UInt16(truncatingIfNeeded: random.below(3))
            used = min(avail, used &+ UInt16(truncatingIfNeeded: random.below(3)))
            let head = random.below(stray) == 0 ? UInt64(size) : random.below(UInt64(size))
            ram.put(UInt16(truncatingIfNeeded: head), at: 0x5004 + 2 * (Int(avail) % entries))
            ram.put(avail, at: 0x5002)
            if 0x6004 + 8 * entries <= 0x10000 {
                // Heads out of range now and then (the watcher suspends the queue: it cannot be read on).
                let id = random.below(stray) == 0 ? UInt64(size) : random.below(UInt64(size))
                ram.put(UInt32(truncatingIfNeeded: id), at: 0x6004 + 8 * (Int(used) % entries))
                ram.put(UInt32(truncatingIfNeeded: random.below(queueIndex == 0 ? 64 : 0x3000)), at: 0x6008 + 8 * (Int(used) % entries))
            }
            ram.put(used, at: 0x6002)
            if random.below(4) == 0 { ram.put(UInt16(truncatingIfNeeded: random.below(4)) &+ used, at: Int(queue.usedEventAddress & 0xFFF8)) }
            if random.below(32) == 0 { ram.put(random.next(), at: Int(random.below(0x10000 - 8))) }
            queue.scan(memory: ram.memory, writer: ram.writer, time: Int64(step) * 20_000_000)
            queue.checkExposed(memory: ram.memory, writer: ram.writer)
            #expect(queue.offerCount <= 2 * Int(size))
        }
        queue.endWaits(writer: ram.writer)
        let result = try ram.replay()
        #expect(result.queues.count == 1)
        #expect(try ram.lines("avail").count > 0)
        if queueIndex == 0 {
            // Received frames were copied, and some dropped for their buffer offered again.
            let used = try ram.lines("used")
            #expect(used.contains { $0["data"] != nil } && used.contains { $0["refilled"] != nil }, "\(used.count) used, \(used.filter { $0["data"] != nil }.count) with data, \(used.filter { $0["refilled"] != nil }.count) refilled, \((try? ram.lines("suspended")) ?? [])")
        }
    }
}
