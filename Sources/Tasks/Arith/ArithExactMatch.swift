// The built-in arithmetic task's reward rule on tokens: the response must be the answer's digits followed by
// EOS, nothing else (trailing PAD after EOS is padding, not content).

import Wire

/// 1 when the response tokens are exactly the answer's tokens followed by EOS (then only PAD), else 0.
/// "0522" for "522" scores 0 (leading zeros are wrong digits), as do a missing EOS, any token after EOS
/// other than PAD, an empty response and an empty or unencodable answer.
public struct ArithExactMatch: Sendable {
    /// The task's tokenizer.
    public let tokenizer: CharTokenizer

    /// Uses the arithmetic task's character tokenizer.
    public init(tokenizer: CharTokenizer = ArithTask().tokenizer) { self.tokenizer = tokenizer }

    /// 1 or 0, see the type's documentation.
    public func reward(_ item: ScoreItem) -> Float {
        guard !item.answer.isEmpty, let answer = try? tokenizer.encode(item.answer) else { return 0 }
        var response = item.responseTokens[...]
        while let last = response.last, last == tokenizer.padId { response = response.dropLast() }
        return Array(response) == answer + [tokenizer.eosId] ? 1 : 0
    }
}
