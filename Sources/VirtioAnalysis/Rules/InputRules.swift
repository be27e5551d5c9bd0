/// Problems of the trace file itself. They are not VIRTIO rules, but they are reported like
/// findings so that a CI job sees them and a user can find the line.
enum InputRules {
    static let malformedLine = RuleInfo(
        id: "TRACE-MALFORMED-LINE", severity: .warning, section: "n/a",
        summary: "a virtio trace event line whose arguments could not be read",
        party: .input, evidence: "the line names a known event but its numbers are missing or out of range")
    static let lineTooLong = RuleInfo(
        id: "TRACE-LINE-TOO-LONG", severity: .warning, section: "n/a",
        summary: "a line longer than the reader's limit was skipped",
        party: .input, evidence: "a line over 64 KiB")
    static let truncatedLastLine = RuleInfo(
        id: "TRACE-TRUNCATED", severity: .warning, section: "n/a",
        summary: "the trace ends inside a line (QEMU was killed while writing?)",
        party: .input, evidence: "no newline at the end of the file")
    static let unattributedRegisterWrites = RuleInfo(
        id: "MMIO-UNATTRIBUTED-WRITES", severity: .note, section: "4.2.2",
        summary: "virtio-mmio register writes that could not be tied to a device",
        party: .input, evidence: "virtio_mmio_write_offset lines with no Status write naming a device after them")

    static let modelLimits = RuleInfo(
        id: "TRACE-MODEL-LIMITS", severity: .warning, section: "n/a",
        summary: "events past the model's limits (devices, queues, requests in flight) were counted, not analysed",
        party: .input, evidence: "more devices, queues or requests in flight than vqscope tracks")

    static let droppedEvents = RuleInfo(
        id: "TRACE-DROPPED-EVENTS", severity: .warning, section: "n/a",
        summary: "QEMU dropped trace events (simple backend: its buffer was full)",
        party: .input, evidence: "a dropped-events record of a simple trace")

    static let infos: [RuleInfo] = [
        malformedLine, lineTooLong, truncatedLastLine, unattributedRegisterWrites, modelLimits, droppedEvents,
    ]
}
