// The syntax tree of a template: statements that write text, and the expressions they evaluate.

/// An expression with the template line it starts on.
struct Expr {
    let line: Int
    let kind: Kind

    init(_ line: Int, _ kind: Kind) {
        self.line = line
        self.kind = kind
    }

    indirect enum Kind {
        case literal(Value)
        case name(String)
        case list([Expr])
        case tuple([Expr])
        case dict([(Expr, Expr)])
        case attribute(Expr, String)
        case item(Expr, Expr)
        case slice(Expr?, Expr?, Expr?)
        case call(Expr, CallArgs)
        /// `value | name(args)`; a nil value is the text of a filter block or block set.
        case filter(Expr?, String, CallArgs)
        case test(Expr, String, CallArgs)
        case negate(Expr)
        case plus(Expr)
        case not(Expr)
        case binary(String, Expr, Expr)
        case concat([Expr])
        case and(Expr, Expr)
        case or(Expr, Expr)
        case compare(Expr, [(String, Expr)])
        case conditional(test: Expr, then: Expr, otherwise: Expr?)
    }
}

/// The arguments written in a call, filter or test.
struct CallArgs {
    var positional: [Expr] = []
    var keyword: [(String, Expr)] = []
    var starArgs: Expr? = nil
    var starKwargs: Expr? = nil
}

/// What `set`, `for` and `with` assign to.
indirect enum Target {
    case name(String)
    case tuple([Target])
    case namespaceAttribute(String, String)
}

/// A macro's parameter and its default.
struct Parameter {
    let name: String
    let defaultValue: Expr?
}

/// A statement with its template line.
struct Node {
    let line: Int
    let kind: Kind

    init(_ line: Int, _ kind: Kind) {
        self.line = line
        self.kind = kind
    }

    indirect enum Kind {
        case text(String)
        case output(Expr)
        case ifChain([(Expr, [Node])], otherwise: [Node])
        case forLoop(target: Target, iterable: Expr, condition: Expr?, body: [Node], otherwise: [Node])
        case set(Target, Expr)
        case setBlock(Target, filter: Expr?, body: [Node])
        case macro(name: String, parameters: [Parameter], body: [Node])
        case callBlock(parameters: [Parameter], call: Expr, body: [Node])
        case filterBlock(Expr, body: [Node])
        case with([(Target, Expr)], body: [Node])
        case breakLoop
        case continueLoop
        case sequence([Node])
    }
}
