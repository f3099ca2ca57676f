// The toy task of the update tests: a batch sampled from the policy itself, reward 1 for a response that
// contains token 5 (so a policy that learns puts more mass on it).
import Foundation
import Model
import RunKit
import Tasks
import Wire

@testable import Roles

/// Samples `prompts` × `n` responses (at most 4 tokens, temperature 1, seeded by `iteration`) with `model`.
func sampleBatch(_ model: Transformer, iteration: Int, prompts: Int = 16, n: Int = 4) throws -> RolloutBatch {
    let task = ArithTask()
    var rng = Xoshiro256(seed: UInt64(iteration))
    let problems = (0..<prompts).map { _ in task.draw(&rng) }
    let rows = try problems.flatMap { Array(repeating: try task.promptTokens($0), count: n) }
    let padded = LeftPadded(rows)
    let g = try model.generate(
        prompts: padded.rows,
        options: SamplingOptions(
            temperature: 1, maxNewTokens: 4, stopTokens: [1],
            seed: UInt64(iteration) &* 7919),
        starts: padded.starts)
    let items = (0..<rows.count).map { b in
        Experience(
            rollout: Rollout(
                unitID: 1, promptID: UInt64(b / n), sampleIndex: b % n, promptTokens: rows[b],
                responseTokens: g.tokens[b], behaviourLogprobs: g.logprobs[b],
                finishReason: g.finish[b] == .stop ? .stop : .length, policyVersion: 0, workerID: "w"),
            reward: g.tokens[b].contains(5) ? 1 : 0, refLogprobs: nil)
    }
    return RolloutBatch(iteration: UInt64(iteration), samplesPerPrompt: n, experiences: items)
}

/// The arithmetic toy as the learner's task for `config` (its ops and held-out size).
func toyTask(_ config: RunConfig) throws -> any PromptTask {
    try ArithPromptTask(ops: config.data.ops.compactMap(ArithOp.init(name:)), heldOut: config.eval.prompts)
}
