import GuestMemory
import TraceSources
import VirtioModel

/// A trace and a dump of the same run agree: the used index in memory is the number of
/// elements the trace shows flushed since the device's last reset, the last used elements
/// carry the lengths of the trace's last fills, the requests the trace shows in flight are
/// QEMU's `inuse` (with QMP) and fit in the chains memory shows outstanding. A mismatch means the two are not of the same
/// moment, or the trace lost events; the checks that join them are then unreliable.
///
/// Spec: virtio v1.2 §2.7.8 (the used ring: `idx` counts the elements the device added).
enum DumpTraceMismatch {
    static let info = RuleInfo(
        id: "DUMP-TRACE-MISMATCH", severity: .warning, section: "n/a",
        summary: "a trace and a dump given together describe the same moment",
        party: .input, evidence: "the trace's flushes and fills on a queue against its used ring in the dump")

    /// The findings for every inspected queue that can be paired with a queue of the trace:
    /// by device label (queues found from the trace) or, failing that, by device type and
    /// queue index when the trace has one device of that type.
    static func findings(analysis: AnalysisReport, inspection: InspectionReport) -> [Finding] {
        var findings: [Finding] = []
        for queue in inspection.queues {
            guard let (device, traced) = Self.pair(queue, in: analysis),
                let availIndex = queue.availIndex, let usedIndex = queue.usedIndex
            else { continue }
            let location = Location(file: inspection.dump, device: queue.device ?? device.label, queue: queue.queue)
            for message in Self.compare(traced, usedIndex: usedIndex, availIndex: availIndex, queue: queue) {
                findings.append(Finding(rule: Self.info, message: message, location: location))
            }
        }
        return findings
    }

    static func pair(_ queue: QueueInspection, in analysis: AnalysisReport) -> (DeviceReport, QueueReport)? {
        let byLabel = analysis.devices.first { $0.label == queue.device }
        let device: DeviceReport
        if let byLabel {
            device = byLabel
        } else {
            let sameType = analysis.devices.filter { $0.type != nil && $0.type == queue.deviceType }
            guard sameType.count == 1, let only = sameType.first else { return nil }
            device = only
        }
        guard let traced = device.queues.first(where: { $0.index == queue.queue }) else { return nil }
        return (device, traced)
    }

    static func compare(
        _ traced: QueueReport, usedIndex: UInt16, availIndex: UInt16, queue: QueueInspection
    ) -> [String] {
        var messages: [String] = []
        let expected = UInt16(truncatingIfNeeded: traced.flushedSinceReset)
        if expected != usedIndex {
            messages.append(
                "used.idx \(usedIndex) in the dump, but the trace shows \(traced.flushedSinceReset) elements flushed "
                    + "since the last reset (\(expected) modulo 65536)")
            return messages
        }
        // The last used elements, newest first, against the trace's last fills (only when no
        // fill is waiting for its flush: those slots are written but not yet published).
        if traced.fillsAwaitingFlush == 0 {
            for (used, traceLength) in zip(queue.recentUsed.reversed(), traced.recentFills.map(\.length).reversed())
            where used.element.length != traceLength {
                messages.append(
                    "used ring slot \(used.slot) holds length \(used.element.length), but the trace's fill there says \(traceLength)")
                break
            }
        }
        // QEMU's own count (QMP `inuse`) is the trace's in-flight requests seen from QEMU.
        if let inUse = queue.qemuInUse, inUse != traced.inFlightAtEnd {
            messages.append("QMP's inuse is \(inUse), but the trace ends with \(traced.inFlightAtEnd) requests in flight")
        }
        let outstanding = Int(availIndex &- usedIndex)
        if traced.inFlightAtEnd > outstanding {
            messages.append(
                "the trace ends with \(traced.inFlightAtEnd) requests in flight, but the dump shows only \(outstanding) "
                    + "chains between used.idx and avail.idx")
        }
        return messages
    }

    /// What QEMU took for each of the queue's last used elements, by used index, as the trace
    /// shows it: only when the trace pairs with the queue and agrees on its used index, with no
    /// fill waiting for its flush (``completionTime(of:in:analysis:)``).
    static func takenChains(_ queue: QueueInspection, in analysis: AnalysisReport) -> [UInt16: ChainShape] {
        guard let (_, traced) = Self.pair(queue, in: analysis), let dumpIndex = queue.usedIndex,
            UInt16(truncatingIfNeeded: traced.flushedSinceReset) == dumpIndex, traced.fillsAwaitingFlush == 0
        else { return [:] }
        var shapes: [UInt16: ChainShape] = [:]
        for (back, fill) in traced.recentFills.reversed().enumerated() {
            if let shape = fill.shape { shapes[dumpIndex &- UInt16(truncatingIfNeeded: back + 1)] = shape }
        }
        return shapes
    }

    /// When the trace shows the device filling the element at used index `usedIndex` of this
    /// queue of the dump: only for the trace's last fills, and only when trace and dump agree
    /// on the used index (the fills are then the last used elements, in order).
    static func completionTime(of usedIndex: UInt16, in queue: QueueInspection, analysis: AnalysisReport) -> Timestamp? {
        guard let (_, traced) = Self.pair(queue, in: analysis), let dumpIndex = queue.usedIndex,
            UInt16(truncatingIfNeeded: traced.flushedSinceReset) == dumpIndex, traced.fillsAwaitingFlush == 0
        else { return nil }
        let back = Int(dumpIndex &- usedIndex)  // 1 for the newest element
        guard back >= 1, back <= traced.recentFills.count else { return nil }
        return traced.recentFills[traced.recentFills.count - back].time
    }
}
