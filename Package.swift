// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "vqscope",
    products: [
        .executable(name: "vqscope", targets: ["vqscope"]),
        .library(
            name: "VQScope", targets: ["VirtioModel", "TraceSources", "GuestMemory", "VirtioAnalysis", "VirtioReporting"]),
    ],
    dependencies: [
        // The only dependency: the command-line front end (see README, "Dependencies").
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        // The VIRTIO spec vocabulary: pure values, no I/O, no Foundation.
        .target(name: "VirtioModel", swiftSettings: strict),
        // QEMU trace input: files, lines, typed events.
        .target(name: "TraceSources", dependencies: ["VirtioModel"], swiftSettings: strict),
        // Guest memory dumps (ELF cores, raw images), memory-mapped, and the rings in them.
        .target(name: "GuestMemory", dependencies: ["VirtioModel"], swiftSettings: strict),
        // The verifying driver/device model, the rules and latency.
        .target(
            name: "VirtioAnalysis", dependencies: ["VirtioModel", "TraceSources", "GuestMemory"], swiftSettings: strict),
        // vqscope record: QEMU started with shared guest RAM, its rings watched live over QMP.
        .target(
            name: "LiveCapture", dependencies: ["VirtioModel", "TraceSources", "GuestMemory", "VirtioAnalysis", "VirtioReporting"],
            swiftSettings: strict),
        // libpcap (Debian: libpcap-dev), imported only by PcapExport.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        // pcap files written and read through libpcap.
        .target(name: "PcapExport", dependencies: ["CPcap"], swiftSettings: strict),
        // Analysis results to text and JSON.
        .target(
            name: "VirtioReporting", dependencies: ["VirtioModel", "GuestMemory", "VirtioAnalysis"], swiftSettings: strict),
        .executableTarget(
            name: "vqscope",
            dependencies: [
                "VirtioModel", "TraceSources", "GuestMemory", "VirtioAnalysis", "VirtioReporting", "PcapExport",
                "LiveCapture", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // The fuzzing harness (libFuzzer with -sanitize=fuzzer -DFUZZING: traces/fuzz/run.sh);
        // built plainly, it replays inputs.
        .executableTarget(
            name: "vqscope-fuzz",
            dependencies: ["VirtioModel", "TraceSources", "GuestMemory", "VirtioAnalysis", "VirtioReporting", "LiveCapture"],
            swiftSettings: strict),
        // Fixture paths and small helpers shared by the test targets.
        .target(
            name: "VirtioTestSupport", dependencies: ["TraceSources", "GuestMemory", "VirtioAnalysis", "VirtioModel"],
            path: "Tests/VirtioTestSupport",
            swiftSettings: strict),
        .testTarget(name: "VirtioModelTests", dependencies: ["VirtioModel"], swiftSettings: strict),
        .testTarget(
            name: "TraceSourcesTests", dependencies: ["TraceSources", "VirtioModel", "VirtioTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "GuestMemoryTests", dependencies: ["GuestMemory", "VirtioModel", "VirtioTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "VirtioAnalysisTests",
            dependencies: ["VirtioAnalysis", "TraceSources", "GuestMemory", "LiveCapture", "VirtioModel", "VirtioTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VirtioReportingTests",
            dependencies: [
                "VirtioReporting", "VirtioAnalysis", "TraceSources", "GuestMemory", "VirtioModel", "VirtioTestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LiveCaptureTests", dependencies: ["LiveCapture", "GuestMemory", "VirtioAnalysis", "VirtioModel", "VirtioTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "PcapExportTests", dependencies: ["PcapExport", "VirtioTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "vqscopeTests",
            dependencies: [
                "vqscope", "VirtioReporting", "PcapExport", "LiveCapture", "VirtioAnalysis", "TraceSources", "GuestMemory", "VirtioModel",
                "VirtioTestSupport",
            ],
            swiftSettings: strict
        ),
    ]
)
