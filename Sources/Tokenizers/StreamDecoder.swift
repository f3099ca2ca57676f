/// Decodes ids one at a time for streaming: text is emitted only once it forms complete characters (no
/// U+FFFD from a UTF-8 sequence cut between tokens), and the pieces joined with `finish()` equal
/// `decode(allIDs)`.
///
/// It decodes a short window of ids: the ids since the previous emission plus the one before, so that
/// decoders which treat the first token specially (Metaspace, Strip) see the same context as a full decode.
public struct StreamDecoder: Sendable {
    public let tokenizer: LoadedTokenizer
    public let skipSpecialTokens: Bool
    private var ids: [Int] = []
    private var prefix: [Unicode.Scalar] = []
    private var prefixIndex = 0

    public init(tokenizer: LoadedTokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one id; returns the new text when there is some that ends on a complete character.
    public mutating func step(_ id: Int) throws -> String? {
        ids.append(id)
        let text = Array(try tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens).unicodeScalars)
        guard text.count > prefix.count, text.last != "\u{FFFD}", text.starts(with: prefix) else { return nil }
        let fresh = String(String.UnicodeScalarView(text[prefix.count...]))
        let newPrefixIndex = ids.count - prefixIndex
        ids.removeFirst(prefixIndex)
        prefix = Array(try tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens).unicodeScalars)
        prefixIndex = newPrefixIndex
        return fresh
    }

    /// The text still held back (a character cut at the end, or bytes that never form one), and a reset.
    public mutating func finish() throws -> String {
        let text = Array(try tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens).unicodeScalars)
        defer {
            ids = []
            prefix = []
            prefixIndex = 0
        }
        guard text.count > prefix.count, text.starts(with: prefix) else { return "" }
        return String(String.UnicodeScalarView(text[prefix.count...]))
    }
}
