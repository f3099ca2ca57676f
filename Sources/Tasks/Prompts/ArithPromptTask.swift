// The character arithmetic toy as a learner task: fresh random problems every iteration (a function of the seed
// and the iteration), seeded validation and test splits never drawn for training, and the toy's exact-match rule
// (the answer's digits, then EOS) as the evaluation reward.
import Model
import Roles
import Wire

/// The arithmetic toy (`data.task: arith`).
public struct ArithPromptTask: PromptTask {
    let task: ArithTask
    let heldOut: Set<String>
    public let validation: [Prompt]
    public let test: [Prompt]
    public var stopTokens: [Int32] { [task.tokenizer.eosId] }

    /// The toy with `ops`, `heldOut` validation and test prompts each, split by `splitSeed`.
    public init(ops: [ArithOp], heldOut count: Int, splitSeed: UInt64 = 1) throws {
        task = ArithTask(ops: ops)
        let splits = task.splits(validation: count, test: count, seed: splitSeed)
        heldOut = Set((splits.validation + splits.test).map(\.prompt))
        let t = task
        func prompts(_ set: [ArithProblem], base: UInt64) throws -> [Prompt] {
            try set.enumerated().map { i, p in
                Prompt(id: base + UInt64(i), tokens: try t.promptTokens(p), answer: p.answer)
            }
        }
        validation = try prompts(splits.validation, base: 1 << 40)
        test = try prompts(splits.test, base: 2 << 40)
    }

    public var summary: String {
        "arith (\(task.ops.map(\.rawValue).joined(separator: " "))), \(validation.count) validation and \(test.count) "
            + "test prompts, exact answer then EOS"
    }

    public func prompts(iteration: Int, count: Int, seed: UInt64) throws -> [Prompt] {
        var rng = Xoshiro256(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(iteration))
        var out: [Prompt] = []
        while out.count < count {
            let p = task.draw(&rng)
            if heldOut.contains(p.prompt) { continue }
            out.append(
                Prompt(
                    id: UInt64(iteration) * 1_000_000 + UInt64(out.count), tokens: try task.promptTokens(p),
                    answer: p.answer))
        }
        return out
    }

    public func evaluationReward(_ item: ScoreItem) -> Double { Double(ArithExactMatch().reward(item)) }

    public func endsWithStopString(_ response: [Int32]) -> Bool { false }

    public func text(_ tokens: [Int32]) -> String { task.tokenizer.decode(tokens) }
}
