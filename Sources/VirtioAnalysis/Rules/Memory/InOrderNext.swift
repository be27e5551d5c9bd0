import GuestMemory
import VirtioModel

/// With VIRTIO_F_IN_ORDER a split chain's descriptors are consecutive: the one at offset x of
/// the table links to x + 1 (the table's last, at queue size − 1, to 0), and an indirect
/// table's entries are used from entry 0 on, each linking to the next.
///
/// Spec: virtio v1.2 §2.7.5.2 (1.1: §2.6.5.2) "If VIRTIO_F_IN_ORDER has been negotiated, and
/// when making a descriptor with VRING_DESC_F_NEXT set in flags at offset x in the table
/// available to the device, driver MUST set next to 0 for the last descriptor in the table
/// (where x = queue_size − 1) and to x + 1 for the rest of the descriptors." §2.7.5.3.1 (1.1:
/// §2.6.5.3.1) "If VIRTIO_F_IN_ORDER has been negotiated, indirect descriptors MUST appear
/// sequentially, with next taking the value of 1 for the 1st descriptor, 2 for the 2nd one,
/// etc."
struct InOrderNext: SnapshotRule {
    static let info = RuleInfo(
        id: "SPLIT-IN_ORDER-NEXT", severity: .error, section: "2.7.5.2", section11: "2.6.5.2",
        summary: "with IN_ORDER, a descriptor at offset x links to x + 1 (the last to 0), and an indirect table's from entry 0 on",
        party: .driver, evidence: "the descriptors of an owned split chain and the negotiated features")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard let features = queue.features, features.contains(.inOrder), !features.contains(.ringPacked) else { return [] }
        let size = queue.addresses.size
        return queue.wholeChains.compactMap { chain in
            for (from, to) in zip(chain.tableIndices, chain.tableIndices.dropFirst()) {
                let expected = from == size &- 1 ? 0 : from &+ 1
                if to != expected {
                    return "chain at head \(chain.head): descriptor \(from) links to \(to), not \(expected)"
                }
            }
            // The walk starts an indirect table at entry 0 (§2.7.5.3); each link is judged.
            let entries = chain.elements.filter(\.indirect).map(\.index)
            for (from, to) in zip(entries, entries.dropFirst()) where to != from &+ 1 {
                return "chain at head \(chain.head): indirect entry \(from) links to entry \(to), not \(from &+ 1): indirect tables too are in order (§2.7.5.3.1)"
            }
            return nil
        }
    }
}
