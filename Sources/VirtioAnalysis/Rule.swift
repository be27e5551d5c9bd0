import TraceSources
import VirtioModel

/// A checkable rule: static metadata plus one `check` function over what the model saw.
///
/// Rules hold no state: the model (``DeviceState``, ``QueueState``) keeps what they need,
/// so a rule is a pure function that is easy to read and to test.
public protocol Rule {
    static var info: RuleInfo { get }
}

/// Who wrote a device status value, as far as the trace shows.
public enum StatusOrigin: Sendable, Equatable {
    /// The guest driver (a Status register write, or no sign of anyone else).
    case driver
    /// The device set DEVICE_NEEDS_RESET itself (QEMU's `virtio_error`).
    case device
    /// QEMU cleared DRIVER_OK because the guest turned PCI bus mastering off.
    case qemuBusMasterOff
    /// QEMU re-wrote the current value (VM stop/resume, the repeat inside a reset).
    case qemuRewrite
}

/// A status write, with the status before it.
public struct StatusChange: Sendable {
    public var old: DeviceStatus
    public var new: DeviceStatus
    public var origin: StatusOrigin
}

/// Checks each device status write. Spec: virtio v1.2 §2.1, §3.1.
protocol StatusRule: Rule, Sendable {
    /// Returns a message when the write breaks the rule. `device` is the state before the write.
    static func check(_ change: StatusChange, device: DeviceContext) -> String?
}

/// What happened on a queue.
public enum QueueActivity: Sendable {
    /// A guest notification (`virtio_queue_notify`, not QEMU's own ioeventfd replay).
    case kick
    /// An element was popped; `inFlight` counts it.
    case pop(inNum: UInt32, outNum: UInt32, inFlight: Int)
    /// An element was filled (returned to the used ring).
    case fill(FillOutcome, length: UInt32)
    /// `virtqueue_flush`: `count` used entries published while `awaiting` fills were unpublished.
    case flush(count: UInt32, awaiting: Int)
    /// A used-buffer notification; `afterDrain` when it followed the completion of a request
    /// drained by a reset.
    case interrupt(afterDrain: Bool)

    /// The kinds of activity without their values, for a rule to name those it checks.
    public enum Kind: Int, Sendable, CaseIterable {
        case kick, pop, fill, flush, interrupt
    }

    public var kind: Kind {
        switch self {
        case .kick: return .kick
        case .pop: return .pop
        case .fill: return .fill
        case .flush: return .flush
        case .interrupt: return .interrupt
        }
    }
}

/// What a fill did to the request it names.
public enum FillOutcome: Sendable, Equatable {
    /// Completed an in-flight request (`drained` when a reset had already happened).
    case completed(drained: Bool)
    /// The element was never popped on this queue (or was dropped by a reset long ago).
    case notInFlight
    /// The element was completed before and not popped again.
    case completedBefore
}

/// What a queue rule may know about the queue and its device when an event happens.
public struct QueueContext: Sendable {
    /// The queue index, once a `virtio_queue_notify` named it.
    public var index: Int?
    /// The device's status, when the queue's device is known and a status write was seen.
    public var deviceStatus: DeviceStatus?
    /// The device uses a legacy interface (§3.1.2).
    public var legacy: Bool
    /// The queue size, when the virtio-mmio QueueNum write showed it.
    public var size: UInt32?
    /// For a pop on a Version 2 virtio-mmio device: whether the driver set the queue's
    /// QueueReady since the last reset; nil elsewhere.
    public var mmioReady: Bool? = nil
}

/// Checks each queue event of the kinds it names.
protocol QueueRule: Rule, Sendable {
    /// The activities the rule checks; it is not asked about the others (queue events are the
    /// most frequent in a trace).
    static var activities: [QueueActivity.Kind] { get }
    static func check(_ activity: QueueActivity, queue: QueueContext) -> String?
}

/// A virtio-mmio register write attributed to a device.
public struct RegisterWrite: Sendable {
    /// The register, or nil for device-specific configuration (offset ≥ 0x100) and unknown offsets.
    public var register: MMIORegister?
    public var offset: UInt64
    public var value: UInt64
    /// The access size in bytes, from the `memory_region_ops_write` QEMU traces just before
    /// (nil where the trace has none).
    public var size: UInt64? = nil
    /// QueueNumMax as QEMU reported it with the write (`virtio_mmio_queue_write`).
    public var queueNumMax: Int32?
    public var line: Int
    public var timestamp: Timestamp?
}

/// Checks virtio-mmio register writes. `device` is the state before the write.
protocol RegisterRule: Rule, Sendable {
    static func check(_ write: RegisterWrite, device: DeviceContext) -> String?
}

/// Where in the trace something happened: its line and, when the trace has them, its time.
public struct TracePlace: Sendable, Equatable {
    public var line: Int
    public var timestamp: Timestamp?

    public init(line: Int, timestamp: Timestamp?) {
        self.line = line
        self.timestamp = timestamp
    }

    /// Where `record` is.
    init(_ record: TraceRecord) { self.init(line: record.line, timestamp: record.timestamp) }
}

/// A virtio-mmio register read attributed to a device (`virtio_mmio_read`: the offset only,
/// not the value read).
public struct RegisterRead: Sendable {
    public var register: MMIORegister
    public var line: Int
    public var timestamp: Timestamp?
}

/// Checks virtio-mmio register reads. `device` is the state before the read. Only the reads
/// of ``registers`` are kept for them: the others would only fill the buffer of accesses
/// waiting for their device.
protocol RegisterReadRule: Rule, Sendable {
    static var registers: [MMIORegister] { get }
    static func check(_ read: RegisterRead, device: DeviceContext) -> String?
}

/// A write to a virtio-pci common configuration structure, as QEMU traces it
/// (`memory_region_ops_write` on the `virtio-pci-common-…` region). Spec: virtio v1.2 §4.1.4.3.
public struct CommonConfigWrite: Sendable {
    /// The offset in the structure.
    public var offset: UInt64
    /// The access size in bytes, as traced.
    public var size: UInt64
    public var value: UInt64

    /// The field the write starts at, or nil for an offset inside a field or past the structure.
    public var field: CommonConfig.Field? { CommonConfig.Field(rawValue: self.offset) }
}

/// A read of a device's configuration space and the value it returned, as QEMU traces it
/// (`memory_region_ops_read` on a `virtio-pci-device-…` region; on virtio-mmio,
/// `virtio_mmio_read` at offset 0x100 and above, without its size and value). Spec: virtio
/// v1.2 §2.5, §4.1.4.6, §4.2.2.
public struct ConfigSpaceRead: Sendable {
    /// The offset in the device-specific configuration.
    public var offset: UInt64
    /// The access size in bytes, as traced (1 to 8); nil where the trace does not say.
    public var size: UInt64?
    /// Nil where the trace does not say.
    public var value: UInt64?

    /// The field of `layout` the read starts in; nil past the fields vqscope knows.
    public func field(in layout: ConfigLayout) -> ConfigField? {
        self.offset <= UInt64(Int.max) ? layout.field(at: Int(self.offset)) : nil
    }

    /// The read covers `field` exactly: its value is the field's.
    public func isWhole(_ field: ConfigField) -> Bool {
        self.offset == UInt64(field.offset) && self.size == UInt64(field.size)
    }
}

/// Checks reads of a device's configuration space. `device` is the state before the read.
protocol ConfigReadRule: Rule, Sendable {
    static func check(_ read: ConfigSpaceRead, device: DeviceContext) -> String?
}

/// A write to a device's configuration space: `memory_region_ops_write` on a
/// `virtio-pci-device-…` region, or a virtio-mmio register write at offset 0x100 and above.
/// Spec: virtio v1.2 §2.5, §4.1.4.6, §4.2.2.
public struct ConfigSpaceWrite: Sendable {
    /// The offset in the device-specific configuration.
    public var offset: UInt64
    /// The access size in bytes, as traced; nil where the trace does not say.
    public var size: UInt64?
    public var value: UInt64

    /// The bytes the write covers, in configuration offsets: `size` bytes, or where the trace
    /// does not say, as many as the value needs (at least one). Clamped at 8 bytes and at
    /// the end of the 64-bit offsets.
    public var bytes: ClosedRange<UInt64> {
        let count = self.size.map { min(max($0, 1), 8) } ?? UInt64(max(1, (64 - self.value.leadingZeroBitCount + 7) / 8))
        let (last, overflow) = self.offset.addingReportingOverflow(count - 1)
        return self.offset...(overflow ? .max : last)
    }
}

/// Checks writes to a device's configuration space. `device` is the state before the write.
protocol ConfigWriteRule: Rule, Sendable {
    static func check(_ write: ConfigSpaceWrite, device: DeviceContext) -> String?
}

/// Checks writes to a virtio-pci common configuration structure. `device` is the state before the write.
protocol CommonConfigRule: Rule, Sendable {
    static func check(_ write: CommonConfigWrite, device: DeviceContext) -> String?
}

/// A finding raised when the trace ends, at the place it points to.
public struct SummaryFinding: Sendable {
    public var message: String
    public var line: Int?
    public var timestamp: Timestamp?
}

/// What a queue is for, from the device type and queue index.
public enum QueueRole: String, Sendable {
    case receive = "rx"
    case transmit = "tx"
    case control = "ctrl"
    case request = "requestq"
    case event = "eventq"
    case status = "statusq"
    case unknown = "-"

    /// Spec: virtio v1.2 §5.1.2 (net), §5.2.2 (block), §5.3.2 (console), §5.4.2 (entropy), §5.8.2 (input).
    /// `netControlQueue` is the net control queue's index (2N with N queue pairs), when known.
    public static func of(index: Int?, device: DeviceState?, netControlQueue: Int? = nil) -> QueueRole {
        Self.of(index: index, type: device?.type, netControlQueue: netControlQueue)
    }

    /// The role of queue `index` of a device of `type`.
    public static func of(index: Int?, type: DeviceType?, netControlQueue: Int? = nil) -> QueueRole {
        guard let index, let type else { return .unknown }
        switch type {
        case .network:
            if index == netControlQueue { return .control }
            return index % 2 == 0 ? .receive : .transmit
        case .block: return .request
        case .console: return index == 2 || index == 3 ? .control : (index % 2 == 0 ? .receive : .transmit)
        case .entropy: return .request
        case .input: return index == 0 ? .event : (index == 1 ? .status : .unknown)
        default: return .unknown
        }
    }
}

/// Checks a queue once the trace has ended (request shapes, requests left in flight).
protocol SummaryRule: Rule, Sendable {
    static func check(device: DeviceState?, queue: QueueState, role: QueueRole) -> [SummaryFinding]
}

/// Checks a device when the trace ends, once its type is known as well as it will be.
protocol DeviceSummaryRule: Rule, Sendable {
    static func check(device: DeviceState) -> [SummaryFinding]
}
