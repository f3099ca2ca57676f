// Sets of Unicode scalars for the regex engine: ranges, general categories and the \s \d \w shorthands,
// with a bitmap over the Basic Multilingual Plane so that a membership test is one load.

/// Which regex library's shorthand classes to follow: tokenizer.json patterns run under Oniguruma; a few
/// fixed patterns of the tokenizers library (added-token word boundaries, the Whitespace pre-tokenizer) use
/// Rust's regex crate, whose `\w` differs.
public enum RegexFlavor: Sendable {
    case oniguruma
    case rust
}

/// One item of a character class.
enum ClassItem: Sendable {
    case range(UInt32, UInt32)
    /// A set of general categories (bits of `CategoryMask`), possibly negated.
    case categories(UInt64, negated: Bool)
    case space(negated: Bool)
    case digit(negated: Bool)
    case word(negated: Bool)
    case hexDigit(negated: Bool)
    case any
}

/// Bit masks over `Unicode.GeneralCategory`.
enum CategoryMask {
    static func bit(_ c: Unicode.GeneralCategory) -> UInt64 {
        switch c {
        case .uppercaseLetter: return 1 << 0
        case .lowercaseLetter: return 1 << 1
        case .titlecaseLetter: return 1 << 2
        case .modifierLetter: return 1 << 3
        case .otherLetter: return 1 << 4
        case .nonspacingMark: return 1 << 5
        case .spacingMark: return 1 << 6
        case .enclosingMark: return 1 << 7
        case .decimalNumber: return 1 << 8
        case .letterNumber: return 1 << 9
        case .otherNumber: return 1 << 10
        case .connectorPunctuation: return 1 << 11
        case .dashPunctuation: return 1 << 12
        case .openPunctuation: return 1 << 13
        case .closePunctuation: return 1 << 14
        case .initialPunctuation: return 1 << 15
        case .finalPunctuation: return 1 << 16
        case .otherPunctuation: return 1 << 17
        case .mathSymbol: return 1 << 18
        case .currencySymbol: return 1 << 19
        case .modifierSymbol: return 1 << 20
        case .otherSymbol: return 1 << 21
        case .spaceSeparator: return 1 << 22
        case .lineSeparator: return 1 << 23
        case .paragraphSeparator: return 1 << 24
        case .control: return 1 << 25
        case .format: return 1 << 26
        case .surrogate: return 1 << 27
        case .privateUse: return 1 << 28
        case .unassigned: return 1 << 29
        @unknown default: return 1 << 29
        }
    }

    static let letter: UInt64 = 0b11111
    static let mark: UInt64 = 0b111 << 5
    static let number: UInt64 = 0b111 << 8
    static let punctuation: UInt64 = 0b1111111 << 11
    static let symbol: UInt64 = 0b1111 << 18
    static let separator: UInt64 = 0b111 << 22
    static let other: UInt64 = 0b11111 << 25

    /// The mask of a `\p{...}` name (short or long general-category names), or nil when unknown.
    static func named(_ raw: String) -> UInt64? {
        let name = raw.replacingOccurrences(of: "_", with: "").replacingOccurrences(of: " ", with: "").lowercased()
        let table: [String: UInt64] = [
            "l": letter, "letter": letter, "lu": 1 << 0, "uppercaseletter": 1 << 0, "ll": 1 << 1,
            "lowercaseletter": 1 << 1, "lt": 1 << 2, "titlecaseletter": 1 << 2, "lm": 1 << 3,
            "modifierletter": 1 << 3, "lo": 1 << 4, "otherletter": 1 << 4, "lc": 0b111, "casedletter": 0b111,
            "m": mark, "mark": mark, "combiningmark": mark, "mn": 1 << 5, "nonspacingmark": 1 << 5,
            "mc": 1 << 6, "spacingmark": 1 << 6, "me": 1 << 7, "enclosingmark": 1 << 7,
            "n": number, "number": number, "nd": 1 << 8, "decimalnumber": 1 << 8, "digit": 1 << 8,
            "nl": 1 << 9, "letternumber": 1 << 9, "no": 1 << 10, "othernumber": 1 << 10,
            "p": punctuation, "punctuation": punctuation, "punct": punctuation, "pc": 1 << 11,
            "connectorpunctuation": 1 << 11, "pd": 1 << 12, "dashpunctuation": 1 << 12, "ps": 1 << 13,
            "openpunctuation": 1 << 13, "pe": 1 << 14, "closepunctuation": 1 << 14, "pi": 1 << 15,
            "initialpunctuation": 1 << 15, "pf": 1 << 16, "finalpunctuation": 1 << 16, "po": 1 << 17,
            "otherpunctuation": 1 << 17, "s": symbol, "symbol": symbol, "sm": 1 << 18, "mathsymbol": 1 << 18,
            "sc": 1 << 19, "currencysymbol": 1 << 19, "sk": 1 << 20, "modifiersymbol": 1 << 20,
            "so": 1 << 21, "othersymbol": 1 << 21, "z": separator, "separator": separator, "zs": 1 << 22,
            "spaceseparator": 1 << 22, "zl": 1 << 23, "lineseparator": 1 << 23, "zp": 1 << 24,
            "paragraphseparator": 1 << 24, "c": other, "other": other, "cc": 1 << 25, "control": 1 << 25,
            "cntrl": 1 << 25, "cf": 1 << 26, "format": 1 << 26, "cs": 1 << 27, "surrogate": 1 << 27,
            "co": 1 << 28, "privateuse": 1 << 28, "cn": 1 << 29, "unassigned": 1 << 29,
            "any": (1 << 30) - 1,
        ]
        return table[name]
    }
}

/// Properties of single scalars shared by the regex engine and the pre-tokenizers.
enum ScalarProps {
    /// For U+0000...U+FFFF: the category bit index (low 5 bits), then White_Space (bit 5), Rust's `\w`
    /// (bit 6) and Alphabetic (bit 7), so that class bitmaps and pre-tokenizers need no property lookups.
    private static let bmp: [UInt8] = (0..<65536).map { v -> UInt8 in
        guard let s = Unicode.Scalar(UInt32(v)) else { return 27 }
        let p = s.properties
        let bit = CategoryMask.bit(p.generalCategory)
        var entry = UInt8(bit.trailingZeroBitCount)
        if p.isWhitespace { entry |= 1 << 5 }
        if p.isAlphabetic || p.isJoinControl || bit & (CategoryMask.mark | 1 << 8 | 1 << 11) != 0 { entry |= 1 << 6 }
        if p.isAlphabetic { entry |= 1 << 7 }
        return entry
    }

    static func category(_ v: UInt32) -> UInt64 {
        if v < 65536 { return 1 << UInt64(bmp[Int(v)] & 31) }
        guard let s = Unicode.Scalar(v) else { return 1 << 27 }
        return CategoryMask.bit(s.properties.generalCategory)
    }

    static func isWhitespace(_ v: UInt32) -> Bool {
        if v < 128 { return v == 32 || (v >= 9 && v <= 13) }
        if v < 65536 { return bmp[Int(v)] & (1 << 5) != 0 }
        guard let s = Unicode.Scalar(v) else { return false }
        return s.properties.isWhitespace
    }

    /// Oniguruma's Unicode `\w`: letters, marks, numbers and connector punctuation.
    static func isOnigWord(_ v: UInt32) -> Bool {
        category(v) & (CategoryMask.letter | CategoryMask.mark | CategoryMask.number | 1 << 11) != 0
    }

    /// Rust regex's Unicode `\w`: Alphabetic, marks, decimal digits, connector punctuation, Join_Control.
    static func isRustWord(_ v: UInt32) -> Bool {
        if v < 65536 { return bmp[Int(v)] & (1 << 6) != 0 }
        guard let s = Unicode.Scalar(v) else { return false }
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        return CategoryMask.bit(p.generalCategory) & (CategoryMask.mark | 1 << 8 | 1 << 11) != 0
    }

    /// Rust's `char::is_numeric`: general categories Nd, Nl and No.
    static func isNumeric(_ v: UInt32) -> Bool {
        if v < 128 { return v >= 48 && v <= 57 }
        return category(v) & CategoryMask.number != 0
    }

    /// Rust's `char::is_alphanumeric`: Alphabetic or numeric.
    static func isAlphanumeric(_ v: UInt32) -> Bool {
        if v < 65536 { return bmp[Int(v)] & (1 << 7) != 0 || isNumeric(v) }
        guard let s = Unicode.Scalar(v) else { return false }
        return s.properties.isAlphabetic || isNumeric(v)
    }

    /// The Punctuation pre-tokenizer's test: ASCII punctuation (which includes symbols such as `$+<=>^|~`)
    /// or a Unicode punctuation category.
    static func isPunctuation(_ v: UInt32) -> Bool {
        if v < 128 {
            return (v >= 33 && v <= 47) || (v >= 58 && v <= 64) || (v >= 91 && v <= 96) || (v >= 123 && v <= 126)
        }
        return category(v) & CategoryMask.punctuation != 0
    }

    /// Simple case folding for case-insensitive matching (single-scalar mappings only).
    static func fold(_ v: UInt32) -> UInt32 {
        if v < 128 { return (v >= 65 && v <= 90) ? v + 32 : v }
        guard let s = Unicode.Scalar(v) else { return v }
        let lower = s.properties.lowercaseMapping.unicodeScalars
        if lower.count == 1, let l = lower.first { return l.value }
        return v
    }
}

/// A compiled character class.
struct ScalarClass: Sendable {
    let items: [ClassItem]
    let negated: Bool
    let caseInsensitive: Bool
    let flavor: RegexFlavor
    /// Membership of U+0000...U+FFFF, one bit each.
    private(set) var bmp: [UInt64] = []

    init(items: [ClassItem], negated: Bool, caseInsensitive: Bool, flavor: RegexFlavor) {
        self.items = items
        self.negated = negated
        self.caseInsensitive = caseInsensitive
        self.flavor = flavor
        var bits = [UInt64](repeating: 0, count: 65536 / 64)
        if caseInsensitive {
            for v in UInt32(0)..<65536 where slowContains(v) { bits[Int(v >> 6)] |= 1 << UInt64(v & 63) }
        } else {
            // Item by item: ranges set their bits directly, the others test each scalar of the plane.
            for item in items {
                if case .range(let lo, let hi) = item {
                    if lo < 65536 {
                        for v in lo...min(hi, 65535) { bits[Int(v >> 6)] |= 1 << UInt64(v & 63) }
                    }
                } else {
                    let single = ScalarClass(rawItems: [item], flavor: flavor)
                    for v in UInt32(0)..<65536 where single.itemsContain(v) { bits[Int(v >> 6)] |= 1 << UInt64(v & 63) }
                }
            }
            if negated { for i in bits.indices { bits[i] = ~bits[i] } }
        }
        bmp = bits
    }

    /// Items only, no bitmap (for building bitmaps).
    private init(rawItems: [ClassItem], flavor: RegexFlavor) {
        items = rawItems
        negated = false
        caseInsensitive = false
        self.flavor = flavor
    }

    @inline(__always) func contains(_ v: UInt32) -> Bool {
        if v < 65536 { return bmp[Int(v >> 6)] & (1 << UInt64(v & 63)) != 0 }
        return slowContains(v)
    }

    private func slowContains(_ v: UInt32) -> Bool {
        var hit = itemsContain(v)
        if !hit && caseInsensitive {
            let f = ScalarProps.fold(v)
            if f != v { hit = itemsContain(f) }
            if !hit, let s = Unicode.Scalar(v) {
                let up = s.properties.uppercaseMapping.unicodeScalars
                if up.count == 1, let u = up.first, u.value != v { hit = itemsContain(u.value) }
            }
        }
        return hit != negated
    }

    func itemsContain(_ v: UInt32) -> Bool {
        for item in items {
            switch item {
            case .range(let lo, let hi): if v >= lo && v <= hi { return true }
            case .categories(let mask, let neg): if (ScalarProps.category(v) & mask != 0) != neg { return true }
            case .space(let neg): if ScalarProps.isWhitespace(v) != neg { return true }
            case .digit(let neg):
                if (ScalarProps.category(v) == 1 << 8) != neg { return true }
            case .word(let neg):
                let w = flavor == .rust ? ScalarProps.isRustWord(v) : ScalarProps.isOnigWord(v)
                if w != neg { return true }
            case .hexDigit(let neg):
                let h = (v >= 48 && v <= 57) || (v >= 65 && v <= 70) || (v >= 97 && v <= 102)
                if h != neg { return true }
            case .any: return true
            }
        }
        return false
    }
}
