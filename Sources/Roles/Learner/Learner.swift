// The learner role: owns the policy and its optimiser, the control REP server, the weights BUS and the
// rollouts PULL, and runs the synchronous on-policy loop: draw prompts → hand out work units → gather the
// whole rollout batch → advantages over all of it → mini-batch updates → bump the version → broadcast →
// evaluate, record, checkpoint. `run()` blocks its calling thread (never the cooperative pool).
import Foundation
import Model
import RLCore
import RunKit
import Wire

/// One finished iteration, for callers and tests.
public struct IterationSummary: Sendable {
    /// Iteration number (1-based).
    public var iteration: Int
    /// Policy version after the update.
    public var policyVersion: UInt64
    /// Samples in the rollout batch.
    public var samples: Int
    /// Policy versions that generated the samples.
    public var sampleVersions: [UInt64]
    /// Workers that produced the samples.
    public var workers: Set<String>
    /// The recorded metrics.
    public var metrics: [String: Double]
    /// SHA-256 of the parameters last published (in the broadcast precision).
    public var weightsSHA256: [UInt8]
}

/// The learner process's work, started with `run()`.
public final class Learner: @unchecked Sendable {
    /// Settings.
    public let settings: LearnerSettings
    /// Policy, optimiser, version and data position (touched only by the thread in `run()`).
    public let trainer: Trainer
    /// The policy being trained.
    public var model: Transformer { trainer.model }
    let hub: LearnerHub
    let broadcaster: WeightBroadcaster
    let control: RequestServer
    let statusServer: RequestServer?
    let pull: FrameSocket
    private let stopFlag = CancelFlag()
    private let pullDone = DispatchSemaphore(value: 0)
    /// Training prompts, held-out sets and the evaluation's reward (data.task).
    public let task: any PromptTask
    /// Token ids that end a response: `sampling.stop_tokens`, else the task's (from the model directory).
    public let stopTokens: [Int32]
    /// The first sample of the latest evaluation (the progress line shows it).
    var lastSample: EvaluationSample?
    /// The samples of the evaluation before training and of the latest one during training.
    var samplesBefore: [EvaluationSample] = [], samplesAfter: [EvaluationSample]?
    var validation: [Prompt] { task.validation }
    var test: [Prompt] { task.test }
    /// Called after every iteration on the learner's thread.
    public var onIteration: (@Sendable (IterationSummary) -> Void)?
    /// Called with every complete rollout batch just before the update consumes it (`--record`).
    public var recordBatch: ((RolloutBatch, Trainer) throws -> Void)?

    /// Binds every socket and starts serving control requests and deliveries; call `run()` to train. `source`
    /// (from `Transformer.loadCheckpoint`) is what every checkpoint keeps of the policy's starting directory.
    public init(
        settings: LearnerSettings, model: Transformer, task: any PromptTask,
        source checkpointSource: CheckpointSource? = nil, codec: FrameCodec
    ) throws {
        self.settings = settings
        trainer = Trainer(settings: settings, model: model, source: checkpointSource)
        self.task = task
        stopTokens = settings.run.sampling.stopTokens.map { $0.map(Int32.init) } ?? task.stopTokens
        let c = settings.run.cluster
        let log = settings.log
        let hub = try LearnerHub(
            membershipTimeoutMillis: millis(seconds: max(3, 5 * c.heartbeatSeconds)),
            leaseMillis: leaseMillis(seconds: c.leaseSeconds),
            weightsAddress: settings.endpoints.weights, log: log)
        let broadcaster = try WeightBroadcaster(
            address: settings.endpoints.weights, localAddress: settings.endpoints.localWeights, codec: codec,
            precision: settings.weightPrecision, delta: settings.weightDelta,
            sharedMemory: settings.endpoints.sharedWeights, log: log)
        self.hub = hub
        self.broadcaster = broadcaster
        try hub.setFailureLimit(c.maxUnitFailures)
        // Receive caps: the rollouts port takes experience batches of one unit; the other ports small requests.
        let unitSamples = c.unitPrompts.multipliedReportingOverflow(by: settings.run.algorithm.samplesPerPrompt)
        pull = try FrameSocket(
            .pull, codec: codec,
            limits: .experience(
                samples: unitSamples.overflow ? .max : unitSamples.partialValue,
                tokensPerSample: model.config.maxPositionEmbeddings))
        try pull.bind(settings.endpoints.rollouts)
        control = try RequestServer(
            name: "learner-control", address: settings.endpoints.control, codec: codec,
            limits: .control, handler: { try hub.handle($0) },
            log: log)
        statusServer = try settings.endpoints.status.map { address in
            let me = Status(
                workerID: "learner", role: .learner, host: ProcessInfo.processInfo.hostName,
                pid: ProcessInfo.processInfo.processIdentifier, policyVersion: 0, state: "")
            return try RequestServer(
                name: "learner-status", address: address, codec: codec, limits: .control,
                handler: { try hub.statusReply($0, learner: me) }, log: log)
        }
        hub.republish = { broadcaster.republish() }
        hub.resend = { broadcaster.resend(version: $0, chunks: $1) }
        let versionBytes = model.parameterCount * settings.weightPrecision.dtype.size
        if let advice = WeightBroadcaster.bufferAdvice(
            cap: WeightBroadcaster.systemSendBufferCap(), versionBytes: versionBytes,
            precision: settings.weightPrecision)
        {
            log(advice)
        }
        startPullThread()
        control.start()
        statusServer?.start()
    }

    /// Asks `run()` to stop after the current step; it then checkpoints and returns.
    public func stop() { stopFlag.cancel() }

    /// True once `stop()` was called.
    public var isStopping: Bool { stopFlag.isCancelled }

    /// Closes every socket and joins the threads (after `run()` returned).
    public func close() {
        control.stop()
        statusServer?.stop()
        pull.close()
        pullDone.wait()
        broadcaster.close()
        hub.flushLogs()
    }

    private func startPullThread() {
        let thread = Thread { [self] in
            var refusals = LogRateLimiter()
            defer {
                if let summary = refusals.flush(now: monotonicMillis(), force: true) {
                    settings.log("learner: \(summary)")
                }
                pullDone.signal()
            }
            while !stopFlag.isCancelled || !pull.socket.isClosed {
                do {
                    let message = try pull.receiveSync(timeout: nil, cancel: nil)
                    if case .experienceBatch(let b) = message {
                        hub.deliver(b)
                    } else {
                        settings.log("learner: ignored a \(message.kind.name) on the rollouts socket")
                    }
                } catch let error as FrameError {
                    for line in refusals.record("learner: refused a rollout frame: \(error)", now: monotonicMillis()) {
                        settings.log(line.hasPrefix("learner") ? line : "learner: refused rollout frames: \(line)")
                    }
                } catch {
                    if pull.socket.isClosed { return }
                    settings.log("learner: rollouts receive failed: \(error)")
                }
            }
        }
        thread.name = "rpp-learner-rollouts"
        thread.start()
    }

    /// Publishes the current parameters as `version`.
    func publish(version: UInt64) throws {
        let layout = model.layout.specs.map { TensorSpan(name: $0.name, shape: $0.shape, offset: $0.offset) }
        hub.setPolicyVersion(version)
        hub.setBroadcastTime(
            seconds: broadcaster.lastBroadcast?.seconds ?? 0,
            bytes: model.parameterCount * settings.weightPrecision.dtype.size)
        let parameters = UnsafeBufferPointer(start: model.params.pointer, count: model.parameterCount)
        try broadcaster.publish(
            version: version, copying: parameters, layout: layout,
            chunkElements: settings.chunkElements)
    }

    /// SHA-256 of the weights last published, in the broadcast precision (a pass over them; for logs).
    var publishedSHA256: [UInt8] { broadcaster.latestPublication?.sha256 ?? [] }
}
