import Roles
import TestKit
import Wire
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
        let labels = ["1 KB ", "1 MB ", "16 MB ", "16 MB in 1 MiB chunks "]
        for section in sections.dropFirst() {
            for label in labels {
                let rows = section.split(separator: "\n").filter {
                    $0.hasPrefix(label) && (label.contains("chunks") || !$0.contains("chunks"))
                }
                XCTAssertEqual(rows.count, 1, "\(label):\n\(section)")
                guard let row = rows.first else { continue }
                // raw, raw+copy and framed MB/s; framed/raw best and median; framed/raw+copy best and median.
                let figures = row.dropFirst(label.count).split(separator: " ").prefix(7).compactMap { Double($0) }
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
        XCTAssertEqual(stdout.split(separator: "\n").filter { $0.hasPrefix("16 MB") }.count, 4, stdout + stderr)
    }

    /// A tensor sent in chunk frames of the broadcast's kind (the last piece shorter) arrives whole: every chunk
    /// in its place in the receiver's buffer, its checksum checked on the way.
    func testChunkedTensorArrivesInPlace() throws {
        let values = (0..<10_000).map { Float($0) * 0.5 - 7 }
        let address = TestAddress.inproc()
        let pull = try FrameSocket(.pull)
        try pull.bind(address)
        let push = try FrameSocket(.push)
        try push.connect(address)
        defer {
            push.close()
            pull.close()
        }
        let publication = try WeightPublisher.publish(version: 1, parameters: values, chunkElements: 4096)
        XCTAssertEqual(publication.announcement.chunkCount, 3)
        let destination = ReceiveBuffer()
        let sender = Thread { try? LoopbackBench.sendChunks(of: publication, on: push) }
        sender.start()
        for _ in 0..<3 { try LoopbackBench.receiveChunk(on: pull, into: destination, total: values.count) }
        let received = destination.pointer(holding: values.count * 4).bindMemory(to: Float.self, capacity: values.count)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: received, count: values.count)), values)
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
