import Foundation
import Model
import RLCore
import Wire

// The sections hold the settings types their libraries own (RLCore's estimators, Model's precision, Wire's
// compression), so a config value and a library value are one and the same.

extension RunConfig {
    /// `run`: names the run and bounds its length.
    public struct RunSection: Sendable, Equatable {
        /// Run name; the run directory is `dir/name`.
        public var name = "arith-reinforce"
        /// Parent directory of run directories.
        public var dir = "runs"
        /// Seed for every random stream of the run.
        public var seed = 1
        /// Number of learner iterations (rollout, update).
        public var iterations = 150
        /// Wall-clock limit in minutes; 0 means no limit.
        public var maxMinutes = 12.0
        /// The defaults.
        public init() {}
    }

    /// `model`: checkpoints the run starts from.
    public struct ModelSection: Sendable, Equatable {
        /// Starting policy checkpoint directory.
        public var initPath = "runs/sft"
        /// Frozen reference checkpoint for KL; defaults to `initPath`.
        public var reference = "runs/sft"
        /// PPO critic start; nil means the policy init with a scalar head.
        public var criticInit: String? = nil
        /// Precision of the matrix products of every role unless one of the three below says otherwise
        /// (`bf16`: bfloat16 operands, float32 accumulation).
        public var precision = ModelPrecision.fp32
        /// Precision of the learner (and its critic), the reference server and the rollout workers.
        public var learnerPrecision = ModelPrecision.fp32, referencePrecision = ModelPrecision.fp32,
            rolloutPrecision = ModelPrecision.fp32
        /// The defaults.
        public init() {}
    }

    /// `data`: where prompts come from.
    public struct DataSection: Sendable, Equatable {
        /// Prompt source: the character arithmetic toy, generated chat arithmetic questions (real models), or
        /// dataset files.
        public enum Task: String, Sendable, CaseIterable {
            case arith
            case chatArith = "chat_arith"
            case dataset
        }
        /// What a prompt longer than `max_prompt_tokens` does (the tasks' prompt-length limit applies it).
        public enum LongPrompts: String, Sendable, CaseIterable {
            /// Leave them out and count them.
            case drop
            /// Refuse the dataset, naming the first one.
            case error
        }
        /// Prompt source.
        public var task = Task.arith
        /// Dataset files, JSONL or a JSON list (train is required for `dataset`).
        public var train: String? = nil, validation: String? = nil, test: String? = nil
        /// The key of each example's input: a string, or a list of chat messages.
        public var inputKey = "prompt"
        /// The key of each example's ground truth.
        public var labelKey = "answer"
        /// Render inputs with the model's chat template.
        public var applyChatTemplate = false
        /// A system message put before each input (with `apply_chat_template`).
        public var systemPrompt: String? = nil
        /// Longest prompt in tokens; nil = the model's positions less `sampling.max_new_tokens`.
        public var maxPromptTokens: Int? = nil
        /// Whether longer prompts are dropped (and counted) or refused.
        public var longPrompts = LongPrompts.drop
        /// Held-out fraction of `train` when no validation file is given (0 = none).
        public var heldoutFraction = 0.0
        /// Arithmetic operations for the arith and chat_arith tasks.
        public var ops = ["add"]
        /// Operand range of chat_arith, inclusive.
        public var operands = [10, 49]
        /// The defaults.
        public init() {}
    }

    /// `algorithm`: the policy-gradient estimator and its knobs.
    public struct AlgorithmSection: Sendable, Equatable {
        /// The advantage estimator (`estimator`, OpenRLHF's names: reinforce, reinforce_baseline, rloo,
        /// group_norm, dr_grpo, gae).
        public var estimator = AdvantageEstimator.reinforce
        /// Samples drawn per prompt.
        public var samplesPerPrompt = 4
        /// Prompts per iteration.
        public var rolloutBatch = 128
        /// Samples per optimizer step.
        public var trainBatch = 256
        /// Samples per forward/backward pass (gradient accumulation).
        public var microBatch = 256
        /// Passes over each rollout batch.
        public var epochs = 1
        /// Discount.
        public var gamma = 1.0
        /// GAE lambda (gae only).
        public var lambda = 0.95
        /// Lower and upper ratio clip.
        public var epsClipLow = 0.2, epsClipHigh = 0.2
        /// Dual-clip bound (> 1) for negative advantages; nil = off.
        public var dualClip: Double? = nil
        /// Batch advantage normalization (`advantage_normalization`).
        public var advantageNormalization = AdvantageNormalization.meanStd
        /// Rewards are clipped to [low, high].
        public var rewardClip = [-10.0, 10.0]
        /// Entropy bonus coefficient (`entropy_coef`, >= 0).
        public var entropyCoef = 0.0
        /// Policy versions a rollout may lag behind; 0 = exactly on-policy.
        public var maxStaleness = 0
        /// Correction for stale rollouts (`off_policy_correction`).
        public var offPolicyCorrection = OffPolicyCorrection.none
        /// Critic value clip (gae); 0 = off.
        public var valueClip = 0.5
        /// Critic learning rate; nil = `optim.lr`.
        public var criticLR: Double? = nil
        /// The defaults.
        public init() {}
    }

    /// `kl`: the penalty towards the reference model.
    public struct KLSection: Sendable, Equatable {
        /// Fixed coefficient or adaptive controller.
        public enum Controller: String, Sendable, CaseIterable { case fixed, adaptive }
        /// KL penalty coefficient (>= 0; the adaptive controller's start value).
        public var coef = 0.01
        /// Per-token KL estimator.
        public var estimator = KLEstimator.k1
        /// Where the penalty enters: the reward or the loss.
        public var placement = KLPlacement.reward
        /// Fixed or adaptive coefficient.
        public var controller = Controller.fixed
        /// Target KL (adaptive).
        public var target = 6.0
        /// Horizon in samples (adaptive).
        public var horizon = 10000
        /// The defaults.
        public init() {}
    }

    /// `optim`: AdamW and the learning-rate schedule.
    public struct OptimSection: Sendable, Equatable {
        /// Learning-rate schedule after warmup.
        public enum Schedule: String, Sendable, CaseIterable { case constant, cosine }
        /// Learning rate, in (0, 1).
        public var lr = 1e-4
        /// AdamW betas, two values in [0, 1).
        public var betas = [0.9, 0.95]
        /// AdamW weight decay.
        public var weightDecay = 0.0
        /// Global gradient-norm clip; 0 = off.
        public var gradClip = 1.0
        /// Linear warmup in optimizer steps.
        public var warmupSteps = 0
        /// Schedule after warmup.
        public var schedule = Schedule.constant
        /// Cosine floor as a fraction of lr.
        public var minLRRatio = 0.1
        /// The defaults.
        public init() {}
    }

    /// `sampling`: how rollouts are generated.
    public struct SamplingSection: Sendable, Equatable {
        /// Softmax temperature (> 0).
        public var temperature = 1.0
        /// Nucleus mass, in (0, 1].
        public var topP = 1.0
        /// 0 = off.
        public var topK = 0
        /// Response length limit in tokens.
        public var maxNewTokens = 6
        /// Token ids that end a response; nil = the model directory's (generation_config.json and the chat
        /// template's end of turn) or the toy tokenizer's EOS.
        public var stopTokens: [Int]? = nil
        /// Strings that end a response once its decoded text ends with one.
        public var stop: [String] = []
        /// The defaults.
        public init() {}
    }

    /// `eval`: held-out evaluation.
    public struct EvalSection: Sendable, Equatable {
        /// Every this many iterations; 0 = never.
        public var every = 5
        /// Held-out prompts per evaluation.
        public var prompts = 500
        /// Greedy decoding for evaluation.
        public var greedy = true
        /// Held-out prompts written with their responses at every evaluation (samples.jsonl, TensorBoard text).
        public var samples = 4
        /// The defaults.
        public init() {}
    }

    /// `checkpoint`: saving the policy.
    public struct CheckpointSection: Sendable, Equatable {
        /// Every this many iterations; 0 = only at the end.
        public var every = 20
        /// Checkpoints kept (older ones are deleted).
        public var keep = 2
        /// The defaults.
        public init() {}
    }

    /// `cluster`: addresses and timing of the processes of a run.
    public struct ClusterSection: Sendable, Equatable {
        /// Learner base address; see `learnerEndpoint(_:)` for the derived ports.
        public var learner = "tcp://127.0.0.1:5600"
        /// Reward server addresses.
        public var reward = ["tcp://127.0.0.1:5610"]
        /// Reference-model server addresses.
        public var reference = ["tcp://127.0.0.1:5620"]
        /// Cluster key file; nil = unauthenticated. Written but empty (`key_file=`) is an error, not "no key".
        public var keyFile: String? = nil
        /// Encrypt every frame with a key derived from the cluster key (needs `keyFile`).
        public var encrypt = false
        /// When frames are compressed.
        public var compression = Compression.auto
        /// Broadcast each new policy version as an XOR delta against the previous one (zstd, checksummed).
        public var weightDelta = false
        /// How rollout workers take the weight broadcast: a Unix socket on the learner's machine, or tcp.
        public var weightsSocket = WeightsSocket.auto
        /// A rollout lease expires after this many seconds.
        public var leaseSeconds = 60.0
        /// Processes report this often (< lease).
        public var heartbeatSeconds = 1.0
        /// A request without an answer fails after this long.
        public var requestTimeoutSeconds = 30.0
        /// Prompts per work unit (the grain of leases and re-issue).
        public var unitPrompts = 16
        /// Work units that may fail on the workers at one stage, with none done in between, before the learner
        /// stops the run with their error (a value the model cannot serve fails every unit the same way).
        public var maxUnitFailures = 8
        /// The defaults.
        public init() {}
    }

    /// `reward`: how responses are scored.
    public struct RewardSection: Sendable, Equatable {
        /// Reward function: the toy's token rule, rule-based verifiers on text, a reward model on tokens, a Hugging
        /// Face sequence classifier on text, or a remote HTTP endpoint (OpenRLHF's `--remote_rm_url` protocol).
        public enum Kind: String, Sendable, CaseIterable {
            case arithExact = "arith_exact"
            case verifier, model, classifier, remote
        }
        /// The reward function.
        public var kind = Kind.arithExact
        /// Verifier spec (kind verifier), e.g. "numeric" or "0.9*numeric + 0.1*format:number".
        public var verifier = "numeric"
        /// Reward model checkpoint (kind model: `rpp rm-train`'s; kind classifier: a Hugging Face
        /// ...ForSequenceClassification directory with its tokenizer).
        public var model: String? = nil
        /// Normalize rewards with running statistics.
        public var normalize = false
        /// Endpoint (kind remote), http:// or https://.
        public var url: String? = nil
        /// Seconds one remote request may take.
        public var timeoutSeconds = 30.0
        /// Remote attempts after the first.
        public var retries = 2
        /// The reward of a sample the remote endpoint could not score.
        public var fallback = 0.0
        /// The defaults.
        public init() {}
    }
}
