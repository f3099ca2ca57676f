import Foundation

/// The upper (and some lower) bounds of every numeric config value. Each is far above any sensible run and low
/// enough that no product, unit conversion (seconds to milliseconds in 32 bits) or allocation derived from
/// it can overflow or trap; a value outside gives a one-line `ConfigError` naming the key and the bound.
public enum Limits {
    /// `run.seed`: integers exact in a Double (2^53).
    public static let seed = 1 << 53
    /// Counts of iterations or steps (`run.iterations`, `eval.every`, `optim.warmup_steps`, ...).
    public static let count = 10_000_000
    /// `run.max_minutes`: one year.
    public static let minutes = 525_600.0
    /// Lengths in tokens (`data.max_prompt_tokens`, `sampling.max_new_tokens`).
    public static let tokens = 65_536
    /// `algorithm.samples_per_prompt`: the wire's limit on samples of one prompt in a work unit.
    public static let samplesPerPrompt = 4096
    /// Prompts (`algorithm.rollout_batch`, `eval.prompts`, `cluster.unit_prompts`).
    public static let prompts = 65_536
    /// Samples (`algorithm.train_batch`, `algorithm.micro_batch`, and rollout_batch × samples_per_prompt).
    public static let samples = 1 << 20
    /// `algorithm.epochs`.
    public static let epochs = 1000
    /// Coefficients and ratios (`kl.coef`, `algorithm.entropy_coef`, `sampling.temperature`, clip bounds, ...).
    public static let factor = 1000.0
    /// Magnitudes (`algorithm.reward_clip`, `algorithm.value_clip`, `optim.grad_clip`, `kl.target`).
    public static let magnitude = 1e9
    /// Token ids and `sampling.top_k`: the largest vocabulary a model config may declare (2^24).
    public static let vocabulary = 1 << 24
    /// `checkpoint.keep`.
    public static let checkpoints = 10_000
    /// Durations in seconds (`cluster.lease_seconds`, `heartbeat_seconds`, `request_timeout_seconds`): 1 ms to
    /// one day, so the milliseconds fit every 32-bit field and timer.
    static let seconds = Bound<Double>.closed(0.001, 86_400)
}
