// Arithmetic and comparisons with Python's rules: / is true division, // and % floor, str + int is an error.
import Foundation

/// A number as Python sees it (bool counts as int).
enum Number {
    case int(Int)
    case double(Double)

    init?(_ v: Value) {
        switch v {
        case .int(let i): self = .int(i)
        case .bool(let b): self = .int(b ? 1 : 0)
        case .double(let d): self = .double(d)
        default: return nil
        }
    }

    var double: Double {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        }
    }
}

/// Python's ==.
func pythonEqual(_ a: Value, _ b: Value) -> Bool {
    if let x = Number(a), let y = Number(b) {
        if case .int(let i) = x, case .int(let j) = y { return i == j }
        return x.double == y.double
    }
    switch (a, b) {
    case (.undefined, .undefined), (.none, .none): return true
    case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { pythonEqual($0, $1) }
    case (.dict(let x), .dict(let y)):
        guard x.count == y.count else { return false }
        for (k, v) in x.items {
            guard let w = y.get(k), pythonEqual(v, w) else { return false }
        }
        return true
    case (.namespace(let x), .namespace(let y)): return x === y
    case (.callable(let x), .callable(let y)): return x === y
    default: return false
    }
}

/// Python's < ; nil when the two types cannot be ordered.
func pythonLess(_ a: Value, _ b: Value) -> Bool? {
    if let x = Number(a), let y = Number(b) {
        if case .int(let i) = x, case .int(let j) = y { return i < j }
        return x.double < y.double
    }
    switch (a, b) {
    case (.string(let x), .string(let y)):
        return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
        for (p, q) in zip(x, y) where !pythonEqual(p, q) { return pythonLess(p, q) }
        return x.count < y.count
    default: return nil
    }
}

extension Interpreter {
    func binary(_ op: String, _ a: Value, _ b: Value, _ line: Int) throws -> Value {
        if case .undefined(let hint) = a { throw error(line, hint) }
        if case .undefined(let hint) = b { throw error(line, hint) }
        let bad = error(line, "unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'")
        if let x = Number(a), let y = Number(b) {
            return try arithmetic(op, x, y, line)
        }
        switch (op, a, b) {
        case ("+", .string(let x), .string(let y)): return .string(x + y)
        case ("+", .list(let x), .list(let y)): return .list(x + y)
        case ("+", .tuple(let x), .tuple(let y)): return .tuple(x + y)
        case ("+", .string, _): throw error(line, "can only concatenate str (not \"\(b.typeName)\") to str")
        case ("+", .list, _): throw error(line, "can only concatenate list (not \"\(b.typeName)\") to list")
        case ("*", .string, _), ("*", .list, _), ("*", .tuple, _):
            guard let n = intIndex(b) else {
                throw error(line, "can't multiply sequence by non-int of type '\(b.typeName)'")
            }
            return try repeatSequence(a, n, line)
        case ("*", _, .string), ("*", _, .list), ("*", _, .tuple):
            guard let n = intIndex(a) else {
                throw error(line, "can't multiply sequence by non-int of type '\(a.typeName)'")
            }
            return try repeatSequence(b, n, line)
        case ("%", .string, _):
            throw error(line, "printf-style formatting ('%' on a string) is not supported")
        default:
            throw bad
        }
    }

    private func repeatSequence(_ v: Value, _ n: Int, _ line: Int) throws -> Value {
        let times = max(0, n)
        switch v {
        case .string(let s):
            guard s.utf8.count * times <= Self.maxOutput else { throw error(line, "repeated string too long") }
            return .string(String(repeating: s, count: times))
        case .list(let a), .tuple(let a):
            guard a.count * times <= 1 << 20 else { throw error(line, "repeated list too long") }
            let out = Array([[Value]](repeating: a, count: times).joined())
            if case .tuple = v { return .tuple(out) }
            return .list(out)
        default: return v
        }
    }

    private func arithmetic(_ op: String, _ x: Number, _ y: Number, _ line: Int) throws -> Value {
        if case .int(let i) = x, case .int(let j) = y {
            switch op {
            case "+":
                let (r, o) = i.addingReportingOverflow(j)
                return o ? .double(Double(i) + Double(j)) : .int(r)
            case "-":
                let (r, o) = i.subtractingReportingOverflow(j)
                return o ? .double(Double(i) - Double(j)) : .int(r)
            case "*":
                let (r, o) = i.multipliedReportingOverflow(by: j)
                return o ? .double(Double(i) * Double(j)) : .int(r)
            case "/":
                guard j != 0 else { throw error(line, "division by zero") }
                return .double(Double(i) / Double(j))
            case "//":
                guard j != 0 else { throw error(line, "integer division or modulo by zero") }
                let q = i / j
                return .int((i % j != 0 && ((i < 0) != (j < 0))) ? q - 1 : q)
            case "%":
                guard j != 0 else { throw error(line, "integer division or modulo by zero") }
                let r = i % j
                return .int(r != 0 && ((r < 0) != (j < 0)) ? r + j : r)
            case "**":
                if j >= 0 {
                    var result = 1
                    var base = i
                    var e = j
                    while e > 0 {
                        if e & 1 == 1 {
                            let (r, o) = result.multipliedReportingOverflow(by: base)
                            if o { return .double(pow(Double(i), Double(j))) }
                            result = r
                        }
                        e >>= 1
                        if e > 0 {
                            let (b2, o) = base.multipliedReportingOverflow(by: base)
                            if o { return .double(pow(Double(i), Double(j))) }
                            base = b2
                        }
                    }
                    return .int(result)
                }
                guard i != 0 else { throw error(line, "0.0 cannot be raised to a negative power") }
                return .double(pow(Double(i), Double(j)))
            default: break
            }
        }
        let a = x.double
        let b = y.double
        switch op {
        case "+": return .double(a + b)
        case "-": return .double(a - b)
        case "*": return .double(a * b)
        case "/":
            guard b != 0 else { throw error(line, "float division by zero") }
            return .double(a / b)
        case "//":
            guard b != 0 else { throw error(line, "float floor division by zero") }
            return .double((a / b).rounded(.down))
        case "%":
            guard b != 0 else { throw error(line, "float modulo") }
            let r = fmod(a, b)
            return .double(r != 0 && ((r < 0) != (b < 0)) ? r + b : r)
        case "**": return .double(pow(a, b))
        default: throw error(line, "unknown operator \(op)")
        }
    }

    func compare(_ op: String, _ a: Value, _ b: Value, _ line: Int) throws -> Bool {
        switch op {
        case "==": return pythonEqual(a, b)
        case "!=": return !pythonEqual(a, b)
        case "in": return try contains(b, a, line)
        case "notin": return !(try contains(b, a, line))
        default: break
        }
        if case .undefined(let hint) = a { throw error(line, hint) }
        if case .undefined(let hint) = b { throw error(line, hint) }
        let less: (Value, Value) -> Bool? = pythonLess
        let result: Bool?
        switch op {
        case "<": result = less(a, b)
        case ">": result = less(b, a)
        case "<=": result = less(b, a).map { !$0 }
        case ">=": result = less(a, b).map { !$0 }
        default: result = nil
        }
        guard let r = result else {
            throw error(line, "'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
        }
        return r
    }

    /// Python's `item in container`.
    func contains(_ container: Value, _ item: Value, _ line: Int) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let sub) = item else {
                if case .undefined(let hint) = item { throw error(line, hint) }
                throw error(line, "'in <string>' requires string as left operand, not \(item.typeName)")
            }
            return sub.isEmpty
                || s.unicodeScalars.count >= sub.unicodeScalars.count && findScalars(s, sub, from: 0) != nil
        case .list(let a), .tuple(let a): return a.contains { pythonEqual($0, item) }
        case .dict(let d): return d.get(item) != nil
        case .undefined: return false
        case .namespace(let ns):
            if case .string(let k) = item { return ns.attributes[k] != nil }
            return false
        default: throw error(line, "argument of type '\(container.typeName)' is not iterable")
        }
    }
}

/// The index (in Unicode scalars) of `needle` in `haystack` at or after `from`.
func findScalars(_ haystack: String, _ needle: String, from: Int) -> Int? {
    let h = Array(haystack.unicodeScalars)
    let n = Array(needle.unicodeScalars)
    return findScalars(h, n, from: from)
}

func findScalars(_ h: [Unicode.Scalar], _ n: [Unicode.Scalar], from: Int) -> Int? {
    if n.isEmpty { return from <= h.count ? from : nil }
    guard h.count >= n.count, from <= h.count - n.count else { return nil }
    var i = max(0, from)
    while i <= h.count - n.count {
        if h[i] == n[0] {
            var ok = true
            for k in 1..<n.count where h[i + k] != n[k] {
                ok = false
                break
            }
            if ok { return i }
        }
        i += 1
    }
    return nil
}
