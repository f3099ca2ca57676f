import Foundation
import TestKit
import Tokenizers
import XCTest

/// tokenizer_config.json, generation_config.json, loading paths and refused tokenizers.
final class TokenizerConfigTests: XCTestCase {
    var fixture: URL { FixtureTests.root.appendingPathComponent("gpt2") }

    func testSpecialTokensAsStringsOrObjects() throws {
        let config = try TokenizerConfig(
            json: Data(
                """
                {"bos_token": "<s>", "eos_token": {"__type": "AddedToken", "content": "</s>", "lstrip": true,
                 "rstrip": false, "normalized": true, "single_word": false}, "pad_token": null,
                 "additional_special_tokens": ["<a>", {"content": "<b>"}], "add_bos_token": true,
                 "chat_template": "{{ x }}"}
                """.utf8))
        XCTAssertEqual(config.bosToken, AddedToken(content: "<s>", id: -1, special: true, normalized: false))
        XCTAssertEqual(
            config.eosToken,
            AddedToken(
                content: "</s>", id: -1, special: true, lstrip: true,
                normalized: true))
        XCTAssertNil(config.padToken)
        XCTAssertEqual(config.extraSpecialTokens.map(\.content), ["<a>", "<b>"])
        XCTAssertEqual(config.addBosToken, true)
        XCTAssertNil(config.addEosToken)
        XCTAssertEqual(config.chatTemplate, "{{ x }}")
        XCTAssertThrowsError(try TokenizerConfig(json: Data(#"{"bos_token": 3}"#.utf8))) {
            XCTAssert("\($0)".contains("bos_token"), "\($0)")
        }
    }

    func testGenerationConfigEOSIsOneIdOrAList() throws {
        XCTAssertEqual(try generationEOSTokenIDs(json: Data(#"{"eos_token_id": 2}"#.utf8)), [2])
        XCTAssertEqual(
            try generationEOSTokenIDs(json: Data(#"{"eos_token_id": [128001, 128009]}"#.utf8)),
            [128001, 128009])
        XCTAssertEqual(try generationEOSTokenIDs(json: Data(#"{"bos_token_id": 1}"#.utf8)), [])
        XCTAssertThrowsError(try generationEOSTokenIDs(json: Data(#"{"eos_token_id": "x"}"#.utf8)))
    }

    func testStopTokensComeFromGenerationConfigElseTheEOSToken() throws {
        let dir = try temporaryDirectory()
        try FileManager.default.copyItem(
            at: fixture.appendingPathComponent("tokenizer.json"),
            to: dir.appendingPathComponent("tokenizer.json"))
        try Data(#"{"eos_token": "<|endoftext|>", "pad_token": "<pad>"}"#.utf8)
            .write(to: dir.appendingPathComponent("tokenizer_config.json"))
        let plain = try LoadedTokenizer(path: dir.path)
        XCTAssertEqual(plain.eosTokenID, 0)
        XCTAssertEqual(plain.stopTokenIDs, [0])
        // A special token the tokenizer lacks becomes an added special token after the vocabulary.
        XCTAssertEqual(plain.padTokenID, 600)
        XCTAssertEqual(try plain.encode("a<pad>"), [try plain.encode("a")[0], 600])
        try Data(#"{"eos_token_id": [0, 7]}"#.utf8).write(to: dir.appendingPathComponent("generation_config.json"))
        XCTAssertEqual(try LoadedTokenizer(path: dir.path).stopTokenIDs, [0, 7])
        // A tokenizer.json path reads its siblings too.
        let file = dir.appendingPathComponent("tokenizer.json").path
        XCTAssertEqual(try LoadedTokenizer(path: file).stopTokenIDs, [0, 7])
    }

    func testMissingFilesAndBadJSONAreClearErrors() throws {
        let dir = try temporaryDirectory()
        XCTAssertThrowsError(try LoadedTokenizer(path: dir.appendingPathComponent("nope").path)) {
            XCTAssert("\($0)".contains("does not exist"), "\($0)")
        }
        XCTAssertThrowsError(try LoadedTokenizer(path: dir.path)) { XCTAssert("\($0)".contains("no tokenizer.json")) }
        try Data("{".utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        XCTAssertThrowsError(try LoadedTokenizer(path: dir.path)) { XCTAssert("\($0)".contains("not a JSON object")) }
    }

    func tokenizerJSON(_ edit: (inout [String: Any]) -> Void) throws -> Data {
        let data = try Data(contentsOf: fixture.appendingPathComponent("tokenizer.json"))
        var root = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        edit(&root)
        return try JSONSerialization.data(withJSONObject: root)
    }

    func testOtherModelsAndComponentsAreRefusedByName() throws {
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("WordPiece", { $0["model"] = ["type": "WordPiece", "vocab": [String: Int]()] }),
            ("Unigram", { $0["model"] = ["type": "Unigram", "vocab": [Any]()] }),
            ("WordLevel", { $0["model"] = ["type": "WordLevel", "vocab": [String: Int]()] }),
            ("Precompiled", { $0["normalizer"] = ["type": "Precompiled", "precompiled_charsmap": ""] }),
            ("UnicodeScripts", { $0["pre_tokenizer"] = ["type": "UnicodeScripts"] }),
            ("CTC", { $0["decoder"] = ["type": "CTC"] }),
            (
                "\\p{Han}",
                {
                    $0["pre_tokenizer"] = [
                        "type": "Split", "pattern": ["Regex": "\\p{Han}+"],
                        "behavior": "Isolated", "invert": false,
                    ]
                }
            ),
            (
                "dropout",
                {
                    var m = $0["model"] as! [String: Any]
                    m["dropout"] = 0.1
                    $0["model"] = m
                }
            ),
        ]
        for (name, edit) in cases {
            XCTAssertThrowsError(try Tokenizer(json: try tokenizerJSON(edit)), name) {
                XCTAssert("\($0)".contains(name), "\(name): \($0)")
            }
        }
    }

    func testCleanUpOnlyWhenForcedForBPE() throws {
        let base = try Tokenizer(contentsOf: fixture.appendingPathComponent("tokenizer.json"))
        let ids = try base.encode("Hello , world !")
        var config = TokenizerConfig()
        config.cleanUpTokenizationSpaces = true
        XCTAssertEqual(try LoadedTokenizer(tokenizer: base, config: config).decode(ids), "Hello , world !")
        config.cleanUpForBPE = true
        XCTAssertEqual(try LoadedTokenizer(tokenizer: base, config: config).decode(ids), "Hello, world!")
    }
}

/// Added tokens whose strips overlap do not crash.
final class AddedTokenEdgeTests: XCTestCase {
    func testAWhitespaceTokenInsideAnRStripIsSkipped() throws {
        let base = try Tokenizer(contentsOf: FixtureTests.root.appendingPathComponent("gpt2/tokenizer.json"))
        var config = TokenizerConfig()
        config.extraSpecialTokens = [
            AddedToken(content: "[RS]", id: -1, special: true, rstrip: true, normalized: false),
            AddedToken(content: " ", id: -1, special: true, lstrip: true, normalized: false),
        ]
        let tokenizer = try LoadedTokenizer(tokenizer: base, config: config)
        let rs = try XCTUnwrap(tokenizer.tokenizer.id(of: "[RS]"))
        XCTAssertEqual(try tokenizer.encode("[RS]  "), [rs])
    }
}
