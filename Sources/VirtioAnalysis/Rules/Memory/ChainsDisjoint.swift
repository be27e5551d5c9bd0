import GuestMemory
import VirtioModel

/// The chains the device owns share no descriptor of the queue's table: no head is made
/// available twice while in flight, and no descriptor is linked into two chains. The device
/// may process a chain as soon as it is available (§2.7.13.3), so a shared descriptor is read
/// or written for two requests (derived; EDK2's VirtioLib once put one head in the ring once
/// per descriptor of its chain).
///
/// Spec: virtio v1.2 §2.7.13.2 (1.1: §2.6.13.2).
struct ChainsDisjoint: SnapshotRule {
    static let info = RuleInfo(
        id: "SPLIT-CHAINS-DISJOINT", severity: .error, section: "2.7.13.2", section11: "2.6.13.2",
        summary: "chains in flight share no descriptor (no head is made available twice)",
        party: .driver, evidence: "the descriptor table and available ring of a queue in a dump")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        // The first owning head of every table entry seen so far.
        var owner: [UInt16: UInt16] = [:]
        var messages = queue.repeatedHeads.map { "head \($0) is made available twice while the device owns it" }
        for chain in queue.chains {
            for index in chain.tableIndices {
                if let first = owner[index] {
                    messages.append(
                        "descriptor \(index) is in the chains at heads \(first) and \(chain.head), both in flight")
                    break
                }
                owner[index] = chain.head
            }
        }
        return messages
    }
}
