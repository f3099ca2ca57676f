// Methods templates call on values: Python's str methods, dict.items/keys/values/get, list.index/count.
// Methods that would change a list or dict are refused, as in Jinja2's immutable sandbox.
import Foundation

extension Interpreter {
    /// The bound method `name` of `obj`, or an undefined value naming an unsafe one; nil when there is none.
    func method(_ obj: Value, _ name: String) -> Value? {
        switch obj {
        case .string(let s):
            guard let f = stringMethod(s, name) else { return nil }
            return .callable(Callable(name) { args, _ in try f(args) })
        case .dict(let d):
            if ["pop", "popitem", "update", "clear", "setdefault"].contains(name) {
                return .undefined(hint: "access to attribute '\(name)' of 'dict' object is unsafe.")
            }
            let f: ((Arguments) throws -> Value)?
            switch name {
            case "items": f = { _ in .list(d.items.map { .tuple([$0.0, $0.1]) }) }
            case "keys": f = { _ in .list(d.keys) }
            case "values": f = { _ in .list(d.values) }
            case "copy": f = { _ in .dict(d) }
            case "get":
                f = { args in
                    guard let key = args.value(0, "key") else {
                        throw CallError("get expected at least 1 argument, got 0")
                    }
                    return d.get(key) ?? args.value(1, "default") ?? Value.none
                }
            default: f = nil
            }
            return f.map { f in .callable(Callable(name) { args, _ in try f(args) }) }
        case .list(let a), .tuple(let a):
            if ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"].contains(name) {
                return .undefined(hint: "access to attribute '\(name)' of '\(obj.typeName)' object is unsafe.")
            }
            switch name {
            case "index":
                return .callable(
                    Callable(name) { args, _ in
                        guard let x = args.value(0, "value"), let i = a.firstIndex(where: { pythonEqual($0, x) }) else {
                            throw CallError("\(args.value(0, "value")?.repr ?? "value") is not in list")
                        }
                        return .int(i)
                    })
            case "count":
                return .callable(
                    Callable(name) { args, _ in
                        let x = args.value(0, "value") ?? Value.none
                        return .int(a.filter { pythonEqual($0, x) }.count)
                    })
            case "copy":
                return .callable(Callable(name) { _, _ in obj })
            default: return nil
            }
        default:
            return nil
        }
    }

    private func stringArgument(_ args: Arguments, _ i: Int, _ name: String, method: String) throws -> String? {
        guard let v = args.value(i, name) else { return nil }
        switch v {
        case .none: return nil
        case .string(let s): return s
        default: throw CallError("\(method) arg must be None or str")
        }
    }

    private func stringMethod(_ s: String, _ name: String) -> ((Arguments) throws -> Value)? {
        switch name {
        case "strip", "lstrip", "rstrip":
            return { args in
                let chars = try self.stringArgument(args, 0, "chars", method: name)
                return .string(pythonStrip(s, chars, left: name != "rstrip", right: name != "lstrip"))
            }
        case "split", "rsplit":
            return { args in
                let sep = try self.stringArgument(args, 0, "sep", method: name)
                var maxsplit = -1
                if let m = args.value(1, "maxsplit") {
                    guard case .int(let i) = m else {
                        throw CallError("'\(m.typeName)' object cannot be interpreted as an integer")
                    }
                    maxsplit = i
                }
                if sep == "" { throw CallError("empty separator") }
                let parts = name == "split" ? pythonSplit(s, sep, maxsplit) : pythonRSplit(s, sep, maxsplit)
                return .list(parts.map { .string($0) })
            }
        case "splitlines":
            return { args in
                .list(pythonSplitLines(s, keepEnds: args.value(0, "keepends")?.isTruthy ?? false).map { .string($0) })
            }
        case "startswith", "endswith":
            return { args in
                guard let p = args.value(0, "prefix") else {
                    throw CallError("\(name) takes at least 1 argument (0 given)")
                }
                let options: [Value]
                switch p {
                case .tuple(let a): options = a
                case .string: options = [p]
                default:
                    throw CallError("\(name) first arg must be str or a tuple of str, not \(p.typeName)")
                }
                let u = Array(s.unicodeScalars)
                for o in options {
                    guard case .string(let x) = o else { throw CallError("tuple for \(name) must only contain str") }
                    let v = Array(x.unicodeScalars)
                    if v.count <= u.count
                        && (name == "startswith" ? Array(u[..<v.count]) == v : Array(u[(u.count - v.count)...]) == v)
                    {
                        return .bool(true)
                    }
                }
                return .bool(false)
            }
        case "upper": return { _ in .string(s.uppercased()) }
        case "lower": return { _ in .string(s.lowercased()) }
        case "title": return { _ in .string(pythonTitle(s)) }
        case "capitalize": return { _ in .string(pythonCapitalize(s)) }
        case "swapcase":
            return { _ in
                .string(
                    s.unicodeScalars.map { u -> String in
                        u.properties.isUppercase
                            ? String(u).lowercased() : (u.properties.isLowercase ? String(u).uppercased() : String(u))
                    }.joined())
            }
        case "replace":
            return { args in
                guard case .string(let old)? = args.value(0, "old"), case .string(let new)? = args.value(1, "new")
                else {
                    throw CallError("replace() arguments must be str")
                }
                var count = -1
                if case .int(let c)? = args.value(2, "count") { count = c }
                return .string(pythonReplace(s, old, new, count))
            }
        case "find", "rfind", "index", "rindex", "count":
            return { args in
                guard case .string(let sub)? = args.value(0, "sub") else {
                    throw CallError("\(name)() argument must be str")
                }
                let h = Array(s.unicodeScalars)
                let n = Array(sub.unicodeScalars)
                var hits: [Int] = []
                var i = 0
                while let j = findScalars(h, n, from: i) {
                    hits.append(j)
                    if name == "find" || name == "index" { break }
                    i = j + max(1, name == "count" ? n.count : 1)
                    if i > h.count { break }
                }
                switch name {
                case "count": return .int(hits.count)
                case "find": return .int(hits.first ?? -1)
                case "rfind": return .int(hits.last ?? -1)
                default:
                    guard let j = (name == "index" ? hits.first : hits.last) else {
                        throw CallError("substring not found")
                    }
                    return .int(j)
                }
            }
        case "join":
            return { args in
                let items = try self.iterate(args.value(0, "iterable") ?? .list([]), 0)
                var parts: [String] = []
                for (i, item) in items.enumerated() {
                    guard case .string(let t) = item else {
                        throw CallError("sequence item \(i): expected str instance, \(item.typeName) found")
                    }
                    parts.append(t)
                }
                return .string(parts.joined(separator: s))
            }
        case "format":
            return { args in .string(try pythonFormat(s, args)) }
        case "isdigit", "isnumeric", "isdecimal":
            return { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil }) }
        case "isalpha":
            return { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic }) }
        case "isalnum":
            return { _ in
                .bool(
                    !s.isEmpty
                        && s.unicodeScalars.allSatisfy {
                            $0.properties.isAlphabetic || $0.properties.numericType != nil
                        })
            }
        case "isspace": return { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(isPythonSpace)) }
        case "isupper":
            return { _ in
                .bool(s.unicodeScalars.contains { $0.properties.isCased } && s.uppercased() == s && s.lowercased() != s)
            }
        case "islower":
            return { _ in
                .bool(s.unicodeScalars.contains { $0.properties.isCased } && s.lowercased() == s && s.uppercased() != s)
            }
        default: return nil
        }
    }
}

/// str.strip / lstrip / rstrip: whitespace, or any of `chars`.
func pythonStrip(_ s: String, _ chars: String?, left: Bool, right: Bool) -> String {
    var u = Array(s.unicodeScalars)
    let set = chars.map { Set($0.unicodeScalars) }
    let strip: (Unicode.Scalar) -> Bool = { set?.contains($0) ?? isPythonSpace($0) }
    if right { while let l = u.last, strip(l) { u.removeLast() } }
    if left {
        var i = 0
        while i < u.count, strip(u[i]) { i += 1 }
        u.removeFirst(i)
    }
    return String(String.UnicodeScalarView(u))
}

func pythonSplit(_ s: String, _ sep: String?, _ maxsplit: Int) -> [String] {
    let u = Array(s.unicodeScalars)
    var out: [String] = []
    let str: (ArraySlice<Unicode.Scalar>) -> String = { String(String.UnicodeScalarView($0)) }
    guard let sep else {
        var i = 0
        while true {
            while i < u.count, isPythonSpace(u[i]) { i += 1 }
            if i >= u.count { break }
            if maxsplit >= 0 && out.count == maxsplit {
                out.append(str(u[i...]))
                break
            }
            var j = i
            while j < u.count, !isPythonSpace(u[j]) { j += 1 }
            out.append(str(u[i..<j]))
            i = j
        }
        return out
    }
    let n = Array(sep.unicodeScalars)
    var start = 0
    while maxsplit < 0 || out.count < maxsplit, let j = findScalars(u, n, from: start) {
        out.append(str(u[start..<j]))
        start = j + n.count
    }
    out.append(str(u[start...]))
    return out
}

func pythonRSplit(_ s: String, _ sep: String?, _ maxsplit: Int) -> [String] {
    let rev: (String) -> String = { String(String.UnicodeScalarView($0.unicodeScalars.reversed())) }
    return pythonSplit(rev(s), sep.map(rev), maxsplit).reversed().map(rev)
}

func pythonSplitLines(_ s: String, keepEnds: Bool) -> [String] {
    let breaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
    let u = Array(s.unicodeScalars)
    var out: [String] = []
    var start = 0
    var i = 0
    while i < u.count {
        if breaks.contains(u[i].value) {
            var end = i + 1
            if u[i] == "\r", end < u.count, u[end] == "\n" { end += 1 }
            out.append(String(String.UnicodeScalarView(u[start..<(keepEnds ? end : i)])))
            start = end
            i = end
        } else {
            i += 1
        }
    }
    if start < u.count { out.append(String(String.UnicodeScalarView(u[start...]))) }
    return out
}

func pythonReplace(_ s: String, _ old: String, _ new: String, _ count: Int) -> String {
    let u = Array(s.unicodeScalars)
    let o = Array(old.unicodeScalars)
    var out = String.UnicodeScalarView()
    var done = 0
    if o.isEmpty {
        for (i, c) in u.enumerated() {
            if count < 0 || done < count {
                out.append(contentsOf: new.unicodeScalars)
                done += 1
            }
            out.append(c)
            _ = i
        }
        if count < 0 || done < count { out.append(contentsOf: new.unicodeScalars) }
        return String(out)
    }
    var i = 0
    while i < u.count {
        if count < 0 || done < count, let j = findScalars(u, o, from: i) {
            out.append(contentsOf: u[i..<j])
            out.append(contentsOf: new.unicodeScalars)
            i = j + o.count
            done += 1
        } else {
            out.append(contentsOf: u[i...])
            break
        }
    }
    return String(out)
}

/// str.title: a cased letter after a cased letter is lowered, any other is title-cased.
func pythonTitle(_ s: String) -> String {
    var out = ""
    var previousCased = false
    for u in s.unicodeScalars {
        out += previousCased ? u.properties.lowercaseMapping : u.properties.titlecaseMapping
        previousCased = u.properties.isCased
    }
    return out
}

/// str.capitalize: the first character title-cased, the rest lowered.
func pythonCapitalize(_ s: String) -> String {
    var out = ""
    for (i, u) in s.unicodeScalars.enumerated() {
        out += i == 0 ? u.properties.titlecaseMapping : u.properties.lowercaseMapping
    }
    return out
}

/// str.format with `{}`, `{0}` and `{name}` fields (no format specs or conversions).
func pythonFormat(_ s: String, _ args: Arguments) throws -> String {
    var out = ""
    var auto = 0
    let u = Array(s.unicodeScalars)
    var i = 0
    while i < u.count {
        let c = u[i]
        if c == "{" {
            if i + 1 < u.count, u[i + 1] == "{" {
                out += "{"
                i += 2
                continue
            }
            guard let close = u[i...].firstIndex(of: "}") else {
                throw CallError("Single '{' encountered in format string")
            }
            let field = String(String.UnicodeScalarView(u[(i + 1)..<close]))
            if field.contains(":") || field.contains("!") {
                throw CallError("format specs and conversions in str.format are not supported")
            }
            let value: Value?
            if field.isEmpty {
                value = auto < args.positional.count ? args.positional[auto] : nil
                auto += 1
            } else if let n = Int(field) {
                value = n < args.positional.count ? args.positional[n] : nil
            } else {
                value = args.keyword.first { $0.0 == field }?.1
            }
            guard let v = value else {
                throw CallError("Replacement index \(field.isEmpty ? String(auto - 1) : field) out of range")
            }
            out += v.text
            i = close + 1
        } else if c == "}" {
            if i + 1 < u.count, u[i + 1] == "}" {
                out += "}"
                i += 2
                continue
            }
            throw CallError("Single '}' encountered in format string")
        } else {
            out.unicodeScalars.append(c)
            i += 1
        }
    }
    return out
}

/// Python's str.isspace for one code point.
func isPythonSpace(_ u: Unicode.Scalar) -> Bool {
    switch u.value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
        return true
    default:
        return false
    }
}
