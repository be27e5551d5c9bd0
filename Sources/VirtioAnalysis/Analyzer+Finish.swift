import TraceSources
import VirtioModel

/// The end of the trace: leftover register writes, device types from queue shapes, the
/// request-shape rules, and the report.
extension Analyzer {
    public mutating func finish(statistics: InputStatistics) -> AnalysisReport {
        self.attributeLeftoverWrites()
        var queuesByDevice = [[Int]](repeating: [], count: self.devices.count)
        for (slot, queue) in self.queues.enumerated() {
            if let device = queue.device { queuesByDevice[device].append(slot) }
        }
        for device in self.devices.indices where self.devices[device].type == nil {
            self.inferTypeFromQueues(device, queues: queuesByDevice[device].map { self.queues[$0] })
        }
        var controlQueues: [Int: Int] = [:]
        for device in self.devices.indices {
            let owned = queuesByDevice[device].map { self.queues[$0] }
            if let control = self.netControlQueue(self.devices[device], queues: owned) { controlQueues[device] = control }
        }
        for (slot, queue) in self.queues.enumerated() {
            let device = queue.device.map { self.devices[$0] }
            let role = self.role(of: queue, netControlQueue: queue.device.flatMap { controlQueues[$0] })
            for rule in RuleCatalog.summaryRules {
                for finding in rule.check(device: device, queue: queue, role: role) {
                    self.emit(
                        rule.info, finding.message, line: finding.line, time: finding.timestamp, device: queue.device,
                        queue: self.queues[slot].index)
                }
            }
        }
        for index in self.devices.indices {
            self.closeConsoleControl(of: index)
            for rule in RuleCatalog.deviceSummaryRules {
                for finding in rule.check(device: self.devices[index]) {
                    self.emit(rule.info, finding.message, line: finding.line, time: finding.timestamp, device: index)
                }
            }
        }
        let ignored = self.ignoredEvents + self.queues.reduce(0) { $0 + $1.untrackedPopsTotal }
        if ignored > 0 {
            self.emit(
                InputRules.modelLimits,
                "\(ignored) event(s) past the model's limits were counted, not analysed: more than "
                    + "\(self.options.maximumDevices) devices or \(self.options.maximumQueues) queues, or more requests in "
                    + "flight than \(self.options.maximumInFlightPerQueue) per queue (\(self.options.maximumInFlightTotal) in all); "
                    + "the report covers the rest", line: self.firstIgnoredLine)
        }
        let labels = Dictionary(
            self.devices.map { ("0x" + String($0.vdev, radix: 16), $0.label) }, uniquingKeysWith: { first, _ in first })
        let findings = self.sink.kept.map { finding -> Finding in
            var relabelled = finding
            if let pointer = finding.location.device { relabelled.location.device = labels[pointer] ?? pointer }
            return relabelled
        }
        return AnalysisReport(
            file: self.file, input: statistics, timestamped: statistics.timestampedEvents > 0,
            devices: self.devices.map { self.deviceReport($0, queues: queuesByDevice[$0.ordinal]) }, findings: findings, findingCounts: self.sink.countsByRule,
            totalFindings: self.sink.total, omittedFindings: self.sink.dropped,
            ignoredEvents: ignored)
    }

    /// Writes still waiting for a Status write: with one virtio-mmio device they can only be its.
    mutating func attributeLeftoverWrites() {
        let mmio = self.devices.indices.filter { self.devices[$0].transport == .mmio }
        if mmio.count == 1, !self.pendingWrites.isEmpty {
            self.attributePendingWrites(to: mmio[0])
        }
        let waiting = self.pendingWrites.compactMap { access -> Int? in
            if case .write(let write) = access { return write.line }
            return nil
        }
        let unattributed = waiting.count + self.droppedPendingWrites
        guard unattributed > 0 else { return }
        let first = self.firstUnattributedLine ?? waiting.first
        self.emit(
            InputRules.unattributedRegisterWrites,
            "\(unattributed) virtio-mmio register write(s) were not followed by a Status write naming their device",
            line: first)
    }

    mutating func inferTypeFromQueues(_ device: Int, queues: [QueueState]) {
        let owned = queues.filter { $0.index != nil }
        guard !owned.isEmpty else { return }
        let byIndex = Dictionary(owned.map { ($0.index!, $0) }, uniquingKeysWith: { first, _ in first })
        let indices = Set(byIndex.keys)
        if let rx = byIndex[0], let tx = byIndex[1], rx.shapes.writableOnly.count > 0,
            tx.shapes.readableOnly.count > 0, tx.zeroLengthFills == tx.fills, indices.max() ?? 0 <= 2
        {
            self.devices[device].decideType(
                .network, by: .queueShape("queue 0 takes writable buffers, queue 1 readable ones completed with length 0"))
        } else if let blockLike = owned.first(where: { $0.blockShapedFills > 0 && $0.shapes.mixed.count > 0 }) {
            self.devices[device].decideType(
                .block,
                by: .queueShape(
                    "queue \(blockLike.index!) returns 512·n+1 bytes (data and a status byte) for readable+writable chains"))
        } else if indices.contains(3) || (indices.max() ?? 0) > 3 {
            self.devices[device].decideType(
                .console, by: .queueShape("\(indices.count) queues including control queues 2/3 (multiport console)"))
        } else if indices == [0], let only = byIndex[0], only.shapes.writableOnly.count == only.pops, only.pops > 0 {
            self.devices[device].decideType(.entropy, by: .queueShape("a single queue of device-writable buffers"))
        }
    }

    func role(of queue: QueueState, netControlQueue control: Int? = nil) -> QueueRole {
        let device = queue.device.map { self.devices[$0] }
        return QueueRole.of(index: queue.index, device: device, netControlQueue: control)
    }

    /// The net control queue: 2 with one queue pair; with several pairs (or unknown features,
    /// as on virtio-pci) the highest even-numbered queue, if its requests look like control
    /// commands (a readable command and a writable ack) or it was never used.
    /// Spec: virtio v1.2 §5.1.2 (controlq is queue 2N).
    func netControlQueue(_ state: DeviceState, queues owned: [QueueState]) -> Int? {
        guard state.type == .network else { return nil }
        if let features = state.negotiatedFeatures ?? state.driverFeatures, !features.contains(.netMultiqueue) {
            return features.contains(.netControlQueue) ? 2 : nil
        }
        guard let candidate = owned.compactMap(\.index).filter({ $0 > 0 && $0 % 2 == 0 }).max(),
            let queue = owned.first(where: { $0.index == candidate })
        else { return nil }
        return queue.shapes.mixed.count > 0 || queue.pops == 0 ? candidate : nil
    }

    func deviceReport(_ device: DeviceState, queues slots: [Int]) -> DeviceReport {
        let owned = slots.map { self.queues[$0] }
        let control = self.netControlQueue(device, queues: owned)
        let queues = owned
            .sorted { ($0.index ?? .max, $0.vq) < ($1.index ?? .max, $1.vq) }
            .map { queue -> QueueReport in
                let stages: [(String, LatencyHistogram)] = [
                    ("kick→pop", queue.kickToPop), ("pop→fill", queue.popToFill), ("fill→flush", queue.fillToFlush),
                    ("flush→interrupt", queue.flushToInterrupt),
                ]
                var active: Int64?
                if let first = queue.firstActivity, let last = queue.lastActivity {
                    active = last.nanoseconds(since: first)
                }
                return QueueReport(
                    index: queue.index, vq: queue.vq, role: self.role(of: queue, netControlQueue: control),
                    kicks: queue.kicks, qemuNotifies: queue.qemuNotifies, pops: queue.pops, fills: queue.fills,
                    drainedFills: queue.drainedFills, qemuErrors: queue.qemuErrors, flushes: queue.flushes, flushedElements: queue.flushedElements,
                    flushedSinceReset: queue.flushedSinceReset, recentFills: queue.recentFills,
                    fillsAwaitingFlush: queue.fillsAwaitingFlush, interrupts: queue.interrupts,
                    bytesUsed: queue.bytesUsed, maxInFlight: queue.maxInFlight, inFlightAtEnd: queue.inFlightCount,
                    activeNanoseconds: active,
                    latencies: stages.compactMap { LatencySummary(stage: $0.0, histogram: $0.1) },
                    negativeIntervals: queue.negativeIntervals)
            }
        return DeviceReport(
            label: device.label, vdev: device.vdev, type: device.type,
            typeDecidedBy: device.typeSource?.description ?? "undecided: no device-specific evidence in the trace",
            transport: device.transport, mmioVersion: device.transport == .mmio ? (device.mmioVersion ?? nil) : nil,
            statusHistory: device.statusHistory, statusWrites: device.statusWrites, finalStatus: device.status,
            driverFeatures: device.negotiatedFeatures ?? device.driverFeatures, queues: queues,
            programmedQueues: device.programmedQueues)
    }
}
