import ArgumentParser

@main
struct VQScope: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "vqscope",
        abstract: "Check QEMU virtio traces against the VIRTIO 1.x spec and measure where the time goes.",
        discussion: """
            Exit codes: 0 clean, 1 findings at or above --fail-on, 64 usage error, \
            65 input that cannot be decoded, 66 input that cannot be found or read.
            """,
        version: VQScope.version,
        subcommands: [Analyze.self, Inspect.self, Pcap.self, Record.self, BaselineCommand.self, Explain.self, Rules.self],
        defaultSubcommand: Analyze.self
    )
}
