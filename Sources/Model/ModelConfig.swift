// ModelConfig: the architecture of a Llama-family decoder (Llama, SmolLM2, Qwen2, Qwen3, Mistral) and its
// validation; ModelConfig+JSON reads and writes it as a Hugging Face config.json.
import Foundation

/// Errors of the policy engine: bad configs, bad shapes, bad checkpoints. Each message names the
/// offending field or tensor.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case invalidInput(String)
    case missingTensor(String)
    case shapeMismatch(tensor: String, expected: [Int], found: [Int])
    case unsupportedDType(tensor: String, dtype: String)
    case truncatedFile(String)
    case badHeader(String)
    case io(String)
    /// A tensor holds NaN or infinite values (`count` of them); `source` names the file.
    case nonFinite(tensor: String, count: Int, source: String)

    public var description: String {
        switch self {
        case .invalidConfig(let m): return "invalid model config: \(m)"
        case .invalidInput(let m): return "invalid input: \(m)"
        case .missingTensor(let n): return "checkpoint is missing tensor \(n)"
        case .shapeMismatch(let n, let e, let f): return "tensor \(n): expected shape \(e), found \(f)"
        case .unsupportedDType(let n, let d): return "tensor \(n): unsupported dtype \(d) (want F32, BF16 or F16)"
        case .truncatedFile(let m): return "truncated checkpoint: \(m)"
        case .badHeader(let m): return "bad safetensors header: \(m)"
        case .io(let m): return "I/O error: \(m)"
        case .nonFinite(let n, let c, let f):
            return "\(f): tensor \(n) holds \(c) non-finite values (NaN or infinity); the checkpoint is corrupt or its "
                + "training diverged: load an earlier checkpoint"
        }
    }
}

/// Rotary frequency scaling of a config's `rope_parameters` (transformers 5) or `rope_scaling` (older):
/// `linear` divides every inverse frequency by `factor`; `llama3` divides the low frequencies by `factor`,
/// keeps the high ones and interpolates between them.
public struct RopeScaling: Sendable, Equatable {
    /// The scaling rule (`rope_type`).
    public enum Kind: String, Sendable { case linear, llama3 }
    public var kind: Kind
    /// `factor`.
    public var factor: Float
    /// `low_freq_factor` (llama3).
    public var lowFreqFactor: Float
    /// `high_freq_factor` (llama3).
    public var highFreqFactor: Float
    /// `original_max_position_embeddings` (llama3): the context length of pre-training.
    public var originalMaxPositionEmbeddings: Int

    /// A scaling of `kind`; the llama3 fields default to Llama 3.1's values.
    public init(
        kind: Kind, factor: Float, lowFreqFactor: Float = 1, highFreqFactor: Float = 4,
        originalMaxPositionEmbeddings: Int = 8192
    ) {
        self.kind = kind
        self.factor = factor
        self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor
        self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
    }

    /// The scaled inverse frequency for the unscaled `invFreq`, in Float32 as transformers computes it.
    public func apply(_ invFreq: Float) -> Float {
        switch kind {
        case .linear:
            return invFreq / factor
        case .llama3:
            let old = Float(originalMaxPositionEmbeddings)
            let lowWavelen = old / lowFreqFactor
            let highWavelen = old / highFreqFactor
            let wavelen = 2 * Float.pi / invFreq
            if wavelen < highWavelen { return invFreq }
            if wavelen > lowWavelen { return invFreq / factor }
            let smooth = (old / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
            return (1 - smooth) * invFreq / factor + smooth * invFreq
        }
    }
}

/// Architecture hyper-parameters of a Llama-family decoder (Llama, SmolLM2, Qwen2, Qwen3, Mistral).
public struct ModelConfig: Sendable, Equatable {
    /// The Hugging Face `model_type` this engine computes.
    public static let supportedTypes = ["llama", "qwen2", "qwen3", "mistral"]
    /// "llama", "qwen2", "qwen3" or "mistral" (Hugging Face `model_type`).
    public var modelType: String
    /// `hidden_size` (C).
    public var hiddenSize: Int
    /// `intermediate_size` (SwiGLU width F).
    public var intermediateSize: Int
    /// `num_hidden_layers`.
    public var numLayers: Int
    /// `num_attention_heads` (H).
    public var numHeads: Int
    /// `num_key_value_heads` (KV, divides H).
    public var numKVHeads: Int
    /// `head_dim` (D): hidden_size / num_attention_heads unless the config gives another width.
    public var headDim: Int
    /// `vocab_size` (V).
    public var vocabSize: Int
    /// `rms_norm_eps`.
    public var rmsNormEps: Float
    /// `rope_theta` (rotary base).
    public var ropeTheta: Float
    /// Rotary frequency scaling; nil for the default rotary embedding.
    public var ropeScaling: RopeScaling?
    /// `tie_word_embeddings`: the output head reuses the token embedding.
    public var tieWordEmbeddings: Bool
    /// `max_position_embeddings`: longest sequence (size of the rotary table).
    public var maxPositionEmbeddings: Int
    /// Bias on the q/k/v projections (Qwen2 always; Llama and Qwen3 when `attention_bias` is true).
    public var attentionBias: Bool
    /// Bias on the output projection o_proj (Llama and Qwen3 when `attention_bias` is true).
    public var attentionOutputBias: Bool
    /// `mlp_bias` (Llama): biases on gate_proj, up_proj and down_proj.
    public var mlpBias: Bool
    /// RMSNorm over each head of q and k before the rotary embedding (Qwen3's q_norm and k_norm).
    public var qkNorm: Bool
    /// `sliding_window` (Mistral): a query attends only the keys less than this many tokens before it; nil
    /// attends the whole prefix.
    public var slidingWindow: Int?
    /// Scalar head (hidden -> 1, tensor `score.weight`) instead of the language-model head: critic / reward model.
    public var scalarHead: Bool

    /// A config from its fields. Left nil, `headDim` is hidden/heads, `attentionBias` is true for qwen2 only,
    /// `attentionOutputBias` follows `attentionBias` for llama and qwen3 (false for qwen2 and mistral), and
    /// `qkNorm` is true for qwen3 only.
    public init(
        modelType: String = "llama", hiddenSize: Int, intermediateSize: Int, numLayers: Int,
        numHeads: Int, numKVHeads: Int? = nil, headDim: Int? = nil, vocabSize: Int, rmsNormEps: Float = 1e-5,
        ropeTheta: Float = 10000, ropeScaling: RopeScaling? = nil, tieWordEmbeddings: Bool = false,
        maxPositionEmbeddings: Int = 2048, attentionBias: Bool? = nil, attentionOutputBias: Bool? = nil,
        mlpBias: Bool = false, qkNorm: Bool? = nil, slidingWindow: Int? = nil, scalarHead: Bool = false
    ) {
        self.modelType = modelType
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads ?? numHeads
        self.headDim = headDim ?? (numHeads > 0 ? hiddenSize / numHeads : 0)
        self.vocabSize = vocabSize
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.tieWordEmbeddings = tieWordEmbeddings
        self.maxPositionEmbeddings = maxPositionEmbeddings
        let bias = attentionBias ?? (modelType == "qwen2")
        self.attentionBias = bias
        self.attentionOutputBias = attentionOutputBias ?? ((modelType == "llama" || modelType == "qwen3") && bias)
        self.mlpBias = mlpBias
        self.qkNorm = qkNorm ?? (modelType == "qwen3")
        self.slidingWindow = slidingWindow
        self.scalarHead = scalarHead
    }

    /// The largest value each size field may have (config.json name → bound). Far above any model this CPU
    /// engine can train, and small enough that no product of sizes overflows.
    public static let limits: [(field: String, bound: Int)] = [
        ("hidden_size", 1 << 16), ("intermediate_size", 1 << 18), ("num_hidden_layers", 1024),
        ("num_attention_heads", 1024), ("num_key_value_heads", 1024), ("vocab_size", 1 << 24),
        ("max_position_embeddings", 1 << 20), ("head_dim", 1 << 12),
    ]

    /// Throws `ModelError.invalidConfig` unless every size is positive and within `limits`, the heads
    /// divide evenly and the rotary settings are usable.
    public func validate() throws {
        func need(_ ok: Bool, _ m: String) throws { if !ok { throw ModelError.invalidConfig(m) } }
        try need(
            Self.supportedTypes.contains(modelType),
            "model_type \(modelType) is not supported (\(Self.supportedTypes.joined(separator: ", ")))")
        let values = [
            hiddenSize, intermediateSize, numLayers, numHeads, numKVHeads, vocabSize, maxPositionEmbeddings,
            headDim,
        ]
        for ((field, bound), value) in zip(Self.limits, values) {
            try need(value >= 1 && value <= bound, "\(field) \(value) must be in [1, \(bound)]")
        }
        try need(
            hiddenSize % numHeads == 0 || headDim != hiddenSize / numHeads,
            "num_attention_heads \(numHeads) must divide hidden_size \(hiddenSize) unless head_dim is given")
        try need(
            numKVHeads > 0 && numHeads % numKVHeads == 0,
            "num_key_value_heads \(numKVHeads) must divide num_attention_heads \(numHeads)")
        try need(headDim % 2 == 0, "head_dim \(headDim) must be even for rotary embeddings")
        try need(
            rmsNormEps > 0 && rmsNormEps.isFinite && ropeTheta > 0 && ropeTheta.isFinite,
            "rms_norm_eps \(rmsNormEps) and rope_theta \(ropeTheta) must be positive and finite")
        if let r = ropeScaling {
            try need(
                r.factor.isFinite && r.factor > 0,
                "rope_parameters factor \(r.factor) must be positive and finite")
            if r.kind == .llama3 {
                try need(
                    r.lowFreqFactor.isFinite && r.lowFreqFactor > 0 && r.highFreqFactor.isFinite
                        && r.highFreqFactor > r.lowFreqFactor,
                    "rope_parameters low_freq_factor \(r.lowFreqFactor) and high_freq_factor \(r.highFreqFactor) "
                        + "must be positive with high_freq_factor above low_freq_factor")
                try need(
                    r.originalMaxPositionEmbeddings >= 1 && r.originalMaxPositionEmbeddings <= 1 << 24,
                    "rope_parameters original_max_position_embeddings \(r.originalMaxPositionEmbeddings) must be "
                        + "in [1, \(1 << 24)]")
            }
        }
        if let w = slidingWindow { try need(w >= 1, "sliding_window \(w) must be positive (or null)") }
    }
}

/// The integer an NSNumber holds when it is one exactly (|n| <= 2^53 for floating-point JSON numbers); nil for
/// fractions, NaN, infinities and values no Int can hold.
func exactInteger(_ n: NSNumber) -> Int? {
    let d = n.doubleValue
    guard d.isFinite, d == d.rounded(), abs(d) <= 9_007_199_254_740_992 else { return nil }
    return Int(d)
}
