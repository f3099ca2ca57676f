// Rollout workers on threads of their own, as the in-process cluster tests (TopologyTests, RecordedCluster)
// run them: ids w0, w1, ..., fast heartbeats, weights drawn from seeds 100, 101, ... (unlike the learner's
// until the first broadcast), each worker's thread running until `stopAll`.
import Foundation
import Model
import TestKit
import Wire
import XCTest

@testable import Roles

final class WorkerThreads {
    let workers: [RolloutWorker]
    private let threads = TestThreads()
    private var stopped = false

    init(
        count: Int, learner: LearnerEndpoints, reward: String, reference: String, model config: ModelConfig,
        codec: FrameCodec, log: @escaping @Sendable (String) -> Void, useReference: Bool = true
    ) throws {
        var workers: [RolloutWorker] = []
        for i in 0..<count {
            var ws = RolloutSettings(
                workerID: "w\(i)", learner: learner, reward: [reward], reference: [reference],
                useReference: useReference)
            ws.heartbeatSeconds = 0.2
            ws.requestTimeoutSeconds = 10
            ws.log = log
            let model = try Transformer(config: config)
            model.initializeWeights(seed: 100 + UInt64(i))
            workers.append(try RolloutWorker(settings: ws, model: model, codec: codec))
        }
        self.workers = workers
        for (i, worker) in workers.enumerated() {
            threads.start("w\(i)") {
                do { try worker.run() } catch { log("w\(i) failed: \(error)") }
            }
        }
    }

    /// Stops every worker, waits for its thread and closes its sockets (once; later calls do nothing). A worker
    /// still running 120 s after its stop fails the test, and its sockets stay open.
    func stopAll() {
        guard !stopped else { return }
        stopped = true
        for w in workers { w.stop() }
        guard threads.wait(seconds: 120) else {
            return XCTFail("rollout workers still running 120 s after stop: \(threads.stillRunning)")
        }
        for w in workers { w.close() }
    }
}
