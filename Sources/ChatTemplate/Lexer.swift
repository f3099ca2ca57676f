// Splits template source into text and tag tokens, applying Jinja2's whitespace rules with trim_blocks and
// lstrip_blocks on (as transformers sets them): a newline right after a block or comment tag is dropped,
// spaces and tabs from the start of a line up to a block or comment tag are dropped, `-` on a tag strips all
// whitespace on that side and `+` turns the trimming off.

/// One token of a template.
struct Token: Equatable {
    enum Kind: Equatable {
        case text, variableBegin, variableEnd, blockBegin, blockEnd
        case name, string, integer, float, op, end
    }
    let kind: Kind
    let value: String
    let line: Int
}

struct Lexer {
    private let src: [Unicode.Scalar]
    private var pos = 0
    private var line = 1
    private var lineStarting = true
    private(set) var tokens: [Token] = []

    init(_ source: String) {
        // Newlines normalised to \n, and one trailing newline dropped (keep_trailing_newline is off).
        var s: [Unicode.Scalar] = []
        var it = Array(source.unicodeScalars)
        var i = 0
        while i < it.count {
            if it[i] == "\r" {
                s.append("\n")
                if i + 1 < it.count, it[i + 1] == "\n" { i += 1 }
            } else {
                s.append(it[i])
            }
            i += 1
        }
        if s.last == "\n" { s.removeLast() }
        it = []
        src = s
    }

    static func tokenize(_ source: String) throws -> [Token] {
        var l = Lexer(source)
        try l.run()
        return l.tokens
    }

    private func at(_ i: Int, _ s: String) -> Bool {
        var j = i
        for u in s.unicodeScalars {
            guard j < src.count, src[j] == u else { return false }
            j += 1
        }
        return true
    }

    private func fail(_ message: String) -> TemplateError { TemplateError(.syntax, line: line, message) }

    private mutating func emitText(_ start: Int, _ end: Int, sign: Unicode.Scalar?, lstrip: Bool) {
        var text = Array(src[start..<end])
        let newlines = text.reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
        if sign == "-" {
            while let last = text.last, isPythonSpace(last) { text.removeLast() }
        } else if sign != "+" && lstrip {
            let lPos = (text.lastIndex(of: "\n") ?? -1) + 1
            if (lPos > 0 || lineStarting) && lPos < text.count && text[lPos...].allSatisfy(isPythonSpace) {
                text.removeSubrange(lPos...)
            }
        }
        if !text.isEmpty {
            tokens.append(Token(kind: .text, value: String(String.UnicodeScalarView(text)), line: line))
        }
        line += newlines
    }

    private mutating func skipWhitespace() {
        while pos < src.count, isPythonSpace(src[pos]) {
            if src[pos] == "\n" { line += 1 }
            pos += 1
        }
    }

    /// After a block or comment end: `-` strips whitespace, `+` keeps it, otherwise one newline goes.
    private mutating func finishTag(sign: Unicode.Scalar?, trim: Bool) {
        if sign == "-" {
            skipWhitespace()
        } else if sign != "+" && trim && pos < src.count && src[pos] == "\n" {
            pos += 1
            line += 1
        }
        lineStarting = pos > 0 && src[pos - 1] == "\n"
    }

    private mutating func run() throws {
        while pos < src.count {
            guard let open = nextOpener(from: pos) else {
                emitText(pos, src.count, sign: nil, lstrip: false)
                pos = src.count
                break
            }
            let kind = src[open + 1]
            var sign: Unicode.Scalar? = nil
            if open + 2 < src.count, src[open + 2] == "-" || src[open + 2] == "+" { sign = src[open + 2] }
            let lstrip = kind != "{"
            if kind == "%", let rawEnd = rawBegin(at: open) {
                emitText(pos, open, sign: sign, lstrip: lstrip)
                pos = rawEnd.end
                line += rawEnd.newlines
                lineStarting = src[pos - 1] == "\n"
                try raw()
                continue
            }
            emitText(pos, open, sign: sign, lstrip: lstrip)
            pos = open + 2 + (sign == nil ? 0 : 1)
            switch kind {
            case "#": try comment()
            case "{":
                tokens.append(Token(kind: .variableBegin, value: "{{", line: line))
                try inside(block: false)
            default:
                tokens.append(Token(kind: .blockBegin, value: "{%", line: line))
                try inside(block: true)
            }
        }
        tokens.append(Token(kind: .end, value: "", line: line))
    }

    private func nextOpener(from start: Int) -> Int? {
        var i = start
        while i + 1 < src.count {
            if src[i] == "{", src[i + 1] == "{" || src[i + 1] == "%" || src[i + 1] == "#" { return i }
            i += 1
        }
        return nil
    }

    /// `{% raw %}` (with optional - or + signs) at `i`: where its tag ends.
    private func rawBegin(at i: Int) -> (end: Int, newlines: Int)? {
        var j = i + 2
        if j < src.count, src[j] == "-" || src[j] == "+" { j += 1 }
        while j < src.count, isPythonSpace(src[j]) { j += 1 }
        guard at(j, "raw") else { return nil }
        j += 3
        while j < src.count, isPythonSpace(src[j]) { j += 1 }
        if at(j, "-%}") {
            j += 3
            while j < src.count, isPythonSpace(src[j]) { j += 1 }
        } else if at(j, "%}") {
            j += 2
        } else {
            return nil
        }
        return (j, src[i..<j].reduce(0) { $0 + ($1 == "\n" ? 1 : 0) })
    }

    private mutating func raw() throws {
        var i = pos
        while i < src.count {
            if at(i, "{%") {
                var j = i + 2
                var sign: Unicode.Scalar? = nil
                if j < src.count, src[j] == "-" || src[j] == "+" {
                    sign = src[j]
                    j += 1
                }
                while j < src.count, isPythonSpace(src[j]) { j += 1 }
                if at(j, "endraw") {
                    j += 6
                    while j < src.count, isPythonSpace(src[j]) { j += 1 }
                    var endSign: Unicode.Scalar? = nil
                    if j < src.count, src[j] == "-" || src[j] == "+" {
                        endSign = src[j]
                        j += 1
                    }
                    if at(j, "%}") {
                        emitText(pos, i, sign: sign, lstrip: true)
                        line += src[i..<j].reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
                        pos = j + 2
                        finishTag(sign: endSign, trim: true)
                        return
                    }
                }
            }
            i += 1
        }
        throw fail("missing end of raw directive")
    }

    private mutating func comment() throws {
        var i = pos
        while i < src.count {
            if at(i, "+#}") || at(i, "-#}") {
                line += src[pos..<i].reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
                pos = i + 3
                finishTag(sign: src[i], trim: true)
                return
            }
            if at(i, "#}") {
                line += src[pos..<i].reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
                pos = i + 2
                finishTag(sign: nil, trim: true)
                return
            }
            i += 1
        }
        throw fail("missing end of comment tag")
    }

    private static let operators = [
        "//", "**", "==", "!=", ">=", "<=",
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}",
        ">", "<", "=", ".", ":", "|", ",", ";",
    ]

    /// The tokens of an expression or statement up to its closing `}}` or `%}`.
    private mutating func inside(block: Bool) throws {
        var balance: [Unicode.Scalar] = []
        while true {
            guard pos < src.count else {
                throw fail("unexpected end of template, expected '\(block ? "%}" : "}}")'")
            }
            if balance.isEmpty {
                if block {
                    for (s, sign) in [("+%}", "+"), ("-%}", "-"), ("%}", "")] as [(String, String)] where at(pos, s) {
                        tokens.append(Token(kind: .blockEnd, value: "%}", line: line))
                        pos += s.unicodeScalars.count
                        finishTag(sign: sign.isEmpty ? nil : sign.unicodeScalars.first, trim: true)
                        return
                    }
                } else {
                    if at(pos, "-}}") {
                        tokens.append(Token(kind: .variableEnd, value: "}}", line: line))
                        pos += 3
                        finishTag(sign: "-", trim: false)
                        return
                    }
                    if at(pos, "}}") {
                        tokens.append(Token(kind: .variableEnd, value: "}}", line: line))
                        pos += 2
                        lineStarting = false
                        return
                    }
                }
            }
            let c = src[pos]
            if isPythonSpace(c) {
                skipWhitespace()
                continue
            }
            if let number = scanNumber() {
                tokens.append(number)
                continue
            }
            if c == "_" || c.properties.isAlphabetic {
                var j = pos
                while j < src.count,
                    src[j] == "_" || src[j].properties.isAlphabetic || src[j].properties.numericType == .decimal
                {
                    j += 1
                }
                tokens.append(Token(kind: .name, value: String(String.UnicodeScalarView(src[pos..<j])), line: line))
                pos = j
                continue
            }
            if c == "'" || c == "\"" {
                tokens.append(try scanString(quote: c))
                continue
            }
            guard let op = Self.operators.first(where: { at(pos, $0) }) else {
                throw fail("unexpected char \(pythonStringRepr(String(c))) at \(pos)")
            }
            switch op {
            case "(": balance.append(")")
            case "[": balance.append("]")
            case "{": balance.append("}")
            case ")", "]", "}":
                guard let expected = balance.popLast() else { throw fail("unexpected '\(op)'") }
                if String(expected) != op { throw fail("unexpected '\(op)', expected '\(expected)'") }
            default: break
            }
            tokens.append(Token(kind: .op, value: op, line: line))
            pos += op.unicodeScalars.count
        }
    }

    private func isDigit(_ i: Int) -> Bool { i < src.count && src[i].value >= 0x30 && src[i].value <= 0x39 }

    /// Digits with single underscores between them, from `i`; returns the end.
    private func digitRun(_ i: Int) -> Int? {
        guard isDigit(i) else { return nil }
        var j = i + 1
        while true {
            if isDigit(j) { j += 1 } else if j < src.count, src[j] == "_", isDigit(j + 1) { j += 2 } else { break }
        }
        return j
    }

    private mutating func scanNumber() -> Token? {
        guard isDigit(pos) else { return nil }
        if pos > 0, src[pos - 1] == "." {
            // After a dot (x.0) only an integer attribute index can follow.
        } else if let intEnd = digitRun(pos) {
            var j = intEnd
            var isFloat = false
            if j < src.count, src[j] == ".", let f = digitRun(j + 1) {
                j = f
                isFloat = true
            }
            if j < src.count, src[j] == "e" || src[j] == "E" {
                var k = j + 1
                if k < src.count, src[k] == "+" || src[k] == "-" { k += 1 }
                if let e = digitRun(k) {
                    j = e
                    isFloat = true
                }
            }
            if isFloat {
                let text = String(String.UnicodeScalarView(src[pos..<j])).replacingOccurrences(of: "_", with: "")
                pos = j
                return Token(kind: .float, value: text, line: line)
            }
        }
        for (prefix, radix) in [("0b", 2), ("0o", 8), ("0x", 16), ("0B", 2), ("0O", 8), ("0X", 16)]
        where at(pos, prefix) {
            var j = pos + 2
            var digits = ""
            while j < src.count, src[j] == "_" || Int(String(src[j]), radix: radix) != nil {
                if src[j] != "_" { digits.unicodeScalars.append(src[j]) }
                j += 1
            }
            if !digits.isEmpty, let v = Int(digits, radix: radix) {
                pos = j
                return Token(kind: .integer, value: String(v), line: line)
            }
        }
        let end = digitRun(pos) ?? pos + 1
        let text = String(String.UnicodeScalarView(src[pos..<end])).replacingOccurrences(of: "_", with: "")
        pos = end
        return Token(kind: .integer, value: text, line: line)
    }

    /// A quoted string, with Python's unicode-escape rules applied to its body.
    private mutating func scanString(quote: Unicode.Scalar) throws -> Token {
        let startLine = line
        var j = pos + 1
        var out = String.UnicodeScalarView()
        while true {
            guard j < src.count else { throw fail("unterminated string") }
            let c = src[j]
            if c == quote { break }
            if c == "\n" { line += 1 }
            if c != "\\" {
                out.append(c)
                j += 1
                continue
            }
            guard j + 1 < src.count else { throw fail("unterminated string") }
            let e = src[j + 1]
            j += 2
            switch e {
            case "\n": line += 1
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var v = e.value - 0x30
                var k = 0
                while k < 2, j < src.count, src[j].value >= 0x30, src[j].value <= 0x37 {
                    v = v * 8 + src[j].value - 0x30
                    j += 1
                    k += 1
                }
                out.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            case "x", "u", "U":
                let n = e == "x" ? 2 : (e == "u" ? 4 : 8)
                guard j + n <= src.count, let v = UInt32(String(String.UnicodeScalarView(src[j..<j + n])), radix: 16),
                    let u = Unicode.Scalar(v)
                else {
                    throw fail("invalid \\\(e) escape in a string")
                }
                out.append(u)
                j += n
            default:
                out.append("\\")
                out.append(e)
            }
        }
        pos = j + 1
        return Token(kind: .string, value: String(out), line: startLine)
    }
}
