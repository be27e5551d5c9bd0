import GuestMemory
import TraceSources
import VirtioModel

/// One ring transition of a recorded run (`vqscope record`), as the run directory's reader
/// decodes it.
public enum RingEvent: Sendable {
    /// A queue watched from index 0 (a device reached DRIVER_OK, or was set up again);
    /// `packed`: a packed ring (§2.8), whose heads are Buffer IDs.
    case queue(device: String, type: DeviceType?, queue: Int, size: UInt16, packed: Bool, descriptorArea: UInt64? = nil)
    /// A chain made available: its head, its writable bytes and the defects its walk found
    /// (as rule ID and message); `writableBytes` nil for a stale entry, whose head was offered
    /// again before the recorder could read it.
    /// `completed`: its completion came first (a packed list used out of order before it was
    /// read): counted, not outstanding.
    case avail(
        device: String, queue: Int, time: Int64, head: UInt16, writableBytes: UInt64?, defects: [ChainDefectFinding],
        completed: Bool = false)
    /// A used element (split) or used descriptor (packed); `writeFlag`: a packed used
    /// descriptor's VIRTQ_DESC_F_WRITE (without it the length is reserved, §2.8.4), nil for split.
    /// `bytesMissed`: a received frame's buffer was offered again before the recorder could
    /// copy it (counted as missed).
    case used(device: String, queue: Int, time: Int64, id: UInt32, length: UInt32, writeFlag: Bool? = nil, bytesMissed: Bool = false)
    /// A chain the device owned was found changed (`change` says how), the used ring read
    /// after still not returning it; on a packed ring, a list named by its Buffer ID (`head`).
    case touched(device: String, queue: Int, head: UInt16, change: String)
    /// The driver exposed more chains than the ring has entries: `avail.idx − used.idx`
    /// above the size, read in that order (SPLIT-AVAIL-IDX-WINDOW).
    case window(device: String, queue: Int, availIndex: UInt16, usedIndex: UInt16, size: UInt16)
    /// Entries the recorder counted but could not read: `offers` made available and
    /// `completions` used before it read them. Completions lost while the queue was watched (the
    /// used ring lapped the recorder) leave unknown which offers are still owned: the recorder
    /// forgot them, and so does the replay. `beforeAttach`: the completions were made before the
    /// watch began (a packed ring found with used descriptors already written), owning nothing.
    case missed(device: String, queue: Int, offers: Int, completions: Int, beforeAttach: Bool = false)
    /// The rings stopped making sense (the driver reset the device and reused the memory,
    /// most likely): nothing more was recorded for the queue until it was set up again.
    /// `fault`: it stopped because an index was found where it cannot be.
    case suspended(device: String, queue: Int, fault: IndexFault? = nil)
    /// The device left DRIVER_OK, or the driver reset one queue (`queue`, VIRTIO_F_RING_RESET):
    /// those queues are no longer watched. `time`: when the recorder learned it.
    case reset(device: String, queue: Int? = nil, time: Int64 = 0)
    /// With EVENT_IDX, entries added while the other side's event index asked for a
    /// notification, and how long it kept asking (``AwaitedNotification``).
    case awaiting(AwaitedNotification)
    /// What the recorder found wrong in a queue's rings outside any chain (a packed ring's
    /// event suppression structures).
    case defects(device: String, queue: Int, [ChainDefectFinding])
}

/// A split ring's index found where it cannot be, at `time` (the recorder's clock,
/// nanoseconds), which made the recorder stop reading the queue.
public struct IndexFault: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// avail.idx behind the entries already read: `from` is the next index the recorder
        /// expected, `to` the one found (SPLIT-AVAIL-IDX-NO-DECREASE).
        case availWentBack
        /// used.idx behind the elements already read: `from` and `to` likewise
        /// (SPLIT-USED-IDX-WINDOW).
        case usedWentBack
        /// used.idx, read first, past avail.idx read after it: the device used more chains
        /// than had been made available. `from` is avail.idx, `to` used.idx (SPLIT-USED-IDX-WINDOW).
        case usedPassedAvail
    }

    public var kind: Kind
    public var from: UInt16
    public var to: UInt16
    public var time: Int64

    public init(_ kind: Kind, from: UInt16, to: UInt16, time: Int64) {
        (self.kind, self.from, self.to, self.time) = (kind, from, to, time)
    }

    /// The rule it breaks, and what to say, once no reset within `resetLag` explained it.
    func finding(resetLag seconds: Int64) -> (RuleInfo, String) {
        let unexplained = ", and no reset of the device followed within \(seconds) s"
        switch self.kind {
        case .availWentBack:
            return (AvailIndexNoDecrease.info, "avail.idx went back from \(self.from) to \(self.to)" + unexplained)
        case .usedWentBack:
            return (UsedIndexWindow.info, "used.idx went back from \(self.from) to \(self.to)" + unexplained)
        case .usedPassedAvail:
            return (
                UsedIndexWindow.info,
                "used.idx \(self.to) is \(self.to &- self.from) past avail.idx \(self.from) read after it: the device "
                    + "returned more chains than were made available" + unexplained
            )
        }
    }
}

/// A defect of a walked chain, as the rule it breaks and what to say.
public struct ChainDefectFinding: Sendable, Equatable {
    public var rule: String
    public var message: String

    public init(rule: String, message: String) {
        self.rule = rule
        self.message = message
    }
}

extension DescriptorChain {
    /// Each defect of the walk as the rule it breaks (the same as `vqscope inspect` reports);
    /// `packed`: the walk was of a packed ring's list (PACKED-* rules).
    public func defectFindings(packed: Bool = false) -> [ChainDefectFinding] {
        self.defects.map {
            let (rule, message) = packed ? PackedLists.finding(for: $0, head: self.head) : OwnedChains.finding(for: $0, head: self.head)
            return ChainDefectFinding(rule: rule.id, message: message)
        }
    }
}

extension DescriptorChain {
    /// The request rules a dump applies to the chains a device owns (BLK-*, NET-*, CONS-*, …),
    /// applied to this one chain as it was made available (`vqscope record`), with the queue it
    /// was made available on: what it breaks, as rule ID and message. Nothing for a chain whose
    /// walk found defects (their own rules say what is wrong), nothing that needs completions
    /// (judged by the replay), BLK-CAPACITY only with the device's capacity and NET-TX-MTU only with its mtu.
    public func requestDefectFindings(
        queue: Int, addresses: QueueAddresses, type: DeviceType?, role: QueueRole, features: FeatureBits, blockCapacity: UInt64?,
        netMTU: UInt16?, memory: GuestMemoryMap
    ) -> [ChainDefectFinding] {
        guard self.defects.isEmpty, type != nil else { return [] }
        let context = QueueSnapshotContext(
            addresses: addresses, chains: [self], repeatedHeads: [], ringsMapped: true, memory: memory, index: queue,
            deviceType: type, role: role, features: features, blockCapacity: blockCapacity, netMTU: netMTU)
        return RuleCatalog.requestRules.flatMap { rule in
            rule.check(context).map { ChainDefectFinding(rule: rule.info.id, message: $0) }
        }
    }
}

extension ChainDefectFinding {
    /// A packed ring's driver and device event suppression structures as a recording reads
    /// them, those given (PACKED-EVENT-FLAGS, §2.8.10).
    public static func eventSuppression(driver: EventSuppression?, device: EventSuppression?, eventIndex: Bool) -> [ChainDefectFinding] {
        let messages =
            (driver.map { PackedEventFlags.judge($0, "driver", eventIndex: eventIndex) } ?? [])
            + (device.map { PackedEventFlags.judge($0, "device", eventIndex: eventIndex) } ?? [])
        return messages.map { ChainDefectFinding(rule: PackedEventFlags.info.id, message: $0) }
    }

    /// The driver accepted features the device does not offer (FEAT-ACCEPT-SUBSET); nil when
    /// it accepted none.
    public static func unoffered(accepted: FeatureBits, offered: FeatureBits, type: DeviceType?) -> ChainDefectFinding? {
        guard accepted.rawValue & ~offered.rawValue != 0 else { return nil }
        return ChainDefectFinding(
            rule: FeatureAcceptSubset.info.id, message: FeatureAcceptSubset.message(accepted: accepted, offered: offered, type: type))
    }

    /// A queue's layout as a recording finds it when it starts watching the queue: its parts'
    /// alignment (SPLIT-ALIGN, PACKED-ALIGN) and a split ring's used ring clear of the driver's
    /// parts (SPLIT-NO-OVERLAP). Empty when it holds. (A split queue's size is judged from
    /// the trace's `queue_size` writes on virtio-pci, PCI-QSIZE.)
    public static func layoutDefects(_ addresses: QueueAddresses, packed: Bool) -> [ChainDefectFinding] {
        let found: [(RuleInfo, [String])] =
            packed
            ? [(PackedAlignment.info, PackedAlignment.judge(addresses))]
            : [(RingAlignment.info, RingAlignment.judge(addresses)), (RingsDoNotOverlap.info, RingsDoNotOverlap.judge(addresses))]
        return found.flatMap { rule, messages in messages.map { ChainDefectFinding(rule: rule.id, message: $0) } }
    }

    /// What a device's offer breaks: a feature without one it requires (FEAT-OFFER-DEPS), a
    /// block device's CONFIG_WCE without FLUSH (BLK-WCE-NEEDS-FLUSH). Empty when it holds.
    public static func offerDefects(offered: FeatureBits, type: DeviceType) -> [ChainDefectFinding] {
        [
            FeatureOfferDependencies.message(offered: offered, type: type).map { (FeatureOfferDependencies.info.id, $0) },
            BlockWCENeedsFlush.message(offered: offered, type: type).map { (BlockWCENeedsFlush.info.id, $0) },
        ].compactMap { $0.map { ChainDefectFinding(rule: $0.0, message: $0.1) } }
    }

    /// A split ring's available and used `flags` as a recording reads them, those given
    /// (SPLIT-AVAIL-FLAGS-VALUE, SPLIT-USED-FLAGS-VALUE).
    public static func ringFlags(avail: AvailFlags?, used: UsedFlags?, eventIndex: Bool) -> [ChainDefectFinding] {
        let found = [
            avail.flatMap { AvailFlagsValue.judge($0, eventIndex: eventIndex) }.map { (AvailFlagsValue.info.id, $0) },
            used.flatMap { UsedFlagsValue.judge($0, eventIndex: eventIndex) }.map { (UsedFlagsValue.info.id, $0) },
        ]
        return found.compactMap { $0.map { ChainDefectFinding(rule: $0.0, message: $0.1) } }
    }

    /// A packed list whose first descriptor the recorder saw available while `missing`, a later
    /// slot of it, was not (PACKED-LIST-PUBLISH, §2.8.17); `then` says what followed.
    public static func publishedEarly(slot: Int, missing: UInt16, then: String) -> ChainDefectFinding {
        ChainDefectFinding(
            rule: PackedLists.listPublish.id,
            message: "list at slot \(slot): its first descriptor was available while slot \(missing) of it was not; \(then)")
    }

    /// A chain made available that shares descriptors with one the device owns
    /// (SPLIT-CHAINS-DISJOINT, found by the recorder over time).
    public static func sharedWithOwned(_ message: String) -> ChainDefectFinding {
        ChainDefectFinding(rule: ChainsDisjoint.info.id, message: message)
    }
}

/// What the recording showed for one queue.
public struct RecordedQueueReport: Sendable {
    public var device: String
    public var type: DeviceType?
    public var queue: Int
    /// Where the driver put the queue's descriptor area (its `queue` line's `desc`).
    public var descriptorArea: UInt64?
    /// The label of the trace's device this queue's device is joined with (``RecordingJoin``):
    /// nil when the trace shows no single one.
    public var tracedDevice: String?
    public var availEntries = 0
    public var usedEntries = 0
    /// Stale and overwritten entries, seen too late to read, and received frames whose
    /// buffer was offered again before their bytes were copied.
    public var missed = 0
    /// Of those, used elements the recorder counted but did not read while it watched the
    /// queue (``RingEvent/missed``): with `usedEntries`, what the trace's fills of the queue
    /// come to (RECORD-TRACE-MISMATCH).
    public var missedCompletions = 0
    /// Completions made before the watch began (a packed ring found with used descriptors
    /// written): counted by the slots they took, so not exactly the fills they were.
    public var completionsBeforeWatch = 0
    /// The recording's line that began this watch.
    public var line = 0
    /// The recorder stopped reading the queue (its rings stopped making sense).
    public var suspended = false
    /// Time from a chain made available to its used element, as the recorder saw them.
    public var availToUsed: LatencySummary?
    /// Waits for a notification long enough to be judged (SPLIT-DRV-MUST-NOTIFY,
    /// SPLIT-DEV-MUST-NOTIFY, PACKED-DRV-NOTIFY-BARRIER, PACKED-DEV-NOTIFY), and how many of them
    /// could not be, the trace showing no single device to join with.
    public var awaitedNotifications = 0
    public var unjudgedWaits = 0
    /// This watch's number in the recording (a queue is watched anew after each reset).
    var watch = 0
}

/// Replays a recording's ring transitions through the rules that need the rings over time:
/// each chain's structure when it was made available, and each used element against the
/// chains the device owned then (owned, not returned twice, no more bytes than writable);
/// a packed queue's lists and used descriptors alike, by Buffer ID.
///
/// Spec: virtio v1.2 §2.7.5 (chains), §2.7.8 (used ring), §2.8.4 and §2.8.6 (packed).
public struct RingReplay {
    struct Outstanding {
        var time: Int64
        /// Nil when the chain was stale (its length cannot be judged).
        var writableBytes: UInt64?
    }

    struct QueueState {
        var report: RecordedQueueReport
        var size: UInt16
        var packed: Bool
        /// Offers of each head not yet matched by a used element, oldest first.
        var outstanding: [UInt16: [Outstanding]] = [:]
        var returned: Set<UInt16> = []
        /// Entries were missed: a used id not known to be outstanding may be one of them.
        var uncertain = false
        var latency = LatencyHistogram()
        /// Offers in `outstanding`: never more than the size (a device owns no more chains).
        var outstandingCount = 0
        /// Packed used descriptors without WRITE that return written bytes: how many, the first line.
        var lengthsWithoutWrite = (count: 0, firstLine: 0)
    }

    let file: String
    var sink = FindingSink()
    var queues: [String: QueueState] = [:]
    var order: [String] = []
    var finished: [RecordedQueueReport] = []
    /// Watches begun (queue lines read).
    var watches = 0
    /// The waits to judge against the trace, at most ``maximumWaits``.
    var waits: [AwaitedNotification] = []
    /// Indices found where they cannot be, each judged at the end unless a reset of its device
    /// (or queue) came within ``resetLag`` after it: the trace tells the recorder of a reset a
    /// little after the driver made it, and the driver may set the queue up anew meanwhile
    /// (zeroing one ring before the other).
    struct PendingFault {
        var device: String
        var queue: Int
        var line: Int
        var fault: IndexFault
    }
    var faults: [PendingFault] = []
    static let resetLag: Int64 = 1_000_000_000
    static let maximumFaults = 4096

    /// Offers held over all queues, and whether a limit below was reached (said once).
    var outstandingTotal = 0
    var limitReached = false

    /// What one replay holds, whatever a (perhaps hostile) recording says: queues followed,
    /// watches summarised, offers held. Past them events are counted, not judged
    /// (TRACE-MODEL-LIMITS).
    static let maximumQueues = 4096
    static let maximumWatches = 65_536
    static let maximumOutstanding = 1 << 20
    static let maximumWaits = 1 << 16

    public init(file: String) { self.file = file }

    static func key(_ device: String, _ queue: Int) -> String { "\(device)#\(queue)" }

    /// `a + b`, or `Int.max` past it.
    static func saturating(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    public mutating func consume(_ event: RingEvent, line: Int) {
        switch event {
        case .queue(let device, let type, let queue, let size, let packed, let descriptorArea):
            let key = Self.key(device, queue)
            if let old = self.queues.removeValue(forKey: key) {
                self.close(old)
            } else if !self.order.contains(key) {
                guard self.order.count < Self.maximumQueues else {
                    return self.limit("more than \(Self.maximumQueues) queues: the rest are not replayed", line: line, device: device, queue: queue)
                }
                self.order.append(key)
            }
            var report = RecordedQueueReport(device: device, type: type, queue: queue)
            report.descriptorArea = descriptorArea
            report.line = line
            report.watch = self.watches
            self.watches += 1
            self.queues[key] = QueueState(report: report, size: size, packed: packed)
        case .avail(let device, let queue, let time, let head, let writable, let defects, let completed):
            let key = Self.key(device, queue)
            guard var state = self.queues.removeValue(forKey: key) else { return }
            defer { self.queues[key] = state }
            state.report.availEntries += 1
            if writable == nil, state.report.missed < Int.max { state.report.missed += 1 }
            self.add(defects, line: line, device: device, queue: queue)
            // A head offered again before its completion is recorded is not judged here: the
            // recorder reads both rings at one moment, so a completion and the offer after it
            // can come in either order. The recorder itself judges it (SPLIT-CHAINS-DISJOINT in
            // the line's defects), against the used ring read after the offer.
            if completed { return }
            guard state.outstandingCount < Int(state.size), self.outstandingTotal < Self.maximumOutstanding else {
                // More offers than the device can own: what completes what is no longer known.
                state.uncertain = true
                if self.outstandingTotal >= Self.maximumOutstanding {
                    self.limit("more than \(Self.maximumOutstanding) offers outstanding", line: line, device: device, queue: queue)
                }
                return
            }
            state.outstanding[head, default: []].append(Outstanding(time: time, writableBytes: writable))
            state.outstandingCount += 1
            self.outstandingTotal += 1
            state.returned.remove(head)
        case .used(let device, let queue, let time, let id, let length, let writeFlag, let bytesMissed):
            let key = Self.key(device, queue)
            guard var state = self.queues.removeValue(forKey: key) else { return }
            defer { self.queues[key] = state }
            state.report.usedEntries += 1
            if bytesMissed, state.report.missed < Int.max { state.report.missed += 1 }
            let head = UInt16(truncatingIfNeeded: id)
            // A packed ring's Buffer IDs are the driver's to choose (§2.8.6): not bounded by the size.
            if !state.packed, id >= UInt32(state.size) {
                self.add(UsedIDOwned.info, "used element names head \(id), not below the queue size \(state.size)", line: line, device: device, queue: queue)
            } else if var offers = state.outstanding[head], !offers.isEmpty {
                let owned = offers.removeFirst()
                state.outstanding[head] = offers.isEmpty ? nil : offers
                state.outstandingCount -= 1
                self.outstandingTotal -= 1
                state.latency.record(Timestamp.interval(from: owned.time, to: time))
                if state.packed, writeFlag == false, owned.writableBytes ?? 0 > 0, length > 0 {
                    if state.lengthsWithoutWrite.count == 0 { state.lengthsWithoutWrite.firstLine = line }
                    state.lengthsWithoutWrite.count += 1
                }
                // A packed length without WRITE is reserved; it is judged all the same where the
                // list had room to write, as drivers read it there (Linux does).
                let judged = !state.packed || writeFlag != false || owned.writableBytes ?? 0 > 0
                if judged, let writable = owned.writableBytes, UInt64(length) > writable {
                    self.add(
                        state.packed ? PackedUsedLength.info : UsedLengthBound.info,
                        "used \(state.packed ? "descriptor for Buffer ID" : "element for head") \(head) reports \(length) bytes written, "
                            + "the \(state.packed ? "list" : "chain") has \(writable) writable",
                        line: line, device: device, queue: queue)
                }
                state.returned.insert(head)
            } else if !state.uncertain {
                if state.packed {
                    let again = state.returned.contains(head) ? " (returned already, not made available again)" : ""
                    self.add(PackedBufferIDs.info, "used descriptor names Buffer ID \(head), which no outstanding list carries\(again)", line: line, device: device, queue: queue)
                } else if state.returned.contains(head) {
                    self.add(NoDoubleComplete.info, "head \(head) is returned again without being made available again", line: line, device: device, queue: queue)
                } else {
                    self.add(UsedIDOwned.info, "used element names head \(head), which the device does not own", line: line, device: device, queue: queue)
                }
            }
        case .window(let device, let queue, let availIndex, let usedIndex, let size):
            self.add(
                AvailIndexWindow.info,
                "avail.idx \(availIndex) is \(availIndex &- usedIndex) past used.idx \(usedIndex): more chains exposed than the queue size \(size)",
                line: line, device: device, queue: queue)
        case .touched(let device, let queue, let head, let change):
            let (rule, what) =
                self.queues[Self.key(device, queue)]?.packed == true
                ? (PackedDriverNoRewrite.info, "the list with Buffer ID") : (CleanupNoTouchExposed.info, "the chain at head")
            self.add(rule, "\(what) \(head) changed while the device owned it: \(change)", line: line, device: device, queue: queue)
        case .suspended(let device, let queue, let fault):
            self.queues[Self.key(device, queue)]?.uncertain = true
            self.queues[Self.key(device, queue)]?.report.suspended = true
            if let fault, self.faults.count < Self.maximumFaults {
                self.faults.append(PendingFault(device: device, queue: queue, line: line, fault: fault))
            }
        case .missed(let device, let queue, let offers, let completions, let beforeAttach):
            let key = Self.key(device, queue)
            if completions > 0, !beforeAttach, let state = self.queues[key] {
                self.outstandingTotal -= state.outstandingCount
                self.queues[key]?.outstanding = [:]
                self.queues[key]?.outstandingCount = 0
                self.queues[key]?.returned = []
            }
            if var report = self.queues[key]?.report {
                // Counts from the file: negative ones ignored, the sums saturating.
                let (offers, completions) = (max(offers, 0), max(completions, 0))
                report.missed = Self.saturating(Self.saturating(report.missed, offers), completions)
                if beforeAttach {
                    report.completionsBeforeWatch = Self.saturating(report.completionsBeforeWatch, completions)
                } else {
                    report.missedCompletions = Self.saturating(report.missedCompletions, completions)
                }
                self.queues[key]?.report = report
            }
            self.queues[key]?.uncertain = true
        case .awaiting(var wait):
            let key = Self.key(wait.device, wait.queue)
            guard let state = self.queues[key], wait.waited >= NotificationWaits.minimumWait else { return }
            guard self.waits.count < Self.maximumWaits else {
                return self.limit("more than \(Self.maximumWaits) waits for a notification", line: line, device: wait.device, queue: wait.queue)
            }
            wait.type = state.report.type
            wait.packed = state.packed
            wait.line = line
            wait.watch = state.report.watch
            self.waits.append(wait)
            self.queues[key]?.report.awaitedNotifications += 1
        case .defects(let device, let queue, let defects):
            self.add(defects, line: line, device: device, queue: queue)
        case .reset(let device, let queue, let time):
            for (key, state) in self.queues where state.report.device == device && (queue == nil || state.report.queue == queue) {
                self.queues[key] = nil
                self.close(state)
            }
            // A reset the recorder learned of soon after an index went wrong explains it.
            self.faults.removeAll {
                let (after, overflow) = time.subtractingReportingOverflow($0.fault.time)
                return $0.device == device && (queue == nil || $0.queue == queue) && !overflow && (0...Self.resetLag).contains(after)
            }
        }
    }

    /// A limit was reached: said once.
    mutating func limit(_ message: String, line: Int, device: String, queue: Int) {
        guard !self.limitReached else { return }
        self.limitReached = true
        self.add(InputRules.modelLimits, message, line: line, device: device, queue: queue)
    }

    /// What the recorder found, by rule ID (IDs it does not know are ignored).
    mutating func add(_ defects: [ChainDefectFinding], line: Int, device: String, queue: Int) {
        for defect in defects {
            guard let rule = RuleCatalog.rule(id: defect.rule) else { continue }
            self.add(rule, defect.message, line: line, device: device, queue: queue)
        }
    }

    mutating func add(_ rule: RuleInfo, _ message: String, line: Int, device: String, queue: Int) {
        self.sink.add(Finding(rule: rule, message: message, location: Location(file: self.file, line: line, device: device, queue: queue)))
    }

    /// A queue's watch is over: its summary, and the findings counted over the whole watch.
    mutating func close(_ state: QueueState) {
        var report = state.report
        report.availToUsed = LatencySummary(stage: "avail→used", histogram: state.latency)
        self.outstandingTotal -= state.outstandingCount
        if self.finished.count < Self.maximumWatches {
            self.finished.append(report)
        } else {
            self.limit("more than \(Self.maximumWatches) watches of queues: the rest are not summarised", line: 0, device: report.device, queue: report.queue)
        }
        let (count, line) = state.lengthsWithoutWrite
        if count > 0 {
            self.add(
                PackedUsedWriteFlag.info,
                "\(count) used descriptor(s) return bytes written into their lists without VIRTQ_DESC_F_WRITE, "
                    + "which leaves the length reserved (the first here)",
                line: line, device: report.device, queue: report.queue)
        }
    }

    /// The queues in the order first seen (one entry per time a queue was watched), the
    /// findings, and the waits for a notification to judge against the trace.
    public mutating func finish() -> (queues: [RecordedQueueReport], sink: FindingSink, waits: [AwaitedNotification]) {
        for key in self.order {
            if let state = self.queues.removeValue(forKey: key) { self.close(state) }
        }
        for pending in self.faults {
            let (rule, message) = pending.fault.finding(resetLag: Self.resetLag / 1_000_000_000)
            self.add(rule, message, line: pending.line, device: pending.device, queue: pending.queue)
        }
        self.faults = []
        return (self.finished, self.sink, self.waits)
    }
}
