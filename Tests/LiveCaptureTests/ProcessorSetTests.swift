import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import LiveCapture

/// The processors the recorder's threads keep to (``ProcessorSet``): the sampler one of its
/// own, QEMU the others.
struct ProcessorSetTests {
    @Test("the sampler takes the last allowed processor and QEMU the others; with one processor, or none known, nothing is placed")
    func placement() {
        let placed = ProcessorSet.samplerPlacement(allowed: ProcessorSet([3, 0, 2, 1]))
        #expect(placed?.sampler == 3)
        #expect(placed?.others == ProcessorSet([0, 1, 2]))
        #expect(ProcessorSet.samplerPlacement(allowed: ProcessorSet([5])) == nil)
        #expect(ProcessorSet.samplerPlacement(allowed: nil) == nil)
    }

    @Test("a thread kept to one of its processors reads that one back, and its whole set after; a processor beyond cpu_set_t, or none, is refused and changes nothing")
    func applied() throws {
        let allowed = try #require(ProcessorSet.current())
        let first = try #require(allowed.members.first)
        defer { _ = allowed.apply() }
        #expect(ProcessorSet([first]).apply())
        #expect(ProcessorSet.current() == ProcessorSet([first]))
        #expect(allowed.apply())
        #expect(ProcessorSet.current() == allowed)
        #expect(!ProcessorSet([1 << 20]).apply())
        #expect(!ProcessorSet([]).apply())
        #expect(ProcessorSet.current() == allowed)
    }

    @Test("the sampler's thread keeps to the processor it is given, and says so")
    func samplerPlaced() throws {
        let last = try #require(ProcessorSet.current()?.members.last)
        let ram = try RingWatcherTests.GuestRAM()
        let sampler = try Sampler(writer: ram.writer, processor: last)
        defer { _ = sampler.stop() }
        // The thread places itself as it starts.
        for _ in 0..<5000 where sampler.ownProcessor == nil { usleep(1000) }
        #expect(sampler.ownProcessor == last)
        let unplaced = try Sampler(writer: ram.writer)
        defer { _ = unplaced.stop() }
        usleep(10_000)
        #expect(unplaced.ownProcessor == nil)
    }
}
