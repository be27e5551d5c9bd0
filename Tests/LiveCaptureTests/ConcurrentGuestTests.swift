import Foundation
import GuestMemory
import Synchronization
import Testing
import VirtioModel
import VirtioTestSupport

@testable import LiveCapture

/// The sampler against a guest that writes its rings on another thread while they are read,
/// as a real guest does: what a scan records is never memory the driver had reused by then.
@Suite(.serialized)
struct ConcurrentGuestTests {
    typealias GuestRAM = RingWatcherTests.GuestRAM

    /// U-Boot's virtio-net transmit (drivers/net/virtio_net.c): the 12-byte header lives on the
    /// stack, zeroed before each frame, head 0 every time, and the stack is reused the moment
    /// the used element comes back — here by writing a flags byte (0x10) no header may carry.
    /// The recorder reads each chain while the guest runs; any read of the header after the
    /// completion it checked for would record a NET-TX-FLAGS the driver never made.
    @Test("split net transmit, the header reused the moment the device returns it: no NET-TX-FLAGS over 10000 frames and more raced")
    func reusedTransmitHeader() throws {
        let ram = try GuestRAM()
        var queue = WatchedQueue(
            device: "virtio-net@/t", type: .network, index: 1, addresses: RingWatcherTests.split, features: [.version1],
            netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        // The race is run until it was run both ways: frames read while the device still owned
        // them (with their bytes), and others only after their completion (late, not judged).
        // On an idle machine about half and half come in 10000 frames; with the suite's other
        // tests on both processors the sampler may read few in time, and more frames are sent.
        let (least, most, each) = (10_000, 50_000, 100)
        let progress = Progress()
        let guest = Thread { [ram] in Self.transmit(frames: most, ram: ram, progress: progress) }
        guest.start()
        Self.sample(&queue, ram: ram, progress: progress) { queue in
            queue.availSeen >= least && queue.availSeen - queue.late - queue.missed >= each && queue.late >= each
        }
        let avail = try ram.lines("avail")
        #expect(avail.count == progress.sent.load(ordering: .acquiring) && avail.count >= least)
        let read = avail.filter { $0["late"] == nil && $0["data"] != nil }.count
        #expect(read >= each && avail.count - read >= each, "\(read) of \(avail.count) read in time")
        let result = try ram.replay()
        #expect(result.rules.isEmpty && result.problems.isEmpty, "\(result.rules.count) findings: \(Set(result.rules))")
    }

    /// QEMU held to the sampler by its trace (``TraceTail/lockstep``), through the recorder's own
    /// sampler thread: the guest makes a transmit chain available (U-Boot's, as above), "QEMU"
    /// writes the two lines it writes before it uses a chain even without a notification — the
    /// pop and the fill — into the recorder's packet pipe, uses the chain, and the guest
    /// scribbles on its header at once. Nothing but the pipe waits for the recorder, yet every
    /// chain must be read before its completion: none late, none missed, the bytes the driver made.
    @Test("lockstep: each transmit chain used right after QEMU's pop and fill lines, its header reused at once: all 3000 read before their completion")
    func lockstepTransmit() throws {
        let ram = try GuestRAM()
        let ends = try TraceTail.makePipe()
        let trace = try TraceTail(input: ends.read, path: ram.directory + "/trace.log", messages: QEMUMessages())
        try #require(trace.lockstep)
        let sampler = try Sampler(writer: ram.writer, trace: trace)
        let queue = WatchedQueue(
            device: "virtio-net@/t", type: .network, index: 1, addresses: RingWatcherTests.split, features: [.version1],
            netControlQueue: nil)
        sampler.withRings { rings in
            rings.memory = ram.memory
            rings.watch([queue])
        }
        let frames = 3_000
        let lines = [
            "5@1795724092.000002:virtqueue_pop vq 0x2 elem 0x3 in_num 0 out_num 2\n",
            "5@1795724092.000003:virtqueue_fill vq 0x2 elem 0x3 len 0 idx 0\n",
        ].map { Array($0.utf8) }
        var written = 0
        for frame in 0..<frames {
            ram.put(UInt64(0), at: 0x8000)
            ram.put(UInt32(0), at: 0x8008)
            ram.splitDescriptor(0, address: 0x8000, length: 12, flags: 1, next: 1)
            ram.splitDescriptor(1, address: 0x9000, length: 60, flags: 0)
            ram.splitAvail(frame, head: 0)
            // Each write waits while the pipe holds the line before.
            for line in lines where line.withUnsafeBytes({ write(ends.write, $0.baseAddress, $0.count) }) == line.count { written += 1 }
            ram.splitUsed(frame, id: 0, length: 0)
            ram.put(UInt8(0x10), at: 0x8000)
        }
        close(ends.write)
        let rings = sampler.stop()
        #expect(written == 2 * frames)
        let avail = try ram.lines("avail")
        #expect(avail.count == frames)
        #expect(avail.filter { $0["late"] == nil && $0["stale"] == nil && $0["data"] != nil }.count == frames)
        #expect(rings.watched.map(\.missed) == [0] && rings.watched.map(\.late) == [0])
        #expect(try ram.lines("used").count == frames)
        let result = try ram.replay()
        #expect(result.rules.isEmpty && result.problems.isEmpty, "\(result.rules.count) findings: \(Set(result.rules))")
    }

    /// A device that uses each entry the moment it is made available: between the sampler's
    /// read of avail.idx and its second read of used.idx, the driver may add entries and the
    /// device use them, so that used.idx passes the avail.idx read. One chain is exposed at a
    /// time, never more than the ring's 8 (SPLIT-AVAIL-IDX-WINDOW).
    @Test("split ring whose used.idx passes the avail.idx a scan read: no SPLIT-AVAIL-IDX-WINDOW over 100000 entries raced")
    func usedPassesAvailRead() throws {
        let ram = try GuestRAM()
        var queue = WatchedQueue(
            device: "virtio-rng@/t", type: .entropy, index: 0, addresses: RingWatcherTests.split, features: [.version1],
            netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        ram.splitDescriptor(0, address: 0x8000, length: 64, flags: 2)
        let entries = 100_000
        let progress = Progress()
        let guest = Thread { [ram] in
            for entry in 0..<entries {
                guard progress.waitFor(entry, lead: 4) else { break }
                ram.splitAvail(entry, head: 0)
                ram.splitUsed(entry, id: 0, length: 64)
            }
            progress.finished.store(true, ordering: .releasing)
        }
        guest.start()
        Self.sample(&queue, ram: ram, progress: progress)
        #expect(queue.availSeen == entries && queue.usedSeen == entries)
        #expect(try ram.lines("window").isEmpty)
        #expect(try ram.lines("suspended").isEmpty)
    }

    /// U-Boot's virtio-net receive: one buffer, head 0, handed back to the device the moment
    /// the packet in it has been read, and the device writes the next frame into it as soon as
    /// it has one. The recorder copies a frame when it sees its used element; a copy made after
    /// the next frame began to land would export the wrong bytes. Frame `n` is 64 + `n` mod 64
    /// bytes of `n` mod 256: its length names it among its neighbours, as its used line's index
    /// may not. On the packed ring the Buffer ID alternates between 0 and 1: a list missed
    /// (made available and used between two scans) is passed over with the slots after it
    /// that carry its ID (docs/record.md), so a next list of the same ID would go with it.
    @Test("net receive, the one buffer offered again at once: every frame's bytes recorded are its own, over 4000 frames raced",
          arguments: [false, true])
    func refilledReceiveBuffer(packed: Bool) throws {
        let race = try Self.raceReceive(packed: packed, frames: 4000, seed: 9)
        #expect(race.used == 4000)
        #expect(race.wrong.isEmpty, "\(race.wrong.count) frames recorded with another frame's bytes, the first: \(race.wrong.first ?? [:])")
        // The race was run: frames copied in time, and buffers found offered again (counted as missed).
        #expect(
            race.copied > 40 && race.refilled > 40 && race.copied + race.refilled + race.unread == race.used,
            "\(race.copied) copied, \(race.refilled) refilled, \(race.unread) unread")
    }

    /// The start of a run, when the guest is furthest ahead of the recorder, raced again and
    /// again: a packed slot the device uses between two reads of it (available at the first,
    /// used at the second) let a frame the next one overwrote through, in 1 run in 20 to 60.
    @Test("packed net receive, the first 12 frames raced 300 times: every frame's bytes recorded are its own")
    func refilledReceiveBufferAtStart() throws {
        var (copied, refilled) = (0, 0)
        for run in 0..<300 {
            let race = try Self.raceReceive(packed: true, frames: 12, seed: UInt64(100 + run))
            #expect(race.used == 12)
            #expect(race.wrong.isEmpty, "run \(run): \(race.wrong.count) frames with another frame's bytes, the first: \(race.wrong.first ?? [:])")
            (copied, refilled) = (copied + race.copied, refilled + race.refilled)
        }
        #expect(copied > 0 && refilled > 0, "\(copied) copied, \(refilled) refilled")
    }

    /// What one receive race recorded: used lines, those whose bytes are not their frame's,
    /// and how many were copied, refilled and unread.
    struct ReceiveRace {
        var used: Int
        var wrong: [[String: Any]]
        var copied: Int
        var refilled: Int
        var unread: Int
    }

    /// The guest of ``refilledReceiveBuffer(packed:)`` for `frames` frames, against the sampler.
    static func raceReceive(packed: Bool, frames: Int, seed: UInt64) throws -> ReceiveRace {
        let ram = try GuestRAM()
        var queue = WatchedQueue(
            device: "virtio-net@/t", type: .network, index: 0, addresses: packed ? RingWatcherTests.packedRing : RingWatcherTests.split,
            features: packed ? [.version1, .ringPacked] : [.version1], netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        // Offer `frame` (packed: in slot `frame` mod 8, the driver's wrap counter 1 in even laps).
        let offer: @Sendable (Int) -> Void = { frame in
            if packed {
                let wrap: UInt16 = frame / 8 % 2 == 0 ? 0x0080 : 0x8000
                ram.packedDescriptor(frame % 8, address: 0x8000, length: 1526, id: UInt16(frame % 2), flags: wrap | 0x0002)
            } else {
                ram.splitAvail(frame, head: 0)
            }
        }
        // The device fills the buffer with frame `frame` and returns it (packed: ID and length
        // first, then flags with AVAIL and USED both the device's wrap counter, as QEMU writes them).
        let use: @Sendable (Int) -> Void = { frame in
            let byte = UInt64(UInt8(truncatingIfNeeded: frame)) * 0x0101_0101_0101_0101
            for offset in stride(from: 0, to: 128, by: 8) { ram.put(byte, at: 0x8000 + offset) }
            let length = UInt32(64 + frame % 64)
            if packed {
                let slot = 0x4000 + 16 * (frame % 8)
                ram.put(UInt16(frame % 2), at: slot + 12)
                ram.put(length, at: slot + 8)
                ram.put(UInt16(frame / 8 % 2 == 0 ? 0x8080 : 0), at: slot + 14)
            } else {
                ram.splitUsed(frame, id: 0, length: length)
            }
        }
        if !packed { ram.splitDescriptor(0, address: 0x8000, length: 1526, flags: 2) }
        offer(0)
        let progress = Progress()
        let guest = Thread {
            var random = SplitMix(state: seed)
            for frame in 0..<frames {
                // Whether or not the recorder has read the last frame in it (half a ring ahead at most).
                guard progress.waitFor(frame, lead: 4) else { break }
                // The device waits for a frame (asleep: the recorder may share its processor),
                // or has one already.
                if random.below(4) == 0 { Self.spin(nanoseconds: random.below(5_000)) } else { usleep(UInt32(random.below(200))) }
                use(frame)
                // The driver reads the packet and hands the buffer back: at once after giving
                // up the processor (the recorder can copy the frame first), or after a busy while.
                if frame % 2 == 0 { sched_yield() } else { Self.spin(nanoseconds: random.below(40_000)) }
                offer(frame + 1)
            }
            progress.finished.store(true, ordering: .releasing)
        }
        guest.start()
        Self.sample(&queue, ram: ram, progress: progress)
        let used = try ram.lines("used")
        // A copy marked refilled is taken only where the trace shows it whole (none here).
        let taken = used.filter { $0["data"] != nil && $0["refilled"] == nil }
        let wrong = taken.filter { line in
            guard let data = line["data"] as? String, let length = line["len"] as? Int, let value = UInt8(data.prefix(2), radix: 16)
            else { return false }
            return data != String(repeating: String(data.prefix(2)), count: length) || Int(value) % 64 != length - 64
        }
        return ReceiveRace(
            used: used.count, wrong: wrong, copied: taken.count,
            refilled: used.filter { $0["refilled"] as? Bool == true }.count, unread: used.filter { $0["unread"] as? Bool == true }.count)
    }

    /// How far the recorder has read both rings (the guest keeps within half a ring of it, so
    /// that the ring is never lapped: every read would be late and prove nothing) and whether
    /// the guest is done.
    final class Progress: Sendable {
        let seen = Atomic<Int>(0)
        let finished = Atomic<Bool>(false)
        /// The recorder has seen enough: the guest makes no more entries available.
        let enough = Atomic<Bool>(false)
        /// Entries the guest made available.
        let sent = Atomic<Int>(0)
        /// A minute from the start: a recorder stuck on a ring fails the test, not hangs it.
        let deadline = DispatchTime.now().uptimeNanoseconds + 60_000_000_000
        var expired: Bool { DispatchTime.now().uptimeNanoseconds > self.deadline }

        /// The guest's wait until the recorder is within `lead` entries of `entry`; false when
        /// the minute is up.
        func waitFor(_ entry: Int, lead: Int) -> Bool {
            while entry - self.seen.load(ordering: .acquiring) > lead {
                if self.expired { return false }
                sched_yield()
            }
            return true
        }
    }

    /// The recorder's side: scans until a scan begun after the guest was done finds nothing
    /// new, publishing how far it has read; it yields the processor when nothing was new. Once
    /// `enough` says so of the queue, the guest is asked to stop.
    static func sample(
        _ queue: inout WatchedQueue, ram: GuestRAM, progress: Progress, enough: (WatchedQueue) -> Bool = { _ in false }
    ) {
        while true {
            let done = progress.finished.load(ordering: .acquiring)
            let before = (queue.availSeen, queue.usedSeen)
            queue.scan(memory: ram.memory, writer: ram.writer)
            if enough(queue) { progress.enough.store(true, ordering: .releasing) }
            progress.seen.store(min(queue.availSeen, queue.usedSeen), ordering: .releasing)
            if before == (queue.availSeen, queue.usedSeen) {
                if done || progress.expired { return }
                sched_yield()
            }
        }
    }

    /// The guest's side of ``reusedTransmitHeader()``: one frame after another, each used by
    /// the device after a short, varying spin and its header scribbled at once; at most
    /// `frames`, fewer when the recorder has seen enough.
    static func transmit(frames: Int, ram: GuestRAM, progress: Progress) {
        var random = SplitMix(state: 7)
        for frame in 0..<frames {
            guard progress.waitFor(frame, lead: 0), !progress.enough.load(ordering: .acquiring) else { break }
            progress.sent.store(frame + 1, ordering: .releasing)
            ram.put(UInt64(0), at: 0x8000)
            ram.put(UInt32(0), at: 0x8008)
            ram.splitDescriptor(0, address: 0x8000, length: 12, flags: 1, next: 1)
            ram.splitDescriptor(1, address: 0x9000, length: 60, flags: 0)
            ram.splitAvail(frame, head: 0)
            Self.spin(nanoseconds: random.below(50_000))
            ram.splitUsed(frame, id: 0, length: 0)
            ram.put(UInt8(0x10), at: 0x8000)
            Self.spin(nanoseconds: random.below(50_000))
        }
        progress.finished.store(true, ordering: .releasing)
    }

    /// Busy for `nanoseconds`, as a device takes a while and a driver goes on running.
    static func spin(nanoseconds: UInt64) {
        let until = DispatchTime.now().uptimeNanoseconds + nanoseconds
        while DispatchTime.now().uptimeNanoseconds < until {}
    }
}
