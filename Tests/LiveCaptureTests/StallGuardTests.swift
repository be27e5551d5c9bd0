import Glibc
import Testing

@testable import LiveCapture

/// The stall guard on a real child process (`sleep`), its state read from `/proc/PID/stat`:
/// stopped while the heartbeat stalls, going on at the next beat, after the longest pause, or
/// when the guard stops.
@Suite(.serialized)
struct StallGuardTests {
    /// A `sleep 60` of its own, killed and reaped by ``finish(_:)``.
    static func child() throws -> pid_t {
        let pid = try Recorder.spawn(["sleep", "60"])
        #expect(pid > 0)
        return pid
    }

    static func finish(_ pid: pid_t) {
        kill(pid, SIGKILL)
        kill(pid, SIGCONT)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// The process's state letter (proc(5): `T` stopped by a signal), after its command's `)`.
    static func state(_ pid: pid_t) -> Character? {
        guard let bytes = SmallFile.read("/proc/\(pid)/stat", limit: 4096),
            let close = bytes.lastIndex(of: UInt8(ascii: ")")), close + 2 < bytes.count
        else { return nil }
        return Character(UnicodeScalar(bytes[close + 2]))
    }

    /// Waits up to two seconds for `pid` to be in (`stopped`) or out of state `T`, beating
    /// `heartbeat` every millisecond if given; whether it got there.
    static func wait(_ pid: pid_t, stopped: Bool, beating heartbeat: Heartbeat? = nil) -> Bool {
        for _ in 0..<2000 {
            if (Self.state(pid) == "T") == stopped { return true }
            heartbeat?.beat()
            usleep(1000)
        }
        return false
    }

    /// A guard on `pid`, armed by a first round (before or after its thread starts).
    static func armed(_ heartbeat: Heartbeat, _ pid: pid_t, _ timing: StallGuard.Timing) throws -> StallGuard {
        let guarding = try StallGuard(heartbeat: heartbeat, process: pid, timing: timing)
        heartbeat.beat()
        return guarding
    }

    @Test("rounds that stall past the threshold stop the process; the next round lets it go on: one pause, not cut short, the stall before it at least the threshold")
    func pauseAndResume() throws {
        let pid = try Self.child()
        defer { Self.finish(pid) }
        let heartbeat = Heartbeat()
        // A threshold long enough that no second pause comes before the guard is stopped.
        let timing = StallGuard.Timing(threshold: 0.5, longestPause: 10, pausedInterval: 0.001)
        let guarding = try Self.armed(heartbeat, pid, timing)
        #expect(Self.wait(pid, stopped: true))
        heartbeat.beat()
        #expect(Self.wait(pid, stopped: false))
        let pauses = guarding.stop()
        #expect(pauses.count == 1)
        #expect(pauses.cutShort == 0)
        #expect(pauses.longestStallSeconds >= 0.5 && pauses.longestStallSeconds < 0.75)
        #expect(pauses.longestSeconds > 0 && pauses.longestSeconds < 10)
        #expect(pauses.totalSeconds == pauses.longestSeconds)
    }

    @Test("while the rounds go on, the process is never stopped, and the guard looks about once a threshold, not at every round")
    func beatingKeepsRunning() throws {
        let pid = try Self.child()
        defer { Self.finish(pid) }
        let heartbeat = Heartbeat()
        let timing = StallGuard.Timing(threshold: 0.2, longestPause: 10, pausedInterval: 0.001)
        let guarding = try StallGuard(heartbeat: heartbeat, process: pid, timing: timing)
        var stopped = 0
        // Three times the threshold: a guard that missed the rounds would have paused.
        for _ in 0..<600 {
            heartbeat.beat()
            if Self.state(pid) == "T" { stopped += 1 }
            usleep(1000)
        }
        #expect(stopped == 0)
        let pauses = guarding.stop()
        #expect(pauses == StallGuard.Pauses(after: 0.2, realTime: pauses.realTime, looks: pauses.looks))
        // Over 600 ms and more of rounds a millisecond apart: a look when the last round would be 200 ms old.
        #expect(pauses.looks >= 2 && pauses.looks <= 8, "\(pauses.looks) looks")
        // Real-time exactly where this process may make a thread real-time.
        #expect(pauses.realTime == Self.mayUseFIFO())
    }

    /// Whether a new thread of this process is allowed SCHED_FIFO (sched(7)).
    private static func mayUseFIFO() -> Bool {
        let attributes = UnsafeMutablePointer<pthread_attr_t>.allocate(capacity: 1)
        pthread_attr_init(attributes)
        defer {
            pthread_attr_destroy(attributes)
            attributes.deallocate()
        }
        var parameters = sched_param()
        parameters.sched_priority = 1
        pthread_attr_setinheritsched(attributes, Int32(PTHREAD_EXPLICIT_SCHED))
        pthread_attr_setschedpolicy(attributes, SCHED_FIFO)
        pthread_attr_setschedparam(attributes, &parameters)
        var thread = pthread_t()
        guard pthread_create(&thread, attributes, { _ in nil }, nil) == 0 else { return false }
        pthread_join(thread, nil)
        return true
    }

    @Test("a sampler that never comes back: the pause is cut short after the longest pause, and none follows until a round")
    func cutShort() throws {
        let pid = try Self.child()
        defer { Self.finish(pid) }
        let timing = StallGuard.Timing(threshold: 0.005, longestPause: 0.3, pausedInterval: 0.001)
        let guarding = try Self.armed(Heartbeat(), pid, timing)
        #expect(Self.wait(pid, stopped: true))
        #expect(Self.wait(pid, stopped: false))
        usleep(200_000)
        #expect(Self.state(pid) == "S")
        let pauses = guarding.stop()
        #expect(pauses.count == 1)
        #expect(pauses.cutShort == 1)
        #expect(pauses.longestSeconds >= 0.3)
    }

    @Test("stopping the guard during a pause lets the process go on; the pause is not counted cut short")
    func stopWhilePaused() throws {
        let pid = try Self.child()
        defer { Self.finish(pid) }
        let timing = StallGuard.Timing(threshold: 0.005, longestPause: 10, pausedInterval: 0.001)
        let guarding = try Self.armed(Heartbeat(), pid, timing)
        #expect(Self.wait(pid, stopped: true))
        let pauses = guarding.stop()
        #expect(Self.wait(pid, stopped: false))
        #expect(pauses.count == 1)
        #expect(pauses.cutShort == 0)
    }

    @Test("before the sampler's first round (its warm-up) the process is not stopped, however long that takes")
    func notBeforeFirstRound() throws {
        let pid = try Self.child()
        defer { Self.finish(pid) }
        let heartbeat = Heartbeat()
        let timing = StallGuard.Timing(threshold: 0.005, longestPause: 10, pausedInterval: 0.001)
        let guarding = try StallGuard(heartbeat: heartbeat, process: pid, timing: timing)
        usleep(100_000)
        #expect(Self.state(pid) == "S")
        heartbeat.beat()
        #expect(Self.wait(pid, stopped: true))
        #expect(guarding.stop().count == 1)
    }

    @Test("an exited child is seen without being reaped: waitpid still collects its status")
    func exitedNotReaped() throws {
        let running = try Self.child()
        defer { Self.finish(running) }
        #expect(!Recorder.hasExited(running))
        let pid = try Recorder.spawn(["sh", "-c", "exit 7"])
        var exited = false
        for _ in 0..<2000 where !exited {
            exited = Recorder.hasExited(pid)
            usleep(1000)
        }
        #expect(exited)
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect((status >> 8) & 0xff == 7)
    }


    @Test("run.json's pauses: the threshold and the counts, in whole microseconds")
    func manifestEntry() {
        let pauses = StallGuard.Pauses(
            after: 0.001, realTime: true, count: 3, cutShort: 1, totalSeconds: 0.5, longestSeconds: 0.25, longestStallSeconds: 0.125,
            looks: 9000)
        #expect(
            pauses.manifestEntry
                == "{\"afterMicroseconds\": 1000, \"realTime\": true, \"count\": 3, \"cutShort\": 1, \"totalMicroseconds\": 500000, \"longestMicroseconds\": 250000, \"longestStallMicroseconds\": 125000, \"looks\": 9000}"
        )
    }
}
