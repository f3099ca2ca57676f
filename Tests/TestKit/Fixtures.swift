// Paths of the package's test data (Tests/Fixtures) and of the package itself, found from this file's location
// (#filePath), so every suite reads the same committed files wherever the checkout is.
import Foundation

/// Files under Tests/Fixtures and the package root.
public enum Fixtures {
    /// The package root: Tests/TestKit/Fixtures.swift -> ../../
    public static let packageRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Tests/Fixtures.
    public static let root = packageRoot.appendingPathComponent("Tests/Fixtures")

    /// `relative` under Tests/Fixtures (e.g. "rlcore/cases.json", "model/classifier-llama").
    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// `relative` under the package root (e.g. "Deploy/toy.yaml").
    public static func packageURL(_ relative: String) -> URL { packageRoot.appendingPathComponent(relative) }
}
