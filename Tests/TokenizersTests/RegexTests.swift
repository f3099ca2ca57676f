import Tokenizers
import XCTest

/// The regex engine on the constructs tokenizer files use, with Oniguruma's results.
final class RegexTests: XCTestCase {
    func pieces(_ pattern: String, _ text: String) throws -> [String] {
        let scalars = Array(text.unicodeScalars)
        return try ScalarRegex(pattern).matches(in: scalars.map(\.value)).map {
            String(String.UnicodeScalarView(scalars[$0]))
        }
    }

    let gpt2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    func testGPT2PatternLeavesTheLastSpaceToTheNextWord() throws {
        XCTAssertEqual(try pieces(gpt2, "Hello   world!!  "), ["Hello", "  ", " world", "!!", "  "])
        XCTAssertEqual(try pieces(gpt2, "I'm  12345 élan\n\n x"), ["I", "'m", " ", " 12345", " élan", "\n\n", " x"])
    }

    func testCaseInsensitiveGroupAndBoundedRepeats() throws {
        let llama3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"#
        XCTAssertEqual(try pieces(llama3, "WE'LL 1234567"), ["WE", "'LL", "123", "456", "7"])
        XCTAssertEqual(try pieces(#"\p{N}{2}"#, "12345"), ["12", "34"])
        XCTAssertEqual(try pieces(#"a{2,}?"#, "aaaaa"), ["aa", "aa"])
    }

    func testLookaroundsAnchorsAndEscapes() throws {
        XCTAssertEqual(try pieces(#"(?<=a)b"#, "ab cb ab"), ["b", "b"])
        XCTAssertEqual(try pieces(#"(?<!a)b"#, "ab cb"), ["b"])
        XCTAssertEqual(try pieces(#"^\w+"#, "one two\nthree"), ["one", "three"])
        XCTAssertEqual(try pieces(#"\x{1F600}|\u00e9"#, "😀é"), ["😀", "é"])
        XCTAssertEqual(try pieces(#"[\p{Lu}\d]+"#, "abCD12ef"), ["CD12"])
        XCTAssertEqual(try pieces(#"(?>a+)b|a"#, "aaa"), ["a", "a", "a"])
    }

    func testEmptyMatchesAdvanceOneScalar() throws {
        XCTAssertEqual(
            try ScalarRegex("x*").matches(in: Array("ab".unicodeScalars.map(\.value))),
            [0..<0, 1..<1, 2..<2])
    }

    func testUnsupportedConstructsNameThePattern() {
        for pattern in [#"\p{Han}+"#, #"[[:alpha:]]"#, #"a(?<=b+)"#, #"\X"#, "(a", "[a-z", #"(a*)*"#] {
            XCTAssertThrowsError(try ScalarRegex(pattern), pattern) { error in
                XCTAssert(
                    "\(error)".contains(pattern.replacingOccurrences(of: "\\", with: "\\\\"))
                        || "\(error)".contains(pattern), "\(error)")
            }
        }
    }
}
