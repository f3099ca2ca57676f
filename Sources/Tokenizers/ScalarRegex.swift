// A backtracking regex engine over Unicode scalars for the patterns tokenizer files use (Oniguruma
// semantics: leftmost match, alternatives tried in order, greedy quantifiers, lookarounds).
//
// The pattern compiles to a flat program run by a small virtual machine with an explicit backtrack stack
// (entries of pc, position, aux). A greedy run over a single class (`\p{L}+`, `\s*`) is one instruction that
// consumes the whole run and leaves one retry entry that gives back one scalar at a time.

/// One instruction of a compiled regex.
enum RegexInst: Sendable {
    case scalar(UInt32)
    case scalarFold(UInt32)
    case cls(Int)
    case dot
    /// Greedy run of class `cls` of length min...max (max -1: unbounded); `possessive` keeps no retries.
    case classRun(cls: Int, min: Int, max: Int, possessive: Bool)
    /// Try `first`, on failure `second`.
    case split(Int, Int)
    case jump(Int)
    /// Run sub-program `index`: lookahead, lookbehind of fixed `width`, or an atomic group.
    case look(index: Int, ahead: Bool, negated: Bool, width: Int)
    case atomic(index: Int)
    case lineStart, lineEnd, textStart, textEnd, textEndBeforeNewline
    case wordBoundary(negated: Bool)
    case match
}

/// A compiled regex over Unicode scalars.
public struct ScalarRegex: Sendable {
    /// The source pattern.
    public let pattern: String
    let flavor: RegexFlavor
    var programs: [[RegexInst]] = []
    var classes: [ScalarClass] = []
    /// The BMP bitmaps of all classes, 1024 words each, in class order.
    var bitmaps: [UInt64] = []

    /// Compiles `pattern`; throws a `TokenizerError` naming the pattern for constructs outside the subset.
    public init(_ pattern: String, flavor: RegexFlavor = .oniguruma) throws {
        self.pattern = pattern
        self.flavor = flavor
        var parser = RegexParser(pattern: pattern, flavor: flavor)
        let tree = try parser.parse()
        programs.append([])
        var main: [RegexInst] = []
        try emit(tree, into: &main)
        main.append(.match)
        programs[0] = main
        bitmaps = classes.flatMap(\.bmp)
    }

    /// A regex matching `literal` exactly.
    public static func literal(_ literal: String) -> ScalarRegex {
        var escaped = ""
        for s in literal.unicodeScalars {
            if s.value < 128, !(s.properties.isAlphabetic || (s.value >= 48 && s.value <= 57)), s != " " {
                escaped += "\\"
            }
            escaped.unicodeScalars.append(s)
        }
        // An escaped literal only uses supported syntax.
        return try! ScalarRegex(escaped)
    }

    private func parserError(_ what: String) -> TokenizerError {
        TokenizerError("regex \"\(pattern)\": \(what)")
    }

    private mutating func addClass(_ c: ScalarClass) -> Int {
        classes.append(c)
        return classes.count - 1
    }

    private mutating func subProgram(_ node: RegexNode) throws -> Int {
        var code: [RegexInst] = []
        try emit(node, into: &code)
        code.append(.match)
        programs.append(code)
        return programs.count - 1
    }

    private mutating func emit(_ node: RegexNode, into code: inout [RegexInst]) throws {
        switch node {
        case .empty: break
        case .scalar(let v, let ci): code.append(ci ? .scalarFold(v) : .scalar(v))
        case .cls(let c): code.append(.cls(addClass(c)))
        case .dot: code.append(.dot)
        case .sequence(let items): for item in items { try emit(item, into: &code) }
        case .alternation(let branches):
            var jumps: [Int] = []
            for (i, branch) in branches.enumerated() {
                if i < branches.count - 1 {
                    let split = code.count
                    code.append(.split(split + 1, -1))
                    try emit(branch, into: &code)
                    jumps.append(code.count)
                    code.append(.jump(-1))
                    code[split] = .split(split + 1, code.count)
                } else {
                    try emit(branch, into: &code)
                }
            }
            for j in jumps { code[j] = .jump(code.count) }
        case .repetition(let body, let min, let max, let greedy, let possessive):
            try emitRepetition(body, min: min, max: max, greedy: greedy, possessive: possessive, into: &code)
        case .look(let body, let ahead, let negated):
            var width = 0
            if !ahead {
                guard let w = Self.fixedWidth(body) else {
                    throw parserError("lookbehind needs a fixed width")
                }
                width = w
            }
            code.append(.look(index: try subProgram(body), ahead: ahead, negated: negated, width: width))
        case .atomic(let body): code.append(.atomic(index: try subProgram(body)))
        case .lineStart: code.append(.lineStart)
        case .lineEnd: code.append(.lineEnd)
        case .textStart: code.append(.textStart)
        case .textEnd: code.append(.textEnd)
        case .textEndBeforeNewline: code.append(.textEndBeforeNewline)
        case .wordBoundary(let negated): code.append(.wordBoundary(negated: negated))
        }
    }

    private mutating func emitRepetition(
        _ body: RegexNode, min: Int, max: Int?, greedy: Bool, possessive: Bool,
        into code: inout [RegexInst]
    ) throws {
        if greedy, let cls = singleClass(body) {
            code.append(.classRun(cls: cls, min: min, max: max ?? -1, possessive: possessive))
            return
        }
        if possessive {
            code.append(
                .atomic(
                    index: try subProgram(
                        .repetition(body, min: min, max: max, greedy: true, possessive: false))))
            return
        }
        if max == nil && Self.canBeEmpty(body) {
            throw parserError("a repeated group that can match the empty string is not supported")
        }
        for _ in 0..<min { try emit(body, into: &code) }
        if let max {
            var splits: [Int] = []
            for _ in min..<max {
                splits.append(code.count)
                code.append(.split(-1, -1))
                try emit(body, into: &code)
            }
            for s in splits { code[s] = greedy ? .split(s + 1, code.count) : .split(code.count, s + 1) }
        } else {
            let loop = code.count
            code.append(.split(-1, -1))
            try emit(body, into: &code)
            code.append(.jump(loop))
            code[loop] = greedy ? .split(loop + 1, code.count) : .split(code.count, loop + 1)
        }
    }

    /// The class index when `node` matches exactly one scalar from a set (for run instructions).
    private mutating func singleClass(_ node: RegexNode) -> Int? {
        switch node {
        case .cls(let c): return addClass(c)
        case .scalar(let v, let ci):
            return addClass(ScalarClass(items: [.range(v, v)], negated: false, caseInsensitive: ci, flavor: flavor))
        case .dot:
            return addClass(ScalarClass(items: [.range(10, 10)], negated: true, caseInsensitive: false, flavor: flavor))
        default: return nil
        }
    }

    static func fixedWidth(_ node: RegexNode) -> Int? {
        switch node {
        case .empty, .look, .lineStart, .lineEnd, .textStart, .textEnd, .textEndBeforeNewline, .wordBoundary:
            return 0
        case .scalar, .cls, .dot: return 1
        case .sequence(let items):
            var total = 0
            for item in items {
                guard let w = fixedWidth(item) else { return nil }
                total += w
            }
            return total
        case .alternation(let branches):
            let widths = branches.map(fixedWidth)
            guard let first = widths.first ?? nil, widths.allSatisfy({ $0 == first }) else { return nil }
            return first
        case .repetition(let body, let min, let max, _, _):
            guard max == min, let w = fixedWidth(body) else { return nil }
            return w * min
        case .atomic(let body): return fixedWidth(body)
        }
    }

    static func canBeEmpty(_ node: RegexNode) -> Bool {
        switch node {
        case .scalar, .cls, .dot: return false
        case .sequence(let items): return items.allSatisfy(canBeEmpty)
        case .alternation(let branches): return branches.contains(where: canBeEmpty)
        case .repetition(let body, let min, _, _, _): return min == 0 || canBeEmpty(body)
        case .atomic(let body): return canBeEmpty(body)
        default: return true
        }
    }
}
