/// Prepend scheme of the Metaspace pre-tokenizer.
enum PrependScheme: String, Sendable {
    case first, never, always
}

/// The 256 scalars that stand for bytes in byte-level BPE vocabularies (printable bytes keep their code;
/// the others map to U+0100 upwards in byte order).
enum ByteLevelAlphabet {
    static let scalarOfByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte a scalar stands for, or nil for scalars outside the alphabet.
    static func byte(of v: UInt32) -> UInt8? {
        if v < 256 {
            let b = Int(v)
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            return printable ? UInt8(b) : nil
        }
        return v < 256 + 68 ? nonPrintable[Int(v - 256)] : nil
    }

    private static let nonPrintable: [UInt8] = (0..<256).compactMap { b -> UInt8? in
        let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
        return printable ? nil : UInt8(b)
    }

    /// The byte-level form of `scalars`: the UTF-8 bytes of each, mapped to alphabet scalars.
    static func map(_ scalars: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(scalars.count)
        for v in scalars {
            if v < 128 {
                out.append(scalarOfByte[Int(v)])
            } else {
                for b in String(Character(Unicode.Scalar(v)!)).utf8 { out.append(scalarOfByte[Int(b)]) }
            }
        }
        return out
    }
}

/// The regex of the ByteLevel pre-tokenizer (GPT-2's).
let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

/// A tokenizer.json pre-tokenizer.
indirect enum PreTokenizer: Sendable {
    case byteLevel(addPrefixSpace: Bool, regex: ScalarRegex?)
    case split(ScalarRegex, SplitBehavior, invert: Bool)
    case digits(individual: Bool)
    case metaspace(replacement: UInt32, scheme: PrependScheme, split: Bool)
    case whitespace(ScalarRegex)
    case whitespaceSplit
    case punctuation(SplitBehavior)
    case sequence([PreTokenizer])

    func apply(_ pieces: [TextPiece]) throws -> [TextPiece] {
        switch self {
        case .byteLevel(let addPrefixSpace, let regex):
            var out: [TextPiece] = []
            for var piece in pieces {
                if addPrefixSpace && piece.scalars.first != 32 { piece.scalars.insert(32, at: 0) }
                let parts: [TextPiece]
                if let regex {
                    let cover = SplitBehavior.cover(
                        try regex.matches(in: piece.scalars), count: piece.scalars.count,
                        invert: false)
                    parts = Self.cut(piece, SplitBehavior.isolated.apply(cover))
                } else {
                    parts = [piece]
                }
                for part in parts where !part.scalars.isEmpty {
                    out.append(TextPiece(scalars: ByteLevelAlphabet.map(part.scalars), atOrigin: part.atOrigin))
                }
            }
            return out
        case .split(let regex, let behavior, let invert):
            return try pieces.flatMap { piece in
                let cover = SplitBehavior.cover(
                    try regex.matches(in: piece.scalars), count: piece.scalars.count,
                    invert: invert)
                return Self.cut(piece, behavior.apply(cover))
            }
        case .digits(let individual):
            let behavior: SplitBehavior = individual ? .isolated : .contiguous
            return pieces.flatMap { piece in
                let cover = SplitBehavior.cover(piece.scalars, invert: false, ScalarProps.isNumeric)
                return Self.cut(piece, behavior.apply(cover))
            }
        case .metaspace(let replacement, let scheme, let split):
            return pieces.flatMap { original in
                var piece = original
                piece.scalars = piece.scalars.map { $0 == 32 ? replacement : $0 }
                let prepend =
                    piece.scalars.first != replacement
                    && (scheme == .always || (scheme == .first && piece.atOrigin))
                if prepend { piece.scalars.insert(replacement, at: 0) }
                guard split else { return [piece] }
                let cover = SplitBehavior.cover(piece.scalars, invert: false) { $0 == replacement }
                return Self.cut(piece, SplitBehavior.mergedWithNext.apply(cover))
            }
        case .whitespace(let regex):
            return try pieces.flatMap { piece in
                let cover = SplitBehavior.cover(
                    try regex.matches(in: piece.scalars), count: piece.scalars.count,
                    invert: true)
                return Self.cut(piece, SplitBehavior.removed.apply(cover))
            }
        case .whitespaceSplit:
            return pieces.flatMap { piece in
                Self.cut(
                    piece,
                    SplitBehavior.removed.apply(
                        SplitBehavior.cover(piece.scalars, invert: false, ScalarProps.isWhitespace)))
            }
        case .punctuation(let behavior):
            return pieces.flatMap { piece in
                let cover = SplitBehavior.cover(piece.scalars, invert: false, ScalarProps.isPunctuation)
                return Self.cut(piece, behavior.apply(cover))
            }
        case .sequence(let steps):
            var current = pieces
            for step in steps { current = try step.apply(current) }
            return current
        }
    }

    /// The non-empty sub-pieces of `piece` at `ranges`.
    static func cut(_ piece: TextPiece, _ ranges: [Range<Int>]) -> [TextPiece] {
        if ranges.count == 1 && ranges[0] == 0..<piece.scalars.count {
            return piece.scalars.isEmpty ? [] : [piece]
        }
        return ranges.compactMap { r in
            r.isEmpty ? nil : TextPiece(scalars: Array(piece.scalars[r]), atOrigin: piece.atOrigin && r.lowerBound == 0)
        }
    }
}
