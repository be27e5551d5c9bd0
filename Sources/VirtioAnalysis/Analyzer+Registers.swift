import TraceSources
import VirtioModel

/// virtio-mmio register writes (and the reads a rule looks at): held until the Status write
/// that names their device, then replayed through the register rules and the device's
/// register model.
extension Analyzer {
    @inline(__always)
    mutating func holdRegisterWrite(_ write: RegisterWrite) {
        self.hold(.write(write))
    }

    /// Inlined: the write is then built where it is stored, not in a temporary read back at once.
    @inline(__always)
    mutating func hold(_ access: PendingRegisterAccess) {
        if self.pendingWrites.count >= self.options.maximumPendingRegisterWrites { self.dropOlderPendingWrites() }
        self.pendingWrites.append(access)
    }

    /// A flood of unclaimed writes: the older half goes at once, so that it costs O(1) per write.
    /// The held reads dropped with them are not counted: MMIO-UNATTRIBUTED-WRITES counts writes.
    @inline(never)
    mutating func dropOlderPendingWrites() {
        let half = max(1, self.pendingWrites.count / 2)
        var writes = 0
        for case .write(let dropped) in self.pendingWrites.prefix(half) {
            if self.firstUnattributedLine == nil { self.firstUnattributedLine = dropped.line }
            writes += 1
        }
        self.droppedPendingWrites += writes
        self.pendingWrites.removeFirst(half)
    }

    /// QEMU refused the register write it just traced: drop it, and keep what the refusal
    /// says about the device's interface version.
    mutating func registerWriteRejected(_ message: QEMUMessage) {
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

    mutating func attributePendingWrites(to device: Int) {
        // Swapped out and back, so that the array's buffer is reused rather than reallocated.
        var accesses: [PendingRegisterAccess] = []
        swap(&accesses, &self.pendingWrites)
        defer {
            accesses.removeAll(keepingCapacity: true)
            if self.pendingWrites.isEmpty { self.pendingWrites = accesses }
        }
        // The device is updated through one pointer for the whole run of writes, and the rules'
        // messages are emitted after it (they are rare; emitting needs the whole model).
        let rules = RuleCatalog.registerRules
        var broken: [(rule: RuleInfo, message: String, line: Int, timestamp: Timestamp?)] = []
        self.devices.withUnsafeMutableBufferPointer { devices in
            let state = devices.baseAddress! + device
            for access in accesses {
                switch access {
                case .write(let write):
                    let before = DeviceState.context(of: state)
                    for rule in rules {
                        if let message = rule.check(write, device: before) { broken.append((rule.info, message, write.line, write.timestamp)) }
                    }
                    if write.offset >= MMIORegister.configOffset {
                        let config = ConfigSpaceWrite(offset: write.offset - MMIORegister.configOffset, size: write.size, value: write.value)
                        for rule in RuleCatalog.configWriteRules {
                            if let message = rule.check(config, device: before) { broken.append((rule.info, message, write.line, write.timestamp)) }
                        }
                        state.pointee.noteConfigWrite(config)
                    }
                    state.pointee.apply(write)
                    state.pointee.configReads.otherAccess()
                case .read(let read):
                    let before = DeviceState.context(of: state)
                    for rule in RuleCatalog.registerReadRules {
                        if let message = rule.check(read, device: before) { broken.append((rule.info, message, read.line, read.timestamp)) }
                    }
                    state.pointee.apply(read)
                    state.pointee.configReads.otherAccess()
                case .confirmsVersion(let version):
                    state.pointee.mmioVersion = version
                    state.pointee.mmioVersionConfirmed = true
                case .configRead(let offset, let place):
                    let read = ConfigSpaceRead(offset: offset, size: nil, value: nil)
                    let before = DeviceState.context(of: state)
                    for rule in RuleCatalog.configReadRules {
                        if let message = rule.check(read, device: before) { broken.append((rule.info, message, place.line, place.timestamp)) }
                    }
                    state.pointee.noteConfigRead(read)
                    state.pointee.configReads.configRead(offset, at: place)
                    if offset == BlockWritebackTiming.writebackOffset, !state.pointee.status.contains(.featuresOK),
                        state.pointee.writebackReadBeforeFeaturesOK == nil
                    {
                        state.pointee.writebackReadBeforeFeaturesOK = place
                    }
                case .generationRead:
                    state.pointee.configReads.generationRead()
                }
            }
        }
        for (rule, message, line, timestamp) in broken {
            self.emit(rule, message, line: line, time: timestamp, device: device)
        }
    }
}

/// virtio-pci common configuration writes, once a status write named the structure's device.
extension Analyzer {
    /// Runs the common configuration rules on `write`, against the device as it was before it;
    /// the IDs of the rules it broke.
    mutating func checkCommonConfig(_ write: CommonConfigWrite, device: Int, record: TraceRecord) -> [String] {
        var context = self.context(of: device)
        context.regionReadsTraced = self.sawRegionReads
        var broken: [String] = []
        for rule in RuleCatalog.commonConfigRules {
            guard let message = rule.check(write, device: context) else { continue }
            self.emit(rule.info, message, record: record, device: device)
            broken.append(rule.info.id)
        }
        return broken
    }

    /// A virtio-mmio register read with its value: what the device presents. The block's
    /// device is not known (no status write names it yet when the driver probes the block).
    mutating func mmioRegisterRead(offset: UInt64, value: UInt64, record: TraceRecord) {
        if let message = MMIOMagicVersion.check(offset: offset, value: value) {
            self.emit(MMIOMagicVersion.info, message, line: record.line, time: record.timestamp)
        }
        if offset == MMIORegister.interruptStatus.rawValue, let message = MMIOInterruptStatusBits.check(value: value) {
            self.emit(MMIOInterruptStatusBits.info, message, line: record.line, time: record.timestamp)
        }
    }

    /// An access to a virtio-mmio register block at absolute `address` (`read`: the value a
    /// read returned; nil for a write), for MMIO-PROBE-ORDER. Blocks past the device limit
    /// are counted, not followed.
    mutating func mmioBlockAccess(address: UInt64, read value: UInt64?, record: TraceRecord) {
        let (offset, block) = (MMIORegister.offset(ofTraced: address), MMIORegister.block(ofTraced: address))
        guard self.mmioProbes[block] != nil || self.mmioProbes.count < self.options.maximumDevices else {
            return self.ignoreEvent()
        }
        if let message = MMIOProbeOrder.access(offset: offset, read: value, probe: &self.mmioProbes[block, default: MMIOProbeOrder.Probe()]) {
            self.emit(
                MMIOProbeOrder.info, message + " (register block at 0x\(String(block, radix: 16)))", line: record.line,
                time: record.timestamp)
        }
    }

    /// A Status write to the register block at `block` named `device`: the DeviceID its
    /// driver's probe read there says what the device is.
    mutating func identifyMMIODevice(_ device: Int, block: UInt64) {
        guard let id = self.mmioProbes[block]?.deviceID, id != 0, id <= UInt64(UInt32.max),
            let type = DeviceType(rawValue: UInt32(id))
        else { return }
        self.devices[device].decideType(type, by: .mmioDeviceID(block: block))
    }

    /// The device whose configuration structure is at `structure` (the region's address): the
    /// one whose common configuration is ``CommonConfig/qemuDeviceRegionOffset`` below it in
    /// the BAR, as QEMU lays the structures out.
    private func configStructureDevice(_ structure: UInt64) -> Int? {
        guard structure >= CommonConfig.qemuDeviceRegionOffset else { return nil }
        return self.commonConfigDevices[structure - CommonConfig.qemuDeviceRegionOffset]
    }

    /// A read of a device configuration structure at `structure`.
    mutating func configSpaceRead(_ read: ConfigSpaceRead, structure: UInt64, record: TraceRecord) {
        guard let device = self.configStructureDevice(structure) else { return }
        let context = self.context(of: device)
        for rule in RuleCatalog.configReadRules {
            if let message = rule.check(read, device: context) { self.emit(rule.info, message, record: record, device: device) }
        }
        self.devices[device].noteConfigRead(read)
    }

    /// A write to a device configuration structure at `structure`.
    mutating func configSpaceWrite(_ write: ConfigSpaceWrite, structure: UInt64, record: TraceRecord) {
        guard let device = self.configStructureDevice(structure) else { return }
        let context = self.context(of: device)
        for rule in RuleCatalog.configWriteRules {
            if let message = rule.check(write, device: context) { self.emit(rule.info, message, record: record, device: device) }
        }
        self.devices[device].noteConfigWrite(write)
    }
}
