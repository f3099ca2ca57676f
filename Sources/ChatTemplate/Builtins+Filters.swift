// Jinja2's filters as chat templates use them, with transformers' tojson (json.dumps, ensure_ascii off).
import Foundation

extension Interpreter {
    func applyFilter(_ name: String, _ v: Value, _ args: Arguments, _ scope: Scope, _ line: Int) throws -> Value {
        do {
            return try filter(name, v, args, scope, line)
        } catch let e as CallError {
            throw TemplateError(e.raised ? .raised : .runtime, line: line, e.message)
        } catch let e as JSONDumpError {
            throw TemplateError(.runtime, line: line, e.message)
        }
    }

    /// A value's str(), failing on an undefined value whose use is an error.
    private func str(_ v: Value) -> String { v.text }

    private func items(_ v: Value, _ line: Int) throws -> [Value] {
        switch v {
        case .undefined: return []
        case .list, .tuple, .dict, .string: return try iterate(v, line)
        default: throw CallError("'\(v.typeName)' object is not iterable")
        }
    }

    private func length(_ v: Value) throws -> Int {
        switch v {
        case .undefined: return 0
        case .string(let s): return s.unicodeScalars.count
        case .list(let a), .tuple(let a): return a.count
        case .dict(let d): return d.count
        case .namespace(let ns): return ns.attributes.count
        default: throw CallError("object of type '\(v.typeName)' has no len()")
        }
    }

    /// Jinja2's attribute getter: dotted parts, integer parts as indices.
    func attributePath(_ item: Value, _ attribute: Value, _ line: Int, default def: Value? = nil) throws -> Value {
        var parts: [Value]
        if case .string(let s) = attribute {
            parts = s.split(separator: ".", omittingEmptySubsequences: false).map { p in
                Int(p).map { .int($0) } ?? .string(String(p))
            }
        } else {
            parts = [attribute]
        }
        var cur = item
        for p in parts {
            cur = try getItem(cur, p, line)
            if let def, cur.isUndefined { cur = def }
        }
        return cur
    }

    private func lowerIfString(_ v: Value, _ caseSensitive: Bool) -> Value {
        if !caseSensitive, case .string(let s) = v { return .string(s.lowercased()) }
        return v
    }

    private func less(_ a: Value, _ b: Value) throws -> Bool {
        guard let r = pythonLess(a, b) else {
            throw CallError("'<' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
        }
        return r
    }

    private func sortByKey(_ items: [Value], reverse: Bool, key: (Value) throws -> Value) throws -> [Value] {
        let keyed = try items.map { (try key($0), $0) }
        let sorted = try stableSorted(keyed) { reverse ? try less($1.0, $0.0) : try less($0.0, $1.0) }
        return sorted.map(\.1)
    }

    private func filter(_ name: String, _ v: Value, _ args: Arguments, _ scope: Scope, _ line: Int) throws -> Value {
        func arg(_ i: Int, _ n: String) -> Value? { args.value(i, n) }
        func flag(_ i: Int, _ n: String) -> Bool { arg(i, n)?.isTruthy ?? false }
        func undefinedCheck() throws { if case .undefined(let hint) = v { throw CallError(hint) } }
        switch name {
        case "trim":
            let chars: String? = { if case .string(let c)? = arg(0, "chars") { return c } else { return nil } }()
            return .string(pythonStrip(str(v), chars, left: true, right: true))
        case "length", "count":
            return .int(try length(v))
        case "tojson":
            var style = JSONStyle()
            style.ensureASCII = flag(0, "ensure_ascii")
            if let ind = arg(1, "indent") {
                switch ind {
                case .none: break
                case .int(let n): style.indent = String(repeating: " ", count: max(0, n))
                case .string(let s): style.indent = s
                default: throw CallError("indent must be an int or a str")
                }
            }
            if style.indent != nil { style.itemSeparator = "," }
            if let sep = arg(2, "separators"), !sep.isUndefined {
                if case .none = sep {
                } else {
                    let seq = try iterate(sep, line)
                    guard seq.count == 2, case .string(let item) = seq[0], case .string(let key) = seq[1] else {
                        throw CallError("separators must be a pair of strings")
                    }
                    style.itemSeparator = item
                    style.keySeparator = key
                }
            }
            style.sortKeys = flag(3, "sort_keys")
            return .string(try jsonDump(v, style))
        case "join":
            var list = try items(v, line)
            if let a = arg(1, "attribute"), !(a.isUndefined) {
                if case .none = a {} else { list = try list.map { try attributePath($0, a, line) } }
            }
            return .string(list.map(str).joined(separator: str(arg(0, "d") ?? .string(""))))
        case "upper": return .string(str(v).uppercased())
        case "lower": return .string(str(v).lowercased())
        case "capitalize": return .string(pythonCapitalize(str(v)))
        case "title": return .string(jinjaTitle(str(v)))
        case "default", "d":
            if v.isUndefined || (flag(1, "boolean") && !v.isTruthy) { return arg(0, "default_value") ?? .string("") }
            return v
        case "first":
            if case .undefined = v { return .undefined(hint: "No first item, sequence was empty.") }
            return try items(v, line).first ?? .undefined(hint: "No first item, sequence was empty.")
        case "last":
            if case .undefined = v { return .undefined(hint: "No last item, sequence was empty.") }
            return try items(v, line).last ?? .undefined(hint: "No last item, sequence was empty.")
        case "list": return .list(try items(v, line))
        case "map":
            let list = try items(v, line)
            if args.positional.isEmpty, let attribute = args.keyword.first(where: { $0.0 == "attribute" })?.1 {
                let def = args.keyword.first { $0.0 == "default" }?.1
                return .list(
                    try list.map {
                        try attributePath(
                            $0, attribute, line,
                            default: def.flatMap { d in
                                if case .none = d { return nil } else { return d }
                            })
                    })
            }
            guard case .string(let f)? = args.positional.first else {
                throw CallError("map requires a filter argument")
            }
            let rest = Arguments(positional: Array(args.positional.dropFirst()), keyword: args.keyword)
            return .list(try list.map { try filter(f, $0, rest, scope, line) })
        case "select", "reject", "selectattr", "rejectattr":
            let list = try items(v, line)
            let byAttribute = name.hasSuffix("attr")
            var rest = args.positional
            var attribute: Value? = nil
            if byAttribute {
                guard !rest.isEmpty else { throw CallError("Missing parameter for attribute name") }
                attribute = rest.removeFirst()
            }
            let testName: String?
            if rest.isEmpty {
                testName = nil
            } else {
                testName = rest.removeFirst().text
            }
            let testArgs = Arguments(positional: rest, keyword: args.keyword)
            let keep = name.hasPrefix("select")
            var out: [Value] = []
            for item in list {
                let subject = try attribute.map { try attributePath(item, $0, line) } ?? item
                let passed = try testName.map { try test($0, subject, testArgs, scope, line) } ?? subject.isTruthy
                if passed == keep { out.append(item) }
            }
            return .list(out)
        case "replace":
            guard let old = arg(0, "old"), let new = arg(1, "new") else {
                throw CallError("replace() missing required arguments 'old' and 'new'")
            }
            var count = -1
            if let c = arg(2, "count") {
                if case .none = c {
                } else {
                    guard let n = intIndex(c) else {
                        throw CallError("'\(c.typeName)' object cannot be interpreted as an integer")
                    }
                    count = n
                }
            }
            try undefinedCheck()
            return .string(pythonReplace(str(v), str(old), str(new), count))
        case "items":
            switch v {
            case .undefined: return .list([])
            case .dict(let d): return .list(d.items.map { .tuple([$0.0, $0.1]) })
            default: throw CallError("Can only get item pairs from a mapping.")
            }
        case "dictsort":
            guard case .dict(let d) = v else { throw CallError("'\(v.typeName)' object has no attribute 'items'") }
            let caseSensitive = flag(0, "case_sensitive")
            let by = arg(1, "by")?.text ?? "key"
            guard by == "key" || by == "value" else {
                throw CallError("You can only sort by either \"key\" or \"value\"")
            }
            let pairs = d.items.map { Value.tuple([$0.0, $0.1]) }
            return .list(
                try sortByKey(pairs, reverse: flag(2, "reverse")) { p in
                    guard case .tuple(let kv) = p else { return p }
                    return lowerIfString(kv[by == "key" ? 0 : 1], caseSensitive)
                })
        case "sort":
            let list = try items(v, line)
            let caseSensitive = flag(1, "case_sensitive")
            let attribute = arg(2, "attribute")
            return .list(
                try sortByKey(list, reverse: flag(0, "reverse")) { item in
                    var k = item
                    if let attribute, !attribute.isUndefined {
                        if case .none = attribute {} else { k = try attributePath(item, attribute, line) }
                    }
                    return lowerIfString(k, caseSensitive)
                })
        case "unique":
            let list = try items(v, line)
            let caseSensitive = flag(0, "case_sensitive")
            let attribute = arg(1, "attribute")
            var seen: [Value] = []
            var out: [Value] = []
            for item in list {
                var k = item
                if let attribute, !attribute.isUndefined {
                    if case .none = attribute {} else { k = try attributePath(item, attribute, line) }
                }
                k = lowerIfString(k, caseSensitive)
                if !seen.contains(where: { pythonEqual($0, k) }) {
                    seen.append(k)
                    out.append(item)
                }
            }
            return .list(out)
        case "indent":
            var indent = "    "
            if let w = arg(0, "width") {
                switch w {
                case .string(let s): indent = s
                case .int(let n): indent = String(repeating: " ", count: max(0, n))
                case .bool(let b): indent = b ? " " : ""
                default: throw CallError("can't multiply sequence by non-int of type '\(w.typeName)'")
                }
            }
            let lines = pythonSplitLines(str(v) + "\n", keepEnds: false)
            var rv: String
            if flag(2, "blank") {
                rv = lines.joined(separator: "\n" + indent)
            } else {
                rv = lines.first ?? ""
                if lines.count > 1 {
                    rv += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indent + $0 }.joined(separator: "\n")
                }
            }
            if flag(1, "first") { rv = indent + rv }
            return .string(rv)
        case "int":
            let def = arg(0, "default") ?? .int(0)
            var base = 10
            if case .int(let b)? = arg(1, "base") { base = b }
            return toInt(v, base: base) ?? def
        case "float":
            return toFloat(v).map { .double($0) } ?? (arg(0, "default") ?? .double(0))
        case "string":
            return .string(str(v))
        case "safe":
            return v
        case "e", "escape", "forceescape":
            if case .string = v {} else if v.isUndefined { return .string("") }
            var out = ""
            for ch in str(v).unicodeScalars {
                switch ch {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&#34;"
                case "'": out += "&#39;"
                default: out.unicodeScalars.append(ch)
                }
            }
            return .string(out)
        case "abs":
            switch v {
            case .int(let i): return .int(abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            default: throw CallError("bad operand type for abs(): '\(v.typeName)'")
            }
        case "round":
            var precision = 0
            if let p = arg(0, "precision"), let n = intIndex(p) { precision = n }
            let method = arg(1, "method")?.text ?? "common"
            guard ["common", "ceil", "floor"].contains(method) else {
                throw CallError("method must be common, ceil or floor")
            }
            guard let n = Number(v) else { throw CallError("type \(v.typeName) doesn't define __round__ method") }
            if case .int(let i) = n, method == "common" { return .int(i) }
            let x = n.double
            if method == "common" {
                if precision == 0 { return .double(x.rounded(.toNearestOrEven)) }
                if precision > 0 { return .double(Double(String(format: "%.\(min(precision, 300))f", x)) ?? x) }
                let m = pow(10, Double(-precision))
                return .double((x / m).rounded(.toNearestOrEven) * m)
            }
            let m = pow(10, Double(precision))
            return .double((method == "ceil" ? (x * m).rounded(.up) : (x * m).rounded(.down)) / m)
        case "reverse":
            switch v {
            case .string(let s): return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed())))
            default: return .list(try items(v, line).reversed())
            }
        case "wordcount":
            var count = 0
            var inWord = false
            for u in str(v).unicodeScalars {
                let w = u == "_" || u.properties.isAlphabetic || u.properties.numericType != nil
                if w && !inWord { count += 1 }
                inWord = w
            }
            return .int(count)
        case "sum":
            var total = arg(1, "start") ?? .int(0)
            for item in try items(v, line) {
                var x = item
                if let a = arg(0, "attribute"), !a.isUndefined { x = try attributePath(item, a, line) }
                total = try binary("+", total, x, line)
            }
            return total
        case "min", "max":
            let list = try items(v, line)
            guard !list.isEmpty else { return .undefined(hint: "No aggregated item, sequence was empty.") }
            let caseSensitive = flag(0, "case_sensitive")
            let attribute = arg(1, "attribute")
            func key(_ item: Value) throws -> Value {
                var k = item
                if let attribute, !attribute.isUndefined { k = try attributePath(item, attribute, line) }
                return lowerIfString(k, caseSensitive)
            }
            var best = list[0]
            for item in list.dropFirst() {
                let better =
                    name == "min" ? try less(try key(item), try key(best)) : try less(try key(best), try key(item))
                if better { best = item }
            }
            return best
        case "attr":
            guard let n = arg(0, "name") else { throw CallError("attr() missing required argument 'name'") }
            // Jinja2's attr looks up a Python attribute only, never a dict item.
            if case .undefined(let hint) = v { throw CallError(hint) }
            if let m = method(v, n.text) { return m }
            if case .namespace(let ns) = v, let a = ns.attributes[n.text] { return a }
            return .undefined(hint: "\(ownerDescription(v)) has no attribute '\(n.text)'")
        case "center":
            let width = intIndex(arg(0, "width") ?? .int(80)) ?? 80
            let s = str(v)
            let n = s.unicodeScalars.count
            guard width > n else { return .string(s) }
            let total = width - n
            let left = total / 2 + (total & width & 1)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: total - left))
        default:
            throw CallError("unknown filter '\(name)'")
        }
    }
}
