import GuestMemory
import Testing
import VirtioModel

@testable import LiveCapture

/// Scans that read only a queue's ``QuietWords`` (the last scan recorded nothing and left
/// nothing to finish) find what a full scan would: every other watcher test goes through them
/// too; these look at what only they could get wrong.
struct QuietWordsTests {
    typealias GuestRAM = RingWatcherTests.GuestRAM

    @Test("split with EVENT_IDX: scans that read only the quiet words move a wait on as full ones would (found waiting at the last, waiting until the last)")
    func waitTimes() throws {
        let ram = try GuestRAM()
        var queue = RingWatcherTests.entropyQueue(ram)
        // The device has taken nothing and asks to be told of entry 0; three scans find it so,
        // the last two reading the quiet words only.
        ram.put(UInt16(0), at: RingWatcherTests.availEvent)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 100)
        #expect(queue.quiet != nil)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 110)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 120)
        // Entry 0 made available: recorded, so the next scan reads everything again.
        ram.splitAvail(0, head: 0)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 200)
        #expect(queue.quiet == nil)
        for time in [210, 220, 300] { queue.scan(memory: ram.memory, writer: ram.writer, time: Int64(time)) }
        #expect(queue.quiet != nil)
        // The device takes entry 0: the wait ends, as found from 120, seen at 200, last at 300.
        ram.put(UInt16(1), at: RingWatcherTests.availEvent)
        queue.scan(memory: ram.memory, writer: ram.writer, time: 400)
        let waits = try ram.lines("awaiting")
        #expect(waits.count == 1)
        #expect(waits.first?["from"] as? Int == 120 && waits.first?["seen"] as? Int == 200 && waits.first?["last"] as? Int == 300)
    }

    @Test("split: used.idx or avail.idx moved after quiet scans is read; a suspended queue is quiet whatever its words say")
    func splitIndices() throws {
        let ram = try GuestRAM()
        var queue = RingWatcherTests.entropyQueue(ram, eventIndex: false)
        for _ in 0..<3 { queue.scan(memory: ram.memory, writer: ram.writer) }
        ram.splitAvail(0, head: 0)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("avail").count == 1)
        for _ in 0..<3 { queue.scan(memory: ram.memory, writer: ram.writer) }
        ram.splitUsed(0, id: 0, length: 16)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("used").count == 1)
        // An avail.idx the ring cannot hold (its head past the queue's size): suspended, and
        // quiet from then on whatever the words say.
        ram.put(UInt16(9), at: 0x2004 + 2)
        ram.put(UInt16(2), at: 0x2002)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(queue.suspended && queue.quiet == nil)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(queue.quiet != nil)
        let words = try #require(QuietWords(queue.firstReads, memory: ram.memory))
        #expect(words[0] == 1 && words[1] == 2)
    }

    @Test("packed: lists made available at the driver's cursor, and used descriptors at the device's, after quiet scans are read; a list waited for keeps the queue scanned in full")
    func packedCursors() throws {
        let ram = try GuestRAM()
        var queue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: RingWatcherTests.packedRing,
            features: [.version1, .ringPacked], netControlQueue: nil)
        for _ in 0..<3 { queue.scan(memory: ram.memory, writer: ram.writer) }
        #expect(queue.quiet != nil)
        ram.packedDescriptor(0, address: 0x8000, length: 16, id: 4, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        // The device's cursor at slot 0, the driver's at slot 1: each is looked at.
        for _ in 0..<3 { queue.scan(memory: ram.memory, writer: ram.writer) }
        ram.packedDescriptor(1, address: 0x8100, length: 16, id: 5, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("avail").count == 2)
        for _ in 0..<3 { queue.scan(memory: ram.memory, writer: ram.writer) }
        ram.packedDescriptor(0, address: 0x8000, length: 16, id: 4, flags: 0x8080)
        queue.scan(memory: ram.memory, writer: ram.writer)
        #expect(try ram.lines("used").first?["id"] as? Int == 4)
        // A list of two whose first descriptor is available before the second: waited for
        // (nothing recorded yet), so the queue is not quiet until the second comes.
        ram.packedDescriptor(2, address: 0x8200, length: 16, id: 6, flags: 0x0083)
        queue.scan(memory: ram.memory, writer: ram.writer, clock: 10)
        #expect(queue.packed?.partialList != nil && queue.quiet == nil)
        ram.packedDescriptor(3, address: 0x8300, length: 16, id: 6, flags: 0x0082)
        queue.scan(memory: ram.memory, writer: ram.writer, clock: 10)
        #expect(try ram.lines("avail").count == 3 && queue.packed?.partialList == nil)
    }
}
