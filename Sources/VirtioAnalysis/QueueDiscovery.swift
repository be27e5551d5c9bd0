import GuestMemory
import VirtioModel

/// Where the queues to read from a dump come from, other than `--queue`: saved QMP replies,
/// or the virtio-mmio register writes of a trace. Each queue carries its device's label,
/// type and negotiated features; `flags` (`--event-idx`, `--indirect`) fill in where the
/// features are unknown.
public enum QueueDiscovery {
    public typealias Found = (targets: [QueueTarget], notes: [String])

    public static func fromQMP(_ path: String, flags: Inspector.Options) throws(MemoryError) -> Found {
        var found: Found = ([], [])
        for device in try QMPVirtioSnapshot.read(path: path) {
            var negotiated = Inspector.Options(
                features: device.features, deviceType: device.deviceType, queueIndices: device.queues.map(\.index),
                fallback: flags.ringFlags)
            negotiated.blockCapacity = device.blockCapacity
            negotiated.netMTU = device.netMTU
            found.targets += device.queues.map {
                QueueTarget(
                    addresses: $0.addresses, device: device.label, queue: $0.index, options: negotiated, qemuInUse: $0.inUse,
                    lastAvailIndex: $0.lastAvailIndex)
            }
        }
        return found
    }

    /// The queues the trace shows the driver programming (``DeviceState/programmedQueues``).
    public static func fromTrace(_ report: AnalysisReport, flags: Inspector.Options) -> Found {
        var found: Found = ([], [])
        for device in report.devices where !device.programmedQueues.isEmpty {
            let features = device.driverFeatures
            let negotiated = Inspector.Options(
                features: features, deviceType: device.type, queueIndices: device.programmedQueues.map(\.index),
                fallback: flags.ringFlags)
            found.targets += device.programmedQueues.map {
                QueueTarget(addresses: $0.addresses, device: device.label, queue: $0.index, options: negotiated)
            }
        }
        if found.targets.isEmpty {
            found.notes.append(
                "vqscope: \(report.file): no queue setup in the trace (virtio-mmio register writes, or virtio-pci common "
                    + "configuration writes with memory_region_ops_write traced and a queue_size written; or use --qmp)")
        }
        return found
    }
}

extension Inspector.Options {
    /// Only `--event-idx` and `--indirect`: what the command line may say about queues found
    /// in QMP replies or a trace (`--device` and `--features` describe the `--queue` queues).
    public var ringFlags: Inspector.Options {
        Inspector.Options(eventIndex: self.eventIndex, indirectNegotiated: self.indirectNegotiated)
    }
}
