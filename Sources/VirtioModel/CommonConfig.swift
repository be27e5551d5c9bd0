/// The virtio-pci common configuration structure as the driver programs it, one register
/// write at a time: the accepted features, and each queue's size and ring addresses until the
/// driver enables it.
///
/// Spec: virtio v1.2 §4.1.4.3 (`struct virtio_pci_common_cfg`; `queue_reset` is new in 1.2),
/// §4.1.5.1.3 (virtqueue configuration). Writes are taken as QEMU takes them (hw/virtio/virtio-pci.c,
/// `virtio_pci_common_write`): by the offset of the field they start at, the value cut to the
/// field's width, a `queue_select` of 1024 or more ignored, a `device_status` of 0 resetting
/// everything the driver wrote.
public struct CommonConfig: Sendable, Equatable {
    /// The structure's fields, by offset (`queue_desc`, `queue_driver` and `queue_device`,
    /// 64-bit, as the two 32-bit halves drivers write).
    public enum Field: UInt64, Sendable, CaseIterable {
        case deviceFeatureSelect = 0x00
        case deviceFeature = 0x04
        case driverFeatureSelect = 0x08
        case driverFeature = 0x0C
        case configMSIXVector = 0x10
        case numQueues = 0x12
        case deviceStatus = 0x14
        case configGeneration = 0x15
        case queueSelect = 0x16
        case queueSize = 0x18
        case queueMSIXVector = 0x1A
        case queueEnable = 0x1C
        case queueNotifyOff = 0x1E
        case queueDescLow = 0x20
        case queueDescHigh = 0x24
        case queueDriverLow = 0x28
        case queueDriverHigh = 0x2C
        case queueDeviceLow = 0x30
        case queueDeviceHigh = 0x34
        case queueNotifyData = 0x38
        case queueReset = 0x3A

        /// The field's width in bytes.
        public var width: UInt64 {
            switch self {
            case .deviceStatus, .configGeneration: return 1
            case .configMSIXVector, .numQueues, .queueSelect, .queueSize, .queueMSIXVector, .queueEnable, .queueNotifyOff,
                .queueNotifyData, .queueReset:
                return 2
            default: return 4
            }
        }

        /// The fields §4.1.4.3.2 forbids the driver to write: "The driver MUST NOT write to
        /// device_feature, num_queues, config_generation, queue_notify_off or queue_notify_data."
        public var isReadOnly: Bool {
            switch self {
            case .deviceFeature, .numQueues, .configGeneration, .queueNotifyOff, .queueNotifyData: return true
            default: return false
            }
        }

        /// The spec's name of the field (`queue_desc` halves as `queue_desc (low)`).
        public var name: String {
            switch self {
            case .deviceFeatureSelect: return "device_feature_select"
            case .deviceFeature: return "device_feature"
            case .driverFeatureSelect: return "driver_feature_select"
            case .driverFeature: return "driver_feature"
            case .configMSIXVector: return "config_msix_vector"
            case .numQueues: return "num_queues"
            case .deviceStatus: return "device_status"
            case .configGeneration: return "config_generation"
            case .queueSelect: return "queue_select"
            case .queueSize: return "queue_size"
            case .queueMSIXVector: return "queue_msix_vector"
            case .queueEnable: return "queue_enable"
            case .queueNotifyOff: return "queue_notify_off"
            case .queueDescLow: return "queue_desc (low)"
            case .queueDescHigh: return "queue_desc (high)"
            case .queueDriverLow: return "queue_driver (low)"
            case .queueDriverHigh: return "queue_driver (high)"
            case .queueDeviceLow: return "queue_device (low)"
            case .queueDeviceHigh: return "queue_device (high)"
            case .queueNotifyData: return "queue_notify_data"
            case .queueReset: return "queue_reset"
            }
        }

        /// The fields a write of `size` bytes at `offset` touches, in offset order (a size
        /// over 8, which no access has, is taken as 8).
        public static func touched(offset: UInt64, size: UInt64) -> [Field] {
            let (end, overflow) = offset.addingReportingOverflow(min(size, 8))
            return Self.allCases.filter { ($0.rawValue < end || overflow) && offset < $0.rawValue + $0.width }
        }
    }

    /// What one queue was given before it was enabled. `size` stays nil when the driver never
    /// wrote `queue_size`: the device's default then applies, which the writes do not show.
    public struct QueueSetup: Sendable, Equatable {
        public var size: UInt16?
        public var descriptorArea: UInt64 = 0
        public var driverArea: UInt64 = 0
        public var deviceArea: UInt64 = 0

        public init(size: UInt16? = nil, descriptorArea: UInt64 = 0, driverArea: UInt64 = 0, deviceArea: UInt64 = 0) {
            (self.size, self.descriptorArea, self.driverArea, self.deviceArea) = (size, descriptorArea, driverArea, deviceArea)
        }
    }

    /// What a write changed that a watcher of the rings acts on.
    public enum Change: Sendable, Equatable {
        /// `device_status` written: 0 is a reset (§4.1.4.3.1).
        case status(DeviceStatus)
        /// `queue_enable` set to 1: the device uses the queue from now on, as set up.
        case queueEnabled(index: Int, setup: QueueSetup)
        /// `queue_reset` set to 1 (VIRTIO_F_RING_RESET, §2.6.1): the queue is no longer in use.
        case queueReset(index: Int)
    }

    /// QEMU's VIRTIO_QUEUE_MAX: a larger `queue_select` is ignored.
    public static let maximumQueues = 1024

    /// QEMU's name for the structure's memory region is this and the device's name
    /// (`virtio-pci-common-virtio-net`), as its `memory_region_ops_write` trace lines show it.
    public static let qemuRegionPrefix = "virtio-pci-common-"
    /// QEMU puts the structure at offset 0 of the modern BAR, in a region of 0x1000 bytes
    /// (`virtio_pci_modern_regions_init`), and a memory BAR is aligned to its size, at least
    /// that: the offset of a traced write, whose address is absolute, is its low 12 bits.
    public static let qemuRegionSize: UInt64 = 0x1000

    /// The offset in the structure of a write QEMU traced at `address`.
    public static func offset(ofTraced address: UInt64) -> UInt64 { address % Self.qemuRegionSize }

    /// QEMU's name for a device's configuration structure (its device-specific
    /// configuration, §4.1.4.6) is this and the device's name (`virtio-pci-device-virtio-net`);
    /// its region, of ``qemuRegionSize`` bytes too, is at this offset of the same BAR as the
    /// common configuration's (`virtio_pci_modern_regions_init`).
    public static let qemuDeviceRegionPrefix = "virtio-pci-device-"
    public static let qemuDeviceRegionOffset: UInt64 = 0x2000

    public private(set) var driverFeatures = FeatureBits(rawValue: 0)
    private var driverFeatureSelect: UInt32 = 0
    private var queueSelect = 0
    /// The queues written to since the last reset, by index (at most ``maximumQueues``).
    private var queues: [Int: QueueSetup] = [:]
    private var enabled: Set<Int> = []

    public init() {}

    /// The queue `queue_select` names.
    public var selectedQueue: Int { self.queueSelect }

    /// Whether the driver enabled the selected queue since the last reset (of the device, or
    /// of the queue).
    public var selectedQueueEnabled: Bool { self.enabled.contains(self.queueSelect) }

    /// The queues enabled since the last reset, by index, as they were set up.
    public var enabledQueues: [(index: Int, setup: QueueSetup)] {
        self.enabled.sorted().map { ($0, self.queues[$0] ?? QueueSetup()) }
    }

    /// Applies a write of `value` at `offset` in the structure; what it changed, if anything
    /// a ring watcher needs. Offsets of read-only fields, MSI-X vectors and unknown offsets change nothing.
    public mutating func write(offset: UInt64, value: UInt64) -> Change? {
        guard let field = Field(rawValue: offset) else { return nil }
        let word = UInt32(truncatingIfNeeded: value)
        let half = UInt16(truncatingIfNeeded: value)
        switch field {
        case .driverFeatureSelect:
            self.driverFeatureSelect = word
        case .driverFeature:
            // Only the first 64 feature bits exist (QEMU keeps two words).
            guard self.driverFeatureSelect < 2 else { return nil }
            var raw = self.driverFeatures.rawValue
            raw.replaceHalf(word, high: self.driverFeatureSelect == 1)
            self.driverFeatures = FeatureBits(rawValue: raw)
        case .deviceStatus:
            let status = DeviceStatus(rawValue: UInt8(truncatingIfNeeded: value))
            if status.rawValue == 0 { self = CommonConfig() }
            return .status(status)
        case .queueSelect:
            if value < UInt64(Self.maximumQueues) { self.queueSelect = Int(value) }
        case .queueSize:
            self.queues[self.queueSelect, default: QueueSetup()].size = half
        case .queueEnable:
            guard value == 1 else { return nil }
            self.enabled.insert(self.queueSelect)
            return .queueEnabled(index: self.queueSelect, setup: self.queues[self.queueSelect] ?? QueueSetup())
        case .queueDescLow, .queueDescHigh:
            self.queues[self.queueSelect, default: QueueSetup()].descriptorArea.replaceHalf(word, high: field == .queueDescHigh)
        case .queueDriverLow, .queueDriverHigh:
            self.queues[self.queueSelect, default: QueueSetup()].driverArea.replaceHalf(word, high: field == .queueDriverHigh)
        case .queueDeviceLow, .queueDeviceHigh:
            self.queues[self.queueSelect, default: QueueSetup()].deviceArea.replaceHalf(word, high: field == .queueDeviceHigh)
        case .queueReset:
            guard value == 1 else { return nil }
            self.queues[self.queueSelect] = nil
            self.enabled.remove(self.queueSelect)
            return .queueReset(index: self.queueSelect)
        case .deviceFeatureSelect, .deviceFeature, .configMSIXVector, .numQueues, .configGeneration, .queueMSIXVector,
            .queueNotifyOff, .queueNotifyData:
            break
        }
        return nil
    }
}

extension UInt64 {
    /// Replaces the low or high 32 bits, as a transport's register pair (`…Low`/`…High`,
    /// `queue_desc` and the like written as two 32-bit halves) builds a 64-bit address.
    public mutating func replaceHalf(_ word: UInt32, high: Bool) {
        self = high ? self & 0xFFFF_FFFF | UInt64(word) << 32 : self & ~0xFFFF_FFFF | UInt64(word)
    }
}
