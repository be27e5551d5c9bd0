import VirtioModel

/// A device's virtio-mmio configuration reads in runs, for CFG-GENERATION-LOOP: a run is the
/// configuration reads (offset 0x100 and up) between two other accesses of the device, and it
/// is bracketed when a ConfigGeneration read comes right before it and right after it. The
/// runs that read a field more than once without a bracket are kept (their offsets), to be
/// judged when the trace ends, once the device's type — and so its layout — is known.
///
/// Spec: virtio v1.2 §2.5.1 (1.1: §2.4.1), §4.2.2 (ConfigGeneration, virtio-mmio version 2).
struct ConfigReadRuns: Sendable, Equatable {
    /// A run of configuration reads that was not bracketed, where it began, and the offsets it
    /// read (from the start of the configuration space), the first ``maximumOffsets``.
    struct Run: Sendable, Equatable {
        var place: TracePlace
        var offsets: [UInt64]
    }

    /// The run going on, and whether a ConfigGeneration read came right before it.
    private var current: Run?
    private var afterGeneration = false
    /// The last access was a ConfigGeneration read.
    private var lastWasGeneration = false
    /// Unbracketed runs, the first ``maximumRuns`` of them.
    private(set) var unbracketed: [Run] = []

    static let maximumRuns = 16
    static let maximumOffsets = 256

    /// A read at `offset` of the configuration space (offset 0x100 of the registers is 0).
    mutating func configRead(_ offset: UInt64, at place: TracePlace) {
        if self.current == nil {
            self.current = Run(place: place, offsets: [])
            self.afterGeneration = self.lastWasGeneration
        }
        if self.current?.offsets.count ?? 0 < Self.maximumOffsets { self.current?.offsets.append(offset) }
        self.lastWasGeneration = false
    }

    /// A ConfigGeneration read: it ends the run going on, bracketed if one came before it too.
    mutating func generationRead() {
        self.close(bracketedAfter: true)
        self.lastWasGeneration = true
    }

    /// Any other access of the device (a register write, a status write, another read QEMU
    /// traces and vqscope keeps): it ends the run going on, unbracketed after.
    mutating func otherAccess() {
        self.close(bracketedAfter: false)
        self.lastWasGeneration = false
    }

    private mutating func close(bracketedAfter: Bool) {
        guard let run = self.current else { return }
        self.current = nil
        // A run of one read reads no field twice: nothing to bracket.
        guard run.offsets.count > 1, !(self.afterGeneration && bracketedAfter), self.unbracketed.count < Self.maximumRuns else {
            return
        }
        self.unbracketed.append(run)
    }
}
