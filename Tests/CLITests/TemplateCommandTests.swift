import Foundation
import TestKit
import XCTest

/// `rpp template` as a user runs it: JSONL requests in, one JSONL result per request out.
final class TemplateCommandTests: XCTestCase {
    func testHelpListsTemplate() throws {
        XCTAssertTrue(try RPP.run(["--help"]).stdout.contains("  template "))
    }

    /// Every request of two fixture models gives transformers' text, or an error where transformers raised.
    func testTemplateMatchesTransformers() throws {
        for name in ["chatml_tools", "mistral", "load_named"] {
            let dir = Fixtures.url("templates/\(name)")
            let fixture =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: dir.appendingPathComponent("cases.json"))) as! [String: Any]
            let cases = fixture["cases"] as! [[String: Any]]
            let tmp = try temporaryDirectory("rpp-cli")
            defer { try? FileManager.default.removeItem(at: tmp) }
            let input = tmp.appendingPathComponent("in.jsonl")
            // The request objects exactly as written (key order matters to a template; JSONSerialization loses it).
            let raw = try String(contentsOf: dir.appendingPathComponent("cases.json"), encoding: .utf8)
            let lines = raw.split(separator: "\n").filter { $0.hasPrefix(#"{"request": "#) }.map {
                requestText(String($0))
            }
            XCTAssertEqual(lines.count, cases.count)
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: input)
            let r = try RPP.run(["template", "--model", dir.path, "--input", input.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            let out = r.stdout.split(separator: "\n")
            XCTAssertEqual(out.count, cases.count, name)
            for (i, (line, c)) in zip(out, cases).enumerated() {
                let got = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: String]
                if let want = c["text"] as? String {
                    XCTAssertEqual(got["text"], want, "\(name) case \(i)")
                } else {
                    let message = try XCTUnwrap(got["error"], "\(name) case \(i): expected an error")
                    XCTAssertTrue(message.hasPrefix("chat template line "), message)
                    if c["error_type"] as? String == "TemplateError" {
                        XCTAssertTrue(message.hasSuffix(": " + (c["error"] as! String)), message)
                    }
                }
            }
        }
    }

    /// The JSON object after `{"request": ` on a fixture line, found by matching braces outside strings.
    func requestText(_ line: String) -> String {
        let chars = Array(line.unicodeScalars.dropFirst(#"{"request": "#.unicodeScalars.count))
        var depth = 0
        var inString = false
        var escaped = false
        for (i, c) in chars.enumerated() {
            if inString {
                if escaped {
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    inString = false
                }
                continue
            }
            if c == "\"" {
                inString = true
            } else if c == "{" {
                depth += 1
            } else if c == "}" {
                depth -= 1
                if depth == 0 { return String(String.UnicodeScalarView(chars[...i])) }
            }
        }
        return ""
    }

    /// A malformed line gets an error naming its line number, the next lines still render, and the status is 1.
    func testMalformedLinesAreReportedAndSkipped() throws {
        let dir = Fixtures.url("templates/smollm2")
        let tmp = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let input = tmp.appendingPathComponent("in.jsonl")
        let good = #"{"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": true}"#
        try Data([good, "{not json", "", #"{"no_messages": 1}"#, good].joined(separator: "\n").utf8).write(to: input)
        let r = try RPP.run(["template", "--model", dir.path, "--input", input.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("2 input line(s)"), r.stderr)
        let out = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(out.count, 4)
        XCTAssertTrue(out[0].hasPrefix(#"{"text": "<|im_start|>system"#), out[0])
        XCTAssertTrue(out[1].hasPrefix(#"{"error": "input line 2: invalid JSON"#), out[1])
        XCTAssertTrue(out[2].hasPrefix(#"{"error": "input line 4: missing \"messages\""#), out[2])
        XCTAssertEqual(out[3], out[0])
    }

    func testMissingModelIsAClearError() throws {
        let r = try RPP.run(["template", "--model", "/nonexistent/model"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("/nonexistent/model does not exist"), r.stderr)
    }
}
