/// A problem QEMU reported in words rather than as a trace event: `virtio_error()` messages
/// (printed with `error_report`), and `-d guest_errors` register misuse messages.
///
/// The analysis maps each kind to a rule; see `docs/trace-formats.md` §"QEMU's messages".
public enum QEMUMessage: String, Sendable, CaseIterable {
    case availIndexMoved = "Guest moved used index from"
    case headOutOfRange = "Guest says index"
    case nextOutOfRange = "Desc next is"
    case loopedDescriptor = "Looped descriptor"
    case indirectSize = "Invalid size for indirect buffer table"
    case indirectUnmappable = "Cannot map indirect buffer"
    case ringUnmappable = "Cannot map descriptor ring"
    case regionCachesMissing = "Region caches not initialized"
    case descriptorOrder = "Incorrect order for descriptors"
    case queueSizeExceeded = "Virtqueue size exceeded"
    case zeroSizedBuffer = "zero sized buffers are not allowed"
    case tooManyWriteDescriptors = "too many write descriptors in indirect table"
    case bogusDescriptor = "bogus descriptor or out of resources"
    case indirectNotNegotiated = "indirect_desc was not negotiated"
    case mapDescFailed = "Cannot map desc"
    case mapUsedFailed = "Cannot map used"
    case mapAvailFailed = "Cannot map avail"
    case mapDescriptorRingFailed = "Failed to map descriptor ring"
    case mapUsedRingFailed = "Failed to map used ring"
    case mapAvailRingFailed = "Failed to map avalaible ring"
    case netCtrlMissingHeaders = "virtio-net ctrl missing headers"
    case netLongChain = "virtio-net unexpected long buffer chain"
    case netEmptyQueue = "virtio-net unexpected empty queue"
    case netNoInBuffers = "virtio-net receive queue contains no in buffers"
    case netHeaderNotFirst = "virtio-net header not in first element"
    case netHeaderIncorrect = "virtio-net header incorrect"
    case netHeaderInvalid = "virtio-net header is invalid"
    case netNothingToSend = "virtio-net nothing to send"
    case blkMissingHeaders = "virtio-blk missing headers"
    case blkOutHeaderShort = "virtio-blk request outhdr too short"
    case blkInHeaderShort = "virtio-blk request inhdr too short"
    case blkDiscardHeaderShort = "discard/write_zeroes header too short"
    case mmioWrongSize = "wrong size access to register"
    case mmioLegacyRegister = "in non-legacy mode"
    case mmioModernRegister = "in legacy mode"
    case mmioWriteOnlyRead = "read of write-only register"
    case mmioReadOnlyWrite = "write to read-only register"
    case mmioBadOffset = "bad register offset"
    case mmioFeatureSelect = "guest_features_sel > 0 in legacy mode"
    case queueEnableLegacy = "queue_enable is only supported in devices of virtio 1.0"
    case queueEnableValue = "wrong value for queue_enable"
    case alignmentChange = "tried to modify queue alignment for virtio-1 device"

    /// The text QEMU prints; matched anywhere in a line that is not a trace event.
    public var pattern: String { self.rawValue }

    /// Finds the message a line carries, if any. The most specific patterns are tried first.
    static func match(_ line: UnsafeBufferPointer<UInt8>) -> QEMUMessage? {
        for candidate in Self.matchOrder where Bytes.contains(line, candidate.bytes) { return candidate.message }
        return nil
    }

    private static let matchOrder: [(message: QEMUMessage, bytes: [UInt8])] = {
        // Some patterns contain others ("in legacy mode" ⊂ "in non-legacy mode",
        // "Cannot map desc" ⊂ "Cannot map descriptor ring"), so the longest is tried first.
        let ordered = QEMUMessage.allCases.sorted { $0.rawValue.utf8.count > $1.rawValue.utf8.count }
        return ordered.map { ($0, Array($0.rawValue.utf8)) }
    }()
}
