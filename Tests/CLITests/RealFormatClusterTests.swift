// The whole cluster on a model as users bring them: a tiny Llama in Hugging Face format with its tokenizer.json,
// chat template and generation_config.json; a JSONL dataset with custom keys rendered through the template; an
// OpenRLHF-style remote HTTP reward served by this test; held-out accuracy by the numeric verifier. Then the run
// resumes from its checkpoint, and a recorded run replays bit for bit.
import Foundation
import TestKit
import Wire
import XCTest

final class RealFormatClusterTests: XCTestCase {
    /// The last number in `text`, if any.
    static func lastNumber(_ text: String) -> Int? {
        text.split(whereSeparator: { !$0.isNumber }).last.flatMap { Int($0) }
    }

    func testDatasetRemoteRewardResumeAndReplayOnAHuggingFaceCheckpoint() throws {
        let data = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: data) }
        func jsonl(_ range: Range<Int>) -> String {
            range.map { "{\"question\": \"What is \($0) + 2?\", \"solution\": \"\($0 + 2)\", \"source\": \"t\"}" }
                .joined(separator: "\n") + "\n"
        }
        try jsonl(0..<40).write(to: data.appendingPathComponent("train.jsonl"), atomically: true, encoding: .utf8)
        try jsonl(100..<106).write(to: data.appendingPathComponent("val.jsonl"), atomically: true, encoding: .utf8)
        // The remote reward: 1 when the last number of the query (prompt + response) is the label, as a user's
        // Python function behind OpenRLHF's --remote_rm_url would decide.
        let server = try TinyHTTPServer { body in
            let queries = body["query"] as? [String] ?? []
            let labels = body["labels"] as? [String] ?? []
            let rewards = zip(queries, labels).map { q, l in Self.lastNumber(q) == Int(l) ? 1.0 : 0.0 }
            return .init(body: try! JSONSerialization.data(withJSONObject: ["rewards": rewards]))
        }
        defer { server.stop() }
        let model = Fixtures.url("model/llama-companions").path
        let c = try LocalCluster(
            name: "real", iterations: 2,
            extra: [
                "model.init=\(model)", "model.reference=\(model)",
                "data.task=dataset", "data.train=\(data.path)/train.jsonl", "data.validation=\(data.path)/val.jsonl",
                "data.input_key=question", "data.label_key=solution", "data.apply_chat_template=true",
                "data.system_prompt=Answer with a number.",
                "sampling.max_new_tokens=8", "eval.every=1", "eval.samples=2", "checkpoint.every=1",
                "reward.kind=remote", "reward.url=\(server.url)", "reward.timeout_seconds=5", "reward.verifier=numeric",
                "algorithm.rollout_batch=8", "algorithm.train_batch=16", "algorithm.micro_batch=8",
            ])
        try c.startServers()
        try c.startWorker("rollout-1")
        try c.startLearner()
        let output = c.waitForLearner(seconds: 120)
        XCTAssertTrue(
            output.contains(
                "learner: task dataset train.jsonl (40 training prompts, keys question/solution, "
                    + "chat template)"), output)
        XCTAssertTrue(output.contains("responses stop at token(s) 2, 0"), "generation_config.json's EOS ids: \(output)")
        XCTAssertTrue(output.contains("(6 validation prompts)"), output)
        XCTAssertTrue(output.contains("learner done: 2 iterations"), output)
        XCTAssertGreaterThan(server.requests, 0, "the reward server asked the HTTP endpoint")
        let runDir = c.dir.appendingPathComponent("real")
        let samples = try String(contentsOf: runDir.appendingPathComponent("samples.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(samples.map { $0["iteration"] as? Int }, [0, 0, 1, 1, 2, 2])
        XCTAssertTrue(
            (samples[0]["prompt"] as? String ?? "").hasPrefix("<|im_start|>system\nAnswer with a number."),
            "\(samples[0])")
        XCTAssertEqual(samples[0]["label"] as? String, "102")
        let events = try FileManager.default.contentsOfDirectory(atPath: runDir.path).filter {
            $0.hasPrefix("events.out")
        }
        let eventBytes = try Data(contentsOf: runDir.appendingPathComponent(events[0]))
        XCTAssertNotNil(eventBytes.range(of: Data("samples/validation".utf8)), "a TensorBoard text summary")
        let checkpoint = runDir.appendingPathComponent("checkpoints/iter-000002")
        for file in [
            "config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja", "generation_config.json",
        ] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent(file).path), file)
        }

        // Resume: one more iteration from the newest checkpoint, with the same prompts the run would have drawn.
        c.set("run.iterations=3")
        try c.startLearner(resume: true)
        let resumed = c.waitForLearner(seconds: 120)
        XCTAssertTrue(resumed.contains("resumed from") && resumed.contains("iteration 2"), resumed)
        XCTAssertTrue(resumed.contains("learner done: 3 iterations"), resumed)

        // Record a fresh run of two iterations, then replay it in another process: the same weights.
        let recording = c.dir.appendingPathComponent("recording")
        c.set("run.iterations=2")
        let recorder = try c.startLearner(runName: "recorded", extra: ["--record", recording.path])
        let recorded = c.waitForLearner(seconds: 120)
        XCTAssertTrue(recorded.contains("learner: recorded 2 batches"), recorded)
        _ = recorder
        let sha = try XCTUnwrap(
            recorded.range(of: #"final weights sha256 [0-9a-f]{64}"#, options: .regularExpression)
                .map { String(recorded[$0].suffix(64)) }, recorded)
        let replay = try RPP.run(["replay", recording.path])
        XCTAssertEqual(replay.status, 0, replay.stdout + replay.stderr)
        XCTAssertTrue(replay.stdout.contains("replay: final parameters sha256 \(sha)"), replay.stdout)
    }
}
