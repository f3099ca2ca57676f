// The learner's main loop as decisions, apart from any socket, model or file. The learner (the shell) asks
// for a decision, carries it out (evaluate, publish the weights, hand out an iteration's work units, wait for
// the batch, update, record the iteration, checkpoint) and reports what happened with the time it happened;
// the loop answers with the next decision. It holds the run's counters: iterations done, policy version,
// the evaluation and checkpoint cadences, the stop request and the time limit, and where a resumed run starts.
//
// One iteration i, on-policy (algorithm.max_staleness 0):
//   collect(i) → update(i) → [evaluate(validation i)] → publish(v) → begin(i+1) → record(i) → [checkpoint(i)]
// With overlap (max_staleness > 0) the next iteration's units go out as soon as the batch is complete:
//   collect(i) → begin(i+1) → update(i) → [evaluate(validation i)] → publish(v) → record(i) → [checkpoint(i)]
// The evaluation comes before the publish, so it has the cores to itself instead of competing with the
// broadcast and the next iteration's sampling.

/// The learner's schedule of one run. A value type: the shell supplies the clock and the stop request.
public struct LearnerLoop: Sendable, Equatable {
    /// What the run asks for.
    public struct Plan: Sendable, Equatable {
        /// Iterations of the whole run (run.iterations).
        public var iterations: Int
        /// Evaluate the validation set every this many iterations and at the last one; 0: never (eval.every).
        public var evaluateEvery: Int
        /// True when the task has validation prompts.
        public var hasValidation: Bool
        /// True when the task has test prompts (evaluated once at the end of a run that was not stopped).
        public var hasTest: Bool
        /// Checkpoint every this many iterations; 0: only at the end (checkpoint.every).
        public var checkpointEvery: Int
        /// Hand out the next iteration's units as soon as a batch is complete (algorithm.max_staleness > 0).
        public var overlap: Bool
        /// Stop after this many seconds of the run; 0: no limit (run.max_minutes × 60).
        public var maxSeconds: Double

        /// A plan.
        public init(
            iterations: Int, evaluateEvery: Int = 0, hasValidation: Bool = false, hasTest: Bool = false,
            checkpointEvery: Int = 0, overlap: Bool = false, maxSeconds: Double = 0
        ) {
            self.iterations = iterations
            self.evaluateEvery = evaluateEvery
            self.hasValidation = hasValidation
            self.hasTest = hasTest
            self.checkpointEvery = checkpointEvery
            self.overlap = overlap
            self.maxSeconds = maxSeconds
        }
    }

    /// A held-out evaluation.
    public enum Evaluation: Sendable, Equatable {
        /// The validation set before the first update (iteration 0).
        case beforeTraining
        /// The validation set after the update of `iteration`.
        case validation(iteration: Int)
        /// The test set at the end of the run, after `iteration`.
        case test(iteration: Int)
    }

    /// What the shell does next.
    public enum Decision: Sendable, Equatable {
        /// Evaluate, then report `.evaluated(accuracy:)`.
        case evaluate(Evaluation)
        /// Publish the current parameters as `version`, then report `.published`.
        case publish(version: UInt64)
        /// Hand out the prompts of `iteration` as work units, then report `.begun`.
        case begin(iteration: Int)
        /// Wait for the batch of `iteration` while `mustStop` is false, then report `.collected` or
        /// `.collectionStopped`.
        case collect(iteration: Int)
        /// Update the policy with the batch of `iteration`, then report `.updated`.
        case update(iteration: Int)
        /// Write the metrics row and the progress line of `iteration`, then report `.recorded`.
        case record(iteration: Int, times: IterationTimes)
        /// Save a checkpoint after `iteration`, then report `.checkpointed`.
        case checkpoint(iteration: Int)
        /// The run is over: save the final checkpoint; `result` tells how it ended.
        case finish
    }

    /// What the shell did.
    public enum Event: Sendable, Equatable {
        /// The shell is ready (checkpoint restored if resuming).
        case started
        /// An evaluation finished with this accuracy.
        case evaluated(accuracy: Double)
        /// The weights went out.
        case published
        /// The iteration's units were handed out.
        case begun
        /// The batch is complete.
        case collected
        /// The wait for the batch ended because the run must stop.
        case collectionStopped
        /// The update is done (the policy version moved on by one).
        case updated
        /// The iteration's metrics and progress line are written.
        case recorded
        /// The checkpoint is saved.
        case checkpointed
    }

    private enum Phase: Sendable, Equatable {
        case ready, evaluatingBefore, publishingFirst, beginningFirst
        case collecting(Int)
        case beginningAhead(Int)
        case updating(Int)
        case evaluating(Int)
        case publishing(Int)
        case beginningNext(Int, IterationTimes)
        case recording(Int)
        case checkpointing(Int)
        case testing, finished
    }

    /// When the phases of the iteration under way ended (seconds since the run started).
    private struct Marks: Sendable, Equatable {
        var collected = 0.0, updateStarted = 0.0, updated = 0.0
        var evaluated: Double?
    }

    /// The plan.
    public let plan: Plan
    /// Iterations done (a resumed run starts from its checkpoint's).
    public private(set) var iteration: Int
    /// Version of the current parameters.
    public private(set) var policyVersion: UInt64
    /// True once a stop was requested or the time limit passed.
    public private(set) var stopRequested = false
    /// True when the run ended before `plan.iterations` (a stop request or the time limit).
    public private(set) var stoppedEarly = false
    /// Validation accuracy before training, once evaluated.
    public private(set) var initialAccuracy: Double?
    /// Validation accuracy of every evaluation during training, in order.
    public private(set) var evaluations: [Double] = []
    /// Test accuracy at the end, once evaluated.
    public private(set) var testAccuracy: Double?
    /// Validation accuracy of the iteration being finished, if it had an evaluation.
    public private(set) var accuracy: Double?
    private var phase = Phase.ready
    private var collectStarts: [Int: Double] = [:]
    private var marks = Marks()

    /// A loop for `plan` starting after `iteration` iterations at `policyVersion` (0 and 0 for a new run; a
    /// checkpoint's for a resumed one).
    public init(plan: Plan, iteration: Int = 0, policyVersion: UInt64 = 0) {
        self.plan = plan
        self.iteration = iteration
        self.policyVersion = policyVersion
    }

    /// True when the shell must stop waiting: a stop was requested (now or before) or the time limit passed.
    public func mustStop(now: Double, requested: Bool) -> Bool {
        stopRequested || requested || (plan.maxSeconds > 0 && now > plan.maxSeconds)
    }

    /// The decision after `event`, which happened at `now` (seconds since the run started); `stopRequested` is
    /// true once the learner was asked to stop. Calling it with an event the last decision does not lead to is
    /// a programming error.
    public mutating func next(after event: Event, now: Double, stopRequested requested: Bool = false) -> Decision {
        if mustStop(now: now, requested: requested) { stopRequested = true }
        switch (phase, event) {
        case (.ready, .started):
            if evaluates && iteration == 0 {
                phase = .evaluatingBefore
                return .evaluate(.beforeTraining)
            }
            phase = .publishingFirst
            return .publish(version: policyVersion)
        case (.evaluatingBefore, .evaluated(let a)):
            initialAccuracy = a
            phase = .publishingFirst
            return .publish(version: policyVersion)
        case (.publishingFirst, .published):
            guard iteration < plan.iterations else { return afterLastIteration() }
            guard !stopRequested else { return stopEarly() }
            phase = .beginningFirst
            return begin(iteration + 1, now: now)
        case (.beginningFirst, .begun):
            phase = .collecting(iteration + 1)
            return .collect(iteration: iteration + 1)
        case (.collecting(let i), .collected):
            marks.collected = now
            if plan.overlap && i < plan.iterations && !stopRequested {
                phase = .beginningAhead(i)
                return begin(i + 1, now: now)
            }
            return update(i, now: now)
        case (.collecting, .collectionStopped):
            return stopEarly()
        case (.beginningAhead(let i), .begun):
            return update(i, now: now)
        case (.updating(let i), .updated):
            iteration = i
            policyVersion += 1
            marks.updated = now
            marks.evaluated = nil
            accuracy = nil
            if evaluates && (i % plan.evaluateEvery == 0 || i == plan.iterations) {
                phase = .evaluating(i)
                return .evaluate(.validation(iteration: i))
            }
            phase = .publishing(i)
            return .publish(version: policyVersion)
        case (.evaluating(let i), .evaluated(let a)):
            accuracy = a
            evaluations.append(a)
            marks.evaluated = now
            phase = .publishing(i)
            return .publish(version: policyVersion)
        case (.publishing(let i), .published):
            let times = times(of: i, published: now)
            if !plan.overlap && i < plan.iterations && !stopRequested {
                phase = .beginningNext(i, times)
                return begin(i + 1, now: now)
            }
            phase = .recording(i)
            return .record(iteration: i, times: times)
        case (.beginningNext(let i, let times), .begun):
            phase = .recording(i)
            return .record(iteration: i, times: times)
        case (.recording(let i), .recorded):
            if plan.checkpointEvery > 0 && i % plan.checkpointEvery == 0 && i < plan.iterations && !stopRequested {
                phase = .checkpointing(i)
                return .checkpoint(iteration: i)
            }
            return afterIteration(i)
        case (.checkpointing(let i), .checkpointed):
            return afterIteration(i)
        case (.testing, .evaluated(let a)):
            testAccuracy = a
            phase = .finished
            return .finish
        case (.finished, _):
            return .finish
        default:
            preconditionFailure("the learner loop got \(event) while it waits on \(phase)")
        }
    }

    private var evaluates: Bool { plan.evaluateEvery > 0 && plan.hasValidation }

    private mutating func begin(_ i: Int, now: Double) -> Decision {
        collectStarts[i] = now
        return .begin(iteration: i)
    }

    private mutating func update(_ i: Int, now: Double) -> Decision {
        marks.updateStarted = now
        phase = .updating(i)
        return .update(iteration: i)
    }

    private mutating func times(of i: Int, published: Double) -> IterationTimes {
        let start = collectStarts.removeValue(forKey: i) ?? marks.collected
        let trained = marks.evaluated ?? marks.updated
        return IterationTimes(
            rollout: marks.collected - start, train: marks.updated - marks.updateStarted,
            eval: marks.evaluated.map { $0 - marks.updated }, broadcast: published - trained)
    }

    private mutating func afterIteration(_ i: Int) -> Decision {
        if i >= plan.iterations { return afterLastIteration() }
        if stopRequested { return stopEarly() }
        phase = .collecting(i + 1)
        return .collect(iteration: i + 1)
    }

    private mutating func stopEarly() -> Decision {
        stoppedEarly = true
        return afterLastIteration()
    }

    private mutating func afterLastIteration() -> Decision {
        if plan.evaluateEvery > 0 && plan.hasTest && iteration > 0 && !stoppedEarly {
            phase = .testing
            return .evaluate(.test(iteration: iteration))
        }
        phase = .finished
        return .finish
    }
}

/// Seconds of one iteration's phases.
public struct IterationTimes: Sendable, Equatable {
    /// From handing out the units to a complete batch.
    public var rollout: Double
    /// The update.
    public var train: Double
    /// The held-out evaluation, nil when the iteration had none.
    public var eval: Double?
    /// Publishing the new weights.
    public var broadcast: Double

    /// Times of the phases.
    public init(rollout: Double, train: Double, eval: Double?, broadcast: Double) {
        self.rollout = rollout
        self.train = train
        self.eval = eval
        self.broadcast = broadcast
    }
}
