import VirtioModel

/// After resetting a virtio-pci device by writing 0 to `device_status`, the driver waits for
/// a read of `device_status` that returns 0 before it writes the status again to initialize
/// the device. Judged only where the trace has `memory_region_ops_read` (``DeviceContext/regionReadsTraced``),
/// without which no read can be seen; the read's value is the region's, as QEMU traces it.
///
/// Spec: virtio v1.2 §4.1.4.3.2 (1.1: §4.1.4.3.2) "After writing 0 to device_status, the
/// driver MUST wait for a read of device_status to return 0 before reinitializing the
/// device."
struct ResetWaitZero: CommonConfigRule {
    static let info = RuleInfo(
        id: "RESET-WAIT-ZERO", severity: .error, section: "4.1.4.3.2",
        summary: "after writing 0 to device_status the driver waits for a read of 0 before initializing the device again",
        party: .driver,
        evidence: "virtio-pci device_status writes and reads (memory_region_ops_write and memory_region_ops_read)")

    static func check(_ write: CommonConfigWrite, device: DeviceContext) -> String? {
        guard device.regionReadsTraced, write.field == .deviceStatus, write.value != 0, let reset = device.resetUnconfirmed
        else { return nil }
        return "device_status written (0x\(String(write.value, radix: 16))) after the reset at line \(reset.line) "
            + "with no read of device_status returning 0 in between: the reset may not be complete"
    }
}
