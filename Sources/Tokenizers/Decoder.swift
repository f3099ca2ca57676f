import Foundation

/// A tokenizer.json decoder: turns the token strings of ids back into text. Each step maps a list of
/// token strings (as scalars) to a new list; the text is their concatenation.
indirect enum Decoder: Sendable {
    case byteLevel
    case metaspace(replacement: UInt32, scheme: PrependScheme)
    case replace(ScalarRegex, [UInt32])
    case byteFallback
    case fuse
    case strip(content: UInt32, start: Int, stop: Int)
    case bpe(suffix: [UInt32])
    case sequence([Decoder])

    func decodeChain(_ tokens: [[UInt32]]) throws -> [[UInt32]] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                var mapped: [UInt8] = []
                mapped.reserveCapacity(token.count)
                var all = true
                for v in token {
                    guard let b = ByteLevelAlphabet.byte(of: v) else {
                        all = false
                        break
                    }
                    mapped.append(b)
                }
                if all { bytes += mapped } else { bytes += Self.utf8(token) }
            }
            return [String(decoding: bytes, as: UTF8.self).unicodeScalars.map(\.value)]
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { i, token in
                token.compactMap { v in
                    guard v == replacement else { return v }
                    return i == 0 && scheme != .never ? nil : 32
                }
            }
        case .replace(let regex, let content):
            return try tokens.map { token in
                let found = try regex.matches(in: token)
                if found.isEmpty { return token }
                var out: [UInt32] = []
                var last = 0
                for m in found {
                    out += token[last..<m.lowerBound]
                    out += content
                    last = m.upperBound
                }
                out += token[last...]
                return out
            }
        case .byteFallback:
            var out: [[UInt32]] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(bytes: pending, encoding: .utf8) {
                    out.append(s.unicodeScalars.map(\.value))
                } else {
                    for _ in pending { out.append([0xFFFD]) }
                }
                pending.removeAll()
            }
            for token in tokens {
                if let b = Self.byteToken(token) {
                    pending.append(b)
                } else {
                    flush()
                    out.append(token)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.flatMap { $0 }]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                var startCut = 0
                for (i, v) in token.prefix(start).enumerated() {
                    if v == content { startCut = i + 1 } else { break }
                }
                var stopCut = token.count
                for i in 0..<stop {
                    let index = token.count - i - 1
                    guard index >= 0, token[index] == content else { break }
                    stopCut = index
                }
                return startCut < stopCut ? Array(token[startCut..<stopCut]) : []
            }
        case .bpe(let suffix):
            return tokens.enumerated().map { i, token in
                let replacement: [UInt32] = i == tokens.count - 1 ? [] : [32]
                return Self.replaceAll(token, suffix, replacement)
            }
        case .sequence(let steps):
            var current = tokens
            for step in steps { current = try step.decodeChain(current) }
            return current
        }
    }

    /// `<0xAB>` -> 0xAB.
    static func byteToken(_ token: [UInt32]) -> UInt8? {
        guard token.count == 6, token[0] == 60, token[1] == 48, token[2] == 120, token[5] == 62 else { return nil }
        func hex(_ v: UInt32) -> UInt8? {
            switch v {
            case 48...57: return UInt8(v - 48)
            case 65...70: return UInt8(v - 55)
            case 97...102: return UInt8(v - 87)
            default: return nil
            }
        }
        guard let hi = hex(token[3]), let lo = hex(token[4]) else { return nil }
        return hi << 4 | lo
    }

    static func utf8(_ scalars: [UInt32]) -> [UInt8] {
        var out: [UInt8] = []
        for v in scalars {
            guard let s = Unicode.Scalar(v) else { continue }
            out += Array(String(Character(s)).utf8)
        }
        return out
    }

    static func replaceAll(_ token: [UInt32], _ pattern: [UInt32], _ with: [UInt32]) -> [UInt32] {
        guard !pattern.isEmpty, token.count >= pattern.count else { return token }
        var out: [UInt32] = []
        var i = 0
        while i < token.count {
            if i + pattern.count <= token.count && Array(token[i..<i + pattern.count]) == pattern {
                out += with
                i += pattern.count
            } else {
                out.append(token[i])
                i += 1
            }
        }
        return out
    }
}

/// A tokenizer.json post-processor, reduced to what it does to the ids of one sequence.
indirect enum PostProcessor: Sendable {
    /// TemplateProcessing's `single` template: special-token ids and the sequence, in order.
    case template([TemplateItem])
    /// ByteLevel only trims offsets: ids are unchanged.
    case byteLevel
    case bert(cls: Int32, sep: Int32)
    case roberta(cls: Int32, sep: Int32)
    case sequence([PostProcessor])

    enum TemplateItem: Sendable {
        case special([Int32])
        case sequence
    }

    func process(_ ids: [Int32]) -> [Int32] {
        switch self {
        case .template(let items):
            return items.flatMap { item -> [Int32] in
                switch item {
                case .special(let s): return s
                case .sequence: return ids
                }
            }
        case .byteLevel: return ids
        case .bert(let cls, let sep), .roberta(let cls, let sep): return [cls] + ids + [sep]
        case .sequence(let steps):
            var current = ids
            for step in steps { current = step.process(current) }
            return current
        }
    }
}
