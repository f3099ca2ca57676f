// config.json of each family: transformers' defaults where a key is absent, the fields rpp writes back,
// and a refusal naming the field for everything the engine does not compute.
import XCTest

@testable import Model

final class FamilyConfigTests: XCTestCase {
    /// A small config.json of `type` with `extra` fields merged over the basic ones.
    func config(_ type: String, _ extra: [String: Any] = [:]) throws -> ModelConfig {
        var d: [String: Any] = [
            "model_type": type, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 64,
            "max_position_embeddings": 64,
        ]
        d.merge(extra) { _, new in new }
        return try ModelConfig(jsonData: try JSONSerialization.data(withJSONObject: d), source: "m/config.json")
    }

    func refused(_ type: String, _ extra: [String: Any], naming field: String, line: UInt = #line) {
        XCTAssertThrowsError(try config(type, extra), line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("m/config.json") && text.contains(field), text, line: line)
        }
    }

    func testTransformersDefaultsPerModelType() throws {
        let qwen2 = try config("qwen2")
        XCTAssertFalse(qwen2.tieWordEmbeddings, "Qwen2Config's tie_word_embeddings defaults to false")
        XCTAssertTrue(qwen2.attentionBias)
        XCTAssertFalse(qwen2.attentionOutputBias)
        XCTAssertTrue(try config("qwen2", ["tie_word_embeddings": true]).tieWordEmbeddings)
        let qwen3 = try config("qwen3")
        XCTAssertEqual(qwen3.headDim, 128, "Qwen3Config's head_dim defaults to 128")
        XCTAssertTrue(qwen3.qkNorm)
        XCTAssertFalse(qwen3.attentionBias || qwen3.attentionOutputBias)
        let llama = try config("llama", ["head_dim": 12, "attention_bias": true, "mlp_bias": true])
        XCTAssertEqual(llama.headDim, 12)
        XCTAssertTrue(llama.attentionBias && llama.attentionOutputBias && llama.mlpBias)
        XCTAssertEqual(try config("llama", ["head_dim": NSNull()]).headDim, 8)
        XCTAssertEqual(try config("mistral").slidingWindow, 4096, "MistralConfig's sliding_window defaults to 4096")
        XCTAssertNil(try config("mistral", ["sliding_window": NSNull()]).slidingWindow)
        XCTAssertEqual(try config("mistral", ["sliding_window": 16]).slidingWindow, 16)
        XCTAssertTrue(try config("qwen2", ["use_sliding_window": false, "sliding_window": 8]).slidingWindow == nil)
    }

    func testRopeScalingInBothFormats() throws {
        let llama3: [String: Any] = [
            "rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192,
        ]
        let new = try config("llama", ["rope_parameters": llama3])
        XCTAssertEqual(new.ropeTheta, 500000)
        XCTAssertEqual(
            new.ropeScaling,
            RopeScaling(
                kind: .llama3, factor: 32, lowFreqFactor: 1, highFreqFactor: 4,
                originalMaxPositionEmbeddings: 8192))
        var legacy = llama3
        legacy.removeValue(forKey: "rope_type")
        legacy.removeValue(forKey: "rope_theta")
        legacy["type"] = "llama3"
        let old = try config("llama", ["rope_scaling": legacy, "rope_theta": 500000.0])
        XCTAssertEqual(old, new)
        XCTAssertEqual(
            try config("llama", ["rope_scaling": ["rope_type": "linear", "factor": 2.0]]).ropeScaling,
            RopeScaling(kind: .linear, factor: 2))
        XCTAssertNil(try config("llama", ["rope_scaling": NSNull()]).ropeScaling)
        // llama3 without original_max_position_embeddings uses max_position_embeddings, as transformers does.
        var short = llama3
        short.removeValue(forKey: "original_max_position_embeddings")
        XCTAssertEqual(try config("llama", ["rope_parameters": short]).ropeScaling?.originalMaxPositionEmbeddings, 64)
    }

    /// Llama 3.1's published inverse frequencies: high frequencies kept, low ones divided by the factor, the
    /// band between interpolated.
    func testLlama3InverseFrequencies() {
        let r = RopeScaling(
            kind: .llama3, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192)
        XCTAssertEqual(r.apply(1), 1)  // wavelength 2π < 2048: kept
        XCTAssertEqual(r.apply(1e-4), 1e-4 / 8, accuracy: 1e-12)  // wavelength 62832 > 8192: divided
        let mid: Float = 2 * .pi / 4096  // wavelength 4096: smooth = (2 − 1) / 3
        XCTAssertEqual(r.apply(mid), (1 - 1 / 3) * mid / 8 + mid / 3, accuracy: 1e-8)
        XCTAssertEqual(RopeScaling(kind: .linear, factor: 4).apply(0.5), 0.125)
    }

    func testUnsupportedFieldsAreRefusedByName() {
        refused("gemma", [:], naming: "model_type")
        refused("llama", ["hidden_act": "gelu"], naming: "hidden_act")
        refused("llama", ["rope_parameters": ["rope_type": "yarn", "factor": 4.0]], naming: "rope_type")
        refused("llama", ["rope_scaling": ["type": "dynamic", "factor": 2.0]], naming: "rope_scaling")
        refused("llama", ["rope_parameters": ["rope_type": "linear"]], naming: "factor")
        refused("llama", ["rope_parameters": ["rope_type": "llama3", "factor": 8.0]], naming: "low_freq_factor")
        refused(
            "llama", ["rope_parameters": ["rope_type": "default", "partial_rotary_factor": 0.5]],
            naming: "partial_rotary_factor")
        refused("llama", ["rope_parameters": ["full_attention": ["rope_type": "default"]]], naming: "rope_parameters")
        refused("llama", ["quantization_config": ["quant_method": "gptq"]], naming: "quantization_config")
        refused("llama", ["torch_dtype": "float8_e4m3fn"], naming: "torch_dtype")
        refused("qwen2", ["use_sliding_window": true], naming: "use_sliding_window")
        refused("qwen3", ["layer_types": ["sliding_attention", "full_attention"]], naming: "layer_types")
        refused("mistral", ["sliding_window": 0], naming: "sliding_window")
        refused("llama", ["hidden_size": 30], naming: "head_dim")
        refused("llama", ["head_dim": 7], naming: "head_dim")
        refused("llama", ["head_dim": "8"], naming: "head_dim")
        refused(
            "llama",
            [
                "rope_parameters": [
                    "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0,
                    "high_freq_factor": 1.0,
                ]
            ], naming: "high_freq_factor")
    }

    /// A config rpp writes reads back equal, for every family's fields, and transformers' names are used.
    func testWrittenConfigReadsBackEqual() throws {
        let configs = [
            ModelConfig(
                modelType: "llama", hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKVHeads: 2,
                headDim: 12, vocabSize: 64,
                ropeScaling: RopeScaling(
                    kind: .llama3, factor: 8,
                    originalMaxPositionEmbeddings: 32),
                attentionBias: true, mlpBias: true),
            ModelConfig(
                modelType: "qwen3", hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, headDim: 16,
                vocabSize: 64, rmsNormEps: 1e-6, tieWordEmbeddings: true, attentionBias: true),
            ModelConfig(
                modelType: "mistral", hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4,
                vocabSize: 64, ropeScaling: RopeScaling(kind: .linear, factor: 2), slidingWindow: 4096),
            ModelConfig(
                modelType: "mistral", hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, vocabSize: 64),
            ModelConfig(
                modelType: "qwen2", hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, vocabSize: 64),
        ]
        for c in configs {
            let data = try c.jsonData()
            XCTAssertEqual(try ModelConfig(jsonData: data), c, String(decoding: data, as: UTF8.self))
        }
        let json = String(decoding: try configs[1].jsonData(), as: UTF8.self)
        XCTAssertTrue(json.contains("Qwen3ForCausalLM") && json.contains("\"head_dim\" : 16"), json)
    }
}
