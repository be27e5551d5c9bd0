import GuestMemory
import VirtioModel

/// A virtio-pci device the sampler follows through its driver's common configuration writes
/// in the trace: its queues are watched the moment the driver enables them (§4.1.5.1.3),
/// before DRIVER_OK, rather than when QMP, asked after DRIVER_OK, answers — by then QEMU may
/// have used and the driver reused the first buffers (a console's control messages, an
/// entropy device's first request).
///
/// Only a device whose QEMU name (`virtio-net`) no other device has is followed: the trace
/// names the region, not the device. A queue enabled without a `queue_size` write (its size
/// is then the device's default, which the trace does not show), or a network device with
/// VIRTIO_NET_F_MQ (which queue is the control queue depends on its configuration space), is
/// left to QMP until the next reset.
struct TracedDevice {
    /// The device's label in the recording (``Session/label(of:)``).
    let label: String
    let type: DeviceType?
    /// A block device's capacity in 512-byte sectors, for BLK-CAPACITY.
    let blockCapacity: UInt64?
}

extension Rings {
    /// The devices QMP listed whose names are unique, by QEMU name; queues their drivers
    /// enabled before this was known are watched now.
    mutating func follow(_ devices: [String: TracedDevice]) {
        self.traced = devices
        for (name, registers) in self.commonConfigs {
            for (index, setup) in registers.enabledQueues { self.enabled(index, setup, features: registers.driverFeatures, of: name) }
        }
    }

    /// Applies the common configuration writes of the trace, in order.
    mutating func apply(_ writes: [TraceTail.CommonConfigWrite]) {
        for write in writes {
            // Names are QEMU's region names: as many as it has devices.
            guard let change = self.commonConfigs[write.device, default: CommonConfig()].write(offset: write.offset, value: write.value),
                let device = self.traced[write.device]
            else { continue }
            switch change {
            case .status(let status):
                guard status.rawValue == 0 else { continue }
                self.ready.remove(device.label)
                self.traceOwned.remove(device.label)
                if self.watched.contains(where: { $0.device == device.label }) { self.retire(device.label) }
            case .queueEnabled(let index, let setup):
                self.enabled(index, setup, features: self.commonConfigs[write.device]?.driverFeatures ?? FeatureBits(rawValue: 0), of: write.device)
            case .queueReset(let index):
                self.retire(device.label, queue: index)
            }
        }
    }

    /// A queue the driver enabled: watched from its start if the trace says all about it.
    private mutating func enabled(_ index: Int, _ setup: CommonConfig.QueueSetup, features: FeatureBits, of name: String) {
        guard let device = self.traced[name] else { return }
        let multiqueue = device.type == .network && features.contains(.netMultiqueue)
        guard let size = setup.size, size > 0, size <= 32768, !multiqueue else {
            self.traceOwned.remove(device.label)
            return
        }
        self.traceOwned.insert(device.label)
        let addresses = QueueAddresses(
            descriptorArea: setup.descriptorArea, driverArea: setup.driverArea, deviceArea: setup.deviceArea, size: size)
        // Without VIRTIO_NET_F_MQ the control queue is queue 2 (§5.1.2).
        let control = device.type == .network && features.contains(.netControlQueue) ? 2 : nil
        var queue = WatchedQueue(
            device: device.label, type: device.type, index: index, addresses: addresses, features: features, netControlQueue: control)
        queue.blockCapacity = device.blockCapacity
        queue.source = .trace
        self.watch([queue])
    }
}
