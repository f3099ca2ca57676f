// The numeric-answer verifier: the response's answer must equal the label's number.
//
// Where the answer is read from (Extraction):
//   last   the last number of the response;
//   gsm8k  the first number after the last "####" (GSM8K's answer line);
//   boxed  the content of the last \boxed{...} (braces balanced), read as a number;
//   tag    the content of the last <NAME>...</NAME>, its last number;
//   auto   \boxed{} when the response has one, else "####" when it has one, else the last number.
// The label is read the same way as `auto` (so a full GSM8K solution works as a label).
//
// What counts as a number: an optional '-' not preceded by a digit or letter; digits, optionally in
// groups of exactly three after ',' or a single space ("1,234", "12 345 678"; "3,4" and "3 4" are two
// numbers); an optional fraction ".digits". Values compare as Doubles: "42" = "42.0" = "042".
import Foundation

/// 1 when the response's answer (see `Extraction`) equals the label's number, else 0.
public struct NumericAnswer: Verifier {
    /// Where the response's answer is read from.
    public enum Extraction: Sendable, Equatable {
        case last, gsm8k, boxed, auto
        case tag(String)

        /// The extraction a config option names ("last", "gsm8k", "boxed", "auto", "tag=NAME"), or nil.
        public init?(option: String) {
            switch option {
            case "last": self = .last
            case "gsm8k": self = .gsm8k
            case "boxed": self = .boxed
            case "auto": self = .auto
            default:
                guard option.hasPrefix("tag="), option.count > 4 else { return nil }
                self = .tag(String(option.dropFirst(4)))
            }
        }
    }

    public let extraction: Extraction

    public init(extraction: Extraction = .auto) { self.extraction = extraction }

    public func score(response: String, label: String) -> Double {
        guard let want = Self.answer(in: label, .auto), let got = Self.answer(in: response, extraction) else {
            return 0
        }
        return got == want ? 1 : 0
    }

    /// The number `text` answers with under `extraction`, or nil when there is none.
    public static func answer(in text: String, _ extraction: Extraction) -> Double? {
        switch extraction {
        case .last:
            return numbers(in: text).last
        case .gsm8k:
            guard let r = text.range(of: "####", options: .backwards) else { return nil }
            return numbers(in: String(text[r.upperBound...])).first
        case .boxed:
            guard let inside = lastBoxed(text) else { return nil }
            let n = numbers(in: inside)
            return n.count == 1 ? n[0] : nil
        case .tag(let name):
            guard let open = text.range(of: "<\(name)>", options: .backwards),
                let close = text.range(of: "</\(name)>", range: open.upperBound..<text.endIndex)
            else { return nil }
            return numbers(in: String(text[open.upperBound..<close.lowerBound])).last
        case .auto:
            if text.contains("\\boxed{") { return answer(in: text, .boxed) }
            if text.contains("####") { return answer(in: text, .gsm8k) }
            return answer(in: text, .last)
        }
    }

    /// The content of the last `\boxed{...}` of `text`, braces balanced; nil when there is none or it is open.
    public static func lastBoxed(_ text: String) -> String? {
        guard let start = text.range(of: "\\boxed{", options: .backwards) else { return nil }
        var depth = 1
        var i = start.upperBound
        while i < text.endIndex {
            if text[i] == "{" {
                depth += 1
            } else if text[i] == "}" {
                depth -= 1
                if depth == 0 { return String(text[start.upperBound..<i]) }
            }
            i = text.index(after: i)
        }
        return nil
    }

    /// The numbers of `text` in order (see the file's documentation).
    public static func numbers(in text: String) -> [Double] {
        let c = Array(text.unicodeScalars)
        func digit(_ i: Int) -> Bool { i >= 0 && i < c.count && c[i].value >= 48 && c[i].value <= 57 }
        func wordChar(_ i: Int) -> Bool { i >= 0 && i < c.count && (digit(i) || c[i].properties.isAlphabetic) }
        /// Exactly three digits at j (and no fourth).
        func group(_ j: Int) -> Bool { digit(j) && digit(j + 1) && digit(j + 2) && !digit(j + 3) }
        var out: [Double] = []
        var i = 0
        while i < c.count {
            guard digit(i) else {
                i += 1
                continue
            }
            var s = (i > 0 && c[i - 1] == "-" && !wordChar(i - 2)) ? "-" : ""
            var j = i
            while digit(j) {
                s.unicodeScalars.append(c[j])
                j += 1
            }
            // Thousands groups after ',' or one space, only after at most three leading digits.
            if j - i <= 3 {
                while j < c.count, c[j] == "," || c[j] == " ", group(j + 1) {
                    for k in 1...3 { s.unicodeScalars.append(c[j + k]) }
                    j += 4
                }
            }
            if j < c.count, c[j] == ".", digit(j + 1) {
                s.append(".")
                j += 1
                while digit(j) {
                    s.unicodeScalars.append(c[j])
                    j += 1
                }
            }
            if let v = Double(s) { out.append(v) }
            i = j
        }
        return out
    }
}
