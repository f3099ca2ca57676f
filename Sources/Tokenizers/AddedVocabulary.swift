/// A token added on top of the model's vocabulary (tokenizer.json's `added_tokens`), with its flags.
public struct AddedToken: Sendable, Equatable {
    public var content: String
    public var id: Int
    /// Special tokens are dropped by `decode(skipSpecialTokens: true)`.
    public var special: Bool
    /// Swallows the whitespace on its left.
    public var lstrip: Bool
    /// Swallows the whitespace on its right.
    public var rstrip: Bool
    /// Matched in the normalized text (its content normalized too) rather than in the raw input.
    public var normalized: Bool
    /// Only matched when not inside a word.
    public var singleWord: Bool

    public init(
        content: String, id: Int, special: Bool, lstrip: Bool = false, rstrip: Bool = false,
        normalized: Bool, singleWord: Bool = false
    ) {
        self.content = content
        self.id = id
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.singleWord = singleWord
    }
}

/// A prefix tree over scalars that finds added tokens leftmost-longest.
struct TokenTrie: Sendable {
    private var children: [[UInt32: Int32]] = [[:]]
    private var terminal: [Int32] = [-1]
    private var firsts = Set<UInt32>()

    var isEmpty: Bool { firsts.isEmpty }

    mutating func insert(_ key: [UInt32], id: Int32) {
        guard let first = key.first else { return }
        firsts.insert(first)
        var node = 0
        for v in key {
            if let c = children[node][v] {
                node = Int(c)
            } else {
                children.append([:])
                terminal.append(-1)
                children[node][v] = Int32(children.count - 1)
                node = children.count - 1
            }
        }
        terminal[node] = id
    }

    /// Matches, leftmost first and longest at each start, not overlapping: (id, range).
    func matches(in text: [UInt32]) -> [(Int32, Range<Int>)] {
        var out: [(Int32, Range<Int>)] = []
        var start = 0
        while start < text.count {
            guard firsts.contains(text[start]) else {
                start += 1
                continue
            }
            var node = 0
            var i = start
            var best: (Int32, Int)? = nil
            while i < text.count, let c = children[node][text[i]] {
                node = Int(c)
                i += 1
                if terminal[node] >= 0 { best = (terminal[node], i) }
            }
            if let best {
                out.append((best.0, start..<best.1))
                start = best.1
            } else {
                start += 1
            }
        }
        return out
    }
}

/// The added tokens of a tokenizer and how they are cut out of the input.
struct AddedVocabulary: Sendable {
    private(set) var byID: [Int32: AddedToken] = [:]
    private(set) var idOfContent: [ScalarKey: Int32] = [:]
    /// The normalized content of normalized tokens whose content the normalizer changes.
    private(set) var normalizedForm: [Int32: [UInt32]] = [:]
    private var rawTrie = TokenTrie()
    private var normalizedTrie = TokenTrie()

    /// Adds tokens in order as the tokenizers library does: an id from the added tokens or the model's
    /// vocabulary when the content is there, else the next free id.
    mutating func add(_ tokens: [AddedToken], model: BPEModel, normalizer: Normalizer?) throws {
        var nextID = Int32(model.vocabCount)
        if let maxID = byID.keys.max(), maxID >= nextID || model.vocabCount == 0 { nextID = maxID + 1 }
        for var token in tokens where !token.content.isEmpty {
            let key = ScalarKey(scalars: token.content.unicodeScalars.map(\.value))
            if let existing = idOfContent[key],
                byID[existing]
                    == AddedToken(
                        content: token.content, id: Int(existing), special: token.special, lstrip: token.lstrip,
                        rstrip: token.rstrip, normalized: token.normalized, singleWord: token.singleWord)
            {
                continue
            }
            let id: Int32
            if let known = idOfContent[key] ?? model.vocab[key] {
                id = known
            } else {
                id = nextID
                nextID += 1
            }
            token.id = Int(id)
            if token.normalized, let normalizer {
                let normed = try normalizer.apply(to: key.scalars)
                if normed != key.scalars { normalizedForm[id] = normed } else { normalizedForm[id] = nil }
            }
            idOfContent[key] = id
            byID[id] = token
        }
        rebuildTries()
    }

    private mutating func rebuildTries() {
        rawTrie = TokenTrie()
        normalizedTrie = TokenTrie()
        for (id, token) in byID.sorted(by: { $0.key < $1.key }) {
            if token.normalized {
                normalizedTrie.insert(normalizedForm[id] ?? token.content.unicodeScalars.map(\.value), id: id)
            } else {
                rawTrie.insert(token.content.unicodeScalars.map(\.value), id: id)
            }
        }
    }

    /// The token string `decode` uses for an added id (the normalized form for normalized tokens).
    func decodeForm(_ id: Int32) -> [UInt32]? {
        guard let token = byID[id] else { return nil }
        return normalizedForm[id] ?? token.content.unicodeScalars.map(\.value)
    }

    /// Segments of `text`: added tokens (with their id) and the text between them.
    func split(_ text: [UInt32], normalized: Bool) -> [(id: Int32?, range: Range<Int>)] {
        let trie = normalized ? normalizedTrie : rawTrie
        if text.isEmpty || trie.isEmpty { return [(nil, 0..<text.count)] }
        var out: [(id: Int32?, range: Range<Int>)] = []
        var startOffset = 0
        for (id, range) in trie.matches(in: text) {
            guard let token = byID[id] else { continue }
            var start = range.lowerBound
            var stop = range.upperBound
            if token.singleWord {
                let startSpace = start == 0 || !isWord(text[start - 1])
                let stopSpace = stop == text.count || !isWord(text[stop])
                if !startSpace || !stopSpace { continue }
            }
            if token.lstrip {
                var s = start
                while s > 0 && ScalarProps.isWhitespace(text[s - 1]) { s -= 1 }
                start = max(s, startOffset)
            }
            if token.rstrip {
                while stop < text.count && ScalarProps.isWhitespace(text[stop]) { stop += 1 }
            }
            // A whitespace token inside the right strip of the previous one (the tokenizers library panics).
            if start > stop { continue }
            if startOffset < start { out.append((nil, startOffset..<start)) }
            out.append((id, start..<stop))
            startOffset = stop
        }
        if startOffset != text.count { out.append((nil, startOffset..<text.count)) }
        return out
    }

    private func isWord(_ v: UInt32) -> Bool {
        ScalarProps.isRustWord(v)
    }
}
