import GuestMemory
import VirtioModel

/// The event suppression structures hold a defined mode: not the reserved value 3, no
/// reserved flag bits, and RING_EVENT_FLAGS_DESC only with VIRTIO_F_EVENT_IDX.
///
/// Spec: virtio v1.2 §2.8.10 ("RING_EVENT_FLAGS_DESC … only valid if VIRTIO_F_EVENT_IDX has
/// been negotiated"), §2.8.14 (the structure; value 3 reserved).
struct PackedEventFlags: PackedRule {
    static let info = RuleInfo(
        id: "PACKED-EVENT-FLAGS", severity: .error, section: "2.8.10", section11: "2.7.10",
        summary: "event suppression flags are ENABLE, DISABLE, or DESC with EVENT_IDX; reserved bits 0",
        party: .driver, evidence: "the driver and device event suppression structures of a packed queue in a dump or a recording")

    static func check(_ queue: PackedQueueContext) -> [String] {
        guard let snapshot = queue.snapshot else { return [] }
        // The driver writes the driver area, the device the device area (§2.8.10).
        return Self.judge(snapshot.driverEvent, "driver", eventIndex: queue.eventIndex)
            + Self.judge(snapshot.deviceEvent, "device", eventIndex: queue.eventIndex)
    }

    static func judge(_ event: EventSuppression, _ side: String, eventIndex: Bool) -> [String] {
        var messages: [String] = []
        if event.mode == .reserved { messages.append("\(side) event suppression flags hold the reserved value 3") }
        if event.mode == .descriptor, !eventIndex {
            messages.append("\(side) event suppression asks for RING_EVENT_FLAGS_DESC without VIRTIO_F_EVENT_IDX")
        }
        if event.reservedFlagBits != 0 {
            messages.append("\(side) event suppression sets reserved flag bits 0x\(String(event.reservedFlagBits << 2, radix: 16))")
        }
        return messages
    }
}
