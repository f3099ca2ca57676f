// How a learner run ended, as the loop's counters tell it.

/// How a learner run ended.
public struct LearnerResult: Sendable {
    /// Iterations completed.
    public var iterations: Int
    /// Final policy version.
    public var policyVersion: UInt64
    /// Held-out (validation) accuracy before training, if evaluated.
    public var initialAccuracy: Double?
    /// Held-out (validation) accuracy of the last evaluation, if any.
    public var finalAccuracy: Double? { evaluations.last }
    /// Held-out (validation) accuracy of every evaluation during training in this process, in order.
    public var evaluations: [Double] = []
    /// The mean of the last three evaluations (the figure `make run` is judged by), when there were three.
    public var meanOfLastThree: Double? {
        evaluations.count >= 3 ? evaluations.suffix(3).reduce(0, +) / 3 : nil
    }
    /// Test-split accuracy at the end, if evaluated.
    public var testAccuracy: Double?
    /// The last checkpoint directory.
    public var checkpoint: String?
    /// True when `stop()` (or the time limit) ended the run early.
    public var stoppedEarly: Bool
}

extension LearnerLoop {
    /// The run so far (the checkpoint directory is the shell's to fill in).
    public var result: LearnerResult {
        LearnerResult(
            iterations: iteration, policyVersion: policyVersion, initialAccuracy: initialAccuracy,
            evaluations: evaluations, testAccuracy: testAccuracy, stoppedEarly: stoppedEarly)
    }
}
