import Foundation
import TestKit
import Wire
import XCTest

/// `rpp inspect frame` on the golden frames and on every kind of damage the acceptance names.
final class InspectFrameTests: XCTestCase {
    let frames = Fixtures.url("frames")

    func goldenFrames() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: frames, includingPropertiesForKeys: nil)
            .filter {
                let name = $0.lastPathComponent
                return $0.pathExtension == "frame" && !name.hasPrefix("signed") && !name.hasPrefix("v1_")
                    && (!name.hasPrefix("v2_")
                        || ["v2_weight_announcement.frame", "v2_weight_progress.frame"].contains(name))
            }
    }

    func testDecodesEveryGoldenFrame() throws {
        let all = try goldenFrames()
        XCTAssertEqual(all.count, MessageKind.allCases.count, "one golden frame per message kind")
        for url in all {
            let r = try RPP.run(["inspect", "frame", url.path])
            XCTAssertEqual(r.status, 0, "\(url.lastPathComponent): \(r.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            let header = json?["header"] as? [String: Any]
            let name = url.deletingPathExtension().lastPathComponent
            XCTAssertEqual(header?["kind"] as? String, name.hasPrefix("v2_") ? String(name.dropFirst(3)) : name)
            XCTAssertNotNil(json?["message"] as? [String: Any])
        }
    }

    func testASparseDeltaChunkIsShownExpanded() throws {
        var delta = [Float](repeating: 0, count: 2048)
        delta[3] = 1.5
        delta[2000] = -2
        let chunk = WeightChunk(
            policyVersion: 4, index: 0, count: delta.count, offset: 0, data: DenseTensor(floats: delta),
            baseVersion: 3)
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("delta.frame")
        try Data(FrameCodec(compression: .never).encode(.weightChunk(chunk))).write(to: path)
        let r = try RPP.run(["inspect", "frame", "--max-values", "4096", path.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let header = try XCTUnwrap(json["header"] as? [String: Any])
        XCTAssertLessThan(try XCTUnwrap(header["payload_bytes"] as? Int), 2048, "the chunk went in the sparse form")
        let message = try XCTUnwrap(json["message"] as? [String: Any])
        let tensor = try XCTUnwrap(message["data"] as? [String: Any], r.stdout)
        XCTAssertNil(tensor["filter"], "the sparse form is undone")
        XCTAssertEqual((tensor["values"] as? [Double])?.map { Float($0) }, delta)
    }

    func testSignedFrameWithItsKey() throws {
        let r = try RPP.run([
            "inspect", "frame", "--key", frames.appendingPathComponent("test-cluster.key").path,
            frames.appendingPathComponent("signed_heartbeat.frame").path,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"mac\": \"verified\""), r.stdout)
    }

    func testVersion2SignedAndEncryptedFramesWithTheirKey() throws {
        let key = frames.appendingPathComponent("test-cluster.key").path
        let signedFrame = frames.appendingPathComponent("v2_signed_heartbeat.frame").path
        let signed = try RPP.run(["inspect", "frame", "--key", key, signedFrame])
        XCTAssertEqual(signed.status, 0, signed.stderr)
        XCTAssertTrue(signed.stdout.contains("\"mac\": \"verified\""), signed.stdout)
        XCTAssertTrue(signed.stdout.contains("\"stamp\""), signed.stdout)
        let encrypted = frames.appendingPathComponent("v2_encrypted_heartbeat.frame").path
        let opened = try RPP.run(["inspect", "frame", "--key", key, encrypted])
        XCTAssertEqual(opened.status, 0, opened.stderr)
        XCTAssertTrue(opened.stdout.contains("\"encrypted\"") && opened.stdout.contains("rollout-1"), opened.stdout)
        let closed = try RPP.run(["inspect", "frame", encrypted])
        XCTAssertEqual(closed.status, 1)
        XCTAssertTrue(closed.stderr.contains("encrypted") && closed.stderr.contains("cluster.key_file"), closed.stderr)
    }

    func expectOneLineError(
        _ bytes: [UInt8], mentioning words: [String], key: URL? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("input.frame")
        try Data(bytes).write(to: path)
        let r = try RPP.run(["inspect", "frame"] + (key.map { ["--key", $0.path] } ?? []) + [path.path])
        XCTAssertEqual(r.status, 1, "exit status", file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line: \(r.stderr)", file: file, line: line)
        for word in words {
            XCTAssertTrue(r.stderr.contains(word), "\(r.stderr) should name \(word)", file: file, line: line)
        }
    }

    func testRandomBytes() throws {
        var g = SystemRandomNumberGenerator()
        try expectOneLineError((0..<512).map { _ in UInt8.random(in: 0...255, using: &g) }, mentioning: ["bad magic"])
    }

    func testTruncatedFrame() throws {
        let bytes = try [UInt8](Data(contentsOf: frames.appendingPathComponent("work_unit.frame")))
        try expectOneLineError(Array(bytes.dropLast(7)), mentioning: ["truncated payload"])
        try expectOneLineError(Array(bytes.prefix(9)), mentioning: ["truncated header"])
    }

    func testOneFlippedBit() throws {
        var bytes = try [UInt8](Data(contentsOf: frames.appendingPathComponent("experience_batch.frame")))
        bytes[40] ^= 0x10
        try expectOneLineError(bytes, mentioning: ["checksum mismatch"])
    }

    func testEmptyFile() throws {
        try expectOneLineError([], mentioning: ["truncated header", "0 bytes"])
    }

    func testFrameSignedWithAnotherKey() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let other = dir.appendingPathComponent("other.key")
        try Data(String(repeating: "5a", count: 32).utf8).write(to: other)
        let bytes = try [UInt8](Data(contentsOf: frames.appendingPathComponent("signed_heartbeat.frame")))
        try expectOneLineError(bytes, mentioning: ["bad MAC"], key: other)
        // And an unsigned frame where a key is required.
        let plain = try [UInt8](Data(contentsOf: frames.appendingPathComponent("heartbeat.frame")))
        try expectOneLineError(plain, mentioning: ["missing MAC"], key: other)
    }

    func testMissingFile() throws {
        let r = try RPP.run(["inspect", "frame", "/nonexistent/rpp.frame"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("cannot read"), r.stderr)
    }
}
