import GuestMemory
import VirtioModel

/// The lists a packed queue's driver has made available carry distinct Buffer IDs: the device
/// names a completed list only by the ID of its last descriptor, so two lists outstanding with
/// one ID cannot be told apart when they come back (derived).
///
/// Spec: virtio v1.2 §2.8.6 (the driver's algorithm), §2.8.13 ("Buffer ID").
struct PackedBufferIDs: PackedRule {
    static let info = RuleInfo(
        id: "PACKED-ID-LAST", severity: .error, section: "2.8.6, 2.8.13", section11: "2.7.6, 2.7.13",
        summary: "lists outstanding at once carry distinct Buffer IDs (in their last descriptor)",
        party: .driver, evidence: "a packed ring in a dump and the device's position (QMP)")

    static func check(_ queue: PackedQueueContext) -> [String] {
        var first: [UInt16: UInt16] = [:]
        var messages: [String] = []
        for list in queue.lists {
            guard let id = list.bufferID else { continue }
            if let earlier = first[id] {
                messages.append("the lists at slots \(earlier) and \(list.head) both carry Buffer ID \(id)")
            } else {
                first[id] = list.head
            }
        }
        return messages
    }
}
