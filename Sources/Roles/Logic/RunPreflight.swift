// Checks a run's settings against the model and the wire before any process starts work. A value the
// model cannot serve (a response longer than its positions, a stop token outside its vocabulary) or the
// wire cannot carry (too many samples in one unit) would otherwise fail every work unit on the workers.
import Model
import RunKit
import Wire

/// The checks of a run config against the policy's architecture and the wire's limits.
public enum RunPreflight {
    /// Throws a `ConfigError` naming the first setting the model or the wire cannot serve.
    public static func check(_ config: RunConfig, policy: ModelConfig) throws(ConfigError) {
        let d = config.data
        let s = config.sampling
        let a = config.algorithm
        let c = config.cluster
        let positions = policy.maxPositionEmbeddings
        let vocab = policy.vocabSize
        let width = d.promptLimit(positions: positions, maxNewTokens: s.maxNewTokens)
        if width >= positions {
            throw ConfigError(
                key: "data.max_prompt_tokens",
                message: "\(width) leaves no room for a response: "
                    + "the model holds \(positions) positions (max_position_embeddings); use at most \(positions - 1)")
        }
        if width + s.maxNewTokens > positions {
            throw ConfigError(
                key: "sampling.max_new_tokens",
                message: "max_prompt_tokens \(width) + max_new_tokens "
                    + "\(s.maxNewTokens) = \(width + s.maxNewTokens) exceeds the model's \(positions) "
                    + "positions (max_position_embeddings); use at most \(positions - width)")
        }
        if s.maxNewTokens > WireLimits.maxSequenceTokens {
            throw ConfigError(
                key: "sampling.max_new_tokens",
                message: "\(s.maxNewTokens) is more than a frame carries "
                    + "(\(WireLimits.maxSequenceTokens) tokens)")
        }
        if let bad = (s.stopTokens ?? []).first(where: { $0 < 0 || $0 >= vocab }) {
            throw ConfigError(
                key: "sampling.stop_tokens",
                message: "token \(bad) is outside the model's vocabulary "
                    + "[0, \(vocab)) (vocab_size \(vocab))")
        }
        if a.samplesPerPrompt > WireLimits.maxSamplesPerPrompt {
            throw ConfigError(
                key: "algorithm.samples_per_prompt",
                message: "\(a.samplesPerPrompt) is more than a work "
                    + "unit carries (\(WireLimits.maxSamplesPerPrompt))")
        }
        // The same bound the learner's rollouts port receives with (an experience batch is one unit).
        let perUnit = min(c.unitPrompts, a.rolloutBatch).multipliedReportingOverflow(by: a.samplesPerPrompt)
        let bytes = FrameLimits.experienceBytes(samples: perUnit.partialValue, tokensPerSample: width + s.maxNewTokens)
        if perUnit.overflow || (bytes ?? .max) > WireLimits.maxPayloadBytes {
            throw ConfigError(
                key: "cluster.unit_prompts",
                message: "a work unit of \(c.unitPrompts) prompts × "
                    + "\(a.samplesPerPrompt) samples × \(width + s.maxNewTokens) tokens would not fit "
                    + "in one frame (\(WireLimits.maxPayloadBytes >> 20) MiB); use fewer prompts per unit")
        }
    }
}
