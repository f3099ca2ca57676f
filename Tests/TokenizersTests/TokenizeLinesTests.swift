import Foundation
import Tokenizers
import XCTest

/// The lines of `rpp tokenize`, without I/O.
final class TokenizeLinesTests: XCTestCase {
    func testEncodeAndDecodeLines() throws {
        let (tokenizer, expected) = try FixtureTests.load("llama3")
        let encode = TokenizeLines(tokenizer: tokenizer, decode: false)
        let decode = TokenizeLines(tokenizer: tokenizer, decode: true)
        for case_ in expected.encode.prefix(10) {
            let line = String(decoding: try JSONSerialization.data(withJSONObject: ["text": case_.text]), as: UTF8.self)
            let out = try XCTUnwrap(try encode.process(line, lineNumber: 1))
            XCTAssertEqual(out, "{\"ids\":[" + case_.ids.map(String.init).joined(separator: ",") + "]}")
            let back = try XCTUnwrap(try decode.process(out, lineNumber: 1))
            let text = try JSONSerialization.jsonObject(with: Data(back.utf8)) as! [String: String]
            XCTAssertEqual(text["text"].map { Array($0.unicodeScalars) }, Array(case_.decoded.unicodeScalars))
        }
        XCTAssertNil(try encode.process("  ", lineNumber: 3))
    }

    func testBadLinesNameTheirLineNumber() throws {
        let (tokenizer, _) = try FixtureTests.load("gpt2")
        let encode = TokenizeLines(tokenizer: tokenizer, decode: false)
        let decode = TokenizeLines(tokenizer: tokenizer, decode: true)
        for (lines, line, fragment) in [
            (encode, "not json", "not a JSON object"),
            (encode, #"{"txt": "a"}"#, "\"text\""),
            (encode, #"{"text": 5}"#, "\"text\""), (decode, #"{"ids": "1"}"#, "\"ids\""),
            (decode, #"{"ids": [1, 2.5]}"#, "ids[1]"),
            (decode, #"{"ids": [true]}"#, "ids[0]"),
        ] {
            XCTAssertThrowsError(try lines.process(line, lineNumber: 7), line) {
                XCTAssert("\($0)".hasPrefix("line 7:"), "\($0)")
                XCTAssert("\($0)".contains(fragment), "\($0)")
            }
        }
    }

    func testJSONStringsEscapeOnlyWhatJSONNeeds() {
        XCTAssertEqual(TokenizeLines.jsonString("a\"b\\c\n\t\u{1}é😀"), #""a\"b\\c\n\t\u0001é😀""#)
    }
}
