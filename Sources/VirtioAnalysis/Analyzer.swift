import TraceSources
import VirtioModel

/// A virtio-mmio access waiting for the Status write that names its device.
enum PendingRegisterAccess: Sendable {
    case write(RegisterWrite)
    /// QEMU's refusal of a write showed which interface the device has.
    case confirmsVersion(MMIOVersion)
}

/// Limits and user input for an analysis. Every limit bounds memory against hostile traces.
public struct AnalysisOptions: Sendable {
    /// Device types given by the user (`--device 0x…=net`), by `vdev` pointer.
    public var deviceTypes: [HostPointer: DeviceType] = [:]
    /// Requests tracked per queue; QEMU's queues hold at most 1024, the spec allows 32768.
    public var maximumInFlightPerQueue = 32_768
    /// Requests tracked across all queues (about 40 bytes each).
    public var maximumInFlightTotal = 262_144
    /// virtio-mmio writes held while waiting for the Status write that names their device.
    public var maximumPendingRegisterWrites = 4_096
    public var maximumDevices = 4_096
    /// Queues modelled (about 20 KiB each at most, with latency histograms).
    public var maximumQueues = 8_192
    /// Findings kept in full per (rule, device, queue); the rest are counted.
    public var findingsPerKey = 20

    public init() {}
}

/// The verifying driver/device model: replays trace events, keeps per-device and per-queue
/// state, runs the rules of ``RuleCatalog`` and measures latencies.
///
/// Feed it ``TraceItem``s in file order with ``consume(_:)``, then call ``finish(statistics:)``.
/// It is a value type so that its state is checked for exclusive access at compile time.
public struct Analyzer {
    public let file: String
    public let options: AnalysisOptions
    private(set) var devices: [DeviceState] = []
    private var deviceSlots: [HostPointer: Int] = [:]
    private(set) var queues: [QueueState] = []
    private var queueSlots: [HostPointer: Int] = [:]
    /// The last device and queue looked up: consecutive events mostly name the same ones.
    private var lastDevice: (vdev: HostPointer, slot: Int) = (0, -1)
    private var lastQueue: (vq: HostPointer, slot: Int) = (0, -1)
    private var sink: FindingSink
    private var findingDevices: [Int?] = []
    private var ignoredEvents = 0
    private var sawTimestamp = false
    private var sawRegisterWrites = false

    /// virtio-mmio writes not yet tied to a device. QEMU's trace does not say which device a
    /// write went to; the `virtio_set_status` that follows a Status write names it, and the
    /// writes before it (feature and queue set-up during one device's probe) go with it.
    private var pendingWrites: [PendingRegisterAccess] = []
    private var droppedPendingWrites = 0
    private var firstUnattributedLine: Int?

    /// What the previous event said about the one that follows it (one-event look-behind).
    private struct LookBehind {
        /// A Status register write: the next `virtio_set_status` names its device.
        var statusWrite = false
        /// A QueueNotify register write: the next `virtio_queue_notify` names its device.
        var notifyWrite = false
        /// Any virtio-mmio register write: a guest-error line next means QEMU refused it.
        var registerWrite = false
        /// A `virtqueue_pop`: a QEMU error next means the device detached that element.
        var pop = false
        /// A virtio-pci notify-area write: the next `virtio_queue_notify` is a virtio-pci device's.
        var pciNotifyWrite = false
        /// The device the previous event named (for the IRQ/MSI-X events that follow `virtio_notify`).
        var device: Int?
        /// A PCI config write turned bus mastering off on this function: QEMU clears DRIVER_OK next.
        var busMasterOffBy: String?
        /// A virtio-pci common-config device_status write by this region's device.
        var commonConfigStatusBy: String?
    }

    private var lookBehind = LookBehind()
    private var lastPop: (queue: Int, elem: HostPointer)?
    private var qemuNames: [String: (DeviceType?, Bool)] = [:]
    /// Requests in flight on all queues together (bounded by `maximumInFlightTotal`).
    private var inFlightTotal = 0

    public init(file: String, options: AnalysisOptions = AnalysisOptions()) {
        self.file = file
        self.options = options
        self.sink = FindingSink(perKeyLimit: options.findingsPerKey)
    }

    // MARK: - Input

    public mutating func consume(_ item: TraceItem) {
        switch item {
        case .record(let record): self.handle(record)
        case .problem(let problem): self.report(problem)
        }
    }

    private mutating func report(_ problem: InputProblem) {
        let rule: RuleInfo
        let message: String
        switch problem.kind {
        case .malformed(let reason):
            rule = InputRules.malformedLine
            message = "malformed event line: \(reason)"
        case .overlong(let limit):
            rule = InputRules.lineTooLong
            message = "line longer than \(limit) bytes skipped"
        case .unterminated:
            rule = InputRules.truncatedLastLine
            message = "the last line has no newline: the trace was cut off (it is decoded only if complete)"
        }
        self.emit(rule, message, line: problem.line, offset: problem.offset)
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private mutating func handle(_ record: TraceRecord) {
        if record.timestamp != nil { self.sawTimestamp = true }
        let previous = self.lookBehind
        self.lookBehind = LookBehind()

        switch record.event {
        case .setStatus(let vdev, let value):
            guard let device = self.device(vdev) else { return }
            if previous.statusWrite { self.attributePendingWrites(to: device) }
            if previous.commonConfigStatusBy != nil { self.devices[device].setTransport(.pci) }
            self.setStatus(
                device, DeviceStatus(rawValue: value), record: record, byRegisterWrite: previous.statusWrite || previous.commonConfigStatusBy != nil,
                busMasterOffBy: previous.busMasterOffBy)
            if let name = previous.busMasterOffBy ?? previous.commonConfigStatusBy { self.decideTypeFromQEMUName(name, device: device) }
            self.lookBehind.device = device

        case .queueNotify(let vdev, let index, let vq):
            guard let device = self.device(vdev), let queue = self.queue(vq) else { return }
            self.attach(queue, to: device, index: index >= 0 ? Int(index) : nil)
            if previous.notifyWrite, case .write(let last) = self.pendingWrites.last, last.register == .queueNotify {
                self.pendingWrites.removeLast()
                self.devices[device].setTransport(.mmio)
            }
            if previous.pciNotifyWrite { self.devices[device].setTransport(.pci) }
            if let below = self.devices[device].ioeventfdSweepBelow, index >= 0, index < below {
                self.queues[queue].qemuNotifies += 1
                self.devices[device].ioeventfdSweepBelow = index == 0 ? nil : index
            } else {
                self.devices[device].ioeventfdSweepBelow = nil
                self.runQueueRules(self.queues[queue].kick(time: record.timestamp), queue: queue, record: record)
            }
            self.lookBehind.device = device

        case .pop(let vq, let elem, let inNum, let outNum):
            guard let queue = self.queue(vq) else { return }
            self.pop(queue, elem: elem, inNum: inNum, outNum: outNum, record: record)
            self.lastPop = (queue, elem)
            self.lookBehind.pop = true
            self.lookBehind.device = self.queues[queue].device

        case .fill(let vq, let elem, let length, _):
            guard let queue = self.queue(vq) else { return }
            self.fill(queue, elem: elem, length: length, record: record)
            self.lookBehind.device = self.queues[queue].device

        case .flush(let vq, let count):
            guard let queue = self.queue(vq) else { return }
            self.flush(queue, count: count, record: record)
            self.lookBehind.device = self.queues[queue].device

        case .notify(let vdev, let vq), .notifyIrqfd(let vdev, let vq):
            guard let device = self.device(vdev), let queue = self.queue(vq) else { return }
            self.attach(queue, to: device, index: nil)
            self.interrupt(queue, record: record)
            self.lookBehind.device = device

        case .mmioWrite(let offset, let value):
            self.sawRegisterWrites = true
            if offset == MMIORegister.interruptACK.rawValue { return }  // not checked; would only be misattributed
            self.holdRegisterWrite(
                RegisterWrite(
                    register: offset < MMIORegister.configOffset ? MMIORegister(rawValue: offset) : nil, offset: offset,
                    value: value, line: record.line, timestamp: record.timestamp))
            self.lookBehind.statusWrite = offset == MMIORegister.status.rawValue
            self.lookBehind.notifyWrite = offset == MMIORegister.queueNotify.rawValue
            self.lookBehind.registerWrite = true

        case .mmioQueueWrite(let value, let maximum):
            // QEMU logs this right after the QueueNum write itself; merge the two.
            if case .write(var last) = self.pendingWrites.last, last.register == .queueNum, last.value == value,
                last.queueNumMax == nil
            {
                last.queueNumMax = maximum
                self.pendingWrites[self.pendingWrites.count - 1] = .write(last)
            } else {
                self.holdRegisterWrite(
                    RegisterWrite(
                        register: .queueNum, offset: MMIORegister.queueNum.rawValue, value: value, queueNumMax: maximum,
                        line: record.line, timestamp: record.timestamp))
            }

        case .mmioSettingIRQ:
            if let device = previous.device { self.devices[device].setTransport(.mmio) }

        case .pciNotify:
            if let device = previous.device { self.devices[device].setTransport(.pci) }

        case .pciNotifyWrite:
            self.lookBehind.pciNotifyWrite = true

        case .pciConfigWrite(let name, let offset, let value):
            // PCI_COMMAND (offset 4) without Bus Master (bit 2): QEMU clears DRIVER_OK itself.
            if offset == 4, value & 4 == 0 { self.lookBehind.busMasterOffBy = name }

        case .memoryRegionWrite(let region, let address, _, _):
            let prefix = "virtio-pci-common-"
            if region.hasPrefix(prefix), address == 0x14 {  // device_status in virtio_pci_common_cfg
                self.lookBehind.commonConfigStatusBy = String(region.dropFirst(prefix.count))
            }

        case .blkRequestComplete(let vdev, let request, _), .blkReadWriteComplete(let vdev, let request, _),
            .blkHandleRead(let vdev, let request, _, _), .blkHandleWrite(let vdev, let request, _, _):
            guard let device = self.device(vdev) else { return }
            self.devices[device].decideType(.block, by: .traceEvent(Self.eventName(record.event)))
            if let (queue, elem) = self.lastPop, elem == request { self.attach(queue, to: device, index: nil) }
            self.lookBehind.device = device

        case .blkSubmitMultiRequest(let vdev, _, _, _, _, _), .blkOther(_, let vdev):
            guard let device = self.device(vdev) else { return }
            self.devices[device].decideType(.block, by: .traceEvent(Self.eventName(record.event)))
            self.lookBehind.device = device

        case .rng(let event, let vdev, _):
            guard let device = self.device(vdev) else { return }
            self.devices[device].decideType(.entropy, by: .traceEvent(event.rawValue))
            if event == .popped, let (queue, _) = self.lastPop { self.attach(queue, to: device, index: nil) }
            self.lookBehind.device = device

        case .serialHandleControl, .serialOther:
            // The device handles a control message or flushes port data right after popping it.
            if let (queue, _) = self.lastPop, let device = self.queues[queue].device {
                self.devices[device].decideType(.console, by: .traceEvent(Self.eventName(record.event)))
            }

        case .qemuMessage(let message, let text):
            self.emit(QEMUReported.rule(for: message), "QEMU reported: \(text)", line: record.line, time: record.timestamp)
            if previous.registerWrite { self.registerWriteRejected(message) }
            // A device that finds a request malformed detaches the element it just popped (not traced).
            if previous.pop, let (queue, elem) = self.lastPop {
                let before = self.queues[queue].inFlightCount
                self.queues[queue].detach(elem)
                self.inFlightTotal += self.queues[queue].inFlightCount - before
            }

        case .allocElement, .mmioRead, .mmioGuestPage, .serialSendControl, .netOther, .inputQueueFull, .blkDataPlane:
            break
        }
    }

    static func eventName(_ event: TraceEvent) -> String {
        switch event {
        case .blkRequestComplete: return "virtio_blk_req_complete"
        case .blkReadWriteComplete: return "virtio_blk_rw_complete"
        case .blkHandleRead: return "virtio_blk_handle_read"
        case .blkHandleWrite: return "virtio_blk_handle_write"
        case .blkSubmitMultiRequest: return "virtio_blk_submit_multireq"
        case .blkOther(let name, _): return name.rawValue
        case .serialHandleControl: return "virtio_serial_handle_control_message"
        case .serialOther(let name, _): return name.rawValue
        default: return "\(event)"
        }
    }

    // MARK: - Devices and queues

    private mutating func device(_ vdev: HostPointer) -> Int? {
        if self.lastDevice.slot >= 0, self.lastDevice.vdev == vdev { return self.lastDevice.slot }
        if let slot = self.deviceSlots[vdev] {
            self.lastDevice = (vdev, slot)
            return slot
        }
        guard self.devices.count < self.options.maximumDevices else {
            self.ignoredEvents += 1
            return nil
        }
        let slot = self.devices.count
        var state = DeviceState(vdev: vdev, ordinal: slot)
        if let type = self.options.deviceTypes[vdev] { state.decideType(type, by: .user) }
        self.devices.append(state)
        self.deviceSlots[vdev] = slot
        self.lastDevice = (vdev, slot)
        return slot
    }

    private mutating func queue(_ vq: HostPointer) -> Int? {
        if self.lastQueue.slot >= 0, self.lastQueue.vq == vq { return self.lastQueue.slot }
        if let slot = self.queueSlots[vq] {
            self.lastQueue = (vq, slot)
            return slot
        }
        guard self.queues.count < self.options.maximumQueues else {
            self.ignoredEvents += 1
            return nil
        }
        let slot = self.queues.count
        self.queues.append(QueueState(vq: vq))
        self.queueSlots[vq] = slot
        self.lastQueue = (vq, slot)
        return slot
    }

    private mutating func attach(_ queue: Int, to device: Int, index: Int?) {
        if self.queues[queue].device == nil { self.queues[queue].device = device }
        guard self.queues[queue].device == device, let index else { return }
        self.queues[queue].index = index
        self.devices[device].queueSlots[index] = queue
    }

    private mutating func decideTypeFromQEMUName(_ name: String, device: Int) {
        let (type, pci) = self.qemuNames[name] ?? Self.interpretQEMUName(name, cache: &self.qemuNames)
        if let type { self.devices[device].decideType(type, by: .qemuName(name)) }
        if pci { self.devices[device].setTransport(.pci) }
    }

    /// What QEMU's name for a PCI function or memory region says (`virtio-net-pci`,
    /// `virtio-pci-common-virtio-blk`); remembered per name, since the same few names recur.
    private static func interpretQEMUName(
        _ name: String, cache: inout [String: (DeviceType?, Bool)]
    ) -> (DeviceType?, Bool) {
        let lowered = name.lowercased()
        let table: [(String, DeviceType)] = [
            ("net", .network), ("blk", .block), ("rng", .entropy), ("serial", .console), ("console", .console),
            ("input", .input), ("keyboard", .input), ("mouse", .input), ("tablet", .input), ("scsi", .scsiHost),
            ("balloon", .traditionalBalloon), ("9p", .ninePTransport), ("gpu", .gpu), ("vsock", .socket),
        ]
        let meaning = (table.first { lowered.contains($0.0) }?.1, lowered.contains("pci"))
        if cache.count < 256 { cache[name] = meaning }
        return meaning
    }

    // MARK: - Status

    private mutating func setStatus(
        _ device: Int, _ new: DeviceStatus, record: TraceRecord, byRegisterWrite: Bool, busMasterOffBy: String?
    ) {
        let state = self.devices.withUnsafeBufferPointer { DeviceState.context(of: $0.baseAddress! + device) }
        let old = state.status
        let origin: StatusOrigin
        if new.contains(.deviceNeedsReset), !old.contains(.deviceNeedsReset) {
            origin = .device
        } else if busMasterOffBy != nil, new == old.subtracting(.driverOK) {
            origin = .qemuBusMasterOff
        } else if self.devices[device].statusSeen, new == old, !byRegisterWrite {
            origin = .qemuRewrite
        } else if state.transport == .mmio, self.sawRegisterWrites, !byRegisterWrite {
            // On virtio-mmio every driver status change is a Status register write, which is traced.
            origin = .qemuRewrite
        } else {
            origin = .driver
        }
        let change = StatusChange(old: old, new: new, origin: origin)
        for rule in RuleCatalog.statusRules {
            if let message = rule.check(change, device: state) {
                self.emit(rule.info, message, record: record, device: device)
            }
        }
        self.apply(change, to: device)
    }

    private mutating func apply(_ change: StatusChange, to device: Int) {
        self.devices[device].apply(change)
        if change.new.rawValue == 0, change.old.rawValue != 0 { self.markDraining(device) }
        if change.new.rawValue != 0, change.origin == .driver, change.old.rawValue == 0 { self.dropDrained(device) }
    }

    /// Requests in flight at a reset are completed (or dropped) by the reset itself.
    private mutating func markDraining(_ device: Int) {
        for queue in self.devices[device].queueSlots.values {
            for key in self.queues[queue].inFlight.keys { self.queues[queue].inFlight[key]?.draining = true }
        }
    }

    /// When the driver starts over, requests the reset dropped are gone.
    private mutating func dropDrained(_ device: Int) {
        for queue in self.devices[device].queueSlots.values {
            let before = self.queues[queue].inFlightCount
            self.queues[queue].inFlight = self.queues[queue].inFlight.filter { !$0.value.draining }
            self.inFlightTotal += self.queues[queue].inFlightCount - before
            self.queues[queue].fillsAwaitingFlush = 0
            self.queues[queue].fillTimes.removeAll()
            self.queues[queue].pendingKick = nil
            self.queues[queue].pendingFlush = nil
        }
    }

    // MARK: - Requests

    private mutating func pop(_ queue: Int, elem: HostPointer, inNum: UInt32, outNum: UInt32, record: TraceRecord) {
        let before = self.queues[queue].inFlightCount
        let room = self.options.maximumInFlightTotal - self.inFlightTotal
        let limit = min(self.options.maximumInFlightPerQueue, before + max(room, 0))
        let activity = self.queues[queue].pop(
            elem: elem, inNum: inNum, outNum: outNum, line: record.line, time: record.timestamp, limit: limit)
        self.inFlightTotal += self.queues[queue].inFlightCount - before
        self.runQueueRules(activity, queue: queue, record: record)
    }

    private mutating func fill(_ queue: Int, elem: HostPointer, length: UInt32, record: TraceRecord) {
        let before = self.queues[queue].inFlightCount
        let activity = self.queues[queue].fill(elem: elem, length: length, time: record.timestamp)
        self.inFlightTotal += self.queues[queue].inFlightCount - before
        self.runQueueRules(activity, queue: queue, record: record)
    }

    private mutating func flush(_ queue: Int, count: UInt32, record: TraceRecord) {
        let activity = self.queues[queue].flush(count: count, time: record.timestamp)
        self.runQueueRules(activity, queue: queue, record: record)
    }

    private mutating func interrupt(_ queue: Int, record: TraceRecord) {
        let activity = self.queues[queue].interrupt(time: record.timestamp)
        self.runQueueRules(activity, queue: queue, record: record)
    }

    private mutating func runQueueRules(_ activity: QueueActivity, queue: Int, record: TraceRecord) {
        // Fields are read through buffer pointers: reading them through the arrays would copy
        // the whole device state (and retain everything in it) on every event.
        let (index, device) = self.queues.withUnsafeBufferPointer {
            ($0.baseAddress![queue].index, $0.baseAddress![queue].device)
        }
        var context = QueueContext(index: index, deviceStatus: nil, legacy: false, size: nil)
        if let device {
            self.devices.withUnsafeBufferPointer { devices in
                let state = devices.baseAddress! + device
                guard state.pointee.statusSeen else { return }
                context.deviceStatus = state.pointee.status
                context.legacy = state.pointee.mmioVersion == .legacy
                if case .pop = activity, let index, !state.pointee.mmioQueues.isEmpty {
                    context.size = state.pointee.mmioQueues[UInt32(truncatingIfNeeded: index)]?.size
                }
            }
        }
        for rule in RuleCatalog.queueRules {
            if let message = rule.check(activity, queue: context) {
                self.emit(rule.info, message, record: record, device: device, queue: index)
            }
        }
    }

    // MARK: - virtio-mmio registers

    private mutating func holdRegisterWrite(_ write: RegisterWrite) {
        self.hold(.write(write))
    }

    private mutating func hold(_ access: PendingRegisterAccess) {
        if self.pendingWrites.count >= self.options.maximumPendingRegisterWrites {
            // Drop the older half at once, so a flood of unclaimed writes costs O(1) per write.
            let half = max(1, self.pendingWrites.count / 2)
            for case .write(let dropped) in self.pendingWrites.prefix(1) where self.firstUnattributedLine == nil {
                self.firstUnattributedLine = dropped.line
            }
            self.pendingWrites.removeFirst(half)
            self.droppedPendingWrites += half
        }
        self.pendingWrites.append(access)
    }

    /// QEMU refused the register write it just traced: drop it, and keep what the refusal
    /// says about the device's interface version.
    private mutating func registerWriteRejected(_ message: QEMUMessage) {
        let version: MMIOVersion?
        switch message {
        case .mmioLegacyRegister: version = .modern  // "write to legacy register … in non-legacy mode"
        case .mmioModernRegister, .queueEnableLegacy, .mmioFeatureSelect: version = .legacy
        case .mmioWrongSize, .mmioReadOnlyWrite, .mmioBadOffset, .alignmentChange: version = nil
        default: return
        }
        if case .write = self.pendingWrites.last { self.pendingWrites.removeLast() }
        if let version { self.hold(.confirmsVersion(version)) }
    }

    private mutating func attributePendingWrites(to device: Int) {
        let accesses = self.pendingWrites
        self.pendingWrites.removeAll(keepingCapacity: true)
        for access in accesses {
            switch access {
            case .write(let write): self.apply(write, to: device)
            case .confirmsVersion(let version):
                self.devices[device].mmioVersion = version
                self.devices[device].mmioVersionConfirmed = true
            }
        }
    }

    private mutating func apply(_ write: RegisterWrite, to device: Int) {
        do {
            let before = self.devices.withUnsafeBufferPointer { DeviceState.context(of: $0.baseAddress! + device) }
            for rule in RuleCatalog.registerRules {
                if let message = rule.check(write, device: before) {
                    self.emit(rule.info, message, line: write.line, time: write.timestamp, device: device)
                }
            }
        }
        self.devices[device].apply(write)
    }


    // MARK: - Findings

    private mutating func emit(
        _ rule: RuleInfo, _ message: String, record: TraceRecord, device: Int? = nil, queue: Int? = nil
    ) {
        self.emit(rule, message, line: record.line, time: record.timestamp, device: device, queue: queue)
    }

    private mutating func emit(
        _ rule: RuleInfo, _ message: String, line: Int?, offset: UInt64? = nil, time: Timestamp? = nil,
        device: Int? = nil, queue: Int? = nil
    ) {
        // Devices are labelled by pointer here; ``finish`` relabels them once types are known.
        let label = device.map { "0x" + String(self.devices[$0].vdev, radix: 16) }
        let location = Location(
            file: self.file, line: line, offset: offset, timestamp: time, device: label, queue: queue)
        self.sink.add(Finding(rule: rule, message: message, location: location))
    }

    // MARK: - End of trace

    public mutating func finish(statistics: InputStatistics) -> AnalysisReport {
        self.attributeLeftoverWrites()
        var queuesByDevice = [[Int]](repeating: [], count: self.devices.count)
        for (slot, queue) in self.queues.enumerated() {
            if let device = queue.device { queuesByDevice[device].append(slot) }
        }
        for device in self.devices.indices where self.devices[device].type == nil {
            self.inferTypeFromQueues(device, queues: queuesByDevice[device].map { self.queues[$0] })
        }
        var controlQueues: [Int: Int] = [:]
        for device in self.devices.indices {
            let owned = queuesByDevice[device].map { self.queues[$0] }
            if let control = self.netControlQueue(self.devices[device], queues: owned) { controlQueues[device] = control }
        }
        for (slot, queue) in self.queues.enumerated() {
            let device = queue.device.map { self.devices[$0] }
            let role = self.role(of: queue, netControlQueue: queue.device.flatMap { controlQueues[$0] })
            for rule in RuleCatalog.summaryRules {
                for finding in rule.check(device: device, queue: queue, role: role) {
                    self.emit(
                        rule.info, finding.message, line: finding.line, time: finding.timestamp, device: queue.device,
                        queue: self.queues[slot].index)
                }
            }
        }
        let labels = Dictionary(
            self.devices.map { ("0x" + String($0.vdev, radix: 16), $0.label) }, uniquingKeysWith: { first, _ in first })
        let findings = self.sink.kept.map { finding -> Finding in
            var relabelled = finding
            if let pointer = finding.location.device { relabelled.location.device = labels[pointer] ?? pointer }
            return relabelled
        }
        return AnalysisReport(
            file: self.file, input: statistics, timestamped: self.sawTimestamp,
            devices: self.devices.map { self.deviceReport($0, queues: queuesByDevice[$0.ordinal]) }, findings: findings, findingCounts: self.sink.countsByRule,
            totalFindings: self.sink.total, omittedFindings: self.sink.dropped,
            ignoredEvents: self.ignoredEvents + self.queues.reduce(0) { $0 + $1.untrackedPopsTotal })
    }

    /// Writes still waiting for a Status write: with one virtio-mmio device they can only be its.
    private mutating func attributeLeftoverWrites() {
        let mmio = self.devices.indices.filter { self.devices[$0].transport == .mmio }
        if mmio.count == 1, !self.pendingWrites.isEmpty {
            self.attributePendingWrites(to: mmio[0])
        }
        let waiting = self.pendingWrites.compactMap { access -> Int? in
            if case .write(let write) = access { return write.line }
            return nil
        }
        let unattributed = waiting.count + self.droppedPendingWrites
        guard unattributed > 0 else { return }
        let first = self.firstUnattributedLine ?? waiting.first
        self.emit(
            InputRules.unattributedRegisterWrites,
            "\(unattributed) virtio-mmio register write(s) were not followed by a Status write naming their device",
            line: first)
    }

    private mutating func inferTypeFromQueues(_ device: Int, queues: [QueueState]) {
        let owned = queues.filter { $0.index != nil }
        guard !owned.isEmpty else { return }
        let byIndex = Dictionary(owned.map { ($0.index!, $0) }, uniquingKeysWith: { first, _ in first })
        let indices = Set(byIndex.keys)
        if let rx = byIndex[0], let tx = byIndex[1], rx.shapes.writableOnly.count > 0,
            tx.shapes.readableOnly.count > 0, tx.zeroLengthFills == tx.fills, indices.max() ?? 0 <= 2
        {
            self.devices[device].decideType(
                .network, by: .queueShape("queue 0 takes writable buffers, queue 1 readable ones completed with length 0"))
        } else if let blockLike = owned.first(where: { $0.blockShapedFills > 0 && $0.shapes.mixed.count > 0 }) {
            self.devices[device].decideType(
                .block,
                by: .queueShape(
                    "queue \(blockLike.index!) returns 512·n+1 bytes (data and a status byte) for readable+writable chains"))
        } else if indices.contains(3) || (indices.max() ?? 0) > 3 {
            self.devices[device].decideType(
                .console, by: .queueShape("\(indices.count) queues including control queues 2/3 (multiport console)"))
        } else if indices == [0], let only = byIndex[0], only.shapes.writableOnly.count == only.pops, only.pops > 0 {
            self.devices[device].decideType(.entropy, by: .queueShape("a single queue of device-writable buffers"))
        }
    }

    private func role(of queue: QueueState, netControlQueue control: Int? = nil) -> QueueRole {
        let device = queue.device.map { self.devices[$0] }
        return QueueRole.of(index: queue.index, device: device, netControlQueue: control)
    }

    /// The net control queue: 2 with one queue pair; with several pairs (or unknown features,
    /// as on virtio-pci) the highest even-numbered queue, if its requests look like control
    /// commands (a readable command and a writable ack) or it was never used.
    /// Spec: virtio v1.2 §5.1.2 (controlq is queue 2N).
    private func netControlQueue(_ state: DeviceState, queues owned: [QueueState]) -> Int? {
        guard state.type == .network else { return nil }
        if let features = state.negotiatedFeatures ?? state.driverFeatures, !features.contains(.netMultiqueue) {
            return features.contains(.netControlQueue) ? 2 : nil
        }
        guard let candidate = owned.compactMap(\.index).filter({ $0 > 0 && $0 % 2 == 0 }).max(),
            let queue = owned.first(where: { $0.index == candidate })
        else { return nil }
        return queue.shapes.mixed.count > 0 || queue.pops == 0 ? candidate : nil
    }

    private func deviceReport(_ device: DeviceState, queues slots: [Int]) -> DeviceReport {
        let owned = slots.map { self.queues[$0] }
        let control = self.netControlQueue(device, queues: owned)
        let queues = owned
            .sorted { ($0.index ?? .max, $0.vq) < ($1.index ?? .max, $1.vq) }
            .map { queue -> QueueReport in
                let stages: [(String, LatencyHistogram)] = [
                    ("kick→pop", queue.kickToPop), ("pop→fill", queue.popToFill), ("fill→flush", queue.fillToFlush),
                    ("flush→interrupt", queue.flushToInterrupt),
                ]
                var active: Int64?
                if let first = queue.firstActivity, let last = queue.lastActivity {
                    active = last.nanoseconds(since: first)
                }
                return QueueReport(
                    index: queue.index, vq: queue.vq, role: self.role(of: queue, netControlQueue: control),
                    kicks: queue.kicks, qemuNotifies: queue.qemuNotifies, pops: queue.pops, fills: queue.fills,
                    flushes: queue.flushes, flushedElements: queue.flushedElements, interrupts: queue.interrupts,
                    bytesUsed: queue.bytesUsed, maxInFlight: queue.maxInFlight, inFlightAtEnd: queue.inFlightCount,
                    activeNanoseconds: active,
                    latencies: stages.compactMap { LatencySummary(stage: $0.0, histogram: $0.1) },
                    negativeIntervals: queue.negativeIntervals)
            }
        return DeviceReport(
            label: device.label, vdev: device.vdev, type: device.type,
            typeDecidedBy: device.typeSource?.description ?? "undecided: no device-specific evidence in the trace",
            transport: device.transport, mmioVersion: device.transport == .mmio ? (device.mmioVersion ?? nil) : nil,
            statusHistory: device.statusHistory, statusWrites: device.statusWrites, finalStatus: device.status,
            driverFeatures: device.negotiatedFeatures ?? device.driverFeatures, queues: queues)
    }
}
