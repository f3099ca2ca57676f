// OrderedJSON: a JSON value that keeps what a rewrite must not change: the order of an object's keys and
// the exact text of every number (1e-05 stays 1e-05, 8.0 stays 8.0, 2 stays 2). Written back with two-space
// indentation and ASCII-only strings, the layout Python's json.dumps(indent=2) gives config.json files.
import Foundation

/// A JSON document with key order and number literals kept.
public enum OrderedJSON: Sendable, Equatable {
    case object([(key: String, value: OrderedJSON)])
    case array([OrderedJSON])
    case string(String)
    /// A number, as its JSON literal text.
    case number(String)
    case bool(Bool)
    case null

    public static func == (a: OrderedJSON, b: OrderedJSON) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let x), .array(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    /// The deepest nesting accepted.
    public static let maxDepth = 256

    /// Parses one JSON document (RFC 8259; surrounding whitespace allowed). Errors name the byte offset.
    public init(data: Data) throws {
        var p = OrderedJSONParser(bytes: [UInt8](data))
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.pos == p.bytes.count else { throw p.fail("extra text after the JSON value") }
        self = v
    }

    /// The member `key` of an object (nil for other values or a missing key).
    public subscript(key: String) -> OrderedJSON? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    /// The keys of an object, in order (empty for other values).
    public var keys: [String] {
        guard case .object(let members) = self else { return [] }
        return members.map(\.key)
    }

    /// Sets member `key` of an object in place; a new key goes where it keeps sorted keys sorted, else last.
    /// Does nothing to values that are not objects.
    public mutating func set(_ key: String, _ value: OrderedJSON) {
        guard case .object(var members) = self else { return }
        if let i = members.firstIndex(where: { $0.key == key }) {
            members[i].value = value
        } else {
            let names = members.map(\.key)
            let sorted = zip(names, names.dropFirst()).allSatisfy { $0 < $1 }
            let at = sorted ? (members.firstIndex { $0.key > key } ?? members.count) : members.count
            members.insert((key, value), at: at)
        }
        self = .object(members)
    }

    /// Removes member `key` of an object.
    public mutating func remove(_ key: String) {
        guard case .object(var members) = self else { return }
        members.removeAll { $0.key == key }
        self = .object(members)
    }

    /// The document as UTF-8 text: two-space indentation, "key": value, non-ASCII escaped as \uXXXX, and a
    /// final newline.
    public func text() -> Data {
        var out = ""
        write(to: &out, indent: 0)
        out += "\n"
        return Data(out.utf8)
    }

    private func write(to out: inout String, indent: Int) {
        let pad = String(repeating: " ", count: indent + 2)
        let close = String(repeating: " ", count: indent)
        switch self {
        case .object(let members):
            if members.isEmpty {
                out += "{}"
                return
            }
            out += "{\n"
            for (i, m) in members.enumerated() {
                out += pad + Self.quoted(m.key) + ": "
                m.value.write(to: &out, indent: indent + 2)
                out += i + 1 < members.count ? ",\n" : "\n"
            }
            out += close + "}"
        case .array(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                item.write(to: &out, indent: indent + 2)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += close + "]"
        case .string(let s): out += Self.quoted(s)
        case .number(let n): out += n
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }

    /// `s` as a JSON string literal with only ASCII characters.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for unit in s.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default: out += String(format: "\\u%04x", unit)
            }
        }
        return out + "\""
    }
}

/// A JSON text that is not valid, with the byte offset of the problem.
public struct OrderedJSONError: Error, CustomStringConvertible, Equatable {
    /// Byte offset of the problem.
    public let offset: Int
    /// What is wrong there.
    public let message: String
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

private struct OrderedJSONParser {
    let bytes: [UInt8]
    var pos = 0

    func fail(_ message: String) -> OrderedJSONError { OrderedJSONError(offset: pos, message: message) }

    func peek(_ c: Unicode.Scalar) -> Bool { pos < bytes.count && bytes[pos] == UInt8(ascii: c) }

    mutating func skipSpace() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
    }

    mutating func expect(_ c: Unicode.Scalar, _ what: String) throws {
        skipSpace()
        guard peek(c) else { throw fail("expected \(what)") }
        pos += 1
    }

    mutating func value(depth: Int) throws -> OrderedJSON {
        guard depth < OrderedJSON.maxDepth else { throw fail("nested deeper than \(OrderedJSON.maxDepth) levels") }
        skipSpace()
        guard pos < bytes.count else { throw fail("unexpected end of input") }
        if peek("{") {
            pos += 1
            var members: [(key: String, value: OrderedJSON)] = []
            skipSpace()
            if peek("}") {
                pos += 1
                return .object(members)
            }
            repeat {
                skipSpace()
                guard peek("\"") else { throw fail("expected a string key") }
                let key = try string()
                try expect(":", "':' after the key")
                let v = try value(depth: depth + 1)
                // A repeated key keeps its first place and its last value, as json.loads keeps the last.
                if let i = members.firstIndex(where: { $0.key == key }) {
                    members[i].value = v
                } else {
                    members.append((key, v))
                }
                skipSpace()
            } while try more("}")
            return .object(members)
        }
        if peek("[") {
            pos += 1
            var items: [OrderedJSON] = []
            skipSpace()
            if peek("]") {
                pos += 1
                return .array(items)
            }
            repeat {
                items.append(try value(depth: depth + 1))
                skipSpace()
            } while try more("]")
            return .array(items)
        }
        if peek("\"") { return .string(try string()) }
        for (word, v) in [("true", OrderedJSON.bool(true)), ("false", .bool(false)), ("null", .null)] {
            let w = Array(word.utf8)
            if bytes.count - pos >= w.count, Array(bytes[pos..<pos + w.count]) == w {
                pos += w.count
                return v
            }
        }
        return .number(try number())
    }

    /// After a member or item: true on ',', false (consuming it) on `close`.
    mutating func more(_ close: Unicode.Scalar) throws -> Bool {
        if peek(",") {
            pos += 1
            return true
        }
        if peek(close) {
            pos += 1
            return false
        }
        throw fail(pos < bytes.count ? "expected ',' or '\(close)'" : "unexpected end of input")
    }

    mutating func digits() -> Int {
        let start = pos
        while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 }
        return pos - start
    }

    mutating func number() throws -> String {
        let start = pos
        if peek("-") { pos += 1 }
        let first = pos
        let n = digits()
        guard n > 0 else {
            pos = start
            throw fail("unexpected character")
        }
        guard n == 1 || bytes[first] != 0x30 else { throw fail("a number may not start with 0") }
        if peek(".") {
            pos += 1
            guard digits() > 0 else { throw fail("expected digits after '.'") }
        }
        if peek("e") || peek("E") {
            pos += 1
            if peek("+") || peek("-") { pos += 1 }
            guard digits() > 0 else { throw fail("expected digits in the exponent") }
        }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    mutating func hex4() throws -> UInt32 {
        guard bytes.count - pos >= 4, let v = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16)
        else { throw fail("bad \\u escape") }
        pos += 4
        return v
    }

    mutating func string() throws -> String {
        pos += 1
        var out: [UInt8] = []
        while true {
            guard pos < bytes.count else { throw fail("unterminated string") }
            let b = bytes[pos]
            pos += 1
            if b == 0x22 { break }
            if b < 0x20 { throw fail("control character in a string") }
            if b != 0x5C {
                out.append(b)
                continue
            }
            guard pos < bytes.count else { throw fail("unterminated string") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case 0x22, 0x5C, 0x2F: out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if (0xD800..<0xDC00).contains(v), bytes.count - pos >= 6, bytes[pos] == 0x5C,
                    bytes[pos + 1] == UInt8(ascii: "u")
                {
                    let save = pos
                    pos += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        pos = save
                    }
                }
                out += Array(String(Unicode.Scalar(v) ?? "\u{FFFD}").utf8)
            default: throw fail("bad escape \\\(Character(Unicode.Scalar(e)))")
            }
        }
        guard let s = String(bytes: out, encoding: .utf8) else { throw fail("string is not valid UTF-8") }
        return s
    }
}
