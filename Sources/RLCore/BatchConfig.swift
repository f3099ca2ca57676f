// Batch semantics of one RL iteration: how many samples are generated, how they are cut into optimiser
// steps (mini-batches of `trainBatchSize` samples) and micro-batches, and how many steps one iteration makes.
// All ranges index samples 0..<rolloutBatchSize·n of the rollout batch.

/// Sizes of one iteration. One iteration generates `rolloutBatchSize · samplesPerPrompt` samples, then trains
/// `maxEpochs` passes over them in optimiser steps of `trainBatchSize` samples, each split into micro-batches
/// of `microBatchSize` samples for memory.
public struct BatchConfig: Sendable, Equatable, Codable {
    /// `rollout_batch_size`: prompts per iteration.
    public var rolloutBatchSize: Int
    /// `n_samples_per_prompt`.
    public var samplesPerPrompt: Int
    /// `train_batch_size`: samples per optimiser step (the mini-batch).
    public var trainBatchSize: Int
    /// `micro_train_batch_size`: samples per forward/backward pass.
    public var microBatchSize: Int
    /// `max_epochs`: passes over the rollout batch per iteration.
    public var maxEpochs: Int

    /// Creates a batch configuration; call `validate()` before use.
    public init(
        rolloutBatchSize: Int, samplesPerPrompt: Int, trainBatchSize: Int, microBatchSize: Int, maxEpochs: Int = 1
    ) {
        self.rolloutBatchSize = rolloutBatchSize
        self.samplesPerPrompt = samplesPerPrompt
        self.trainBatchSize = trainBatchSize
        self.microBatchSize = microBatchSize
        self.maxEpochs = maxEpochs
    }

    /// The paper's defaults: 256 prompts × 4 samples, train batch 128, one epoch (micro-batch 16 here).
    public static let paperDefaults = BatchConfig(
        rolloutBatchSize: 256, samplesPerPrompt: 4, trainBatchSize: 128,
        microBatchSize: 16, maxEpochs: 1)

    /// Samples generated per iteration: `rolloutBatchSize · samplesPerPrompt`.
    public var samplesPerIteration: Int { rolloutBatchSize * samplesPerPrompt }
    /// Optimiser steps per epoch: `samplesPerIteration / trainBatchSize`.
    public var stepsPerEpoch: Int { samplesPerIteration / trainBatchSize }
    /// Optimiser steps per iteration: `maxEpochs · rolloutBatchSize · n / trainBatchSize`.
    public var optimizerStepsPerIteration: Int { maxEpochs * stepsPerEpoch }
    /// Micro-batches per optimiser step: `trainBatchSize / microBatchSize`.
    public var microBatchesPerStep: Int { trainBatchSize / microBatchSize }

    /// Checks the sizes; the error names the setting and says what to change.
    public func validate() throws {
        let fields: [(String, Int)] = [
            ("rollout_batch_size", rolloutBatchSize), ("n_samples_per_prompt", samplesPerPrompt),
            ("train_batch_size", trainBatchSize), ("micro_train_batch_size", microBatchSize),
            ("max_epochs", maxEpochs),
        ]
        for (name, value) in fields where value < 1 {
            throw RLConfigError(field: name, "is \(value); it must be at least 1")
        }
        let (total, overflow) = rolloutBatchSize.multipliedReportingOverflow(by: samplesPerPrompt)
        guard !overflow else {
            throw RLConfigError(field: "rollout_batch_size", "times n_samples_per_prompt overflows; use smaller sizes")
        }
        guard trainBatchSize <= total else {
            throw RLConfigError(
                field: "train_batch_size",
                "is \(trainBatchSize) but one iteration makes only \(total) samples "
                    + "(rollout_batch_size \(rolloutBatchSize) × n_samples_per_prompt \(samplesPerPrompt)): "
                    + "lower train_batch_size to at most \(total)")
        }
        guard total % trainBatchSize == 0 else {
            throw RLConfigError(
                field: "train_batch_size",
                "is \(trainBatchSize), which does not divide the \(total) samples of an iteration "
                    + "(rollout_batch_size \(rolloutBatchSize) × n_samples_per_prompt \(samplesPerPrompt)): "
                    + "choose a divisor of \(total), e.g. \(Self.nearestDivisor(of: total, near: trainBatchSize))")
        }
        guard microBatchSize <= trainBatchSize else {
            throw RLConfigError(
                field: "micro_train_batch_size",
                "is \(microBatchSize), larger than train_batch_size \(trainBatchSize): lower it to a divisor of \(trainBatchSize)"
            )
        }
        guard trainBatchSize % microBatchSize == 0 else {
            throw RLConfigError(
                field: "micro_train_batch_size",
                "is \(microBatchSize), which does not divide train_batch_size \(trainBatchSize): "
                    + "choose a divisor, e.g. \(Self.nearestDivisor(of: trainBatchSize, near: microBatchSize))")
        }
    }

    /// `validate()` plus the needs of an estimator (a group estimator needs n > 1).
    public func validate(for estimator: AdvantageEstimator) throws {
        try validate()
        if estimator.usesGroupBaseline && samplesPerPrompt < 2 {
            throw RLConfigError(
                field: "n_samples_per_prompt",
                "is 1 but estimator \(estimator.rawValue) needs a group of samples per prompt: "
                    + "set n_samples_per_prompt to 2 or more, or use reinforce or gae")
        }
    }

    /// The mini-batches (optimiser steps) of one epoch, in order: consecutive ranges of `trainBatchSize` samples.
    public func miniBatches() -> [Range<Int>] {
        Self.split(0..<samplesPerIteration, size: trainBatchSize)
    }

    /// The micro-batches of one mini-batch: consecutive ranges of at most `microBatchSize` samples.
    public func microBatches(of miniBatch: Range<Int>) -> [Range<Int>] {
        Self.split(miniBatch, size: microBatchSize)
    }

    /// Every optimiser step of one iteration (all epochs), each with its micro-batches.
    public func schedule() -> [OptimizerStep] {
        var steps: [OptimizerStep] = []
        steps.reserveCapacity(max(0, optimizerStepsPerIteration))
        let minis = miniBatches()
        for epoch in 0..<max(0, maxEpochs) {
            for mini in minis {
                steps.append(
                    OptimizerStep(
                        epoch: epoch, index: steps.count, samples: mini,
                        microBatches: microBatches(of: mini)))
            }
        }
        return steps
    }

    /// Splits `range` into consecutive pieces of `size` (the last may be shorter). `size < 1` gives one piece.
    public static func split(_ range: Range<Int>, size: Int) -> [Range<Int>] {
        guard size >= 1, !range.isEmpty else { return range.isEmpty ? [] : [range] }
        var out: [Range<Int>] = []
        out.reserveCapacity((range.count + size - 1) / size)
        var start = range.lowerBound
        while start < range.upperBound {
            let end = start + min(size, range.upperBound - start)
            out.append(start..<end)
            start = end
        }
        return out
    }

    /// The divisor of `n` closest to `target` (ties go to the smaller one).
    static func nearestDivisor(of n: Int, near target: Int) -> Int {
        guard n > 0 else { return 1 }
        var best = 1
        var d = 1
        while d * d <= n {
            if n % d == 0 {
                for c in [d, n / d]
                where abs(c - target) < abs(best - target) || (abs(c - target) == abs(best - target) && c < best) {
                    best = c
                }
            }
            d += 1
        }
        return best
    }
}

/// One optimiser step of an iteration.
public struct OptimizerStep: Sendable, Equatable {
    /// Epoch (0-based) the step belongs to.
    public var epoch: Int
    /// Step number within the iteration (0-based).
    public var index: Int
    /// Samples of the mini-batch.
    public var samples: Range<Int>
    /// Its micro-batches; their union is `samples`.
    public var microBatches: [Range<Int>]
}
