import VirtioModel

/// A console has queues past port 0's two (the control queues, then the other ports') only
/// with VIRTIO_CONSOLE_F_MULTIPORT: a driver that never accepted it uses queues 0 and 1 only.
/// Raised on a queue of index 2 or more the device took elements from, at the first of them,
/// when none of the feature sets the driver accepted for the device has MULTIPORT.
///
/// Spec: virtio v1.2 §5.3.2 "The port 0 receive and transmit queues always exist: other queues
/// only exist if VIRTIO_CONSOLE_F_MULTIPORT is set."
struct ConsoleMultiportQueues: SummaryRule {
    static let info = RuleInfo(
        id: "CONS-MULTIPORT-QUEUES", severity: .error, section: "5.3.2",
        summary: "a console's queues past port 0's are used only with MULTIPORT",
        party: .driver, evidence: "virtqueue_pop on a console queue of index 2 or more, the driver's accepted features without MULTIPORT")

    static func check(device: DeviceState?, queue: QueueState, role: QueueRole) -> [SummaryFinding] {
        guard let device, device.type == .console, let index = queue.index, index >= 2, !device.acceptedFeatureSets.isEmpty,
            !device.acceptedFeatureSets.contains(where: { $0.features.contains(.consoleMultiport) })
        else { return [] }
        // The first element the device took, of whatever shape.
        let shapes = [queue.shapes.readableOnly, queue.shapes.writableOnly, queue.shapes.mixed, queue.shapes.empty]
        let firsts = shapes.compactMap { shape in shape.firstLine.map { (line: $0, time: shape.firstTime) } }
        guard let first = firsts.min(by: { $0.line < $1.line }) else { return [] }
        return [
            SummaryFinding(
                message: "queue \(index) used (\(queue.pops) element(s) taken) though the driver never accepted VIRTIO_CONSOLE_F_MULTIPORT: "
                    + "without it only queues 0 and 1 exist",
                line: first.line, timestamp: first.time)
        ]
    }
}
