import TraceSources

/// Rules whose only evidence in a trace is a message QEMU printed (`virtio_error`, or a
/// `-d guest_errors` line). QEMU checks these conditions on the descriptors themselves,
/// which the trace events do not carry; see `docs/trace-formats.md`.
enum QEMUReported {
    static let headInRange = RuleInfo(
        id: "SPLIT-HEAD-IN-RANGE", severity: .error, section: "2.7.6", section11: "2.6.6",
        summary: "every available ring entry is below the queue size",
        party: .driver, evidence: "QEMU: \"Guest says index %u is available\"")
    static let nextInRange = RuleInfo(
        id: "SPLIT-NEXT-IN-RANGE", severity: .error, section: "2.7.5", section11: "2.6.5",
        summary: "a descriptor's next field is below the queue size (or the indirect table length)",
        party: .driver, evidence: "QEMU: \"Desc next is %u\"")
    static let chainNoLoop = RuleInfo(
        id: "SPLIT-CHAIN-NO-LOOP", severity: .error, section: "2.7.5.2", section11: "2.6.5.2",
        summary: "descriptor chains do not loop",
        party: .driver, evidence: "QEMU: \"Looped descriptor\"")
    static let indirectLength = RuleInfo(
        id: "SPLIT-INDIRECT-LEN", severity: .error, section: "2.7.5.3", section11: "2.6.5.3",
        summary: "an indirect descriptor's length is a non-zero multiple of 16",
        party: .driver, evidence: "QEMU: \"Invalid size for indirect buffer table\"")
    static let ringSizes = RuleInfo(
        id: "SPLIT-SIZES", severity: .error, section: "2.7", section11: "2.6",
        summary: "the descriptor table, available ring and used ring lie in guest memory",
        party: .driver, evidence: "QEMU: \"Cannot map descriptor ring\", \"Failed to map … ring\"")
    static let readWriteOrder = RuleInfo(
        id: "SPLIT-CHAIN-RW-ORDER", severity: .error, section: "2.7.4.2", section11: "2.6.4.2",
        summary: "device-writable descriptors come after all device-readable ones",
        party: .driver, evidence: "QEMU: \"Incorrect order for descriptors\"")
    static let chainExcessive = RuleInfo(
        id: "SPLIT-CHAIN-EXCESSIVE", severity: .warning, section: "2.7.4.2", section11: "2.6.4.2",
        summary: "chains do not use an excessive number of descriptors",
        party: .driver, evidence: "QEMU: \"too many write descriptors in indirect table\"")
    static let guestPhysicalAddress = RuleInfo(
        id: "FEAT-ACCESS_PLATFORM-ADDR", severity: .error, section: "6.1",
        summary: "without ACCESS_PLATFORM, buffers are guest-physical addresses in guest memory",
        party: .driver, evidence: "QEMU: \"bogus descriptor or out of resources\", \"Cannot map indirect buffer\"")
    static let indirectGated = RuleInfo(
        id: "FEAT-INDIRECT-GATED", severity: .error, section: "2.7.5.3.1", section11: "2.6.5.3.1",
        summary: "VIRTQ_DESC_F_INDIRECT is used only when VIRTIO_F_INDIRECT_DESC was negotiated",
        party: .driver, evidence: "QEMU 10.x: \"indirect_desc was not negotiated\"")
    static let netHeader = RuleInfo(
        id: "NET-HDR-SIZE", severity: .error, section: "5.1.6", 
        summary: "every net buffer starts with a virtio_net_hdr of the negotiated size",
        party: .driver, evidence: "QEMU: \"virtio-net header not in first element\", \"header incorrect\", …")
    static let netReceiveBufferSize = RuleInfo(
        id: "NET-RX-BUF-MIN", severity: .error, section: "5.1.6.3.1",
        summary: "receive buffers are large enough for a packet (1526 bytes, or the header with MRG_RXBUF)",
        party: .driver, evidence: "QEMU: \"virtio-net unexpected long buffer chain\" (a packet needed too many buffers)")
    static let netControlFrame = RuleInfo(
        id: "NET-CTRL-FRAME", severity: .error, section: "5.1.6.5",
        summary: "a control command is class, command, data (readable) and an ack byte (writable)",
        party: .driver, evidence: "QEMU: \"virtio-net ctrl missing headers\"")
    static let mmioWidth = RuleInfo(
        id: "MMIO-WIDTH", severity: .error, section: "4.2.2.2",
        summary: "control registers are accessed with aligned 32-bit accesses",
        party: .driver, evidence: "QEMU guest error: \"wrong size access to register!\"")
    static let mmioDirection = RuleInfo(
        id: "MMIO-DIRECTION", severity: .error, section: "4.2.2.2",
        summary: "no writes to read-only registers, reads of write-only ones, or accesses outside the layout",
        party: .driver, evidence: "QEMU guest error: \"write to read-only register\", \"bad register offset\", …")
    static let mmioLegacyRegisters = RuleInfo(
        id: "MMIO-LEGACY-REGS", severity: .error, section: "4.2.4",
        summary: "legacy-only registers are used only on Version 1 devices, Version 2 ones only on modern",
        party: .driver, evidence: "QEMU guest error: \"… register … in legacy mode\", \"queue_enable is only supported …\"")
    static let zeroSizedBuffer = RuleInfo(
        id: "QEMU-ZERO-SIZED-BUFFER", severity: .warning, section: "2.7.5", section11: "2.6.5",
        summary: "QEMU refuses zero-length descriptors (its policy; the spec allows them)",
        party: .qemuPolicy, evidence: "QEMU: \"virtio: zero sized buffers are not allowed\"")
    static let legacyFeatureSelect = RuleInfo(
        id: "QEMU-LEGACY-FEATURES-SEL", severity: .note, section: "4.2.4",
        summary: "QEMU ignores DriverFeatures writes with DriverFeaturesSel > 0 on legacy virtio-mmio",
        party: .qemuPolicy, evidence: "QEMU guest error: \"attempt to write guest features with guest_features_sel > 0 in legacy mode\"")
    static let regionCaches = RuleInfo(
        id: "QEMU-REGION-CACHES", severity: .error, section: "3.1.1",
        summary: "a queue is used before its rings are set up",
        party: .driver, evidence: "QEMU: \"Region caches not initialized\"")

    /// The rule each QEMU message is evidence for.
    static func rule(for message: QEMUMessage) -> RuleInfo {
        switch message {
        case .availIndexMoved, .queueSizeExceeded: return AvailIndexWindow.info
        case .headOutOfRange: return Self.headInRange
        case .nextOutOfRange: return Self.nextInRange
        case .loopedDescriptor: return Self.chainNoLoop
        case .indirectSize: return Self.indirectLength
        case .ringUnmappable, .mapDescFailed, .mapUsedFailed, .mapAvailFailed, .mapDescriptorRingFailed,
            .mapUsedRingFailed, .mapAvailRingFailed:
            return Self.ringSizes
        case .regionCachesMissing: return Self.regionCaches
        case .descriptorOrder: return Self.readWriteOrder
        case .zeroSizedBuffer: return Self.zeroSizedBuffer
        case .tooManyWriteDescriptors: return Self.chainExcessive
        case .netLongChain: return Self.netReceiveBufferSize
        case .bogusDescriptor, .indirectUnmappable: return Self.guestPhysicalAddress
        case .indirectNotNegotiated: return Self.indirectGated
        case .netHeaderNotFirst, .netHeaderIncorrect, .netHeaderInvalid, .netEmptyQueue, .netNothingToSend:
            return Self.netHeader
        case .netNoInBuffers: return NetReceiveWritableOnly.info
        case .netCtrlMissingHeaders: return Self.netControlFrame
        case .blkMissingHeaders, .blkOutHeaderShort, .blkInHeaderShort, .blkDiscardHeaderShort: return BlockFrame.info
        case .mmioWrongSize: return Self.mmioWidth
        case .mmioWriteOnlyRead, .mmioReadOnlyWrite, .mmioBadOffset: return Self.mmioDirection
        case .mmioLegacyRegister, .mmioModernRegister, .queueEnableLegacy, .alignmentChange:
            return Self.mmioLegacyRegisters
        case .mmioFeatureSelect: return Self.legacyFeatureSelect
        case .queueEnableValue: return EnableLast.info
        }
    }

    /// Every rule a QEMU message can raise, once each, that no other rule file declares.
    static let infos: [RuleInfo] = [
        headInRange, nextInRange, chainNoLoop, indirectLength, ringSizes, readWriteOrder, chainExcessive,
        guestPhysicalAddress, indirectGated, netHeader, netReceiveBufferSize, netControlFrame, mmioWidth, mmioDirection,
        mmioLegacyRegisters, zeroSizedBuffer, legacyFeatureSelect, regionCaches,
    ]
}
