// The test kit itself: fixture paths resolve to the committed files, closeness names what differs, ports are
// never handed out twice, temporary directories go away with their test, test threads are joined with a deadline.
import Foundation
import TestKit
import XCTest

final class TestKitTests: XCTestCase {
    func testFixturePathsFindTheCommittedFiles() {
        XCTAssertTrue(FileManager.default.fileExists(atPath: Fixtures.url("recording/recording.json").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: Fixtures.packageURL("Package.swift").path))
        XCTAssertEqual(Fixtures.root.lastPathComponent, "Fixtures")
    }

    func testClosenessNamesTheFirstElementOutsideAndTheLargestDifference() {
        XCTAssertNil(closeness([Float(1), 2, 3], [1.0, 2.0, 3.0]))
        XCTAssertNil(closeness([1.0, 2.0], [1.05, 2.0], tol: 0.1))
        XCTAssertNil(closeness([100.0, 2.0], [101.0, 2.0], rel: 0.01), "relative tolerance scales with |expected|")
        XCTAssertNotNil(closeness([100.0, 2.0], [101.0, 2.0], rel: 0.001))
        XCTAssertNil(closeness([Double.nan], [Double.nan]), "NaN matches NaN")
        XCTAssertEqual(closeness([Float.nan], [1.0])?.hasPrefix("[0]: got nan, expected 1.0"), true)
        XCTAssertEqual(closeness([1.0], [1.0, 2.0]), ": 1 values, expected 2")
        let message = closeness([0.0, 1.5, 2.0, 9.0], [0.0, 1.0, 2.0, 3.0], tol: 0.1)
        XCTAssertEqual(
            message,
            "[1]: got 1.5, expected 1.0 (difference 0.5); 2 of 4 outside tol 0.1 + rel 0.0·|expected|; "
                + "largest difference 6.0 at [3]")
    }

    func testPortsAreNeverHandedOutTwiceAndBindable() {
        var seen = Set<Int>()
        for _ in 0..<200 {
            let port = LoopbackPorts.port()
            XCTAssertTrue(LoopbackPorts.range.contains(port))
            XCTAssertTrue(seen.insert(port).inserted, "port \(port) handed out twice")
        }
        let base = LoopbackPorts.block(6)
        for port in base..<(base + 6) {
            XCTAssertFalse(seen.contains(port), "block port \(port) was handed out before")
            XCTAssertTrue(LoopbackPorts.isBindable(port))
        }
        XCTAssertNotEqual(LoopbackPorts.block(6), base)
    }

    func testAddressesAreUnique() {
        XCTAssertNotEqual(TestAddress.inproc(), TestAddress.inproc())
        XCTAssertTrue(TestAddress.inproc().hasPrefix("inproc://rpp-testAddressesAreUnique-"))
        XCTAssertNotEqual(TestAddress.ipc(), TestAddress.ipc())
        XCTAssertTrue(TestAddress.tcp().hasPrefix("tcp://127.0.0.1:"))
    }

    func testTemporaryDirectoryIsEmptyAndGoesAwayWithTheTest() throws {
        let kept = try TemporaryDirectory.make("rpp-testkit")
        defer { try? FileManager.default.removeItem(at: kept) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: kept.path), [])
        XCTAssertTrue(kept.lastPathComponent.hasPrefix("rpp-testkit-"))
        // Teardown blocks run last added first: this check runs after the removal registered below.
        let made = Box()
        addTeardownBlock {
            XCTAssertFalse(FileManager.default.fileExists(atPath: made.path), "removed when the test ended")
        }
        let dir = try temporaryDirectory("rpp-testkit")
        made.path = dir.path
        try Data("x".utf8).write(to: dir.appendingPathComponent("file"))
    }

    func testThreadsAreJoinedWithADeadline() {
        let threads = TestThreads()
        let done = Box()
        threads.start(4, named: "adder") { i in done.append(i) }
        XCTAssertTrue(threads.wait(seconds: 30))
        XCTAssertEqual(done.items.sorted(), [0, 1, 2, 3])
        let release = DispatchSemaphore(value: 0)
        threads.start("held") { release.wait() }
        XCTAssertFalse(threads.wait(seconds: 0.05), "a thread still running is reported")
        XCTAssertEqual(threads.stillRunning, ["held"])
        release.signal()
        XCTAssertTrue(threads.wait(seconds: 30))
        XCTAssertEqual(threads.stillRunning, [])
    }
}

/// A value shared with teardown blocks and threads.
private final class Box: @unchecked Sendable {
    private let lock = NSLock()
    private var _path = ""
    private var _items: [Int] = []
    var path: String {
        get { lock.withLock { _path } }
        set { lock.withLock { _path = newValue } }
    }
    var items: [Int] { lock.withLock { _items } }
    func append(_ i: Int) { lock.withLock { _items.append(i) } }
}
