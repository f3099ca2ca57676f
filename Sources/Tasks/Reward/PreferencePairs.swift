// Preference pairs for the Bradley-Terry reward model: JSONL lines {"prompt", "chosen", "rejected"}, their
// token rows, and a generated preference set for the built-in arithmetic task (chosen = the correct
// answer, rejected = a wrong one: off by a small amount or with one digit changed).
//
// Token layout (the same as rollouts): the prompt left-padded with PAD to the task's prompt width, then
// the response text, then EOS. Response texts in the JSONL never contain EOS: every response is complete.
import Foundation
import Model
import Wire

/// A failure of the reward-model code, as one line naming what is wrong.
public struct RewardModelError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ message: String) { description = message }
}

/// One preference: for `prompt`, `chosen` is better than `rejected`.
public struct PreferencePair: Sendable, Equatable, Codable {
    public var prompt: String
    public var chosen: String
    public var rejected: String

    public init(prompt: String, chosen: String, rejected: String) {
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
    }

    /// Reads a JSONL file of pairs; a bad line is an error naming `path:line`.
    public static func read(path: String) throws(RewardModelError) -> [PreferencePair] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RewardModelError("cannot read preference file \(path)")
        }
        var pairs: [PreferencePair] = []
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated()
        {
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            do { pairs.append(try JSONDecoder().decode(PreferencePair.self, from: Data(text.utf8))) } catch {
                throw RewardModelError("\(path):\(i + 1): expected {\"prompt\", \"chosen\", \"rejected\"} strings")
            }
        }
        guard !pairs.isEmpty else { throw RewardModelError("\(path): no preference pairs") }
        return pairs
    }

    /// The pairs as JSONL text (one object per line, keys sorted).
    public static func jsonl(_ pairs: [PreferencePair]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return pairs.map { String(decoding: (try? encoder.encode($0)) ?? Data(), as: UTF8.self) + "\n" }.joined()
    }
}

/// Token rows of the reward model (see the file's documentation).
public struct RewardEncoder: Sendable {
    public let tokenizer: CharTokenizer
    /// Longest prompt in tokens (prompts are not padded: rows of a batch are right-padded, which never
    /// changes what a row's tokens compute).
    public let promptWidth: Int

    public init(tokenizer: CharTokenizer = CharTokenizer(), promptWidth: Int = ArithTask().promptWidth) {
        self.tokenizer = tokenizer
        self.promptWidth = promptWidth
    }

    /// Prompt tokens (at most `promptWidth`).
    public func prompt(_ text: String) throws(RewardModelError) -> [Int32] {
        let ids = try encode(text)
        guard ids.count <= promptWidth else {
            throw RewardModelError("prompt \"\(text)\" is \(ids.count) tokens, longer than \(promptWidth)")
        }
        return ids
    }

    /// prompt + response + EOS.
    public func row(prompt p: String, response: String) throws(RewardModelError) -> [Int32] {
        try prompt(p) + encode(response) + [tokenizer.eosId]
    }

    /// (chosen row, rejected row) of a pair.
    public func rows(_ pair: PreferencePair) throws(RewardModelError) -> (chosen: [Int32], rejected: [Int32]) {
        (try row(prompt: pair.prompt, response: pair.chosen), try row(prompt: pair.prompt, response: pair.rejected))
    }

    /// The row a reward request scores: prompt tokens then response tokens without trailing PAD.
    public static func row(_ item: ScoreItem, padId: Int32 = 0) -> [Int32] {
        var response = item.responseTokens[...]
        while let last = response.last, last == padId { response = response.dropLast() }
        return item.promptTokens + response
    }

    private func encode(_ text: String) throws(RewardModelError) -> [Int32] {
        do { return try tokenizer.encode(text) } catch { throw RewardModelError("\(error) in \"\(text)\"") }
    }
}

/// Generated preference pairs for the arithmetic task.
public enum ArithPreferences {
    /// `count` pairs on random problems whose prompts pass `accept`; seeded. Fewer when `accept` lets
    /// almost no prompt through (gives up after 1000 · count draws).
    public static func make(
        task: ArithTask, count: Int, seed: UInt64,
        accept: (String) -> Bool = { _ in true }
    ) -> [PreferencePair] {
        var rng = Xoshiro256(seed: seed &+ 0x9E37_79B9)
        var pairs: [PreferencePair] = []
        pairs.reserveCapacity(count)
        var draws = 0
        while pairs.count < count && draws < 1000 * max(count, 1) {
            let p = task.draw(&rng)
            draws += 1
            if !accept(p.prompt) { continue }
            pairs.append(PreferencePair(prompt: p.prompt, chosen: p.answer, rejected: wrongAnswer(p.answer, &rng)))
        }
        return pairs
    }

    /// Training and held-out pairs on disjoint prompts: a prompt is held out when its FNV-1a hash falls in
    /// the first `heldoutFraction` of the range (so the split holds for any operand range).
    public static func split(
        task: ArithTask, train: Int, heldout: Int, heldoutFraction: Double,
        seed: UInt64
    ) -> (train: [PreferencePair], heldout: [PreferencePair]) {
        func held(_ prompt: String) -> Bool {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in prompt.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            return Double(h % 1_000_000) < heldoutFraction * 1_000_000
        }
        return (
            make(task: task, count: train, seed: seed) { !held($0) },
            make(task: task, count: heldout, seed: seed &+ 1, accept: held)
        )
    }

    /// A wrong answer near `answer`: half the time off by 1...9 either way, otherwise one digit changed
    /// (never a leading zero). Always differs from `answer`, is a well-formed integer and is
    /// negative only when `answer` is.
    public static func wrongAnswer(_ answer: String, _ rng: inout Xoshiro256) -> String {
        guard let value = Int(answer) else { return answer + "0" }
        while true {
            let candidate: Int
            if rng.next() % 2 == 0 {
                let delta = Int(rng.next() % 9) + 1
                candidate = rng.next() % 2 == 0 ? value + delta : value - delta
            } else {
                var digits = Array(String(abs(value)))
                let i = Int(rng.next() % UInt64(digits.count))
                let lowest = (i == 0 && digits.count > 1) ? 1 : 0
                let d = Character(String(lowest + Int(rng.next() % UInt64(10 - lowest))))
                if d == digits[i] { continue }
                digits[i] = d
                candidate = (value < 0 ? -1 : 1) * Int(String(digits))!
            }
            if candidate != value && (candidate >= 0 || value < 0) { return String(candidate) }
        }
    }
}
