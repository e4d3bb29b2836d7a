import Foundation
import Interaction

/// The checks on a display name a viewer picks when joining an open channel: its length and characters, the channel's
/// word filter, and impersonation of staff — the roles' own words (host, moderator, admin…), the channel's name and
/// the names in the channel's `staffNames`, compared after folding case, accents, look-alike digits and separators,
/// so "H0st", "the_host" and "Hôst" are all refused.
struct DisplayNamePolicy: Sendable {
    enum Refusal: Error, Equatable {
        case length
        case characters
        case blockedWord
        case impersonation
    }

    static let maximumLength = 32
    /// Words that claim authority in any channel.
    static let reservedWords = ["host", "moderator", "mod", "admin", "administrator", "staff", "official", "liveloop", "system",
                                "support"]
    /// Reserved words long enough to refuse wherever they appear ("TheModerator", "LiveloopTeam").
    static let reservedInside = ["moderator", "administrator", "official", "liveloop"]

    let filter: WordFilter
    let protected: [String]

    init(filterWords: [String], channel: String, staffNames: [String]) {
        filter = WordFilter(filterWords)
        protected = ([channel] + staffNames).map { Self.skeleton($0) }.filter { $0.count >= 3 }
    }

    /// The name as it will be shown (trimmed, inner runs of spaces made one), or why it is refused.
    func check(_ raw: String) throws(Refusal) -> String {
        let name = raw.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard (1...Self.maximumLength).contains(name.count), name.unicodeScalars.count <= Self.maximumLength * 4 else { throw .length }
        // Letters, digits, marks, spaces and a little punctuation; no controls, no invisible format characters (which
        // hide look-alikes), no symbols that could pass for a role badge.
        let allowedPunctuation = Set("-_.'")
        for character in name {
            let ok = character.isLetter || character.isNumber || character == " " || allowedPunctuation.contains(character)
                || character.unicodeScalars.allSatisfy { $0.properties.generalCategory == .nonspacingMark }
            guard ok, !character.unicodeScalars.contains(where: { $0.properties.generalCategory == .format }) else { throw .characters }
        }
        if filter.matches(name) { throw .blockedWord }
        let skeleton = Self.skeleton(name)
        let words = Self.skeleton(name, keepingSeparators: true).split(separator: " ").map(String.init)
        if words.contains(where: Self.reservedWords.contains) || Self.reservedWords.contains(skeleton)
            || Self.reservedInside.contains(where: skeleton.contains) { throw .impersonation }
        if protected.contains(where: { skeleton.contains($0) }) { throw .impersonation }
        return name
    }

    /// Lowercased, accents removed, look-alike digits read as letters; separators dropped (or made spaces).
    static func skeleton(_ text: String, keepingSeparators: Bool = false) -> String {
        let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil).lowercased()
        let lookAlikes: [Character: Character] = ["0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "|": "l"]
        var out = ""
        for character in folded {
            let mapped = lookAlikes[character] ?? character
            if mapped.isLetter || mapped.isNumber {
                out.append(mapped)
            } else if keepingSeparators, out.last != " " {
                out.append(" ")
            }
        }
        return out.trimmingCharacters(in: .whitespaces)
    }
}
