import VirtioModel

/// Guest-physical memory backed by a dump: a set of non-overlapping regions, each a run of
/// guest-physical addresses stored at an offset of a mapped file.
///
/// Every read is bounds- and overflow-checked: an address outside the dump is an error the
/// caller can turn into a finding, never a trap.
public struct GuestMemoryMap: Sendable {
    public struct Region: Sendable, Equatable {
        public var guestAddress: UInt64
        public var length: UInt64
        public var fileOffset: UInt64

        public init(guestAddress: UInt64, length: UInt64, fileOffset: UInt64) {
            self.guestAddress = guestAddress
            self.length = length
            self.fileOffset = fileOffset
        }
    }

    public let file: MappedFile
    /// Regions sorted by guest address.
    public let regions: [Region]

    /// Builds a map over `file`; every region must lie inside the file.
    public init(file: MappedFile, regions: [Region]) throws(MemoryError) {
        for region in regions {
            let (end, overflow) = region.fileOffset.addingReportingOverflow(region.length)
            guard !overflow, end <= UInt64(file.bytes.count) else {
                throw .malformed(
                    path: file.path, offset: region.fileOffset,
                    reason: "a memory region of \(region.length) bytes runs past the end of the file")
            }
            guard region.guestAddress.addingReportingOverflow(region.length).overflow == false else {
                throw .addressOverflow(address: region.guestAddress, length: region.length)
            }
        }
        self.file = file
        self.regions = regions.filter { $0.length > 0 }.sorted { $0.guestAddress < $1.guestAddress }
    }

    /// The bytes at `[address, address + length)`, which must lie in one region.
    public func bytes(at address: UInt64, length: Int) throws(MemoryError) -> UnsafeRawBufferPointer {
        guard length >= 0 else { throw .unmapped(address: address, length: 0) }
        let count = UInt64(length)
        let (end, overflow) = address.addingReportingOverflow(count)
        guard !overflow else { throw .addressOverflow(address: address, length: count) }
        // The last region starting at or below `address`.
        var low = 0
        var high = self.regions.count
        while low < high {
            let middle = (low + high) / 2
            if self.regions[middle].guestAddress <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { throw .unmapped(address: address, length: count) }
        let region = self.regions[low - 1]
        let offsetInRegion = address - region.guestAddress
        guard end - region.guestAddress <= region.length else { throw .unmapped(address: address, length: count) }
        let start = Int(region.fileOffset + offsetInRegion)
        return UnsafeRawBufferPointer(rebasing: self.file.bytes[start..<(start + length)])
    }

    /// The little-endian integer at `address` (virtio's byte order, §1.4), read in place:
    /// nil where it is not wholly in the dump.
    ///
    /// Inlinable, so that each caller gets it specialized: the recorder's sampler reads words
    /// this way many times a scan, and the generic version costs a metadata lookup each time.
    @inlinable
    public func value<T: FixedWidthInteger>(_: T.Type, at address: UInt64) -> T? {
        guard let bytes = try? self.bytes(at: address, length: MemoryLayout<T>.size) else { return nil }
        return T(littleEndian: bytes.loadUnaligned(as: T.self))
    }

    /// A cursor over the bytes at `[address, address + length)`.
    public func cursor(at address: UInt64, length: Int) throws(MemoryError) -> ByteCursor {
        ByteCursor(Array(try self.bytes(at: address, length: length)))
    }

    /// Whether `[address, address + length)` lies wholly in the dump.
    public func contains(_ address: UInt64, length: UInt64) -> Bool {
        guard length <= UInt64(Int.max) else { return false }
        return (try? self.bytes(at: address, length: Int(length))) != nil
    }
}
