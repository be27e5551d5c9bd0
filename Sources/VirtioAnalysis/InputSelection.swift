import VirtioModel

/// An input device's configuration selection as its driver wrote it (§5.8.4, §5.8.5): the
/// `select` and `subsel` the device holds, and which of the two the driver wrote since it
/// last read the selected data (a write after such a read starts the next selection).
public struct InputSelection: Sendable, Equatable {
    /// The values last written since the device's reset; nil until written.
    public var select: UInt8?
    public var subsel: UInt8?
    /// The fields written in the selection going on.
    public var wroteSelect = false
    public var wroteSubsel = false
    /// The driver read `size` or the data since its last write to either field.
    public var consulted = false

    public init() {}

    /// The selection going on names one of the two fields and not the other.
    public var isHalf: Bool { self.wroteSelect != self.wroteSubsel }

    /// A write covering `bytes`; `value`'s low byte is the first byte's.
    mutating func write(_ write: ConfigSpaceWrite) {
        let bytes = write.bytes
        guard bytes.lowerBound <= InputConfigSelect.subselOffset else { return }
        if self.consulted { (self.wroteSelect, self.wroteSubsel, self.consulted) = (false, false, false) }
        for offset in [InputConfigSelect.selectOffset, InputConfigSelect.subselOffset] where bytes.contains(offset) {
            // At most 7 bytes in: the shift stays within the 64-bit value.
            let byte = UInt8(truncatingIfNeeded: write.value >> ((offset - bytes.lowerBound) * 8))
            if offset == InputConfigSelect.selectOffset {
                (self.select, self.wroteSelect) = (byte, true)
            } else {
                (self.subsel, self.wroteSubsel) = (byte, true)
            }
        }
    }

    /// A read reaching `size` or past it: the selected data is consulted.
    mutating func read(_ read: ConfigSpaceRead) {
        if Self.reachesSize(read) { self.consulted = true }
    }

    /// The read covers `size` or bytes past it (a read of `select` or `subsel` alone does not).
    static func reachesSize(_ read: ConfigSpaceRead) -> Bool {
        let (last, overflow) = read.offset.addingReportingOverflow(max(read.size ?? 1, 1) - 1)
        return overflow || last >= InputConfigSelect.sizeOffset
    }
}
