import VirtioModel

/// With VIRTIO_CONSOLE_F_MULTIPORT, the driver sends DEVICE_READY once it has set DRIVER_OK:
/// until then the device announces no port. Judged when the trace ends (once the device is
/// known to be a console) on each initialization that reached DRIVER_OK, at that status write.
///
/// Spec: virtio v1.2 §5.3.6.2.2 "The driver MUST send a VIRTIO_CONSOLE_DEVICE_READY message if
/// VIRTIO_CONSOLE_F_MULTIPORT is negotiated."
struct ConsoleDeviceReady: DeviceSummaryRule {
    static let info = RuleInfo(
        id: "CONS-DEVICE-READY", severity: .error, section: "5.3.6.2.2",
        summary: "with MULTIPORT the driver sends DEVICE_READY after DRIVER_OK",
        party: .driver,
        evidence: "virtio_serial_handle_control_message event 0 after DRIVER_OK, before the next reset or the trace's end")

    static func check(device: DeviceState) -> [SummaryFinding] {
        guard device.type == .console else { return [] }
        // The trace's end closed the last initialization as a reset does (``Analyzer/closeConsoleControl(of:)``).
        return device.consoleControl.unreadyInitializations.compactMap { initialization in
            guard let features = initialization.features, features.contains(.consoleMultiport) else { return nil }
            return SummaryFinding(
                message: "DRIVER_OK set with VIRTIO_CONSOLE_F_MULTIPORT negotiated, and no VIRTIO_CONSOLE_DEVICE_READY followed "
                    + "before the device's next reset or the trace's end",
                line: initialization.place.line, timestamp: initialization.place.timestamp)
        }
    }
}
