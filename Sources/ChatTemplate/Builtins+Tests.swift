// Jinja2's tests (`x is defined`, `x is divisibleby 3`, ...) and the globals transformers provides.
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Interpreter {
    func applyTest(_ name: String, _ v: Value, _ args: Arguments, _ scope: Scope, _ line: Int) throws -> Bool {
        do {
            return try test(name, v, args, scope, line)
        } catch let e as CallError {
            throw TemplateError(e.raised ? .raised : .runtime, line: line, e.message)
        }
    }

    func test(_ name: String, _ v: Value, _ args: Arguments, _ scope: Scope, _ line: Int) throws -> Bool {
        func other() throws -> Value {
            guard let o = args.value(0, name == "divisibleby" ? "num" : "other") else {
                throw CallError("test '\(name)' needs an argument")
            }
            return o
        }
        func ordered(_ op: String) throws -> Bool { try compare(op, v, try other(), line) }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": if case .none = v { return true } else { return false }
        case "boolean": if case .bool = v { return true } else { return false }
        case "true": if case .bool(true) = v { return true } else { return false }
        case "false": if case .bool(false) = v { return true } else { return false }
        case "integer": if case .int = v { return true } else { return false }
        case "float": if case .double = v { return true } else { return false }
        case "number": return Number(v) != nil
        case "string": if case .string = v { return true } else { return false }
        case "mapping": if case .dict = v { return true } else { return false }
        case "sequence":
            switch v {
            case .string, .list, .tuple, .dict, .undefined: return true
            default: return false
            }
        case "iterable":
            switch v {
            case .string, .list, .tuple, .dict, .undefined: return true
            default: return false
            }
        case "callable": if case .callable = v { return true } else { return false }
        case "odd", "even":
            guard let i = intIndex(v) else {
                if case .undefined(let hint) = v { throw CallError(hint) }
                throw CallError("unsupported operand type(s) for %: '\(v.typeName)' and 'int'")
            }
            return (i % 2 != 0) == (name == "odd")
        case "divisibleby":
            let r = try binary("%", v, try other(), line)
            return pythonEqual(r, .int(0))
        case "eq", "equalto", "==": return pythonEqual(v, try other())
        case "ne", "!=": return !pythonEqual(v, try other())
        case "lt", "lessthan", "<": return try ordered("<")
        case "le", "<=": return try ordered("<=")
        case "gt", "greaterthan", ">": return try ordered(">")
        case "ge", ">=": return try ordered(">=")
        case "in": return try contains(try other(), v, line)
        case "sameas":
            let o = try other()
            switch (v, o) {
            case (.none, .none), (.undefined, .undefined): return true
            case (.bool(let a), .bool(let b)): return a == b
            case (.namespace(let a), .namespace(let b)): return a === b
            case (.callable(let a), .callable(let b)): return a === b
            case (.int(let a), .int(let b)): return a == b && a >= -5 && a <= 256
            default: return false
            }
        case "lower":
            let s = v.text
            return s.unicodeScalars.contains { $0.properties.isCased } && s.lowercased() == s
        case "upper":
            let s = v.text
            return s.unicodeScalars.contains { $0.properties.isCased } && s.uppercased() == s
        case "escaped": return false
        case "filter": return Self.filterNames.contains(try other().text)
        case "test": return Self.testNames.contains(try other().text)
        default:
            throw CallError("unknown test '\(name)'")
        }
    }

    static let filterNames: Set<String> = [
        "trim", "length", "count", "tojson", "join", "upper", "lower", "capitalize", "title", "default", "d",
        "first", "last", "list", "map", "select", "reject", "selectattr", "rejectattr", "replace", "items",
        "dictsort", "sort", "unique", "indent", "int", "float", "string", "safe", "e", "escape", "forceescape",
        "abs", "round", "reverse", "wordcount", "sum", "min", "max", "attr", "center",
    ]

    static let testNames: Set<String> = [
        "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string",
        "mapping", "sequence", "iterable", "callable", "odd", "even", "divisibleby", "eq", "equalto", "==", "ne",
        "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "sameas", "lower",
        "upper", "escaped", "filter", "test",
    ]

    /// The global functions of transformers' environment: Jinja2's range, dict and namespace, and
    /// transformers' raise_exception and strftime_now.
    func globals() -> [String: Value] {
        var g: [String: Value] = [:]
        g["raise_exception"] = .callable(
            Callable("raise_exception") { args, _ in
                throw CallError(args.value(0, "message")?.text ?? "", raised: true)
            })
        g["strftime_now"] = .callable(
            Callable("strftime_now") { args, interpreter in
                guard let f = args.value(0, "format") else {
                    throw CallError("strftime_now() missing argument 'format'")
                }
                return .string(strftime(f.text, interpreter.now()))
            })
        g["namespace"] = .callable(
            Callable("namespace") { args, _ in
                var d = OrderedDict()
                if let first = args.positional.first {
                    guard case .dict(let initial) = first else { throw CallError("namespace() takes a mapping") }
                    d = initial
                }
                for (k, v) in args.keyword { d.set(k, v) }
                return .namespace(Namespace(d))
            })
        g["dict"] = .callable(
            Callable("dict") { args, _ in
                var d = OrderedDict()
                if case .dict(let initial)? = args.positional.first { d = initial }
                for (k, v) in args.keyword { d.set(k, v) }
                return .dict(d)
            })
        g["range"] = .callable(
            Callable("range") { args, _ in
                let ints = try args.positional.map { v -> Int in
                    switch v {
                    case .int(let i): return i
                    case .bool(let b): return b ? 1 : 0
                    default: throw CallError("'\(v.typeName)' object cannot be interpreted as an integer")
                    }
                }
                var start = 0
                var stop = 0
                var step = 1
                switch ints.count {
                case 1: stop = ints[0]
                case 2:
                    start = ints[0]
                    stop = ints[1]
                case 3:
                    start = ints[0]
                    stop = ints[1]
                    step = ints[2]
                default: throw CallError("range expected 1 to 3 arguments, got \(ints.count)")
                }
                guard step != 0 else { throw CallError("range() arg 3 must not be zero") }
                let values = Array(stride(from: start, to: stop, by: step))
                guard values.count <= 100_000 else {
                    throw CallError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).")
                }
                return .list(values.map { .int($0) })
            })
        return g
    }
}

/// C's strftime on local time, as Python's datetime.now().strftime calls it.
func strftime(_ format: String, _ date: Date) -> String {
    var t = time_t(date.timeIntervalSince1970.rounded(.down))
    var parts = tm()
    localtime_r(&t, &parts)
    var size = 256
    while size <= 1 << 16 {
        var buffer = [CChar](repeating: 0, count: size)
        let n = strftime(&buffer, size, format, &parts)
        if n > 0 || format.isEmpty {
            return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        size *= 4
    }
    return ""
}
