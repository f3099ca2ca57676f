// Builds the syntax tree from tokens, with Jinja2's statement forms and operator precedence.

struct Parser {
    var tokens: [Token]
    var pos = 0
    var depth = 0
    private static let maxDepth = 200

    init(_ tokens: [Token]) { self.tokens = tokens }

    static func parse(_ source: String) throws -> [Node] {
        var p = Parser(try Lexer.tokenize(source))
        let nodes = try p.statements(until: [])
        return nodes
    }

    var current: Token { tokens[pos] }
    func look(_ n: Int = 1) -> Token { tokens[min(pos + n, tokens.count - 1)] }

    mutating func advance() -> Token {
        let t = tokens[pos]
        if pos < tokens.count - 1 { pos += 1 }
        return t
    }

    func fail(_ message: String, _ line: Int? = nil) -> TemplateError {
        TemplateError(.syntax, line: line ?? current.line, message)
    }

    func isOp(_ v: String) -> Bool { current.kind == .op && current.value == v }
    func isName(_ v: String) -> Bool { current.kind == .name && current.value == v }

    mutating func skipOp(_ v: String) -> Bool {
        if isOp(v) {
            _ = advance()
            return true
        }
        return false
    }

    mutating func skipName(_ v: String) -> Bool {
        if isName(v) {
            _ = advance()
            return true
        }
        return false
    }

    mutating func expectOp(_ v: String) throws {
        guard skipOp(v) else { throw fail("expected '\(v)', got \(describe(current))") }
    }

    mutating func expectName() throws -> String {
        guard current.kind == .name else { throw fail("expected a name, got \(describe(current))") }
        return advance().value
    }

    mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else { throw fail("expected end of statement block, got \(describe(current))") }
        _ = advance()
    }

    func describe(_ t: Token) -> String {
        switch t.kind {
        case .end: return "end of template"
        case .blockEnd: return "end of statement block"
        case .variableEnd: return "end of print statement"
        case .string: return "string"
        case .integer, .float: return "number \(t.value)"
        default: return "'\(t.value)'"
        }
    }

    // MARK: statements

    /// Statements until a block tag whose name is in `until`; leaves the stream on that name.
    mutating func statements(until: Set<String>) throws -> [Node] {
        var nodes: [Node] = []
        while true {
            let t = current
            switch t.kind {
            case .end:
                if !until.isEmpty {
                    let names = until.sorted().map { "'\($0)'" }.joined(separator: " or ")
                    throw fail("unexpected end of template; expected \(names)")
                }
                return nodes
            case .text:
                _ = advance()
                nodes.append(Node(t.line, .text(t.value)))
            case .variableBegin:
                _ = advance()
                let e = try tuple()
                guard current.kind == .variableEnd else {
                    throw fail("expected end of print statement, got \(describe(current))")
                }
                _ = advance()
                nodes.append(Node(t.line, .output(e)))
            case .blockBegin:
                _ = advance()
                if current.kind == .name, until.contains(current.value) { return nodes }
                if let n = try statement() { nodes.append(n) }
            default:
                throw fail("unexpected \(describe(t))")
            }
        }
    }

    /// The body of a block up to one of `ends`; consumes the end name, returns which one it was.
    mutating func body(_ ends: Set<String>) throws -> ([Node], String) {
        let nodes = try statements(until: ends)
        let name = advance().value
        return (nodes, name)
    }

    mutating func statement() throws -> Node? {
        let t = current
        guard t.kind == .name else { throw fail("tag name expected") }
        let line = t.line
        _ = advance()
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth { throw fail("blocks nested deeper than \(Self.maxDepth) levels") }
        switch t.value {
        case "if":
            var branches: [(Expr, [Node])] = []
            var otherwise: [Node] = []
            var test = try tuple(conditional: false)
            while true {
                try expectBlockEnd()
                let (nodes, end) = try body(["elif", "else", "endif"])
                branches.append((test, nodes))
                if end == "elif" {
                    test = try tuple(conditional: false)
                    continue
                }
                if end == "else" {
                    try expectBlockEnd()
                    otherwise = try body(["endif"]).0
                }
                break
            }
            try expectBlockEnd()
            return Node(line, .ifChain(branches, otherwise: otherwise))
        case "for":
            let target = try assignTarget(endNames: ["in"])
            guard skipName("in") else { throw fail("expected 'in' in the for loop") }
            let iterable = try tuple(conditional: false, endNames: ["recursive"])
            var condition: Expr? = nil
            if skipName("if") { condition = try expression() }
            if isName("recursive") { throw fail("recursive loops are not supported") }
            try expectBlockEnd()
            let (nodes, end) = try body(["endfor", "else"])
            var otherwise: [Node] = []
            if end == "else" {
                try expectBlockEnd()
                otherwise = try body(["endfor"]).0
            }
            try expectBlockEnd()
            return Node(
                line,
                .forLoop(
                    target: target, iterable: iterable, condition: condition, body: nodes,
                    otherwise: otherwise))
        case "set":
            let target = try assignTarget(namespace: true)
            if skipOp("=") {
                let value = try tuple()
                try expectBlockEnd()
                return Node(line, .set(target, value))
            }
            let filter = isOp("|") ? try filters(nil) : nil
            try expectBlockEnd()
            let nodes = try body(["endset"]).0
            try expectBlockEnd()
            return Node(line, .setBlock(target, filter: filter, body: nodes))
        case "macro":
            let name = try expectName()
            let parameters = try signature()
            try expectBlockEnd()
            let nodes = try body(["endmacro"]).0
            if current.kind == .name { _ = advance() }
            try expectBlockEnd()
            return Node(line, .macro(name: name, parameters: parameters, body: nodes))
        case "call":
            let parameters = isOp("(") ? try signature() : []
            let call = try expression()
            guard case .call = call.kind else { throw fail("expected a call after 'call'") }
            try expectBlockEnd()
            let nodes = try body(["endcall"]).0
            try expectBlockEnd()
            return Node(line, .callBlock(parameters: parameters, call: call, body: nodes))
        case "filter":
            let filter = try filters(nil, startInline: true)
            try expectBlockEnd()
            let nodes = try body(["endfilter"]).0
            try expectBlockEnd()
            return Node(line, .filterBlock(filter, body: nodes))
        case "with":
            var assignments: [(Target, Expr)] = []
            while current.kind != .blockEnd {
                if !assignments.isEmpty { try expectOp(",") }
                let target = try assignTarget()
                try expectOp("=")
                assignments.append((target, try expression()))
            }
            try expectBlockEnd()
            let nodes = try body(["endwith"]).0
            try expectBlockEnd()
            return Node(line, .with(assignments, body: nodes))
        case "generation":
            // transformers' tag marking assistant text; rendering it is rendering its body.
            try expectBlockEnd()
            let nodes = try body(["endgeneration"]).0
            try expectBlockEnd()
            return Node(line, .sequence(nodes))
        case "break", "continue":
            try expectBlockEnd()
            return Node(line, t.value == "break" ? .breakLoop : .continueLoop)
        case "block", "extends", "include", "import", "from":
            throw fail("'\(t.value)' is not supported in a chat template", line)
        default:
            throw fail("encountered unknown tag '\(t.value)'", line)
        }
    }

    mutating func signature() throws -> [Parameter] {
        try expectOp("(")
        var parameters: [Parameter] = []
        while !isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let name = try expectName()
            var def: Expr? = nil
            if skipOp("=") {
                def = try expression()
            } else if parameters.contains(where: { $0.defaultValue != nil }) {
                throw fail("non-default argument follows default argument")
            }
            parameters.append(Parameter(name: name, defaultValue: def))
        }
        try expectOp(")")
        return parameters
    }

    mutating func assignTarget(namespace: Bool = false, endNames: Set<String> = []) throws -> Target {
        var targets: [Target] = []
        var isTuple = false
        while true {
            if !targets.isEmpty {
                guard skipOp(",") else { break }
                isTuple = true
            }
            if current.kind == .name, endNames.contains(current.value) { break }
            if current.kind == .blockEnd || isOp("=") || isOp("|") { break }
            if skipOp("(") {
                targets.append(try assignTarget(endNames: endNames))
                try expectOp(")")
            } else {
                let name = try expectName()
                if namespace, isOp(".") {
                    _ = advance()
                    targets.append(.namespaceAttribute(name, try expectName()))
                } else {
                    targets.append(.name(name))
                }
            }
            if !isOp(",") { break }
        }
        guard !targets.isEmpty else { throw fail("can't assign to \(describe(current))") }
        if targets.count == 1 && !isTuple { return targets[0] }
        return .tuple(targets)
    }
}
