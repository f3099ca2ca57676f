import Foundation
import TestKit
import Tokenizers
import XCTest

/// Every fixture tokenizer (trained by Tests/Scripts/make_tokenizer_fixtures.py) against the ids and texts
/// transformers produced for it.
final class FixtureTests: XCTestCase {
    static let root = Fixtures.url("tokenizers")

    struct Expected: Decodable {
        struct Encode: Decodable {
            let text: String
            let ids: [Int]
            let decoded: String
        }
        struct Decode: Decodable {
            let ids: [Int]
            let text: String
        }
        let encode: [Encode]
        let decode: [Decode]
    }

    static func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.path).filter { !$0.hasPrefix(".") }.sorted()
    }

    static func load(_ name: String) throws -> (LoadedTokenizer, Expected) {
        let dir = root.appendingPathComponent(name)
        let tokenizer = try LoadedTokenizer(path: dir.path)
        let expected = try JSONDecoder().decode(
            Expected.self,
            from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        return (tokenizer, expected)
    }

    func testFixturesExist() throws {
        XCTAssertGreaterThanOrEqual(try Self.names().count, 20)
    }

    func testEveryIDAndDecodedTextMatchesTransformers() throws {
        var failures: [String] = []
        var checked = 0
        for name in try Self.names() {
            let (tokenizer, expected) = try Self.load(name)
            for case_ in expected.encode {
                let ids = try tokenizer.encode(case_.text)
                if ids != case_.ids {
                    failures.append(
                        "\(name): encode \(case_.text.debugDescription)\n  got  \(ids)"
                            + "\n  want \(case_.ids)")
                }
                let text = try tokenizer.decode(case_.ids)
                if text.unicodeScalars.elementsEqual(case_.decoded.unicodeScalars) == false {
                    failures.append(
                        "\(name): decode of \(case_.text.debugDescription)\n  got  \(text.debugDescription)"
                            + "\n  want \(case_.decoded.debugDescription)")
                }
                checked += 1
            }
            for case_ in expected.decode {
                let text = try tokenizer.decode(case_.ids)
                if text.unicodeScalars.elementsEqual(case_.text.unicodeScalars) == false {
                    failures.append(
                        "\(name): decode \(case_.ids)\n  got  \(text.debugDescription)"
                            + "\n  want \(case_.text.debugDescription)")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 1000)
        XCTAssert(failures.isEmpty, "\(failures.count) mismatches:\n" + failures.prefix(40).joined(separator: "\n"))
    }
}
