#if canImport(Glibc)
import Glibc
#endif

/// A set of processors a thread may run on (sched_setaffinity(2)).
///
/// The recorder gives its sampler a processor of its own and QEMU the others: on a host with
/// as many busy threads as processors (QEMU's vCPU under TCG, the sampler), a device's main
/// loop woken by a notification otherwise takes the sampler's processor, and in that time the
/// device can take a packed ring's list and overwrite it with its used descriptor before the
/// sampler has read it.
struct ProcessorSet: Equatable {
    /// Processor numbers, ascending.
    private(set) var members: [Int]

    init(_ members: some Sequence<Int>) { self.members = Set(members).sorted() }

    /// The calling thread's processors; nil if the kernel does not say.
    static func current() -> ProcessorSet? {
        var mask = cpu_set_t()
        guard let get = Self.getAffinity, get(0, MemoryLayout<cpu_set_t>.size, &mask) == 0 else { return nil }
        let members = withUnsafeBytes(of: mask) { bytes in
            (0..<bytes.count * 8).filter { bytes[$0 / 8] & (1 << ($0 % 8)) != 0 }
        }
        return ProcessorSet(members)
    }

    /// Restricts the calling thread (and the processes it starts after) to these processors;
    /// false if the kernel refused, or a processor is beyond what `cpu_set_t` holds.
    func apply() -> Bool {
        var mask = cpu_set_t()
        let fits = withUnsafeMutableBytes(of: &mask) { bytes in
            for processor in self.members {
                guard processor >= 0, processor < bytes.count * 8 else { return false }
                bytes[processor / 8] |= 1 << (processor % 8)
            }
            return true
        }
        guard fits, !self.members.isEmpty, let set = Self.setAffinity else { return false }
        return set(0, MemoryLayout<cpu_set_t>.size, &mask) == 0
    }

    /// Where the sampler runs and where the rest does: the last of `allowed` for the sampler,
    /// the others for QEMU and the recorder's QMP side; nil with fewer than two processors
    /// (the sampler then shares).
    static func samplerPlacement(allowed: ProcessorSet?) -> (sampler: Int, others: ProcessorSet)? {
        guard let allowed, allowed.members.count >= 2, let last = allowed.members.last else { return nil }
        return (last, ProcessorSet(allowed.members.dropLast()))
    }

    /// glibc declares sched_getaffinity and sched_setaffinity only under _GNU_SOURCE, which
    /// Swift's Glibc module does not define: they are looked up by name.
    private typealias Affinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
    private static let getAffinity = Self.function("sched_getaffinity")
    private static let setAffinity = Self.function("sched_setaffinity")

    private static func function(_ name: String) -> Affinity? {
        // A nil handle is RTLD_DEFAULT: the symbol wherever the process has it.
        guard let symbol = dlsym(nil, name) else { return nil }
        return unsafeBitCast(symbol, to: Affinity.self)
    }
}
