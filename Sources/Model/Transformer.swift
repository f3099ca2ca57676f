// Transformer: a Llama-family decoder whose parameters, gradients and AdamW moments are each one
// contiguous Float32 buffer (see ParameterLayout), with activations in one arena sized per batch shape.
import Foundation

/// Pointers into the activation arena for one batch shape (B, T); see `ActivationArena.layout`.
struct Activations {
    var B = 0, T = 0
    var residual: [UnsafeMutablePointer<Float>] = []   // L+1 × [N, C]
    var ln1: [UnsafeMutablePointer<Float>] = [], rstd1: [UnsafeMutablePointer<Float>] = []
    var q: [UnsafeMutablePointer<Float>] = [], k: [UnsafeMutablePointer<Float>] = [], v: [UnsafeMutablePointer<Float>] = []
    var attStats: [UnsafeMutablePointer<Float>] = [], attOut: [UnsafeMutablePointer<Float>] = []
    var resMid: [UnsafeMutablePointer<Float>] = []
    var ln2: [UnsafeMutablePointer<Float>] = [], rstd2: [UnsafeMutablePointer<Float>] = []
    var gate: [UnsafeMutablePointer<Float>] = [], up: [UnsafeMutablePointer<Float>] = [], h: [UnsafeMutablePointer<Float>] = []
    // q/k before their per-head RMSNorm and its 1/rms (Qwen3; empty blocks otherwise).
    var qRaw: [UnsafeMutablePointer<Float>] = [], kRaw: [UnsafeMutablePointer<Float>] = []
    var qRstd: [UnsafeMutablePointer<Float>] = [], kRstd: [UnsafeMutablePointer<Float>] = []
    var lnf: UnsafeMutablePointer<Float>! , rstdf: UnsafeMutablePointer<Float>!
    var lse: UnsafeMutablePointer<Float>!, meanZ: UnsafeMutablePointer<Float>!
    // Backward scratch, shared by all layers.
    var dX: UnsafeMutablePointer<Float>!, dLn: UnsafeMutablePointer<Float>!, proj: UnsafeMutablePointer<Float>!
    var dq: UnsafeMutablePointer<Float>!, dk: UnsafeMutablePointer<Float>!, dv: UnsafeMutablePointer<Float>!
    var dAtt: UnsafeMutablePointer<Float>!, dGate: UnsafeMutablePointer<Float>!, dUp: UnsafeMutablePointer<Float>!
    var dH: UnsafeMutablePointer<Float>!, headScratch: UnsafeMutablePointer<Float>!
    var dqRaw: UnsafeMutablePointer<Float>!, dkRaw: UnsafeMutablePointer<Float>!
}

/// One buffer holding every activation of a forward/backward pass; grows when a larger shape arrives.
final class ActivationArena {
    private var buffer = FloatBuffer(count: 0)
    private(set) var acts = Activations()

    /// Lays out the activations for (B, T) and returns them (reallocating only when larger).
    func layout(config c: ModelConfig, B: Int, T: Int) -> Activations {
        if acts.B == B && acts.T == T { return acts }
        let N = B * T, C = c.hiddenSize, F = c.intermediateSize, L = c.numLayers
        let qd = c.numHeads * c.headDim, kvd = c.numKVHeads * c.headDim
        let att = B * c.numHeads * T * 2   // softmax statistics; the probabilities are recomputed
        let chunk = vocabChunk(N: N, V: c.vocabSize)
        var sizes: [Int] = []
        sizes += Array(repeating: N * C, count: L + 1)
        let perLayer = [N * C, N, N * qd, N * kvd, N * kvd, att, N * qd, N * C, N * C, N, N * F, N * F, N * F]
        let qk = c.qkNorm ? 1 : 0
        let perLayerNorm = [N * qd * qk, N * kvd * qk, N * c.numHeads * qk, N * c.numKVHeads * qk]
        for _ in 0..<L { sizes += perLayer + perLayerNorm }
        sizes += [N * C, N, N, N]
        sizes += [N * C, N * C, N * C, N * qd, N * kvd, N * kvd, N * qd, N * F, N * F, N * F, N * max(chunk, 1)]
        sizes += [N * qd * qk, N * kvd * qk]
        // Round every block to 16 floats so each starts 64-byte aligned.
        let rounded = sizes.map { ($0 + 15) & ~15 }
        let total = rounded.reduce(0, +)
        if buffer.count < total { buffer = FloatBuffer(count: total) }
        var off = 0
        var it = rounded.makeIterator()
        func next() -> UnsafeMutablePointer<Float> { let p = buffer.pointer + off; off += it.next()!; return p }
        var a = Activations(); a.B = B; a.T = T
        for _ in 0...L { a.residual.append(next()) }
        for _ in 0..<L {
            a.ln1.append(next()); a.rstd1.append(next()); a.q.append(next()); a.k.append(next()); a.v.append(next())
            a.attStats.append(next()); a.attOut.append(next()); a.resMid.append(next()); a.ln2.append(next())
            a.rstd2.append(next()); a.gate.append(next()); a.up.append(next()); a.h.append(next())
            a.qRaw.append(next()); a.kRaw.append(next()); a.qRstd.append(next()); a.kRstd.append(next())
        }
        a.lnf = next(); a.rstdf = next(); a.lse = next(); a.meanZ = next()
        a.dX = next(); a.dLn = next(); a.proj = next(); a.dq = next(); a.dk = next(); a.dv = next()
        a.dAtt = next(); a.dGate = next(); a.dUp = next(); a.dH = next(); a.headScratch = next()
        a.dqRaw = next(); a.dkRaw = next()
        acts = a
        return a
    }
}

/// A decoder-only Llama / Qwen2 transformer on the CPU with hand-written forward and backward passes.
///
/// Call `forward(tokens:batch:seqLen:)` first; then `logProbs(targets:temperature:withEntropy:)` (language
/// model) or `values()` (scalar head); then the matching backward, which accumulates into `grads`.
/// Not thread-safe: one model per task.
public final class Transformer: @unchecked Sendable {
    /// Architecture.
    public let config: ModelConfig
    /// Name, shape and offset of every parameter tensor.
    public let layout: ParameterLayout
    /// All parameters, one contiguous buffer.
    public let params: FloatBuffer
    /// Gradients, same layout as `params`.
    public let grads: FloatBuffer
    let rope: RopeTable
    let arena = ActivationArena()
    var acts = Activations()
    var tokens: [Int32] = []
    var positions: [Int32] = []
    var starts: [Int] = []
    var targets: [Int32] = []
    var headTemperature: Float = 1
    var forwardDone = false, headDone = false
    /// Serial queue on which `perform` runs work, off Swift's cooperative pool.
    let queue = DispatchQueue(label: "rpp.model.transformer")

    /// A model with zero parameters; call `initializeWeights(seed:)` or load a checkpoint. Throws before
    /// allocating when the config is invalid or the model does not fit in this machine's memory.
    public init(config: ModelConfig) throws {
        try config.validate()
        try config.checkMemory()
        Parallel.configure()
        self.config = config
        layout = ParameterLayout(config: config)
        params = FloatBuffer(count: layout.totalCount)
        grads = FloatBuffer(count: layout.totalCount)
        rope = RopeTable(headDim: config.headDim, maxPos: config.maxPositionEmbeddings, theta: config.ropeTheta,
                         scaling: config.ropeScaling)
    }

    /// Number of parameters.
    public var parameterCount: Int { layout.totalCount }

    /// Normal(0, std) weights, ones for norms, zeros for biases; reproducible for a seed.
    public func initializeWeights(seed: UInt64, std: Float = 0.02) {
        var rng = Xoshiro256(seed: seed)
        for s in layout.specs {
            let p = params.pointer + s.offset
            if s.name.hasSuffix("norm.weight") { p.update(repeating: 1, count: s.count) }
            else if s.name.hasSuffix(".bias") { p.update(repeating: 0, count: s.count) }
            else { for i in 0..<s.count { p[i] = Float(rng.normal()) * std } }
        }
    }

    /// Initialises as PyTorch's module defaults would (a hand-written PyTorch Llama): every Linear
    /// weight [out, in] (projections, lm_head, score) and bias uniform in ±1/sqrt(in) (kaiming-uniform with
    /// a = sqrt(5)), the embedding Normal(0, 1), norms ones; reproducible for a seed.
    public func initializeWeightsTorchDefaults(seed: UInt64) {
        var rng = Xoshiro256(seed: seed)
        var fanIn: [String: Int] = [:]
        for s in layout.specs where s.shape.count == 2 { fanIn[s.name] = s.shape[1] }
        for s in layout.specs {
            let p = params.pointer + s.offset
            if s.name.hasSuffix("norm.weight") { p.update(repeating: 1, count: s.count) }
            else if s.offset == layout.embed { for i in 0..<s.count { p[i] = Float(rng.normal()) } }
            else {
                let weight = s.name.hasSuffix(".bias") ? String(s.name.dropLast(5)) + ".weight" : s.name
                let bound = 1 / Float(fanIn[weight] ?? s.shape.last ?? 1).squareRoot()
                for i in 0..<s.count { p[i] = Float(rng.uniform() * 2 - 1) * bound }
            }
        }
    }

    /// Runs `body` on this model's own serial dispatch queue and resumes the caller with its result, so
    /// async code (actors, tasks) never blocks a cooperative-pool thread on the kernels.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (Transformer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { cont in
            queue.async {
                do { cont.resume(returning: try body(self)) } catch { cont.resume(throwing: error) }
            }
        }
    }

    /// Sets every gradient to zero.
    public func zeroGrad() { grads.zero() }

    /// A copy of the parameter tensor named `name` (Hugging Face name).
    public func tensor(_ name: String) -> [Float]? {
        guard let s = layout.spec(named: name) else { return nil }
        return Array(UnsafeBufferPointer(start: params.pointer + s.offset, count: s.count))
    }
}
