// `rpp learner`: the training role of an rpp cluster.
import ArgumentParser
import Foundation
import Model
import Roles
import RunKit
import Tasks
import Wire

/// `rpp learner`: owns the policy, hands out work, trains, broadcasts weights, evaluates and checkpoints.
struct LearnerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learner",
        abstract: "Run the learner: hand out prompts, gather rollouts, train with REINFORCE++, broadcast weights.",
        discussion: """
            Binds cluster.learner (+0 control REP, +1 weights BUS, +2 status REP, +3 rollouts PULL). Starts from model.init and \
            writes metrics, events, chart and checkpoints to run.dir/run.name. SIGTERM or SIGINT stops it after \
            the current step; it checkpoints first. Set OPENBLAS_NUM_THREADS in the environment to bound the \
            BLAS threads (the learner and the workers share the cores).
            """)

    @OptionGroup var options: RoleConfigOptions

    @Flag(
        help:
            "Continue the run in run.dir/run.name from its newest checkpoint (weights, optimiser, iteration, data position)."
    )
    var resume = false

    @Option(
        help: ArgumentHelp(
            "Record every batch the learner consumes, its starting state and config into this new directory (replay it with `rpp replay DIR`).",
            valueName: "dir"))
    var record: String?

    func run() async throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        let config = try options.load()
        // A run directory that cannot be written (read-only, full, under a file) or that holds another run's
        // metrics is refused here, before the model is loaded or any socket is bound.
        do { try RunMetrics.check(directory: config.runDirectory, resume: resume) } catch {
            throw RoleCommandError("\(error)")
        }
        let (model, source) = try loadPolicyCheckpoint(config.model.initPath, key: "model.init")
        try preflight(config, policy: model.config, context: "learner")
        var settings: LearnerSettings
        do {
            settings = try LearnerSettings(config: config, endpoints: try LearnerEndpoints(cluster: config.cluster))
        } catch { throw RoleCommandError("\(error)") }
        settings.resume = resume
        let codec: FrameCodec
        do { codec = try config.cluster.codec() } catch {
            throw RoleCommandError("cluster.key_file: \(error)")
        }
        let recorder = try record.map { dir in
            do { return try Recorder(directory: URL(fileURLWithPath: dir), config: config) } catch {
                throw RoleCommandError("--record: \(error)")
            }
        }
        let task: any PromptTask
        do {
            let text = try ModelText(directory: config.model.initPath, vocabSize: model.config.vocabSize)
            task = try TaskFactory.make(
                config: config, text: text, positions: model.config.maxPositionEmbeddings,
                log: { print("learner: \($0)") })
        } catch { throw RoleCommandError("\(error)") }
        let learner: Learner
        do { learner = try Learner(settings: settings, model: model, task: task, source: source, codec: codec) } catch {
            throw RoleCommandError("learner cannot listen on \(settings.endpoints.control): \(error)")
        }
        do { try learner.trainer.prepareCritic() } catch {  // PPO: model.critic_init, before any work is handed out
            learner.close()
            throw RoleCommandError("\(error)")
        }
        print(
            "learner: \(model.parameterCount) parameters, \(config.algorithm.estimator.rawValue), "
                + "\(config.algorithm.rolloutBatch)×\(config.algorithm.samplesPerPrompt) samples per iteration, "
                + "listening on \(settings.endpoints.control)")
        print("learner: products \(model.precision.kernelDescription)")
        if let local = settings.endpoints.localWeights {
            print(
                "learner: weights on \(settings.endpoints.weights) and, for rollout workers on this machine, \(local)"
                    + (settings.endpoints.sharedWeights ? " (each version in shared memory)" : ""))
        }
        fflush(nil)
        writeSelfReport(runDirectory: config.runDirectory)
        recorder?.attach(to: learner)
        let result = try await runRole(name: "learner", stop: { learner.stop() }, body: { try learner.run() })
        learner.close()
        if let recorder {
            let sha = try recorder.finish(trainer: learner.trainer, stoppedEarly: result.stoppedEarly)
            print(
                "learner: recorded \(recorder.batches) batches in \(recorder.directory.path); final weights sha256 "
                    + WeightDigest.hex(sha))
        }
        var line = "learner done: \(result.iterations) iterations, policy version \(result.policyVersion)"
        if let a = result.initialAccuracy, let b = result.finalAccuracy {
            line += String(format: ", held-out accuracy %.1f%% → %.1f%%", a * 100, b * 100)
            if let m = result.meanOfLastThree {
                line += String(
                    format: " (mean of the last three evaluations %.1f%%, %+.1f points)", m * 100, (m - a) * 100)
            }
        }
        if result.stoppedEarly { line += " (stopped early)" }
        print(line)
    }
}
