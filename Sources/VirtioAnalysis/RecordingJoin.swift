import VirtioModel

/// A recording's devices joined with its trace's: a run directory's `rings.jsonl` names a
/// device by its QOM path, the trace by a host pointer, so a recorded device is joined with
/// the trace's device of the same type when each side has exactly one of that type.
struct RecordingJoin {
    private var traced: [DeviceType: DeviceReport] = [:]

    /// `recorded`: the labels of the recorded devices of each type.
    init(recorded: [DeviceType: Set<String>], analysis: AnalysisReport) {
        var byType: [DeviceType: [DeviceReport]] = [:]
        for device in analysis.devices { if let type = device.type { byType[type, default: []].append(device) } }
        for (type, devices) in byType where devices.count == 1 && recorded[type]?.count == 1 { self.traced[type] = devices[0] }
    }

    /// The trace's device joined with the recorded device of `type`.
    func device(_ type: DeviceType?) -> DeviceReport? { type.flatMap { self.traced[$0] } }
}
