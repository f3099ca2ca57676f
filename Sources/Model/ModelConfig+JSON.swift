// ModelConfig as a Hugging Face config.json: parsing with transformers' defaults for each model_type, the
// refusal (naming the field) of everything this engine does not compute, and writing a config that
// transformers loads.
import Foundation

extension ModelConfig {
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
        guard let any = try? JSONSerialization.jsonObject(with: jsonData), let raw = any as? [String: Any] else {
            throw ModelError.invalidConfig("not a JSON object")
        }
        let d = raw.filter { !($0.value is NSNull) }  // null means "use the default", as in transformers
        let fields = JSONFields(d, prefix: "")
        let type = try fields.string("model_type") ?? "llama"
        guard Self.supportedTypes.contains(type) else {
            let known = Self.supportedTypes.joined(separator: ", ")
            throw ModelError.invalidConfig("model_type \(type) is not supported (\(known))")
        }
        if let act = try fields.string("hidden_act"), act != "silu" {
            throw ModelError.invalidConfig("hidden_act \(act) is not supported (silu)")
        }
        if d["quantization_config"] != nil {
            throw ModelError.invalidConfig(
                "quantization_config is set: quantized checkpoints are not supported "
                    + "(use an unquantized F32, BF16 or F16 checkpoint)")
        }
        for key in ["torch_dtype", "dtype"] {
            if let dt = try fields.string(key), !["float32", "bfloat16", "float16"].contains(dt) {
                throw ModelError.invalidConfig("\(key) \(dt) is not supported (float32, bfloat16, float16)")
            }
        }
        if let types = d["layer_types"] {
            guard let list = types as? [String], list.allSatisfy({ $0 == "full_attention" }) else {
                throw ModelError.invalidConfig("layer_types \(types) is not supported (full_attention only)")
            }
        }
        let heads = try fields.int("num_attention_heads")
        let hidden = try fields.int("hidden_size")
        let maxPos = try fields.int("max_position_embeddings", or: 2048)
        // Qwen3's head_dim defaults to 128; the others derive it from hidden_size / num_attention_heads.
        let headDim = try fields.optionalInt("head_dim") ?? (type == "qwen3" ? 128 : nil)
        if headDim == nil, heads > 0, hidden % heads != 0 {
            throw ModelError.invalidConfig(
                "num_attention_heads \(heads) must divide hidden_size \(hidden) (or give head_dim)")
        }
        let (theta, scaling) = try Self.rotary(d, fields: fields, maxPositions: maxPos)
        // Sliding windows: Mistral's applies to every layer (4096 when the key is absent); Qwen's to some layers.
        var window: Int?
        if type == "mistral" {
            window = raw["sliding_window"] == nil ? 4096 : try fields.optionalInt("sliding_window")
        } else if try fields.bool("use_sliding_window") == true {
            throw ModelError.invalidConfig(
                "use_sliding_window true is not supported for \(type) (sliding-window "
                    + "attention on some layers only); set it to false")
        }
        let archs = d["architectures"] as? [String] ?? []
        let scalar = try fields.bool("rpp_scalar_head") ?? archs.contains { $0.hasSuffix("ForSequenceClassification") }
        let attentionBias: Bool
        switch type {
        case "qwen2": attentionBias = true
        case "mistral": attentionBias = false
        default: attentionBias = try fields.bool("attention_bias") ?? false
        }
        self.init(
            modelType: type, hiddenSize: hidden, intermediateSize: try fields.int("intermediate_size"),
            numLayers: try fields.int("num_hidden_layers"), numHeads: heads,
            numKVHeads: try fields.int("num_key_value_heads", or: heads), headDim: headDim,
            vocabSize: try fields.int("vocab_size"), rmsNormEps: try fields.float("rms_norm_eps") ?? 1e-6,
            ropeTheta: theta, ropeScaling: scaling,
            tieWordEmbeddings: try fields.bool("tie_word_embeddings") ?? false,
            maxPositionEmbeddings: maxPos, attentionBias: attentionBias,
            mlpBias: type == "llama" ? (try fields.bool("mlp_bias") ?? false) : false,
            slidingWindow: window, scalarHead: scalar)
        try validate()
    }

    /// rope_theta and the scaling from `rope_parameters` (transformers 5) or `rope_scaling` (older versions).
    private static func rotary(
        _ d: [String: Any], fields: JSONFields,
        maxPositions: Int
    ) throws -> (Float, RopeScaling?) {
        var theta = try fields.float("rope_theta") ?? 10000
        var found: (key: String, scaling: RopeScaling?)?
        for key in ["rope_parameters", "rope_scaling"] {
            guard let value = d[key] else { continue }
            guard let rp = (value as? [String: Any])?.filter({ !($0.value is NSNull) }) else {
                throw ModelError.invalidConfig("\(key) must be an object (found \(value))")
            }
            if rp.values.contains(where: { $0 is [String: Any] }) {
                throw ModelError.invalidConfig("\(key) with one entry per layer type is not supported")
            }
            let f = JSONFields(rp, prefix: key + ".")
            if let t = try f.float("rope_theta") { theta = t }
            if let p = try f.float("partial_rotary_factor"), p != 1 {
                throw ModelError.invalidConfig("\(key).partial_rotary_factor \(p) is not supported (1)")
            }
            let kind = try f.string("rope_type") ?? f.string("type") ?? "default"
            let scaling: RopeScaling?
            switch kind {
            case "default":
                scaling = nil
            case "linear":
                guard let factor = try f.float("factor") else {
                    throw ModelError.invalidConfig("\(key).factor is missing")
                }
                scaling = RopeScaling(kind: .linear, factor: factor)
            case "llama3":
                guard let factor = try f.float("factor"), let low = try f.float("low_freq_factor"),
                    let high = try f.float("high_freq_factor")
                else {
                    throw ModelError.invalidConfig(
                        "\(key) of type llama3 needs factor, low_freq_factor and high_freq_factor")
                }
                let original = try f.int("original_max_position_embeddings", or: maxPositions)
                scaling = RopeScaling(
                    kind: .llama3, factor: factor, lowFreqFactor: low, highFreqFactor: high,
                    originalMaxPositionEmbeddings: original)
            default:
                throw ModelError.invalidConfig("\(key).rope_type \(kind) is not supported (default, linear, llama3)")
            }
            if let previous = found, previous.scaling != scaling, scaling != nil, previous.scaling != nil {
                throw ModelError.invalidConfig("rope_parameters and rope_scaling disagree; keep one of them")
            }
            if found?.scaling == nil { found = (key, scaling) }
        }
        return (theta, found?.scaling)
    }

    /// The transformers class name for this config (e.g. LlamaForCausalLM, Qwen3ForSequenceClassification).
    public var architectureName: String {
        let family = ["qwen2": "Qwen2", "qwen3": "Qwen3", "mistral": "Mistral"][modelType] ?? "Llama"
        return family + (scalarHead ? "ForSequenceClassification" : "ForCausalLM")
    }

    /// A config.json that transformers loads into `architectureName`.
    public func jsonData() throws -> Data {
        var rope: [String: Any] = ["rope_theta": Double(ropeTheta), "rope_type": "default"]
        if let r = ropeScaling {
            rope["rope_type"] = r.kind.rawValue
            rope["factor"] = Double(r.factor)
            if r.kind == .llama3 {
                rope["low_freq_factor"] = Double(r.lowFreqFactor)
                rope["high_freq_factor"] = Double(r.highFreqFactor)
                rope["original_max_position_embeddings"] = r.originalMaxPositionEmbeddings
            }
        }
        var d: [String: Any] = [
            "architectures": [architectureName], "model_type": modelType, "hidden_size": hiddenSize,
            "intermediate_size": intermediateSize, "num_hidden_layers": numLayers,
            "num_attention_heads": numHeads, "num_key_value_heads": numKVHeads, "head_dim": headDim,
            "vocab_size": vocabSize, "rms_norm_eps": Double(rmsNormEps), "rope_theta": Double(ropeTheta),
            "rope_parameters": rope, "tie_word_embeddings": tieWordEmbeddings,
            "max_position_embeddings": maxPositionEmbeddings, "hidden_act": "silu", "torch_dtype": "float32",
            "rpp_scalar_head": scalarHead, "bos_token_id": 1, "eos_token_id": 1, "pad_token_id": 0,
        ]
        switch modelType {
        case "llama":
            d["attention_bias"] = attentionBias
            d["mlp_bias"] = mlpBias
        case "qwen3":
            d["attention_bias"] = attentionBias
            d["use_sliding_window"] = false
        case "qwen2": d["use_sliding_window"] = false
        case "mistral": d["sliding_window"] = slidingWindow ?? NSNull()
        default: break
        }
        if scalarHead { d["num_labels"] = 1 }
        return try JSONSerialization.data(withJSONObject: d, options: [.prettyPrinted, .sortedKeys])
    }
}

/// Typed reads of a config.json object; errors name the field (with `prefix` for nested objects).
private struct JSONFields {
    let d: [String: Any]
    let prefix: String
    init(_ d: [String: Any], prefix: String) {
        self.d = d
        self.prefix = prefix
    }

    /// The integer `k`, nil when absent; throws when it is not an integer.
    func optionalInt(_ k: String) throws -> Int? {
        guard let v = d[k] else { return nil }
        guard let n = v as? NSNumber, let i = exactInteger(n) else {
            throw ModelError.invalidConfig("field \(prefix)\(k) must be an integer (found \(v))")
        }
        return i
    }

    /// The integer `k`, `def` when absent.
    func int(_ k: String, or def: Int) throws -> Int { try optionalInt(k) ?? def }

    /// The integer `k`, which must be present.
    func int(_ k: String) throws -> Int {
        guard let i = try optionalInt(k) else { throw ModelError.invalidConfig("missing integer field \(prefix)\(k)") }
        return i
    }

    func float(_ k: String) throws -> Float? {
        guard let v = d[k] else { return nil }
        guard let n = v as? NSNumber else {
            throw ModelError.invalidConfig("field \(prefix)\(k) must be a number (found \(v))")
        }
        return n.floatValue
    }

    func bool(_ k: String) throws -> Bool? {
        guard let v = d[k] else { return nil }
        guard let b = v as? Bool else {
            throw ModelError.invalidConfig("field \(prefix)\(k) must be true or false (found \(v))")
        }
        return b
    }

    func string(_ k: String) throws -> String? {
        guard let v = d[k] else { return nil }
        guard let s = v as? String else {
            throw ModelError.invalidConfig("field \(prefix)\(k) must be a string (found \(v))")
        }
        return s
    }
}
