// Expression evaluation: names, literals, attribute and item access, calls, operators.
import Foundation

extension Interpreter {
    /// Evaluates `e`; `input` is the value a filter chain with no left-hand side applies to.
    func eval(_ e: Expr, _ scope: Scope, input: Value? = nil) throws -> Value {
        switch e.kind {
        case .literal(let v): return v
        case .name(let n): return scope.lookup(n) ?? .missing(n)
        case .list(let items): return .list(try items.map { try eval($0, scope) })
        case .tuple(let items): return .tuple(try items.map { try eval($0, scope) })
        case .dict(let pairs):
            var d = OrderedDict()
            for (k, v) in pairs {
                let key = try eval(k, scope)
                guard d.set(key, try eval(v, scope)) else { throw error(k.line, "unhashable type: '\(key.typeName)'") }
            }
            return .dict(d)
        case .attribute(let obj, let name):
            return try getAttribute(try eval(obj, scope), name, e.line)
        case .item(let obj, let key):
            let o = try eval(obj, scope)
            if case .slice(let a, let b, let c) = key.kind {
                return try slice(
                    o, a.map { try eval($0, scope) }, b.map { try eval($0, scope) },
                    c.map { try eval($0, scope) }, e.line)
            }
            return try getItem(o, try eval(key, scope), e.line)
        case .slice:
            throw error(e.line, "a slice is only valid inside []")
        case .call(let callee, let args):
            let f = try eval(callee, scope)
            return try call(f, try arguments(args, scope), e.line)
        case .filter(let value, let name, let args):
            let v: Value = try value.map { try eval($0, scope, input: input) } ?? input ?? Value.none
            return try applyFilter(name, v, try arguments(args, scope), scope, e.line)
        case .test(let value, let name, let args):
            return .bool(try applyTest(name, try eval(value, scope), try arguments(args, scope), scope, e.line))
        case .negate(let x):
            switch try eval(x, scope) {
            case .int(let i): return .int(-i)
            case .bool(let b): return .int(b ? -1 : 0)
            case .double(let d): return .double(-d)
            case .undefined(let hint): throw error(e.line, hint)
            case let v: throw error(e.line, "bad operand type for unary -: '\(v.typeName)'")
            }
        case .plus(let x):
            switch try eval(x, scope) {
            case .int(let i): return .int(i)
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(d)
            case .undefined(let hint): throw error(e.line, hint)
            case let v: throw error(e.line, "bad operand type for unary +: '\(v.typeName)'")
            }
        case .not(let x): return .bool(!(try eval(x, scope).isTruthy))
        case .and(let a, let b):
            let l = try eval(a, scope)
            return l.isTruthy ? try eval(b, scope) : l
        case .or(let a, let b):
            let l = try eval(a, scope)
            return l.isTruthy ? l : try eval(b, scope)
        case .concat(let parts):
            return .string(try parts.map { try eval($0, scope).text }.joined())
        case .binary(let op, let a, let b):
            return try binary(op, try eval(a, scope), try eval(b, scope), e.line)
        case .compare(let first, let ops):
            var left = try eval(first, scope)
            for (op, rightExpr) in ops {
                let right = try eval(rightExpr, scope)
                if !(try compare(op, left, right, e.line)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let test, let then, let otherwise):
            if try eval(test, scope).isTruthy { return try eval(then, scope) }
            if let otherwise { return try eval(otherwise, scope) }
            return .undefined(
                hint: "the inline if-expression on line \(e.line) evaluated to false and no else section was defined.")
        }
    }

    func arguments(_ args: CallArgs, _ scope: Scope) throws -> Arguments {
        var out = Arguments()
        out.positional = try args.positional.map { try eval($0, scope) }
        if let star = args.starArgs { out.positional += try iterate(try eval(star, scope), star.line) }
        out.keyword = try args.keyword.map { ($0.0, try eval($0.1, scope)) }
        if let star = args.starKwargs {
            guard case .dict(let d) = try eval(star, scope) else {
                throw error(star.line, "** argument must be a mapping")
            }
            for (k, v) in d.items { out.keyword.append((k.text, v)) }
        }
        return out
    }

    func call(_ f: Value, _ args: Arguments, _ line: Int) throws -> Value {
        switch f {
        case .callable(let c):
            do {
                return try c.body(args, self)
            } catch let e as CallError {
                throw TemplateError(e.raised ? .raised : .runtime, line: line, e.message)
            }
        case .undefined(let hint): throw error(line, hint)
        default: throw error(line, "'\(f.typeName)' object is not callable")
        }
    }

    /// `obj.name`: a method or attribute of the object first, then an item of that name (as Jinja2's getattr).
    func getAttribute(_ obj: Value, _ name: String, _ line: Int) throws -> Value {
        if case .undefined(let hint) = obj { throw error(line, hint) }
        if let m = method(obj, name) { return m }
        switch obj {
        case .dict(let d):
            if let v = d[name] { return v }
        case .namespace(let ns):
            if let v = ns.attributes[name] { return v }
        default: break
        }
        return .undefined(hint: "\(ownerDescription(obj)) has no attribute '\(name)'")
    }

    /// `obj[key]`: an item first, then an attribute when the key is a string (as Jinja2's getitem).
    func getItem(_ obj: Value, _ key: Value, _ line: Int) throws -> Value {
        if case .undefined(let hint) = obj { throw error(line, hint) }
        switch obj {
        case .dict(let d):
            if let v = d.get(key) { return v }
        case .list(let a), .tuple(let a):
            if let i = intIndex(key) {
                let j = i < 0 ? i + a.count : i
                if j >= 0 && j < a.count { return a[j] }
            }
        case .string(let s):
            if let i = intIndex(key) {
                let u = Array(s.unicodeScalars)
                let j = i < 0 ? i + u.count : i
                if j >= 0 && j < u.count { return .string(String(u[j])) }
            }
        case .namespace(let ns):
            if case .string(let k) = key, let v = ns.attributes[k] { return v }
        default: break
        }
        if case .string(let name) = key {
            if let m = method(obj, name) { return m }
            return .undefined(hint: "\(ownerDescription(obj)) has no attribute '\(name)'")
        }
        return .undefined(hint: "\(ownerDescription(obj)) has no element \(key.repr)")
    }

    func intIndex(_ v: Value) -> Int? {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// How Jinja2 names an object in "has no attribute" messages.
    func ownerDescription(_ v: Value) -> String {
        if case .none = v { return "None" }
        return "'\(v.typeName) object'"
    }

    func slice(_ obj: Value, _ start: Value?, _ stop: Value?, _ step: Value?, _ line: Int) throws -> Value {
        func bound(_ v: Value?) throws -> Int? {
            guard let v else { return nil }
            if case .none = v { return nil }
            guard let i = intIndex(v) else {
                throw error(line, "slice indices must be integers or None or have an __index__ method")
            }
            return i
        }
        let st = try bound(step) ?? 1
        guard st != 0 else { throw error(line, "slice step cannot be zero") }
        func indices(_ n: Int) throws -> [Int] {
            var a = try bound(start)
            var b = try bound(stop)
            if st > 0 {
                a = a.map { $0 < 0 ? max(0, $0 + n) : min($0, n) } ?? 0
                b = b.map { $0 < 0 ? max(0, $0 + n) : min($0, n) } ?? n
                return Array(stride(from: a!, to: b!, by: st))
            } else {
                a = a.map { $0 < 0 ? max(-1, $0 + n) : min($0, n - 1) } ?? n - 1
                b = b.map { $0 < 0 ? max(-1, $0 + n) : min($0, n - 1) } ?? -1
                return Array(stride(from: a!, to: b!, by: st))
            }
        }
        switch obj {
        case .list(let a): return .list(try indices(a.count).map { a[$0] })
        case .tuple(let a): return .tuple(try indices(a.count).map { a[$0] })
        case .string(let s):
            let u = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(u.count) { out.append(u[i]) }
            return .string(String(out))
        case .undefined(let hint): throw error(line, hint)
        default:
            return .undefined(hint: "\(ownerDescription(obj)) has no element slice")
        }
    }
}
