// What the learner needs of a task, and nothing more: training prompts as token ids (a function of the seed and
// the iteration, so a resumed run continues with the prompts the interrupted one would have used), held-out
// prompts, the evaluation's reward, and text for the samples it shows. Tasks (the arithmetic toy, datasets users
// bring, generated chat tasks) implement it elsewhere; the learner never sees their files, tokenizers or rules.
import Wire

/// The source of a run's prompts and the judge of its held-out evaluations.
public protocol PromptTask: Sendable {
    /// One line naming the task, its data and its evaluation, for the learner's start banner.
    var summary: String { get }
    /// Held-out prompts evaluated every `eval.every` iterations.
    var validation: [Prompt] { get }
    /// Held-out prompts evaluated once at the end.
    var test: [Prompt] { get }
    /// Token ids that end a response, from the model directory (generation_config.json, the chat template's
    /// end of turn) or the task's own tokenizer; `sampling.stop_tokens` overrides them.
    var stopTokens: [Int32] { get }
    /// The `count` training prompts of `iteration` (1-based). Equal arguments give equal prompts with equal ids.
    func prompts(iteration: Int, count: Int, seed: UInt64) throws -> [Prompt]
    /// The held-out reward of a greedy response (1 = correct for a verifiable task).
    func evaluationReward(_ item: ScoreItem) -> Double
    /// True when a response's tokens end with a stop string (`sampling.stop`); checked after every token.
    func endsWithStopString(_ response: [Int32]) -> Bool
    /// Readable text of prompt or response tokens, for the samples an evaluation writes.
    func text(_ tokens: [Int32]) -> String
}
