/// A set of option indices (0–15) chosen on a ballot or quiz answer, stored as a bit mask so a ballot costs no allocation.
///
/// On the wire and in records it is a JSON array of indices, e.g. `[0, 2]`.
public struct Choices: OptionSet, Sendable, Hashable, Codable {
    public var rawValue: UInt16

    /// The largest number of options a `Choices` can address.
    public static let capacity = 16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// The choice of a single option; nil when the index is out of `0..<capacity`.
    public init?(index: Int) {
        guard (0..<Self.capacity).contains(index) else { return nil }
        self.rawValue = 1 << UInt16(index)
    }

    /// The set of the given indices; nil when one is out of `0..<capacity`. Duplicates collapse.
    public init?(indices: some Sequence<Int>) {
        var bits: UInt16 = 0
        for index in indices {
            guard (0..<Self.capacity).contains(index) else { return nil }
            bits |= 1 << UInt16(index)
        }
        self.rawValue = bits
    }

    /// The chosen indices in ascending order.
    public var indices: [Int] {
        var result: [Int] = []
        forEachIndex { result.append($0) }
        return result
    }

    /// The number of chosen options.
    public var count: Int { rawValue.nonzeroBitCount }

    /// Whether every chosen index is below `optionCount`.
    public func fits(optionCount: Int) -> Bool {
        guard optionCount < Self.capacity else { return true }
        return rawValue >> UInt16(max(optionCount, 0)) == 0
    }

    /// Calls `body` with each chosen index in ascending order, without allocating.
    @inline(__always)
    public func forEachIndex(_ body: (Int) -> Void) {
        var bits = rawValue
        while bits != 0 {
            body(bits.trailingZeroBitCount)
            bits &= bits &- 1
        }
    }

    public init(from decoder: any Decoder) throws {
        let list = try decoder.singleValueContainer().decode([Int].self)
        guard let choices = Choices(indices: list) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "choice index out of range"))
        }
        self = choices
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(indices)
    }
}
