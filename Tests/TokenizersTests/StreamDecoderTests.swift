import Foundation
import Tokenizers
import XCTest

/// Streaming decode over every fixture: the pieces join to decode(all ids) and none breaks a character.
final class StreamDecoderTests: XCTestCase {
    func testStreamedPiecesEqualTheFullDecodeAndNeverCutACharacter() throws {
        var checked = 0
        for name in try FixtureTests.names() {
            let (tokenizer, expected) = try FixtureTests.load(name)
            for case_ in expected.encode {
                var stream = StreamDecoder(tokenizer: tokenizer)
                var pieces: [String] = []
                for id in case_.ids {
                    if let piece = try stream.step(id) { pieces.append(piece) }
                }
                let tail = try stream.finish()
                let full = try tokenizer.decode(case_.ids)
                XCTAssertEqual(
                    Array((pieces.joined() + tail).unicodeScalars), Array(full.unicodeScalars),
                    "\(name): \(case_.text.debugDescription)")
                if !full.unicodeScalars.contains("\u{FFFD}") {
                    for piece in pieces {
                        XCTAssertFalse(piece.unicodeScalars.contains("\u{FFFD}"), "\(name): \(piece.debugDescription)")
                    }
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 500)
    }

    func testAByteLevelEmojiIsHeldBackUntilItsLastByte() throws {
        let (tokenizer, _) = try FixtureTests.load("gpt2")
        let ids = try tokenizer.encode("🦄")
        XCTAssertGreaterThan(ids.count, 1, "the fixture vocabulary splits this emoji into byte tokens")
        var stream = StreamDecoder(tokenizer: tokenizer)
        var pieces: [String?] = []
        for id in ids { pieces.append(try stream.step(id)) }
        XCTAssertEqual(pieces.dropLast().compactMap { $0 }, [])
        XCTAssertEqual(pieces.last, "🦄")
    }
}
