import XCTest

@testable import rpp

final class BenchWireCommandTests: XCTestCase {
    /// The throughput table runs with the receiver in this process and in a process of its own; every row of both
    /// reports each receiver's rate and the framed ratios, best and median.
    func testThroughputRunsInOneProcessAndInTwo() throws {
        let r = try RPP.run(["bench", "wire", "--only", "throughput", "--seconds", "0.01", "--rounds", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("of 3 rounds"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\nCPU: "), "the figures name their CPU:\n\(r.stdout)")
        let sections = r.stdout.components(separatedBy: "\n## ")
        XCTAssertEqual(sections.count, 3, r.stdout)
        XCTAssertTrue(sections[1].contains("in one process"), r.stdout)
        XCTAssertTrue(sections[2].contains("in a process of its own"), r.stdout)
        for section in sections.dropFirst() {
            let rows = section.split(separator: "\n").filter {
                $0.hasPrefix("1 KB") || $0.hasPrefix("1 MB") || $0.hasPrefix("16 MB")
            }
            XCTAssertEqual(rows.count, 3, section)
            for row in rows {
                // raw, raw+copy and framed MB/s; framed/raw best and median; framed/raw+copy best and median.
                let figures = row.split(separator: " ").dropFirst(2).prefix(7).compactMap { Double($0) }
                XCTAssertEqual(figures.count, 7, String(row))
                XCTAssertTrue(figures.allSatisfy { $0 > 0 && $0.isFinite }, String(row))
            }
        }
    }

    func testRoundsOutOfRangeAreRefused() throws {
        let r = try RPP.run(["bench", "wire", "--only", "throughput", "--rounds", "0"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--rounds"), r.stderr)
    }

    /// Run as `rpp` found on PATH from another directory, the bench still starts its receiving process (this
    /// binary, wherever it is).
    func testReceiverProcessStartsWhenRppIsFoundOnThePath() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "cd / && rpp bench wire --only throughput --seconds 0.01 --rounds 1"]
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] =
            RPP.binary.deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, stderr)
        XCTAssertTrue(stdout.contains("in a process of its own"), stdout)
        XCTAssertEqual(stdout.split(separator: "\n").filter { $0.hasPrefix("16 MB") }.count, 2, stdout + stderr)
    }
}

final class LoopbackRoundsTests: XCTestCase {
    /// Best times per receiver, and the median of the per-round ratios (odd and even counts), by hand.
    func testBestAndMedianRatio() {
        var r = LoopbackRounds()
        r.add(raw: 1.0, copy: 2.0, framed: 2.0)  // framed/raw 0.5, framed/copy 1.0
        r.add(raw: 3.0, copy: 3.0, framed: 4.0)  // 0.75, 0.75
        r.add(raw: 0.9, copy: 1.0, framed: 1.0)  // 0.9, 1.0
        XCTAssertEqual(r.best(\.raw), 0.9)
        XCTAssertEqual(r.best(\.framed), 1.0)
        XCTAssertEqual(r.medianRatio(\.raw), 0.75)
        XCTAssertEqual(r.medianRatio(\.copy), 1.0)
        r.add(raw: 2.0, copy: 1.0, framed: 1.0)  // 2.0, 1.0
        XCTAssertEqual(r.medianRatio(\.raw), (0.75 + 0.9) / 2, accuracy: 1e-12)
        XCTAssertTrue(LoopbackRounds().medianRatio(\.raw).isNaN)
    }
}
