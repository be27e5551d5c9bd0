import VirtioModel

/// After mapping an event to an MSI-X vector, the driver reads the vector back: the device
/// returns the value written on success and NO_VECTOR (0xffff) on failure. A write of
/// `config_msix_vector`, or of the selected queue's `queue_msix_vector`, other than NO_VECTOR,
/// is a mapping; writing the same field again, selecting or enabling another queue (after a
/// queue's vector), or writing `device_status` before a read of the field breaks the rule.
/// Judged only where the trace has `memory_region_ops_read`. That the vector lies within the
/// MSI-X table is not judged: the table's size is in the PCI capability, which the trace
/// does not show.
///
/// Spec: virtio v1.2 §4.1.5.1.2.2 (1.1: §4.1.5.1.2.2) "After mapping an event to vector, the
/// driver MUST verify success by reading the Vector field value: on success, the previously
/// written value is returned, and on failure, NO_VECTOR is returned."
struct MSIXVectorReadBack: CommonConfigRule {
    static let info = RuleInfo(
        id: "PCI-MSIX-RANGE", severity: .error, section: "4.1.5.1.2.2", section11: "4.1.5.1.2.2",
        summary: "after mapping an event to an MSI-X vector the driver reads the vector back",
        party: .driver,
        evidence: "virtio-pci config_msix_vector and queue_msix_vector writes and reads (memory_region_ops_write and _read)")

    /// NO_VECTOR (§4.1.5.1.2): writing it unmaps, it maps nothing.
    static let noVector: UInt64 = 0xFFFF

    /// A vector mapping not yet read back.
    struct Pending: Sendable, Equatable {
        /// `configMSIXVector` or `queueMSIXVector`.
        var field: CommonConfig.Field
        /// The selected queue, for a queue's vector.
        var queue: Int
        var value: UInt64
        var place: TracePlace
    }

    static func check(_ write: CommonConfigWrite, device: DeviceContext) -> String? {
        guard device.regionReadsTraced, let field = write.field else { return nil }
        let unread = device.msixVectorsUnverified.filter { Self.ends($0, by: field) }
        guard !unread.isEmpty else { return nil }
        let names = unread.map {
            ($0.field == .configMSIXVector ? "config_msix_vector" : "queue_msix_vector of queue \($0.queue)")
                + " written as 0x\(String($0.value, radix: 16)) (line \($0.place.line))"
        }
        return names.joined(separator: " and ") + " not read back before this \(field.name) write: "
            + "only the read shows whether the device mapped it (NO_VECTOR on failure)"
    }

    /// Whether a write of `field` ends the time the driver had to read `pending` back.
    static func ends(_ pending: Pending, by field: CommonConfig.Field) -> Bool {
        switch field {
        case pending.field, .deviceStatus: return true
        case .queueSelect, .queueEnable: return pending.field == .queueMSIXVector
        default: return false
        }
    }
}
