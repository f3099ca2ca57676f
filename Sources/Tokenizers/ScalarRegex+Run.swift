// Running a compiled regex: the backtracking machine and leftmost search with Oniguruma's iteration rules.

extension ScalarRegex {
    /// All non-overlapping matches in `text`, left to right, as scalar offset ranges. An empty match right
    /// after the previous match is skipped (the search moves on by one scalar), as the tokenizers library
    /// iterates Oniguruma matches.
    public func matches(in text: [UInt32]) throws -> [Range<Int>] {
        try text.withUnsafeBufferPointer { try matches(in: $0) }
    }

    func matches(in text: UnsafeBufferPointer<UInt32>) throws -> [Range<Int>] {
        var found: [Range<Int>] = []
        var stack: [Int] = []
        stack.reserveCapacity(64)
        var from = 0
        var lastMatchEnd = -1
        while from <= text.count {
            guard let m = try search(text, from: from, stack: &stack) else { break }
            if m.isEmpty && m.lowerBound == lastMatchEnd {
                from = m.lowerBound + 1
                continue
            }
            found.append(m)
            from = m.upperBound
            lastMatchEnd = m.upperBound
        }
        return found
    }

    /// The leftmost match starting at or after `from`.
    func search(_ text: UnsafeBufferPointer<UInt32>, from: Int, stack: inout [Int]) throws -> Range<Int>? {
        var start = from
        while start <= text.count {
            var budget = 2000 * (text.count - start) + 100_000
            if let end = try run(0, text, at: start, stack: &stack, budget: &budget) { return start..<end }
            start += 1
        }
        return nil
    }

    /// Whether the whole of `text` is matched by the pattern anchored at its start, and where it ends.
    func prefixMatch(_ text: [UInt32]) throws -> Int? {
        try text.withUnsafeBufferPointer { buf in
            var stack: [Int] = []
            var budget = 2000 * buf.count + 100_000
            return try run(0, buf, at: 0, stack: &stack, budget: &budget)
        }
    }

    private func isWord(_ v: UInt32) -> Bool {
        flavor == .rust ? ScalarProps.isRustWord(v) : ScalarProps.isOnigWord(v)
    }

    /// Runs program `index` anchored at `start`; the end of the first match found, or nil.
    func run(
        _ index: Int, _ text: UnsafeBufferPointer<UInt32>, at start: Int, stack: inout [Int],
        budget: inout Int
    ) throws -> Int? {
        try programs[index].withUnsafeBufferPointer { code in
            try bitmaps.withUnsafeBufferPointer { bits in
                try run(code, bits, text, at: start, stack: &stack, budget: &budget)
            }
        }
    }

    private func run(
        _ code: UnsafeBufferPointer<RegexInst>, _ bits: UnsafeBufferPointer<UInt64>,
        _ text: UnsafeBufferPointer<UInt32>, at start: Int, stack: inout [Int],
        budget: inout Int
    ) throws -> Int? {
        @inline(__always) func inClass(_ i: Int, _ v: UInt32) -> Bool {
            if v < 65536 { return bits[i &* 1024 &+ Int(v >> 6)] & (1 << UInt64(v & 63)) != 0 }
            return classes[i].contains(v)
        }
        let base = stack.count
        let n = text.count
        var pc = 0
        var pos = start
        while true {
            budget -= 1
            if budget < 0 {
                throw TokenizerError("regex \"\(pattern)\": too much backtracking on this input")
            }
            var ok = true
            switch code[pc] {
            case .scalar(let v):
                if pos < n && text[pos] == v {
                    pos += 1
                    pc += 1
                } else {
                    ok = false
                }
            case .scalarFold(let v):
                if pos < n && ScalarProps.fold(text[pos]) == v {
                    pos += 1
                    pc += 1
                } else {
                    ok = false
                }
            case .cls(let i):
                if pos < n && inClass(i, text[pos]) {
                    pos += 1
                    pc += 1
                } else {
                    ok = false
                }
            case .dot:
                if pos < n && text[pos] != 10 {
                    pos += 1
                    pc += 1
                } else {
                    ok = false
                }
            case .classRun(let i, let min, let max, let possessive):
                let limit = max < 0 ? n - pos : Swift.min(max, n - pos)
                var k = 0
                while k < limit && inClass(i, text[pos + k]) { k += 1 }
                if k < min {
                    ok = false
                } else {
                    if !possessive && k > min {
                        stack.append(-(pc + 1))
                        stack.append(pos + k - 1)
                        stack.append(pos + min)
                    }
                    pos += k
                    pc += 1
                }
            case .split(let first, let second):
                stack.append(second)
                stack.append(pos)
                stack.append(0)
                pc = first
            case .jump(let target):
                pc = target
            case .look(let sub, let ahead, let negated, let width):
                var hit = false
                if ahead {
                    hit = try run(sub, text, at: pos, stack: &stack, budget: &budget) != nil
                } else if pos - width >= 0 {
                    hit = try run(sub, text, at: pos - width, stack: &stack, budget: &budget) == pos
                }
                if hit != negated { pc += 1 } else { ok = false }
            case .atomic(let sub):
                if let end = try run(sub, text, at: pos, stack: &stack, budget: &budget) {
                    pos = end
                    pc += 1
                } else {
                    ok = false
                }
            case .lineStart:
                if pos == 0 || text[pos - 1] == 10 { pc += 1 } else { ok = false }
            case .lineEnd:
                if pos == n || text[pos] == 10 { pc += 1 } else { ok = false }
            case .textStart:
                if pos == 0 { pc += 1 } else { ok = false }
            case .textEnd:
                if pos == n { pc += 1 } else { ok = false }
            case .textEndBeforeNewline:
                if pos == n || (pos == n - 1 && text[pos] == 10) { pc += 1 } else { ok = false }
            case .wordBoundary(let negated):
                let before = pos > 0 && isWord(text[pos - 1])
                let after = pos < n && isWord(text[pos])
                if (before != after) != negated { pc += 1 } else { ok = false }
            case .match:
                stack.removeSubrange(base...)
                return pos
            }
            if !ok {
                if stack.count == base { return nil }
                let aux = stack.removeLast()
                let p = stack.removeLast()
                let c = stack.removeLast()
                if c < 0 {
                    // Retry of a class run: give back one more scalar next time.
                    if p > aux {
                        stack.append(c)
                        stack.append(p - 1)
                        stack.append(aux)
                    }
                    pc = -c
                } else {
                    pc = c
                }
                pos = p
            }
        }
    }
}
