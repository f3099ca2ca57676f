// Parsing a regex pattern (the Oniguruma subset that tokenizer files use) into a syntax tree.

/// A regex syntax tree.
indirect enum RegexNode: Sendable {
    case empty
    case scalar(UInt32, caseInsensitive: Bool)
    case cls(ScalarClass)
    case dot
    case sequence([RegexNode])
    case alternation([RegexNode])
    case repetition(RegexNode, min: Int, max: Int?, greedy: Bool, possessive: Bool)
    case look(RegexNode, ahead: Bool, negated: Bool)
    case atomic(RegexNode)
    case lineStart, lineEnd, textStart, textEnd, textEndBeforeNewline
    case wordBoundary(negated: Bool)
}

struct RegexParser {
    let pattern: String
    let scalars: [UInt32]
    let flavor: RegexFlavor
    var pos = 0

    init(pattern: String, flavor: RegexFlavor) {
        self.pattern = pattern
        self.scalars = pattern.unicodeScalars.map(\.value)
        self.flavor = flavor
    }

    func fail(_ what: String) -> TokenizerError {
        TokenizerError(
            "regex \(quoted(pattern)): \(what) at character \(pos + 1); rpp supports literals, classes, "
                + "\\p{..}, \\s \\d \\w, groups, (?i:), lookarounds and quantifiers")
    }

    func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    mutating func parse() throws -> RegexNode {
        let node = try parseAlternation(caseInsensitive: false)
        if pos < scalars.count { throw fail("unbalanced ')'") }
        return node
    }

    var atEnd: Bool { pos >= scalars.count }
    func peek(_ offset: Int = 0) -> UInt32? {
        pos + offset < scalars.count ? scalars[pos + offset] : nil
    }
    func isChar(_ c: Character, at offset: Int = 0) -> Bool {
        peek(offset) == c.unicodeScalars.first!.value
    }

    private mutating func parseAlternation(caseInsensitive: Bool) throws -> RegexNode {
        var ci = caseInsensitive
        var branches: [RegexNode] = [try parseSequence(caseInsensitive: &ci)]
        while isChar("|") {
            pos += 1
            branches.append(try parseSequence(caseInsensitive: &ci))
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func parseSequence(caseInsensitive ci: inout Bool) throws -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek(), c != 0x7C, c != 0x29 {  // '|' ')'
            if isChar("("), isChar("?", at: 1), isChar("i", at: 2) || isChar("-", at: 2), inlineFlagsEnd() != nil {
                // (?i) or (?-i): changes the case sensitivity of the rest of the enclosing group.
                let end = inlineFlagsEnd()!
                ci = !isChar("-", at: 2)
                pos = end + 1
                continue
            }
            var atom = try parseAtom(caseInsensitive: ci)
            atom = try parseQuantifiers(atom)
            items.append(atom)
        }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    /// The index of ')' for a bare flag group `(?i)` / `(?-i)`, or nil.
    private func inlineFlagsEnd() -> Int? {
        var i = pos + 2
        while i < scalars.count, scalars[i] == 0x69 || scalars[i] == 0x2D { i += 1 }  // i -
        return i < scalars.count && scalars[i] == 0x29 ? i : nil
    }

    private mutating func parseQuantifiers(_ atom: RegexNode) throws -> RegexNode {
        var node = atom
        while let c = peek() {
            var min = 0
            var max: Int? = nil
            switch c {
            case 0x2A: pos += 1  // *
            case 0x2B:
                pos += 1
                min = 1  // +
            case 0x3F:
                pos += 1
                max = 1  // ?
            case 0x7B:  // {
                guard let (lo, hi, len) = parseBraces() else { return node }
                pos += len
                min = lo
                max = hi
            default: return node
            }
            if let m = max, m < min { throw fail("quantifier {\(min),\(m)} has max < min") }
            if min > 1000 || (max ?? 0) > 1000 { throw fail("repetition count above 1000") }
            var greedy = true
            var possessive = false
            if isChar("?") {
                pos += 1
                greedy = false
            } else if isChar("+") && c != 0x7B {
                pos += 1
                possessive = true
            }
            node = .repetition(node, min: min, max: max, greedy: greedy, possessive: possessive)
        }
        return node
    }

    /// `{n}`, `{n,}`, `{n,m}`, `{,m}`: (min, max, length in scalars), or nil when not a quantifier.
    private func parseBraces() -> (Int, Int?, Int)? {
        var i = pos + 1
        func number() -> Int? {
            var v: Int? = nil
            while i < scalars.count, scalars[i] >= 48, scalars[i] <= 57 {
                v = (v ?? 0) * 10 + Int(scalars[i] - 48)
                if v! > 100_000 { return v }
                i += 1
            }
            return v
        }
        let lo = number()
        if i < scalars.count, scalars[i] == 0x7D {
            guard let lo else { return nil }
            return (lo, lo, i - pos + 1)
        }
        guard i < scalars.count, scalars[i] == 0x2C else { return nil }
        i += 1
        let hi = number()
        guard i < scalars.count, scalars[i] == 0x7D, lo != nil || hi != nil else { return nil }
        return (lo ?? 0, hi, i - pos + 1)
    }

    private mutating func parseAtom(caseInsensitive ci: Bool) throws -> RegexNode {
        let c = scalars[pos]
        switch c {
        case 0x28: return try parseGroup(caseInsensitive: ci)
        case 0x5B: return .cls(try parseClass(caseInsensitive: ci))
        case 0x2E:
            pos += 1
            return .dot
        case 0x5E:
            pos += 1
            return .lineStart
        case 0x24:
            pos += 1
            return .lineEnd
        case 0x5C: return try parseEscape(caseInsensitive: ci)
        case 0x2A, 0x2B, 0x3F: throw fail("quantifier with nothing to repeat")
        default:
            pos += 1
            return .scalar(ci ? ScalarProps.fold(c) : c, caseInsensitive: ci)
        }
    }

    private mutating func parseGroup(caseInsensitive ci: Bool) throws -> RegexNode {
        pos += 1
        var inner = ci
        var wrap: (RegexNode) -> RegexNode = { $0 }
        if isChar("?") {
            pos += 1
            guard let c = peek() else { throw fail("unterminated group") }
            switch c {
            case 0x3A: pos += 1  // (?:
            case 0x3D:
                pos += 1
                wrap = { .look($0, ahead: true, negated: false) }  // (?=
            case 0x21:
                pos += 1
                wrap = { .look($0, ahead: true, negated: true) }  // (?!
            case 0x3E:
                pos += 1
                wrap = { .atomic($0) }  // (?>
            case 0x3C:  // (?<= (?<! (?<name>
                if isChar("=", at: 1) {
                    pos += 2
                    wrap = { .look($0, ahead: false, negated: false) }
                } else if isChar("!", at: 1) {
                    pos += 2
                    wrap = { .look($0, ahead: false, negated: true) }
                } else {
                    try skipGroupName(close: 0x3E)
                }
            case 0x50 where isChar("<", at: 1):  // (?P<name>
                pos += 1
                try skipGroupName(close: 0x3E)
            case 0x27: try skipGroupName(close: 0x27)  // (?'name'
            case 0x69, 0x2D, 0x6D, 0x78:  // (?i: (?-i: and friends
                var on = true
                while let f = peek(), f != 0x3A {
                    switch f {
                    case 0x2D: on = false
                    case 0x69: inner = on
                    default: throw fail("unsupported group flag '\(Character(Unicode.Scalar(f)!))'")
                    }
                    pos += 1
                }
                guard isChar(":") else { throw fail("unterminated group flags") }
                pos += 1
            default:
                throw fail("unsupported group syntax '(?\(Character(Unicode.Scalar(c) ?? "?"))'")
            }
        }
        let body = try parseAlternation(caseInsensitive: inner)
        guard isChar(")") else { throw fail("missing ')'") }
        pos += 1
        return wrap(body)
    }

    private mutating func skipGroupName(close: UInt32) throws {
        pos += 1
        while let c = peek(), c != close { pos += 1 }
        guard !atEnd else { throw fail("unterminated group name") }
        pos += 1
    }

    /// A bracket class `[...]` at `pos`.
    private mutating func parseClass(caseInsensitive ci: Bool) throws -> ScalarClass {
        pos += 1
        var negated = false
        if isChar("^") {
            negated = true
            pos += 1
        }
        var items: [ClassItem] = []
        var first = true
        while true {
            guard let c = peek() else { throw fail("missing ']'") }
            if c == 0x5D && !first {
                pos += 1
                break
            }
            first = false
            if c == 0x5B {
                if isChar(":", at: 1) { throw fail("POSIX bracket expressions are not supported") }
                throw fail("nested character classes are not supported")
            }
            if c == 0x26 && isChar("&", at: 1) { throw fail("class intersection '&&' is not supported") }
            var low: UInt32
            if c == 0x5C {
                pos += 1
                if let item = try parseClassEscape() {
                    items.append(item)
                    continue
                }
                if isChar("b") {
                    pos += 1
                    low = 8
                } else {
                    low = try parseLiteralEscape()
                }
            } else {
                pos += 1
                low = c
            }
            if isChar("-"), let next = peek(1), next != 0x5D {
                pos += 1
                var high: UInt32
                if next == 0x5C {
                    pos += 1
                    if try parseClassEscape() != nil { throw fail("a range cannot end with a class escape") }
                    high = try parseLiteralEscape()
                } else {
                    pos += 1
                    high = next
                }
                if high < low { throw fail("class range out of order") }
                items.append(.range(low, high))
            } else {
                items.append(.range(low, low))
            }
        }
        return ScalarClass(items: items, negated: negated, caseInsensitive: ci, flavor: flavor)
    }
}
