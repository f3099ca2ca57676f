// Rollout workers on threads of their own, as the in-process cluster tests (TopologyTests, RecordedCluster)
// run them: ids w0, w1, ..., fast heartbeats, weights drawn from seeds 100, 101, ... (unlike the learner's
// until the first broadcast), each worker's thread running until `stopAll`.
import Foundation
import Model
import Wire

@testable import Roles

final class WorkerThreads {
    let workers: [RolloutWorker]
    private let finished = DispatchGroup()
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
            finished.enter()
            Thread { [finished] in
                do { try worker.run() } catch { log("w\(i) failed: \(error)") }
                finished.leave()
            }.start()
        }
    }

    /// Stops every worker, waits for its thread and closes its sockets (once; later calls do nothing).
    func stopAll() {
        guard !stopped else { return }
        stopped = true
        for w in workers { w.stop() }
        finished.wait()
        for w in workers { w.close() }
    }
}
