// `rpp reward`, `rpp reference` and `rpp rm-train` as child processes: servers on a free loopback port
// answer real requests over nanomsg, stop cleanly on SIGTERM, and refuse bad configs with one line.
// (Wire and Roles are imported for the client side; they are linked through the rpp target.)
import Foundation
import Roles
import Tasks
import TestKit
import Wire
import XCTest

/// A running `rpp` server process whose stdout is collected as it arrives.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var output = ""
    private var killText: String?

    init(_ arguments: [String]) throws {
        process.executableURL = RPP.binary
        process.arguments = arguments
        // Several roles share two cores: one BLAS thread each (as `make run` does).
        process.environment = ProcessInfo.processInfo.environment.merging(["OPENBLAS_NUM_THREADS": "1"]) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        out.fileHandleForReading.readabilityHandler = { [self] h in
            let data = h.availableData
            if data.isEmpty {
                h.readabilityHandler = nil
                return
            }
            lock.withLock {
                output += String(decoding: data, as: UTF8.self)
                if let text = killText, output.contains(text) {
                    kill(process.processIdentifier, SIGKILL)
                    killText = nil
                }
            }
        }
        try process.run()
    }

    /// Sends SIGKILL the moment stdout contains `text` (from the reader, without a poll's delay); returns once the
    /// process has ended, or false if `text` did not come within `seconds`.
    func killWhenPrinted(_ text: String, seconds: Double = 60) -> Bool {
        lock.withLock {
            if output.contains(text) { kill(process.processIdentifier, SIGKILL) } else { killText = text }
        }
        let printed = waitFor(text, seconds: seconds)
        if !printed { lock.withLock { killText = nil } }
        if printed { process.waitUntilExit() }
        return printed
    }

    var stdout: String { lock.withLock { output } }

    /// Waits until stdout contains `text` (or the process ends / the deadline passes).
    func waitFor(_ text: String, seconds: Double = 20) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if stdout.contains(text) { return true }
            if !process.isRunning { return stdout.contains(text) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// SIGTERM, then the exit status and the seconds it took (nil if still running after `seconds`).
    func terminate(within seconds: Double) -> (status: Int32, seconds: Double)? {
        let start = Date()
        process.terminate()
        while process.isRunning && Date().timeIntervalSince(start) < seconds { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return (process.terminationStatus, Date().timeIntervalSince(start))
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

final class ServerCommandTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = try temporaryDirectory("rpp-cli")
    }
    override func tearDownWithError() throws { if let d = dir { try? FileManager.default.removeItem(at: d) } }

    func writeConfig(_ yaml: String) throws -> String {
        let path = dir.appendingPathComponent("run-\(UUID().uuidString.prefix(8)).yaml").path
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Tokens of an arithmetic item: "1+2=" left-padded to 8, the response then EOS.
    func item(_ response: String) -> ScoreItem {
        let digits = response.map { Int32(String($0))! + 2 }
        return ScoreItem(promptTokens: [0, 0, 0, 0, 3, 12, 4, 15], responseTokens: digits + [1], answer: "3")
    }

    func score(_ address: String, _ items: [ScoreItem], codec: FrameCodec = FrameCodec()) throws -> [Float] {
        let client = try ServiceClient(service: "reward", addresses: [address], codec: codec)
        defer { client.close() }
        guard
            case .scoreReply(let reply) = try client.call(
                .scoreRequest(ScoreRequest(id: 5, items: items)),
                timeout: .seconds(10))
        else {
            XCTFail("expected a score reply")
            return []
        }
        XCTAssertEqual(reply.id, 5)
        return reply.rewards
    }

    /// An arith_exact reward server (with a cluster key) scores a right answer 1 and a wrong one 0, and
    /// SIGTERM stops it with status 0 within 2 s.
    func testRewardServerScoresAndStopsOnSIGTERM() throws {
        let keyFile = dir.appendingPathComponent("cluster.key")
        try Data((String(repeating: "ab", count: 32) + "\n").utf8).write(to: keyFile)
        let address = TestAddress.tcp()
        let config = try writeConfig("cluster:\n  reward: [\"\(address)\"]\n  key_file: \(keyFile.path)\n")
        let server = try ServerProcess(["reward", "--config", config])
        XCTAssertTrue(server.waitFor("listening"), server.stdout)
        XCTAssertTrue(
            server.stdout.contains(address) && server.stdout.contains("arith_exact")
                && server.stdout.contains("key "), server.stdout)
        let codec = FrameCodec(key: try ClusterKey(file: keyFile.path))
        XCTAssertEqual(try score(address, [item("3"), item("4"), item("03")], codec: codec), [1, 0, 0])
        let stopped = server.terminate(within: 2)
        XCTAssertEqual(stopped?.status, 0, "not stopped within 2 s: \(server.stdout)")
        XCTAssertTrue(server.stdout.contains("1 requests"), server.stdout)
    }

    /// A bad config value exits 1 with one line naming the key; a taken address exits 1.
    func testBadConfigAndTakenAddressExit1() throws {
        let bad = try RPP.run(["reward", "--config", try writeConfig("reward:\n  kind: exactish\n")])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("reward.kind"), bad.stderr)
        XCTAssertEqual(
            bad.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, bad.stderr)
        let model = try RPP.run([
            "reward", "--config", try writeConfig("{}\n"), "--set", "reward.kind=model",
            "--set", "reward.model=\(dir.path)/nope",
        ])
        XCTAssertEqual(model.status, 1)
        XCTAssertTrue(model.stderr.contains("nope"), model.stderr)
        let address = TestAddress.tcp()
        let first = try ServerProcess(["reward", "--config", try writeConfig("{}\n"), "--listen", address])
        XCTAssertTrue(first.waitFor("listening"), first.stdout)
        let second = try RPP.run(["reward", "--config", try writeConfig("{}\n"), "--listen", address])
        XCTAssertEqual(second.status, 1)
        XCTAssertTrue(second.stderr.contains(address), second.stderr)
        XCTAssertEqual(first.terminate(within: 2)?.status, 0)
    }

    /// The reference server answers per-token log-probs of a checkpoint; a missing checkpoint exits 1
    /// naming its path.
    func testReferenceServerAnswersAndMissingCheckpointFails() throws {
        let missing = try RPP.run([
            "reference", "--config", try writeConfig("model:\n  reference: \(dir.path)/absent\n"),
        ])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("\(dir.path)/absent"), missing.stderr)
        let ckpt = Fixtures.url("model/llama-gqa").path
        let address = TestAddress.tcp()
        let server = try ServerProcess([
            "reference", "--config", try writeConfig("model:\n  reference: \(ckpt)\n"),
            "--listen", address,
        ])
        XCTAssertTrue(server.waitFor("listening"), server.stdout)
        let client = try ServiceClient(service: "reference", addresses: [address], codec: FrameCodec())
        defer { client.close() }
        let request = RefLogprobRequest(
            id: 2, sequences: [TokenSequence(promptTokens: [1, 2, 3], responseTokens: [4, 5])])
        guard case .refLogprobReply(let reply) = try client.call(.refLogprobRequest(request), timeout: .seconds(10))
        else {
            return XCTFail("expected a reply")
        }
        XCTAssertEqual(reply.logprobs.count, 1)
        XCTAssertEqual(reply.logprobs[0].count, 2)
        XCTAssertTrue(reply.logprobs[0].allSatisfy { $0 < 0 && $0.isFinite }, "\(reply.logprobs)")
        XCTAssertEqual(server.terminate(within: 2)?.status, 0)
    }

    /// rm-train writes a checkpoint with reward_stats.json; a reward server of kind model serves it,
    /// normalised; --write-prefs writes the generated pairs.
    func testRMTrainThenServeTheRewardModel() throws {
        let prefs = dir.appendingPathComponent("prefs.jsonl").path
        let w = try RPP.run(["rm-train", "--write-prefs", prefs, "--arith-pairs", "64"])
        XCTAssertEqual(w.status, 0, w.stderr)
        XCTAssertEqual(try String(contentsOfFile: prefs, encoding: .utf8).split(separator: "\n").count, 64)
        let out = dir.appendingPathComponent("rm").path
        let t = try RPP.run(["rm-train", "--data", prefs, "--steps", "20", "--hidden", "32", "--out", out])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stdout.contains("held-out pair accuracy"), t.stdout)
        for f in ["config.json", "model.safetensors", "reward_stats.json", "rm_result.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(f)"), f)
        }
        let address = TestAddress.tcp()
        let config = try writeConfig("reward:\n  kind: model\n  model: \(out)\n  normalize: true\n")
        let server = try ServerProcess(["reward", "--config", config, "--listen", address])
        XCTAssertTrue(server.waitFor("listening"), server.stdout)
        XCTAssertTrue(server.stdout.contains("normalised"), server.stdout)
        let rewards = try score(address, [item("3"), item("4")])
        XCTAssertEqual(rewards.count, 2)
        XCTAssertTrue(rewards.allSatisfy(\.isFinite), "\(rewards)")
        XCTAssertEqual(server.terminate(within: 2)?.status, 0)
    }
}
