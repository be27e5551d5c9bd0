import TraceSources

/// The model's slots for host pointers (devices by `vdev`, queues by `vq`): a dictionary, in
/// front of which a small direct-mapped table answers for the few pointers a trace names over
/// and over, without hashing them (events alternate between a device's queues, so one
/// remembered pointer is not enough).
struct PointerSlots {
    private var table: [HostPointer: Int] = [:]
    /// The pointer looked up last: consecutive events mostly name the same one.
    private var last: (pointer: HostPointer, slot: Int) = (0, -1)
    /// Recently looked-up pointers by a few of their bits; a slot of -1 is empty.
    private var recent = [(pointer: HostPointer, slot: Int)](repeating: (0, -1), count: PointerSlots.lines)
    private static let lines = 16

    /// QEMU's objects are 16-byte aligned and a device's queues lie an array element apart.
    private static func line(of pointer: HostPointer) -> Int {
        Int(truncatingIfNeeded: (pointer >> 4) ^ (pointer >> 9)) & (Self.lines - 1)
    }

    var count: Int { self.table.count }

    @inline(__always) mutating func slot(of pointer: HostPointer) -> Int? {
        if self.last.slot >= 0, self.last.pointer == pointer { return self.last.slot }
        return self.lookUp(pointer)
    }

    @inline(never) private mutating func lookUp(_ pointer: HostPointer) -> Int? {
        let line = Self.line(of: pointer)
        var found = self.recent[line]
        if found.slot < 0 || found.pointer != pointer {
            guard let slot = self.table[pointer] else { return nil }
            found = (pointer, slot)
            self.recent[line] = found
        }
        self.last = found
        return found.slot
    }

    mutating func insert(_ pointer: HostPointer, slot: Int) {
        self.table[pointer] = slot
        self.recent[Self.line(of: pointer)] = (pointer, slot)
        self.last = (pointer, slot)
    }
}

/// A device's queue slots by queue index: an array for the indices drivers use, a dictionary
/// for the rest (a hostile trace may name any 32-bit index).
struct QueueIndexSlots {
    private var small: [Int] = []
    private var large: [Int: Int] = [:]
    private static let smallIndices = 256

    subscript(index: Int) -> Int? {
        get {
            guard index >= 0, index < Self.smallIndices else { return self.large[index] }
            return index < self.small.count && self.small[index] >= 0 ? self.small[index] : nil
        }
        set {
            guard index >= 0, index < Self.smallIndices else { return self.large[index] = newValue }
            if index >= self.small.count {
                guard newValue != nil else { return }
                self.small.append(contentsOf: repeatElement(-1, count: index + 1 - self.small.count))
            }
            self.small[index] = newValue ?? -1
        }
    }

    /// Every queue slot of the device.
    var slots: [Int] { self.small.filter { $0 >= 0 } + self.large.values }
}
