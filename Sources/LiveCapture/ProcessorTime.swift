#if canImport(Glibc)
import Glibc
#endif

/// What the kernel counts of the time a thread did not have its processor: how long it
/// waited, runnable, while another task of the machine ran there (`/proc/thread-self/schedstat`,
/// its second field, in nanoseconds; see the kernel's `Documentation/scheduler/sched-stats.rst`),
/// and how long a hypervisor ran something else on the processor itself (the `steal` column,
/// the eighth, of the processor's `cpuN` line in `/proc/stat`, in USER_HZ ticks; proc(5)).
///
/// The sampler reads both when it starts and when it stops: the difference says how much of
/// its gaps (``RoundGaps``) other tasks or the host took, and how much its own work did.
struct ProcessorTime: Equatable {
    /// Nil where the kernel keeps no scheduler statistics (CONFIG_SCHED_INFO off).
    var waitingNanoseconds: UInt64?
    /// Nil without a processor of its own, or where `/proc/stat` does not say.
    var stealTicks: UInt64?

    /// The calling thread's, and `processor`'s.
    static func now(processor: Int?) -> ProcessorTime {
        ProcessorTime(
            waitingNanoseconds: SmallFile.read("/proc/thread-self/schedstat", limit: 256).flatMap(Self.waiting(schedstat:)),
            stealTicks: processor.flatMap { processor in
                SmallFile.read("/proc/stat", limit: 1 << 20).flatMap { Self.steal(stat: $0, processor: processor) }
            })
    }

    /// The waiting and the steal since `start`, in microseconds; nil where either end is
    /// unknown (or a counter went back, which it does not).
    func since(_ start: ProcessorTime) -> (waitingMicroseconds: Int?, stealMicroseconds: Int?) {
        func elapsed(_ end: UInt64?, _ start: UInt64?) -> UInt64? {
            guard let end, let start, end >= start else { return nil }
            return end - start
        }
        let microsecondsPerTick = UInt64(1_000_000 / max(sysconf(Int32(_SC_CLK_TCK)), 1))
        let steal = elapsed(self.stealTicks, start.stealTicks).map { $0.multipliedReportingOverflow(by: microsecondsPerTick) }
        return (
            elapsed(self.waitingNanoseconds, start.waitingNanoseconds).map { Int(clamping: $0 / 1_000) },
            steal.map { $0.overflow ? Int.max : Int(clamping: $0.partialValue) }
        )
    }

    /// The second field of a `schedstat` line: "run-time wait-time timeslices".
    static func waiting(schedstat: [UInt8]) -> UInt64? {
        let fields = ProcFile.numbers(schedstat[...])
        return fields.count >= 3 ? fields[1] : nil
    }

    /// The steal column of `cpu<processor>`'s line: "cpuN user nice system idle iowait irq softirq steal …".
    static func steal(stat: [UInt8], processor: Int) -> UInt64? {
        let label = Array("cpu\(processor) ".utf8)
        for line in stat.split(separator: UInt8(ascii: "\n")) where line.starts(with: label) {
            let columns = ProcFile.numbers(line.dropFirst(label.count))
            return columns.count >= 8 ? columns[7] : nil
        }
        return nil
    }
}
