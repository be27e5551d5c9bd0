import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// When the sampler's last round began, for the ``StallGuard`` watching it from another
/// processor.
final class Heartbeat: Sendable {
    /// The bits of the time; 0 before the first round.
    private let last = Atomic<UInt64>(0)

    /// A round of scans begins at `time`, seconds on CLOCK_MONOTONIC (``QMPConnection/now()``).
    func beat(at time: Double = QMPConnection.now()) { self.last.store(time.bitPattern, ordering: .relaxed) }

    /// When the last round began; nil before the first.
    var lastRound: Double? {
        let bits = self.last.load(ordering: .relaxed)
        return bits == 0 ? nil : Double(bitPattern: bits)
    }
}

/// Stops QEMU (SIGSTOP) while the sampler's rounds stall, and lets it go on (SIGCONT) at the
/// sampler's next round (docs/record.md, "Pauses").
///
/// The sampler has a processor of its own, but the hypervisor can still take it for 10–40 ms
/// (and, where the sampler is not real-time, another task of the machine for a few), while
/// QEMU's vCPU runs on in the other: a disk request or a packet sent in that time is made
/// available, used and its descriptors reused before the sampler looks, and is missed.
/// Nothing inside the machine keeps the processor the sampler's, so this thread, on QEMU's
/// processors and real-time where the kernel allows (``enterRealTime()``), looks again when
/// the sampler's last round will be ``Timing/threshold`` old, and if no round has begun since,
/// stops the guest instead: what the guest cannot do, the sampler cannot miss. Each look takes
/// QEMU's processor for a moment, so it looks no more often than that: about once a
/// millisecond while the rounds go on. A pause ends at the sampler's next round,
/// or after ``longestPause`` (a sampler that does not come back does not freeze the guest;
/// the guard then waits for a round before it pauses again). The guard is armed by the
/// sampler's first round.
final class StallGuard: @unchecked Sendable {
    /// How long the rounds stall before QEMU is stopped, and the longest it is kept stopped,
    /// in seconds.
    struct Timing: Equatable {
        var threshold = 0.001
        var longestPause = 0.25
        /// How often a paused guard looks for the sampler's next round.
        var pausedInterval = 0.000_05
    }

    /// What the guard did: run.json `pauses`.
    struct Pauses: Equatable {
        /// How long the rounds stalled before a pause (``Timing/threshold``), in seconds.
        var after: Double
        /// Whether the guard ran under SCHED_FIFO.
        var realTime = false
        var count = 0
        /// Pauses ended by ``Timing/longestPause``, not by a round.
        var cutShort = 0
        var totalSeconds = 0.0
        var longestSeconds = 0.0
        /// The longest from the start of the sampler's last round to QEMU's stop: how long
        /// the guest may have run unwatched before a pause (at least ``Timing/threshold``;
        /// more where the guard's own processor was taken too).
        var longestStallSeconds = 0.0
        /// How often the guard woke to look at the sampler's last round (each look takes QEMU's
        /// processor for a moment).
        var looks = 0

        /// run.json's `pauses`, with the stall that starts one.
        var manifestEntry: String {
            "{\"afterMicroseconds\": \(Int((self.after * 1e6).rounded())), \"realTime\": \(self.realTime), \"count\": \(self.count), \"cutShort\": \(self.cutShort), "
                + "\"totalMicroseconds\": \(Int(self.totalSeconds * 1e6)), \"longestMicroseconds\": \(Int(self.longestSeconds * 1e6)), "
                + "\"longestStallMicroseconds\": \(Int(self.longestStallSeconds * 1e6)), \"looks\": \(self.looks)}"
        }
    }

    private let heartbeat: Heartbeat
    private let process: pid_t
    private let timing: Timing
    private let running = Atomic<Bool>(true)
    private var thread = pthread_t()
    /// The guard thread's alone until ``stop()`` has joined it.
    private var pauses: Pauses

    /// Starts watching `heartbeat` for `process`, on the calling thread's processors.
    init(heartbeat: Heartbeat, process: pid_t, timing: Timing = Timing()) throws(RecordError) {
        (self.heartbeat, self.process, self.timing) = (heartbeat, process, timing)
        self.pauses = Pauses(after: timing.threshold)
        self.thread = try ThreadStart.start("the stall guard thread") { self.loop() }
    }

    /// Stops the guard, with QEMU going on if it was paused, and says what it did. Call it
    /// before the process is reaped: a reaped process's ID can be another's.
    func stop() -> Pauses {
        if self.running.exchange(false, ordering: .acquiringAndReleasing) { pthread_join(self.thread, nil) }
        return self.pauses
    }

    private func loop() {
        self.pauses.realTime = Self.enterRealTime()
        // Armed by the sampler's first round, whenever the guard starts (its warm-up, while
        // QEMU starts, is no stall); after a pause cut short, by the round after the one it
        // waited beyond. It sleeps until the last round is `threshold` old: while rounds go on,
        // one look per threshold, and a stall is found when it is that long, not later.
        var waitedBeyond: Double?
        while self.running.load(ordering: .acquiring) {
            guard let last = self.heartbeat.lastRound, last != waitedBeyond else {
                Self.sleep(self.timing.threshold)
                self.pauses.looks += 1
                continue
            }
            // Read after the round's time: a round begun meanwhile makes no stall negative.
            let stalled = QMPConnection.now() - last
            if stalled >= self.timing.threshold {
                if !self.pause(after: last) { waitedBeyond = last }
            } else {
                Self.sleep(self.timing.threshold - stalled)
                self.pauses.looks += 1
            }
        }
    }

    /// Keeps QEMU stopped until a round after the one begun at `last`; false if
    /// ``Timing/longestPause`` ended it first, or stopping QEMU failed (it has exited).
    private func pause(after last: Double) -> Bool {
        guard kill(self.process, SIGSTOP) == 0 else { return false }
        let start = QMPConnection.now()
        self.pauses.longestStallSeconds = max(self.pauses.longestStallSeconds, start - last)
        var resumed = false
        while self.running.load(ordering: .acquiring), QMPConnection.now() - start < self.timing.longestPause {
            if self.heartbeat.lastRound != last {
                resumed = true
                break
            }
            Self.sleep(self.timing.pausedInterval)
        }
        kill(self.process, SIGCONT)
        let length = QMPConnection.now() - start
        self.pauses.count += 1
        self.pauses.totalSeconds += length
        self.pauses.longestSeconds = max(self.pauses.longestSeconds, length)
        if !resumed, self.running.load(ordering: .relaxed) { self.pauses.cutShort += 1 }
        return resumed || !self.running.load(ordering: .relaxed)
    }

    /// Puts the calling thread in SCHED_FIFO (sched(7)) at priority 1, the lowest; false where
    /// the kernel refuses (a user without CAP_SYS_NICE and with RLIMIT_RTPRIO 0), the thread
    /// then left as it was. An ordinary task on QEMU's processors (a build, a test run) would
    /// otherwise delay the guard by as much as it delays the sampler, 8 ms and more, while the
    /// guest runs on unwatched. The guard sleeps between its looks: it takes little of the
    /// processor and is never throttled. (The sampler stays ordinary: docs/record.md, "Real-time
    /// scheduling".)
    private static func enterRealTime() -> Bool {
        var parameters = sched_param()
        parameters.sched_priority = 1
        return pthread_setschedparam(pthread_self(), SCHED_FIFO, &parameters) == 0
    }

    private static func sleep(_ seconds: Double) {
        let nanoseconds = Int(seconds * 1e9)
        var time = timespec(tv_sec: nanoseconds / 1_000_000_000, tv_nsec: nanoseconds % 1_000_000_000)
        nanosleep(&time, nil)
    }
}
