// Runs a syntax tree: statements write text, expressions evaluate to values. Scoping follows Jinja2: a loop
// iteration, a macro call and a `with` block get their own scope, so a `set` inside them does not reach out
// (a namespace() object is the way to carry a value out); `if` makes no scope.
import Foundation

/// A scope of variables; lookups fall back to the enclosing scope.
final class Scope {
    var variables: [String: Value] = [:]
    let parent: Scope?

    init(parent: Scope?, _ variables: [String: Value] = [:]) {
        self.parent = parent
        self.variables = variables
    }

    func lookup(_ name: String) -> Value? {
        var s: Scope? = self
        while let cur = s {
            if let v = cur.variables[name] { return v }
            s = cur.parent
        }
        return nil
    }
}

/// What a statement tells the enclosing loop.
enum Flow {
    case normal, breakLoop, continueLoop
}

/// Evaluates templates. One interpreter renders one request.
public final class Interpreter {
    var macroDepth = 0
    static let maxMacroDepth = 100
    static let maxOutput = 64 << 20
    let now: () -> Date

    init(now: @escaping () -> Date = Date.init) { self.now = now }

    func error(_ line: Int, _ message: String) -> TemplateError { TemplateError(.runtime, line: line, message) }

    /// Runs `nodes`, appending their text to `out`.
    func run(_ nodes: [Node], _ scope: Scope, _ out: inout String) throws -> Flow {
        for node in nodes {
            let flow = try run(node, scope, &out)
            if flow != .normal { return flow }
            if out.utf8.count > Self.maxOutput {
                throw error(node.line, "the rendered text passed \(Self.maxOutput >> 20) MiB")
            }
        }
        return .normal
    }

    func render(_ nodes: [Node], _ scope: Scope) throws -> String {
        var out = ""
        _ = try run(nodes, scope, &out)
        return out
    }

    private func run(_ node: Node, _ scope: Scope, _ out: inout String) throws -> Flow {
        switch node.kind {
        case .text(let s):
            out += s
        case .output(let e):
            let v = try eval(e, scope)
            out += v.text
        case .ifChain(let branches, let otherwise):
            for (test, body) in branches {
                if try eval(test, scope).isTruthy { return try run(body, scope, &out) }
            }
            return try run(otherwise, scope, &out)
        case .forLoop(let target, let iterable, let condition, let body, let otherwise):
            return try runFor(node.line, target, iterable, condition, body, otherwise, scope, &out)
        case .set(let target, let e):
            try assign(target, try eval(e, scope), scope, node.line)
        case .setBlock(let target, let filter, let body):
            var value = Value.string(try render(body, Scope(parent: scope)))
            if let filter { value = try eval(filter, scope, input: value) }
            try assign(target, value, scope, node.line)
        case .macro(let name, let parameters, let body):
            scope.variables[name] = .callable(makeMacro(name, parameters, body, scope))
        case .callBlock(let parameters, let call, let body):
            guard case .call(let callee, var args) = call.kind else { return .normal }
            let caller = makeMacro("caller", parameters, body, scope)
            args.keyword.append(("caller", Expr(node.line, .literal(.callable(caller)))))
            out += try eval(Expr(call.line, .call(callee, args)), scope).text
        case .filterBlock(let filter, let body):
            let text = try render(body, Scope(parent: scope))
            out += try eval(filter, scope, input: .string(text)).text
        case .with(let assignments, let body):
            let inner = Scope(parent: scope)
            for (target, e) in assignments { try assign(target, try eval(e, scope), inner, node.line) }
            return try run(body, inner, &out)
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        case .sequence(let nodes):
            return try run(nodes, scope, &out)
        }
        return .normal
    }

    private func runFor(
        _ line: Int, _ target: Target, _ iterable: Expr, _ condition: Expr?, _ body: [Node],
        _ otherwise: [Node], _ scope: Scope, _ out: inout String
    ) throws -> Flow {
        var items = try iterate(try eval(iterable, scope), line)
        if let condition {
            var kept: [Value] = []
            for item in items {
                let s = Scope(parent: scope)
                try assign(target, item, s, line)
                if try eval(condition, s).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty { return try run(otherwise, scope, &out) }
        for (i, item) in items.enumerated() {
            let s = Scope(parent: scope)
            s.variables["loop"] = loopObject(i, items)
            try assign(target, item, s, line)
            if try run(body, s, &out) == .breakLoop { break }
        }
        return .normal
    }

    private func loopObject(_ i: Int, _ items: [Value]) -> Value {
        let n = items.count
        var d = OrderedDict()
        d.set("index", .int(i + 1))
        d.set("index0", .int(i))
        d.set("revindex", .int(n - i))
        d.set("revindex0", .int(n - i - 1))
        d.set("first", .bool(i == 0))
        d.set("last", .bool(i == n - 1))
        d.set("length", .int(n))
        d.set("depth", .int(1))
        d.set("depth0", .int(0))
        d.set("previtem", i > 0 ? items[i - 1] : .undefined(hint: "there is no previous item"))
        d.set("nextitem", i + 1 < n ? items[i + 1] : .undefined(hint: "there is no next item"))
        d.set(
            "cycle",
            .callable(
                Callable("cycle") { args, _ in
                    guard !args.positional.isEmpty else { throw CallError("no items for cycling given") }
                    return args.positional[i % args.positional.count]
                }))
        return .dict(d)
    }

    /// The items a `for` loop walks: a list's items, a dict's keys, a string's characters.
    func iterate(_ v: Value, _ line: Int) throws -> [Value] {
        switch v {
        case .undefined: return []
        case .list(let a), .tuple(let a): return a
        case .dict(let d): return d.keys
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        default: throw error(line, "'\(v.typeName)' object is not iterable")
        }
    }

    func assign(_ target: Target, _ value: Value, _ scope: Scope, _ line: Int) throws {
        switch target {
        case .name(let name):
            scope.variables[name] = value
        case .namespaceAttribute(let name, let attribute):
            guard case .namespace(let ns)? = scope.lookup(name) else {
                throw error(line, "cannot assign attribute on non-namespace object")
            }
            ns.attributes.set(attribute, value)
        case .tuple(let targets):
            if case .undefined(let hint) = value { throw error(line, hint) }
            let items = try iterate(value, line)
            guard items.count == targets.count else {
                throw error(
                    line,
                    items.count > targets.count
                        ? "too many values to unpack (expected \(targets.count))"
                        : "not enough values to unpack (expected \(targets.count), got \(items.count))")
            }
            for (t, v) in zip(targets, items) { try assign(t, v, scope, line) }
        }
    }

    private func makeMacro(_ name: String, _ parameters: [Parameter], _ body: [Node], _ scope: Scope) -> Callable {
        Callable(name, isMacro: true) { [unowned self] args, _ in
            guard self.macroDepth < Self.maxMacroDepth else {
                throw CallError("macro '\(name)' recursed deeper than \(Self.maxMacroDepth) calls")
            }
            self.macroDepth += 1
            defer { self.macroDepth -= 1 }
            let s = Scope(parent: scope)
            var extraKeywords = OrderedDict()
            for (k, v) in args.keyword {
                if k == "caller" || parameters.contains(where: { $0.name == k }) {
                    s.variables[k] = v
                } else {
                    extraKeywords.set(k, v)
                }
            }
            for (i, p) in parameters.enumerated() {
                if i < args.positional.count {
                    if args.keyword.contains(where: { $0.0 == p.name }) {
                        throw CallError("macro '\(name)' got multiple values for argument '\(p.name)'")
                    }
                    s.variables[p.name] = args.positional[i]
                } else if s.variables[p.name] == nil {
                    if let d = p.defaultValue {
                        s.variables[p.name] = try self.eval(d, s)
                    } else {
                        s.variables[p.name] = .undefined(hint: "parameter '\(p.name)' was not provided")
                    }
                }
            }
            s.variables["varargs"] = .tuple(Array(args.positional.dropFirst(parameters.count)))
            s.variables["kwargs"] = .dict(extraKeywords)
            return .string(try self.render(body, s))
        }
    }
}

/// An error raised inside a filter, test, method or function; the interpreter adds the line.
struct CallError: Error {
    let message: String
    let raised: Bool

    init(_ message: String, raised: Bool = false) {
        self.message = message
        self.raised = raised
    }
}
