import GuestMemory
import VirtioAnalysis
import VirtioModel
import VirtioReporting

/// A device the sampler follows through its driver's register writes in the trace: its
/// queues are watched the moment the driver enables them (virtio-pci `queue_enable`,
/// §4.1.5.1.3; virtio-mmio QueueReady, §4.2.3.2, or a legacy QueuePFN, §4.2.4), before
/// DRIVER_OK, rather than when QMP, asked after DRIVER_OK, answers — by then QEMU may have used
/// and the driver reused the first buffers (a console's control messages, an entropy device's
/// first request, a firmware's first disk read).
///
/// The trace names a virtio-pci device by its QEMU name (`virtio-net`) and the address of its
/// common configuration structure; a virtio-mmio transport by its address. QMP gives each
/// virtio-mmio device's address, and a virtio-pci device's once the firmware has placed its
/// BAR (``TracedDevices``). A queue enabled without a known size (no `queue_size`
/// write: the device's default applies, which the trace does not show, and QMP did not give),
/// or a network device
/// with VIRTIO_NET_F_MQ or _RSS (which queue is the control queue depends on its configuration
/// space), is left to QMP until the next reset.
struct TracedDevice {
    /// The device's label in the recording (``Session/label(of:)``).
    let label: String
    let type: DeviceType?
    /// A block device's capacity in 512-byte sectors, for BLK-CAPACITY.
    let blockCapacity: UInt64?
    /// How many queues the device has (QMP's `num-vqs`): QEMU ignores the others, and so does
    /// the sampler, whatever the driver writes.
    let queueCount: Int
    /// The features the device offers (QMP's `host-features`): QEMU keeps only those of the
    /// driver's, and so does the sampler.
    let offered: FeatureBits?
    /// A network device's `mtu` (QEMU's `host_mtu`), for NET-TX-MTU.
    var netMTU: UInt16? = nil
    /// Each queue's size while the driver writes none (QMP's `vring-num-default`, by index; a
    /// reset gives it back): SeaBIOS writes no `queue_size`. Asked of virtio-pci devices only
    /// (virtio-mmio has no default: QueueNum must be written).
    var defaultQueueSizes: [Int: UInt16] = [:]

    /// QEMU's VIRTQUEUE_MAX_SIZE: it ignores a larger `queue_size`.
    static let maximumQueueSize: UInt16 = 1024
}

/// The devices the trace can name, by how it names their transport.
struct TracedDevices {
    /// virtio-mmio devices by their register block's address.
    var mmio: [UInt64: TracedDevice] = [:]
    /// virtio-pci devices by QEMU's name for them, where no other virtio-pci device has it:
    /// followed from the start, before the firmware has placed their BARs.
    var pciByName: [String: TracedDevice] = [:]
    /// virtio-pci devices by their name and common configuration structure's address
    /// (`.pci(name:address:)`): those that share their name with another, once QMP shows where
    /// the firmware put them.
    var pciPlaced: [TraceTail.Transport: TracedDevice] = [:]

    subscript(transport: TraceTail.Transport) -> TracedDevice? {
        switch transport {
        case .mmio(let address): return self.mmio[address]
        case .pci(let name, _): return self.pciPlaced[transport] ?? self.pciByName[name]
        }
    }
}

/// A transport's registers as the trace showed its driver writing them.
enum TransportRegisters {
    case pci(CommonConfig)
    case mmio(MMIOTransportSetup)

    init(_ transport: TraceTail.Transport) {
        switch transport {
        case .pci: self = .pci(CommonConfig())
        case .mmio: self = .mmio(MMIOTransportSetup())
        }
    }

    /// What a write changed for the watcher, in the terms both transports share.
    enum Change {
        case reset
        /// `setup.size` nil: the driver wrote none (the device's default applies).
        case queueEnabled(index: Int, setup: CommonConfig.QueueSetup)
        case queueReset(index: Int)
    }

    mutating func write(offset: UInt64, value: UInt64, size: UInt32) -> Change? {
        switch self {
        case .pci(var config):
            let change = config.write(offset: offset, value: value)
            self = .pci(config)
            switch change {
            case .status(let status)?: return status.rawValue == 0 ? .reset : nil
            case .queueEnabled(let index, let setup)?: return .queueEnabled(index: index, setup: setup)
            case .queueReset(let index)?: return .queueReset(index: index)
            case nil: return nil
            }
        case .mmio(var setup):
            let change = setup.write(offset: offset, value: value, size: size)
            self = .mmio(setup)
            switch change {
            case .reset?: return .reset
            case .queueEnabled(let queue)?: return .queueEnabled(index: queue.index, setup: Self.setup(queue.addresses))
            case nil: return nil
            }
        }
    }

    var driverFeatures: FeatureBits {
        switch self {
        case .pci(let config): return config.driverFeatures
        case .mmio(let setup): return setup.driverFeatures
        }
    }

    var enabledQueues: [(index: Int, setup: CommonConfig.QueueSetup)] {
        switch self {
        case .pci(let config): return config.enabledQueues
        case .mmio(let setup): return setup.enabledQueues.map { ($0.index, Self.setup($0.addresses)) }
        }
    }

    /// A virtio-mmio queue's rings in the terms of a virtio-pci set-up (its size always written).
    private static func setup(_ addresses: QueueAddresses) -> CommonConfig.QueueSetup {
        CommonConfig.QueueSetup(
            size: addresses.size, descriptorArea: addresses.descriptorArea, driverArea: addresses.driverArea, deviceArea: addresses.deviceArea)
    }
}

extension Rings {
    /// The devices the trace can name (``TracedDevice``); queues their drivers enabled before
    /// this was known are watched now.
    mutating func follow(_ devices: TracedDevices) {
        self.traced = devices
        for (transport, registers) in self.transports {
            for (index, setup) in registers.enabledQueues {
                self.enabled(index, as: setup, features: registers.driverFeatures, of: transport)
            }
        }
    }

    /// Applies the transport writes of the trace, in order.
    mutating func apply(_ writes: [TraceTail.TransportWrite]) {
        for write in writes {
            // One entry per transport QEMU traced a write to: as many as it has devices.
            var registers = self.transports[write.transport] ?? TransportRegisters(write.transport)
            let change = registers.write(offset: write.offset, value: write.value, size: write.size)
            self.transports[write.transport] = registers
            guard let change, let device = self.traced[write.transport] else { continue }
            switch change {
            case .reset:
                self.deviceReset(device.label, transport: false)
            case .queueEnabled(let index, let setup):
                self.enabled(index, as: setup, features: registers.driverFeatures, of: write.transport)
            case .queueReset(let index):
                if self.watched.contains(where: { $0.device == device.label && $0.index == index }) {
                    self.retire(device.label, queue: index)
                }
            }
        }
    }

    /// A queue the driver enabled: watched from its start if the trace says all about it. One
    /// it cannot say all about leaves the device to QMP until its next reset (QMP is asked
    /// again if it had already found the device ready).
    private mutating func enabled(
        _ index: Int, as setup: CommonConfig.QueueSetup, features written: FeatureBits, of transport: TraceTail.Transport
    ) {
        guard let device = self.traced[transport], index < device.queueCount, !self.traceRefused.contains(device.label) else { return }
        // Once an initialization, at its first queue: the features are settled by then. The
        // offer itself, once a run.
        let location = "\"device\": \(JSONWriter.quoted(device.label)), \"queue\": \(index)"
        if let offered = device.offered, let defect = ChainDefectFinding.unoffered(accepted: written, offered: offered, type: device.type),
            self.unofferedReported.insert(device.label).inserted
        {
            var line = RecordLine("defect", location: location)
            line.defects([defect])
            self.writer.write(line)
        }
        if let offered = device.offered, let type = device.type, self.offersJudged.insert(device.label).inserted {
            let defects = ChainDefectFinding.offerDefects(offered: offered, type: type)
            if !defects.isEmpty {
                var line = RecordLine("defect", location: location)
                line.defects(defects)
                self.writer.write(line)
            }
        }
        let features = device.offered.map { written.intersection($0) } ?? written
        // With VIRTIO_NET_F_MQ or _RSS the control queue's index is in the configuration space (§5.1.2).
        let netQueuePairs = device.type == .network && !features.isDisjoint(with: [.netMultiqueue, .netRSS])
        // No size written: the device's default, as QEMU takes it (`vring.num` is set back to it at each reset).
        guard let size = setup.size ?? device.defaultQueueSizes[index], size > 0, size <= TracedDevice.maximumQueueSize, !netQueuePairs
        else {
            self.traceOwned.remove(device.label)
            self.traceRefused.insert(device.label)
            self.ready.remove(device.label)
            return
        }
        let addresses = QueueAddresses(
            descriptorArea: setup.descriptorArea, driverArea: setup.driverArea, deviceArea: setup.deviceArea, size: size)
        self.traceOwned.insert(device.label)
        // Without VIRTIO_NET_F_MQ the control queue is queue 2 (§5.1.2).
        let control = device.type == .network && features.contains(.netControlQueue) ? 2 : nil
        var queue = WatchedQueue(
            device: device.label, type: device.type, index: index, addresses: addresses, features: features, netControlQueue: control)
        queue.blockCapacity = device.blockCapacity
        queue.netMTU = device.netMTU
        queue.source = .trace
        self.watch([queue])
    }
}
