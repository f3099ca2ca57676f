// Expressions, loosest binding first: conditional, or, and, not, comparisons and `in`, + -, ~, * / // %,
// **, unary - +, then primaries with their subscripts, calls, filters and `is` tests.

extension Parser {
    mutating func enter() throws {
        depth += 1
        if depth > Self.maxDepthValue { throw fail("expression nested too deeply") }
    }

    static var maxDepthValue: Int { 200 }

    /// Expressions separated by commas make a tuple (`{{ a, b }}`, `set x = 1, 2`).
    mutating func tuple(conditional: Bool = true, endNames: Set<String> = [], parenthesized: Bool = false) throws
        -> Expr
    {
        let line = current.line
        var items: [Expr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if tupleEnds(endNames) { break }
            items.append(conditional ? try expression() : try orExpr())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let first = items.first { return first }
            if !parenthesized { throw fail("expected an expression, got \(describe(current))") }
        }
        return Expr(line, .tuple(items))
    }

    func tupleEnds(_ endNames: Set<String>) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .end: return true
        case .op: return current.value == ")"
        case .name: return endNames.contains(current.value)
        default: return false
        }
    }

    mutating func expression() throws -> Expr {
        try enter()
        defer { depth -= 1 }
        let line = current.line
        var e = try orExpr()
        while skipName("if") {
            let test = try orExpr()
            var otherwise: Expr? = nil
            if skipName("else") { otherwise = try expression() }
            e = Expr(line, .conditional(test: test, then: e, otherwise: otherwise))
        }
        return e
    }

    mutating func orExpr() throws -> Expr {
        var e = try andExpr()
        while isName("or") {
            let line = advance().line
            e = Expr(line, .or(e, try andExpr()))
        }
        return e
    }

    mutating func andExpr() throws -> Expr {
        var e = try notExpr()
        while isName("and") {
            let line = advance().line
            e = Expr(line, .and(e, try notExpr()))
        }
        return e
    }

    mutating func notExpr() throws -> Expr {
        if isName("not") {
            let line = advance().line
            try enter()
            defer { depth -= 1 }
            return Expr(line, .not(try notExpr()))
        }
        return try compare()
    }

    mutating func compare() throws -> Expr {
        let line = current.line
        let first = try additive()
        var ops: [(String, Expr)] = []
        while true {
            if current.kind == .op, ["==", "!=", "<", "<=", ">", ">="].contains(current.value) {
                let op = advance().value
                ops.append((op, try additive()))
            } else if skipName("in") {
                ops.append(("in", try additive()))
            } else if isName("not"), look().kind == .name, look().value == "in" {
                _ = advance()
                _ = advance()
                ops.append(("notin", try additive()))
            } else {
                break
            }
        }
        return ops.isEmpty ? first : Expr(line, .compare(first, ops))
    }

    mutating func additive() throws -> Expr {
        var e = try concat()
        while isOp("+") || isOp("-") {
            let t = advance()
            e = Expr(t.line, .binary(t.value, e, try concat()))
        }
        return e
    }

    mutating func concat() throws -> Expr {
        let line = current.line
        var parts = [try multiplicative()]
        while skipOp("~") { parts.append(try multiplicative()) }
        return parts.count == 1 ? parts[0] : Expr(line, .concat(parts))
    }

    mutating func multiplicative() throws -> Expr {
        var e = try power()
        while isOp("*") || isOp("/") || isOp("//") || isOp("%") {
            let t = advance()
            e = Expr(t.line, .binary(t.value, e, try power()))
        }
        return e
    }

    mutating func power() throws -> Expr {
        var e = try unary()
        while isOp("**") {
            let t = advance()
            e = Expr(t.line, .binary("**", e, try unary()))
        }
        return e
    }

    mutating func unary(withFilters: Bool = true) throws -> Expr {
        try enter()
        defer { depth -= 1 }
        let line = current.line
        var e: Expr
        if skipOp("-") {
            e = Expr(line, .negate(try unary(withFilters: false)))
        } else if skipOp("+") {
            e = Expr(line, .plus(try unary(withFilters: false)))
        } else {
            e = try primary()
        }
        e = try postfix(e)
        if withFilters { e = try filterTail(e) }
        return e
    }

    mutating func primary() throws -> Expr {
        let t = current
        switch t.kind {
        case .name:
            _ = advance()
            switch t.value {
            case "true", "True": return Expr(t.line, .literal(.bool(true)))
            case "false", "False": return Expr(t.line, .literal(.bool(false)))
            case "none", "None": return Expr(t.line, .literal(.none))
            default: return Expr(t.line, .name(t.value))
            }
        case .string:
            var s = advance().value
            while current.kind == .string { s += advance().value }
            return Expr(t.line, .literal(.string(s)))
        case .integer:
            _ = advance()
            guard let i = Int(t.value) else { throw fail("integer \(t.value) is too large", t.line) }
            return Expr(t.line, .literal(.int(i)))
        case .float:
            _ = advance()
            return Expr(t.line, .literal(.double(Double(t.value) ?? .infinity)))
        case .op where t.value == "(":
            _ = advance()
            let e = try tuple(parenthesized: true)
            try expectOp(")")
            return e
        case .op where t.value == "[":
            _ = advance()
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try expression())
            }
            try expectOp("]")
            return Expr(t.line, .list(items))
        case .op where t.value == "{":
            _ = advance()
            var pairs: [(Expr, Expr)] = []
            while !isOp("}") {
                if !pairs.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let k = try expression()
                try expectOp(":")
                pairs.append((k, try expression()))
            }
            try expectOp("}")
            return Expr(t.line, .dict(pairs))
        default:
            throw fail("unexpected \(describe(t))")
        }
    }

    mutating func postfix(_ start: Expr) throws -> Expr {
        var e = start
        while true {
            if isOp(".") {
                let line = advance().line
                let t = advance()
                if t.kind == .name {
                    e = Expr(line, .attribute(e, t.value))
                } else if t.kind == .integer, let i = Int(t.value) {
                    e = Expr(line, .item(e, Expr(t.line, .literal(.int(i)))))
                } else {
                    throw fail("expected name or number", t.line)
                }
            } else if isOp("[") {
                let line = advance().line
                var args: [Expr] = []
                while !isOp("]") {
                    if !args.isEmpty { try expectOp(",") }
                    args.append(try subscriptArgument())
                }
                try expectOp("]")
                guard !args.isEmpty else { throw fail("expected subscript expression", line) }
                e = Expr(line, .item(e, args.count == 1 ? args[0] : Expr(line, .tuple(args))))
            } else if isOp("(") {
                let line = current.line
                e = Expr(line, .call(e, try callArguments()))
            } else {
                return e
            }
        }
    }

    mutating func subscriptArgument() throws -> Expr {
        let line = current.line
        var parts: [Expr?] = []
        if skipOp(":") {
            parts = [nil]
        } else {
            let e = try expression()
            if !skipOp(":") { return e }
            parts = [e]
        }
        if isOp(":") || isOp("]") || isOp(",") { parts.append(nil) } else { parts.append(try expression()) }
        if skipOp(":") {
            if isOp("]") || isOp(",") { parts.append(nil) } else { parts.append(try expression()) }
        } else {
            parts.append(nil)
        }
        return Expr(line, .slice(parts[0], parts[1], parts[2]))
    }

    mutating func callArguments() throws -> CallArgs {
        try expectOp("(")
        var args = CallArgs()
        var needComma = false
        while !isOp(")") {
            if needComma {
                try expectOp(",")
                if isOp(")") { break }
            }
            if skipOp("*") {
                args.starArgs = try expression()
            } else if skipOp("**") {
                args.starKwargs = try expression()
            } else if current.kind == .name, look().kind == .op, look().value == "=" {
                let name = advance().value
                _ = advance()
                args.keyword.append((name, try expression()))
            } else {
                if !args.keyword.isEmpty || args.starArgs != nil || args.starKwargs != nil {
                    throw fail("invalid syntax for function call expression")
                }
                args.positional.append(try expression())
            }
            needComma = true
        }
        try expectOp(")")
        return args
    }

    /// Filters (`| name(args)`), tests (`is [not] name args`) and calls after a value.
    mutating func filterTail(_ start: Expr) throws -> Expr {
        var e = start
        while true {
            if isOp("|") {
                e = try filters(e)
            } else if isName("is") {
                let line = advance().line
                let negated = skipName("not")
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                var args = CallArgs()
                if isOp("(") {
                    args = try callArguments()
                } else if [.name, .string, .integer, .float].contains(current.kind)
                    || isOp("(") || isOp("[") || isOp("{"),
                    !(isName("else") || isName("or") || isName("and"))
                {
                    if isName("is") { throw fail("You cannot chain multiple tests with is") }
                    args.positional = [try postfix(try primary())]
                }
                e = Expr(line, .test(e, name, args))
                if negated { e = Expr(line, .not(e)) }
            } else if isOp("(") {
                let line = current.line
                e = Expr(line, .call(e, try callArguments()))
            } else {
                return e
            }
        }
    }

    /// A chain of filters `| a | b(x)`, applied to `value` (nil: the text of a block).
    mutating func filters(_ value: Expr?, startInline: Bool = false) throws -> Expr {
        var e = value
        var first = startInline
        while first || isOp("|") {
            if !first { _ = advance() }
            first = false
            let line = current.line
            var name = try expectName()
            while skipOp(".") { name += "." + (try expectName()) }
            let args = isOp("(") ? try callArguments() : CallArgs()
            e = Expr(line, .filter(e, name, args))
        }
        return e!
    }
}
