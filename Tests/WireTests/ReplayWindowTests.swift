import Wire
import XCTest

/// The replay decision alone, with a clock the test controls.
final class ReplayWindowTests: XCTestCase {
    func stamp(_ millis: Int64, _ n: UInt64) -> FrameStamp {
        FrameStamp(unixMillis: millis, nonce: .init(high: n, low: 7))
    }

    func testEachNonceIsAcceptedOnce() {
        var w = ReplayWindow(windowMillis: 1000)
        XCTAssertEqual(w.admit(stamp(10_000, 1), now: 10_000), .fresh)
        XCTAssertEqual(w.admit(stamp(10_000, 2), now: 10_001), .fresh)
        XCTAssertEqual(w.admit(stamp(10_000, 1), now: 10_500), .replayed)
        XCTAssertEqual(w.admit(stamp(10_400, 1), now: 10_500), .replayed, "a new time with an old nonce is a replay")
    }

    func testStampsOutsideTheWindowAreRefusedEitherWay() {
        var w = ReplayWindow(windowMillis: 1000)
        XCTAssertEqual(w.admit(stamp(8_000, 1), now: 10_000), .tooOld(ageMillis: 2000))
        XCTAssertEqual(w.admit(stamp(12_000, 2), now: 10_000), .tooNew(aheadMillis: 2000))
        XCTAssertEqual(w.admit(stamp(9_000, 3), now: 10_000), .fresh, "exactly the window is accepted")
        XCTAssertEqual(w.admit(stamp(.min, 4), now: 10_000), .tooOld(ageMillis: .max))
        XCTAssertEqual(w.admit(stamp(.max, 5), now: -10_000), .tooNew(aheadMillis: .max))
    }

    func testNoncesAreForgottenOnlyOnceTheWindowRefusesThem() {
        var w = ReplayWindow(windowMillis: 1000)
        XCTAssertEqual(w.admit(stamp(10_000, 1), now: 10_000), .fresh)
        XCTAssertEqual(w.admit(stamp(10_900, 2), now: 10_900), .fresh)
        XCTAssertEqual(w.remembered, 2)
        // Later, the first nonce is out of the window: forgotten, and its frame is refused as too old.
        XCTAssertEqual(w.admit(stamp(10_000, 1), now: 11_500), .tooOld(ageMillis: 1500))
        XCTAssertEqual(w.remembered, 1)
        XCTAssertEqual(w.admit(stamp(10_900, 2), now: 11_500), .replayed)
    }

    func testAFullWindowNarrowsInsteadOfForgettingLiveNonces() {
        var w = ReplayWindow(windowMillis: 60_000, capacity: 3)
        for i in 0..<3 { XCTAssertEqual(w.admit(stamp(1_000 + Int64(i), UInt64(i)), now: 2_000), .fresh) }
        XCTAssertEqual(w.admit(stamp(1_010, 10), now: 2_000), .fresh)
        XCTAssertEqual(w.remembered, 3)
        // Nonce 0 (stamped 1000) was evicted: its replay is refused by the narrowed window, not accepted.
        XCTAssertEqual(w.admit(stamp(1_000, 0), now: 2_000), .tooOld(ageMillis: 1000))
        XCTAssertEqual(w.admit(stamp(1_001, 1), now: 2_000), .replayed)
        XCTAssertEqual(w.admit(stamp(1_020, 20), now: 2_000), .fresh, "newer frames still pass")
    }
}
