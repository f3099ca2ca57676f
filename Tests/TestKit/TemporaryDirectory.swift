// Fresh directories for a test's files: a new UUID-named directory under the system's temporary directory, and
// (from a test case) one removed when the test ends.
import Foundation
import XCTest

/// New empty directories under the temporary directory.
public enum TemporaryDirectory {
    /// Creates and returns `<tmp>/<prefix>-<UUID>`; the caller removes it.
    public static func make(_ prefix: String = "rpp-test") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

extension XCTestCase {
    /// A new empty directory `<tmp>/<prefix>-<UUID>`, removed with everything in it when the test ends.
    public func temporaryDirectory(_ prefix: String = "rpp-test") throws -> URL {
        let dir = try TemporaryDirectory.make(prefix)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }
}
