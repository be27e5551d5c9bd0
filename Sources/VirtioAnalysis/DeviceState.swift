import TraceSources
import VirtioModel

/// How a device is attached to the guest, as far as the trace shows.
public enum Transport: String, Sendable {
    case unknown
    case pci = "virtio-pci"
    case mmio = "virtio-mmio"
}

/// How a device's type was decided, strongest first.
public enum TypeSource: Sendable, Equatable, CustomStringConvertible {
    /// Given on the command line (`--device`).
    case user
    /// A device-specific trace event names the device (`virtio_blk_handle_read`, `virtio_rng_request`, …).
    case traceEvent(String)
    /// QEMU named the PCI function or memory region (`virtio-net-pci`, `virtio-pci-common-virtio-net`).
    case qemuName(String)
    /// The device's virtio-mmio DeviceID register, read by its driver's probe of the register
    /// block at this address (`memory_region_ops_read`), which its status writes then name.
    case mmioDeviceID(block: UInt64)
    /// Inferred from the queues' shapes at the end of the trace.
    case queueShape(String)

    var strength: Int {
        switch self {
        case .user: return 4
        case .traceEvent, .mmioDeviceID: return 3
        case .qemuName: return 2
        case .queueShape: return 1
        }
    }

    public var description: String {
        switch self {
        case .user: return "given with --device"
        case .traceEvent(let name): return "trace event \(name) names this device"
        case .qemuName(let name): return "QEMU names it \(name)"
        case .mmioDeviceID(let block): return "its DeviceID, read from the virtio-mmio register block at 0x\(String(block, radix: 16))"
        case .queueShape(let why): return "queue shapes: \(why)"
        }
    }
}

/// What the driver programmed for one queue through virtio-mmio registers.
public struct MMIOQueueSetup: Sendable, Equatable {
    public var size: UInt32?
    public var ready = false
    public var descriptorArea: UInt64 = 0
    public var driverArea: UInt64 = 0
    public var deviceArea: UInt64 = 0
    /// Legacy: page frame number of the whole ring.
    public var pageFrame: UInt32?
    /// Legacy: QueueAlign (default 4096).
    public var alignment: UInt32?
}

/// The queues a device's driver programmed through virtio-mmio, by QueueSel value, in
/// ascending order. Drivers select a handful of queues, and every register write looks one up:
/// a sorted array searched in place costs less than hashing.
public struct MMIOQueueSetups: Sendable, Equatable {
    /// At most this many queues are kept (QueueSel is a 32-bit register).
    static let capacity = 1024
    public private(set) var selects: [UInt32] = []
    public private(set) var setups: [MMIOQueueSetup] = []

    public var isEmpty: Bool { self.selects.isEmpty }

    /// Where `select` is, or where it would be inserted.
    private func position(of select: UInt32) -> (index: Int, found: Bool) {
        self.selects.withUnsafeBufferPointer { selects in
            // Drivers mostly number their queues from 0 without gaps: queue n is then at n.
            if select < UInt32(selects.count), selects[Int(select)] == select { return (Int(select), true) }
            var low = 0
            var high = selects.count
            while low < high {
                let middle = (low &+ high) &>> 1
                if selects[middle] < select { low = middle + 1 } else { high = middle }
            }
            return (low, low < selects.count && selects[low] == select)
        }
    }

    public subscript(select: UInt32) -> MMIOQueueSetup? {
        let (index, found) = self.position(of: select)
        return found ? self.setups[index] : nil
    }

    /// Changes the setup of queue `select` in place, adding it (while fewer than `capacity`).
    mutating func update(_ select: UInt32, _ change: (inout MMIOQueueSetup) -> Void) {
        let (index, found) = self.position(of: select)
        if found {
            change(&self.setups[index])
        } else if self.selects.count < Self.capacity {
            var setup = MMIOQueueSetup()
            change(&setup)
            self.selects.insert(select, at: index)
            self.setups.insert(setup, at: index)
        }
    }

    /// A reset: no queue is ready any more.
    mutating func clearReady() {
        for index in self.setups.indices { self.setups[index].ready = false }
    }
}

/// The verifying model's view of one device, keyed by QEMU's `vdev` pointer.
public struct DeviceState: Sendable {
    public let vdev: HostPointer
    /// Order of first appearance in the trace.
    public let ordinal: Int
    public internal(set) var status: DeviceStatus = []
    /// True once any status write for the device was seen.
    public internal(set) var statusSeen = false
    /// The status values written, in order (first 64 kept; `statusWrites` counts all).
    public internal(set) var statusHistory: [UInt8] = []
    public internal(set) var statusWrites = 0
    /// The driver set FAILED and has not reset the device since.
    public internal(set) var failedSinceReset = false
    public internal(set) var transport: Transport = .unknown
    public internal(set) var mmioVersion: MMIOVersion?
    /// QEMU's own messages settled the version; register writes no longer change it.
    var mmioVersionConfirmed = false
    public internal(set) var type: DeviceType?
    public internal(set) var typeSource: TypeSource?
    /// DriverFeatures words written through virtio-mmio (or virtio-pci's driver_feature) in the
    /// current initialization.
    public internal(set) var driverFeatureWords = FeatureWords()
    /// The words as they stood when FEATURES_OK was set.
    public internal(set) var featureWordsAtFeaturesOK: FeatureWords?
    var driverFeaturesSelect: UInt32 = 0
    /// virtio-mmio DeviceFeaturesSel and DriverFeaturesSel were written since the last reset.
    var featureSelectsWritten = FeatureSelects()
    /// The first virtio-mmio device-specific configuration write made while the status had
    /// DRIVER and not FEATURES_OK, since the last reset (INIT-NO-CONFIG-WRITE-DURING-NEG).
    var configWriteDuringNegotiation: RegisterWrite?
    /// Where a Status write (virtio-mmio) or `device_status` write (virtio-pci) set
    /// FEATURES_OK, until the driver reads it back, takes a step of device setup, or resets
    /// the device (INIT-REREAD-FEATURES_OK).
    var featuresOKUnread: TracePlace?
    /// Where the driver reset a virtio-pci device by writing 0 to `device_status`, until a
    /// read of it returns 0 or the driver writes it again (RESET-WAIT-ZERO).
    var resetUnconfirmed: TracePlace?
    /// A virtio-mmio queue stopped by a QueueReady write of 0, until QueueReady is read
    /// (MMIO-QUEUE-STOP).
    var queueStopUnread: MMIOQueueStop.Pending?
    /// Where the driver read a virtio-pci `device_status` without FEATURES_OK right after
    /// setting it: the device refused the features (INIT-REREAD-FEATURES_OK), until a reset,
    /// FAILED or the next step of setup.
    var featuresRefused: TracePlace?
    /// The trace has shown the driver reset the device through its virtio-pci common
    /// configuration structure: what the device presents since is judged
    /// (PCI-DEV-RESET-PRESENT0).
    var resetThroughCommonConfig = false
    /// virtio-pci `device_feature_select` as the driver last wrote it.
    var deviceFeatureSelect: UInt32 = 0
    /// The virtio-pci MSI-X vector mappings the driver has not read back yet, at most one of
    /// each field (PCI-MSIX-RANGE).
    var msixVectorsUnverified: [MSIXVectorReadBack.Pending] = []
    /// The words of the features the device offers, as the driver read them from virtio-pci
    /// `device_feature` (`memory_region_ops_read`); kept across resets (a device's offer is
    /// its own).
    var offeredFeatureWords = FeatureWords()
    /// The `mtu` a network device presented at the first whole read of it (NET-CFG-VALUES:
    /// it never changes).
    var firstMTU: UInt16?
    /// An input device's configuration selection (INPUT-CFG-WRITES, INPUT-CFG-UNSUPPORTED).
    var inputSelection = InputSelection()
    var queueSelect: UInt32 = 0
    /// QueueReady of the queue QueueSel selects, kept up to date by the writes that change it
    /// (every register write asks for it).
    var selectedQueueReady = false
    public internal(set) var mmioQueues = MMIOQueueSetups()
    /// virtio-pci: the common configuration structure as the driver wrote it since the last reset.
    var commonConfig = CommonConfig()
    /// virtio-pci: each queue as it was set up when the driver last enabled it, by index
    /// (below ``CommonConfig/maximumQueues``); kept across resets, as ``mmioQueues`` are.
    public internal(set) var pciQueues: [Int: CommonConfig.QueueSetup] = [:]
    /// Legacy virtio-mmio: the GuestPageSize written, which scales QueuePFN.
    public internal(set) var guestPageSize: UInt32?
    public internal(set) var mmioWrites = 0
    /// While QEMU replays ioeventfd notifications after DRIVER_OK, the index below which the next one must fall.
    var ioeventfdSweepBelow: Int32?
    /// Queue slots by queue index.
    var queueSlots = QueueIndexSlots()
    /// A multiport console's control messages since the last reset.
    var consoleControl = ConsoleControl()

    /// The device is driven through a legacy (pre-1.0) interface, where the driver may use
    /// queues before DRIVER_OK and there is no FEATURES_OK step. Spec: virtio v1.2 §3.1.2.
    public var isLegacy: Bool { self.mmioVersion == .legacy }

    /// The label reports use: `net@0x55bf776a0600`, or `device@…` while the type is unknown.
    public var label: String { "\(self.type?.shortName ?? "device")@0x\(String(self.vdev, radix: 16))" }

    /// The driver features written through virtio-mmio or virtio-pci, as they stood at the last FEATURES_OK
    /// (or, for legacy devices, at the last DRIVER_OK), kept across later resets for the report.
    public internal(set) var negotiatedFeatures: FeatureBits?
    /// Each different set of features the driver accepted, where it first did (the status
    /// write that set FEATURES_OK, or a legacy device's DRIVER_OK): at most
    /// ``maximumAcceptedSets``, the first ones.
    public internal(set) var acceptedFeatureSets: [AcceptedFeatures] = []
    /// Each different set of features the device took (virtio-pci: the read-back after
    /// FEATURES_OK had the bit), where its driver set FEATURES_OK: kept across resets, at most
    /// ``maximumAcceptedSets`` (FEAT-RENEGOTIATE-STABLE).
    var featureSetsTaken: [AcceptedFeatures] = []
    /// The virtio-mmio configuration reads in runs, and those a ConfigGeneration read did not
    /// bracket (CFG-GENERATION-LOOP).
    var configReads = ConfigReadRuns()
    /// The first virtio-mmio read of configuration byte 32 (a block device's `writeback`)
    /// while FEATURES_OK was not set (BLK-WRITEBACK-TIMING, judged once the type is known).
    var writebackReadBeforeFeaturesOK: TracePlace?
    static let maximumAcceptedSets = 16

    public struct AcceptedFeatures: Sendable, Equatable {
        public var features: FeatureBits
        public var place: TracePlace
    }

    /// The driver accepted the features written so far, at `place`.
    mutating func noteAcceptedFeatures(at place: TracePlace) {
        guard let features = self.driverFeatures, self.acceptedFeatureSets.count < Self.maximumAcceptedSets,
            !self.acceptedFeatureSets.contains(where: { $0.features == features })
        else { return }
        self.acceptedFeatureSets.append(AcceptedFeatures(features: features, place: place))
    }

    /// The driver features written so far in the current initialization.
    public var driverFeatures: FeatureBits? { self.driverFeatureWords.features }

    /// What the status and register rules may know about a device: plain values, cheap to pass.
    /// It reads the stored fields through a pointer, so the device state itself is not copied.
    static func context(of device: UnsafePointer<DeviceState>) -> DeviceContext {
        let pci = device.pointee.transport == .pci
        return DeviceContext(
            status: device.pointee.status, transport: device.pointee.transport,
            legacy: device.pointee.mmioVersion == .legacy, failedSinceReset: device.pointee.failedSinceReset,
            driverFeatureWords: device.pointee.driverFeatureWords,
            featureWordsAtFeaturesOK: device.pointee.featureWordsAtFeaturesOK,
            driverFeaturesSelect: device.pointee.driverFeaturesSelect,
            featureSelectsWritten: device.pointee.featureSelectsWritten,
            configWriteDuringNegotiation: device.pointee.configWriteDuringNegotiation,
            featuresOKUnread: device.pointee.featuresOKUnread,
            resetUnconfirmed: device.pointee.resetUnconfirmed,
            resetThroughCommonConfig: device.pointee.resetThroughCommonConfig,
            queueStopUnread: device.pointee.queueStopUnread, featuresRefused: device.pointee.featuresRefused,
            featureSetsTaken: device.pointee.featureSetsTaken,
            type: device.pointee.type, msixVectorsUnverified: device.pointee.msixVectorsUnverified,
            offeredFeatureWords: device.pointee.offeredFeatureWords,
            firstMTU: device.pointee.firstMTU, inputSelection: device.pointee.inputSelection,
            queueSelect: pci ? UInt32(device.pointee.commonConfig.selectedQueue) : device.pointee.queueSelect,
            selectedQueueReady: pci ? device.pointee.commonConfig.selectedQueueEnabled : device.pointee.selectedQueueReady)
    }

    /// Records a status write in place. Spec: virtio v1.2 §2.1 (status), §3.1 (initialization).
    mutating func apply(_ change: StatusChange) {
        let new = change.new
        if self.statusHistory.count < 64 { self.statusHistory.append(new.rawValue) }
        self.statusWrites += 1
        self.statusSeen = true
        if new.rawValue == 0 {
            self.failedSinceReset = false
            self.featureWordsAtFeaturesOK = nil
            self.driverFeatureWords = FeatureWords()
            self.featureSelectsWritten = FeatureSelects()
            self.configWriteDuringNegotiation = nil
            self.featuresOKUnread = nil
            self.msixVectorsUnverified = []
            self.queueStopUnread = nil
            self.featuresRefused = nil
            self.inputSelection = InputSelection()
            self.ioeventfdSweepBelow = nil
            self.mmioQueues.clearReady()
            self.selectedQueueReady = false
            self.commonConfig = CommonConfig()
        } else if change.origin == .driver {
            if new.contains(.failed) { self.failedSinceReset = true }
            if new.contains(.featuresOK), !change.old.contains(.featuresOK) {
                self.featureWordsAtFeaturesOK = self.driverFeatureWords
                self.negotiatedFeatures = self.driverFeatureWords.features
            }
            if new.contains(.driverOK), !change.old.contains(.driverOK) {
                if self.isLegacy { self.negotiatedFeatures = self.driverFeatureWords.features }
                // QEMU starts ioeventfd now and replays a notification on every queue, highest first.
                if self.transport == .pci { self.ioeventfdSweepBelow = .max }
            }
        }
        self.status = new
    }

    mutating func decideType(_ type: DeviceType, by source: TypeSource) {
        if let current = self.typeSource, current.strength >= source.strength { return }
        self.type = type
        self.typeSource = source
    }

    mutating func setTransport(_ transport: Transport) {
        if self.transport == .unknown { self.transport = transport }
    }
}

/// The two 32-bit DriverFeatures words of virtio-mmio (word 0: bits 0–31, word 1: bits 32–63);
/// nil for a word not written.
public struct FeatureWords: Sendable, Equatable {
    public var low: UInt32?
    public var high: UInt32?

    public init() {}

    public subscript(word: Int) -> UInt32? {
        get { word == 0 ? self.low : (word == 1 ? self.high : nil) }
        set {
            if word == 0 { self.low = newValue } else if word == 1 { self.high = newValue }
        }
    }

    /// Whether feature `bit` is set; nil when its word is not known.
    public func contains(bit: Int) -> Bool? {
        guard bit >= 0, bit < 64, let word = self[bit / 32] else { return nil }
        return word & (1 << UInt32(bit % 32)) != 0
    }

    /// The features, once word 0 was written (an unwritten word 1 counts as 0).
    public var features: FeatureBits? {
        guard let low = self.low else { return nil }
        return FeatureBits(rawValue: UInt64(self.high ?? 0) << 32 | UInt64(low))
    }
}

/// Which of virtio-mmio's two feature select registers the driver wrote since the last reset
/// (§4.2.2: DeviceFeaturesSel at 0x014, DriverFeaturesSel at 0x024).
public struct FeatureSelects: Sendable, Equatable {
    public var device = false
    public var driver = false
}

/// A device as the status and register rules see it.
public struct DeviceContext: Sendable {
    public var status: DeviceStatus
    public var transport: Transport
    /// The device uses a legacy interface (§3.1.2).
    public var legacy: Bool
    /// The driver set FAILED and has not reset the device since.
    public var failedSinceReset: Bool
    public var driverFeatureWords: FeatureWords
    /// The DriverFeatures words as they stood when FEATURES_OK was set (nil before that).
    public var featureWordsAtFeaturesOK: FeatureWords?
    public var driverFeaturesSelect: UInt32
    public var featureSelectsWritten: FeatureSelects
    /// The first device-specific configuration write (virtio-mmio) made during feature
    /// negotiation (DRIVER set, FEATURES_OK not yet) since the last reset.
    public var configWriteDuringNegotiation: RegisterWrite?
    /// Where the driver set FEATURES_OK, while no read of the status has followed.
    public var featuresOKUnread: TracePlace?
    /// Where the driver wrote 0 to a virtio-pci `device_status`, while no read of it has
    /// returned 0.
    public var resetUnconfirmed: TracePlace?
    /// The trace has shown the driver reset the device through its common configuration.
    public var resetThroughCommonConfig: Bool
    /// A virtio-mmio queue stopped and not read back yet.
    var queueStopUnread: MMIOQueueStop.Pending?
    /// Where a `device_status` read showed the device refused FEATURES_OK.
    public var featuresRefused: TracePlace?
    /// The sets of features the device took, across resets (FEAT-RENEGOTIATE-STABLE).
    public var featureSetsTaken: [DeviceState.AcceptedFeatures]
    /// The device's type, when known.
    public var type: DeviceType?
    /// The virtio-pci MSI-X vector mappings not read back yet.
    var msixVectorsUnverified: [MSIXVectorReadBack.Pending]
    /// The features the device offers, in the words the driver read (virtio-pci).
    public var offeredFeatureWords: FeatureWords
    /// A network device's `mtu` at its first whole read.
    public var firstMTU: UInt16?
    /// An input device's configuration selection, as its driver wrote it.
    public var inputSelection: InputSelection

    /// Whether the device offers feature `bit`; nil when the driver never read its word.
    public func offers(bit: Int) -> Bool? { self.offeredFeatureWords.contains(bit: bit) }
    /// The trace has `memory_region_ops_read` of virtio regions (set by the analyzer for the
    /// virtio-pci rules that need reads; virtio-mmio's reads are always traced).
    public var regionReadsTraced = false
    /// The selected queue: QueueSel (virtio-mmio) or `queue_select` (virtio-pci).
    public var queueSelect: UInt32
    /// The selected queue is in use: its QueueReady (virtio-mmio) is set, or the driver
    /// enabled it (virtio-pci `queue_enable`) since the last reset.
    public var selectedQueueReady: Bool

    /// The features the driver accepted: as they stood at FEATURES_OK, or so far before it.
    public var acceptedFeatures: FeatureBits {
        (self.featureWordsAtFeaturesOK ?? self.driverFeatureWords).features ?? FeatureBits(rawValue: 0)
    }
}

/// One in-flight request: an element popped and not yet filled.
/// Counts of pop shapes (device-writable / device-readable descriptor counts) with the first
/// place each shape was seen, for the request-shape rules at the end of the trace.
public struct ShapeStatistics: Sendable, Equatable {
    public struct Shape: Sendable, Equatable {
        public var count = 0
        public var firstLine: Int?
        public var firstTime: Timestamp?
        public var example: (inNum: UInt32, outNum: UInt32) = (0, 0)
        public static func == (lhs: Shape, rhs: Shape) -> Bool {
            lhs.count == rhs.count && lhs.firstLine == rhs.firstLine && lhs.firstTime == rhs.firstTime
        }
    }
    /// in_num = 0, out_num > 0: only device-readable buffers.
    public var readableOnly = Shape()
    /// in_num > 0, out_num = 0: only device-writable buffers.
    public var writableOnly = Shape()
    /// Both.
    public var mixed = Shape()
    /// Neither (an empty element).
    public var empty = Shape()

    mutating func record(inNum: UInt32, outNum: UInt32, line: Int, time: Timestamp?) {
        func bump(_ shape: inout Shape) {
            shape.count += 1
            if shape.firstLine == nil {
                shape.firstLine = line
                shape.firstTime = time
                shape.example = (inNum, outNum)
            }
        }
        switch (inNum > 0, outNum > 0) {
        case (false, true): bump(&self.readableOnly)
        case (true, false): bump(&self.writableOnly)
        case (true, true): bump(&self.mixed)
        case (false, false): bump(&self.empty)
        }
    }
}

/// The verifying model's view of one virtqueue, keyed by QEMU's `vq` pointer.
public struct QueueState: Sendable {
    public let vq: HostPointer
    public internal(set) var device: Int?
    /// Learned from `virtio_queue_notify`.
    public internal(set) var index: Int?
    public internal(set) var kicks = 0
    /// Notifications QEMU sent itself when it (re)started ioeventfd; not guest kicks.
    public internal(set) var qemuNotifies = 0
    public internal(set) var pops = 0
    public internal(set) var fills = 0
    /// Fills of requests a reset was draining (in flight at the device's status-0 write).
    public internal(set) var drainedFills = 0
    /// QEMU's messages right after a pop of this queue (`virtio_error`: the device is broken
    /// from then on, and QEMU may trace fills it does not write).
    public internal(set) var qemuErrors = 0
    public internal(set) var flushes = 0
    public internal(set) var flushedElements: UInt64 = 0
    /// Elements flushed since the device's last reset (QEMU then restarts the used index at 0).
    public internal(set) var flushedSinceReset: UInt64 = 0
    /// The last fills since the reset, oldest first (at most `recentFillLimit`).
    public internal(set) var recentFills: [RecentFill] = []
    static let recentFillLimit = 16
    public internal(set) var interrupts = 0
    public internal(set) var bytesUsed: UInt64 = 0
    public internal(set) var maxInFlight = 0
    /// Pops in flight but not tracked because the in-flight limits were reached.
    public internal(set) var untrackedPops = 0
    /// All pops ever left untracked.
    public internal(set) var untrackedPopsTotal = 0
    public internal(set) var shapes = ShapeStatistics()
    /// Fills of 512·n+1 bytes, n ≥ 1 (block data plus the status byte).
    public internal(set) var blockShapedFills = 0
    public internal(set) var zeroLengthFills = 0
    public internal(set) var firstActivity: Timestamp?
    public internal(set) var lastActivity: Timestamp?
    public internal(set) var kickToPop = LatencyHistogram()
    public internal(set) var popToFill = LatencyHistogram()
    public internal(set) var fillToFlush = LatencyHistogram()
    public internal(set) var flushToInterrupt = LatencyHistogram()
    /// Intervals that came out negative (lines not in time order) and were counted as 0.
    public internal(set) var negativeIntervals = 0

    var inFlight = InFlightRequests()
    var recentlyCompleted = PointerRing(capacity: 256)
    /// Fills not yet covered by a flush, and their times (the times are kept for at most 256).
    var fillsAwaitingFlush = 0
    var fillTimes = TimeRing(capacity: 256)
    var pendingKick: Int64?
    var pendingFlush: Int64?
    var lastFillDrained = false

    public var inFlightCount: Int { self.inFlight.count }

    /// Line of the oldest request still in flight, for the end-of-trace note.
    public var oldestInFlightLine: Int? { self.inFlight.oldestLine }

    init(vq: HostPointer) { self.vq = vq }

    // MARK: - Request lifecycle (each returns what happened, for the queue rules)

    mutating func kick(time: Timestamp?) -> QueueActivity {
        self.kicks += 1
        self.touch(time)
        if self.pendingKick == nil { self.pendingKick = time?.nanoseconds }
        return .kick
    }

    mutating func pop(elem: HostPointer, inNum: UInt32, outNum: UInt32, line: Int, time: Timestamp?, limit: Int)
        -> QueueActivity
    {
        self.pops += 1
        self.touch(time)
        if self.inFlight.count < limit || self.inFlight.contains(elem) {
            self.inFlight.set(
                Request(popTime: time?.nanoseconds, line: line, shape: ChainShape(readable: outNum, writable: inNum)), for: elem)
        } else {
            self.untrackedPops += 1
            self.untrackedPopsTotal += 1
        }
        self.maxInFlight = max(self.maxInFlight, self.inFlight.count)
        self.shapes.record(inNum: inNum, outNum: outNum, line: line, time: time)
        if let kick = self.pendingKick, let now = time?.nanoseconds {
            self.sample(.kickToPop, Timestamp.interval(from: kick, to: now))
            self.pendingKick = nil
        }
        return .pop(inNum: inNum, outNum: outNum, inFlight: self.inFlight.count + self.untrackedPops)
    }

    mutating func fill(elem: HostPointer, length: UInt32, time: Timestamp?) -> QueueActivity {
        self.fills += 1
        self.touch(time)
        self.bytesUsed &+= UInt64(length)
        if length % 512 == 1, length > 512 { self.blockShapedFills += 1 }
        if length == 0 { self.zeroLengthFills += 1 }
        let outcome: FillOutcome
        let request = self.inFlight.remove(elem)
        if self.recentFills.count == Self.recentFillLimit { self.recentFills.removeFirst() }
        self.recentFills.append(RecentFill(length: length, time: time, shape: request?.shape))
        if let request {
            outcome = .completed(drained: request.draining)
            if request.draining { self.drainedFills += 1 }
            if let start = request.popTime, let now = time?.nanoseconds { self.sample(.popToFill, Timestamp.interval(from: start, to: now)) }
            self.recentlyCompleted.insert(elem)
            self.lastFillDrained = request.draining
        } else if self.untrackedPops > 0 {
            self.untrackedPops -= 1
            outcome = .completed(drained: false)
        } else {
            outcome = self.recentlyCompleted.contains(elem) ? .completedBefore : .notInFlight
        }
        self.fillsAwaitingFlush += 1
        self.fillTimes.push(time?.nanoseconds)
        return .fill(outcome, length: length)
    }

    mutating func flush(count: UInt32, time: Timestamp?) -> QueueActivity {
        let awaiting = self.fillsAwaitingFlush
        self.flushes += 1
        self.touch(time)
        self.flushedElements &+= UInt64(count)
        self.flushedSinceReset &+= UInt64(count)
        var published = min(Int(count), awaiting)
        while published > 0, let filled = self.fillTimes.pop() {
            if let filled, let now = time?.nanoseconds { self.sample(.fillToFlush, Timestamp.interval(from: filled, to: now)) }
            published -= 1
        }
        self.fillsAwaitingFlush = max(0, awaiting - Int(count))
        if self.fillsAwaitingFlush == 0 { self.fillTimes.removeAll() }
        if self.pendingFlush == nil { self.pendingFlush = time?.nanoseconds }
        return .flush(count: count, awaiting: awaiting)
    }

    /// The device was reset: its used index starts again at 0.
    mutating func resetUsedIndex() {
        self.flushedSinceReset = 0
        self.recentFills.removeAll(keepingCapacity: true)
    }

    /// The device gave an element back without using it (QEMU's `virtqueue_detach_element`,
    /// which is not traced): it is no longer in flight.
    mutating func detach(_ elem: HostPointer) {
        _ = self.inFlight.remove(elem)
    }

    mutating func interrupt(time: Timestamp?) -> QueueActivity {
        self.interrupts += 1
        self.touch(time)
        if let flushed = self.pendingFlush, let now = time?.nanoseconds { self.sample(.flushToInterrupt, Timestamp.interval(from: flushed, to: now)) }
        self.pendingFlush = nil
        return .interrupt(afterDrain: self.lastFillDrained)
    }

    private mutating func touch(_ time: Timestamp?) {
        guard let time else { return }
        if self.firstActivity == nil { self.firstActivity = time }
        self.lastActivity = time
    }

    enum Stage { case kickToPop, popToFill, fillToFlush, flushToInterrupt }

    /// Records one interval; a negative one (lines out of time order) counts as 0 and is counted.
    mutating func sample(_ stage: Stage, _ interval: Int64) {
        if interval < 0 { self.negativeIntervals += 1 }
        let value = max(interval, 0)
        switch stage {
        case .kickToPop: self.kickToPop.record(value)
        case .popToFill: self.popToFill.record(value)
        case .fillToFlush: self.fillToFlush.record(value)
        case .flushToInterrupt: self.flushToInterrupt.record(value)
        }
    }
}

/// A fixed-size ring of recently completed element pointers, allocated on first use.
struct PointerRing: Sendable {
    private let capacity: Int
    private var slots: [HostPointer] = []
    private var next = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func insert(_ pointer: HostPointer) {
        if self.slots.count < self.capacity {
            self.slots.append(pointer)
            return
        }
        self.slots[self.next] = pointer
        self.next = (self.next + 1) % self.capacity
    }

    func contains(_ pointer: HostPointer) -> Bool { self.slots.contains(pointer) }
}

/// A fixed-size FIFO of optional timestamps, allocated on first use; when full, new entries
/// are dropped.
struct TimeRing: Sendable {
    private let capacity: Int
    private var slots: [Int64?] = []
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func push(_ time: Int64?) {
        guard self.count < self.capacity else { return }
        if self.slots.isEmpty { self.slots = [Int64?](repeating: nil, count: self.capacity) }
        self.slots[(self.head + self.count) % self.capacity] = time
        self.count += 1
    }

    /// The oldest entry, or nil when empty (an entry itself may be nil: an untimed fill).
    mutating func pop() -> Int64?? {
        guard self.count > 0 else { return nil }
        let value = self.slots[self.head]
        self.head = (self.head + 1) % self.capacity
        self.count -= 1
        return .some(value)
    }

    mutating func removeAll() {
        self.head = 0
        self.count = 0
    }
}
