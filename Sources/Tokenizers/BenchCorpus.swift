/// A deterministic mixed corpus for tokenizer benchmarks: prose in several scripts, contractions, numbers,
/// code, emoji and whitespace runs, as lines of a few hundred bytes.
public struct BenchCorpus: Sendable {
    private static let words: [String] = [
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "reinforcement", "learning", "policy",
        "gradient", "reward", "model", "token", "sequence", "batch", "don't", "we'll", "they're", "it's", "I'm",
        "été", "déjà", "garçon", "Straße", "schön", "привет", "мир", "καλημέρα", "你好", "世界", "こんにちは",
        "안녕하세요", "مرحبا", "नमस्ते", "😀", "🚀", "👍🏽", "Hello", "World", "THE", "Answer", "question",
    ]
    private static let code: [String] = [
        "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }",
        "let xs = [1, 2, 3].map { $0 + 1 }", "if (a && b || !c) {\n\treturn;\n}",
    ]

    /// Lines totalling at least `bytes` UTF-8 bytes, the same for the same seed.
    public static func lines(bytes: Int, seed: UInt64 = 42) -> [String] {
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        func pick(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        var out: [String] = []
        var total = 0
        while total < bytes {
            var line = ""
            while line.utf8.count < 300 {
                switch pick(10) {
                case 0: line += code[pick(code.count)]
                case 1: line += " \(next() % 100_000) and \(Double(next() % 10_000) / 100)"
                case 2: line += ["  ", "\n", "\t", "   \n"][pick(4)]
                default:
                    line += (line.isEmpty ? "" : " ") + words[pick(words.count)]
                    if pick(8) == 0 { line += [".", ",", "!", "?"][pick(4)] }
                }
            }
            total += line.utf8.count
            out.append(line)
        }
        return out
    }
}
