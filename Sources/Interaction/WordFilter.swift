/// A channel's blocked words, matched case-insensitively and as whole words only ("ass" blocks "ASS!" but not "class").
///
/// Text is split into words at every character that is neither a letter nor a digit. An entry with several words
/// ("bad phrase") matches those words in sequence.
public struct WordFilter: Sendable, Hashable {
    private var single: Set<String> = []
    private var phrases: [[String]] = []
    /// The entries as configured (normalized to lowercase).
    public private(set) var words: [String] = []

    public init(_ words: [String] = []) {
        for word in words {
            let parts = Self.words(in: word)
            guard !parts.isEmpty else { continue }
            self.words.append(parts.joined(separator: " "))
            if parts.count == 1 { single.insert(parts[0]) } else { phrases.append(parts) }
        }
    }

    public var isEmpty: Bool { words.isEmpty }

    /// Whether `text` contains a blocked word or phrase.
    public func matches(_ text: String) -> Bool {
        guard !isEmpty else { return false }
        let tokens = Self.words(in: text)
        if tokens.contains(where: single.contains) { return true }
        for phrase in phrases where tokens.count >= phrase.count {
            for start in 0...(tokens.count - phrase.count) where tokens[start..<(start + phrase.count)].elementsEqual(phrase) {
                return true
            }
        }
        return false
    }

    static func words(in text: String) -> [String] {
        text.lowercased()
            .split { !($0.isLetter || $0.isNumber) }
            .map(String.init)
    }
}
