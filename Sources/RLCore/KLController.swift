// KL coefficient controllers: a fixed β, and the adaptive controller of Ziegler et al. (2019) that moves β so
// that the measured KL to the reference tracks a target:
//   e = clamp(KL / target - 1, -0.2, 0.2);  β ← β · (1 + e · nSteps / horizon)
// where nSteps is the number of samples the KL was measured on.

/// Supplies the KL coefficient β for the next iteration and learns from the KL measured in the last one.
public protocol KLController: Sendable {
    /// The current coefficient β.
    var value: Double { get }
    /// Updates β from the KL to the reference measured over `steps` samples.
    mutating func update(currentKL: Double, steps: Int)
}

/// A constant β.
public struct FixedKLController: KLController, Equatable {
    /// The coefficient.
    public private(set) var value: Double

    /// Creates a controller that always returns `value`.
    public init(value: Double) { self.value = value }

    /// Does nothing: β is fixed.
    public mutating func update(currentKL: Double, steps: Int) {}
}

/// The adaptive controller of Ziegler et al.: proportional control of β towards a target KL.
public struct AdaptiveKLController: KLController, Equatable {
    /// The current coefficient β.
    public private(set) var value: Double
    /// Target KL to the reference (per token of the measured statistic).
    public let target: Double
    /// Horizon in samples: the larger, the slower β moves.
    public let horizon: Double

    /// Creates the controller with an initial β, a target KL and a horizon (validated by `RLConfig`).
    public init(initial: Double, target: Double, horizon: Double) {
        self.value = initial
        self.target = target
        self.horizon = horizon
    }

    /// `β ← β · (1 + clamp(KL/target - 1, -0.2, 0.2) · steps / horizon)`. Non-finite KL leaves β unchanged.
    public mutating func update(currentKL: Double, steps: Int) {
        guard currentKL.isFinite, target > 0, horizon > 0 else { return }
        let error = Swift.min(Swift.max(currentKL / target - 1, -0.2), 0.2)
        value *= 1 + error * Double(steps) / horizon
    }
}
