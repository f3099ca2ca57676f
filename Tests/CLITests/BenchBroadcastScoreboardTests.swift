import XCTest

@testable import rpp

/// What `rpp bench broadcast` makes of its worker processes' lines, worked by hand.
final class BenchBroadcastScoreboardTests: XCTestCase {
    /// Verification times per worker, and the CPU time the workers spent on a version: each worker's CPU clock at
    /// that version less at the one before (at the first version, all of it), summed.
    func testVerifiedLinesGiveTimesAndCPUPerVersion() {
        let board = Scoreboard()
        board.take(worker: 0, line: "ready")
        board.take(worker: 1, line: "ready")
        XCTAssertTrue(board.waitReady(2, timeout: 0))
        board.take(worker: 0, line: "verified 1 1000 5000")
        board.take(worker: 1, line: "verified 1 1200 7000")
        board.take(worker: 1, line: "verified 2 2300 7400")
        XCTAssertFalse(board.all(2, have: 2))
        board.take(worker: 0, line: "verified 2 2100 5300")
        XCTAssertTrue(board.all(2, have: 2))
        XCTAssertEqual(board.times(of: 1), [1000, 1200])
        XCTAssertEqual(board.times(of: 2), [2100, 2300])
        XCTAssertEqual(board.cpuSpent(on: 1), 12_000)
        XCTAssertEqual(board.cpuSpent(on: 2), 300 + 400)
        // A worker that skipped a version counts from the last one it had.
        board.take(worker: 0, line: "verified 4 4000 6000")
        XCTAssertEqual(board.cpuSpent(on: 4), 6000 - 5300)
        // A line without the CPU time, or with a word that is not a number, counts for nothing.
        board.take(worker: 0, line: "verified 3 3000")
        board.take(worker: 1, line: "verified 3 3000 x")
        XCTAssertEqual(board.times(of: 3), [])
    }

    func testMissingLinesAreTakenOnce() {
        let board = Scoreboard()
        board.take(worker: 0, line: "missing 4 1,5,9")
        let missing = board.takeMissing()
        XCTAssertEqual(missing.map(\.version), [4])
        XCTAssertEqual(missing.first?.chunks, [1, 5, 9])
        XCTAssertTrue(board.takeMissing().isEmpty)
    }

    func testMedianOfOddAndEvenCounts() {
        XCTAssertEqual(median([3, 1, 2]), 2)
        XCTAssertEqual(median([4, 1, 3, 2]), 2.5)
        XCTAssertTrue(median([]).isNaN)
    }
}
