/// A virtio device type, by its device ID.
///
/// Spec: virtio v1.2 §5 "Device Types" (the table of device IDs).
public enum DeviceType: UInt32, Sendable, CaseIterable, Codable {
    case network = 1
    case block = 2
    case console = 3
    case entropy = 4
    case traditionalBalloon = 5
    case ioMemory = 6
    case rpmsg = 7
    case scsiHost = 8
    case ninePTransport = 9
    case mac80211WLAN = 10
    case rprocSerial = 11
    case caif = 12
    case memoryBalloon = 13
    case gpu = 16
    case timer = 17
    case input = 18
    case socket = 19
    case crypto = 20
    case signalDistribution = 21
    case pstore = 22
    case iommu = 23
    case memory = 24
    case sound = 25
    case fileSystem = 26
    case pmem = 27
    case rpmb = 28
    case mac80211HWSim = 29
    case videoEncoder = 30
    case videoDecoder = 31
    case scmi = 32
    case nitroSecureModule = 33
    case i2cAdapter = 34
    case watchdog = 35
    case can = 36
    case parameterServer = 38
    case audioPolicy = 39
    case bluetooth = 40
    case gpio = 41
    case rdma = 42

    /// The short name vqscope uses on its command line and in reports (`net`, `block`, …).
    public var shortName: String {
        switch self {
        case .network: return "net"
        case .block: return "block"
        case .console: return "console"
        case .entropy: return "entropy"
        case .input: return "input"
        case .traditionalBalloon, .memoryBalloon: return "balloon"
        case .scsiHost: return "scsi"
        case .ninePTransport: return "9p"
        case .gpu: return "gpu"
        case .socket: return "vsock"
        case .crypto: return "crypto"
        case .iommu: return "iommu"
        case .memory: return "mem"
        case .sound: return "sound"
        case .fileSystem: return "fs"
        case .pmem: return "pmem"
        case .gpio: return "gpio"
        default: return "id\(self.rawValue)"
        }
    }

    /// Parses a short name (`net`, `blk`, `rng`, …) or a decimal device ID.
    public init?(name: String) {
        switch name.lowercased() {
        case "net", "network": self = .network
        case "block", "blk": self = .block
        case "console", "serial": self = .console
        case "entropy", "rng": self = .entropy
        case "input": self = .input
        default:
            if let match = DeviceType.allCases.first(where: { $0.shortName == name.lowercased() }) {
                self = match
            } else if let id = UInt32(name), let type = DeviceType(rawValue: id) {
                self = type
            } else {
                return nil
            }
        }
    }

    /// The device type a QEMU name implies (`virtio-net-pci`, `virtio-pci-common-virtio-blk`,
    /// QMP's `virtio-serial`), or nil.
    public init?(qemuName name: String) {
        let lowered = name.lowercased()
        let table: [(String, DeviceType)] = [
            ("net", .network), ("blk", .block), ("rng", .entropy), ("serial", .console), ("console", .console),
            ("input", .input), ("keyboard", .input), ("mouse", .input), ("tablet", .input), ("scsi", .scsiHost),
            ("balloon", .traditionalBalloon), ("9p", .ninePTransport), ("gpu", .gpu), ("vsock", .socket),
        ]
        guard let match = table.first(where: { lowered.contains($0.0) }) else { return nil }
        self = match.1
    }
}
