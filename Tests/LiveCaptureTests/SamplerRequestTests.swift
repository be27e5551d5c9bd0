import Dispatch
import Glibc
import Synchronization
import Testing

@testable import LiveCapture

/// The QMP side changes the sampler's rings only through requests the sampler runs on its
/// own thread between two rounds (``Sampler/withRings(_:)``).
struct SamplerRequestTests {
    @Test("requests from two threads at once: each caller gets its own body's result, every body runs once, on the sampler's thread; after stop, on the caller's")
    func concurrentRequests() throws {
        let ram = try RingWatcherTests.GuestRAM()
        let sampler = try Sampler(writer: ram.writer)
        let callers = 2, each = 300
        let mismatches = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            for round in 0..<each {
                let key = caller * 100_000 + round
                let (echo, thread) = sampler.withRings { rings -> (Int, pthread_t) in
                    rings.resets["caller \(caller)", default: 0] += 1
                    return (key, pthread_self())
                }
                if echo != key || pthread_equal(thread, pthread_self()) != 0 { mismatches.add(1, ordering: .relaxed) }
            }
        }
        #expect(mismatches.load(ordering: .relaxed) == 0)
        let rings = sampler.stop()
        #expect(rings.resets == ["caller 0": each, "caller 1": each])
        let after = sampler.withRings { _ in pthread_self() }
        #expect(pthread_equal(after, pthread_self()) != 0)
    }

    @Test("a request that keeps the sampler 2 ms is a gap between two rounds: counted, and the longest at least that long")
    func roundGaps() throws {
        let ram = try RingWatcherTests.GuestRAM()
        let sampler = try Sampler(writer: ram.writer)
        let before = sampler.withRings { $0.gaps.count }
        sampler.withRings { _ in _ = usleep(2_000) }
        let gaps = sampler.stop().gaps
        #expect(gaps.count > before)
        #expect(gaps.longest >= 0.002)
    }

    @Test("round gaps: only intervals over the threshold count, by length; the longest is kept")
    func roundGapCounting() {
        var gaps = RoundGaps()
        for interval in [0.000_01, RoundGaps.threshold, 0.000_3, 0.002, 0.000_5, 0.000_15, 0.000_199, 0.001] { gaps.round(after: interval) }
        #expect(gaps == RoundGaps(count: 6, longest: 0.002, lengths: [2, 1, 1, 2]))
        #expect(
            gaps.manifestEntry
                == #"{"overMicroseconds": 100, "count": 6, "longestMicroseconds": 2000, "lengths": [{"fromMicroseconds": 100, "count": 2}, "#
                + #"{"fromMicroseconds": 200, "count": 1}, {"fromMicroseconds": 500, "count": 1}, {"fromMicroseconds": 1000, "count": 2}], "#
                + #""waitingMicroseconds": null, "stealMicroseconds": null}"#)
    }
}
