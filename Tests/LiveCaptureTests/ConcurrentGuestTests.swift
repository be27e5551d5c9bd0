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
    @Test("split net transmit, the header reused the moment the device returns it: no NET-TX-FLAGS over 10000 frames raced")
    func reusedTransmitHeader() throws {
        let ram = try GuestRAM()
        var queue = WatchedQueue(
            device: "virtio-net@/t", type: .network, index: 1, addresses: RingWatcherTests.split, features: [.version1],
            netControlQueue: nil)
        ram.writer.write(queue.queueLine)
        let frames = 10_000
        let progress = Progress()
        let guest = Thread { [ram] in Self.transmit(frames: frames, ram: ram, progress: progress) }
        guest.start()
        Self.sample(&queue, ram: ram, progress: progress)
        let avail = try ram.lines("avail")
        #expect(avail.count == frames)
        // The race was run: frames were read while the device still owned them (with their
        // bytes), others only after their completion (late, not judged); on an idle machine
        // about half and half, at least one in a hundred of each on a loaded one.
        let read = avail.filter { $0["late"] == nil && $0["data"] != nil }.count
        #expect(read > frames / 100 && avail.count - read > frames / 100, "\(read) of \(frames) read in time")
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
                while entry - progress.seen.load(ordering: .acquiring) > 4 { sched_yield() }
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

    /// How far the recorder has read both rings (the guest keeps within half a ring of it, so
    /// that the ring is never lapped: every read would be late and prove nothing) and whether
    /// the guest is done.
    final class Progress: Sendable {
        let seen = Atomic<Int>(0)
        let finished = Atomic<Bool>(false)
    }

    /// The recorder's side: scans until a scan begun after the guest was done finds nothing
    /// new, publishing how far it has read; it yields the processor when nothing was new.
    static func sample(_ queue: inout WatchedQueue, ram: GuestRAM, progress: Progress) {
        while true {
            let done = progress.finished.load(ordering: .acquiring)
            let before = (queue.availSeen, queue.usedSeen)
            _ = queue.scan(memory: ram.memory, writer: ram.writer)
            progress.seen.store(min(queue.availSeen, queue.usedSeen), ordering: .releasing)
            if before == (queue.availSeen, queue.usedSeen) {
                if done { return }
                sched_yield()
            }
        }
    }

    /// The guest's side of ``reusedTransmitHeader()``: one frame after another, each used by
    /// the device after a short, varying spin and its header scribbled at once.
    static func transmit(frames: Int, ram: GuestRAM, progress: Progress) {
        var random = SplitMix(state: 7)
        for frame in 0..<frames {
            while progress.seen.load(ordering: .acquiring) < frame { sched_yield() }
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
