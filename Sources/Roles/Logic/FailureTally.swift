// The learner's count of the work units the rollout workers could not do. A unit that fails goes back to
// the queue; when `limit` units fail at the same stage with none done in between, every unit is failing
// the same way (a value the model cannot serve, a scoring server that is gone) and waiting longer would
// wait forever, so the run stops with the workers' error.
import Wire

/// Counts unit failures per stage since the last unit done, and says when the run must stop.
public struct FailureTally: Sendable, Equatable {
    /// What the learner does after a failure.
    public enum Verdict: Sendable, Equatable {
        /// Hand the unit out again.
        case retry
        /// Stop the run; the message says why, with the workers' last error.
        case stop(String)
    }

    /// Failures of one stage, with no unit done in between, that stop the run (at least 1).
    public let limit: Int
    private var counts: [UnitFailure.Stage: Int] = [:]

    /// A tally with the default limit, 8 (`cluster.max_unit_failures`).
    public init() { limit = 8 }

    /// A tally that stops after `limit` failures of one stage in a row.
    public init(limit: Int) throws(RolesError) {
        guard limit >= 1 else {
            throw RolesError(.invalidConfig, "cluster.max_unit_failures must be at least 1 (found \(limit))")
        }
        self.limit = limit
    }

    /// Failures of `stage` since the last unit done.
    public func count(_ stage: UnitFailure.Stage) -> Int { counts[stage, default: 0] }

    /// Records one failure.
    public mutating func record(_ failure: UnitFailure) -> Verdict {
        let n = counts[failure.stage, default: 0] + 1
        counts[failure.stage] = n
        guard n >= limit else { return .retry }
        let unit = failure.unitID == 0 ? "a work unit it could not read" : "unit \(failure.unitID)"
        return .stop(
            "\(n) work units failed in a row at the \(failure.stage.rawValue) stage on the rollout workers, "
                + "none done in between (cluster.max_unit_failures = \(limit)); the last: worker "
                + "\(failure.workerID), \(unit): \(failure.message)")
    }

    /// A unit was done: the workers can make progress, so every count starts again.
    public mutating func unitDone() { counts.removeAll() }
}
