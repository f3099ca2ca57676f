import XCTest

@testable import Roles

/// Garbage frames cannot flood a log: the limiter alone, on a clock the test sets.
final class LogRateLimiterTests: XCTestCase {
    func testABurstPassesThenLinesAreCountedAndSummarisedEachPeriod() {
        var limiter = LogRateLimiter(burst: 3, periodMillis: 5_000)
        var written: [String] = []
        for i in 0..<1000 { written += limiter.record("bad frame \(i)", now: Int64(i)) }  // 1000 in one second
        XCTAssertEqual(written.count, 3)
        XCTAssertEqual(written[0], "bad frame 0")
        XCTAssertTrue(written[2].hasPrefix("bad frame 2") && written[2].contains("counted, not written"), written[2])
        XCTAssertEqual(limiter.pending, 997)
        XCTAssertNil(limiter.flush(now: 4_000), "no summary before the period ends")
        // The stream goes on: once the period is over, one summary, then a new burst.
        let next = limiter.record("bad frame 1000", now: 6_000)
        XCTAssertEqual(next.count, 2)
        XCTAssertTrue(next[0].hasPrefix("997 more such lines not written"), next[0])
        XCTAssertEqual(next[1], "bad frame 1000")
        XCTAssertEqual(limiter.pending, 0)
    }

    func testFlushWritesWhatIsHeldBackAndNothingWhenQuiet() {
        var limiter = LogRateLimiter(burst: 1, periodMillis: 1_000)
        XCTAssertEqual(limiter.record("a", now: 0).count, 1)
        XCTAssertEqual(limiter.record("b", now: 10), [])
        XCTAssertEqual(limiter.flush(now: 1_500), "1 more such line not written in the last 2 s")
        XCTAssertNil(limiter.flush(now: 9_000, force: true))
        XCTAssertEqual(
            limiter.record("c", now: 9_000), ["c (further lines like this are counted, not written, for 1 s)"])
        XCTAssertNil(limiter.flush(now: 9_001, force: true), "nothing held back")
    }

    func testOccasionalLinesAreAllWritten() {
        var limiter = LogRateLimiter(burst: 2, periodMillis: 1_000)
        for i in 0..<10 { XCTAssertEqual(limiter.record("line \(i)", now: Int64(i) * 2_000).count, 1) }
    }
}
