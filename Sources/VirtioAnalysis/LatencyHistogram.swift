/// A fixed-footprint log-linear histogram of non-negative durations in nanoseconds.
///
/// Values below 16 ns get a bucket each; above that every power of two is split into 16
/// linear sub-buckets, so a reported percentile is within 1/16 (6.25 %) of the true value.
/// The bucket array is allocated on the first sample and never grows (960 32-bit counters,
/// 3.75 KiB; a bucket saturates at 2^32 − 1 samples).
public struct LatencyHistogram: Sendable, Equatable {
    static let subBucketBits = 4
    static let subBuckets = 1 << subBucketBits
    static let bucketCount = subBuckets + (63 - subBucketBits) * subBuckets

    private var counts: [UInt32] = []
    public private(set) var count: UInt64 = 0
    public private(set) var minimum: Int64 = .max
    public private(set) var maximum: Int64 = 0
    /// Sum of samples, saturating, for the mean.
    public private(set) var sum: UInt64 = 0

    public init() {}

    static func bucket(of value: Int64) -> Int {
        let v = UInt64(max(value, 0))
        if v < UInt64(subBuckets) { return Int(v) }
        let exponent = 63 - v.leadingZeroBitCount  // ≥ subBucketBits
        let sub = Int((v >> UInt64(exponent - subBucketBits)) & UInt64(subBuckets - 1))
        return subBuckets + (exponent - subBucketBits) * subBuckets + sub
    }

    /// The smallest value that falls in `bucket`, and the bucket's width.
    static func range(of bucket: Int) -> (low: Int64, width: Int64) {
        if bucket < subBuckets { return (Int64(bucket), 1) }
        let exponent = (bucket - subBuckets) / subBuckets + subBucketBits
        let sub = (bucket - subBuckets) % subBuckets
        let width = Int64(1) << Int64(exponent - subBucketBits)
        return ((Int64(subBuckets + sub)) * width, width)
    }

    public mutating func record(_ nanoseconds: Int64) {
        let value = max(nanoseconds, 0)
        if self.counts.isEmpty { self.counts = [UInt32](repeating: 0, count: Self.bucketCount) }
        let bucket = Self.bucket(of: value)
        if self.counts[bucket] < .max { self.counts[bucket] += 1 }
        self.count &+= 1
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)
        let (total, overflow) = self.sum.addingReportingOverflow(UInt64(value))
        self.sum = overflow ? .max : total
    }

    /// The value at quantile `q` (0…1): the middle of the bucket holding it, clamped to the
    /// observed minimum and maximum. `nil` when empty.
    public func value(atQuantile q: Double) -> Int64? {
        guard self.count > 0 else { return nil }
        let rank = max(1, UInt64((Double(self.count) * q).rounded(.up)))
        var seen: UInt64 = 0
        for (bucket, count) in self.counts.enumerated() where count > 0 {
            seen += UInt64(count)
            if seen >= rank {
                let (low, width) = Self.range(of: bucket)
                return min(max(low + (width - 1) / 2, self.minimum), self.maximum)
            }
        }
        return self.maximum
    }

    public var mean: Double? { self.count == 0 ? nil : Double(self.sum) / Double(self.count) }
}
