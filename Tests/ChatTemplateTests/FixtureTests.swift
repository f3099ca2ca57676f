import Foundation
import TestKit
import XCTest

@testable import ChatTemplate

/// Every fixture directory under Tests/Fixtures/templates (written by Tests/Scripts/make_template_fixtures.py
/// with transformers' apply_chat_template) renders byte for byte the same, and fails where transformers failed.
final class FixtureTests: XCTestCase {
    static let root = Fixtures.url("templates")

    /// The clock the fixtures were rendered with: 2024-07-26 12:00 local time.
    static let fixtureNow: Date = {
        var c = DateComponents()
        (c.year, c.month, c.day, c.hour) = (2024, 7, 26, 12)
        return Calendar.current.date(from: c)!
    }()

    struct Outcome {
        var text: String?
        var error: Error?
    }

    /// Renders one request object against a model directory as `rpp template` does.
    static func render(_ templates: ChatTemplates, _ request: Value) -> Outcome {
        do {
            let req = try ChatRequest(object: request)
            let source = try templates.select(hasTools: req.tools != nil)
            let text = try ChatTemplate(source).render(
                req, specialTokens: templates.specialTokens,
                now: { fixtureNow })
            return Outcome(text: text)
        } catch {
            return Outcome(error: error)
        }
    }

    /// The first line where two texts differ, both shown escaped (XCTest prints one line per failure).
    static func firstDifference(_ want: String, _ got: String) -> String {
        let w = want.components(separatedBy: "\n")
        let g = got.components(separatedBy: "\n")
        for i in 0..<max(w.count, g.count) {
            let a = i < w.count ? w[i] : "<none>"
            let b = i < g.count ? g[i] : "<none>"
            if a != b { return "line \(i + 1): want \(a.debugDescription) got \(b.debugDescription)" }
        }
        return "same lines, different bytes"
    }

    func fixtureDirectories() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: Self.root.path).sorted()
    }

    func testEveryFixtureMatchesTransformers() throws {
        let dirs = try fixtureDirectories()
        XCTAssertGreaterThanOrEqual(dirs.count, 20)
        var checked = 0
        var errors = 0
        for name in dirs {
            let dir = Self.root.appendingPathComponent(name)
            let templates = try ChatTemplates.load(dir.path)
            let text = try String(contentsOf: dir.appendingPathComponent("cases.json"), encoding: .utf8)
            guard case .dict(let file) = try JSONReader.parse(text), case .list(let cases)? = file["cases"] else {
                XCTFail("\(name): bad cases.json")
                continue
            }
            for (i, c) in cases.enumerated() {
                guard case .dict(let d) = c, let request = d["request"] else { continue }
                let got = Self.render(templates, request)
                let label = "\(name) case \(i)"
                if case .string(let want)? = d["text"] {
                    if let err = got.error {
                        XCTFail("\(label): expected text, got error \(err)")
                        continue
                    }
                    if got.text != want { XCTFail("\(label): \(Self.firstDifference(want, got.text ?? ""))") }
                } else if case .string(let wantError)? = d["error"] {
                    errors += 1
                    guard let err = got.error else {
                        XCTFail("\(label): expected error \(wantError), got text")
                        continue
                    }
                    if d["error_type"]?.text == "TemplateError" {
                        // raise_exception: the message is the template's own.
                        guard let t = err as? TemplateError, t.kind == .raised else {
                            XCTFail("\(label): expected raise_exception(\(wantError)), got \(err)")
                            continue
                        }
                        XCTAssertEqual(t.message, wantError, label)
                    }
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 150)
        XCTAssertGreaterThan(errors, 20)
    }
}
