import VirtioModel

/// Every rule vqscope checks. Adding a rule: one file under `Rules/`, one line here, a page in
/// `docs/rules/`, and a violating and a clean test (a trace, or a memory layout for the rules
/// that read guest memory).
public enum RuleCatalog {
    static let statusRules: [any StatusRule.Type] = [
        InitSequence.self,
        InitSequenceMergedSteps.self,
        StatusNoClear.self,
        StatusFailedThenReset.self,
        DeviceNeedsReset.self,
        FeatureVersion1Accept.self,
        ConfigWriteDuringNegotiation.self,
    ]

    static let queueRules: [any QueueRule.Type] = [
        InitNoKickBeforeDriverOK.self,
        StatusNoUseBeforeDriverOK.self,
        MMIODeviceNoAccessUnready.self,
        ResetQuiesce.self,
        UsedIDOwned.self,
        NoDoubleComplete.self,
        UsedIndexWindow.self,
        AvailIndexWindow.self,
    ]

    /// ``queueRules`` grouped by the activity they check, built once; the model keeps a copy
    /// (two pointers), so that running them on every queue event takes neither reference
    /// counting nor a check that the table was built.
    nonisolated(unsafe) static let queueRuleTable = QueueRuleTable(Self.queueRules)

    static let registerRules: [any RegisterRule.Type] = [
        QueueNumWithinMax.self,
        QueueLockedWhileReady.self,
        NoFeatureAfterFeaturesOK.self,
        FeatureSelectFirst.self,
        InitRereadFeaturesOK.self,
        MMIOQueueStop.self,
    ]

    static let registerReadRules: [any RegisterReadRule.Type] = [
        FeatureSelectFirst.self,
        InitRereadFeaturesOK.self,
        MMIOQueueStop.self,
    ]

    /// The registers whose reads ``registerReadRules`` look at, by offset.
    static let readRegisters: [UInt64: MMIORegister] = Dictionary(
        registerReadRules.flatMap { $0.registers }.map { ($0.rawValue, $0) }, uniquingKeysWith: { first, _ in first })

    static let commonConfigRules: [any CommonConfigRule.Type] = [
        ReadOnlyFields.self,
        QueueSizeValue.self,
        EnableLast.self,
        NoFeatureAfterFeaturesOK.self,
        InitRereadFeaturesOK.self,
        ResetWaitZero.self,
        MSIXVectorReadBack.self,
    ]

    /// Rules on reads of a device's configuration space with their values (virtio-pci).
    static let configReadRules: [any ConfigReadRule.Type] = [
        ConfigFeatureGatedAccess.self,
        NetConfigValues.self,
        InputConfigWrites.self,
        InputConfigUnsupported.self,
    ]

    /// Rules on writes to a device's configuration space (virtio-pci and virtio-mmio).
    static let configWriteRules: [any ConfigWriteRule.Type] = [
        InputConfigWrites.self,
    ]

    static let deviceSummaryRules: [any DeviceSummaryRule.Type] = [
        NetFeatureDependencies.self,
        FeatureReservedBits.self,
        ConfigGenerationLoop.self,
        BlockWritebackTiming.self,
        ConsoleDeviceReady.self,
    ]

    static let summaryRules: [any SummaryRule.Type] = [
        EntropyWritableOnly.self,
        BlockFrame.self,
        NetTransmitReadableOnly.self,
        NetReceiveWritableOnly.self,
        ConsoleReceiveWritable.self,
        ConsoleTransmitReadable.self,
        InputEventQueueWritable.self,
        InFlightAtEnd.self,
        ConsoleMultiportQueues.self,
    ]

    /// Rules on a split queue's layout and rings in a dump (`vqscope inspect`).
    static let snapshotRules: [any SnapshotRule.Type] = [
        QueueSizePowerOfTwo.self,
        RingAlignment.self,
        RingsDoNotOverlap.self,
        RingsInGuestMemory.self,
        ChainsDisjoint.self,
        AvailFlagsValue.self,
        UsedFlagsValue.self,
    ]

    /// Rules on the requests in flight in a dump, split chains and packed lists alike.
    static let requestRules: [any SnapshotRule.Type] = [
        InOrderNext.self,
        EntropyWritableOnly.self,
        NetReceiveWritableOnly.self,
        NetTransmitReadableOnly.self,
        ConsoleReceiveWritable.self,
        ConsoleTransmitReadable.self,
        InputEventQueueWritable.self,
        InputStatusQueueBuffers.self,
        BlockFrame.self,
        BlockDataSectors.self,
        BlockCapacity.self,
        BlockTypeGated.self,
        BlockFlush.self,
        BlockFlushData.self,
        BlockGetIDLength.self,
        BlockSegments.self,
        NetHeaderInBuffers.self,
        NetReceiveBufferSize.self,
        NetReceiveBufferAdvised.self,
        NetTransmitFlags.self,
        NetTransmitGSOGated.self,
        NetTransmitGSOChecksum.self,
        NetTransmitChecksumRange.self,
        NetTransmitMTU.self,
        NetTransmitNumBuffers.self,
        NetControlGated.self,
        NetControlMacTable.self,
        UsedLengthBound.self,
        NetReceiveBufferCount.self,
        NetReceiveHeaderGated.self,
    ]

    /// Rules on packed queues in a dump (`vqscope inspect`).
    static let packedRules: [any PackedRule.Type] = [
        PackedQueueSize.self,
        PackedAlignment.self,
        PackedEventFlags.self,
        PackedBufferIDs.self,
    ]

    /// Rules only a recording's ring history can decide (`vqscope analyze RUN_DIR`).
    static let recordingRules: [RuleInfo] = [
        PackedUsedLength.info,
        PackedUsedWriteFlag.info,
        CleanupNoTouchExposed.info,
        PackedDriverNoRewrite.info,
        DriverMustNotify.info,
        DeviceMustNotify.info,
        PackedDriverNotify.info,
        PackedDeviceNotify.info,
        FeatureAcceptSubset.info,
        FeatureOfferDependencies.info,
        BlockWCENeedsFlush.info,
        AvailIndexNoDecrease.info,
    ]

    /// Rules on particular trace events (a device's own, a QueueNotify write and what follows
    /// it), checked where the model handles the event.
    static let deviceEventRules: [RuleInfo] = [
        BlockStatusValue.info,
        ConsolePortOpen.info,
        EntropyFillNonZero.info,
        NotifyNamesQueue.info,
        InterruptAckBits.info,
        DeviceResetPresentsZero.info,
        MMIOMagicVersion.info,
        MMIOInterruptStatusBits.info,
        MMIOProbeOrder.info,
        FeaturesOKReject.info,
        RenegotiateStable.info,
        FeatureVersion1Offer.info,
    ]

    /// All rules, each once, in catalogue order.
    public static let all: [RuleInfo] = {
        let declared: [RuleInfo] =
            statusRules.map { $0.info } + queueRules.map { $0.info } + registerRules.map { $0.info }
            + commonConfigRules.map { $0.info } + configReadRules.map { $0.info } + configWriteRules.map { $0.info }
            + summaryRules.map { $0.info } + deviceSummaryRules.map { $0.info } + snapshotRules.map { $0.info } + requestRules.map { $0.info }
            + packedRules.map { $0.info } + OwnedChains.infos + PackedLists.infos + recordingRules + deviceEventRules
            + QEMUReported.infos
            + InputRules.infos + [DumpTraceMismatch.info, RecordTraceMismatch.info, NetFrames.skipped]
        var seen = Set<String>()
        return declared.filter { seen.insert($0.id).inserted }
    }()

    public static func rule(id: String) -> RuleInfo? { Self.all.first { $0.id == id } }
}

/// Queue rules by the activity they check, in storage that lives as long as the process
/// (metatypes are plain values).
struct QueueRuleTable {
    private let rules: UnsafeBufferPointer<any QueueRule.Type>
    private let ranges: UnsafeBufferPointer<Range<Int>>

    init(_ all: [any QueueRule.Type]) {
        let groups = QueueActivity.Kind.allCases.map { kind in all.filter { $0.activities.contains(kind) } }
        let rules = UnsafeMutableBufferPointer<any QueueRule.Type>.allocate(capacity: groups.joined().count)
        _ = rules.initialize(from: groups.joined())
        let ranges = UnsafeMutableBufferPointer<Range<Int>>.allocate(capacity: groups.count)
        var start = 0
        for (index, group) in groups.enumerated() {
            ranges[index] = start..<(start + group.count)
            start += group.count
        }
        self.rules = UnsafeBufferPointer(rules)
        self.ranges = UnsafeBufferPointer(ranges)
    }

    /// The rules that check activities of `kind`, read in place.
    @inline(__always)
    func rules(checking kind: QueueActivity.Kind) -> UnsafeBufferPointer<any QueueRule.Type> {
        UnsafeBufferPointer(rebasing: self.rules[self.ranges[kind.rawValue]])
    }
}
