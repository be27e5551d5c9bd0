import VirtioModel

/// A block request is a device-readable header, data, and a device-writable status byte, so
/// every chain has at least one readable and one writable descriptor.
///
/// Spec: virtio v1.2 §5.2.6 "Device Operation" (request layout).
struct BlockFrame: SummaryRule {
    static let info = RuleInfo(
        id: "BLK-FRAME", severity: .error, section: "5.2.6",
        summary: "a block request has a readable header and a writable status byte",
        party: .driver, evidence: "virtqueue_pop with in_num = 0 or out_num = 0 on a block queue")

    static func check(device: DeviceState?, queue: QueueState, role: QueueRole) -> [SummaryFinding] {
        guard device?.type == .block else { return [] }
        return RequestShape.finding(queue.shapes.readableOnly, of: queue, "had no device-writable status byte")
            + RequestShape.finding(queue.shapes.writableOnly, of: queue, "had no device-readable header")
            + RequestShape.finding(queue.shapes.empty, of: queue, "were empty")
    }
}
