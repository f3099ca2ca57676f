import Foundation
import XCTest

@testable import ChatTemplate

/// Single features against expected output worked out by hand from Jinja2's and Python's rules.
final class FeatureTests: XCTestCase {
    func render(_ source: String, _ variables: [String: Value] = [:]) throws -> String {
        try ChatTemplate(source).render(variables: variables)
    }

    func check(_ source: String, _ want: String, _ variables: [String: Value] = [:], line: UInt = #line) {
        XCTAssertEqual(try render(source, variables), want, source, line: line)
    }

    func testWhitespaceTrimBlocksAndLstripBlocks() {
        check("a\n  {% if true %}\n  b\n  {% endif %}\nc", "a\n  b\nc")
        check("a  {{- 'x' -}}  \n b", "axb")
        check("  {%+ if true %}x{% endif %}", "  x")
        check("{% if true +%}\nx{% endif %}", "\nx")
        check("  {# note #}\nx", "x")
        check("x  {{ 'y' }}", "x  y")
        check("one\n", "one")
        check("a\r\nb", "a\nb")
    }

    func testPrintingUsesPythonStrAndRepr() {
        check("{{ [1, 'a', none, true, 1.0] }}", "[1, 'a', None, True, 1.0]")
        check("{{ {'k': \"it's\"} }}", "{'k': \"it's\"}")
        check("{{ (1,) }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 % 3 }}", "(1,) 3.5 2.0 3 2")
        check("{{ 1e-5 }} {{ 1e16 }} {{ 0.1 + 0.2 }}", "1e-05 1e+16 0.30000000000000004")
        check("{{ missing }}|{{ 'a' ~ missing ~ 1 }}", "|a1")
    }

    func testUndefinedAttributeOfUndefinedIsAnError() {
        XCTAssertThrowsError(try render("{{ d.a.b }}", ["d": .dict(OrderedDict())])) { e in
            XCTAssertEqual((e as? TemplateError)?.message, "'dict object' has no attribute 'a'")
        }
        check("{{ d.a is defined }}", "False", ["d": .dict(OrderedDict())])
    }

    func testLoopScopingAndNamespace() {
        check("{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}", "1")
        check("{% set ns = namespace(x=1) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}", "4")
        check(
            "{% for i in 'abc' if i != 'b' %}{{ loop.index }}{{ i }}{{ loop.length }}{% else %}none{% endfor %}",
            "1a22c2")
        check("{% for i in [] %}x{% else %}empty{% endfor %}", "empty")
        check("{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}", "012")
    }

    func testMacrosCallAndBlockSet() {
        check("{% macro m(a, b='B') %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}{{ m(1, b=2) }}", "1B12")
        check("{% macro w() %}[{{ caller() }}]{% endmacro %}{% call w() %}in{% endcall %}", "[in]")
        check("{% set t %}x{{ 1 + 1 }}{% endset %}{{ t }}|{% set u | upper %}ab{% endset %}{{ u }}", "x2|AB")
    }

    func testFiltersAndMethods() {
        check("{{ {'b': 'é'}|tojson }}|{{ [1]|tojson(indent=2) }}", "{\"b\": \"é\"}|[\n  1\n]")
        check("{{ '  a  '|trim }}|{{ 'a b'.split() }}|{{ 'xhix'.strip('x') }}", "a|['a', 'b']|hi")
        check("{{ [3, 1, 2]|sort|join(',') }}|{{ ['a', 'A']|unique|list }}|{{ 2.5|round }}", "1,2,3|['a']|2.0")
        check("{{ \"it's\".title() }}|{{ \"it's\"|title }}", "It'S|It's")
    }

    func testErrorsNameTheLine() {
        XCTAssertThrowsError(try render("line one\n{{ x|nosuchfilter }}")) { e in
            XCTAssertEqual("\(e)", "chat template line 2: unknown filter 'nosuchfilter'")
        }
        XCTAssertThrowsError(try render("\n\n{{ raise_exception('stop here') }}")) { e in
            let t = e as? TemplateError
            XCTAssertEqual(t?.kind, .raised)
            XCTAssertEqual(t?.line, 3)
            XCTAssertEqual(t?.message, "stop here")
        }
        XCTAssertThrowsError(try ChatTemplate("{% if x %}\nno end")) { e in
            XCTAssertEqual((e as? TemplateError)?.kind, .syntax)
        }
        XCTAssertThrowsError(try render("{{ 'a' + 1 }}"))
    }

    func testBadInputNeverHangsOrCrashes() {
        XCTAssertThrowsError(try render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"))
        XCTAssertThrowsError(try ChatTemplate("{{ " + String(repeating: "(", count: 5000)))
        XCTAssertThrowsError(try ChatTemplate("{{ " + String(repeating: "[", count: 5000) + " }}"))
        XCTAssertThrowsError(try ChatTemplate(String(repeating: "{% if x %}", count: 5000)))
        XCTAssertThrowsError(try ChatTemplate("{{ " + String(repeating: "-", count: 5000) + "1 }}"))
        XCTAssertThrowsError(try render("{{ 'x' * 100000000000 }}"))
        XCTAssertThrowsError(try JSONReader.parse(String(repeating: "[", count: 10000)))
    }

    func testStrftimeNowReadsTheClock() throws {
        var c = DateComponents()
        (c.year, c.month, c.day, c.hour) = (2025, 3, 9, 8)
        let date = Calendar.current.date(from: c)!
        let t = try ChatTemplate("{{ strftime_now('%d %b %Y %H') }}")
        XCTAssertEqual(try t.render(variables: [:], now: { date }), "09 Mar 2025 08")
    }

    func testJSONReaderKeepsIntegersApartFromFloats() throws {
        let v = try JSONReader.parse("{\"b\": 1, \"a\": 1.0, \"c\": [true, null, \"\\ud83d\\ude00\"]}")
        XCTAssertEqual(v.text, "{'b': 1, 'a': 1.0, 'c': [True, None, '😀']}")
    }

    func testTemplateSelection() throws {
        let named = ChatTemplates(named: ["default": "D", "tool_use": "T"])
        XCTAssertEqual(try named.select(hasTools: false), "D")
        XCTAssertEqual(try named.select(hasTools: true), "T")
        XCTAssertEqual(try named.select(name: "default", hasTools: true), "D")
        XCTAssertThrowsError(try named.select(name: "other", hasTools: false))
        XCTAssertThrowsError(try ChatTemplates(named: ["a": "A"]).select(hasTools: false))
        XCTAssertThrowsError(try ChatTemplates().select(hasTools: false))
    }

    /// apply_chat_template passes tools and documents as None when not given: defined, printed "None".
    func testAbsentToolsAndDocumentsAreNone() throws {
        let t = try ChatTemplate("{{ tools }}|{{ documents is defined }}|{{ tools is none }}|{{ {'a': 1}.get('b') }}")
        let msgs = try JSONReader.parse("[{\"role\": \"user\", \"content\": \"q\"}]")
        XCTAssertEqual(try t.render(ChatRequest(messages: msgs)), "None|True|True|None")
    }

    func testContinueFinalMessage() throws {
        let t = try ChatTemplate("{% for m in messages %}<{{ m.role }}>{{ m.content }}</s>{% endfor %}")
        let msgs = try JSONReader.parse(
            "[{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"The answer is\"}]")
        XCTAssertEqual(
            try t.render(ChatRequest(messages: msgs, continueFinalMessage: true)),
            "<user>q</s><assistant>The answer is")
    }
}
