// NumericAnswerMatch (reward server, JSONL datasets with an `answer` field): the last number in the decoded
// response must equal the answer numerically. What counts as a number:
//   - optional '-' sign, only when not preceded by a digit ("5-3" holds 5 and 3, "=-3" holds -3);
//   - digits, with ',' thousands separators only in groups of exactly three ("1,234" is 1234,
//     "3,4" is the two numbers 3 and 4, "1,2345" is 1 and 2345);
//   - an optional fraction '.' followed by digits ("42.0" is 42; "42." is 42 followed by a full stop).
// Equality is on the parsed Double values (exact for integers below 2^53; "42" = "42.0" = "042").
// The response is cut at the first EOS; with `requireEOS` a response without EOS scores 0.

import Model
import Wire

/// 1 when the last number of the response equals the answer numerically, else 0.
public struct NumericAnswerMatch: RewardVerifier {
    /// Decodes response tokens to text.
    public let tokenizer: any Tokenizer
    /// Score 0 unless the response contains EOS.
    public let requireEOS: Bool

    /// Creates a verifier decoding with `tokenizer`.
    public init(tokenizer: any Tokenizer = CharTokenizer(), requireEOS: Bool = false) {
        self.tokenizer = tokenizer; self.requireEOS = requireEOS
    }

    /// 1 or 0, see the file's documentation.
    public func reward(_ item: ScoreItem) -> Float {
        let eos = item.responseTokens.firstIndex(of: tokenizer.eosId)
        if requireEOS && eos == nil { return 0 }
        let text = tokenizer.decode(Array(item.responseTokens[..<(eos ?? item.responseTokens.count)]))
        let answers = Self.numbers(in: item.answer.trimmingWhitespace())
        guard answers.count == 1, let expected = Double(answers[0]),
              let got = Self.numbers(in: text).last.flatMap(Double.init) else { return 0 }
        return got == expected ? 1 : 0
    }

    /// The numbers of `text` in order, normalised for `Double(_:)` (separators removed).
    public static func numbers(in text: String) -> [String] {
        let c = Array(text)
        func isDigit(_ i: Int) -> Bool { i >= 0 && i < c.count && c[i].isASCII && c[i].isNumber }
        var out: [String] = []
        var i = 0
        while i < c.count {
            guard isDigit(i) else { i += 1; continue }
            var s = (i > 0 && c[i - 1] == "-" && !isDigit(i - 2)) ? "-" : ""
            var j = i
            while isDigit(j) { s.append(c[j]); j += 1 }
            // thousands groups: ",ddd" not followed by another digit
            while j < c.count, c[j] == ",", isDigit(j + 1), isDigit(j + 2), isDigit(j + 3), !isDigit(j + 4) {
                s += String(c[(j + 1)...(j + 3)]); j += 4
            }
            if j < c.count, c[j] == ".", isDigit(j + 1) {
                s.append("."); j += 1
                while isDigit(j) { s.append(c[j]); j += 1 }
            }
            out.append(s)
            i = j
        }
        return out
    }
}

extension String {
    func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
