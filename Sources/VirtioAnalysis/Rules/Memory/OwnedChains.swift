import GuestMemory

/// The chains the device owns are well formed: each defect a walk finds is a finding of the
/// rule it breaks.
///
/// Spec: virtio v1.2 §2.7.4.2, §2.7.5, §2.7.5.2, §2.7.5.3, §2.7.5.3.1, §6.1.
enum OwnedChains {
    static let indirectNotNext = RuleInfo(
        id: "SPLIT-INDIRECT-NOT-NEXT", severity: .error, section: "2.7.5.3.1", section11: "2.6.5.3.1",
        summary: "a descriptor does not carry both INDIRECT and NEXT",
        party: .driver, evidence: "a descriptor chain in a dump")
    static let indirectNoNest = RuleInfo(
        id: "SPLIT-INDIRECT-NO-NEST", severity: .error, section: "2.7.5.3.1", section11: "2.6.5.3.1",
        summary: "an indirect table holds no INDIRECT descriptor",
        party: .driver, evidence: "a descriptor chain in a dump")
    static let chainMaxLength = RuleInfo(
        id: "SPLIT-CHAIN-MAX-LEN", severity: .error, section: "2.7.5.3.1", section11: "2.6.5.3.1",
        summary: "a chain, indirect descriptors included, is no longer than the queue size",
        party: .driver, evidence: "a descriptor chain in a dump")

    static let infos = [indirectNotNext, indirectNoNest, chainMaxLength]

    /// The rule a defect breaks and what to say about it.
    static func finding(for defect: ChainDefect, head: UInt16) -> (RuleInfo, String) {
        let chain = "chain at head \(head): "
        switch defect {
        case .headOutOfRange(let head, let size):
            return (QEMUReported.headInRange, "available ring entry \(head) is not below the queue size \(size)")
        case .nextOutOfRange(let descriptor, let next, let limit, let indirect):
            return (
                QEMUReported.nextInRange,
                chain + "descriptor \(descriptor)\(indirect ? " (indirect table)" : "") has next \(next), not below \(limit)"
            )
        case .loop(let descriptor, let indirect):
            return (QEMUReported.chainNoLoop, chain + "loops back to descriptor \(descriptor)\(indirect ? " (indirect table)" : "")")
        case .tooLong(let count, let limit):
            return (Self.chainMaxLength, chain + "\(count) descriptors, more than \(limit)")
        case .readableAfterWritable(let position):
            return (QEMUReported.readWriteOrder, chain + "element \(position) is device-readable after a device-writable one")
        case .indirectWithNext(let descriptor):
            return (Self.indirectNotNext, chain + "descriptor \(descriptor) has both INDIRECT and NEXT")
        case .nestedIndirect(let descriptor):
            return (Self.indirectNoNest, chain + "indirect table entry \(descriptor) is itself INDIRECT")
        case .indirectLength(let length):
            return (QEMUReported.indirectLength, chain + "indirect table length \(length) is not a non-zero multiple of 16")
        case .indirectNotNegotiated(let descriptor):
            return (QEMUReported.indirectGated, chain + "descriptor \(descriptor) is INDIRECT without VIRTIO_F_INDIRECT_DESC")
        case .unmapped(let address, let length):
            return (
                QEMUReported.guestPhysicalAddress,
                chain + "0x\(String(address, radix: 16))+\(length) is not in guest memory")
        case .notAvailable, .indirectEntryFlags:
            // Packed-ring defects: a split walk never finds them.
            return PackedLists.finding(for: defect, head: head)
        }
    }
}
