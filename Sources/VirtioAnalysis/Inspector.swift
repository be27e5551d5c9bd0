import GuestMemory
import VirtioModel

/// One split queue to inspect, and what is known about its device.
public struct QueueTarget: Sendable {
    public var addresses: QueueAddresses
    /// The device's label (from QMP), or nil for a queue given on the command line.
    public var device: String?
    /// The queue's index in its device (QMP), or its position on the command line.
    public var queue: Int
    public var options: Inspector.Options
    /// QEMU's count of requests it holds (QMP's `inuse`), when known.
    public var qemuInUse: Int?
    /// The next place the device reads (QMP's `last-avail-idx`), when known: for a packed
    /// queue the ring slot from which the lists not yet read are walked.
    public var lastAvailIndex: UInt16?

    public init(
        addresses: QueueAddresses, device: String? = nil, queue: Int, options: Inspector.Options, qemuInUse: Int? = nil,
        lastAvailIndex: UInt16? = nil
    ) {
        self.addresses = addresses
        self.device = device
        self.queue = queue
        self.options = options
        self.qemuInUse = qemuInUse
        self.lastAvailIndex = lastAvailIndex
    }
}

/// What a dump showed for one queue.
public struct QueueInspection: Sendable {
    /// The device's label, when known (QMP, a trace).
    public var device: String?
    /// The device's type, when known.
    public var deviceType: DeviceType?
    /// The queue's index in its device (QMP), or its position on the command line, from 0.
    public var queue: Int
    public var addresses: QueueAddresses
    public var availIndex: UInt16?
    public var usedIndex: UInt16?
    public var availFlags: UInt16?
    public var usedFlags: UInt16?
    /// Chains made available and not yet used (`avail.idx − used.idx`).
    public var outstanding: Int?
    /// The outstanding chains, walked (a packed queue: the lists available and not yet read).
    public var chains: [DescriptorChain]
    /// What each owned chain asks for (`blk READ sector 8 len 4096`), in `chains` order; nil
    /// where the device type is unknown or the chain is defective.
    public var requests: [String?] = []
    /// `used_event` (the available ring's last field) and `avail_event` (the used ring's),
    /// with EVENT_IDX.
    public var usedEvent: UInt16?
    public var availEvent: UInt16?
    /// The used elements before used.idx, newest last (at most 16), with their slots: what a
    /// trace's last fills are compared with (`analyze --dump`).
    public var recentUsed: [(slot: Int, element: UsedElement)] = []
    /// Owned heads not walked because the walk budget ran out (see ``Inspector/Limits``).
    public var unwalkedHeads = 0
    /// QEMU's count of requests it holds (QMP's `inuse`), when the queue came from QMP.
    public var qemuInUse: Int?
    /// Used ring slots holding elements the device wrote: completed chains.
    public var completedInRing = 0
    /// The completed chains whose descriptors and buffers no newer chain has taken, oldest
    /// first (see ``CompletedChains``): judged by the rules on completions.
    public var completed: [CompletedChain] = []
    /// Completed chains not judged: their head was used again later, or a newer chain has
    /// taken one of their descriptors or buffers, or the walk budget ran out.
    public var undecidedCompletions = 0
    /// For a packed queue: its decoded ring (split queues leave this nil).
    public var packed: PackedQueueSnapshot?
    /// The queue is a packed one (whether or not its ring was in the dump).
    public var isPacked = false
    /// Where the device reads next (QMP's `last-avail-idx`), when known.
    public var lastAvailIndex: UInt16?
    /// A block device's capacity in 512-byte sectors, when known.
    public var blockCapacity: UInt64?
    /// The negotiated features, when known.
    public var features: FeatureBits?
    /// The queue's role in its device (receive, transmit, …), when known.
    public var role: QueueRole = .unknown
    /// Every completion since the ring was set up is still in the used ring (split queues).
    public var allCompletionsInRing = false
}

/// The result of inspecting queues in a guest memory dump.
public struct InspectionReport: Sendable {
    public var dump: String
    public var regions: [GuestMemoryMap.Region]
    public var queues: [QueueInspection]
    /// Queues past ``Inspector/Limits/queues``, not inspected.
    public var skippedQueues: Int
    public var findings: [Finding]
    public var findingCounts: [String: Int]
    public var totalFindings: Int
    public var omittedFindings: Int
    /// Findings a baseline (`--baseline`) accepted and took out of the report.
    public var suppressedByBaseline = 0

    public var highestSeverity: Severity? { self.findings.map(\.severity).max() }
}

/// Reads split virtqueues from guest memory and checks what a single snapshot can decide:
/// the layout, the index window, the used ids, and every chain the device owns.
///
/// Spec: virtio v1.2 §2.7 (split virtqueues). A snapshot cannot tell a stale table of a
/// completed request from a live one, so only chains between `used.idx` and `avail.idx` are
/// walked.
public enum Inspector {
    public struct Options: Sendable {
        /// VIRTIO_F_EVENT_IDX was negotiated (the rings carry used_event / avail_event).
        public var eventIndex = false
        /// VIRTIO_F_INDIRECT_DESC was negotiated; nil when unknown.
        public var indirectNegotiated: Bool?
        /// The device's type, when known: enables the checks of request contents.
        public var deviceType: DeviceType?
        /// All negotiated features, when known (QMP, a trace): enables the feature-dependent
        /// checks of request contents.
        public var features: FeatureBits?
        /// The net control queue's index, when known.
        public var netControlQueue: Int?
        /// VIRTIO_F_RING_PACKED was negotiated: the queue is a packed one (§2.8).
        public var packed = false
        /// A block device's capacity in 512-byte sectors (its configuration's `capacity`,
        /// §5.2.4), when known: QMP `query-block`, or `--capacity`.
        public var blockCapacity: UInt64?
        /// A network device's `mtu` (§5.1.4), when known: `--mtu`.
        public var netMTU: UInt16?

        public init(
            eventIndex: Bool = false, indirectNegotiated: Bool? = nil, deviceType: DeviceType? = nil,
            features: FeatureBits? = nil, netControlQueue: Int? = nil
        ) {
            self.eventIndex = eventIndex
            self.indirectNegotiated = indirectNegotiated
            self.deviceType = deviceType
            self.features = features
            self.netControlQueue = netControlQueue
        }

        /// What a device's negotiated features say, `fallback` where they are unknown.
        public init(
            features: FeatureBits?, deviceType: DeviceType?, queueIndices: [Int], fallback: Options = Options()
        ) {
            self.eventIndex = features.map { $0.contains(.eventIndex) } ?? fallback.eventIndex
            self.indirectNegotiated = features.map { $0.contains(.indirectDescriptors) } ?? fallback.indirectNegotiated
            self.deviceType = deviceType ?? fallback.deviceType
            self.features = features ?? fallback.features
            self.packed = features.map { $0.contains(.ringPacked) } ?? fallback.packed
            self.blockCapacity = fallback.blockCapacity
            self.netMTU = fallback.netMTU
            // The control queue is queue 2N, the last one (§5.1.2), when CTRL_VQ was negotiated.
            if self.deviceType == .network, let features = self.features, features.contains(.netControlQueue) {
                self.netControlQueue = queueIndices.max()
            } else {
                self.netControlQueue = fallback.netControlQueue
            }
        }
    }

    /// Bounds on what one inspection walks and keeps, whatever a hostile dump claims: each
    /// walked descriptor is kept for the report, so time and memory stay proportional to these.
    public enum Limits {
        /// Descriptors walked per queue; the heads left over are counted, not walked.
        public static let descriptorsPerQueue = 262_144
        /// Descriptors walked in one inspection.
        public static let descriptorsTotal = 1_048_576
        /// Queues inspected; more are counted in the report's `skippedQueues`.
        public static let queues = 8_192
    }

    /// How many used ring slots hold elements the device wrote: `used.idx` of them while the
    /// ring has not wrapped, all of them once it has. A ring starts zeroed (drivers allocate it
    /// so), so a non-zero slot at or past `used.idx` means the index has wrapped past 65535.
    static func writtenUsedSlots(_ snapshot: SplitQueueSnapshot) -> Int {
        let size = Int(snapshot.addresses.size)
        let index = Int(snapshot.usedIndex.rawValue)
        guard index < size else { return size }
        let wrapped = snapshot.used[index...].contains { $0.id != 0 || $0.length != 0 }
        return wrapped ? size : index
    }

    /// The heads of the chains the device owns, as far as one snapshot shows: the last
    /// `outstanding` entries made available, less any head named by a used element written in
    /// the last ring's worth (``writtenUsedSlots(_:)``). A device may complete out of order,
    /// so a head near avail.idx may already be back; a head both returned and re-offered is
    /// skipped too: a missed check rather than a stale table read as live. A head offered
    /// twice appears twice.
    static func ownedHeads(_ snapshot: SplitQueueSnapshot, outstanding: Int) -> [UInt16] {
        let size = snapshot.addresses.size
        guard outstanding > 0, size > 0 else { return [] }
        let returned = Set((0..<Self.writtenUsedSlots(snapshot)).map { back in
            snapshot.used[snapshot.usedIndex.advanced(by: UInt16(truncatingIfNeeded: -(back + 1))).slot(queueSize: size)].id
        })
        return (1...outstanding).reversed().map { step in
            snapshot.avail.ring[snapshot.avail.index.advanced(by: UInt16(truncatingIfNeeded: -step)).slot(queueSize: size)]
        }.filter { !returned.contains(UInt32($0)) }
    }

    /// `trace`: the analysis of a trace of the same moment, if there is one: a completed chain
    /// whose buffers differ from those QEMU took for that used element is not judged
    /// (``CompletedChains``).
    public static func inspect(
        memory: GuestMemoryMap, dump: String, queues: [QueueTarget], trace: AnalysisReport? = nil
    ) -> InspectionReport {
        var sink = FindingSink()
        var inspections: [QueueInspection] = []
        var budget = Limits.descriptorsTotal
        for target in queues.prefix(Limits.queues) {
            func emit(_ rule: RuleInfo, _ message: String) {
                sink.add(
                    Finding(rule: rule, message: message, location: Location(file: dump, device: target.device, queue: target.queue)))
            }
            inspections.append(
                target.options.packed
                    ? Self.inspectPacked(target, memory: memory, budget: &budget, emit: emit)
                    : Self.inspectSplit(target, memory: memory, trace: trace, budget: &budget, emit: emit))
        }
        return InspectionReport(
            dump: dump, regions: memory.regions, queues: inspections, skippedQueues: max(0, queues.count - Limits.queues),
            findings: sink.kept,
            findingCounts: sink.countsByRule, totalFindings: sink.total, omittedFindings: sink.dropped)
    }

    /// A split queue: layout, indices, the used ring's ids, and every chain the device owns,
    /// walked while `budget` (descriptors, shared by the whole inspection) and the queue's own
    /// ``Limits/descriptorsPerQueue`` last.
    static func inspectSplit(
        _ target: QueueTarget, memory: GuestMemoryMap, trace: AnalysisReport? = nil, budget: inout Int,
        emit: (RuleInfo, String) -> Void
    ) -> QueueInspection {
        let addresses = target.addresses
        let options = target.options
        var inspection = QueueInspection(
            device: target.device, deviceType: options.deviceType, queue: target.queue, addresses: addresses, chains: [])
        inspection.qemuInUse = target.qemuInUse
        inspection.lastAvailIndex = target.lastAvailIndex
        inspection.blockCapacity = options.blockCapacity
        let layout = SplitRingLayout(queueSize: Int(addresses.size))
        let eventBytes = options.eventIndex ? 0 : 2
        let mapped =
            addresses.size > 0
            && memory.contains(addresses.descriptorArea, length: UInt64(layout.descriptorTableSize))
            && memory.contains(addresses.driverArea, length: UInt64(layout.availRingSize - eventBytes))
            && memory.contains(addresses.deviceArea, length: UInt64(layout.usedRingSize - eventBytes))
        let snapshot =
            mapped ? try? SplitQueueSnapshot(memory: memory, addresses: addresses, eventIndex: options.eventIndex) : nil
        var repeatedHeads: [UInt16] = []
        if let snapshot {
            let size = Int(addresses.size)
            inspection.availIndex = snapshot.avail.index.rawValue
            inspection.usedIndex = snapshot.usedIndex.rawValue
            inspection.availFlags = snapshot.avail.flags.rawValue
            inspection.usedFlags = snapshot.usedFlags.rawValue
            inspection.usedEvent = snapshot.avail.usedEvent
            inspection.availEvent = snapshot.availEvent
            let written = Self.writtenUsedSlots(snapshot)
            inspection.completedInRing = written
            inspection.recentUsed = (0..<min(16, written)).reversed().map { back in
                let slot = snapshot.usedIndex.advanced(by: UInt16(truncatingIfNeeded: -(back + 1))).slot(queueSize: addresses.size)
                return (slot, snapshot.used[slot])
            }
            var outstanding = snapshot.usedIndex.distance(to: snapshot.avail.index)
            if outstanding > Int(UInt16.max) / 2 {
                // used.idx is ahead of avail.idx: the device returned more than it was given.
                emit(
                    UsedIndexWindow.info,
                    "used.idx \(snapshot.usedIndex.rawValue) is ahead of avail.idx \(snapshot.avail.index.rawValue)")
                outstanding = 0
            } else if outstanding > size {
                emit(
                    AvailIndexWindow.info,
                    "avail.idx \(snapshot.avail.index.rawValue) is \(outstanding) ahead of used.idx "
                        + "\(snapshot.usedIndex.rawValue), more than the queue size \(addresses.size)")
            }
            inspection.outstanding = outstanding
            // Each head is walked once; one offered again is SPLIT-CHAINS-DISJOINT's.
            var seen = Set<UInt16>()
            var queueBudget = Limits.descriptorsPerQueue
            for head in Self.ownedHeads(snapshot, outstanding: min(outstanding, size)) {
                guard seen.insert(head).inserted else {
                    repeatedHeads.append(head)
                    continue
                }
                guard budget > 0, queueBudget > 0 else {
                    inspection.unwalkedHeads += 1
                    continue
                }
                let chain = DescriptorChain(
                    head: head, table: addresses.descriptorArea, queueSize: addresses.size,
                    memory: memory, indirectNegotiated: options.indirectNegotiated)
                budget -= chain.elements.count + 1
                queueBudget -= chain.elements.count + 1
                for defect in chain.defects {
                    let (rule, message) = OwnedChains.finding(for: defect, head: chain.head)
                    emit(rule, message)
                }
                inspection.chains.append(chain)
            }
            var completedBudget = min(budget, queueBudget)
            let before = completedBudget
            (inspection.completed, inspection.undecidedCompletions) = CompletedChains.find(
                snapshot, written: written, owned: inspection.chains, memory: memory,
                indirectNegotiated: options.indirectNegotiated,
                traced: trace.map { DumpTraceMismatch.takenChains(inspection, in: $0) } ?? [:], budget: &completedBudget)
            budget -= before - completedBudget
            for slot in 0..<written where snapshot.used[slot].id >= UInt32(addresses.size) {
                emit(
                    UsedIDOwned.info,
                    "used ring slot \(slot) names head \(snapshot.used[slot].id), not below the queue size \(addresses.size)")
            }
        }
        var context = QueueSnapshotContext(
            addresses: addresses, chains: inspection.chains, repeatedHeads: repeatedHeads,
            ringsMapped: mapped, memory: memory, index: target.queue, deviceType: options.deviceType,
            role: QueueRole.of(index: target.queue, type: options.deviceType, netControlQueue: options.netControlQueue),
            features: options.features, blockCapacity: options.blockCapacity, netMTU: options.netMTU)
        context.completed = inspection.completed
        context.usedIndex = inspection.usedIndex
        context.availFlags = snapshot?.avail.flags
        context.usedFlags = snapshot?.usedFlags
        // Negotiated (QMP, the trace) or said (`--event-idx`); else not known.
        context.eventIndex = options.features.map { $0.contains(.eventIndex) } ?? (options.eventIndex ? true : nil)
        // Every completion since the ring was set up is still in it: used.idx has not passed
        // the queue size, so the element at index 0 was the first.
        context.allCompletionsInRing = snapshot.map { Self.writtenUsedSlots($0) == Int($0.usedIndex.rawValue) } ?? false
        inspection.allCompletionsInRing = context.allCompletionsInRing
        inspection.features = options.features
        inspection.role = context.role
        for rule in RuleCatalog.snapshotRules {
            for message in rule.check(context) { emit(rule.info, message) }
        }
        Self.checkRequests(&inspection, in: context, emit: emit)
        return inspection
    }

    /// The request rules over the chains (or lists) in flight, and what each asks for.
    static func checkRequests(
        _ inspection: inout QueueInspection, in context: QueueSnapshotContext, emit: (RuleInfo, String) -> Void
    ) {
        for rule in RuleCatalog.requestRules {
            for message in rule.check(context) { emit(rule.info, message) }
        }
        inspection.requests = inspection.chains.map { RequestDescription.describe($0, in: context) }
    }

    /// A packed queue: its layout and event suppression structures are checked, and, when the
    /// device's position is known (QMP), the lists made available and not yet read are walked
    /// (see ``PackedQueueSnapshot``) and judged like a split queue's owned chains.
    static func inspectPacked(
        _ target: QueueTarget, memory: GuestMemoryMap, budget: inout Int, emit: (RuleInfo, String) -> Void
    ) -> QueueInspection {
        let addresses = target.addresses
        let options = target.options
        var inspection = QueueInspection(
            device: target.device, deviceType: options.deviceType, queue: target.queue, addresses: addresses,
            chains: [])
        inspection.isPacked = true
        inspection.qemuInUse = target.qemuInUse
        inspection.lastAvailIndex = target.lastAvailIndex
        inspection.blockCapacity = options.blockCapacity
        let layout = PackedRingLayout(queueSize: Int(addresses.size))
        let size = UInt64(PackedRingLayout.eventSuppressionSize)
        let mapped =
            layout.isValidSize && memory.contains(addresses.descriptorArea, length: UInt64(layout.descriptorRingSize))
            && memory.contains(addresses.driverArea, length: size) && memory.contains(addresses.deviceArea, length: size)
        if layout.isValidSize, !mapped {
            emit(QEMUReported.guestPhysicalAddress, "the packed ring or its event suppression structures are not (wholly) in the dump")
        }
        inspection.packed = mapped ? try? PackedQueueSnapshot(memory: memory, addresses: addresses) : nil
        if let ring = inspection.packed, let position = target.lastAvailIndex {
            var queueBudget = min(budget, Limits.descriptorsPerQueue)
            let before = queueBudget
            inspection.chains = ring.availableLists(
                from: position, memory: memory, indirectNegotiated: options.indirectNegotiated, budget: &queueBudget)
            budget -= before - queueBudget
            for list in inspection.chains {
                for defect in list.defects {
                    let (rule, message) = PackedLists.finding(for: defect, head: list.head)
                    emit(rule, message)
                }
            }
        }
        let packedContext = PackedQueueContext(
            addresses: addresses, snapshot: inspection.packed, eventIndex: options.eventIndex, lists: inspection.chains)
        for rule in RuleCatalog.packedRules {
            for message in rule.check(packedContext) { emit(rule.info, message) }
        }
        let context = QueueSnapshotContext(
            addresses: addresses, chains: inspection.chains, repeatedHeads: [], ringsMapped: mapped, memory: memory,
            index: target.queue, deviceType: options.deviceType,
            role: QueueRole.of(index: target.queue, type: options.deviceType, netControlQueue: options.netControlQueue),
            features: options.features, blockCapacity: options.blockCapacity, netMTU: options.netMTU)
        inspection.features = options.features
        inspection.role = context.role
        Self.checkRequests(&inspection, in: context, emit: emit)
        return inspection
    }
}
