// `rpp bench run`: REINFORCE++ against PPO on the same cluster and task, in one run. For each algorithm it
// starts a fresh local cluster of real processes on free loopback ports (reference server, reward server, two
// rollout workers, learner; OPENBLAS_NUM_THREADS=1 each), trains a bounded number of iterations in a temporary
// run directory, and reads the learner's metrics.jsonl; the learner's peak RSS comes from wait4. The first
// iterations are skipped as warm-up. Only `algorithm.estimator` differs between the runs.
import ArgumentParser
import Foundation
import Model
import RLCore
import RunKit
import Wire

/// `rpp bench run`: samples/s, learner time per iteration and peak memory of REINFORCE++ and PPO.
struct BenchRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "REINFORCE++ vs PPO on a local cluster: samples/s, learner time per iteration, learner peak memory.",
        discussion: """
            For each algorithm, starts `rpp reference`, `rpp reward`, two `rpp rollout` workers and `rpp learner` as \
            child processes on free loopback ports, runs --iterations iterations of the config's task in a \
            temporary run directory (evaluation and intermediate checkpoints off), and reports the means over the \
            iterations after the first --warmup. Needs model.init (make it with `rpp sft` or `make run`). \
            Ctrl-C stops every child.
            """)

    @OptionGroup var options: RoleConfigOptions
    @Option(help: "Iterations per algorithm.") var iterations = 10
    @Option(help: "Leading iterations left out of the means.") var warmup = 2
    @Option(help: "Algorithms to compare (algorithm.estimator values), in order.") var algorithms = "reinforce,gae"
    @Option(help: "Give up on one algorithm's run after this many minutes.") var timeoutMinutes = 20.0
    @Flag(help: "Keep the temporary run directory (logs, metrics, checkpoints).") var keep = false

    func validate() throws {
        guard warmup >= 1 else {
            throw ValidationError("--warmup must be at least 1: the first iteration includes start-up")
        }
        guard iterations > warmup else {
            throw ValidationError("--iterations (\(iterations)) must exceed --warmup (\(warmup))")
        }
        try checkRange(iterations, 2...1_000_000, "--iterations")
        try checkRange(timeoutMinutes, 0.01...1440, "--timeout-minutes")
    }

    func run() throws {
        let config = try options.load()
        let names = algorithms.split(separator: ",").map(String.init)
        for name in names where AdvantageEstimator(rawValue: name) == nil {
            let current = RunConfig.renamedValues["algorithm.estimator"]?[name].map { " (now named '\($0)')" } ?? ""
            throw BenchRunError(
                "--algorithms: '\(name)' is not an algorithm.estimator\(current); allowed: "
                    + AdvantageEstimator.allCases.map(\.rawValue).joined(separator: ", "))
        }
        for (key, path) in [("model.init", config.model.initPath), ("model.reference", config.model.reference)]
        where !FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("model.safetensors")) {
            throw BenchRunError(
                "\(key) \(path): no model.safetensors there; make the starting policy with "
                    + "`rpp sft --out \(path)` (or `make run`), or pass --set \(key)=DIR")
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("rpp-bench-run-\(getpid())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(at: root) } }
        let interrupt = InterruptFlag()
        let a = config.algorithm
        print(
            "rpp bench run  (\(options.config); \(a.rolloutBatch) prompts × \(a.samplesPerPrompt) samples per iteration, "
                + "\(iterations) iterations per algorithm, means over the last \(iterations - warmup); 2 rollout workers, "
                + "OPENBLAS_NUM_THREADS=1 per process, \(ProcessInfo.processInfo.activeProcessorCount) cores)")
        print(ModelBench.cpuLine())
        fflush(nil)
        var results: [BenchRunResult] = []
        for name in names {
            let result = try measure(estimator: name, root: root, interrupt: interrupt)
            print(
                String(
                    format: "%@: %d iterations, %.1f s per iteration, learner peak %.0f MB", name, iterations,
                    result.iterationSeconds, result.learnerPeakMB))
            fflush(nil)
            results.append(result)
        }
        print("")
        print(BenchRunResult.table(results))
        if let r = results.first(where: { $0.estimator == "reinforce" }),
            let p = results.first(where: { $0.estimator == "gae" })
        {
            print("")
            print(BenchRunResult.ratios(reinforce: r, ppo: p))
        }
        if keep { print("\nrun directory kept: \(root.path)") }
    }

    /// One algorithm on a fresh cluster; every child is stopped before it returns or throws.
    func measure(estimator: String, root: URL, interrupt: InterruptFlag) throws -> BenchRunResult {
        let dir = root.appendingPathComponent(estimator)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let ports = try freeClusterPorts()
        let sets = [
            "run.dir=\(root.path)", "run.name=\(estimator)", "run.iterations=\(iterations)", "run.max_minutes=0",
            "algorithm.estimator=\(estimator)", "eval.every=0", "checkpoint.every=0",
            "cluster.learner=tcp://127.0.0.1:\(ports.learner)", "cluster.reward=[tcp://127.0.0.1:\(ports.reward)]",
            "cluster.reference=[tcp://127.0.0.1:\(ports.reference)]",
        ]
        let common =
            ["--config", options.config] + (options.overrides + options.assignments + sets).flatMap { ["--set", $0] }
        let exe = currentExecutable()
        var children: [BenchChild] = []
        defer { BenchChild.stopAll(children) }
        func start(_ name: String, _ arguments: [String]) throws -> BenchChild {
            let child = try BenchChild(
                name: name, executable: exe, arguments: arguments,
                log: dir.appendingPathComponent("\(name).log"),
                environment: ["OPENBLAS_NUM_THREADS": "1"])
            children.append(child)
            return child
        }
        let interrupted = { interrupt.isRaised }
        let servers = [try start("reference", ["reference"] + common), try start("reward", ["reward"] + common)]
        for server in servers { try server.waitFor("listening", seconds: 120, interrupted: interrupted) }
        for i in 1...2 { _ = try start("rollout-\(i)", ["rollout"] + common + ["--id", "rollout-\(i)"]) }
        let learner = try start("learner", ["learner"] + common)
        let deadline = Date().addingTimeInterval(timeoutMinutes * 60)
        while learner.isRunning {
            if interrupted() { throw BenchRunError("interrupted; stopped every role of the \(estimator) run") }
            for child in children where child !== learner && !child.isRunning {
                throw BenchRunError(
                    "\(child.name) of the \(estimator) run exited with status \(child.exit!.status); "
                        + "last lines of \(child.log.path):\n\(child.tail())")
            }
            guard Date() < deadline else {
                throw BenchRunError(
                    "the \(estimator) learner did not finish \(iterations) iterations in \(timeoutMinutes) minutes; "
                        + "last lines of \(learner.log.path):\n\(learner.tail())")
            }
            usleep(100_000)
        }
        guard let exit = learner.exit, exit.status == 0 else {
            throw BenchRunError(
                "the \(estimator) learner exited with status \(learner.exit?.status ?? -1); "
                    + "last lines of \(learner.log.path):\n\(learner.tail())")
        }
        let metricsPath = root.appendingPathComponent(estimator).appendingPathComponent("metrics.jsonl").path
        let records: [MetricsRecord]
        do { records = try MetricsJSONL.read(path: metricsPath) } catch {
            throw BenchRunError("cannot read the \(estimator) learner's metrics \(metricsPath): \(error)")
        }
        return try BenchRunResult(
            estimator: estimator, records: records, warmup: warmup, iterations: iterations,
            learnerPeakMB: exit.peakMB, file: metricsPath)
    }

    /// A learner base port with its three next ports free, then the reward (+4) and reference (+5) ports.
    func freeClusterPorts() throws -> (learner: Int, reward: Int, reference: Int) {
        guard let base = LoopbackPort.freeBlock(6) else {
            throw BenchRunError("found no free block of 6 loopback ports in 100 tries")
        }
        return (base, base + 4, base + 5)
    }
}
