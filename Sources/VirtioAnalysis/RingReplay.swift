import GuestMemory
import TraceSources
import VirtioModel

/// One ring transition of a recorded run (`vqscope record`), as the run directory's reader
/// decodes it.
public enum RingEvent: Sendable {
    /// A queue watched from index 0 (a device reached DRIVER_OK, or was set up again).
    case queue(device: String, type: DeviceType?, queue: Int, size: UInt16)
    /// A chain made available: its head, its writable bytes and the defects its walk found
    /// (as rule ID and message); `writableBytes` nil for a stale entry, whose head was offered
    /// again before the recorder could read it.
    case avail(device: String, queue: Int, time: Int64, head: UInt16, writableBytes: UInt64?, defects: [ChainDefectFinding])
    case used(device: String, queue: Int, time: Int64, id: UInt32, length: UInt32)
    /// Entries overwritten before the recorder read them.
    case missed(device: String, queue: Int, count: Int)
    /// The rings stopped making sense (the driver reset the device and reused the memory,
    /// most likely): nothing more was recorded for the queue until it was set up again.
    case suspended(device: String, queue: Int)
    /// The device left DRIVER_OK: its queues are no longer watched.
    case reset(device: String)
}

/// A defect of a walked chain, as the rule it breaks and what to say.
public struct ChainDefectFinding: Sendable, Equatable {
    public var rule: String
    public var message: String

    public init(rule: String, message: String) {
        self.rule = rule
        self.message = message
    }
}

extension DescriptorChain {
    /// Each defect of the walk as the rule it breaks (the same as `vqscope inspect` reports).
    public var defectFindings: [ChainDefectFinding] {
        self.defects.map {
            let (rule, message) = OwnedChains.finding(for: $0, head: self.head)
            return ChainDefectFinding(rule: rule.id, message: message)
        }
    }
}

/// What the recording showed for one queue.
public struct RecordedQueueReport: Sendable {
    public var device: String
    public var type: DeviceType?
    public var queue: Int
    public var availEntries = 0
    public var usedEntries = 0
    /// Stale and overwritten entries: seen too late to read.
    public var missed = 0
    /// The recorder stopped reading the queue (its rings stopped making sense).
    public var suspended = false
    /// Time from a chain made available to its used element, as the recorder saw them.
    public var availToUsed: LatencySummary?
}

/// Replays a recording's ring transitions through the rules that need the rings over time:
/// each chain's structure when it was made available, and each used element against the
/// chains the device owned then (owned, not returned twice, no more bytes than writable).
///
/// Spec: virtio v1.2 §2.7.5 (chains), §2.7.8 (used ring).
public struct RingReplay {
    struct Outstanding {
        var time: Int64
        /// Nil when the chain was stale (its length cannot be judged).
        var writableBytes: UInt64?
    }

    struct QueueState {
        var report: RecordedQueueReport
        var size: UInt16
        /// Offers of each head not yet matched by a used element, oldest first.
        var outstanding: [UInt16: [Outstanding]] = [:]
        var returned: Set<UInt16> = []
        /// Entries were missed: a used id not known to be outstanding may be one of them.
        var uncertain = false
        var latency = LatencyHistogram()
    }

    let file: String
    var sink = FindingSink()
    var queues: [String: QueueState] = [:]
    var order: [String] = []
    var finished: [RecordedQueueReport] = []

    public init(file: String) { self.file = file }

    static func key(_ device: String, _ queue: Int) -> String { "\(device)#\(queue)" }

    public mutating func consume(_ event: RingEvent, line: Int) {
        switch event {
        case .queue(let device, let type, let queue, let size):
            let key = Self.key(device, queue)
            if let old = self.queues[key] { self.finished.append(Self.summary(old)) } else if !self.order.contains(key) { self.order.append(key) }
            self.queues[key] = QueueState(report: RecordedQueueReport(device: device, type: type, queue: queue), size: size)
        case .avail(let device, let queue, let time, let head, let writable, let defects):
            let key = Self.key(device, queue)
            guard var state = self.queues[key] else { return }
            state.report.availEntries += 1
            if writable == nil { state.report.missed += 1 }
            for defect in defects {
                guard let rule = RuleCatalog.rule(id: defect.rule) else { continue }
                self.add(rule, defect.message, line: line, device: device, queue: queue)
            }
            // A head offered again before its completion is recorded is not judged here: the
            // recorder reads both rings at one moment, so a completion and the offer after it
            // can come in either order (SPLIT-CHAINS-DISJOINT is inspect's, on a snapshot).
            state.outstanding[head, default: []].append(Outstanding(time: time, writableBytes: writable))
            state.returned.remove(head)
            self.queues[key] = state
        case .used(let device, let queue, let time, let id, let length):
            let key = Self.key(device, queue)
            guard var state = self.queues[key] else { return }
            state.report.usedEntries += 1
            let head = UInt16(truncatingIfNeeded: id)
            if id >= UInt32(state.size) {
                self.add(UsedIDOwned.info, "used element names head \(id), not below the queue size \(state.size)", line: line, device: device, queue: queue)
            } else if var offers = state.outstanding[head], !offers.isEmpty {
                let owned = offers.removeFirst()
                state.outstanding[head] = offers.isEmpty ? nil : offers
                state.latency.record(Timestamp.interval(from: owned.time, to: time))
                if let writable = owned.writableBytes, UInt64(length) > writable {
                    self.add(
                        UsedLengthBound.info, "used element for head \(head) reports \(length) bytes written, the chain has \(writable) writable",
                        line: line, device: device, queue: queue)
                }
                state.returned.insert(head)
            } else if !state.uncertain {
                if state.returned.contains(head) {
                    self.add(NoDoubleComplete.info, "head \(head) is returned again without being made available again", line: line, device: device, queue: queue)
                } else {
                    self.add(UsedIDOwned.info, "used element names head \(head), which the device does not own", line: line, device: device, queue: queue)
                }
            }
            self.queues[key] = state
        case .suspended(let device, let queue):
            self.queues[Self.key(device, queue)]?.uncertain = true
            self.queues[Self.key(device, queue)]?.report.suspended = true
        case .missed(let device, let queue, let count):
            let key = Self.key(device, queue)
            self.queues[key]?.report.missed += count
            self.queues[key]?.uncertain = true
        case .reset(let device):
            for (key, state) in self.queues where state.report.device == device {
                self.finished.append(Self.summary(state))
                self.queues[key] = nil
            }
        }
    }

    mutating func add(_ rule: RuleInfo, _ message: String, line: Int, device: String, queue: Int) {
        self.sink.add(Finding(rule: rule, message: message, location: Location(file: self.file, line: line, device: device, queue: queue)))
    }

    static func summary(_ state: QueueState) -> RecordedQueueReport {
        var report = state.report
        report.availToUsed = LatencySummary(stage: "avail→used", histogram: state.latency)
        return report
    }

    /// The queues in the order first seen (one entry per time a queue was watched) and the findings.
    public func finish() -> (queues: [RecordedQueueReport], sink: FindingSink) {
        let open = self.order.compactMap { self.queues[$0] }.map(Self.summary)
        return (self.finished + open, self.sink)
    }
}
