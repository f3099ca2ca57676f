// The built-in arithmetic task: prompts such as "37+485=" with answer "522" then EOS, seeded
// validation and test splits, fresh training problems that never hit either split, and the
// left-padded / right-padded token layouts used by SFT and evaluation.
import Foundation
import Model

/// Operation of an arithmetic problem.
public enum ArithOp: String, Sendable, CaseIterable, Codable {
    case add = "+"
    case sub = "-"
    case mul = "*"

    /// Parses "add", "sub", "mul" (or the symbol).
    public init?(name: String) {
        switch name {
        case "add", "+": self = .add
        case "sub", "-": self = .sub
        case "mul", "*": self = .mul
        default: return nil
        }
    }
}

/// One problem: prompt text ("37+485=") and answer text ("522").
public struct ArithProblem: Sendable, Equatable, Codable {
    public var prompt: String
    public var answer: String

    /// A problem from its prompt and answer texts.
    public init(prompt: String, answer: String) {
        self.prompt = prompt
        self.answer = answer
    }
}

/// Problem generator and token layouts for the arithmetic task.
public struct ArithTask: Sendable {
    public let ops: [ArithOp]
    /// Operands are uniform in 0...maxOperand.
    public let maxOperand: Int
    /// Longest prompt in tokens (prompts are batched left-padded, the padding masked).
    public let promptWidth = 8
    public let tokenizer = CharTokenizer()

    public init(ops: [ArithOp] = [.add], maxOperand: Int = 999) {
        self.ops = ops.isEmpty ? [.add] : ops
        self.maxOperand = maxOperand
    }

    /// Longest answer in characters over the configured operations.
    public var maxAnswerLength: Int {
        ops.map { op -> Int in
            switch op {
            case .add: return String(2 * maxOperand).count
            case .sub: return String(-maxOperand).count
            case .mul: return String(maxOperand * maxOperand).count
            }
        }.max()!
    }

    /// A random problem.
    public func draw(_ rng: inout Xoshiro256) -> ArithProblem {
        let op = ops[Int(rng.next() % UInt64(ops.count))]
        let a = Int(rng.next() % UInt64(maxOperand + 1))
        let b = Int(rng.next() % UInt64(maxOperand + 1))
        let r: Int
        switch op {
        case .add: r = a + b
        case .sub: r = a - b
        case .mul: r = a * b
        }
        return ArithProblem(prompt: "\(a)\(op.rawValue)\(b)=", answer: String(r))
    }

    /// Validation and test splits of distinct prompts (disjoint from each other), seeded.
    public func splits(validation: Int, test: Int, seed: UInt64) -> (validation: [ArithProblem], test: [ArithProblem]) {
        var rng = Xoshiro256(seed: seed ^ 0x5EED_0F_5B11)
        var seen = Set<String>()
        func take(_ n: Int) -> [ArithProblem] {
            var out: [ArithProblem] = []
            while out.count < n {
                let p = draw(&rng)
                if seen.insert(p.prompt).inserted { out.append(p) }
            }
            return out
        }
        let v = take(validation)
        let t = take(test)
        return (v, t)
    }

    /// Prompt tokens (at most `promptWidth`, no padding).
    public func promptTokens(_ p: ArithProblem) throws -> [Int32] {
        let ids = try tokenizer.encode(p.prompt)
        guard ids.count <= promptWidth else {
            throw ModelError.invalidInput("prompt \(p.prompt) longer than \(promptWidth)")
        }
        return ids
    }

    /// Answer tokens followed by EOS.
    public func answerTokens(_ p: ArithProblem) throws -> [Int32] { try tokenizer.encode(p.answer) + [tokenizer.eosId] }

    /// SFT batch: inputs and targets [B, T] (T = promptWidth + maxAnswerLength), prompts left-padded to
    /// `promptWidth` with each row's padding length in `starts`, and per-token loss weights that are 1 on
    /// answer and EOS targets, 0 elsewhere.
    public func sftBatch(_ problems: [ArithProblem]) throws
        -> (inputs: [Int32], targets: [Int32], mask: [Float], starts: [Int], T: Int)
    {
        let full = promptWidth + maxAnswerLength + 1
        let T = full - 1
        var inputs: [Int32] = []
        var targets: [Int32] = []
        var mask: [Float] = []
        var starts: [Int] = []
        for p in problems {
            let ans = try answerTokens(p)
            let prompt = try promptTokens(p)
            var seq = [Int32](repeating: tokenizer.padId, count: promptWidth - prompt.count) + prompt + ans
            seq += [Int32](repeating: tokenizer.padId, count: full - seq.count)
            inputs += seq[0..<T]
            targets += seq[1...]
            starts.append(promptWidth - prompt.count)
            for t in 0..<T { mask.append(t >= promptWidth - 1 && t < promptWidth - 1 + ans.count ? 1 : 0) }
        }
        return (inputs, targets, mask, starts, T)
    }

    /// Exact-match accuracy of greedy decoding on `problems` (answer then EOS), in batches of `batch`.
    public func evaluate(_ model: Transformer, on problems: [ArithProblem], batch: Int = 512) throws -> Double {
        var correct = 0
        var i = 0
        while i < problems.count {
            let part = Array(problems[i..<min(i + batch, problems.count)])
            let padded = LeftPadded(try part.map(promptTokens), padId: tokenizer.padId)
            let g = try model.generate(
                prompts: padded.rows,
                options: SamplingOptions(
                    temperature: 0, maxNewTokens: maxAnswerLength + 1,
                    stopTokens: [tokenizer.eosId]), starts: padded.starts)
            for (k, p) in part.enumerated() where g.tokens[k] == (try answerTokens(p)) { correct += 1 }
            i += batch
        }
        return problems.isEmpty ? 0 : Double(correct) / Double(problems.count)
    }

    /// One JSON line {"prompt": ..., "answer": ...}.
    public static func jsonLine(_ p: ArithProblem) -> String {
        "{\"prompt\":\"\(p.prompt)\",\"answer\":\"\(p.answer)\"}"
    }
}
