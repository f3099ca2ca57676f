// Text to token ids and back for tasks: the `TextTokenizer` protocol and the character-level tokenizer of the
// built-in arithmetic task (PAD 0, EOS 1, digits 0-9 as 2..11, '+' 12, '-' 13, '*' 14, '=' 15).

import Model

/// Maps text to token ids and back.
public protocol TextTokenizer: Sendable {
    /// Vocabulary size.
    var vocabSize: Int { get }
    /// Padding id.
    var padId: Int32 { get }
    /// End-of-sequence id.
    var eosId: Int32 { get }
    /// Token ids of `text`; throws `ModelError.invalidInput` for characters outside the vocabulary.
    func encode(_ text: String) throws -> [Int32]
    /// Text of `ids`, skipping PAD and EOS.
    func decode(_ ids: [Int32]) -> String
}

/// The character-level tokenizer of the arithmetic task: 16 ids.
public struct CharTokenizer: TextTokenizer {
    public let vocabSize = 16
    public let padId: Int32 = 0
    public let eosId: Int32 = 1
    private static let symbols: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "+", "-", "*", "="]

    public init() {}

    public func encode(_ text: String) throws -> [Int32] {
        try text.map { ch in
            guard let i = Self.symbols.firstIndex(of: ch) else {
                throw ModelError.invalidInput(
                    "character \"\(ch)\" is not in the arithmetic vocabulary (digits, + - * =)")
            }
            return Int32(i + 2)
        }
    }

    public func decode(_ ids: [Int32]) -> String {
        String(ids.compactMap { id in id >= 2 && id < 16 ? Self.symbols[Int(id) - 2] : nil })
    }
}
