// Metrics and run files under faults: a full disk, a torn last line, a run directory that cannot be written,
// and a second run in the same directory. Every error is one line naming the file and `run.dir`.
import Foundation
import TestKit
import XCTest

@testable import RunKit

final class RunFileTests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws {
        dir = try temporaryDirectory("runkit-files").appendingPathComponent("run").path
    }

    func assertOneLineNamingFile(_ error: Error, _ path: String, file: StaticString = #filePath, line: UInt = #line) {
        let text = "\(error)"
        XCTAssertTrue(text.hasPrefix("run.dir: "), text, file: file, line: line)
        XCTAssertTrue(text.contains(path), text, file: file, line: line)
        XCTAssertFalse(
            text.contains("\n") || text.contains("NSError") || text.contains("Code="), text,
            file: file, line: line)
    }

    func testFullDiskMidLineLeavesNoTornLineAndNamesTheFile() throws {
        let sink = try MetricsJSONL(directory: dir, resume: false)
        try sink.append(iteration: 1, time: 1, metrics: ["x": 1])
        let before = try Data(contentsOf: URL(fileURLWithPath: sink.path))
        // The disk fills part-way through the next record: the kernel takes some bytes, then ENOSPC.
        var calls = 0
        sink.file.writeCall = { fd, pointer, count in
            calls += 1
            if calls == 1 { return write(fd, pointer, count / 2) }
            errno = ENOSPC
            return -1
        }
        XCTAssertThrowsError(try sink.append(iteration: 2, time: 2, metrics: ["x": 2])) { error in
            XCTAssertEqual("\(error)", "run.dir: cannot write \(sink.path): No space left on device")
            assertOneLineNamingFile(error, sink.path)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: sink.path)), before, "the partial record was cut back")
        sink.file.writeCall = { write($0, $1, $2) }
        try sink.append(iteration: 2, time: 2, metrics: ["x": 2])
        XCTAssertEqual(try MetricsJSONL.read(path: sink.path).map(\.iteration), [1, 2])
    }

    func testARealWriteErrorFromDevFullIsOneLine() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: "/dev/full"), "no /dev/full")
        let file = try AppendFile(path: "/dev/full", setting: "run.dir")
        XCTAssertThrowsError(try file.append(Array("{\"iteration\": 1}\n".utf8))) { error in
            XCTAssertEqual("\(error)", "run.dir: cannot write /dev/full: No space left on device")
        }
    }

    func testTornLastLineIsCutOffWhenTheFileIsOpenedAgain() throws {
        do {
            let sink = try MetricsJSONL(directory: dir, resume: false)
            try sink.append(iteration: 1, time: 1, metrics: ["x": 1])
        }
        let path = dir + "/metrics.jsonl"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"iteration": 2, "ti"#.utf8))
        try handle.close()
        let resumed = try MetricsJSONL(directory: dir, resume: true)
        XCTAssertEqual(resumed.droppedTornBytes, #"{"iteration": 2, "ti"#.utf8.count)
        try resumed.append(iteration: 2, time: 2, metrics: ["x": 2])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").count, 3, "header and two whole records: \(text)")
        XCTAssertTrue(text.hasSuffix("\n"))
        XCTAssertEqual(try MetricsJSONL.read(path: path).map(\.iteration), [1, 2])
    }

    func testANewRunRefusesAnEarlierRunsMetricsAndAResumeKeepsItsId() throws {
        let first = try MetricsJSONL(directory: dir, resume: false, run: "demo")
        try first.append(iteration: 1, time: 1, metrics: ["x": 1])
        XCTAssertThrowsError(try MetricsJSONL(directory: dir, resume: false)) { error in
            assertOneLineNamingFile(error, first.path)
            XCTAssertTrue("\(error)".contains("--resume") && "\(error)".contains(first.runID), "\(error)")
        }
        XCTAssertThrowsError(try RunMetrics.check(directory: dir, resume: false)) { error in
            assertOneLineNamingFile(error, first.path)
        }
        XCTAssertNoThrow(try RunMetrics.check(directory: dir, resume: true))
        let resumed = try MetricsJSONL(directory: dir, resume: true)
        XCTAssertEqual(resumed.runID, first.runID)
        // Resumed before any checkpoint: every earlier record moves aside and the header stays.
        XCTAssertEqual(try MetricsJSONL.setAside(path: first.path, after: -1), 1)
        XCTAssertEqual(try MetricsJSONL.read(path: first.path).count, 0)
        XCTAssertEqual(try MetricsJSONL(directory: dir, resume: true).runID, first.runID)
        XCTAssertNoThrow(try MetricsJSONL(directory: dir, resume: false), "a file with no records is no earlier run")
    }

    func testUnwritableRunDirectoryIsOneLineNamingTheSetting() throws {
        // Tests run as root, so permissions stop nothing: use a path under a regular file, and /proc.
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let plain = dir + "/a-file"
        XCTAssertTrue(FileManager.default.createFile(atPath: plain, contents: Data("x".utf8)))
        for runDir in [plain + "/runs/demo", "/proc/rpp-no-such-dir/demo"] {
            XCTAssertThrowsError(try RunMetrics.check(directory: runDir, resume: false)) { error in
                XCTAssertTrue(error is RunFileError, "\(error)")
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix("run.dir: cannot "), text)
                XCTAssertFalse(text.contains("\n") || text.contains("Code="), text)
            }
            XCTAssertThrowsError(try RunMetrics(directory: runDir, resume: false)) { error in
                XCTAssertTrue("\(error)".hasPrefix("run.dir: cannot "), "\(error)")
            }
        }
        XCTAssertThrowsError(try TensorBoardWriter(directory: plain + "/x")) { error in
            XCTAssertTrue("\(error)".hasPrefix("run.dir: cannot "), "\(error)")
        }
        XCTAssertThrowsError(try RunConfig().write(toDirectory: plain + "/x", setting: "--record")) { error in
            XCTAssertTrue("\(error)".hasPrefix("--record: cannot "), "\(error)")
        }
        XCTAssertNoThrow(try RunMetrics.check(directory: dir + "/fresh/run", resume: false))
    }
}
