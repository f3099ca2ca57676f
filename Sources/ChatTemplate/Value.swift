// The values a chat template computes with, modelled on the Python objects Jinja2 hands around.
import Foundation

/// A template value. Strings index by Unicode scalar, as Python's `str` indexes by code point.
public enum Value: Sendable {
    /// A missing variable or attribute; `hint` is the message of the error raised when it is used.
    case undefined(hint: String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([Value])
    case tuple([Value])
    case dict(OrderedDict)
    case namespace(Namespace)
    case callable(Callable)

    /// An undefined value for a missing variable.
    static func missing(_ name: String) -> Value { .undefined(hint: "'\(name)' is undefined") }

    /// Python truthiness.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let a), .tuple(let a): return !a.isEmpty
        case .dict(let d): return d.count > 0
        case .namespace, .callable: return true
        }
    }

    var isUndefined: Bool { if case .undefined = self { return true } else { return false } }

    /// The Python type name used in error messages ("'dict object' has no attribute 'x'").
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .callable(let c): return c.isMacro ? "Macro" : "builtin_function_or_method"
        }
    }
}

/// A key of a dictionary, normalised as Python hashes them (True == 1 == 1.0).
enum DictKey: Hashable {
    case string(String)
    case int(Int)
    case double(Double)
    case none
    case tuple([DictKey])

    init?(_ v: Value) {
        switch v {
        case .string(let s): self = .string(s)
        case .int(let i): self = .int(i)
        case .bool(let b): self = .int(b ? 1 : 0)
        case .double(let d):
            if d == d.rounded(), abs(d) < 9e18 { self = .int(Int(d)) } else { self = .double(d) }
        case .none: self = .none
        case .tuple(let items):
            var keys: [DictKey] = []
            for item in items {
                guard let k = DictKey(item) else { return nil }
                keys.append(k)
            }
            self = .tuple(keys)
        default: return nil
        }
    }
}

/// A Python dict: insertion-ordered, keyed by hashable values.
public struct OrderedDict: Sendable {
    public private(set) var keys: [Value] = []
    public private(set) var values: [Value] = []
    private var index: [DictKey: Int] = [:]

    public init() {}

    public var count: Int { keys.count }

    /// Sets `key` to `value`, keeping the key's first position. Returns false for an unhashable key.
    @discardableResult
    public mutating func set(_ key: Value, _ value: Value) -> Bool {
        guard let k = DictKey(key) else { return false }
        if let i = index[k] {
            values[i] = value
        } else {
            index[k] = keys.count
            keys.append(key)
            values.append(value)
        }
        return true
    }

    public mutating func set(_ key: String, _ value: Value) { set(.string(key), value) }

    public func get(_ key: Value) -> Value? {
        guard let k = DictKey(key), let i = index[k] else { return nil }
        return values[i]
    }

    public subscript(_ key: String) -> Value? { self.get(.string(key)) }

    var items: [(Value, Value)] { Array(zip(keys, values)) }
}

/// The mutable object made by `namespace()`: the one way to carry a value out of a loop.
public final class Namespace: @unchecked Sendable {
    var attributes: OrderedDict

    init(_ attributes: OrderedDict) { self.attributes = attributes }
}

/// Arguments of a call: positional, then keyword in the order written.
struct Arguments {
    var positional: [Value] = []
    var keyword: [(String, Value)] = []

    /// The argument at `position` or named `name`, nil when neither was passed.
    func value(_ position: Int, _ name: String) -> Value? {
        if position < positional.count { return positional[position] }
        return keyword.first { $0.0 == name }?.1
    }
}

/// Something a template can call: a global function, a macro, a bound method.
public final class Callable: @unchecked Sendable {
    let name: String
    let isMacro: Bool
    let body: (Arguments, Interpreter) throws -> Value

    init(_ name: String, isMacro: Bool = false, body: @escaping (Arguments, Interpreter) throws -> Value) {
        self.name = name
        self.isMacro = isMacro
        self.body = body
    }
}
