// Greedy evaluation on held-out prompts: the learner decodes each prompt once at temperature 0 (in slots of
// at most `maxBatch` rows, the rest waiting for a slot), scores each response with the task's evaluation reward
// and keeps the first few prompts with their responses, so a run shows what the policy writes.
import Model
import Wire

/// One held-out prompt with the policy's greedy response and its reward.
public struct EvaluationSample: Sendable, Equatable {
    /// The prompt as text.
    public var prompt: String
    /// The greedy response as text, without its stop token.
    public var response: String
    /// The ground truth.
    public var label: String
    /// The evaluation reward.
    public var reward: Double
}

/// The outcome of one held-out evaluation.
public struct Evaluation: Sendable {
    /// Mean evaluation reward (the fraction correct for 0/1 rewards).
    public var accuracy: Double
    /// The first `samples` prompts of the set with their responses.
    public var samples: [EvaluationSample]
}

/// How held-out prompts are decoded.
public struct EvaluationSettings: Sendable {
    /// Response tokens allowed.
    public var maxNewTokens: Int
    /// Token ids that end a response.
    public var stopTokens: Set<Int32>
    /// Rows decoded at a time (0: all of a chunk).
    public var maxBatch: Int
    /// Prompts kept with their responses.
    public var samples: Int

    public init(maxNewTokens: Int, stopTokens: Set<Int32>, maxBatch: Int = 64, samples: Int = 4) {
        self.maxNewTokens = maxNewTokens
        self.stopTokens = stopTokens
        self.maxBatch = maxBatch
        self.samples = samples
    }
}

extension PromptTask {
    /// Greedy responses to `prompts`, scored with the task's evaluation reward.
    public func evaluate(_ model: Transformer, on prompts: [Prompt], settings s: EvaluationSettings) throws
        -> Evaluation
    {
        var total = 0.0
        var samples: [EvaluationSample] = []
        let chunk = 512
        for first in stride(from: 0, to: prompts.count, by: chunk) {
            let part = Array(prompts[first..<min(first + chunk, prompts.count)])
            let padded = LeftPadded(part.map(\.tokens))
            var responses = [[Int32]](repeating: [], count: part.count)
            let g = try model.generate(
                prompts: padded.rows,
                options: SamplingOptions(
                    temperature: 0, maxNewTokens: s.maxNewTokens, stopTokens: s.stopTokens,
                    maxBatch: s.maxBatch),
                starts: padded.starts,
                onToken: { row, token in
                    responses[row].append(token)
                    return !endsWithStopString(responses[row])
                })
            for (k, p) in part.enumerated() {
                let item = ScoreItem(promptTokens: p.tokens, responseTokens: g.tokens[k], answer: p.answer)
                let reward = evaluationReward(item)
                total += reward
                if first + k < s.samples {
                    let shown = Array(g.tokens[k].prefix { !s.stopTokens.contains($0) })
                    samples.append(
                        EvaluationSample(
                            prompt: text(p.tokens), response: text(shown),
                            label: p.answer, reward: reward))
                }
            }
        }
        return Evaluation(accuracy: prompts.isEmpty ? 0 : total / Double(prompts.count), samples: samples)
    }
}
