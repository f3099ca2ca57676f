// Escapes in a regex pattern: outside a class, inside one, and the literal ones both share.

extension RegexParser {
    /// An escape outside a class.
    mutating func parseEscape(caseInsensitive ci: Bool) throws -> RegexNode {
        pos += 1
        guard let c = peek() else { throw fail("pattern ends with '\\'") }
        switch c {
        case 0x41:
            pos += 1
            return .textStart  // \A
        case 0x7A:
            pos += 1
            return .textEnd  // \z
        case 0x5A:
            pos += 1
            return .textEndBeforeNewline  // \Z
        case 0x62:
            pos += 1
            return .wordBoundary(negated: false)  // \b
        case 0x42:
            pos += 1
            return .wordBoundary(negated: true)  // \B
        default: break
        }
        if let item = try parseClassEscape() {
            return .cls(ScalarClass(items: [item], negated: false, caseInsensitive: ci, flavor: flavor))
        }
        let v = try parseLiteralEscape()
        return .scalar(ci ? ScalarProps.fold(v) : v, caseInsensitive: ci)
    }

    /// `\s \S \d \D \w \W \h \H \p{..} \P{..}` at `pos` (just after the backslash), or nil.
    mutating func parseClassEscape() throws -> ClassItem? {
        guard let c = peek() else { throw fail("pattern ends with '\\'") }
        switch c {
        case 0x73:
            pos += 1
            return .space(negated: false)
        case 0x53:
            pos += 1
            return .space(negated: true)
        case 0x64:
            pos += 1
            return .digit(negated: false)
        case 0x44:
            pos += 1
            return .digit(negated: true)
        case 0x77:
            pos += 1
            return .word(negated: false)
        case 0x57:
            pos += 1
            return .word(negated: true)
        case 0x68 where flavor == .oniguruma:
            pos += 1
            return .hexDigit(negated: false)
        case 0x48 where flavor == .oniguruma:
            pos += 1
            return .hexDigit(negated: true)
        case 0x70, 0x50:  // \p \P
            pos += 1
            var negated = c == 0x50
            guard isChar("{") else { throw fail("expected '{' after \\p") }
            pos += 1
            if isChar("^") {
                negated.toggle()
                pos += 1
            }
            var name = ""
            while let n = peek(), n != 0x7D {
                name.unicodeScalars.append(Unicode.Scalar(n)!)
                pos += 1
            }
            guard !atEnd else { throw fail("unterminated \\p{") }
            pos += 1
            guard let mask = CategoryMask.named(name) else {
                throw fail("unsupported Unicode property \\p{\(name)} (general categories only)")
            }
            return .categories(mask, negated: negated)
        default: return nil
        }
    }

    /// A single-scalar escape at `pos` (just after the backslash).
    mutating func parseLiteralEscape() throws -> UInt32 {
        let c = scalars[pos]
        pos += 1
        switch c {
        case 0x74: return 9  // \t
        case 0x6E: return 10  // \n
        case 0x72: return 13  // \r
        case 0x66: return 12  // \f
        case 0x76: return 11  // \v
        case 0x61: return 7  // \a
        case 0x65: return 27  // \e
        case 0x30: return 0  // \0
        case 0x78:  // \xHH or \x{H...}
            if isChar("{") {
                pos += 1
                return try hexDigits(max: 8, until: 0x7D)
            }
            return try hexDigits(max: 2, until: nil)
        case 0x75:  // \uHHHH or \u{...}
            if isChar("{") {
                pos += 1
                return try hexDigits(max: 8, until: 0x7D)
            }
            return try hexDigits(max: 4, until: nil, exactly: 4)
        default:
            if (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x31 && c <= 0x39) {
                pos -= 1
                throw fail("unsupported escape '\\\(Character(Unicode.Scalar(c)!))'")
            }
            return c
        }
    }

    mutating func hexDigits(max: Int, until close: UInt32?, exactly: Int? = nil) throws -> UInt32 {
        var v: UInt32 = 0
        var n = 0
        while n < max, let c = peek(), let d = hexValue(c) {
            v = v * 16 + d
            n += 1
            pos += 1
        }
        if n == 0 || (exactly != nil && n != exactly) { throw fail("bad hexadecimal escape") }
        if let close {
            guard peek() == close else { throw fail("unterminated \\x{") }
            pos += 1
        }
        guard Unicode.Scalar(v) != nil else { throw fail("escape is not a Unicode scalar") }
        return v
    }

    func hexValue(_ c: UInt32) -> UInt32? {
        switch c {
        case 48...57: return c - 48
        case 65...70: return c - 55
        case 97...102: return c - 87
        default: return nil
        }
    }
}
