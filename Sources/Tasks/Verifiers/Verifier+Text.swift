// Verifiers of an exact string, a multiple-choice letter and the answer's format.
import Foundation

/// 1 when the response, trimmed of surrounding whitespace, equals the trimmed label (optionally ignoring case).
public struct ExactAnswer: Verifier {
    public let ignoringCase: Bool

    public init(ignoringCase: Bool = false) { self.ignoringCase = ignoringCase }

    public func score(response: String, label: String) -> Double {
        let a = response.trimmingCharacters(in: .whitespacesAndNewlines)
        let b = label.trimmingCharacters(in: .whitespacesAndNewlines)
        return (ignoringCase ? a.lowercased() == b.lowercased() : a == b) ? 1 : 0
    }
}

/// 1 when the response picks the label's letter (A–Z) in a multiple-choice question.
///
/// The response's choice, first rule that applies: the letter after "answer is" or "answer:" (any case,
/// optionally in parentheses); a response that is only a letter, optionally in parentheses or followed by
/// '.' or ')'; the last letter in parentheses, "(C)". The label is a letter, optionally in parentheses.
public struct ChoiceAnswer: Verifier {
    public init() {}

    public func score(response: String, label: String) -> Double {
        guard let want = Self.letter(alone: label), let got = Self.choice(in: response) else { return 0 }
        return got == want ? 1 : 0
    }

    /// The letter a response chooses, or nil.
    public static func choice(in text: String) -> Character? {
        for cue in ["answer is", "answer:"] {
            guard let r = text.range(of: cue, options: [.backwards, .caseInsensitive]) else { continue }
            let rest = text[r.upperBound...]
            let token = rest.drop { $0 == " " || $0 == "(" || $0 == "*" }
            if let first = token.first, isChoice(first), !(token.dropFirst().first?.isLetter ?? false) { return first }
        }
        if let alone = letter(alone: text) { return alone }
        let chars = Array(text)
        for i in stride(from: chars.count - 3, through: 0, by: -1)
        where chars[i] == "(" && chars[i + 2] == ")" && isChoice(chars[i + 1]) {
            return chars[i + 1]
        }
        return nil
    }

    /// The letter of a text that is only a letter ("B", "(B)", "B.", "B)"), or nil.
    static func letter(alone text: String) -> Character? {
        var t = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        if t.hasPrefix("(") && t.hasSuffix(")") {
            t = t.dropFirst().dropLast()
        } else if t.hasSuffix(".") || t.hasSuffix(")") {
            t = t.dropLast()
        }
        guard t.count == 1, let c = t.first, isChoice(c) else { return nil }
        return c
    }

    static func isChoice(_ c: Character) -> Bool { c.isASCII && c.isUppercase }
}

/// 1 when the response has the required shape, else 0 (the label is not used).
public struct FormatReward: Verifier {
    public enum Shape: Sendable, Equatable {
        /// Only a number (with an optional sign, separators and fraction; surrounding whitespace allowed).
        case numberAlone
        /// Each tag once, in this order, as <t>...</t>, with nothing but whitespace outside them.
        case tags([String])
    }

    public let shape: Shape

    public init(_ shape: Shape) { self.shape = shape }

    public func score(response: String, label: String) -> Double {
        switch shape {
        case .numberAlone:
            let t = response.trimmingCharacters(in: .whitespacesAndNewlines)
            let body = t.hasPrefix("-") ? String(t.dropFirst()) : t
            guard let first = body.unicodeScalars.first, ("0"..."9").contains(first),
                NumericAnswer.numbers(in: t).count == 1,
                body.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || $0 == "," || $0 == "." || $0 == " " })
            else { return 0 }
            return 1
        case .tags(let tags):
            var rest = Substring(response)
            for tag in tags {
                rest = rest.drop { $0.isWhitespace }
                let open = "<\(tag)>"
                let close = "</\(tag)>"
                guard rest.hasPrefix(open), let end = rest.range(of: close) else { return 0 }
                let inside = rest[rest.index(rest.startIndex, offsetBy: open.count)..<end.lowerBound]
                if inside.contains(open) { return 0 }
                rest = rest[end.upperBound...]
            }
            return rest.allSatisfy(\.isWhitespace) ? 1 : 0
        }
    }
}
