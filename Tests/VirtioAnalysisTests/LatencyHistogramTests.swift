import Testing
import VirtioAnalysis

struct LatencyHistogramTests {
    @Test("an empty histogram has no percentiles")
    func empty() {
        let histogram = LatencyHistogram()
        #expect(histogram.count == 0 && histogram.value(atQuantile: 0.5) == nil && histogram.mean == nil)
    }

    @Test("percentiles of 1…1000 µs are within 1/16 of the exact values")
    func accuracy() throws {
        var histogram = LatencyHistogram()
        for micros in 1...1_000 { histogram.record(Int64(micros) * 1_000) }
        #expect(histogram.count == 1_000)
        #expect(histogram.minimum == 1_000 && histogram.maximum == 1_000_000)
        for (quantile, exact) in [(0.5, 500_000.0), (0.9, 900_000.0), (0.99, 990_000.0)] {
            let value = Double(try #require(histogram.value(atQuantile: quantile)))
            #expect(abs(value - exact) / exact <= 1.0 / 16, "p\(quantile * 100): \(value)")
        }
        #expect(histogram.mean == 500_500)
    }

    @Test("small values are exact and negative ones count as zero")
    func smallValues() {
        var histogram = LatencyHistogram()
        for value: Int64 in [-5, 0, 3, 15] { histogram.record(value) }
        #expect(histogram.minimum == 0 && histogram.maximum == 15)
        #expect(histogram.value(atQuantile: 0.5) == 0)
        #expect(histogram.value(atQuantile: 1) == 15)
    }

    @Test("extreme values neither trap nor overflow the mean")
    func extremes() {
        var histogram = LatencyHistogram()
        histogram.record(.max)
        histogram.record(.max)
        #expect(histogram.maximum == .max)
        #expect(histogram.value(atQuantile: 0.99) == .max)
        #expect(histogram.mean != nil)
    }
}
