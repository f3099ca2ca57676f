// GGUF import: the model config from a GGUF file's metadata, and its tensors under Hugging Face names,
// dequantised to Float32 with llama.cpp's rotary reordering of the q and k rows undone. The result is
// laid out exactly as `ParameterLayout` lays out a model of that config.
import Foundation

/// Turns a parsed GGUF file (architecture llama or qwen2) into a Hugging Face style checkpoint.
public struct GGUFImporter {
    /// The parsed file.
    public let file: GGUFFile
    /// `general.architecture`.
    public let architecture: String
    /// The model's architecture, read from the metadata by `init`.
    public let config: ModelConfig

    /// The architectures the importer reads.
    public static let supportedArchitectures = ["llama", "qwen2"]

    /// Reads the architecture and hyper-parameters; throws for anything the engine cannot run.
    public init(file: GGUFFile) throws {
        self.file = file
        guard let arch = file["general.architecture"]?.stringValue else {
            throw GGUFError(.missing, "the file has no general.architecture")
        }
        guard Self.supportedArchitectures.contains(arch) else {
            throw GGUFError(
                .unsupported,
                "general.architecture \(arch) is not supported "
                    + "(the importer reads \(Self.supportedArchitectures.joined(separator: " and ")))")
        }
        architecture = arch
        config = try Self.readConfig(file, arch)
    }

    private static func readConfig(_ f: GGUFFile, _ a: String) throws -> ModelConfig {
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            guard let v = f["\(a).\(key)"] else {
                if let fallback { return fallback }
                throw GGUFError(.missing, "the file has no \(a).\(key)")
            }
            guard let i = v.intValue, i > 0, i <= 1 << 30 else {
                throw GGUFError(.unsupported, "\(a).\(key) is \(v), not one positive integer")
            }
            return i
        }
        func float(_ key: String, _ fallback: Double) throws -> Float {
            guard let v = f["\(a).\(key)"] else { return Float(fallback) }
            guard let d = v.doubleValue, d > 0, d.isFinite else { throw GGUFError(.corrupt, "\(a).\(key) is \(v)") }
            return Float(d)
        }
        if let e = f["\(a).expert_count"]?.intValue, e > 0 {
            throw GGUFError(.unsupported, "\(a).expert_count is \(e): mixture-of-experts models are not supported")
        }
        if let s = f["\(a).rope.scaling.type"]?.stringValue, s != "none" {
            throw GGUFError(.unsupported, "\(a).rope.scaling.type \(s) is not supported (default rotary only)")
        }
        if f.tensor(named: "rope_freqs.weight") != nil {
            throw GGUFError(.unsupported, "tensor rope_freqs.weight (scaled rotary frequencies) is not supported")
        }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        guard hidden % heads == 0 else {
            throw GGUFError(.unsupported, "\(a).embedding_length \(hidden) is not a multiple of head_count \(heads)")
        }
        for key in ["rope.dimension_count", "attention.key_length", "attention.value_length"] {
            let v = try int(key, hidden / heads)
            guard v == hidden / heads else {
                throw GGUFError(
                    .unsupported,
                    "\(a).\(key) is \(v); only head dimension hidden/heads = \(hidden / heads) is supported")
            }
        }
        guard let embed = f.tensor(named: "token_embd.weight") else {
            throw GGUFError(.missing, "the file has no tensor token_embd.weight")
        }
        guard embed.dims.count == 2 else { throw GGUFError(.corrupt, "token_embd.weight has dimensions \(embed.dims)") }
        let vocab = try int("vocab_size", embed.dims[1])
        let context = try int("context_length", 2048)
        let cfg = ModelConfig(
            modelType: a, hiddenSize: hidden, intermediateSize: try int("feed_forward_length"),
            numLayers: try int("block_count"), numHeads: heads,
            numKVHeads: try int("attention.head_count_kv", heads), vocabSize: vocab,
            rmsNormEps: try float("attention.layer_norm_rms_epsilon", 1e-6),
            ropeTheta: try float("rope.freq_base", 10000),
            tieWordEmbeddings: f.tensor(named: "output.weight") == nil,
            maxPositionEmbeddings: context,
            attentionBias: a == "qwen2" || f.tensor(named: "blk.0.attn_q.bias") != nil,
            attentionOutputBias: false)
        do { try cfg.validate() } catch { throw GGUFError(.unsupported, "the file's hyper-parameters: \(error)") }
        return cfg
    }

    /// The GGUF name of the tensor with Hugging Face name `hf` (llama.cpp's names for the llama family).
    public static func ggufName(_ hf: String) -> String? {
        let fixed = [
            "model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
            "lm_head.weight": "output.weight",
        ]
        if let f = fixed[hf] { return f }
        let parts = hf.split(separator: ".", maxSplits: 3).map(String.init)
        guard parts.count == 4, parts[0] == "model", parts[1] == "layers", let n = Int(parts[2]) else { return nil }
        let tail = [
            "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
            "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
            "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
            "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias",
            "self_attn.v_proj.bias": "attn_v.bias", "mlp.gate_proj.weight": "ffn_gate.weight",
            "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
        ]
        return tail[parts[3]].map { "blk.\(n).\($0)" }
    }

    /// Reorders the rows of a q or k projection (weight [heads*D, cols] or bias, cols = 1) from llama.cpp's
    /// interleaved rotary layout back to Hugging Face's half-split layout: within each head, GGUF row
    /// 2i+j holds Hugging Face row j*D/2+i.
    public static func unpermuteRotary(_ w: UnsafeMutablePointer<Float>, rows: Int, cols: Int, heads: Int) {
        let D = rows / heads
        let half = D / 2
        let copy = Array(UnsafeBufferPointer(start: w, count: rows * cols))
        copy.withUnsafeBufferPointer { src in
            for h in 0..<heads {
                for i in 0..<half {
                    for j in 0..<2 {
                        let from = (h * D + 2 * i + j) * cols
                        let to = (h * D + j * half + i) * cols
                        (w + to).update(from: src.baseAddress! + from, count: cols)
                    }
                }
            }
        }
    }

    /// Every parameter of `config`, dequantised into one buffer laid out as `layout`; `progress` is called
    /// after each tensor with its Hugging Face name, GGUF info, and the running count.
    public func weights(progress: (String, GGUFTensorInfo, Int) -> Void = { _, _, _ in }) throws
        -> (layout: ParameterLayout, values: FloatBuffer)
    {
        let layout = ParameterLayout(config: config)
        var wanted = Set<String>()
        for s in layout.specs {
            guard let g = Self.ggufName(s.name) else { throw GGUFError(.unsupported, "no GGUF name for \(s.name)") }
            wanted.insert(g)
        }
        for t in file.tensors where !wanted.contains(t.name) {
            throw GGUFError(
                .unsupported,
                "tensor \(t.name) has no place in a \(architecture) model of this config "
                    + "(architecture \(architecture), attention bias \(config.attentionBias))")
        }
        let values = FloatBuffer(count: layout.totalCount)
        for (i, s) in layout.specs.enumerated() {
            let g = Self.ggufName(s.name)!
            guard let t = file.tensor(named: g) else {
                throw GGUFError(.missing, "the file has no tensor \(g) (\(s.name))")
            }
            guard t.shape == s.shape else {
                throw GGUFError(.corrupt, "tensor \(g) has shape \(t.shape) but \(s.name) must be \(s.shape)")
            }
            let out = values.pointer + s.offset
            try file.withTensorBytes(t) { try t.type.dequantize($0, count: t.count, into: out, tensor: g) }
            // llama.cpp reorders q (by attention heads) and k (by key/value heads) for the llama family only.
            if architecture == "llama" {
                let cols = s.shape.count == 2 ? s.shape[1] : 1
                if g.hasSuffix("attn_q.weight") || g.hasSuffix("attn_q.bias") {
                    Self.unpermuteRotary(out, rows: s.shape[0], cols: cols, heads: config.numHeads)
                } else if g.hasSuffix("attn_k.weight") || g.hasSuffix("attn_k.bias") {
                    Self.unpermuteRotary(out, rows: s.shape[0], cols: cols, heads: config.numKVHeads)
                }
            }
            progress(s.name, t, i + 1)
        }
        return (layout, values)
    }
}
