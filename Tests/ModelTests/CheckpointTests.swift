// Safetensors checkpoints: round trips, Hugging Face names, BF16/F16 loading, exact optimiser resume,
// and typed errors for corrupt or mismatched files.
import TestKit
import XCTest

@testable import Model

final class CheckpointTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = try temporaryDirectory("rpp-model-ckpt").appendingPathComponent("checkpoint")
    }

    func testRoundTripKeepsWeightsConfigAndLogprobs() throws {
        for tied in [false, true] {
            let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: tied, tied: tied))
            m.initializeWeights(seed: 3, std: 0.3)
            let d = dir.appendingPathComponent("tied-\(tied)")
            try m.save(directory: d)
            let f = try SafetensorsFile(contentsOf: d.appendingPathComponent("model.safetensors"))
            XCTAssertEqual(f.entries["model.layers.1.self_attn.k_proj.weight"]?.shape, [4, 8])
            XCTAssertEqual(f.entries["lm_head.weight"] == nil, tied)
            XCTAssertEqual(f.entries["model.layers.0.self_attn.q_proj.bias"] != nil, tied)
            let r = try Transformer.load(directory: d)
            XCTAssertEqual(r.config, m.config)
            XCTAssertEqual(r.params.toArray(), m.params.toArray())
        }
    }

    func testHalfPrecisionTensorsLoad() throws {
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: false, tied: false))
        m.initializeWeights(seed: 4, std: 0.3)
        // Re-encode every tensor as BF16 (even index) or F16 (odd index) by hand.
        var header: [String: Any] = [:]
        var body = Data()
        var off = 0
        for (i, s) in m.layout.specs.enumerated() {
            let dtype = i % 2 == 0 ? "BF16" : "F16"
            for j in 0..<s.count {
                let x = m.params.pointer[s.offset + j]
                var bits: UInt16 = dtype == "BF16" ? UInt16(x.bitPattern >> 16) : Float16(x).bitPattern
                withUnsafeBytes(of: &bits) { body.append(contentsOf: $0) }
            }
            header[s.name] = ["dtype": dtype, "shape": s.shape, "data_offsets": [off, off + 2 * s.count]]
            off += 2 * s.count
        }
        let r = try Transformer(config: m.config)
        try r.loadWeights(from: SafetensorsFile(data: Self.file(header: header, body: body)))
        for (i, s) in m.layout.specs.enumerated() {
            for j in 0..<s.count {
                let a = m.params.pointer[s.offset + j]
                let b = r.params.pointer[s.offset + j]
                XCTAssertEqual(a, b, accuracy: abs(a) * (i % 2 == 0 ? 8e-3 : 1e-3) + 1e-7, s.name)
            }
        }
    }

    static func file(header: [String: Any], body: Data) throws -> Data {
        let json = try JSONSerialization.data(withJSONObject: header)
        var out = Data()
        var n = UInt64(json.count)
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        return out + json + body
    }

    func testCorruptAndMismatchedCheckpointsGiveTypedErrors() throws {
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: false, tied: false))
        try m.save(directory: dir)
        let good = try Data(contentsOf: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try SafetensorsFile(data: good.prefix(5))) { e in
            guard case ModelError.truncatedFile = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try SafetensorsFile(data: good.prefix(good.count - 4))) { e in
            guard case ModelError.truncatedFile(let msg) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(msg.contains("ends at byte"), msg)
        }
        XCTAssertThrowsError(
            try SafetensorsFile(data: Self.file(header: [:], body: Data()).prefix(8) + Data("{oops".utf8))
        ) { e in
            guard case ModelError.badHeader = e else { return XCTFail("\(e)") }
        }
        // Another architecture: a checkpoint with GQA (2 kv heads) loaded into 4 kv heads names the tensor and shapes.
        var cfg = m.config
        cfg.numKVHeads = 4
        let other = try Transformer(config: cfg)
        XCTAssertThrowsError(try other.loadWeights(from: SafetensorsFile(data: good))) { e in
            XCTAssertEqual(
                e as? ModelError,
                .shapeMismatch(tensor: "model.layers.0.self_attn.k_proj.weight", expected: [8, 8], found: [4, 8]))
            XCTAssertTrue("\(e)".contains("k_proj"))
        }
        var cfgBias = m.config
        cfgBias.attentionBias = true
        XCTAssertThrowsError(try Transformer(config: cfgBias).loadWeights(from: SafetensorsFile(data: good))) { e in
            XCTAssertEqual(e as? ModelError, .missingTensor("model.layers.0.self_attn.q_proj.bias"))
        }
        let i64 = try Self.file(
            header: ["model.embed_tokens.weight": ["dtype": "I64", "shape": [11, 8], "data_offsets": [0, 704]]],
            body: Data(count: 704))
        XCTAssertThrowsError(try m.loadWeights(from: SafetensorsFile(data: i64))) { e in
            XCTAssertEqual(e as? ModelError, .unsupportedDType(tensor: "model.embed_tokens.weight", dtype: "I64"))
        }
        XCTAssertThrowsError(try ModelConfig(jsonData: Data("{\"hidden_size\": 8}".utf8)))
        XCTAssertThrowsError(try Transformer.load(directory: dir.appendingPathComponent("nope")))
    }

    func testOptimizerResumeIsExact() throws {
        let cfg = ModelGradientTests.tinyConfig(bias: true, tied: false)
        let tokens: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8]
        let targets: [Int32] = [2, 3, 4, 5, 6, 7, 8, 9]
        let w: [Float] = [0.5, -1, 1, 0.3, 1, 1, -0.2, 0.7]
        func step(_ m: Transformer, _ o: AdamW) throws {
            try m.forward(tokens: tokens, batch: 2, seqLen: 4)
            _ = try m.logProbs(targets: targets)
            m.zeroGrad()
            try m.backward(dLogp: w)
            o.update(m)
        }
        let sched = LRSchedule(peak: 1e-2, warmupSteps: 2, cosineTotalSteps: 6, minRatio: 0.1)
        let a = try Transformer(config: cfg)
        a.initializeWeights(seed: 1, std: 0.3)
        let oa = AdamW(model: a, schedule: sched, weightDecay: 0.1, clipNorm: 0.5)
        for _ in 0..<3 { try step(a, oa) }
        try a.save(directory: dir)
        try a.saveTrainingState(oa, extra: ["rng": "1,2,3,4"], directory: dir)
        for _ in 0..<3 { try step(a, oa) }
        let b = try Transformer.load(directory: dir)
        let ob = AdamW(model: b, schedule: sched, weightDecay: 0.1, clipNorm: 0.5)
        XCTAssertEqual(try b.loadTrainingState(ob, directory: dir), ["rng": "1,2,3,4"])
        XCTAssertEqual(ob.step, 3)
        for _ in 0..<3 { try step(b, ob) }
        XCTAssertEqual(a.params.toArray(), b.params.toArray())
    }
}
