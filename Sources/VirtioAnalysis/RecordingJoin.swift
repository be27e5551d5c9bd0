import GuestMemory
import TraceSources
import VirtioModel

/// A device as a recording names it: its type, and where the driver put its queues'
/// descriptor areas each time they were watched.
public struct RecordedDevice: Sendable, Equatable {
    public var type: DeviceType?
    public private(set) var descriptorAreas: Set<UInt64> = []

    /// The most devices a reader collects, and areas per device (a hostile recording could
    /// set a queue up millions of times).
    public static let maximumDevices = 4096
    static let maximumAreas = 4096

    public init(type: DeviceType?) { self.type = type }

    /// Notes a watch of one of its queues with its descriptor area at `area`.
    public mutating func add(area: UInt64?) {
        guard let area, self.descriptorAreas.count < Self.maximumAreas else { return }
        self.descriptorAreas.insert(area)
    }
}

/// A recording's devices joined with its trace's. A run directory's `rings.jsonl` names a
/// device by its QOM path, the trace by a host pointer: a recorded device is joined with the
/// one traced device that programmed a queue at one of its descriptor areas (virtio-mmio
/// register writes: ``DeviceReport/programmedQueues``); those left are joined by type, where
/// one recorded and one traced device of that type remain.
struct RecordingJoin {
    private var joined: [String: DeviceReport] = [:]

    /// `recorded`: the recorded devices by label.
    init(recorded: [String: RecordedDevice], analysis: AnalysisReport) {
        var taken: Set<HostPointer> = []
        // By address: a traced device that programmed one of the label's descriptor areas, the only one.
        for (label, device) in recorded.sorted(by: { $0.key < $1.key }) where !device.descriptorAreas.isEmpty {
            let candidates = analysis.devices.filter { traced in
                traced.programmedQueues.contains { device.descriptorAreas.contains($0.addresses.descriptorArea) }
            }
            guard candidates.count == 1, taken.insert(candidates[0].vdev).inserted else { continue }
            self.joined[label] = candidates[0]
        }
        // By type, among those left.
        var recordedLeft: [DeviceType: [String]] = [:]
        for (label, device) in recorded where self.joined[label] == nil {
            if let type = device.type { recordedLeft[type, default: []].append(label) }
        }
        var tracedLeft: [DeviceType: [DeviceReport]] = [:]
        for device in analysis.devices where !taken.contains(device.vdev) {
            if let type = device.type { tracedLeft[type, default: []].append(device) }
        }
        for (type, labels) in recordedLeft where labels.count == 1 && tracedLeft[type]?.count == 1 {
            self.joined[labels[0]] = tracedLeft[type]?[0]
        }
    }

    /// The devices of a recording's queues (each watch names its device's type and descriptor area).
    init(queues: [RecordedQueueReport], analysis: AnalysisReport) {
        var recorded: [String: RecordedDevice] = [:]
        for queue in queues { recorded[queue.device, default: RecordedDevice(type: queue.type)].add(area: queue.descriptorArea) }
        self.init(recorded: recorded, analysis: analysis)
    }

    /// The trace's device joined with the recorded device `label`.
    func device(_ label: String) -> DeviceReport? { self.joined[label] }
}
