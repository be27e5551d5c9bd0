import GuestMemory
import VirtioModel

/// The driver sends a control command only with the feature that allows it, and enables
/// only negotiated offloads: RX_PROMISC and RX_ALLMULTI need CTRL_RX, the other RX commands
/// CTRL_RX_EXTRA, every MAC command CTRL_RX, MQ_RSS_CONFIG RSS; GUEST_OFFLOADS_SET turns on
/// no offload whose feature was not negotiated.
///
/// Spec: virtio v1.2 §5.1.6.5.1.2 "If the VIRTIO_NET_F_CTRL_RX feature has not been negotiated,
/// the driver MUST NOT issue commands VIRTIO_NET_CTRL_RX_PROMISC or VIRTIO_NET_CTRL_RX_ALLMULTI"
/// (and CTRL_RX_EXTRA for the other four), §5.1.6.5.2.2 (MAC class), §5.1.6.5.7.2 (RSS),
/// §5.1.6.5.8.2 "A driver MUST NOT enable an offload for which the appropriate feature has not
/// been negotiated."
struct NetControlGated: SnapshotRule {
    static let info = RuleInfo(
        id: "NET-CTRL-GATED", severity: .error, section: "5.1.6.5.1.2", section11: "5.1.6.5.1.2",
        summary: "control commands are sent, and offloads enabled, only with the features that allow them",
        party: .driver, evidence: "the class, command and data of an owned net control request and the negotiated features")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard let features = queue.features else { return [] }
        let name = { (bit: Int) in Feature.named(bit: bit, device: .network)?.name ?? "bit \(bit)" }
        return NetControlInChain.all(in: queue).compactMap { request in
            let command = request.command
            if let bit = command.requiredFeature, !features.contains(bit: bit) {
                return "chain at head \(request.chain.head): \(command.name) without \(name(bit))"
            }
            guard command == .guestOffloadsSet, let data = request.data(count: 8),
                let offloads = try? ByteCursor(data).peek(UInt64.self, at: 0)
            else { return nil }
            let unnegotiated = offloads & NetControlCommand.guestOffloads.rawValue & ~features.rawValue
            guard unnegotiated != 0 else { return nil }
            let bits = (0..<64).filter { unnegotiated & (1 << UInt64($0)) != 0 }
            return "chain at head \(request.chain.head): GUEST_OFFLOADS_SET enables \(bits.map(name).joined(separator: ", ")), not negotiated"
        }
    }
}
