import VirtioModel

/// The driver writes none of the common configuration structure's read-only fields; a wider
/// access that covers one writes it too.
///
/// Spec: virtio v1.2 §4.1.4.3.2 "The driver MUST NOT write to device_feature, num_queues,
/// config_generation, queue_notify_off or queue_notify_data." (1.1: without queue_notify_data.)
struct ReadOnlyFields: CommonConfigRule {
    static let info = RuleInfo(
        id: "PCI-RO-FIELDS", severity: .error, section: "4.1.4.3.2",
        summary: "no writes to device_feature, num_queues, config_generation, queue_notify_off or queue_notify_data",
        party: .driver, evidence: "memory_region_ops_write on a virtio-pci-common region covering a read-only field")

    static func check(_ write: CommonConfigWrite, device: DeviceContext) -> String? {
        let readOnly = CommonConfig.Field.touched(offset: write.offset, size: write.size).filter(\.isReadOnly)
        guard !readOnly.isEmpty else { return nil }
        let names = readOnly.map(\.name).joined(separator: " and ")
        return "\(write.size)-byte write of 0x\(String(write.value, radix: 16)) at offset 0x\(String(write.offset, radix: 16)) "
            + "writes \(names), read-only for the driver"
    }
}
