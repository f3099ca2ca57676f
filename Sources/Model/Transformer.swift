// Transformer: a Llama-family decoder whose parameters, gradients and AdamW moments are each one
// contiguous Float32 buffer (see ParameterLayout), with activations in one arena sized per batch shape
// (see ActivationArena); every layer runs the one decoder block (DecoderBlock).
import CSupport
import Foundation

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
    /// The sequences of the last forward (for the backward's attention).
    var attention = AttentionShape(B: 0, T: 0, H: 1, KV: 1, D: 2)
    var targets: [Int32] = []
    /// Positions (b·T + t) whose rows `sequenceLogProbs` sent through the head, in order.
    var headRows: [Int] = []
    var headTemperature: Float = 1
    var forwardDone = false, headDone = false
    /// Serial queue on which `perform` runs work, off Swift's cooperative pool.
    let queue = DispatchQueue(label: "rpp.model.transformer")
    /// How the products compute (see Transformer+Precision).
    public internal(set) var precision: ModelPrecision = .fp32
    /// The bfloat16 copy of every parameter when computing in bf16.
    var lowWeights: BFloat16Buffer?
    /// The vectors (norms, biases, score) the kernels read: `params` in fp32; in bf16 their widened bf16
    /// values, so that every parameter a bf16 model computes with is a bf16 value.
    var vectorBuffer: FloatBuffer?
    /// False once a bf16-only model gave its float32 parameters back (`usePrecision(_:keepFloat32:)`).
    public internal(set) var holdsFloat32 = true

    /// A model with zero parameters; call `initializeWeights(seed:)` or load a checkpoint. Throws before
    /// allocating when the config is invalid or the model does not fit in this machine's memory.
    public init(config: ModelConfig) throws {
        try config.validate()
        try config.checkMemory()
        Parallel.configure()
        self.config = config
        layout = ParameterLayout(config: config)
        params = FloatBuffer(count: layout.totalCount, lazy: true)
        grads = FloatBuffer(count: layout.totalCount, lazy: true)
        rope = RopeTable(
            headDim: config.headDim, maxPos: config.maxPositionEmbeddings, theta: config.ropeTheta,
            scaling: config.ropeScaling)
    }

    /// Number of parameters.
    public var parameterCount: Int { layout.totalCount }

    /// Normal(0, std) weights, ones for norms, zeros for biases; reproducible for a seed.
    public func initializeWeights(seed: UInt64, std: Float = 0.02) {
        var rng = Xoshiro256(seed: seed)
        for s in layout.specs {
            let p = params.pointer + s.offset
            if s.name.hasSuffix("norm.weight") {
                p.update(repeating: 1, count: s.count)
            } else if s.name.hasSuffix(".bias") {
                p.update(repeating: 0, count: s.count)
            } else {
                for i in 0..<s.count { p[i] = Float(rng.normal()) * std }
            }
        }
        weightsChanged()
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
            if s.name.hasSuffix("norm.weight") {
                p.update(repeating: 1, count: s.count)
            } else if s.offset == layout.embed {
                for i in 0..<s.count { p[i] = Float(rng.normal()) }
            } else {
                let weight = s.name.hasSuffix(".bias") ? String(s.name.dropLast(5)) + ".weight" : s.name
                let bound = 1 / Float(fanIn[weight] ?? s.shape.last ?? 1).squareRoot()
                for i in 0..<s.count { p[i] = Float(rng.uniform() * 2 - 1) * bound }
            }
        }
        weightsChanged()
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
        if !holdsFloat32, let low = lowWeights {
            var out = [Float](repeating: 0, count: s.count)
            out.withUnsafeMutableBufferPointer { rpp_bf16_to_f32(low.pointer + s.offset, $0.baseAddress!, s.count) }
            return out
        }
        return Array(UnsafeBufferPointer(start: params.pointer + s.offset, count: s.count))
    }
}
