// Record and replay: a fresh recording of a real in-process cluster run replays to the learner's own final
// weights, and up to an earlier iteration to what the index says; damaged copies of the committed recording
// (Tests/Fixtures/recording, whose bit-for-bit replay ReplayCommandTests checks) give one clear error naming the
// file or iteration.
import Foundation
import Model
import RunKit
import TestKit
import XCTest

@testable import Roles

final class RecordReplayTests: XCTestCase {
    static let committed = Fixtures.url("recording")

    func replay(_ directory: URL, until: Int? = nil) throws -> ReplayResult {
        let recording = try Recording(directory: directory)
        return try Replay.run(recording, trainer: try Replay.makeTrainer(recording), until: until)
    }

    /// The committed recording was made with kernels every x86-64 CPU runs, so `rpp replay` (which re-executes
    /// with the recorded kernels and splits products as recorded) reproduces it bit for bit on any of them:
    /// ReplayCommandTests replays it. This process keeps the kernels OpenBLAS chose, so it checks the layout only.
    func testCommittedRecordingUsesPortableKernels() throws {
        let recording = try Recording(directory: Self.committed)
        XCTAssertEqual(recording.entries.map(\.iteration), [1, 2, 3])
        XCTAssertEqual(recording.final?.iterations, 3)
        XCTAssertEqual(recording.header.blasCore, OpenBLASTuning.portableCore, "make recording-fixture records it")
        XCTAssertGreaterThanOrEqual(recording.header.workers, 1)
    }

    /// Records a real in-process run and replays it: the same final SHA-256 as the learner's own weights, and with
    /// `until` the parameters the index holds before a later iteration. With RPP_WRITE_RECORDING_FIXTURE=1
    /// (`make recording-fixture`, which sets OPENBLAS_CORETYPE=Nehalem) the recording replaces Tests/Fixtures/recording.
    func testRecordInProcessRunThenReplay() throws {
        let regenerate = ProcessInfo.processInfo.environment["RPP_WRITE_RECORDING_FIXTURE"] == "1"
        if regenerate {
            guard OpenBLASTuning.coreName == OpenBLASTuning.portableCore else {
                return XCTFail(
                    "the committed recording must use OpenBLAS \(OpenBLASTuning.portableCore) kernels, this process has "
                        + "\(OpenBLASTuning.coreName): run make recording-fixture (it sets OPENBLAS_CORETYPE)")
            }
        }
        let scratch = try temporaryDirectory()
        let dir = scratch.appendingPathComponent("recording")
        let config = RecordedCluster.config(
            runDirectory: regenerate
                ? NSTemporaryDirectory() + "rpp-recording-fixture-run"
                : scratch.appendingPathComponent("run").path)
        try? FileManager.default.removeItem(atPath: config.runDirectory)
        let (result, recordedSHA) = try RecordedCluster.run(config: config, record: dir)
        XCTAssertEqual(result.iterations, 3)
        let learnerWeights = try Transformer.load(directory: URL(fileURLWithPath: try XCTUnwrap(result.checkpoint)))
        XCTAssertEqual(
            recordedSHA, WeightDigest.sha256(learnerWeights.params.toArray()),
            "final.json holds the learner's final weights")

        let recording = try Recording(directory: dir)
        XCTAssertEqual(recording.entries.map(\.iteration), [1, 2, 3])
        XCTAssertEqual(recording.entries.map(\.policyVersion), [0, 1, 2])
        XCTAssertEqual(recording.entries.map(\.samples), [32, 32, 32])
        let replayed = try replay(dir)
        XCTAssertEqual(replayed.finalSHA256, recordedSHA, "replay reproduces the learner's final weights bit for bit")
        XCTAssertTrue(replayed.matches)
        let partial = try replay(dir, until: 2)
        XCTAssertEqual(partial.iterations, 1...2)
        XCTAssertTrue(partial.expectedSource.contains("iteration 3"), partial.expectedSource)
        XCTAssertTrue(partial.matches, "after iteration 2 the weights are what the learner had before iteration 3")
        XCTAssertThrowsError(try replay(dir, until: 9)) { error in
            XCTAssertEqual((error as? RecordingError)?.code, .notRecorded)
        }
        if regenerate {
            try? FileManager.default.removeItem(atPath: config.runDirectory)
            try? FileManager.default.removeItem(at: Self.committed)
            try FileManager.default.copyItem(at: dir, to: Self.committed)
            print("wrote \(Self.committed.path)")
        }
    }

    /// A learner computing in bf16 (float32 masters, bf16 products) replays bit for bit too: the precision is
    /// part of the recorded config.
    func testBF16LearnerRecordingReplaysBitForBit() throws {
        let scratch = try temporaryDirectory()
        let dir = scratch.appendingPathComponent("recording")
        var config = RecordedCluster.config(runDirectory: scratch.appendingPathComponent("run").path, iterations: 2)
        config.model.precision = .bf16
        config.model.learnerPrecision = .bf16
        let (result, recordedSHA) = try RecordedCluster.run(config: config, record: dir)
        XCTAssertEqual(result.iterations, 2)
        let replayed = try replay(dir)
        XCTAssertEqual(
            replayed.finalSHA256, recordedSHA, "replay reproduces the bf16 learner's final weights bit for bit")
        XCTAssertTrue(replayed.matches)
        let fp32 = try RecordedCluster.run(
            config: RecordedCluster.config(
                runDirectory: scratch.appendingPathComponent("run32").path,
                iterations: 2),
            record: scratch.appendingPathComponent("recording32"))
        XCTAssertNotEqual(fp32.1, recordedSHA, "the bf16 learner really computed in bf16")
    }

    /// A PPO recording stands alone too: replay takes the critic from start/critic, not from model.critic_init
    /// (deleted here before the replay).
    func testPPORecordingReplaysWithoutTheCriticInit() throws {
        let scratch = try temporaryDirectory()
        let criticInit = scratch.appendingPathComponent("critic-init")
        let start = try Transformer(config: RecordedCluster.modelConfig)
        start.initializeWeights(seed: 9)
        try start.save(directory: criticInit)
        var config = RecordedCluster.config(runDirectory: scratch.appendingPathComponent("run").path)
        config.algorithm.estimator = .gae
        config.model.criticInit = criticInit.path
        let dir = scratch.appendingPathComponent("recording")
        let (_, recordedSHA) = try RecordedCluster.run(config: config, record: dir)
        try FileManager.default.removeItem(at: criticInit)
        let replayed = try replay(dir)
        XCTAssertEqual(replayed.finalSHA256, recordedSHA, "a PPO run replays bit for bit from its recording alone")
    }

    /// A learner resumed from a checkpoint records its restored state as start/, so the recording replays alone.
    func testRecordingOfAResumedLearner() throws {
        let scratch = try temporaryDirectory()
        let first = RecordedCluster.config(runDirectory: scratch.appendingPathComponent("run").path, iterations: 2)
        _ = try RecordedCluster.run(config: first, record: scratch.appendingPathComponent("first"))
        let resumed = RecordedCluster.config(runDirectory: first.run.dir, iterations: 4)
        let dir = scratch.appendingPathComponent("resumed")
        let (result, sha) = try RecordedCluster.run(config: resumed, record: dir, resume: true)
        XCTAssertEqual(result.iterations, 4)
        let recording = try Recording(directory: dir)
        XCTAssertEqual(recording.entries.map(\.iteration), [3, 4])
        XCTAssertEqual(recording.entries.first?.policyVersion, 2)
        let replayed = try replay(dir)
        XCTAssertEqual(replayed.iterations, 3...4)
        XCTAssertEqual(replayed.finalSHA256, sha)
    }

    func testRefusesADirectoryThatHoldsARecording() throws {
        let dir = try temporaryDirectory()
        try FileManager.default.copyItem(at: Self.committed, to: dir.appendingPathComponent("r"))
        XCTAssertThrowsError(try Recorder(directory: dir.appendingPathComponent("r"), config: RunConfig())) { error in
            let e = error as? RecordingError
            XCTAssertEqual(e?.code, .exists)
            XCTAssertTrue(e?.message.contains("already holds a recording") ?? false, "\(error)")
        }
    }

    /// A batch that cannot be written is an error naming the file, not a silent hole in the recording.
    func testWriteFailureIsAnError() throws {
        let scratch = try temporaryDirectory()
        let config = RecordedCluster.config(runDirectory: scratch.path)
        let dir = scratch.appendingPathComponent("recording")
        let recorder = try Recorder(directory: dir, config: config)
        let trainer = try Replay.makeTrainer(try Recording(directory: Self.committed))
        let batch = try Recording(directory: Self.committed).batch(Recording(directory: Self.committed).entries[0])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("batches"))
        try Data("in the way".utf8).write(to: dir.appendingPathComponent("batches"))
        XCTAssertThrowsError(try recorder.record(batch, trainer: trainer)) { error in
            XCTAssertEqual((error as? RecordingError)?.code, .io)
            XCTAssertTrue("\(error)".contains("batches/iter-000001.frame"), "\(error)")
        }
    }

    // MARK: damaged recordings

    /// A copy of the committed recording that `damage` may change.
    func damaged(_ damage: (URL) throws -> Void) throws -> URL {
        let dir = try temporaryDirectory().appendingPathComponent("recording")
        try FileManager.default.copyItem(at: Self.committed, to: dir)
        try damage(dir)
        return dir
    }

    func expect(
        _ code: RecordingError.Code, mentioning words: [String], _ dir: URL,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try replay(dir), file: file, line: line) { error in
            guard let e = error as? RecordingError else {
                return XCTFail("not a RecordingError: \(error)", file: file, line: line)
            }
            XCTAssertEqual(e.code, code, e.message, file: file, line: line)
            XCTAssertFalse(e.message.contains("\n"), "one line: \(e.message)", file: file, line: line)
            for w in words {
                XCTAssertTrue(e.message.contains(w), "\(e.message) should name \(w)", file: file, line: line)
            }
        }
    }

    func editIndex(_ dir: URL, line: Int, _ edit: (inout [String: Any]) -> Void) throws {
        let url = dir.appendingPathComponent("index.jsonl")
        var lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[line].utf8)) as? [String: Any])
        edit(&object)
        lines[line] = String(
            decoding: try JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    func testFlippedByteInABatch() throws {
        let dir = try damaged { d in
            let url = d.appendingPathComponent("batches/iter-000002.frame")
            var bytes = try [UInt8](Data(contentsOf: url))
            bytes[bytes.count / 2] ^= 0x10
            try Data(bytes).write(to: url)
        }
        expect(.checksumMismatch, mentioning: ["iter-000002.frame", "SHA-256", "iteration 2"], dir)
    }

    func testBadFrameWhoseIndexWasUpdated() throws {
        // The index agrees with the damaged file, so the frame's own CRC32C catches it.
        let dir = try damaged { d in
            let url = d.appendingPathComponent("batches/iter-000001.frame")
            var bytes = try [UInt8](Data(contentsOf: url))
            bytes[bytes.count - 3] ^= 0x01
            try Data(bytes).write(to: url)
            try editIndex(d, line: 0) { $0["frame_sha256"] = RecordingLayout.frameDigest(bytes) }
        }
        expect(.malformed, mentioning: ["iter-000001.frame", "bad frame", "CRC32C"], dir)
    }

    func testTruncatedBatch() throws {
        let dir = try damaged { d in
            let url = d.appendingPathComponent("batches/iter-000003.frame")
            let bytes = try Data(contentsOf: url)
            try bytes.prefix(bytes.count - 100).write(to: url)
        }
        expect(.checksumMismatch, mentioning: ["iter-000003.frame", "truncated"], dir)
    }

    func testMissingBatch() throws {
        let dir = try damaged {
            try FileManager.default.removeItem(at: $0.appendingPathComponent("batches/iter-000002.frame"))
        }
        expect(.missingFile, mentioning: ["iter-000002.frame", "missing"], dir)
    }

    func testEditedParametersDigestNamesTheIteration() throws {
        let dir = try damaged { d in
            try editIndex(d, line: 1) { $0["params_sha256"] = String(repeating: "0", count: 64) }
        }
        expect(.diverged, mentioning: ["iteration 2", "0000000000000000", "SHA-256"], dir)
    }

    func testWrongSampleCount() throws {
        let dir = try damaged { d in try editIndex(d, line: 0) { $0["samples"] = 31 } }
        expect(.sampleCount, mentioning: ["iter-000001.frame", "31"], dir)
    }

    func testDroppedIndexLine() throws {
        let dir = try damaged { d in
            let url = d.appendingPathComponent("index.jsonl")
            let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
            try (lines.dropLast().joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        }
        XCTAssertThrowsError(try Recording(directory: dir)) { error in
            XCTAssertEqual((error as? RecordingError)?.code, .malformed)
            XCTAssertTrue("\(error)".contains("final.json"), "\(error)")
        }
    }

    func testGarbledIndexLineNamesTheLine() throws {
        let dir = try damaged { d in
            let url = d.appendingPathComponent("index.jsonl")
            var text = try String(contentsOf: url, encoding: .utf8)
            text = text.replacingOccurrences(of: "\"samples\":32,", with: "\"samples\":\"many\",")
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        XCTAssertThrowsError(try Recording(directory: dir)) { error in
            XCTAssertEqual((error as? RecordingError)?.code, .malformed)
            XCTAssertTrue("\(error)".contains("index.jsonl:1"), "\(error)")
        }
    }

    func testConfigError() throws {
        let dir = try damaged { d in
            let url = d.appendingPathComponent("config.yaml")
            let text = try String(contentsOf: url, encoding: .utf8)
            try text.replacingOccurrences(of: "  lr:", with: "  learning_rate:").write(
                to: url, atomically: true, encoding: .utf8)
        }
        XCTAssertThrowsError(try Recording(directory: dir)) { error in
            XCTAssertEqual((error as? RecordingError)?.code, .config)
            XCTAssertTrue("\(error)".contains("config.yaml"), "\(error)")
            XCTAssertTrue("\(error)".contains("learning_rate"), "\(error)")
        }
    }

    func testMissingStartState() throws {
        let dir = try damaged { try FileManager.default.removeItem(at: $0.appendingPathComponent("start")) }
        expect(.missingFile, mentioning: ["start"], dir)
    }

    func testNotARecording() throws {
        let dir = try temporaryDirectory()
        expect(.missingFile, mentioning: ["recording.json", "rpp learner --record"], dir)
        expect(.missingFile, mentioning: ["no such recording directory"], dir.appendingPathComponent("nowhere"))
    }
}
