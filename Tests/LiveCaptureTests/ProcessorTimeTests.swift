import Glibc
import Testing

@testable import LiveCapture

/// The kernel's accounts of the sampler's lost processor time (`/proc/thread-self/schedstat`,
/// `/proc/stat`), read as the kernel writes them and as a hostile or odd file might be.
struct ProcessorTimeTests {
    static let stat = Array(
        """
        cpu  46724 0 10885 89904 4690 0 106 263 0 0
        cpu0 20509 0 4647 50285 626 0 21 122 0 0
        cpu1 26215 0 6238 39619 4064 0 84 141 0 0
        cpu10 1 1 1 1 1 1 1 99 0 0
        intr 123 4 5
        """.utf8)

    @Test("schedstat's second field is the time spent waiting; fewer than three fields or a field that is no number say nothing")
    func waiting() {
        #expect(ProcessorTime.waiting(schedstat: Array("12788228684 433862180 1164\n".utf8)) == 433_862_180)
        #expect(ProcessorTime.waiting(schedstat: Array("12788228684 433862180\n".utf8)) == nil)
        #expect(ProcessorTime.waiting(schedstat: Array("12788228684 -5 1164\n".utf8)) == nil)
        #expect(ProcessorTime.waiting(schedstat: Array("1 99999999999999999999 3\n".utf8)) == nil)
        #expect(ProcessorTime.waiting(schedstat: []) == nil)
    }

    @Test("the steal column of the processor's own line: cpu1 is not cpu10; a missing processor or a short line say nothing")
    func steal() {
        #expect(ProcessorTime.steal(stat: Self.stat, processor: 1) == 141)
        #expect(ProcessorTime.steal(stat: Self.stat, processor: 10) == 99)
        #expect(ProcessorTime.steal(stat: Self.stat, processor: 2) == nil)
        #expect(ProcessorTime.steal(stat: Array("cpu1 1 2 3 4 5 6 7\n".utf8), processor: 1) == nil)
    }

    @Test("the difference in microseconds: waiting from nanoseconds, steal from USER_HZ ticks; an unknown end or a counter that went back gives nil")
    func since() {
        let start = ProcessorTime(waitingNanoseconds: 1_000_000, stealTicks: 139)
        let end = ProcessorTime(waitingNanoseconds: 434_862_180, stealTicks: 141)
        let tick = 1_000_000 / sysconf(Int32(_SC_CLK_TCK))
        #expect(end.since(start) == (433_862, 2 * tick))
        #expect(start.since(end) == (nil, nil))
        #expect(ProcessorTime(waitingNanoseconds: nil, stealTicks: 141).since(start) == (nil, 2 * tick))
        #expect(end.since(ProcessorTime(waitingNanoseconds: 0, stealTicks: 0)).stealMicroseconds == 141 * tick)
    }

    @Test("on this machine both are read where the kernel offers the files")
    func live() {
        let now = ProcessorTime.now(processor: 0)
        #expect((now.waitingNanoseconds != nil) == (access("/proc/thread-self/schedstat", R_OK) == 0))
        #expect((now.stealTicks != nil) == (access("/proc/stat", R_OK) == 0))
        #expect(ProcessorTime.now(processor: nil).stealTicks == nil)
    }

    @Test("VmHWM from a status file, in KiB; a status without it, or with no number, says nothing; this process has one")
    func peakResident() {
        #expect(ProcFile.peakResidentKiB(status: Array("Name:\tvqscope\nVmPeak:\t  99 kB\nVmHWM:\t   31744 kB\nVmRSS: 1 kB\n".utf8)) == 31744)
        #expect(ProcFile.peakResidentKiB(status: Array("Name:\tvqscope\nVmRSS:\t 1 kB\n".utf8)) == nil)
        #expect(ProcFile.peakResidentKiB(status: Array("VmHWM:\t kB\n".utf8)) == nil)
        #expect((ProcFile.peakResidentKiB() ?? 0) > 0)
    }
}
