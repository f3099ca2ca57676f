// A small rpp cluster of real `rpp` processes on loopback for the fault tests (the weights over the learner's Unix
// socket, as on any loopback cluster): reference server, reward server, rollout workers and the learner, each its
// own process, on ports picked free for the test.
import Foundation
import TestKit
import Wire
import XCTest

final class LocalCluster {
    let dir: URL
    let base: Int
    let config: [String]
    private(set) var sets: [String]
    var reference: ServerProcess?
    var reward: ServerProcess?
    var workers: [String: ServerProcess] = [:]
    var learner: ServerProcess?

    /// `extra` are `section.key=value` settings on top of the small run every fault test uses.
    init(name: String, iterations: Int, extra: [String] = []) throws {
        dir = try TemporaryDirectory.make("rpp-cli")
        base = LoopbackPorts.block(6)
        let model = Fixtures.url("model/llama-gqa").path  // a tiny transformers checkpoint
        config = [
            "--config",
            Fixtures.packageURL("Deploy/rpp.yaml").path,
        ]
        sets =
            [
                "model.init=\(model)", "model.reference=\(model)",
                "run.dir=\(dir.path)", "run.name=\(name)", "run.iterations=\(iterations)", "run.max_minutes=3",
                "algorithm.rollout_batch=16", "algorithm.train_batch=32", "algorithm.micro_batch=32",
                "eval.every=0", "checkpoint.every=2",
                "cluster.learner=tcp://127.0.0.1:\(base)", "cluster.reward=[tcp://127.0.0.1:\(base + 4)]",
                "cluster.reference=[tcp://127.0.0.1:\(base + 5)]", "cluster.lease_seconds=2",
                "cluster.heartbeat_seconds=0.2", "cluster.request_timeout_seconds=3",
            ] + extra
    }

    deinit {
        for p in [learner, reference, reward].compactMap({ $0 }) + Array(workers.values) { _ = p.terminate(within: 3) }
        try? FileManager.default.removeItem(at: dir)
    }

    private func arguments(_ role: String, _ more: [String] = []) -> [String] {
        [role] + config + sets.flatMap { ["--set", $0] } + more
    }

    /// Starts the two servers and waits until they listen.
    func startServers() throws {
        reference = try startReference()
        reward = try startReward()
    }

    func startReference() throws -> ServerProcess {
        let p = try ServerProcess(arguments("reference"))
        XCTAssertTrue(p.waitFor("listening"), p.stdout)
        return p
    }

    func startReward() throws -> ServerProcess {
        let p = try ServerProcess(arguments("reward"))
        XCTAssertTrue(p.waitFor("listening"), p.stdout)
        return p
    }

    /// Starts a rollout worker named `id`.
    @discardableResult
    func startWorker(_ id: String) throws -> ServerProcess {
        let p = try ServerProcess(arguments("rollout", ["--id", id]))
        workers[id] = p
        return p
    }

    /// Starts the learner (`--resume` when asked) for the run `name` (the cluster's own by default).
    @discardableResult
    func startLearner(resume: Bool = false, runName: String? = nil, extra: [String] = []) throws -> ServerProcess {
        var more = (resume ? ["--resume"] : []) + extra
        if let runName { more += ["--set", "run.name=\(runName)"] }
        let p = try ServerProcess(arguments("learner", more))
        learner = p
        return p
    }

    /// Adds a `section.key=value` setting for the processes started from now on.
    func set(_ assignment: String) { sets.append(assignment) }

    /// Waits for the learner to finish; returns its output.
    func waitForLearner(seconds: Double = 120) -> String {
        guard let l = learner else { return "" }
        let done = l.waitFor("learner done", seconds: seconds)
        if done { l.process.waitUntilExit() }
        XCTAssertTrue(done, "learner output:\n\(l.stdout)")
        return l.stdout
    }

    /// The run directory of run `name`.
    func runDirectory(_ name: String) -> URL { dir.appendingPathComponent(name) }

    /// The records of `name`'s metrics.jsonl as (iteration, metrics).
    func metrics(_ name: String) throws -> [(iteration: Int, metrics: [String: Double])] {
        let text = try String(contentsOf: runDirectory(name).appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let i = o["iteration"] as? Int, let m = o["metrics"] as? [String: Any]
            else { return nil }
            return (i, m.compactMapValues { ($0 as? NSNumber)?.doubleValue })
        }
    }

    /// The final weights' SHA-256 a learner printed.
    static func finalSHA(_ output: String) -> String? {
        guard let r = output.range(of: "weights sha256 ") else { return nil }
        return String(output[r.upperBound...].prefix(64))
    }
}
