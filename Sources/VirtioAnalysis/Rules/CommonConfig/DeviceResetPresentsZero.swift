import VirtioModel

/// After the driver resets a virtio-pci device, the device presents 0 in `queue_enable` for
/// every queue the driver has not enabled since: a read of it returning anything else breaks
/// the rule. Judged on the reads `memory_region_ops_read` traces (with the value read), once the
/// trace has shown the driver's reset through the common configuration structure.
///
/// Spec: virtio v1.2 §4.1.4.3.1 (1.1: §4.1.4.3.1) "The device MUST present a 0 in queue_enable
/// on reset."
enum DeviceResetPresentsZero {
    static let info = RuleInfo(
        id: "PCI-DEV-RESET-PRESENT0", severity: .error, section: "4.1.4.3.1",
        summary: "after a reset the device presents 0 in queue_enable until the driver enables the queue",
        party: .device,
        evidence: "virtio-pci queue_enable reads (memory_region_ops_read) after the driver wrote 0 to device_status")

    /// What is wrong with a read of `queue_enable` returning `value`; nil when it is allowed.
    static func check(queueEnable value: UInt64, device: DeviceContext) -> String? {
        guard device.resetThroughCommonConfig, !device.selectedQueueReady, value != 0 else { return nil }
        return "queue_enable of queue \(device.queueSelect) read as 0x\(String(value, radix: 16)) after the reset, "
            + "and the driver has not enabled the queue since: a device presents 0 there on reset"
    }
}
