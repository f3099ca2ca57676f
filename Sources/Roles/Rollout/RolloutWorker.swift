// The rollout worker role: registers with the learner, keeps its policy in step with the weight broadcast,
// and loops: ask for a work unit → sample n responses per prompt → score them (reward servers) and, in
// parallel, get reference log-probs (reference servers; skipped when the KL coefficient is 0) → push one
// ExperienceBatch to the learner. A heartbeat thread keeps its membership alive. `run()` blocks its thread.
import Foundation
import Model
import Wire

/// Where a rollout worker connects and how it behaves.
public struct RolloutSettings: Sendable {
    /// This worker's id (unique in the cluster).
    public var workerID: String
    /// The learner's sockets.
    public var learner: LearnerEndpoints
    /// Reward server addresses.
    public var reward: [String]
    /// Reference server addresses; unused when `useReference` is false.
    public var reference: [String]
    /// Ask the reference servers (the KL coefficient is not 0).
    public var useReference: Bool
    /// Heartbeat period in seconds.
    public var heartbeatSeconds: Double = 1
    /// Deadline of one request in seconds.
    public var requestTimeoutSeconds: Double = 30
    /// Samples decoded at a time (0: a whole unit); the others wait for the slot of a sample that stops.
    public var maxBatch = 0
    /// True when a response's tokens end with a stop string (`sampling.stop`); nil = no stop strings.
    public var endsWithStopString: (@Sendable ([Int32]) -> Bool)? = nil
    /// Logs one line.
    public var log: @Sendable (String) -> Void = {
        print($0)
        fflush(nil)
    }

    /// Creates settings.
    public init(workerID: String, learner: LearnerEndpoints, reward: [String], reference: [String], useReference: Bool)
    {
        self.workerID = workerID
        self.learner = learner
        self.reward = reward
        self.reference = reference
        self.useReference = useReference
    }
}

/// A rollout worker; its model must have the learner's architecture (weights arrive by broadcast).
public final class RolloutWorker: @unchecked Sendable {
    /// Settings.
    public let settings: RolloutSettings
    /// The sampling policy (touched only by the thread in `run()`).
    public let model: Transformer
    let weights: WeightReceiver
    let control: ServiceClient
    let rewards: ServiceClient
    let references: ServiceClient?
    let push: FrameSocket
    let heartbeats: Heartbeats
    let stopFlag = CancelFlag()
    private let stateLock = NSLock()
    private var _version: UInt64?
    /// The last verified version the model could not take (run loop only).
    private var refusedVersion: UInt64?
    private var _units = 0
    private var samples = RateMeter(startedAt: monotonicMillis())
    /// The policy version loaded into `model`, or nil before the first broadcast arrived.
    public var policyVersion: UInt64? { stateLock.withLock { _version } }
    /// Work units completed.
    public var unitsDone: Int { stateLock.withLock { _units } }
    /// Counts one completed unit of `samples` samples.
    func unitCompleted(samples n: Int) {
        stateLock.withLock {
            _units += 1
            samples.add(n, at: monotonicMillis())
        }
    }

    /// What this worker reports to the learner for `rpp cluster status`: units done, samples per second
    /// over the last 30 s, policy version.
    public var status: Status {
        let now = monotonicMillis()
        return stateLock.withLock {
            Status(
                workerID: settings.workerID, role: .rollout, host: ProcessInfo.processInfo.hostName,
                pid: ProcessInfo.processInfo.processIdentifier, policyVersion: _version ?? 0,
                state: _version == nil ? "waiting for weights" : "generating",
                samplesPerSecond: samples.perSecond(now: now), uptimeMillis: now - samples.startedAt,
                unixMillis: Int64(Date().timeIntervalSince1970 * 1000), unitsDone: UInt64(_units))
        }
    }

    /// Connects every socket (nanomsg reconnects by itself) and starts the weight and heartbeat threads.
    public init(settings: RolloutSettings, model: Transformer, codec: FrameCodec) throws {
        self.settings = settings
        self.model = model
        let timeout = duration(seconds: settings.requestTimeoutSeconds)
        weights = try WeightReceiver(
            address: settings.learner.workerWeights, codec: codec, name: settings.workerID, log: settings.log)
        control = try ServiceClient(
            service: "learner", addresses: [settings.learner.control], codec: codec, resendInterval: timeout)
        rewards = try ServiceClient(service: "reward", addresses: settings.reward, codec: codec)
        references =
            try settings.useReference
            ? ServiceClient(service: "reference", addresses: settings.reference, codec: codec) : nil
        push = try FrameSocket(.push, codec: codec)
        try push.connect(settings.learner.rollouts)
        heartbeats = try Heartbeats(settings: settings, codec: codec)
        weights.start()
    }

    /// Asks `run()` to return after the current unit.
    public func stop() { stopFlag.cancel() }

    /// Closes every socket and joins the threads (after `run()` returned).
    public func close() {
        heartbeats.stop()
        weights.close()
        control.close()
        rewards.close()
        references?.close()
        push.close()
    }

    var requestTimeout: Duration { duration(seconds: settings.requestTimeoutSeconds) }

    /// What is wrong with taking the weights at `address` (an `ipc://` path that is not a socket), or nil. Checked
    /// once the learner has accepted this worker (so it has bound its sockets): a worker in a container with a /tmp
    /// of its own cannot see the learner's socket and would otherwise wait for weights forever.
    static func localWeightsProblem(_ address: String?) -> String? {
        guard let path = address.flatMap(Socket.ipcPath) else { return nil }
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK { return nil }
        return "the learner's weight broadcast socket \(path) is not visible to this worker (a container with a /tmp "
            + "of its own?); run every role with the same /tmp, or set cluster.weights_socket=tcp for every role"
    }

    /// Registers, retrying until the learner accepts or `requestTimeoutSeconds` pass.
    func register() throws {
        let r = Register(
            workerID: settings.workerID, role: .rollout, host: ProcessInfo.processInfo.hostName,
            pid: ProcessInfo.processInfo.processIdentifier)
        let reply: WireMessage
        do { reply = try control.call(.register(r), timeout: requestTimeout, cancel: stopFlag) } catch
            where stopFlag.isCancelled
        {
            return
        } catch is ServiceError {
            throw WorkerError(
                "learner at \(settings.learner.control) did not answer within "
                    + "\(settings.requestTimeoutSeconds) s: is it running?")
        }
        guard case .registerReply(let rr) = reply else {
            throw WorkerError("learner answered register with \(reply.kind.name)")
        }
        guard rr.accepted else { throw WorkerError("learner refused worker \(settings.workerID): \(rr.reason)") }
        if let problem = Self.localWeightsProblem(settings.learner.localWeights) { throw WorkerError(problem) }
        // A learner that restarted from a checkpoint is at an older version than the weights held here, and its
        // next versions reuse those numbers with other parameters: forget everything newer than its version.
        let held = max(policyVersion ?? 0, weights.latestVersion ?? 0)
        if held > rr.policyVersion {
            weights.reset()
            stateLock.withLock { _version = nil }
            settings.log(
                "\(settings.workerID): learner is at policy version \(rr.policyVersion), older than version \(held) held here (it restarted): waiting for its weights"
            )
        }
        heartbeats.start(
            policyVersion: { [weak self] in self?.policyVersion ?? 0 }, status: { [weak self] in self?.status })
    }

    /// Tells the learner this worker stops (a last status, state `stopped`), so it leaves the membership at
    /// once; best effort, two seconds at most.
    func sayGoodbye() {
        var s = status
        s.state = Status.stopped
        _ = try? control.call(.status(s), timeout: .seconds(2))
    }

    /// Copies a newer verified broadcast into the model, if there is one (a version the model cannot take is logged
    /// once and left).
    func refreshWeights() {
        guard let v = weights.latestVersion, v != policyVersion, v != refusedVersion, let w = weights.latest else {
            return
        }
        do {
            guard w.count == model.parameterCount else {
                throw WorkerError(
                    "the learner's model has \(w.count) parameters and this worker's \(model.parameterCount): give "
                        + "every role the same model")
            }
            switch w.values {
            case .fp32(let values): try values.withUnsafeBufferPointer { try model.setWeights(float32: $0) }
            case .bf16(let bits): try bits.withUnsafeBufferPointer { try model.setWeights(bfloat16: $0) }
            }
        } catch {
            settings.log("\(settings.workerID): weights version \(w.version) not applied: \(error)")
            refusedVersion = v
            return
        }
        stateLock.withLock { _version = w.version }
    }
}

/// A rollout worker failure, one line.
public struct WorkerError: Error, CustomStringConvertible, Sendable {
    /// The message.
    public let description: String
    init(_ message: String) { description = message }
}
