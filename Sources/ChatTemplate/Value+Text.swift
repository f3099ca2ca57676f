// How values print: Python's str() and repr(), and json.dumps as transformers' tojson filter calls it.
import Foundation

extension Value {
    /// Python's `str(value)`; an undefined value prints as the empty string, as in Jinja2.
    public var text: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return repr
        }
    }

    /// Python's `repr(value)`.
    var repr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return pythonFloat(d)
        case .string(let s): return pythonStringRepr(s)
        case .list(let a): return "[" + a.map(\.repr).joined(separator: ", ") + "]"
        case .tuple(let a):
            return a.count == 1 ? "(" + a[0].repr + ",)" : "(" + a.map(\.repr).joined(separator: ", ") + ")"
        case .dict(let d):
            return "{" + d.items.map { $0.0.repr + ": " + $0.1.repr }.joined(separator: ", ") + "}"
        case .namespace(let n):
            return "<Namespace " + Value.dict(n.attributes).repr + ">"
        case .callable(let c): return c.isMacro ? "<Macro '\(c.name)'>" : "<built-in function \(c.name)>"
        }
    }
}

/// Python's repr of a float: the shortest digits that round-trip, exponent form outside 1e-4 ..< 1e16.
func pythonFloat(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
    // Swift's description gives the shortest round-trip digits; re-lay them out as Python does.
    let desc = "\(d.magnitude)"
    var mantissa = desc
    var exponent = 0
    if let e = desc.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        mantissa = String(desc[..<e])
        exponent = Int(desc[desc.index(after: e)...]) ?? 0
    }
    var digits: String
    var pointPos: Int
    if let dot = mantissa.firstIndex(of: ".") {
        digits = String(mantissa[..<dot]) + String(mantissa[mantissa.index(after: dot)...])
        pointPos = mantissa.distance(from: mantissa.startIndex, to: dot)
    } else {
        digits = mantissa
        pointPos = mantissa.count
    }
    // Normalise: strip leading zeros (moving the point) and trailing zeros.
    while digits.count > 1, digits.first == "0" {
        digits.removeFirst()
        pointPos -= 1
    }
    while digits.count > 1, digits.last == "0" { digits.removeLast() }
    let decimalExponent = pointPos + exponent - 1  // value = 0.d1d2... * 10^(pointPos+exponent)
    let sign = d < 0 ? "-" : ""
    if decimalExponent < -4 || decimalExponent >= 16 {
        var m = String(digits.first!)
        if digits.count > 1 { m += "." + digits.dropFirst() }
        let e = decimalExponent
        return sign + m + "e" + (e < 0 ? "-" : "+") + (abs(e) < 10 ? "0" : "") + String(abs(e))
    }
    if decimalExponent < 0 {
        return sign + "0." + String(repeating: "0", count: -decimalExponent - 1) + digits
    }
    let intCount = decimalExponent + 1
    if digits.count <= intCount {
        return sign + digits + String(repeating: "0", count: intCount - digits.count) + ".0"
    }
    let split = digits.index(digits.startIndex, offsetBy: intCount)
    return sign + digits[..<split] + "." + digits[split...]
}

/// Python's repr of a str: single quotes unless the text has a single quote and no double quote.
func pythonStringRepr(_ s: String) -> String {
    let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
    var out = String(quote)
    for u in s.unicodeScalars {
        switch u {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if Character(u) == quote {
                out += "\\" + String(quote)
            } else if isPrintable(u) {
                out.unicodeScalars.append(u)
            } else if u.value < 0x100 {
                out += "\\x" + hex(u.value, 2)
            } else if u.value < 0x10000 {
                out += "\\u" + hex(u.value, 4)
            } else {
                out += "\\U" + hex(u.value, 8)
            }
        }
    }
    out.append(quote)
    return out
}

func hex(_ v: UInt32, _ width: Int) -> String {
    let h = String(v, radix: 16)
    return String(repeating: "0", count: max(0, width - h.count)) + h
}

/// Python's str.isprintable for one code point: not a control, format, separator (but space), or unassigned.
func isPrintable(_ u: Unicode.Scalar) -> Bool {
    if u == " " { return true }
    switch u.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned,
        .lineSeparator, .paragraphSeparator, .spaceSeparator:
        return false
    default:
        return true
    }
}

/// Options of json.dumps as transformers' tojson filter passes them.
struct JSONStyle {
    var ensureASCII = false
    var indent: String? = nil
    var itemSeparator = ", "
    var keySeparator = ": "
    var sortKeys = false
}

/// Errors from json.dumps: a value JSON cannot hold.
struct JSONDumpError: Error { let message: String }

/// json.dumps(value, ...) with Python's layout.
func jsonDump(_ v: Value, _ style: JSONStyle, level: Int = 0) throws -> String {
    switch v {
    case .none: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .double(let d):
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        return pythonFloat(d)
    case .string(let s): return jsonString(s, ascii: style.ensureASCII)
    case .list(let a), .tuple(let a):
        if a.isEmpty { return "[]" }
        let parts = try a.map { try jsonDump($0, style, level: level + 1) }
        return wrap("[", "]", parts, style, level)
    case .dict(let d):
        if d.count == 0 { return "{}" }
        var pairs: [(String, Value)] = []
        for (k, value) in d.items {
            let key: String
            switch k {
            case .string(let s): key = s
            case .int(let i): key = String(i)
            case .bool(let b): key = b ? "true" : "false"
            case .none: key = "null"
            case .double(let x): key = try jsonDump(.double(x), style)
            default: throw JSONDumpError(message: "keys must be str, int, float, bool or None, not \(k.typeName)")
            }
            pairs.append((key, value))
        }
        if style.sortKeys {
            pairs = stableSorted(pairs) { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) }
        }
        let parts = try pairs.map {
            jsonString($0.0, ascii: style.ensureASCII) + style.keySeparator
                + (try jsonDump($0.1, style, level: level + 1))
        }
        return wrap("{", "}", parts, style, level)
    case .undefined: throw JSONDumpError(message: "Object of type Undefined is not JSON serializable")
    case .namespace: throw JSONDumpError(message: "Object of type Namespace is not JSON serializable")
    case .callable(let c):
        throw JSONDumpError(message: "Object of type \(c.isMacro ? "Macro" : "function") is not JSON serializable")
    }
}

private func wrap(_ open: String, _ close: String, _ parts: [String], _ style: JSONStyle, _ level: Int) -> String {
    guard let indent = style.indent else { return open + parts.joined(separator: style.itemSeparator) + close }
    let inner = "\n" + String(repeating: indent, count: level + 1)
    let outer = "\n" + String(repeating: indent, count: level)
    return open + inner + parts.joined(separator: style.itemSeparator + inner) + outer + close
}

/// A JSON string literal as Python's json module writes it.
func jsonString(_ s: String, ascii: Bool) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if u.value < 0x20 {
                out += "\\u" + hex(u.value, 4)
            } else if ascii && u.value > 0x7E {
                if u.value >= 0x10000 {
                    let v = u.value - 0x10000
                    out += "\\u" + hex(0xD800 + (v >> 10), 4) + "\\u" + hex(0xDC00 + (v & 0x3FF), 4)
                } else {
                    out += "\\u" + hex(u.value, 4)
                }
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

/// A stable merge sort (Python's sorted is stable; the comparator may throw).
func stableSorted<T>(_ items: [T], by less: (T, T) throws -> Bool) rethrows -> [T] {
    if items.count < 2 { return items }
    let mid = items.count / 2
    let left = try stableSorted(Array(items[..<mid]), by: less)
    let right = try stableSorted(Array(items[mid...]), by: less)
    var out: [T] = []
    out.reserveCapacity(items.count)
    var i = 0
    var j = 0
    while i < left.count && j < right.count {
        if try less(right[j], left[i]) {
            out.append(right[j])
            j += 1
        } else {
            out.append(left[i])
            i += 1
        }
    }
    out += left[i...]
    out += right[j...]
    return out
}
