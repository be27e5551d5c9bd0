import TraceSources
import VirtioModel

/// A virtio-mmio access waiting for the Status write that names its device.
enum PendingRegisterAccess: Sendable {
    case write(RegisterWrite)
    /// A read a ``RegisterReadRule`` looks at.
    case read(RegisterRead)
    /// QEMU's refusal of a write showed which interface the device has.
    case confirmsVersion(MMIOVersion)
    /// A read of the device-specific configuration (`offset` from its start), and a
    /// ConfigGeneration read (``ConfigReadRuns``).
    case configRead(offset: UInt64, place: TracePlace)
    case generationRead
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
    var devices: [DeviceState] = []
    var deviceSlots = PointerSlots()
    var queues: [QueueState] = []
    var queueSlots = PointerSlots()
    var sink: FindingSink
    var findingDevices: [Int?] = []
    var ignoredEvents = 0
    /// The line of the first event ignored for the model's limits.
    var firstIgnoredLine: Int?
    /// The line being handled.
    var currentLine = 0
    /// ``RuleCatalog/queueRuleTable``, kept here.
    let queueRules = RuleCatalog.queueRuleTable
    var sawRegisterWrites = false
    /// The trace has `memory_region_ops_read` on a virtio region: reads of a virtio-pci common
    /// configuration structure, with their values, can be seen, so the rules that want a read
    /// before a write (RESET-WAIT-ZERO, PCI-MSIX-RANGE, INIT-REREAD-FEATURES_OK on virtio-pci)
    /// judge its absence.
    var sawRegionReads = false
    /// Each virtio-mmio register block's probe by its address (MMIO-PROBE-ORDER), for at most
    /// ``AnalysisOptions/maximumDevices`` blocks.
    var mmioProbes: [UInt64: MMIOProbeOrder.Probe] = [:]

    /// virtio-mmio writes not yet tied to a device. QEMU's trace does not say which device a
    /// write went to; the `virtio_set_status` that follows a Status write names it, and the
    /// writes before it (feature and queue set-up during one device's probe) go with it.
    var pendingWrites: [PendingRegisterAccess] = []
    var droppedPendingWrites = 0
    var firstUnattributedLine: Int?

    /// What the previous event said about the one that follows it (one-event look-behind).
    struct LookBehind {
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
        /// A PCI config write turned bus mastering off on the function named `lookBehindName`:
        /// QEMU clears DRIVER_OK next.
        var busMasterOff = false
        /// A virtio-pci common-config device_status write by the device named `lookBehindName`,
        /// to the structure at `commonConfigBase`.
        var commonConfigStatus = false
        var commonConfigBase: UInt64 = 0
        /// A virtio-pci `queue_enable` write other than 1, already reported: QEMU's
        /// "wrong value for queue_enable" next is the same fault.
        var queueEnableValueReported = false
        /// A write to the `virtio-mmio` region (`memory_region_ops_write`), whose
        /// `virtio_mmio_write_offset` comes next: its size and the register block it was to;
        /// for a Status write, the block it named.
        var mmioWriteSize: UInt8?
        var mmioWriteBlock: UInt64?
        var statusWriteBlock: UInt64?
    }

    /// Plain values only, so that passing it on costs no reference counting per event.
    var lookBehind = LookBehind()
    /// The QEMU name (PCI function or device) of `lookBehind.busMasterOff` or
    /// `.commonConfigStatus`; read only when one of them is set.
    var lookBehindName = ""
    var lastPop: (queue: Int, elem: HostPointer)?
    /// MMIO-NOTIFY-QUEUE: the last QueueNotify write, until its thread's next event; whether
    /// the trace has shown a `virtio_queue_notify`; the drops seen before it; whether a device
    /// set DEVICE_NEEDS_RESET itself (it then ignores notifications).
    var unmatchedNotify: UnmatchedNotify?
    var sawQueueNotifyEvent = false
    var earlyDroppedNotifies: [UnmatchedNotify] = []
    var deviceSetNeedsReset = false
    /// The device whose console control message QEMU handled last (``ConsoleControl``).
    var consoleControlDevice: Int?
    var qemuNames: [String: (DeviceType?, Bool)] = [:]
    /// virtio-pci common configuration structures by their traced address: the device whose
    /// `virtio_set_status` followed the last device_status write there (at most
    /// `maximumDevices` structures). Two devices of one type share QEMU's name for the region;
    /// their BARs tell them apart.
    var commonConfigDevices: [UInt64: Int] = [:]
    /// Requests in flight on all queues together (bounded by `maximumInFlightTotal`).
    var inFlightTotal = 0

    public init(file: String, options: AnalysisOptions = AnalysisOptions()) {
        self.file = file
        self.options = options
        self.sink = FindingSink(perKeyLimit: options.findingsPerKey)
    }

    // MARK: - Input

    /// Feeds a batch of items, read in place (``ConcurrentTraceReader/withNextBatch(_:)``).
    public mutating func consume(_ items: UnsafeMutableBufferPointer<TraceItem>) {
        // Through an exclusive (`inout`) access, so that no item is copied out of the buffer.
        for index in items.indices { self.consume(inPlace: &items[index]) }
    }

    private mutating func consume(inPlace item: inout TraceItem) { self.consume(item) }

    public mutating func consume(_ item: TraceItem) {
        switch item {
        case .record(let record): self.handle(record)
        case .problem(let problem): self.report(problem)
        }
    }

    mutating func report(_ problem: InputProblem) {
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
            message = "the trace ends inside its last line or record: it was cut off (a line is decoded only if complete)"
        case .dropped(let count):
            rule = InputRules.droppedEvents
            message = "QEMU dropped \(count) trace event(s) here (its trace buffer was full): requests, latencies and "
                + "status sequences around this point may be incomplete"
        }
        self.emit(rule, message, line: problem.line, offset: problem.offset)
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    mutating func handle(_ record: TraceRecord) {
        self.currentLine = record.line
        let previous = self.lookBehind
        self.lookBehind = LookBehind()
        if let pending = self.unmatchedNotify, pending.thread == record.thread { self.followNotify(pending, to: record) }

        switch record.event {
        case .setStatus(let vdev, let value):
            guard let device = self.device(vdev) else { return }
            if previous.statusWrite {
                // Typed first, so that the held writes are judged knowing what the device is.
                if let block = previous.statusWriteBlock { self.identifyMMIODevice(device, block: block) }
                self.attributePendingWrites(to: device)
            }
            let before = self.devices[device].status
            if previous.commonConfigStatus {
                self.devices[device].setTransport(.pci)
                if self.commonConfigDevices[previous.commonConfigBase] != nil || self.commonConfigDevices.count < self.options.maximumDevices {
                    self.commonConfigDevices[previous.commonConfigBase] = device
                }
            }
            self.setStatus(
                device, DeviceStatus(rawValue: value), record: record, byRegisterWrite: previous.statusWrite || previous.commonConfigStatus,
                busMasterOffBy: previous.busMasterOff ? self.lookBehindName : nil)
            if previous.busMasterOff || previous.commonConfigStatus { self.decideTypeFromQEMUName(self.lookBehindName, device: device) }
            if previous.commonConfigStatus {
                self.devices[device].noteCommonConfigStatus(DeviceStatus(rawValue: value), before: before, at: TracePlace(record))
            }
            self.lookBehind.device = device

        case .queueNotify(let vdev, let index, let vq):
            if !self.sawQueueNotifyEvent { self.notifyEventSeen() }
            guard let device = self.device(vdev), let queue = self.queue(vq) else { return }
            self.attach(queue, to: device, index: index >= 0 ? Int(index) : nil)
            if previous.notifyWrite, case .write(let last) = self.pendingWrites.last, last.register == .queueNotify {
                self.pendingWrites.removeLast()
                self.devices[device].setTransport(.mmio)
                // The QueueNotify write names its device, as a Status write does: the accesses
                // held before it (a queue stopped after DRIVER_OK, say) are that device's.
                if !self.pendingWrites.isEmpty { self.attributePendingWrites(to: device) }
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
            if offset == MMIORegister.interruptACK.rawValue {
                // Judged by its value alone: held for a device it would only be misattributed
                // (an interrupt handler writes it, with no status write after to name the device).
                if let message = InterruptAckBits.check(value: value) {
                    self.emit(InterruptAckBits.info, message, line: record.line, time: record.timestamp)
                }
                return
            }
            self.holdRegisterWrite(
                RegisterWrite(
                    register: offset < MMIORegister.configOffset ? MMIORegister(rawValue: offset) : nil, offset: offset,
                    value: value, size: previous.mmioWriteSize.map(UInt64.init),
                    line: record.line, timestamp: record.timestamp))
            self.lookBehind.statusWrite = offset == MMIORegister.status.rawValue
            if self.lookBehind.statusWrite { self.lookBehind.statusWriteBlock = previous.mmioWriteBlock }
            self.lookBehind.notifyWrite = offset == MMIORegister.queueNotify.rawValue
            if self.lookBehind.notifyWrite {
                self.unmatchedNotify = UnmatchedNotify(value: value, place: TracePlace(record), thread: record.thread)
            }
            self.lookBehind.registerWrite = true

        case .mmioSettingIRQ:
            if let device = previous.device { self.devices[device].setTransport(.mmio) }

        case .mmioRead(let offset):
            if offset >= MMIORegister.configOffset {
                self.hold(.configRead(offset: offset - MMIORegister.configOffset, place: TracePlace(record)))
            } else if offset == MMIORegister.configGeneration.rawValue {
                self.hold(.generationRead)
            } else if let register = RuleCatalog.readRegisters[offset] {
                self.hold(.read(RegisterRead(register: register, line: record.line, timestamp: record.timestamp)))
            }

        case .allocElement:
            break

        default:
            self.handleLessFrequent(record, previous: previous)
        }
    }

    /// The events other than the queue lifecycle, status and register traffic that make up
    /// most of a trace: kept out of ``handle(_:)`` so that its frequent path stays small.
    @inline(never)
    mutating func handleLessFrequent(_ record: TraceRecord, previous: LookBehind) {
        switch record.event {
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

        case .pciNotify:
            if let device = previous.device { self.devices[device].setTransport(.pci) }

        case .pciNotifyWrite:
            self.lookBehind.pciNotifyWrite = true

        case .pciConfigWrite(let name, let offset, let value):
            // PCI_COMMAND (offset 4) without Bus Master (bit 2): QEMU clears DRIVER_OK itself.
            if offset == 4, value & 4 == 0 {
                self.lookBehind.busMasterOff = true
                self.lookBehindName = name
            }

        case .memoryRegionWrite(let region, let address, let value, let size):
            if region == MMIORegister.qemuRegionName {
                self.lookBehind.mmioWriteSize = UInt8(truncatingIfNeeded: min(size, 8))
                self.lookBehind.mmioWriteBlock = MMIORegister.block(ofTraced: address)
                self.mmioBlockAccess(address: address, read: nil, record: record)
                return
            }
            // QEMU traces the absolute address: the structure's offset is its low bits, the rest
            // is where the structure is (no underflow: the offset is the remainder).
            let offset = CommonConfig.offset(ofTraced: address)
            if region.hasPrefix(CommonConfig.qemuDeviceRegionPrefix) {
                self.configSpaceWrite(ConfigSpaceWrite(offset: offset, size: UInt64(size), value: value), structure: address - offset, record: record)
                return
            }
            guard region.hasPrefix(CommonConfig.qemuRegionPrefix) else { return }
            let base = address - offset
            if let device = self.commonConfigDevices[base] {
                let write = CommonConfigWrite(offset: offset, size: UInt64(size), value: value)
                let broken = self.checkCommonConfig(write, device: device, record: record)
                self.lookBehind.queueEnableValueReported = write.field == .queueEnable && broken.contains(EnableLast.info.id)
            }
            if offset == CommonConfig.Field.deviceStatus.rawValue {
                // The status change itself is taken from the `virtio_set_status` that follows.
                self.lookBehind.commonConfigStatus = true
                self.lookBehind.commonConfigBase = base
                self.lookBehindName = String(region.dropFirst(CommonConfig.qemuRegionPrefix.count))
            } else if let device = self.commonConfigDevices[base] {
                self.devices[device].applyCommonConfig(offset: offset, value: value, at: TracePlace(record))
            }

        case .memoryRegionRead(let region, let address, let value, let size):
            self.sawRegionReads = true
            if region == MMIORegister.qemuRegionName {
                self.mmioRegisterRead(offset: MMIORegister.offset(ofTraced: address), value: value, record: record)
                self.mmioBlockAccess(address: address, read: value, record: record)
                return
            }
            let offset = CommonConfig.offset(ofTraced: address)
            if region.hasPrefix(CommonConfig.qemuDeviceRegionPrefix) {
                self.configSpaceRead(ConfigSpaceRead(offset: offset, size: UInt64(size), value: value), structure: address - offset, record: record)
                return
            }
            guard region.hasPrefix(CommonConfig.qemuRegionPrefix), let device = self.commonConfigDevices[address - offset] else { return }
            switch CommonConfig.Field(rawValue: offset) {
            case .deviceFeature?:
                let word = UInt32(truncatingIfNeeded: value)
                if let message = FeatureVersion1Offer.check(word: word, select: self.devices[device].deviceFeatureSelect) {
                    self.emit(FeatureVersion1Offer.info, message, record: record, device: device)
                }
                self.devices[device].readOfferedFeatures(word)
            case let field? where field == .configMSIXVector || field == .queueMSIXVector:
                self.devices[device].readVector(field)
            case .deviceStatus?:
                let status = DeviceStatus(rawValue: UInt8(truncatingIfNeeded: value))
                let context = self.context(of: device)
                if let message = FeaturesOKReject.check(statusRead: status, device: context) {
                    self.emit(FeaturesOKReject.info, message, record: record, device: device)
                }
                if let message = RenegotiateStable.check(statusRead: status, device: context) {
                    self.emit(RenegotiateStable.info, message, record: record, device: device)
                }
                self.devices[device].readStatus(status, at: TracePlace(record))
            case .queueEnable?:
                let context = self.context(of: device)
                if let message = DeviceResetPresentsZero.check(queueEnable: value, device: context) {
                    self.emit(DeviceResetPresentsZero.info, message, record: record, device: device)
                }
            default:
                break
            }

        case .blkRequestComplete(let vdev, let request, _), .blkReadWriteComplete(let vdev, let request, _),
            .blkHandleRead(let vdev, let request, _, _), .blkHandleWrite(let vdev, let request, _, _):
            guard let device = self.device(vdev) else { return }
            self.devices[device].decideType(.block, by: .traceEvent(Self.eventName(record.event)))
            if let (queue, elem) = self.lastPop, elem == request { self.attach(queue, to: device, index: nil) }
            self.lookBehind.device = device
            if case .blkRequestComplete(_, _, let status) = record.event,
                let message = BlockStatusValue.check(
                    status: status, zoned: self.devices[device].negotiatedFeatures.map { $0.contains(.blockZoned) })
            {
                self.emit(BlockStatusValue.info, message, record: record, device: device)
            }

        case .blkSubmitMultiRequest(let vdev, _, _, _, _, _), .blkOther(_, let vdev):
            guard let device = self.device(vdev) else { return }
            self.devices[device].decideType(.block, by: .traceEvent(Self.eventName(record.event)))
            self.lookBehind.device = device

        case .rng(let event, let vdev, let bytes):
            guard let device = self.device(vdev) else { return }
            self.devices[device].decideType(.entropy, by: .traceEvent(event.rawValue))
            if event == .popped, let (queue, _) = self.lastPop { self.attach(queue, to: device, index: nil) }
            self.lookBehind.device = device
            if event == .pushed, let message = EntropyFillNonZero.check(bytes: bytes) {
                self.emit(EntropyFillNonZero.info, message, record: record, device: device)
            }

        case .serialHandleControl, .serialOther:
            // The device handles a control message or flushes port data right after popping it.
            if let (queue, _) = self.lastPop, let device = self.queues[queue].device {
                self.devices[device].decideType(.console, by: .traceEvent(Self.eventName(record.event)))
                if previous.pop, case .serialHandleControl(let event, let value) = record.event {
                    self.consoleMessage(event: event, value: value, device: device)
                }
            }
            if case .serialOther(.handleControlMessagePort, let port) = record.event { self.consoleMessagePort(port, record: record) }

        case .serialSendControl(let port, let event, let value):
            self.consoleDeviceMessage(port: port, event: event, value: value, record: record)

        case .qemuMessage(let message, let text):
            // Right after a `virtqueue_pop`, QEMU speaks of that element: its device and queue.
            let popped = previous.pop ? self.lastPop : nil
            if !(message == .queueEnableValue && previous.queueEnableValueReported) {
                let queue = popped.map { self.queues[$0.queue] }
                self.emit(
                    QEMUReported.rule(for: message), "QEMU reported: \(text)", line: record.line, time: record.timestamp,
                    device: queue?.device, queue: queue?.index)
            }
            if previous.registerWrite { self.registerWriteRejected(message) }
            // A device that finds a request malformed detaches the element it just popped (not traced).
            if let (queue, elem) = popped {
                self.queues[queue].qemuErrors += 1
                let before = self.queues[queue].inFlightCount
                self.queues[queue].detach(elem)
                self.inFlightTotal += self.queues[queue].inFlightCount - before
            }

        case .blkDataPlane(started: false, _) where previous.commonConfigStatus:
            // QEMU stops a disk's data plane inside a device_status write, before the
            // `virtio_set_status` that names the device: the write still goes with it.
            self.lookBehind = previous

        case .mmioGuestPage, .netOther, .inputQueueFull, .blkDataPlane, .allocElement, .mmioRead,
            .setStatus, .queueNotify, .pop, .fill, .flush, .notify, .notifyIrqfd, .mmioWrite, .mmioSettingIRQ:
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

    mutating func device(_ vdev: HostPointer) -> Int? {
        if let slot = self.deviceSlots.slot(of: vdev) { return slot }
        guard self.devices.count < self.options.maximumDevices else {
            self.ignoreEvent()
            return nil
        }
        let slot = self.devices.count
        var state = DeviceState(vdev: vdev, ordinal: slot)
        if let type = self.options.deviceTypes[vdev] { state.decideType(type, by: .user) }
        self.devices.append(state)
        self.deviceSlots.insert(vdev, slot: slot)
        return slot
    }

    /// What the rules may know of device `device` (an index into `devices`), read in place.
    func context(of device: Int) -> DeviceContext {
        self.devices.withUnsafeBufferPointer { DeviceState.context(of: $0.baseAddress! + device) }
    }

    /// An event past the model's limits: counted, and reported once at the end.
    mutating func ignoreEvent() {
        self.ignoredEvents += 1
        if self.firstIgnoredLine == nil { self.firstIgnoredLine = self.currentLine }
    }

    mutating func queue(_ vq: HostPointer) -> Int? {
        if let slot = self.queueSlots.slot(of: vq) { return slot }
        guard self.queues.count < self.options.maximumQueues else {
            self.ignoreEvent()
            return nil
        }
        let slot = self.queues.count
        self.queues.append(QueueState(vq: vq))
        self.queueSlots.insert(vq, slot: slot)
        return slot
    }

    mutating func attach(_ queue: Int, to device: Int, index: Int?) {
        if self.queues[queue].device == nil { self.queues[queue].device = device }
        guard self.queues[queue].device == device, let index else { return }
        self.queues[queue].index = index
        // Every notification names the queue again: the entry is written only when it changed.
        if self.devices[device].queueSlots[index] != queue { self.devices[device].queueSlots[index] = queue }
    }

    mutating func decideTypeFromQEMUName(_ name: String, device: Int) {
        let (type, pci) = self.qemuNames[name] ?? Self.interpretQEMUName(name, cache: &self.qemuNames)
        if let type { self.devices[device].decideType(type, by: .qemuName(name)) }
        if pci { self.devices[device].setTransport(.pci) }
    }

    /// What QEMU's name for a PCI function or memory region says (`virtio-net-pci`,
    /// `virtio-pci-common-virtio-blk`); remembered per name, since the same few names recur.
    static func interpretQEMUName(
        _ name: String, cache: inout [String: (DeviceType?, Bool)]
    ) -> (DeviceType?, Bool) {
        let meaning = (DeviceType(qemuName: name), name.lowercased().contains("pci"))
        if cache.count < 256 { cache[name] = meaning }
        return meaning
    }

    // MARK: - Status

    mutating func setStatus(
        _ device: Int, _ new: DeviceStatus, record: TraceRecord, byRegisterWrite: Bool, busMasterOffBy: String?
    ) {
        let state = self.context(of: device)
        let old = state.status
        let origin: StatusOrigin
        if new.contains(.deviceNeedsReset), !old.contains(.deviceNeedsReset) {
            origin = .device
            self.deviceSetNeedsReset = true
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
        if new.rawValue == 0, old.rawValue != 0 { self.closeConsoleControl(of: device) }
        if origin == .driver, new.contains(.driverOK), !old.contains(.driverOK) {
            self.devices[device].consoleControl.driverOK = TracePlace(record)
        }
        // The features are settled at FEATURES_OK; a legacy device has none, and takes them as they are at DRIVER_OK.
        let settles: DeviceStatus = self.devices[device].isLegacy ? .driverOK : .featuresOK
        if origin == .driver, new.contains(settles), !old.contains(settles) {
            self.devices[device].noteAcceptedFeatures(at: TracePlace(record))
        }
    }

    mutating func apply(_ change: StatusChange, to device: Int) {
        self.devices[device].apply(change)
        if change.new.rawValue == 0, change.old.rawValue != 0 { self.markDraining(device) }
        if change.new.rawValue != 0, change.origin == .driver, change.old.rawValue == 0 { self.dropDrained(device) }
    }

    /// Requests in flight at a reset are completed (or dropped) by the reset itself.
    mutating func markDraining(_ device: Int) {
        for queue in self.devices[device].queueSlots.slots {
            self.queues[queue].inFlight.markDraining()
            self.queues[queue].resetUsedIndex()
        }
    }

    /// When the driver starts over, requests the reset dropped are gone.
    mutating func dropDrained(_ device: Int) {
        for queue in self.devices[device].queueSlots.slots {
            let before = self.queues[queue].inFlightCount
            self.queues[queue].inFlight.removeDrained()
            self.inFlightTotal += self.queues[queue].inFlightCount - before
            self.queues[queue].fillsAwaitingFlush = 0
            self.queues[queue].fillTimes.removeAll()
            self.queues[queue].pendingKick = nil
            self.queues[queue].pendingFlush = nil
        }
    }

    // MARK: - Requests

    mutating func pop(_ queue: Int, elem: HostPointer, inNum: UInt32, outNum: UInt32, record: TraceRecord) {
        let before = self.queues[queue].inFlightCount
        let room = self.options.maximumInFlightTotal - self.inFlightTotal
        let limit = min(self.options.maximumInFlightPerQueue, before + max(room, 0))
        let activity = self.queues[queue].pop(
            elem: elem, inNum: inNum, outNum: outNum, line: record.line, time: record.timestamp, limit: limit)
        self.inFlightTotal += self.queues[queue].inFlightCount - before
        self.runQueueRules(activity, queue: queue, record: record)
    }

    mutating func fill(_ queue: Int, elem: HostPointer, length: UInt32, record: TraceRecord) {
        let before = self.queues[queue].inFlightCount
        let activity = self.queues[queue].fill(elem: elem, length: length, time: record.timestamp)
        self.inFlightTotal += self.queues[queue].inFlightCount - before
        self.runQueueRules(activity, queue: queue, record: record)
    }

    mutating func flush(_ queue: Int, count: UInt32, record: TraceRecord) {
        let activity = self.queues[queue].flush(count: count, time: record.timestamp)
        self.runQueueRules(activity, queue: queue, record: record)
    }

    mutating func interrupt(_ queue: Int, record: TraceRecord) {
        let activity = self.queues[queue].interrupt(time: record.timestamp)
        self.runQueueRules(activity, queue: queue, record: record)
    }

    mutating func runQueueRules(_ activity: QueueActivity, queue: Int, record: TraceRecord) {
        let rules = self.queueRules.rules(checking: activity.kind)
        if rules.isEmpty { return }
        // Fields are read one by one in place (no copy of the states, no buffer retained).
        let index = self.queues[queue].index
        let device = self.queues[queue].device
        var context = QueueContext(index: index, deviceStatus: nil, legacy: false, size: nil)
        if let device, self.devices[device].statusSeen {
            context.deviceStatus = self.devices[device].status
            context.legacy = self.devices[device].mmioVersion == .legacy
            if case .pop = activity, let index, !self.devices[device].mmioQueues.isEmpty {
                let setup = self.devices[device].mmioQueues[UInt32(truncatingIfNeeded: index)]
                context.size = setup?.size
                if self.devices[device].mmioVersion == .modern { context.mmioReady = setup?.ready ?? false }
            }
        }
        for rule in rules {
            if let message = rule.check(activity, queue: context) {
                self.emit(rule.info, message, record: record, device: device, queue: index)
            }
        }
    }

    // MARK: - Findings

    // Findings are rare: kept out of line, so that the checks calling them stay small.
    @inline(never)
    mutating func emit(
        _ rule: RuleInfo, _ message: String, record: TraceRecord, device: Int? = nil, queue: Int? = nil
    ) {
        self.emit(rule, message, line: record.line, time: record.timestamp, device: device, queue: queue)
    }

    @inline(never)
    mutating func emit(
        _ rule: RuleInfo, _ message: String, line: Int?, offset: UInt64? = nil, time: Timestamp? = nil,
        device: Int? = nil, queue: Int? = nil
    ) {
        // Devices are labelled by pointer here; ``finish`` relabels them once types are known.
        let label = device.map { "0x" + String(self.devices[$0].vdev, radix: 16) }
        let location = Location(
            file: self.file, line: line, offset: offset, timestamp: time, device: label, queue: queue)
        self.sink.add(Finding(rule: rule, message: message, location: location))
    }
}
