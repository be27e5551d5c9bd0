import VirtioModel

extension DeviceState {
    /// Updates the virtio-mmio register model with one attributed write.
    /// Spec: virtio v1.2 §4.2.2 (Version 2 registers), §4.2.4 (legacy registers).
    mutating func apply(_ write: RegisterWrite) {
        self.setTransport(.mmio)
        self.mmioWrites += 1
        let value32 = UInt32(truncatingIfNeeded: write.value)
        let select = self.queueSelect
        func updateQueue(_ change: (inout MMIOQueueSetup) -> Void) { self.mmioQueues.update(select, change) }
        func markModern() { if self.mmioVersion == nil { self.mmioVersion = .modern } }
        func markLegacy() { if !self.mmioVersionConfirmed { self.mmioVersion = .legacy } }
        if self.featuresOKUnread != nil, InitRereadFeaturesOK.setsUp(write) { self.featuresOKUnread = nil }
        // Any write ends the wait for the read-back of a stopped queue (reported by MMIO-QUEUE-STOP).
        self.queueStopUnread = nil
        switch write.register {
        case .deviceFeaturesSel: self.featureSelectsWritten.device = true
        case .driverFeaturesSel:
            self.driverFeaturesSelect = value32
            self.featureSelectsWritten.driver = true
        case .driverFeatures: self.writeDriverFeatures(value32)
        case .guestPageSize:
            markLegacy()
            self.guestPageSize = value32
        case .queueAlign:
            markLegacy()
            updateQueue { $0.alignment = value32 }
        case .queuePFN:
            markLegacy()
            updateQueue { $0.pageFrame = value32 }
        case .queueSel:
            self.queueSelect = value32
            self.selectedQueueReady = self.mmioQueues[value32]?.ready ?? false
        case .status:
            let written = DeviceStatus(rawValue: UInt8(truncatingIfNeeded: write.value))
            if written.rawValue == 0 || written.contains(.failed) {
                self.featuresOKUnread = nil
            } else if written.contains(.featuresOK), !self.status.contains(.featuresOK), self.mmioVersion != .legacy {
                self.featuresOKUnread = TracePlace(line: write.line, timestamp: write.timestamp)
            }
        case .queueNum: updateQueue { $0.size = value32 }
        case .queueReady:
            markModern()
            if value32 & 1 == 0, self.mmioQueues[select]?.ready == true {
                self.queueStopUnread = MMIOQueueStop.Pending(queue: select, place: TracePlace(line: write.line, timestamp: write.timestamp))
            }
            updateQueue { $0.ready = value32 & 1 != 0 }
            self.selectedQueueReady = self.mmioQueues[select]?.ready ?? false
        case .queueDescLow: markModern(); updateQueue { $0.descriptorArea.replaceHalf(value32, high: false) }
        case .queueDescHigh: markModern(); updateQueue { $0.descriptorArea.replaceHalf(value32, high: true) }
        case .queueDriverLow: markModern(); updateQueue { $0.driverArea.replaceHalf(value32, high: false) }
        case .queueDriverHigh: markModern(); updateQueue { $0.driverArea.replaceHalf(value32, high: true) }
        case .queueDeviceLow: markModern(); updateQueue { $0.deviceArea.replaceHalf(value32, high: false) }
        case .queueDeviceHigh: markModern(); updateQueue { $0.deviceArea.replaceHalf(value32, high: true) }
        default:
            let negotiating = self.status.contains(.driver) && !self.status.contains(.featuresOK)
            if write.offset >= MMIORegister.configOffset, negotiating, self.configWriteDuringNegotiation == nil {
                self.configWriteDuringNegotiation = write
            }
        }
    }
}

extension DeviceState {
    /// Updates the virtio-mmio register model with one attributed read that a rule needs: a
    /// Status read is the re-read §3.1.1 asks for after FEATURES_OK.
    mutating func apply(_ read: RegisterRead) {
        switch read.register {
        case .status: self.featuresOKUnread = nil
        case .queueReady: self.queueStopUnread = nil
        default: break
        }
    }

    /// A virtio-pci `device_status` write, as the `virtio_set_status` after it shows it: a reset
    /// waits for a read of 0 (RESET-WAIT-ZERO), FEATURES_OK for a read of the status
    /// (INIT-REREAD-FEATURES_OK); DRIVER_OK or FAILED ends that wait.
    mutating func noteCommonConfigStatus(_ new: DeviceStatus, before: DeviceStatus, at place: TracePlace) {
        self.msixVectorsUnverified = []
        guard new.rawValue != 0 else {
            self.resetUnconfirmed = place
            self.resetThroughCommonConfig = true
            return
        }
        self.resetUnconfirmed = nil
        if new.contains(.driverOK) || new.contains(.failed) {
            (self.featuresOKUnread, self.featuresRefused) = (nil, nil)
        } else if new.contains(.featuresOK), !before.contains(.featuresOK) {
            self.featuresOKUnread = place
        }
    }

    /// A write of a virtio-pci field: a vector mapping waits for its read-back, which another
    /// write may end first (PCI-MSIX-RANGE).
    mutating func noteVectorWrite(_ field: CommonConfig.Field, value: UInt64, at place: TracePlace) {
        self.msixVectorsUnverified.removeAll { MSIXVectorReadBack.ends($0, by: field) }
        if field == .configMSIXVector || field == .queueMSIXVector, value != MSIXVectorReadBack.noVector {
            self.msixVectorsUnverified.append(
                MSIXVectorReadBack.Pending(field: field, queue: self.commonConfig.selectedQueue, value: value, place: place))
        }
    }

    /// A read of a virtio-pci vector field: the read-back of a mapping of it.
    mutating func readVector(_ field: CommonConfig.Field) {
        let queue = self.commonConfig.selectedQueue
        self.msixVectorsUnverified.removeAll { $0.field == field && (field == .configMSIXVector || $0.queue == queue) }
    }

    /// A read of a virtio-pci `device_feature` and the word of the offer it returned.
    mutating func readOfferedFeatures(_ word: UInt32) {
        if self.deviceFeatureSelect < 2 { self.offeredFeatureWords[Int(self.deviceFeatureSelect)] = word }
    }

    /// A read of the device's configuration space, once its rules judged it: a network
    /// device's first whole `mtu` is kept.
    mutating func noteConfigRead(_ read: ConfigSpaceRead) {
        if self.type == .input { self.inputSelection.read(read) }
        guard self.firstMTU == nil,
            NetConfigValues.presentedField(read, type: self.type, offered: self.offeredFeatureWords)?.name == "mtu",
            let value = read.value
        else { return }
        self.firstMTU = UInt16(truncatingIfNeeded: value)
    }

    /// A write to the device's configuration space, once its rules judged it.
    mutating func noteConfigWrite(_ write: ConfigSpaceWrite) {
        if self.type == .input { self.inputSelection.write(write) }
    }

    /// A read of a virtio-pci `device_status` and the value it returned, at `place`: the
    /// re-read after FEATURES_OK shows whether the device took the features.
    mutating func readStatus(_ value: DeviceStatus, at place: TracePlace) {
        if self.featuresOKUnread != nil, !value.contains(.featuresOK) { self.featuresRefused = place }
        // The set FEATURES_OK was written with, remembered where it was written.
        if let setAt = self.featuresOKUnread, value.contains(.featuresOK), let features = self.featureWordsAtFeaturesOK?.features,
            self.featureSetsTaken.count < Self.maximumAcceptedSets, !self.featureSetsTaken.contains(where: { $0.features == features })
        {
            self.featureSetsTaken.append(AcceptedFeatures(features: features, place: setAt))
        }
        self.featuresOKUnread = nil
        if value.rawValue == 0 { self.resetUnconfirmed = nil }
    }
}

extension DeviceState {
    /// Updates the virtio-pci common configuration model with one write at `offset` of the
    /// structure (§4.1.4.3): the driver features (kept as virtio-mmio's DriverFeatures words
    /// are, so FEATURES_OK settles the negotiated features the same way) and each queue's set-up,
    /// kept in ``pciQueues`` once the driver enables it (§4.1.5.1.3).
    mutating func applyCommonConfig(offset: UInt64, value: UInt64, at place: TracePlace) {
        self.setTransport(.pci)
        let value32 = UInt32(truncatingIfNeeded: value)
        if let field = CommonConfig.Field(rawValue: offset) {
            if InitRereadFeaturesOK.setsUp(field, value: value) { (self.featuresOKUnread, self.featuresRefused) = (nil, nil) }
            self.noteVectorWrite(field, value: value, at: place)
        }
        switch CommonConfig.Field(rawValue: offset) {
        case .deviceFeatureSelect: self.deviceFeatureSelect = value32
        case .driverFeatureSelect: self.driverFeaturesSelect = value32
        case .driverFeature: self.writeDriverFeatures(value32)
        default: break
        }
        switch self.commonConfig.write(offset: offset, value: value) {
        case .queueEnabled(let index, let setup): self.pciQueues[index] = setup
        case .queueReset(let index): self.pciQueues[index] = nil
        case .status, nil: break
        }
    }
}

extension DeviceState {
    /// The word of the driver features the select names (0 or 1: only 64 feature bits exist;
    /// another select's word is dropped, as QEMU drops it), whichever transport wrote it.
    mutating func writeDriverFeatures(_ word: UInt32) {
        if self.driverFeaturesSelect < 2 { self.driverFeatureWords[Int(self.driverFeaturesSelect)] = word }
    }
}
