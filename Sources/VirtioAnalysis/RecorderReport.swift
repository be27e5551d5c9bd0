/// What `vqscope record` said of its own run in the run directory's `run.json`: how complete
/// the recording is, beside what its rings show.
public struct RecorderReport: Sendable, Equatable {
    /// Rounds of the sampler's scans that began more than `overMicroseconds` after the one
    /// before, and the longest such gap: no queue was looked at meanwhile, so a chain made
    /// available and used within one is missed.
    public struct SamplerGaps: Sendable, Equatable, Decodable {
        /// How many of the gaps were at least `fromMicroseconds` long, and shorter than the next
        /// entry's.
        public struct Length: Sendable, Equatable, Decodable {
            public var fromMicroseconds: Int
            public var count: Int

            public init(fromMicroseconds: Int, count: Int) { (self.fromMicroseconds, self.count) = (fromMicroseconds, count) }
        }

        public var overMicroseconds: Int
        public var count: Int
        public var longestMicroseconds: Int
        /// Nil from a recorder before they were counted.
        public var lengths: [Length]?
        /// Over the run: how long the sampler waited while another task of the machine had its
        /// processor, and how long the hypervisor ran something else on that processor (steal).
        /// Nil where the kernel does not say, and from a recorder before they were counted.
        public var waitingMicroseconds: Int?
        public var stealMicroseconds: Int?

        public init(
            overMicroseconds: Int, count: Int, longestMicroseconds: Int, lengths: [Length]? = nil, waitingMicroseconds: Int? = nil,
            stealMicroseconds: Int? = nil
        ) {
            (self.overMicroseconds, self.count, self.longestMicroseconds) = (overMicroseconds, count, longestMicroseconds)
            self.lengths = lengths
            (self.waitingMicroseconds, self.stealMicroseconds) = (waitingMicroseconds, stealMicroseconds)
        }
    }

    /// How often the recorder stopped QEMU while the sampler's rounds stalled past
    /// `afterMicroseconds`, so that the guest did nothing the sampler could miss: `cutShort` of
    /// them ended by the recorder's limit, not by the sampler's return; in all, the longest, and
    /// the longest stall before one.
    public struct Pauses: Sendable, Equatable, Decodable {
        public var afterMicroseconds: Int
        /// Whether the guard that paused QEMU ran under SCHED_FIFO; nil from a recorder before it could.
        public var realTime: Bool?
        public var count: Int
        public var cutShort: Int
        public var totalMicroseconds: Int
        public var longestMicroseconds: Int
        public var longestStallMicroseconds: Int

        public init(
            afterMicroseconds: Int, realTime: Bool? = nil, count: Int, cutShort: Int, totalMicroseconds: Int, longestMicroseconds: Int,
            longestStallMicroseconds: Int
        ) {
            (self.afterMicroseconds, self.realTime, self.count, self.cutShort) = (afterMicroseconds, realTime, count, cutShort)
            (self.totalMicroseconds, self.longestMicroseconds, self.longestStallMicroseconds) =
                (totalMicroseconds, longestMicroseconds, longestStallMicroseconds)
        }
    }

    /// How long after their own timestamps the recorder read the trace's timestamped lines,
    /// on its clock (run.json `traceClock`): a negative lag would mean the trace's clock is not
    /// the recorder's, and times joined across the two would be off by as much.
    public struct TraceClock: Sendable, Equatable, Decodable {
        public var lines: Int
        public var lagMinimumMicroseconds: Int?
        public var lagMaximumMicroseconds: Int?

        public init(lines: Int, lagMinimumMicroseconds: Int?, lagMaximumMicroseconds: Int?) {
            (self.lines, self.lagMinimumMicroseconds, self.lagMaximumMicroseconds) = (lines, lagMinimumMicroseconds, lagMaximumMicroseconds)
        }
    }

    public var qemuVersion: String?
    public var exitStatus: Int?
    /// Over all queues: entries overwritten or stale before the recorder read them, and chains
    /// it read only once the device had used them (nil from a recorder that did not count them).
    public var missed: Int
    public var late: Int?
    /// Nil for a recording made before vqscope counted them.
    public var samplerGaps: SamplerGaps?
    /// Nil where the sampler had no processor of its own (QEMU is then not paused), and for a
    /// recording made before vqscope paused QEMU.
    public var pauses: Pauses?
    /// Nil for a recording made before vqscope measured it, or without a trace read.
    public var traceClock: TraceClock?
    /// QEMU's trace lines of accesses to memory regions other than virtio's, not kept in
    /// `trace.log` (run.json `traceLinesDropped`); nil from a recorder that kept them all, or
    /// without a trace read.
    public var traceLinesDropped: Int?

    public init(
        qemuVersion: String?, exitStatus: Int?, missed: Int, late: Int?, samplerGaps: SamplerGaps?, pauses: Pauses? = nil,
        traceClock: TraceClock? = nil, traceLinesDropped: Int? = nil
    ) {
        (self.qemuVersion, self.exitStatus, self.missed, self.late, self.samplerGaps) = (qemuVersion, exitStatus, missed, late, samplerGaps)
        (self.pauses, self.traceClock, self.traceLinesDropped) = (pauses, traceClock, traceLinesDropped)
    }
}
