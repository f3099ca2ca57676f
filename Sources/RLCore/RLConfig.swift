// The algorithm settings of the RL core (estimator, KL, clipping, loss options) and their validation.
// Names follow docs/algorithms.md; every setting has a snake_case name used in errors.

/// How advantages are estimated from rewards (raw values are the names used by the specification).
public enum AdvantageEstimator: String, Sendable, CaseIterable, Codable {
    /// REINFORCE++: no group baseline, global advantage normalisation.
    case reinforce
    /// REINFORCE++-baseline: group-mean baseline, global advantage normalisation.
    case reinforceBaseline = "reinforce_baseline"
    /// RLOO: leave-one-out group baseline, no further normalisation.
    case rloo
    /// GRPO: group mean/std normalisation of the reward, no further normalisation.
    case groupNorm = "group_norm"
    /// Dr. GRPO: group-mean baseline without std division, no further normalisation.
    case drGRPO = "dr_grpo"
    /// PPO with a critic: GAE(γ, λ), global advantage normalisation.
    case gae

    /// True for the estimators that compare the samples of one prompt (they need n > 1 and γ = 1).
    public var usesGroupBaseline: Bool {
        switch self {
        case .reinforceBaseline, .rloo, .groupNorm, .drGRPO: return true
        case .reinforce, .gae: return false
        }
    }

    /// True for the estimators whose advantages are normalised over the whole rollout batch.
    public var normalisesGlobally: Bool {
        switch self {
        case .reinforce, .reinforceBaseline, .gae: return true
        case .rloo, .groupNorm, .drGRPO: return false
        }
    }

    /// True when the estimator needs critic values.
    public var needsCritic: Bool { self == .gae }
}

/// Per-token KL estimators of KL(π‖π_ref) with `d = logp - logp_ref`.
public enum KLEstimator: String, Sendable, CaseIterable, Codable {
    /// `d`
    case k1
    /// `d²/2`
    case k2
    /// `exp(-d) - 1 + d`
    case k3
}

/// Where the KL penalty to the reference policy goes.
public enum KLPlacement: String, Sendable, CaseIterable, Codable {
    /// `-β·kl` is added to every token reward (default); the loss carries no KL.
    case reward
    /// `β·KL` (k2 or k3 on the current log-probs) is a loss term; the reward carries no KL.
    case loss
}

/// Global advantage normalisation applied by `reinforce`, `reinforce_baseline` and `gae`.
public enum AdvantageNormalization: String, Sendable, CaseIterable, Codable {
    /// `(A - mean) / sqrt(max(var, 1e-8))` over all valid tokens of the rollout batch (default).
    case meanStd = "mean_std"
    /// `A - mean` only.
    case mean
    /// No normalisation.
    case none
}

/// How per-token losses are reduced to one number.
public enum LossAggregation: String, Sendable, CaseIterable, Codable {
    /// `Σ loss·m / Σ m` over the whole optimiser step (default).
    case tokenMean = "token_mean"
    /// Mean over sequences of each sequence's token mean.
    case sequenceMean = "seq_mean"
}

/// Off-policy correction for samples whose behaviour policy is older than the one that computed `logp_old`.
public enum OffPolicyCorrection: String, Sendable, CaseIterable, Codable {
    /// No correction (default).
    case none
    /// Truncated importance sampling: weight `clamp(w, lo, hi)`.
    case tis
    /// IcePop: weight `w·1[lo ≤ w ≤ hi]`.
    case icepop
}

/// A closed interval `[low, high]` that may be built from untrusted numbers (validated, never traps).
public struct ClipRange: Sendable, Equatable, Codable {
    /// Lower bound.
    public var low: Double
    /// Upper bound.
    public var high: Double

    /// Creates `[low, high]`; `RLConfig.validate()` checks `low ≤ high`.
    public init(_ low: Double, _ high: Double) {
        self.low = low
        self.high = high
    }

    /// Clamps `x` into the range.
    @inline(__always)
    public func clamp(_ x: Double) -> Double { Swift.min(Swift.max(x, low), high) }
}

/// Static reward normalisation stored with a reward model: `r ← (r - mean) / std`.
public struct RewardNormalization: Sendable, Equatable, Codable {
    /// Mean of the reward model's outputs.
    public var mean: Double
    /// Standard deviation of the reward model's outputs (> 0).
    public var std: Double

    /// Creates the normalisation.
    public init(mean: Double, std: Double) {
        self.mean = mean
        self.std = std
    }
}

/// Every algorithm setting of the RL core. Defaults are the specification's (REINFORCE++, β = 0.01, k1 in
/// the reward, ε = 0.2, reward and advantage clip 10, 4 samples per prompt).
public struct RLConfig: Sendable, Equatable {
    /// KL estimates are clamped to `[-klClamp, klClamp]`.
    public static let klClamp: Double = 10
    /// `logp_new - logp_old` is clamped to `[-ratioLogClamp, ratioLogClamp]` before `exp`.
    public static let ratioLogClamp: Double = 20
    /// Variance floor of the global advantage normalisation.
    public static let varianceFloor: Double = 1e-8
    /// Added to the group std by `group_norm`.
    public static let groupStdEpsilon: Double = 1e-9

    /// `advantage_estimator`.
    public var estimator: AdvantageEstimator = .reinforce
    /// `n_samples_per_prompt`: samples of one prompt are contiguous groups of this size.
    public var samplesPerPrompt: Int = 4
    /// `gamma`: discount (must be 1 for group estimators).
    public var gamma: Double = 1
    /// `lambda`: GAE λ (gae only).
    public var lambda: Double = 1
    /// `kl_coef` (β): the KL coefficient, initial value of the KL controller.
    public var klCoef: Double = 0.01
    /// `kl_estimator`.
    public var klEstimator: KLEstimator = .k1
    /// `kl_placement`: in the reward (default) or as a loss term.
    public var klPlacement: KLPlacement = .reward
    /// `kl_target`: when set, the KL coefficient is adapted (Ziegler et al.) towards this KL.
    public var klTarget: Double? = nil
    /// `kl_horizon`: horizon of the adaptive KL controller, in samples.
    public var klHorizon: Double = 10_000
    /// `reward_clip`: range the scalar reward is clipped to, after the group baseline.
    public var rewardClip = ClipRange(-10, 10)
    /// `reward_normalization`: optional static normalisation applied after the clip.
    public var rewardNormalization: RewardNormalization? = nil
    /// `normalize`: global advantage normalisation (reinforce, reinforce_baseline and gae only).
    public var advantageNormalization: AdvantageNormalization = .meanStd
    /// `advantage_clip`: every advantage is finally clamped to `[-advantageClip, advantageClip]`.
    public var advantageClip: Double = 10
    /// `eps_clip_low` (ε_low).
    public var epsLow: Double = 0.2
    /// `eps_clip_high` (ε_high).
    public var epsHigh: Double = 0.2
    /// `dual_clip` (c > 1); nil disables dual clipping.
    public var dualClip: Double? = nil
    /// `entropy_coef`: the loss subtracts `entropyCoef · entropy`.
    public var entropyCoef: Double = 0
    /// `loss_aggregation`.
    public var aggregation: LossAggregation = .tokenMean
    /// `value_clip`: critic value clipping; nil disables it.
    public var valueClip: Double? = 0.5
    /// `off_policy_correction`.
    public var offPolicy: OffPolicyCorrection = .none
    /// `off_policy_low` / `off_policy_high`: bounds of the off-policy weight.
    public var offPolicyRange = ClipRange(0.5, 5)

    /// The defaults of the specification.
    public init() {}

    /// The defaults with another estimator and group size.
    public init(estimator: AdvantageEstimator, samplesPerPrompt: Int) {
        self.estimator = estimator
        self.samplesPerPrompt = samplesPerPrompt
    }

    /// The KL coefficient in the token rewards: β with `klPlacement == .reward`, else 0.
    public func rewardKLCoef(_ beta: Double) -> Double { klPlacement == .reward ? beta : 0 }

    /// Checks every setting; the error names the setting and says what to change.
    public func validate() throws {
        func finite(_ x: Double, _ field: String) throws {
            guard x.isFinite else { throw RLConfigError(field: field, "is \(x); give a finite number") }
        }
        guard samplesPerPrompt >= 1 else {
            throw RLConfigError(field: "n_samples_per_prompt", "is \(samplesPerPrompt); it must be at least 1")
        }
        if estimator.usesGroupBaseline && samplesPerPrompt < 2 {
            throw RLConfigError(
                field: "n_samples_per_prompt",
                "is 1 but estimator \(estimator.rawValue) needs a group of samples per prompt: "
                    + "set n_samples_per_prompt to 2 or more, or use reinforce or gae")
        }
        try finite(gamma, "gamma")
        guard (0...1).contains(gamma) else { throw RLConfigError(field: "gamma", "is \(gamma); set it in [0, 1]") }
        if estimator.usesGroupBaseline && gamma != 1 {
            throw RLConfigError(
                field: "gamma",
                "is \(gamma) but estimator \(estimator.rawValue) is defined with gamma = 1: set gamma to 1")
        }
        try finite(lambda, "lambda")
        guard (0...1).contains(lambda) else { throw RLConfigError(field: "lambda", "is \(lambda); set it in [0, 1]") }
        try finite(klCoef, "kl_coef")
        guard klCoef >= 0 else { throw RLConfigError(field: "kl_coef", "is \(klCoef); it must not be negative") }
        if klPlacement == .loss && klEstimator == .k1 {
            throw RLConfigError(
                field: "kl_estimator",
                "is k1 but a KL loss term needs k2 or k3: set kl_estimator to k2 or k3, or kl_placement to reward")
        }
        if let target = klTarget {
            guard target.isFinite && target > 0 else {
                throw RLConfigError(field: "kl_target", "is \(target); it must be positive (or unset for a fixed β)")
            }
            guard klHorizon.isFinite && klHorizon > 0 else {
                throw RLConfigError(field: "kl_horizon", "is \(klHorizon); it must be positive")
            }
        }
        guard !rewardClip.low.isNaN, !rewardClip.high.isNaN, rewardClip.low <= rewardClip.high else {
            throw RLConfigError(
                field: "reward_clip",
                "is [\(rewardClip.low), \(rewardClip.high)]; the low bound must not exceed the high bound")
        }
        if let norm = rewardNormalization {
            try finite(norm.mean, "reward_normalization.mean")
            guard norm.std.isFinite && norm.std > 0 else {
                throw RLConfigError(field: "reward_normalization.std", "is \(norm.std); it must be positive")
            }
        }
        guard !advantageClip.isNaN && advantageClip > 0 else {
            throw RLConfigError(field: "advantage_clip", "is \(advantageClip); it must be positive")
        }
        try finite(epsLow, "eps_clip_low")
        guard epsLow >= 0 && epsLow < 1 else {
            throw RLConfigError(field: "eps_clip_low", "is \(epsLow); set it in [0, 1) so that 1 - eps stays positive")
        }
        try finite(epsHigh, "eps_clip_high")
        guard epsHigh >= 0 else {
            throw RLConfigError(field: "eps_clip_high", "is \(epsHigh); it must not be negative")
        }
        if let c = dualClip {
            guard c.isFinite && c > 1 else {
                throw RLConfigError(field: "dual_clip", "is \(c); it must be greater than 1 (or unset to disable)")
            }
        }
        try finite(entropyCoef, "entropy_coef")
        guard entropyCoef >= 0 else {
            throw RLConfigError(field: "entropy_coef", "is \(entropyCoef); it must not be negative")
        }
        if let c = valueClip {
            guard c.isFinite && c > 0 else {
                throw RLConfigError(field: "value_clip", "is \(c); it must be positive (or unset to disable)")
            }
        }
        let lo = offPolicyRange.low
        let hi = offPolicyRange.high
        guard lo.isFinite, hi.isFinite, lo >= 0, lo < hi else {
            throw RLConfigError(
                field: "off_policy_range",
                "is [\(lo), \(hi)]; it needs 0 ≤ low < high (defaults 0.5 and 5)")
        }
    }

    /// Checks that this configuration and a batch configuration agree (same group size, and the estimator's needs).
    public func validate(with batch: BatchConfig) throws {
        try validate()
        try batch.validate(for: estimator)
        guard batch.samplesPerPrompt == samplesPerPrompt else {
            throw RLConfigError(
                field: "n_samples_per_prompt",
                "is \(samplesPerPrompt) in the RL settings but \(batch.samplesPerPrompt) in the batch settings: use one value"
            )
        }
    }

    /// A KL controller for this configuration: adaptive when `klTarget` is set, else fixed at `klCoef`.
    public func makeKLController() -> any KLController {
        if let target = klTarget {
            return AdaptiveKLController(initial: klCoef, target: target, horizon: klHorizon)
        }
        return FixedKLController(value: klCoef)
    }
}
