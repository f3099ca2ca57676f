// Throughput measurement of the engine (used by `rpp bench model`): training steps
// (forward + log-probs + backward + AdamW) and KV-cache decoding, plus the sgemm peak of this
// machine measured the same way the kernels call it.
import COpenBLAS
import Foundation

/// A benchmark shape: architecture and batch.
public struct ModelBenchShape: Sendable {
    public let name: String
    public let config: ModelConfig
    public let batch: Int, seqLen: Int
    /// Prompt length of the decode measurement when the shape fixes it (rollout); nil = the caller's.
    public var promptLength: Int? = nil
    /// Rows per distinct prompt in the decode measurement (a work unit samples each prompt this often).
    public var samplesPerPrompt = 1

    /// tiny, small, base, rollout (the default RL task's rollout call: 64 rows = 16 prompts × 4 samples,
    /// prompt width 8, 6 new tokens, vocab 16; see Deploy/rpp.yaml), or smollm2 (SmolLM2-135M's architecture).
    public static func named(_ n: String) -> ModelBenchShape? {
        func cfg(_ c: Int, _ l: Int, _ h: Int, _ f: Int, vocab: Int = 32) -> ModelConfig {
            ModelConfig(
                hiddenSize: c, intermediateSize: f, numLayers: l, numHeads: h, numKVHeads: h, vocabSize: vocab,
                maxPositionEmbeddings: 256)
        }
        switch n {
        case "tiny": return ModelBenchShape(name: n, config: cfg(128, 4, 4, 384), batch: 64, seqLen: 64)
        case "small": return ModelBenchShape(name: n, config: cfg(256, 6, 8, 768), batch: 32, seqLen: 128)
        case "base": return ModelBenchShape(name: n, config: cfg(512, 8, 8, 1536), batch: 32, seqLen: 128)
        case "rollout":
            return ModelBenchShape(
                name: n, config: cfg(128, 4, 4, 384, vocab: 16), batch: 64, seqLen: 14, promptLength: 8,
                samplesPerPrompt: 4)
        case "smollm2":
            return ModelBenchShape(name: n, config: .smolLM2Shape, batch: 8, seqLen: 256)
        default: return nil
        }
    }
}

extension ModelConfig {
    /// The architecture of SmolLM2-135M: 30 layers, hidden 576, 9 heads over 3 KV heads, FFN 1536, vocabulary
    /// 49,152, tied embeddings, 8,192 positions.
    public static let smolLM2Shape = ModelConfig(
        hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9,
        numKVHeads: 3, vocabSize: 49_152, rmsNormEps: 1e-5, ropeTheta: 100_000,
        tieWordEmbeddings: true, maxPositionEmbeddings: 8192)
}

/// Results of one shape.
public struct ModelBenchResult: Sendable {
    public var trainTokensPerSecond: Double
    public var decodeTokensPerSecond: Double
    public var trainGFLOPS: Double
}

/// The benchmark routines.
public enum ModelBench {
    /// GFLOPS of a 1024³ sgemm split over both cores as the kernels do (best of `repeats`).
    public static func sgemmGFLOPS(n: Int = 1024, repeats: Int = 8) -> Double {
        Parallel.configure()
        let a = FloatBuffer(count: n * n)
        let b = FloatBuffer(count: n * n)
        let c = FloatBuffer(count: n * n)
        for i in 0..<n * n {
            a.pointer[i] = Float(i % 7) * 0.1
            b.pointer[i] = Float(i % 5) * 0.1
        }
        sgemm(
            transA: false, transB: true, M: n, N: n, K: n, alpha: 1, A: a.pointer, lda: n, B: b.pointer, ldb: n,
            beta: 0, C: c.pointer, ldc: n)
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = Date()
            sgemm(
                transA: false, transB: true, M: n, N: n, K: n, alpha: 1, A: a.pointer, lda: n, B: b.pointer, ldb: n,
                beta: 0, C: c.pointer, ldc: n)
            best = min(best, Date().timeIntervalSince(t0))
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    /// Training FLOPs per token: 6 × (matrix parameters incl. the head) + 6 × attention (2 · T · C per layer, causal half counted fully).
    public static func trainFLOPsPerToken(_ c: ModelConfig, seqLen T: Int) -> Double {
        let C = c.hiddenSize
        let D = c.headDim
        let perLayer = C * (c.numHeads * D) * 2 + C * (c.numKVHeads * D) * 2 + 3 * C * c.intermediateSize
        let matrix = Double(c.numLayers * perLayer + c.vocabSize * C)
        return 6 * matrix + 6 * Double(c.numLayers * 2 * T * C)
    }

    /// Times `steps` training steps and generations of seqLen − promptLength tokens per row (repeated
    /// for at least half a second; the shape's own prompt length wins over `promptLength`).
    /// In bf16 training keeps float32 masters and decoding runs on the bf16 weights alone.
    public static func run(
        shape s: ModelBenchShape, steps: Int, promptLength: Int,
        precision: ModelPrecision = .fp32
    ) throws -> ModelBenchResult {
        let m = try Transformer(config: s.config)
        m.initializeWeights(seed: 1)
        m.usePrecision(precision)
        let opt = AdamW(model: m, schedule: LRSchedule(peak: 1e-4))
        var rng = Xoshiro256(seed: 2)
        let N = s.batch * s.seqLen
        let tokens = (0..<N).map { _ in Int32(rng.next() % UInt64(s.config.vocabSize)) }
        let targets = (0..<N).map { i in i % s.seqLen == s.seqLen - 1 ? Int32(0) : tokens[i + 1] }
        let dlogp = [Float](repeating: -1 / Float(N), count: N)
        func step() throws {
            try m.forward(tokens: tokens, batch: s.batch, seqLen: s.seqLen)
            _ = try m.logProbs(targets: targets)
            m.zeroGrad()
            try m.backward(dLogp: dlogp)
            opt.update(m)
        }
        try step()
        let t0 = Date()
        for _ in 0..<steps { try step() }
        let trainTime = Date().timeIntervalSince(t0)
        let trainTPS = Double(N * steps) / trainTime
        let promptLength = s.promptLength ?? promptLength
        let prompts = (0..<s.batch).map { row in
            let b = row / s.samplesPerPrompt
            return Array(tokens[b * s.seqLen..<b * s.seqLen + promptLength])
        }
        let newTokens = s.seqLen - promptLength
        m.usePrecision(precision, keepFloat32: false)
        let opts = SamplingOptions(temperature: 1, maxNewTokens: newTokens, seed: 3)
        _ = try m.generate(prompts: Array(prompts.prefix(2)), options: SamplingOptions(temperature: 1, maxNewTokens: 4))
        let t1 = Date()
        var runs = 0
        repeat {
            _ = try m.generate(prompts: prompts, options: opts)
            runs += 1
        } while Date().timeIntervalSince(t1) < 0.5
        let decodeTPS = Double(s.batch * newTokens * runs) / Date().timeIntervalSince(t1)
        return ModelBenchResult(
            trainTokensPerSecond: trainTPS, decodeTokensPerSecond: decodeTPS,
            trainGFLOPS: trainTPS * trainFLOPsPerToken(s.config, seqLen: s.seqLen) / 1e9)
    }

    /// One training micro-batch of `batch` rows of `seqLen` tokens on a model of `config` with random weights:
    /// forward, log-probs, backward and an AdamW step (the learner's working set), for a peak-memory measurement.
    public static func trainOnce(config: ModelConfig, batch: Int, seqLen: Int) throws {
        let m = try Transformer(config: config)
        m.initializeWeights(seed: 1)
        let opt = AdamW(model: m, schedule: LRSchedule(peak: 1e-5))
        var rng = Xoshiro256(seed: 2)
        let N = batch * seqLen
        let tokens = (0..<N).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
        let targets = (0..<N).map { i in i % seqLen == seqLen - 1 ? Int32(0) : tokens[i + 1] }
        try m.forward(tokens: tokens, batch: batch, seqLen: seqLen)
        _ = try m.logProbs(targets: targets)
        m.zeroGrad()
        try m.backward(dLogp: [Float](repeating: -1 / Float(N), count: N))
        opt.update(m)
    }
}
