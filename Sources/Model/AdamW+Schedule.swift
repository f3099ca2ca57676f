// AdamW with decoupled weight decay (as torch.optim.AdamW), global gradient-norm clipping, and a
// warmup + cosine learning-rate schedule with a minimum ratio (or constant after warmup).
// The first and second moments are each one contiguous buffer with the parameters' layout.
import CKernels
import Foundation

/// Learning-rate schedule: linear warmup from lr/warmup to lr, then constant or cosine down to lr·minRatio.
public struct LRSchedule: Sendable, Equatable {
    /// Peak learning rate.
    public var peak: Float
    /// Linear warmup steps (0: none).
    public var warmupSteps: Int
    /// Total steps for the cosine; nil means constant after warmup.
    public var cosineTotalSteps: Int?
    /// Floor of the cosine as a fraction of `peak`.
    public var minRatio: Float

    /// A schedule; nil `cosineTotalSteps` keeps the rate constant after warmup.
    public init(peak: Float, warmupSteps: Int = 0, cosineTotalSteps: Int? = nil, minRatio: Float = 0.1) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.cosineTotalSteps = cosineTotalSteps
        self.minRatio = minRatio
    }

    /// Learning rate of optimiser step `step` (0-based).
    public func rate(step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        guard let total = cosineTotalSteps, total > warmupSteps else { return peak }
        let progress = min(1, Float(step - warmupSteps) / Float(total - warmupSteps))
        let cosine = 0.5 * (1 + cos(Float.pi * progress))
        return peak * (minRatio + (1 - minRatio) * cosine)
    }
}

/// AdamW state and hyper-parameters for one `Transformer`.
public final class AdamW: @unchecked Sendable {
    /// Adam betas, epsilon and decoupled weight decay (applied to matrices only).
    public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    /// Global gradient-norm bound (nil: no clipping).
    public var clipNorm: Float?
    /// Learning-rate schedule, indexed by `step`.
    public var schedule: LRSchedule
    /// Optimiser steps taken so far.
    public internal(set) var step = 0
    /// First moments, same layout as the parameters.
    public let m: FloatBuffer
    /// Second moments, same layout as the parameters.
    public let v: FloatBuffer
    /// 1 where weight decay applies (matrices), 0 for norms and biases.
    let decayMask: [Bool]
    let specs: [TensorSpec]

    /// Zeroed moments for `model`'s parameters.
    public init(
        model: Transformer, schedule: LRSchedule, beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8,
        weightDecay: Float = 0, clipNorm: Float? = 1.0
    ) {
        self.schedule = schedule
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.clipNorm = clipNorm
        m = FloatBuffer(count: model.parameterCount, lazy: true)
        v = FloatBuffer(count: model.parameterCount, lazy: true)
        // Every step reads and then writes both moments.
        m.backPages()
        v.backPages()
        specs = model.layout.specs
        decayMask = specs.map { $0.shape.count == 2 }
    }

    /// L2 norm of all gradients (computed in Double). The per-core partial sums are added in range order, not
    /// in the order the cores finish, so the result does not vary from run to run (replay relies on it).
    public static func gradNorm(_ g: FloatBuffer) -> Double {
        var partials: [(start: Int, sum: Double)] = []
        let lock = NSLock()
        Parallel.ranges(g.count, minChunk: 1 << 14) { r in
            var s: Float = 0
            var acc = 0.0
            var i = r.lowerBound
            while i < r.upperBound {
                let e = min(i + 4096, r.upperBound)
                s = 0
                for j in i..<e { s += g.pointer[j] * g.pointer[j] }
                acc += Double(s)
                i = e
            }
            lock.lock()
            partials.append((r.lowerBound, acc))
            lock.unlock()
        }
        return partials.sorted { $0.start < $1.start }.reduce(0.0) { $0 + $1.sum }.squareRoot()
    }

    /// Clips, then applies one AdamW update to `model.params` from `model.grads`; returns (lr, grad norm before clipping).
    /// The gradients are left scaled (call `zeroGrad` before the next accumulation).
    @discardableResult
    public func update(_ model: Transformer) -> (lr: Float, gradNorm: Double) {
        let norm = AdamW.gradNorm(model.grads)
        var scale: Float = 1
        if let c = clipNorm, norm > Double(c) { scale = Float(Double(c) / (norm + 1e-6)) }
        let lr = schedule.rate(step: step)
        step += 1
        let P = model.params.pointer
        let G = model.grads.pointer
        let M = m.pointer
        let Vv = v.pointer
        // A bf16 model's copy is rounded in the same pass, while the new values are in cache.
        let low = model.holdsFloat32 ? model.lowWeights?.pointer : nil
        for (k, s) in specs.enumerated() {
            let constants = RppAdamWStep(
                scale: scale, beta1: beta1, beta2: beta2, correction1: 1 - powf(beta1, Float(step)),
                correction2: 1 - powf(beta2, Float(step)), lr: lr, decay: decayMask[k] ? 1 - lr * weightDecay : 1,
                eps: eps)
            withUnsafePointer(to: constants) { c in
                Parallel.ranges(s.count, minChunk: 1 << 14) { r in
                    let j = s.offset + r.lowerBound
                    rpp_adamw_update(P + j, G + j, M + j, Vv + j, low.map { $0 + j }, r.count, c)
                }
            }
        }
        model.weightsChanged(bf16CopyCurrent: low != nil)
        return (lr, norm)
    }
}
