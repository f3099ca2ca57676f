// `rpp replay` on the committed recording (Tests/Fixtures/recording), on damaged copies, and `rpp inspect frame`
// on a recorded batch.
import Foundation
import TestKit
import XCTest

final class ReplayCommandTests: XCTestCase {
    let recording = Fixtures.url("recording")

    func recordedFinalSHA() throws -> String {
        let data = try Data(contentsOf: recording.appendingPathComponent("final.json"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap(json["params_sha256"] as? String)
    }

    func testReplaysTheCommittedRecordingBitForBit() throws {
        let start = Date()
        let r = try RPP.run(["replay", recording.path])
        print(String(format: "rpp replay of the committed recording: %.2f s wall", Date().timeIntervalSince(start)))
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let sha = try recordedFinalSHA()
        XCTAssertTrue(r.stdout.contains("replay: final parameters sha256 \(sha)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("replay: recorded parameters sha256 \(sha) (final.json)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("identical, bit for bit (3 updates"), r.stdout)
        XCTAssertEqual(r.stdout.components(separatedBy: "replay: iter ").count - 1, 3, r.stdout)
        // Kernels every x86-64 CPU runs: this passes on any of them, whatever kernels OpenBLAS picks by itself.
        XCTAssertTrue(r.stdout.contains("OpenBLAS core Nehalem (recorded Nehalem)"), r.stdout)
        // An fp32 learner never runs the recorded bf16 kernel, whether this CPU has it or not.
        XCTAssertFalse(r.stdout.contains("warning"), r.stdout)
    }

    /// The C library's exp and log come in variants chosen by CPU feature; with the AVX2 and FMA ones turned off
    /// (as on a CPU without them) the committed recording still replays bit for bit.
    func testReplaysWithTheMathLibraryOfACPUWithoutAVX2() throws {
        let r = try RPP.run(
            ["replay", recording.path], environment: ["GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("identical, bit for bit"), r.stdout)
    }

    /// Products are split into as many parts as the recording process had cores, whatever this machine has: a
    /// recording that says 7 is replayed with 7 parts here.
    func testSplitsProductsAsRecorded() throws {
        let copy = try temporaryDirectory("rpp-cli").appendingPathComponent("recording")
        try FileManager.default.copyItem(at: recording, to: copy)
        let header = copy.appendingPathComponent("recording.json")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: header)) as? [String: Any])
        XCTAssertEqual(json["workers"] as? Int, 2, "the committed recording was made on 2 cores")
        let cores = ProcessInfo.processInfo.activeProcessorCount
        json["workers"] = cores == 7 ? 5 : 7
        try JSONSerialization.data(withJSONObject: json).write(to: header)
        let r = try RPP.run(["replay", copy.path])
        let parts = cores == 7 ? 5 : 7
        XCTAssertTrue(
            r.stdout.contains(
                "replay: products split into \(parts) parts as recorded (this machine has \(cores) cores)"),
            r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("replay: final parameters sha256"), r.stdout + r.stderr)
    }

    /// Started with other OpenBLAS kernels, replay re-executes itself with the recorded ones.
    func testUsesTheRecordedKernels() throws {
        let r = try RPP.run(["replay", recording.path], environment: ["OPENBLAS_CORETYPE": "Sandybridge"])
        let text = r.stdout
        XCTAssertEqual(r.status, 0, text + r.stderr)
        XCTAssertTrue(text.contains("identical, bit for bit"), text)
        let recorded = try String(contentsOf: recording.appendingPathComponent("recording.json"), encoding: .utf8)
        XCTAssertFalse(text.contains("OpenBLAS core Sandybridge"), text)
        XCTAssertTrue(
            recorded.contains(text.components(separatedBy: "OpenBLAS core ")[1].components(separatedBy: " ")[0]), text)
    }

    func testUntilAndOut() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("ckpt")
        let r = try RPP.run(["replay", recording.path, "--until", "1", "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("(index.jsonl: parameters before iteration 2)"), r.stdout)
        for file in ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), file)
        }
        let bad = try RPP.run(["replay", recording.path, "--until", "7"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("--until 7: the recording holds iterations 1–3"), bad.stderr)
    }

    func testFlippedByteIsOneLineNamingTheFile() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("recording")
        try FileManager.default.copyItem(at: recording, to: copy)
        let frame = copy.appendingPathComponent("batches/iter-000003.frame")
        var bytes = try [UInt8](Data(contentsOf: frame))
        bytes[40] ^= 0x01
        try Data(bytes).write(to: frame)
        let r = try RPP.run(["replay", copy.path])
        XCTAssertEqual(r.status, 1)
        let errors = r.stderr.split(separator: "\n")
        XCTAssertEqual(errors.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("rpp replay: \(frame.path): SHA-256"), r.stderr)
        XCTAssertFalse(r.stdout.contains("replay: iter"), "every batch is checked before the first update: \(r.stdout)")
    }

    func testMissingDirectory() throws {
        let r = try RPP.run(["replay", "/nonexistent/recording"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(
            r.stderr,
            "rpp replay: /nonexistent/recording: no such recording directory; make one with `rpp learner --record DIR`\n"
        )
    }

    func testInspectFrameReadsARecordedBatch() throws {
        let r = try RPP.run([
            "inspect", "frame", "--max-values", "4",
            recording.appendingPathComponent("batches/iter-000001.frame").path,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let header = try XCTUnwrap(json["header"] as? [String: Any])
        XCTAssertEqual(header["kind"] as? String, "experience_batch")
        XCTAssertTrue(r.stdout.contains("rpp-record"), r.stdout.prefix(500) + "")
    }

    func testHelp() throws {
        let r = try RPP.run(["replay", "--help"])
        XCTAssertEqual(r.status, 0)
        let text = r.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for words in ["rpp learner --record DIR", "--until", "--out", "OPENBLAS_CORETYPE", "bit for bit"] {
            XCTAssertTrue(text.contains(words), "rpp replay --help should mention \(words):\n\(r.stdout)")
        }
        let learner = try RPP.run(["learner", "--help"])
        XCTAssertTrue(learner.stdout.contains("--record"), learner.stdout)
    }
}
