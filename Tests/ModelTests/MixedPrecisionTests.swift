// Mixed precision: a bf16 model against the fp32 one, the bf16 copy kept in step with the float32 weights,
// and an inference-only bf16 model that gave its float32 parameters back.
import CSupport
import XCTest

@testable import Model

final class MixedPrecisionTests: XCTestCase {
    private static let config = ModelConfig(
        modelType: "qwen2", hiddenSize: 64, intermediateSize: 128, numLayers: 2,
        numHeads: 4, numKVHeads: 2, vocabSize: 50, rmsNormEps: 1e-5, ropeTheta: 100,
        tieWordEmbeddings: false, maxPositionEmbeddings: 32, attentionBias: true)
    private static let rows: [[Int32]] = [[1, 5, 9, 13, 2, 7, 44, 3], [4, 8, 15, 16, 23, 42, 0, 11, 31, 17]]

    private func model(seed: UInt64 = 3) throws -> Transformer {
        let m = try Transformer(config: Self.config)
        m.initializeWeights(seed: seed, std: 0.08)
        return m
    }

    private func maxAbsDiff(_ a: [[Float]], _ b: [[Float]]) -> Float {
        zip(a.joined(), b.joined()).map { abs($0 - $1) }.max() ?? .infinity
    }

    /// Rounds every parameter of `m` to its bf16 value (in float32).
    private func roundToBF16(_ m: Transformer) {
        let n = m.layout.totalCount
        var low = [UInt16](repeating: 0, count: n)
        rpp_f32_to_bf16(m.params.pointer, &low, n)
        rpp_bf16_to_f32(low, m.params.pointer, n)
    }

    func testBF16LogprobsStayWithinTheStatedBoundOfFP32() throws {
        let fp32 = try model()
        let bf16 = try model()
        bf16.usePrecision(.bf16)
        XCTAssertEqual(bf16.precision, .bf16)
        let a = try fp32.sequenceLogProbs(Self.rows).logp
        let b = try bf16.sequenceLogProbs(Self.rows).logp
        let diff = maxAbsDiff(a, b)
        XCTAssertLessThan(diff, 0.02, "bf16 log-probs within 0.02 nats of fp32 on this model")
        XCTAssertGreaterThan(diff, 0, "the bf16 path really rounds")
    }

    func testBF16ModelComputesWithTheRoundedWeights() throws {
        // The products use exactly the bf16 values: an fp32 model given those values agrees closely (the only
        // differences are how each kernel rounds activations and orders its sums).
        let bf16 = try model()
        let rounded = try model()
        bf16.usePrecision(.bf16)
        roundToBF16(rounded)
        let a = try bf16.sequenceLogProbs(Self.rows).logp
        let b = try rounded.sequenceLogProbs(Self.rows).logp
        XCTAssertLessThan(maxAbsDiff(a, b), 0.01)
    }

    func testInferenceOnlyBF16ModelGivesItsFloat32ParametersBack() throws {
        let kept = try model()
        let slim = try model()
        kept.usePrecision(.bf16)
        slim.usePrecision(.bf16, keepFloat32: false)
        XCTAssertFalse(slim.holdsFloat32)
        XCTAssertEqual(slim.params.pointer[slim.layout.layers[0].wq], 0, "float32 pages given back read as zero")
        XCTAssertEqual(try slim.sequenceLogProbs(Self.rows).logp, try kept.sequenceLogProbs(Self.rows).logp)
        // Its tensors read back as the widened bf16 values.
        let name = "model.layers.1.mlp.up_proj.weight"
        let original = try XCTUnwrap(kept.tensor(name))
        let widened = try XCTUnwrap(slim.tensor(name))
        var bits = [UInt16](repeating: 0, count: original.count)
        var expected = original
        rpp_f32_to_bf16(original, &bits, original.count)
        rpp_bf16_to_f32(bits, &expected, original.count)
        XCTAssertEqual(widened, expected)
        // Without float32 parameters a checkpoint could neither be read into the copy nor written from zeros.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpp-slim-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        XCTAssertThrowsError(try slim.save(directory: directory)) { XCTAssertTrue("\($0)".contains("only its bf16")) }
        try kept.save(directory: directory)
        XCTAssertThrowsError(
            try slim.loadWeights(from: SafetensorsCheckpoint(directory: directory))
        ) { XCTAssertTrue("\($0)".contains("setWeights")) }
    }

    func testNewWeightsReachABF16OnlyModelFromEitherPrecision() throws {
        let source = try model(seed: 9)
        let slim = try model(seed: 1)
        let reference = try model(seed: 9)
        slim.usePrecision(.bf16, keepFloat32: false)
        reference.usePrecision(.bf16)
        try source.params.toArray().withUnsafeBufferPointer { try slim.setWeights(float32: $0) }
        let expected = try reference.sequenceLogProbs(Self.rows).logp
        XCTAssertEqual(try slim.sequenceLogProbs(Self.rows).logp, expected)
        // The same version as bf16 bits (a bf16 broadcast).
        var bits = [UInt16](repeating: 0, count: source.layout.totalCount)
        rpp_f32_to_bf16(source.params.pointer, &bits, bits.count)
        let other = try model(seed: 2)
        other.usePrecision(.bf16, keepFloat32: false)
        try bits.withUnsafeBufferPointer { try other.setWeights(bfloat16: $0) }
        XCTAssertEqual(try other.sequenceLogProbs(Self.rows).logp, expected)
        // An fp32 model given bf16 bits holds their exact widening.
        let wide = try model(seed: 2)
        try bits.withUnsafeBufferPointer { try wide.setWeights(bfloat16: $0) }
        XCTAssertEqual(wide.params.pointer[5], Float(bitPattern: UInt32(bits[5]) << 16))
        XCTAssertThrowsError(
            try [Float](repeating: 0, count: 3).withUnsafeBufferPointer { try slim.setWeights(float32: $0) })
    }

    func testOptimizerStepRefreshesTheBF16Copy() throws {
        let m = try model()
        m.usePrecision(.bf16)
        let before = try m.sequenceLogProbs(Self.rows)
        try m.backwardSequences(dLogp: before.logp.map { $0.map { _ in Float(-1) } })
        let opt = AdamW(model: m, schedule: LRSchedule(peak: 1e-2))
        opt.update(m)
        let after = try m.sequenceLogProbs(Self.rows).logp
        XCTAssertNotEqual(after, before.logp, "the step reached the bf16 copy")
        let check = try model()
        check.params.copy(from: m.params)
        check.usePrecision(.bf16)
        XCTAssertEqual(try check.sequenceLogProbs(Self.rows).logp, after, "copy equals the rounding of the masters")
    }

    func testBF16GradientsPointTheSameWayAsFP32() throws {
        func grads(_ precision: ModelPrecision) throws -> [Float] {
            let m = try model()
            m.usePrecision(precision)
            let lp = try m.sequenceLogProbs(Self.rows)
            m.zeroGrad()
            try m.backwardSequences(dLogp: lp.logp.map { $0.map { _ in Float(-1) } })
            return m.grads.toArray()
        }
        let saved = MatmulKernel.selected
        defer { MatmulKernel.selected = saved }
        let a = try grads(.fp32)
        // Every kernel (oneDNN's takes bf16 operands for the weight gradients too); one this CPU cannot run falls
        // back to widened.
        for kernel in MatmulKernel.allCases {
            MatmulKernel.selected = kernel
            let b = try grads(.bf16)
            var dot = 0.0
            var na = 0.0
            var nb = 0.0
            for (x, y) in zip(a, b) {
                dot += Double(x) * Double(y)
                na += Double(x * x)
                nb += Double(y * y)
            }
            XCTAssertGreaterThan(
                dot / (na.squareRoot() * nb.squareRoot()), 0.999, "\(kernel): cosine of the bf16 and fp32 gradients")
            XCTAssertEqual(nb.squareRoot() / na.squareRoot(), 1, accuracy: 0.01, "\(kernel)")
        }
    }

    func testDecodingInBF16AgreesWithTheBF16Forward() throws {
        let m = try model()
        m.usePrecision(.bf16, keepFloat32: false)
        let prompts: [[Int32]] = [[1, 5, 9, 2], [4, 8, 15, 16]]
        let g = try m.generate(prompts: prompts, options: SamplingOptions(temperature: 1, maxNewTokens: 6, seed: 7))
        let full = zip(prompts, g.tokens).map { $0 + $1 }
        let scored = try m.sequenceLogProbs(full).logp
        // Where the forward's attention products take bf16 operands too, decoding's stay float32.
        let bound: Float = MatmulKernel.selected.attentionInBF16() ? 1.5e-2 : 5e-3
        for (b, p) in prompts.enumerated() {
            let fromForward = Array(scored[b].suffix(g.tokens[b].count))
            for (x, y) in zip(fromForward, g.logprobs[b]) { XCTAssertEqual(x, y, accuracy: bound) }
        }
    }
}
