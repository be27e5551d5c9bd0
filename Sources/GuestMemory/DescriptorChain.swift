import VirtioModel

/// Something wrong with a descriptor chain, found while walking it.
///
/// Spec: virtio v1.2 §2.7.4.2 (order), §2.7.5 (next in range), §2.7.5.2 (no loops),
/// §2.7.5.3 and §2.7.5.3.1 (indirect descriptors).
public enum ChainDefect: Sendable, Equatable {
    /// An available ring entry names no descriptor of the table.
    case headOutOfRange(head: UInt16, queueSize: UInt16)
    /// A descriptor's `next` lies outside its table (`limit` entries).
    case nextOutOfRange(descriptor: UInt16, next: UInt16, limit: Int, indirect: Bool)
    /// The chain comes back to a descriptor it already visited.
    case loop(descriptor: UInt16, indirect: Bool)
    /// `count` descriptors, more than `limit`: the queue size (or the walk's own bound,
    /// `maximumDescriptors`, where the walk stopped).
    case tooLong(count: Int, limit: Int)
    /// A device-readable descriptor follows a device-writable one.
    case readableAfterWritable(position: Int)
    /// A descriptor carries both INDIRECT and NEXT.
    case indirectWithNext(descriptor: UInt16)
    /// An indirect table holds an INDIRECT descriptor.
    case nestedIndirect(descriptor: UInt16)
    /// An indirect descriptor's length is 0 or not a multiple of 16.
    case indirectLength(length: UInt32)
    /// INDIRECT used without VIRTIO_F_INDIRECT_DESC.
    case indirectNotNegotiated(descriptor: UInt16)
    /// Packed ring: a descriptor that continues a list (the previous one has NEXT) is not
    /// marked available in the list's lap (§2.8.1, §2.8.21.1).
    case notAvailable(slot: UInt16)
    /// Packed ring: an indirect table entry carries a flag other than WRITE (§2.8.19).
    case indirectEntryFlags(entry: UInt16, flags: UInt16)
    /// A buffer, descriptor or table lies (partly) outside the dump (for a dump of all guest
    /// RAM: outside guest memory).
    case unmapped(address: UInt64, length: UInt64)
}

/// One descriptor chain, walked from its head with every bound checked: a split ring's chain
/// (§2.7.5) or a packed ring's descriptor list (§2.8.17, see ``PackedQueueSnapshot``).
public struct DescriptorChain: Sendable {
    public struct Element: Sendable, Equatable {
        /// The descriptor's index in its table (a packed ring: its ring slot, or its entry in
        /// an indirect table).
        public var index: UInt16
        /// A packed descriptor is given as the split one it stands for: the same address,
        /// length and NEXT/WRITE/INDIRECT bits (§2.8.13 keeps their values), `next` the
        /// following slot.
        public var descriptor: SplitDescriptor
        /// The descriptor sits in an indirect table.
        public var indirect: Bool
    }

    /// The head's index in the descriptor table; for a packed list, its first ring slot.
    public let head: UInt16
    /// A packed list's Buffer ID, as its last descriptor carries it (§2.8.13); nil for a
    /// split chain, which is named by its head.
    public internal(set) var bufferID: UInt16?
    /// The data descriptors in order (the descriptor pointing at an indirect table is not one).
    public internal(set) var elements: [Element] = []
    /// The entries of the queue's descriptor table the walk visited, in order: the direct
    /// data descriptors and the one pointing at an indirect table, not the table's entries.
    public internal(set) var tableIndices: [UInt16] = []
    public internal(set) var defects: [ChainDefect] = []
    public private(set) var readableBytes: UInt64 = 0
    public private(set) var writableBytes: UInt64 = 0
    private var sawWritable = false
    private var reportedOrder = false

    /// The most descriptors one walk visits, whatever lengths a dump claims: bounds the time
    /// a hostile indirect table can cost.
    public static let maximumDescriptors = 65_536

    /// Walks the chain starting at `head` of the descriptor table at `table` with `queueSize`
    /// entries. `indirectNegotiated` is nil when the features are unknown.
    public init(
        head: UInt16, table: UInt64, queueSize: UInt16, memory: GuestMemoryMap, indirectNegotiated: Bool?
    ) {
        self.head = head
        guard head < queueSize else {
            self.defects.append(.headOutOfRange(head: head, queueSize: queueSize))
            return
        }
        self.walk(
            from: head, table: table, limit: Int(queueSize), indirect: false, memory: memory,
            indirectNegotiated: indirectNegotiated)
        // Indirect tables count too: "A driver MUST NOT create a descriptor chain longer than
        // the Queue Size of the device" (§2.7.5.3.1).
        let stopped = self.defects.contains { if case .tooLong = $0 { return true } else { return false } }
        if self.elements.count > Int(queueSize), !stopped {
            self.defects.append(.tooLong(count: self.elements.count, limit: Int(queueSize)))
        }
    }

    private mutating func walk(
        from first: UInt16, table: UInt64, limit: Int, indirect: Bool, memory: GuestMemoryMap, indirectNegotiated: Bool?
    ) {
        var visited = [Bool](repeating: false, count: min(limit, Self.maximumDescriptors))
        var index = first
        while true {
            guard Int(index) < visited.count else {
                self.defects.append(.tooLong(count: self.elements.count, limit: Self.maximumDescriptors))
                return
            }
            if visited[Int(index)] {
                self.defects.append(.loop(descriptor: index, indirect: indirect))
                return
            }
            visited[Int(index)] = true
            if !indirect { self.tableIndices.append(index) }
            guard let descriptor = Self.read(index, table: table, memory: memory) else {
                self.defects.append(.unmapped(address: table &+ UInt64(index) &* 16, length: 16))
                return
            }
            if descriptor.flags.contains(.indirect) {
                if indirect {
                    self.defects.append(.nestedIndirect(descriptor: index))
                    return
                }
                guard
                    self.checkIndirect(
                        address: descriptor.address, length: descriptor.length, hasNext: descriptor.flags.contains(.next),
                        at: index, memory: memory, indirectNegotiated: indirectNegotiated)
                else { return }
                // The WRITE flag of the descriptor pointing at the table is ignored (§2.7.5.3.2).
                self.walk(
                    from: 0, table: descriptor.address, limit: Int(descriptor.length / 16), indirect: true,
                    memory: memory, indirectNegotiated: indirectNegotiated)
                return
            }
            self.appendBuffer(Element(index: index, descriptor: descriptor, indirect: indirect), memory: memory)
            guard descriptor.flags.contains(.next) else { return }
            guard Int(descriptor.next) < limit else {
                self.defects.append(
                    .nextOutOfRange(descriptor: index, next: descriptor.next, limit: limit, indirect: indirect))
                return
            }
            guard self.elements.count < Self.maximumDescriptors else {
                self.defects.append(.tooLong(count: self.elements.count, limit: Self.maximumDescriptors))
                return
            }
            index = descriptor.next
        }
    }

    /// Up to `count` bytes from the start of the chain's device-readable or device-writable
    /// part (a request header, a frame), gathered across descriptors; fewer when the part is
    /// shorter, nil when they are not in the dump.
    public func bytes(writable: Bool, count: Int, memory: GuestMemoryMap) -> [UInt8]? {
        var out: [UInt8] = []
        for element in self.elements where element.descriptor.flags.contains(.write) == writable {
            guard out.count < count else { break }
            // A zero-length descriptor carries nothing; the data may follow it.
            let take = min(count - out.count, Int(element.descriptor.length))
            guard take > 0 else { continue }
            guard let part = try? memory.bytes(at: element.descriptor.address, length: take) else { return nil }
            out += part
        }
        return out
    }

    /// Appends a data descriptor, with a defect when its buffer is not wholly in the dump.
    mutating func appendBuffer(_ element: Element, memory: GuestMemoryMap) {
        self.append(element)
        let descriptor = element.descriptor
        if descriptor.length > 0, !memory.contains(descriptor.address, length: UInt64(descriptor.length)) {
            self.defects.append(.unmapped(address: descriptor.address, length: UInt64(descriptor.length)))
        }
    }

    /// Checks a descriptor that points at an indirect table (§2.7.5.3.1, §2.8.19): INDIRECT
    /// negotiated, no NEXT beside it, a length of whole entries, the table in the dump. Records
    /// the defects; true when the table can be read.
    mutating func checkIndirect(
        address: UInt64, length: UInt32, hasNext: Bool, at index: UInt16, memory: GuestMemoryMap, indirectNegotiated: Bool?
    ) -> Bool {
        if indirectNegotiated == false { self.defects.append(.indirectNotNegotiated(descriptor: index)) }
        if hasNext { self.defects.append(.indirectWithNext(descriptor: index)) }
        guard length > 0, length % 16 == 0 else {
            self.defects.append(.indirectLength(length: length))
            return false
        }
        guard memory.contains(address, length: UInt64(length)) else {
            self.defects.append(.unmapped(address: address, length: UInt64(length)))
            return false
        }
        return true
    }

    private mutating func append(_ element: Element) {
        let writable = element.descriptor.flags.contains(.write)
        if writable {
            self.writableBytes &+= UInt64(element.descriptor.length)
            self.sawWritable = true
        } else {
            self.readableBytes &+= UInt64(element.descriptor.length)
            if self.sawWritable, !self.reportedOrder {
                self.defects.append(.readableAfterWritable(position: self.elements.count))
                self.reportedOrder = true
            }
        }
        self.elements.append(element)
    }

    private static func read(_ index: UInt16, table: UInt64, memory: GuestMemoryMap) -> SplitDescriptor? {
        let (offset, overflow) = table.addingReportingOverflow(UInt64(index) * 16)
        guard !overflow, var cursor = try? memory.cursor(at: offset, length: SplitDescriptor.size) else { return nil }
        return try? SplitDescriptor(parsing: &cursor)
    }
}
