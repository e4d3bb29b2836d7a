/// Percentiles and a histogram of a set of durations in milliseconds (quiz answer times).
///
/// Percentiles are nearest-rank (the smallest value with at least p% of the values at or below it). The histogram has
/// buckets of `bucketMs` from zero: 1 s wide, widened in whole seconds so that there are never more than
/// `maximumBuckets`.
public struct Distribution: Sendable, Hashable, Codable {
    public var count: Int
    public var minMs: Int64?
    public var maxMs: Int64?
    public var meanMs: Double?
    public var p50Ms: Int64?
    public var p90Ms: Int64?
    public var p99Ms: Int64?
    public var bucketMs: Int64
    /// `histogram[i]` counts the values in `[i × bucketMs, (i + 1) × bucketMs)`.
    public var histogram: [Int]

    public static let maximumBuckets = 60

    public init(_ values: [Int64]) {
        let sorted = values.map { max($0, 0) }.sorted()
        count = sorted.count
        minMs = sorted.first
        maxMs = sorted.last
        meanMs = sorted.isEmpty ? nil : Double(sorted.reduce(0, &+)) / Double(sorted.count)
        p50Ms = Self.percentile(0.50, of: sorted)
        p90Ms = Self.percentile(0.90, of: sorted)
        p99Ms = Self.percentile(0.99, of: sorted)
        let largest = sorted.last ?? 0
        let seconds = largest / 1000 + 1
        let widthSeconds = (seconds + Int64(Self.maximumBuckets) - 1) / Int64(Self.maximumBuckets)
        bucketMs = max(widthSeconds, 1) * 1000
        var histogram = Array(repeating: 0, count: sorted.isEmpty ? 0 : Int(largest / bucketMs) + 1)
        for value in sorted { histogram[Int(value / bucketMs)] += 1 }
        self.histogram = histogram
    }

    static func percentile(_ p: Double, of sorted: [Int64]) -> Int64? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
