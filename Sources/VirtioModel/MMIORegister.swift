/// Which virtio-mmio interface a register belongs to.
///
/// Spec: virtio v1.2 §4.2.2 (Version 2) and §4.2.4 "Legacy interface" (Version 1).
public enum MMIOVersion: Int, Sendable, Codable {
    case legacy = 1
    case modern = 2
}

/// A virtio-mmio control register, by offset.
///
/// Spec: virtio v1.2 §4.2.2 "MMIO Device Register Layout"; legacy registers §4.2.4.
/// (1.3 renames QueueNum/QueueNumMax to QueueSize/QueueSizeMax.)
public enum MMIORegister: UInt64, Sendable, CaseIterable {
    case magicValue = 0x000
    case version = 0x004
    case deviceID = 0x008
    case vendorID = 0x00c
    case deviceFeatures = 0x010
    case deviceFeaturesSel = 0x014
    case driverFeatures = 0x020
    case driverFeaturesSel = 0x024
    /// Legacy only.
    case guestPageSize = 0x028
    case queueSel = 0x030
    case queueNumMax = 0x034
    case queueNum = 0x038
    /// Legacy only.
    case queueAlign = 0x03c
    /// Legacy only.
    case queuePFN = 0x040
    /// Version 2 only.
    case queueReady = 0x044
    case queueNotify = 0x050
    case interruptStatus = 0x060
    case interruptACK = 0x064
    case status = 0x070
    case queueDescLow = 0x080
    case queueDescHigh = 0x084
    case queueDriverLow = 0x090
    case queueDriverHigh = 0x094
    case queueDeviceLow = 0x0a0
    case queueDeviceHigh = 0x0a4
    case shmSel = 0x0ac
    case shmLenLow = 0x0b0
    case shmLenHigh = 0x0b4
    case shmBaseLow = 0x0b8
    case shmBaseHigh = 0x0bc
    case queueReset = 0x0c0
    case configGeneration = 0x0fc

    /// Device-specific configuration space starts here.
    public static let configOffset: UInt64 = 0x100

    /// QEMU's name for a virtio-mmio register block's memory region, as its
    /// `memory_region_ops_*` trace lines show it.
    public static let qemuRegionName = "virtio-mmio"
    /// QEMU's register blocks are 0x200 bytes, at addresses aligned to that
    /// (`VIRTIO_MMIO_SIZE`; arm `virt` and `microvm` place them 0x200 apart).
    public static let qemuRegionSize: UInt64 = 0x200

    /// The register offset of an access QEMU traced at `address` (absolute).
    public static func offset(ofTraced address: UInt64) -> UInt64 { address % Self.qemuRegionSize }

    /// The register block an access QEMU traced at `address` (absolute) was to: its base
    /// (no underflow: the offset is the remainder).
    public static func block(ofTraced address: UInt64) -> UInt64 { address - Self.offset(ofTraced: address) }

    public enum Access: Sendable { case read, write, readWrite }

    /// The direction the driver may access the register in (Version 2 table; legacy notes in §4.2.4).
    public var access: Access {
        switch self {
        case .magicValue, .version, .deviceID, .vendorID, .deviceFeatures, .queueNumMax, .interruptStatus,
            .shmLenLow, .shmLenHigh, .shmBaseLow, .shmBaseHigh, .configGeneration:
            return .read
        case .queueReady, .status, .queueReset, .queuePFN:
            return .readWrite
        default:
            return .write
        }
    }

    /// The interfaces that define the register: legacy-only, modern-only, or both.
    public var versions: Set<MMIOVersion> {
        switch self {
        case .guestPageSize, .queueAlign, .queuePFN: return [.legacy]
        case .queueReady, .queueDescLow, .queueDescHigh, .queueDriverLow, .queueDriverHigh, .queueDeviceLow,
            .queueDeviceHigh, .shmSel, .shmLenLow, .shmLenHigh, .shmBaseLow, .shmBaseHigh, .queueReset,
            .configGeneration:
            return [.modern]
        default: return [.legacy, .modern]
        }
    }

    /// The spec's register name.
    public var name: String {
        switch self {
        case .magicValue: return "MagicValue"
        case .version: return "Version"
        case .deviceID: return "DeviceID"
        case .vendorID: return "VendorID"
        case .deviceFeatures: return "DeviceFeatures"
        case .deviceFeaturesSel: return "DeviceFeaturesSel"
        case .driverFeatures: return "DriverFeatures"
        case .driverFeaturesSel: return "DriverFeaturesSel"
        case .guestPageSize: return "GuestPageSize"
        case .queueSel: return "QueueSel"
        case .queueNumMax: return "QueueNumMax"
        case .queueNum: return "QueueNum"
        case .queueAlign: return "QueueAlign"
        case .queuePFN: return "QueuePFN"
        case .queueReady: return "QueueReady"
        case .queueNotify: return "QueueNotify"
        case .interruptStatus: return "InterruptStatus"
        case .interruptACK: return "InterruptACK"
        case .status: return "Status"
        case .queueDescLow: return "QueueDescLow"
        case .queueDescHigh: return "QueueDescHigh"
        case .queueDriverLow: return "QueueDriverLow"
        case .queueDriverHigh: return "QueueDriverHigh"
        case .queueDeviceLow: return "QueueDeviceLow"
        case .queueDeviceHigh: return "QueueDeviceHigh"
        case .shmSel: return "SHMSel"
        case .shmLenLow: return "SHMLenLow"
        case .shmLenHigh: return "SHMLenHigh"
        case .shmBaseLow: return "SHMBaseLow"
        case .shmBaseHigh: return "SHMBaseHigh"
        case .queueReset: return "QueueReset"
        case .configGeneration: return "ConfigGeneration"
        }
    }

    /// The `MagicValue` every virtio-mmio device presents: "virt" in little-endian.
    public static let magic: UInt32 = 0x7472_6976
}
