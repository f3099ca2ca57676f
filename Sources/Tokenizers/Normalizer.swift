import Foundation

/// A piece of text on its way through normalization and pre-tokenization, as Unicode scalars.
struct TextPiece: Sendable {
    var scalars: [UInt32]
    /// Whether the piece starts at offset 0 of the original input (Metaspace's `prepend_scheme: first`).
    var atOrigin: Bool
}

/// A tokenizer.json normalizer.
indirect enum Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd
    case lowercase
    case strip(left: Bool, right: Bool)
    case prepend([UInt32])
    case replace(ScalarRegex, [UInt32])
    /// Removes combining marks (general categories Mn, Mc, Me).
    case stripAccents
    /// Maps each UTF-8 byte to its byte-level alphabet scalar.
    case byteLevel
    case sequence([Normalizer])

    func apply(_ piece: inout TextPiece) throws {
        switch self {
        case .nfc: piece.scalars = Self.unicode(piece.scalars) { $0.precomposedStringWithCanonicalMapping }
        case .nfd: piece.scalars = Self.unicode(piece.scalars) { $0.decomposedStringWithCanonicalMapping }
        case .nfkc: piece.scalars = Self.unicode(piece.scalars) { $0.precomposedStringWithCompatibilityMapping }
        case .nfkd: piece.scalars = Self.unicode(piece.scalars) { $0.decomposedStringWithCompatibilityMapping }
        case .lowercase:
            var out: [UInt32] = []
            out.reserveCapacity(piece.scalars.count)
            for v in piece.scalars {
                if v < 128 {
                    out.append(v >= 65 && v <= 90 ? v + 32 : v)
                } else if let s = Unicode.Scalar(v) {
                    out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars.map(\.value))
                }
            }
            piece.scalars = out
        case .strip(let left, let right):
            var lo = 0
            var hi = piece.scalars.count
            if left { while lo < hi && ScalarProps.isWhitespace(piece.scalars[lo]) { lo += 1 } }
            if right { while hi > lo && ScalarProps.isWhitespace(piece.scalars[hi - 1]) { hi -= 1 } }
            if lo > 0 { piece.atOrigin = false }
            if lo > 0 || hi < piece.scalars.count { piece.scalars = Array(piece.scalars[lo..<hi]) }
        case .prepend(let text):
            if !piece.scalars.isEmpty { piece.scalars = text + piece.scalars }
        case .replace(let regex, let content):
            let found = try regex.matches(in: piece.scalars)
            if found.isEmpty { return }
            var out: [UInt32] = []
            var last = 0
            for m in found {
                out.append(contentsOf: piece.scalars[last..<m.lowerBound])
                out.append(contentsOf: content)
                last = m.upperBound
            }
            out.append(contentsOf: piece.scalars[last...])
            if found[0].lowerBound == 0 && !found[0].isEmpty && content.isEmpty { piece.atOrigin = false }
            piece.scalars = out
        case .stripAccents:
            piece.scalars.removeAll { ScalarProps.category($0) & CategoryMask.mark != 0 }
        case .byteLevel:
            piece.scalars = ByteLevelAlphabet.map(piece.scalars)
        case .sequence(let steps):
            for step in steps { try step.apply(&piece) }
        }
    }

    /// Normalizes a whole string (for added tokens whose content is matched after normalization).
    func apply(to text: [UInt32]) throws -> [UInt32] {
        var piece = TextPiece(scalars: text, atOrigin: true)
        try apply(&piece)
        return piece.scalars
    }

    private static func unicode(_ scalars: [UInt32], _ f: (String) -> String) -> [UInt32] {
        if scalars.allSatisfy({ $0 < 128 }) { return scalars }
        var s = String.UnicodeScalarView()
        for v in scalars { if let u = Unicode.Scalar(v) { s.append(u) } }
        return f(String(s)).unicodeScalars.map(\.value)
    }
}

/// How a split keeps its delimiters (the `behavior` of Split, Punctuation and friends).
enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"

    /// Turns a cover of `0..<count` by (range, isMatch) into the ranges of the resulting pieces.
    func apply(_ parts: [(Range<Int>, Bool)]) -> [Range<Int>] {
        switch self {
        case .isolated: return parts.map(\.0)
        case .removed: return parts.filter { !$0.1 }.map(\.0)
        case .contiguous:
            var out: [Range<Int>] = []
            var previous = false
            for (r, isMatch) in parts {
                if isMatch == previous, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<r.upperBound
                } else {
                    out.append(r)
                }
                previous = isMatch
            }
            return out
        case .mergedWithPrevious:
            var out: [Range<Int>] = []
            var previous = false
            for (r, isMatch) in parts {
                if isMatch && !previous, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<r.upperBound
                } else {
                    out.append(r)
                }
                previous = isMatch
            }
            return out
        case .mergedWithNext:
            var out: [Range<Int>] = []
            var previous = false
            for (r, isMatch) in parts.reversed() {
                if isMatch && !previous, let last = out.last {
                    out[out.count - 1] = r.lowerBound..<last.upperBound
                } else {
                    out.append(r)
                }
                previous = isMatch
            }
            return out.reversed()
        }
    }

    /// The (range, isMatch) cover of `count` scalars given the matches of a pattern.
    static func cover(_ matches: [Range<Int>], count: Int, invert: Bool) -> [(Range<Int>, Bool)] {
        if count == 0 { return [(0..<0, invert)] }
        var parts: [(Range<Int>, Bool)] = []
        var previous = 0
        for m in matches {
            if previous != m.lowerBound { parts.append((previous..<m.lowerBound, invert)) }
            parts.append((m, !invert))
            previous = m.upperBound
        }
        if previous != count { parts.append((previous..<count, invert)) }
        return parts
    }

    /// The cover for a per-scalar predicate: each matching scalar is its own match.
    static func cover(_ scalars: [UInt32], invert: Bool, _ predicate: (UInt32) -> Bool) -> [(Range<Int>, Bool)] {
        if scalars.isEmpty { return [(0..<0, invert)] }
        var parts: [(Range<Int>, Bool)] = []
        var last = 0
        for (i, v) in scalars.enumerated() where predicate(v) {
            if last < i { parts.append((last..<i, invert)) }
            parts.append((i..<i + 1, !invert))
            last = i + 1
        }
        if last < scalars.count { parts.append((last..<scalars.count, invert)) }
        return parts
    }
}
