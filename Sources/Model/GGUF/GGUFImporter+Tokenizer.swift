// The tokenizer of a GGUF file as Hugging Face files: tokenizer.json (byte-level BPE built from
// tokenizer.ggml.tokens, merges and token_type, with the split that tokenizer.ggml.pre names) and
// tokenizer_config.json (special tokens, add_bos_token, chat template).
import Foundation

/// The special token ids a GGUF file declares (tokenizer.ggml.*_token_id).
public struct GGUFSpecialTokens: Sendable, Equatable {
    public var bos: Int?, eos: Int?, pad: Int?, unk: Int?
}

extension GGUFImporter {
    /// tokenizer.ggml.token_type values.
    enum TokenType: Int {
        case normal = 1
        case unknown = 2
        case control = 3
        case userDefined = 4
        case unused = 5
        case byte = 6
    }

    /// The pre-tokenizer splits of byte-level vocabularies, by tokenizer.ggml.pre.
    static let llama3Split =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Split =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let llama3Names: Set = ["llama3", "llama-v3", "llama-bpe", "smaug-bpe", "falcon3", "dbrx"]
    static let qwen2Names: Set = ["qwen2", "deepseek-r1-qwen"]
    static let gpt2Names: Set = ["gpt2", "default"]

    /// The token strings (tokenizer.ggml.tokens).
    func vocabulary() throws -> [String] {
        guard let v = file["tokenizer.ggml.tokens"] else {
            throw GGUFError(.missing, "the file has no tokenizer.ggml.tokens")
        }
        guard let items = v.arrayValue, case .array(.string, _) = v else {
            throw GGUFError(.corrupt, "tokenizer.ggml.tokens is not an array of strings")
        }
        guard items.count == config.vocabSize else {
            throw GGUFError(
                .corrupt,
                "tokenizer.ggml.tokens has \(items.count) tokens but the model's vocabulary is \(config.vocabSize)")
        }
        return items.map { $0.stringValue ?? "" }
    }

    /// The special token ids, each checked to be inside the vocabulary.
    public func specialTokens() throws -> GGUFSpecialTokens {
        func id(_ key: String) throws -> Int? {
            guard let v = file["tokenizer.ggml.\(key)"] else { return nil }
            guard let i = v.intValue, i >= 0, i < config.vocabSize else {
                throw GGUFError(
                    .corrupt, "tokenizer.ggml.\(key) is \(v), outside the vocabulary of \(config.vocabSize)")
            }
            return i
        }
        return GGUFSpecialTokens(
            bos: try id("bos_token_id"), eos: try id("eos_token_id"),
            pad: try id("padding_token_id"), unk: try id("unknown_token_id"))
    }

    /// GPT-2's map from bytes to the printable characters byte-level vocabularies are spelled in.
    static let byteAlphabet: [Character] = {
        var chars = [Character](repeating: " ", count: 256)
        var extra = 0
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            chars[b] = Character(Unicode.Scalar(printable ? b : 256 + extra)!)
            if !printable { extra += 1 }
        }
        return chars
    }()

    /// The pre-tokenizer for tokenizer.ggml.pre `pre`, and a warning when the name is not known.
    static func preTokenizer(_ pre: String?) -> (json: [String: Any], warning: String?) {
        let byteLevel: (Bool) -> [String: Any] = {
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": $0]
        }
        func split(_ regex: String) -> [String: Any] {
            [
                "type": "Sequence",
                "pretokenizers": [
                    ["type": "Split", "pattern": ["Regex": regex], "behavior": "Isolated", "invert": false]
                        as [String: Any],
                    byteLevel(false),
                ],
            ]
        }
        switch pre {
        case "smollm":
            return (
                [
                    "type": "Sequence",
                    "pretokenizers": [["type": "Digits", "individual_digits": true], byteLevel(true)],
                ], nil
            )
        case let p? where llama3Names.contains(p): return (split(llama3Split), nil)
        case let p? where qwen2Names.contains(p): return (split(qwen2Split), nil)
        case nil: return (byteLevel(true), nil)
        case let p? where gpt2Names.contains(p): return (byteLevel(true), nil)
        case let p?:
            return (
                byteLevel(true),
                "tokenizer.ggml.pre \(p) is not known to the importer; tokenizer.json uses GPT-2's split"
            )
        }
    }

    /// tokenizer.json for the file's byte-level BPE vocabulary, and warnings about what could not be matched.
    public func tokenizerJSON() throws -> (data: Data, warnings: [String]) {
        let model = file["tokenizer.ggml.model"]?.stringValue ?? "(none)"
        guard model == "gpt2" else {
            throw GGUFError(.unsupported, "tokenizer.ggml.model \(model) is not supported (byte-level BPE, gpt2, is)")
        }
        let tokens = try vocabulary()
        guard let mv = file["tokenizer.ggml.merges"], let mergeValues = mv.arrayValue else {
            throw GGUFError(.missing, "the file has no tokenizer.ggml.merges")
        }
        var types = [Int](repeating: TokenType.normal.rawValue, count: tokens.count)
        if let tv = file["tokenizer.ggml.token_type"]?.arrayValue {
            guard tv.count == tokens.count else {
                throw GGUFError(
                    .corrupt, "tokenizer.ggml.token_type has \(tv.count) entries for \(tokens.count) tokens")
            }
            types = tv.map { $0.intValue ?? 0 }
        }
        let alphabet = Set(Self.byteAlphabet)
        func spelled(_ t: String) -> String {
            t.allSatisfy { alphabet.contains($0) } ? t : String(t.utf8.map { Self.byteAlphabet[Int($0)] })
        }
        var vocab: [String: Int] = [:]
        for (i, t) in tokens.enumerated() { vocab[spelled(t)] = i }
        var merges: [[String]] = []
        merges.reserveCapacity(mergeValues.count)
        for (i, m) in mergeValues.enumerated() {
            let parts = (m.stringValue ?? "").split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw GGUFError(.corrupt, "tokenizer.ggml.merges[\(i)] is not two tokens separated by a space")
            }
            merges.append(parts.map(String.init))
        }
        var added: [[String: Any]] = []
        for (i, t) in tokens.enumerated() {
            let control = types[i] == TokenType.control.rawValue && t.allSatisfy { alphabet.contains($0) }
            guard control || types[i] == TokenType.userDefined.rawValue else { continue }
            added.append([
                "id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                "normalized": false, "special": control,
            ])
        }
        let special = try specialTokens()
        let flags = addSpecialFlags()
        var single: [[String: Any]] = []
        var pair: [[String: Any]] = []
        var specialMap: [String: Any] = [:]
        func specialItem(_ id: Int, _ typeID: Int) -> [String: Any] {
            specialMap[tokens[id]] = ["id": tokens[id], "ids": [id], "tokens": [tokens[id]]] as [String: Any]
            return ["SpecialToken": ["id": tokens[id], "type_id": typeID] as [String: Any]]
        }
        for (seq, typeID) in [("A", 0), ("B", 1)] {
            var items: [[String: Any]] = []
            if flags.bos, let b = special.bos { items.append(specialItem(b, typeID)) }
            items.append(["Sequence": ["id": seq, "type_id": typeID] as [String: Any]])
            if flags.eos, let e = special.eos { items.append(specialItem(e, typeID)) }
            if seq == "A" { single = items }
            pair += items
        }
        let (pre, warning) = Self.preTokenizer(file["tokenizer.ggml.pre"]?.stringValue)
        let json: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added,
            "normalizer": Self.qwen2Names.contains(file["tokenizer.ggml.pre"]?.stringValue ?? "")
                ? ["type": "NFC"] as Any : NSNull(),
            "pre_tokenizer": pre,
            "post_processor": [
                "type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specialMap,
            ],
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": [
                "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": vocab, "merges": merges,
            ] as [String: Any],
        ]
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes])
        return (data, warning.map { [$0] } ?? [])
    }

    /// tokenizer.ggml.add_bos_token and add_eos_token (false when absent).
    func addSpecialFlags() -> (bos: Bool, eos: Bool) {
        (
            file["tokenizer.ggml.add_bos_token"]?.boolValue ?? false,
            file["tokenizer.ggml.add_eos_token"]?.boolValue ?? false
        )
    }

    /// tokenizer_config.json: special tokens by content, add_bos_token / add_eos_token, the chat template.
    public func tokenizerConfigJSON() throws -> Data {
        let tokens = try vocabulary()
        let special = try specialTokens()
        let flags = addSpecialFlags()
        var d: [String: Any] = [
            "tokenizer_class": "PreTrainedTokenizerFast", "add_bos_token": flags.bos, "add_eos_token": flags.eos,
            "clean_up_tokenization_spaces": false, "model_max_length": config.maxPositionEmbeddings,
        ]
        for (key, id) in [
            ("bos_token", special.bos), ("eos_token", special.eos), ("pad_token", special.pad),
            ("unk_token", special.unk),
        ] {
            d[key] = id.map { tokens[$0] } ?? NSNull()
        }
        if let t = file["tokenizer.chat_template"]?.stringValue { d["chat_template"] = t }
        return try JSONSerialization.data(
            withJSONObject: d, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// generation_config.json: the bos, eos and pad ids.
    public func generationConfigJSON() throws -> Data {
        let s = try specialTokens()
        var d: [String: Any] = [:]
        for (k, v) in [("bos_token_id", s.bos), ("eos_token_id", s.eos), ("pad_token_id", s.pad)] {
            if let v { d[k] = v }
        }
        return try JSONSerialization.data(withJSONObject: d, options: [.prettyPrinted, .sortedKeys])
    }

    /// config.json for transformers (LlamaForCausalLM / Qwen2ForCausalLM) with the file's hyper-parameters and ids.
    public func configJSON() throws -> Data {
        let c = config
        let s = try specialTokens()
        func short(_ f: Float) -> Double { Double("\(f)") ?? Double(f) }
        var d: [String: Any] = [
            "architectures": [architecture == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
            "model_type": architecture, "hidden_size": c.hiddenSize, "intermediate_size": c.intermediateSize,
            "num_hidden_layers": c.numLayers, "num_attention_heads": c.numHeads, "num_key_value_heads": c.numKVHeads,
            "head_dim": c.headDim, "vocab_size": c.vocabSize, "max_position_embeddings": c.maxPositionEmbeddings,
            "rms_norm_eps": short(c.rmsNormEps), "rope_theta": short(c.ropeTheta),
            "rope_parameters": ["rope_theta": short(c.ropeTheta), "rope_type": "default"] as [String: Any],
            "hidden_act": "silu", "tie_word_embeddings": c.tieWordEmbeddings, "torch_dtype": "float32",
            "dtype": "float32",
            "attention_dropout": 0.0, "initializer_range": 0.02, "use_cache": true,
        ]
        if architecture == "llama" {
            d["attention_bias"] = c.attentionBias
            d["mlp_bias"] = false
            d["pretraining_tp"] = 1
        }
        for (k, v) in [("bos_token_id", s.bos), ("eos_token_id", s.eos), ("pad_token_id", s.pad)] {
            d[k] = v ?? NSNull()
        }
        return try JSONSerialization.data(withJSONObject: d, options: [.prettyPrinted, .sortedKeys])
    }
}
