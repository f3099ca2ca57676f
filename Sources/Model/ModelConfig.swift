// ModelConfig: the architecture of a Llama-family decoder, read from and written to a Hugging Face
// style config.json (LlamaForCausalLM / Qwen2ForCausalLM field names).
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

/// Architecture hyper-parameters of a Llama / Qwen2 decoder.
public struct ModelConfig: Sendable, Equatable {
    /// "llama" or "qwen2" (Hugging Face `model_type`).
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
    /// `vocab_size` (V).
    public var vocabSize: Int
    /// `rms_norm_eps`.
    public var rmsNormEps: Float
    /// `rope_theta` (rotary base).
    public var ropeTheta: Float
    /// `tie_word_embeddings`: the output head reuses the token embedding.
    public var tieWordEmbeddings: Bool
    /// `max_position_embeddings`: longest sequence (size of the rotary table).
    public var maxPositionEmbeddings: Int
    /// Bias on q/k/v projections (Qwen2 always; Llama when `attention_bias` is true).
    public var attentionBias: Bool
    /// Scalar head (hidden -> 1, tensor `score.weight`) instead of the language-model head: critic / reward model.
    public var scalarHead: Bool

    /// Per-head width: hidden_size / num_attention_heads.
    public var headDim: Int { hiddenSize / numHeads }

    /// A config from its fields; `attentionBias` defaults to true for qwen2, false otherwise.
    public init(modelType: String = "llama", hiddenSize: Int, intermediateSize: Int, numLayers: Int,
                numHeads: Int, numKVHeads: Int? = nil, vocabSize: Int, rmsNormEps: Float = 1e-5,
                ropeTheta: Float = 10000, tieWordEmbeddings: Bool = false, maxPositionEmbeddings: Int = 2048,
                attentionBias: Bool? = nil, scalarHead: Bool = false) {
        self.modelType = modelType
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads ?? numHeads
        self.vocabSize = vocabSize
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.tieWordEmbeddings = tieWordEmbeddings
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.attentionBias = attentionBias ?? (modelType == "qwen2")
        self.scalarHead = scalarHead
    }

    /// The pilot's SFT policy for the arithmetic task (857,216 parameters).
    public static let arithPolicy = ModelConfig(hiddenSize: 128, intermediateSize: 384, numLayers: 4,
                                                numHeads: 4, numKVHeads: 4, vocabSize: 16,
                                                maxPositionEmbeddings: 64)

    /// The largest value each size field may have (config.json name → bound). Far above any model this CPU
    /// engine can train, and small enough that no product of sizes overflows.
    public static let limits: [(field: String, bound: Int)] = [
        ("hidden_size", 1 << 16), ("intermediate_size", 1 << 18), ("num_hidden_layers", 1024),
        ("num_attention_heads", 1024), ("num_key_value_heads", 1024), ("vocab_size", 1 << 24),
        ("max_position_embeddings", 1 << 20),
    ]

    /// Throws `ModelError.invalidConfig` unless every size is positive and within `limits`, and the heads
    /// divide evenly.
    public func validate() throws {
        func need(_ ok: Bool, _ m: String) throws { if !ok { throw ModelError.invalidConfig(m) } }
        let values = [hiddenSize, intermediateSize, numLayers, numHeads, numKVHeads, vocabSize, maxPositionEmbeddings]
        for ((field, bound), value) in zip(Self.limits, values) {
            try need(value >= 1 && value <= bound, "\(field) \(value) must be in [1, \(bound)]")
        }
        try need(numHeads > 0 && hiddenSize % numHeads == 0, "num_attention_heads \(numHeads) must divide hidden_size \(hiddenSize)")
        try need(numKVHeads > 0 && numHeads % numKVHeads == 0, "num_key_value_heads \(numKVHeads) must divide num_attention_heads \(numHeads)")
        try need(headDim % 2 == 0, "head dim \(headDim) must be even for rotary embeddings")
        try need(rmsNormEps > 0 && rmsNormEps.isFinite && ropeTheta > 0 && ropeTheta.isFinite,
                 "rms_norm_eps \(rmsNormEps) and rope_theta \(ropeTheta) must be positive and finite")
        try need(maxPositionEmbeddings > 0, "max_position_embeddings must be positive")
    }

    /// Parses a Hugging Face config.json; `source` (its path) starts every error message.
    public init(jsonData: Data, source: String = "config.json") throws {
        do {
            try self.init(json: jsonData)
        } catch ModelError.invalidConfig(let message) {
            throw ModelError.invalidConfig("\(source): \(message)")
        }
    }

    private init(json jsonData: Data) throws {
        guard jsonData.count <= 1 << 20 else { throw ModelError.invalidConfig("larger than 1 MiB; not a config.json") }
        guard let any = try? JSONSerialization.jsonObject(with: jsonData), let d = any as? [String: Any] else {
            throw ModelError.invalidConfig("not a JSON object")
        }
        func int(_ k: String, _ def: Int? = nil) throws -> Int {
            if let v = d[k] {
                guard let n = v as? NSNumber, let i = exactInteger(n) else {
                    throw ModelError.invalidConfig("field \(k) must be an integer (found \(v))")
                }
                return i
            }
            if let def { return def }
            throw ModelError.invalidConfig("missing integer field \(k)")
        }
        func num(_ k: String, _ def: Float) -> Float { (d[k] as? NSNumber)?.floatValue ?? def }
        let type = d["model_type"] as? String ?? "llama"
        guard type == "llama" || type == "qwen2" else {
            throw ModelError.invalidConfig("model_type \(type) is not supported (llama, qwen2)")
        }
        if let act = d["hidden_act"] as? String, act != "silu" {
            throw ModelError.invalidConfig("hidden_act \(act) is not supported (silu)")
        }
        let heads = try int("num_attention_heads")
        if let hd = d["head_dim"] as? NSNumber, let h = d["hidden_size"] as? NSNumber {
            let product = exactInteger(hd).map { $0.multipliedReportingOverflow(by: heads) }
            guard let product, !product.overflow, product.partialValue == exactInteger(h) else {
                throw ModelError.invalidConfig("head_dim \(hd) * heads \(heads) != hidden_size \(h) is not supported")
            }
        }
        // transformers >= 5 nests rope_theta in rope_parameters; older versions use rope_scaling for variants.
        var theta = num("rope_theta", 10000)
        for key in ["rope_parameters", "rope_scaling"] {
            guard let rp = d[key] as? [String: Any] else { continue }
            if let t = rp["rope_theta"] as? NSNumber { theta = t.floatValue }
            let kind = (rp["rope_type"] as? String) ?? (rp["type"] as? String) ?? "default"
            if kind != "default" { throw ModelError.invalidConfig("\(key) type \(kind) is not supported (default rotary only)") }
        }
        if (d["use_sliding_window"] as? Bool) == true {
            throw ModelError.invalidConfig("sliding-window attention is not supported")
        }
        let archs = d["architectures"] as? [String] ?? []
        let scalar = (d["rpp_scalar_head"] as? Bool) ?? archs.contains { $0.hasSuffix("ForSequenceClassification") }
        self.init(modelType: type, hiddenSize: try int("hidden_size"), intermediateSize: try int("intermediate_size"),
                  numLayers: try int("num_hidden_layers"), numHeads: heads,
                  numKVHeads: try int("num_key_value_heads", heads), vocabSize: try int("vocab_size"),
                  rmsNormEps: num("rms_norm_eps", 1e-6), ropeTheta: theta,
                  tieWordEmbeddings: (d["tie_word_embeddings"] as? Bool) ?? (type == "qwen2" ? true : false),
                  maxPositionEmbeddings: try int("max_position_embeddings", 2048),
                  attentionBias: type == "qwen2" ? true : ((d["attention_bias"] as? Bool) ?? false),
                  scalarHead: scalar)
        try validate()
    }

    /// A config.json that transformers can load (LlamaForCausalLM / Qwen2ForCausalLM, or ...ForSequenceClassification for the scalar head).
    public func jsonData() throws -> Data {
        let arch = (modelType == "qwen2" ? "Qwen2" : "Llama") + (scalarHead ? "ForSequenceClassification" : "ForCausalLM")
        var d: [String: Any] = [
            "architectures": [arch], "model_type": modelType, "hidden_size": hiddenSize,
            "intermediate_size": intermediateSize, "num_hidden_layers": numLayers,
            "num_attention_heads": numHeads, "num_key_value_heads": numKVHeads, "vocab_size": vocabSize,
            "rms_norm_eps": Double(rmsNormEps), "rope_theta": Double(ropeTheta),
            "rope_parameters": ["rope_theta": Double(ropeTheta), "rope_type": "default"] as [String: Any],
            "tie_word_embeddings": tieWordEmbeddings, "max_position_embeddings": maxPositionEmbeddings,
            "hidden_act": "silu", "torch_dtype": "float32", "rpp_scalar_head": scalarHead,
            "bos_token_id": 1, "eos_token_id": 1, "pad_token_id": 0,
        ]
        if modelType == "llama" { d["attention_bias"] = attentionBias; d["mlp_bias"] = false }
        if scalarHead { d["num_labels"] = 1 }
        return try JSONSerialization.data(withJSONObject: d, options: [.prettyPrinted, .sortedKeys])
    }
}

/// The integer an NSNumber holds when it is one exactly (|n| <= 2^53 for floating-point JSON numbers); nil for
/// fractions, NaN, infinities and values no Int can hold.
func exactInteger(_ n: NSNumber) -> Int? {
    let d = n.doubleValue
    guard d.isFinite, d == d.rounded(), abs(d) <= 9_007_199_254_740_992 else { return nil }
    return Int(d)
}
