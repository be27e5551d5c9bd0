import GuestMemory
import VirtioModel

/// A received packet's `num_buffers` says how many used buffers it spans: 1 without
/// MRG_RXBUF; with it, that many consecutive used elements, all but the last filled.
///
/// Spec: virtio v1.2 §5.1.6.3.2, §5.1.6.4.1 (1.1: §5.1.6.3.2, §5.1.6.4.1).
struct NetReceiveBufferCount: SnapshotRule {
    static let info = RuleInfo(
        id: "NET-RX-NUMBUF", severity: .error, section: "5.1.6.4.1", section11: "5.1.6.4.1",
        summary: "num_buffers is 1 without MRG_RXBUF; with it, the count of used buffers the packet fills",
        party: .device, evidence: "the completed receive buffers of a net queue in a dump")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .network, queue.role == .receive, let features = queue.features,
            let usedIndex = queue.usedIndex, NetHeader.size(features: features) >= 12
        else { return [] }
        return ReceivedPackets(
            completed: queue.completed, usedIndex: usedIndex, allCompletionsInRing: queue.allCompletionsInRing,
            features: features, memory: queue.memory
        ).violations
    }
}
