import Testing
import VirtioAnalysis
import VirtioTestSupport

/// MMIO-PROBE-ORDER's register blocks, told apart by address: as many as the device limit are
/// followed, the rest counted (a hostile guest touching every 0x200 bytes of a huge region).
struct MMIOProbeLimitTests {
    @Test("blocks past the device limit are counted under TRACE-MODEL-LIMITS, not followed; memory stays bounded")
    func blockLimit() throws {
        var options = AnalysisOptions()
        options.maximumDevices = 16
        let lines = (0..<40).map { block in
            traceLine(block * 10 + 10, "memory_region_ops_write cpu 0 mr 0x5 addr 0x\(String(0xa00_0000 + block * 0x200 + 0x70, radix: 16)) value 0x0 size 4 name 'virtio-mmio'")
        }
        let report = try analyze(text: lines.joined(separator: "\n") + "\n", options: options)
        // A Status write before any probe, in each of the first 16 blocks.
        #expect(report.lines(of: "MMIO-PROBE-ORDER") == Array(1...16))
        #expect(report.lines(of: "TRACE-MODEL-LIMITS") == [17])
    }
}
