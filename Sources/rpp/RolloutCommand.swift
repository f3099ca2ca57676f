// `rpp rollout`: a rollout worker of an rpp cluster.
import ArgumentParser
import Foundation
import Model
import Roles
import RunKit
import Tasks
import Wire

/// `rpp rollout`: samples responses with the broadcast policy, scores them, pushes experience.
struct RolloutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract:
            "Run a rollout worker: sample with the current policy, get rewards and reference log-probs, push experience.",
        discussion: """
            Connects to the learner (cluster.learner or --learner), the reward servers and, when kl.coef > 0, the \
            reference servers. Weights come from the learner's broadcast; model.init only gives the architecture. \
            SIGTERM or SIGINT stops it after the current unit. Set OPENBLAS_NUM_THREADS in the environment.
            """)

    @OptionGroup var options: RoleConfigOptions
    @Option(help: "Learner base address (overrides cluster.learner), like tcp://127.0.0.1:5600.") var learner: String?
    @Option(help: "Worker id (default rollout-HOST-PID).") var id: String?
    @Option(help: "Samples decoded at a time (default: a whole unit); the others take the slots of samples that stop.")
    var maxBatch: Int = 0

    func run() async throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        var overrides: [String] = []
        if let learner { overrides.append("cluster.learner=\(learner)") }
        var config = try options.load()
        if !overrides.isEmpty {
            do {
                config = try RunConfig.load(
                    path: options.config, overrides: options.overrides + options.assignments + overrides)
            } catch { throw RoleCommandError("--learner: \(error)") }
        }
        let model = try loadPolicy(config.model.initPath, key: "model.init")
        model.usePrecision(config.model.rolloutPrecision, keepFloat32: false)
        try preflight(config, policy: model.config, context: "rollout")
        let workerID = id ?? "rollout-\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        let endpoints: LearnerEndpoints
        do { endpoints = try LearnerEndpoints(cluster: config.cluster) } catch { throw RoleCommandError("\(error)") }
        var settings = RolloutSettings(
            workerID: workerID, learner: endpoints, reward: config.cluster.reward,
            reference: config.cluster.reference, useReference: config.kl.coef > 0)
        settings.heartbeatSeconds = config.cluster.heartbeatSeconds
        settings.requestTimeoutSeconds = config.cluster.requestTimeoutSeconds
        guard (0...65_536).contains(maxBatch) else {
            throw RoleCommandError("--max-batch \(maxBatch) must be in [0, 65536]")
        }
        settings.maxBatch = maxBatch
        if !config.sampling.stop.isEmpty {
            do {
                let text = try ModelText(directory: config.model.initPath, vocabSize: model.config.vocabSize)
                if let stops = StopStrings(config.sampling.stop, text: text) {
                    settings.endsWithStopString = stops.ends
                }
            } catch { throw RoleCommandError("sampling.stop: \(error)") }
        }
        let codec: FrameCodec
        do { codec = try config.cluster.codec() } catch {
            throw RoleCommandError("cluster.key_file: \(error)")
        }
        let worker = try RolloutWorker(settings: settings, model: model, codec: codec)
        print("\(workerID): connecting to \(endpoints.control); products \(model.precision.kernelDescription)")
        fflush(nil)
        do {
            try await runRole(name: workerID, stop: { worker.stop() }, body: { try worker.run() })
        } catch {
            worker.close()
            throw RoleCommandError("\(error)")
        }
        worker.close()
        print("\(workerID) stopped after \(worker.unitsDone) units")
    }
}
