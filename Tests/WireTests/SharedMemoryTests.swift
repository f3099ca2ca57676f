// Shared-memory files: what one process writes another maps by its /proc path, a path of another form or a file too
// small is refused with the reason, and a weight announcement names such a file only in that form and on a full copy.
import Foundation
import XCTest

@testable import Wire

final class SharedMemoryTests: XCTestCase {
    func testAMappingSeesWhatTheFileHoldsAndWhatIsWrittenLater() throws {
        let file = try SharedMemoryFile(name: "rpp-test", bytes: 10_000)
        XCTAssertTrue(SharedMemoryMapping.isProcessFile(file.path), file.path)
        for i in 0..<file.bytes.count { file.bytes[i] = UInt8(truncatingIfNeeded: i * 7) }
        let mapping = try SharedMemoryMapping(path: file.path, minimumBytes: 10_000)
        XCTAssertEqual(mapping.bytes.count, 10_000)
        XCTAssertEqual(Array(mapping.bytes), Array(file.bytes))
        file.bytes[123] = 0xAB
        XCTAssertEqual(mapping.bytes[123], 0xAB, "one memory, not a copy")
        XCTAssertTrue(mapping.isCurrent)
    }

    func testAMappingOutlivesItsFileAndKnowsWhenThePathNamesAnother() throws {
        var file: SharedMemoryFile? = try SharedMemoryFile(name: "rpp-test", bytes: 4096)
        file!.bytes[0] = 42
        let path = file!.path
        let mapping = try SharedMemoryMapping(path: path, minimumBytes: 1)
        file = nil
        XCTAssertEqual(mapping.bytes[0], 42, "the pages stay while mapped")
        XCTAssertFalse(mapping.isCurrent, "the descriptor is closed (or its number names another file)")
    }

    func testAPathNamingNothingSaysWhichAndWhy() {
        let path = "/proc/\(getpid())/fd/999999"
        XCTAssertThrowsError(try SharedMemoryMapping(path: path, minimumBytes: 1)) { error in
            XCTAssertTrue("\(error)".contains(path) && "\(error)".contains("open"), "\(error)")
        }
    }

    func testPathsOfAnotherFormAndSmallFilesAreRefused() throws {
        for path in ["/tmp/x", "/proc/self/fd/3", "/proc/1/fd/", "/proc/12/fd/3/x", "proc/1/fd/3", "/proc/1/fds/3"] {
            XCTAssertFalse(SharedMemoryMapping.isProcessFile(path), path)
            XCTAssertThrowsError(try SharedMemoryMapping(path: path, minimumBytes: 1)) { error in
                XCTAssertTrue("\(error)".contains("/proc/PID/fd/N"), "\(error)")
            }
        }
        let file = try SharedMemoryFile(name: "rpp-test", bytes: 100)
        XCTAssertThrowsError(try SharedMemoryMapping(path: file.path, minimumBytes: 101)) { error in
            XCTAssertTrue("\(error)".contains("holds 100 bytes, expected at least 101"), "\(error)")
        }
        XCTAssertThrowsError(try SharedMemoryFile(name: "rpp-test", bytes: 0))
    }

    func testAnAnnouncementNamesSharedMemoryOnlyByItsProcPathAndOnlyForAFullCopy() throws {
        let codec = FrameCodec()
        var a = WeightAnnouncement(
            policyVersion: 3, dtype: .float32, elementCount: 10, chunkCount: 2, chunkElements: 5,
            chunkChecksums: [1, 2], layout: [])
        a.sharedBuffer = "/proc/4242/fd/17"
        XCTAssertEqual(try codec.decode(codec.encode(.weightAnnouncement(a))), .weightAnnouncement(a))
        var bad = a
        bad.sharedBuffer = "/dev/zero"
        XCTAssertThrowsError(try codec.decode(codec.encode(.weightAnnouncement(bad)))) { error in
            XCTAssertTrue("\(error)".contains("shared_buffer") && "\(error)".contains("/proc/PID/fd/N"), "\(error)")
        }
        var delta = a
        delta.baseVersion = 2
        delta.baseDigest = 9
        XCTAssertThrowsError(try codec.decode(codec.encode(.weightAnnouncement(delta)))) { error in
            XCTAssertTrue("\(error)".contains("delta"), "\(error)")
        }
    }
}
