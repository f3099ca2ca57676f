import Foundation
import TestKit
import XCTest

@testable import RunKit

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Collects the panels, polylines and any attribute value that is not a finite number where one is expected.
private final class SVGCollector: NSObject, XMLParserDelegate {
    var panels = 0
    var polylinePoints: [[String]] = []
    var badNumbers: [String] = []
    var texts: [String] = []
    private var text = ""

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        if name == "g", attributes["class"] == "panel" { panels += 1 }
        if name == "polyline" {
            let points = (attributes["points"] ?? "").split(separator: " ").map(String.init)
            polylinePoints.append(points)
            for point in points {
                badNumbers += point.split(separator: ",").map(String.init).filter { Double($0) == nil }
            }
        }
        for key in ["x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "width", "height"] {
            if let value = attributes[key], value != "100%", Double(value)?.isFinite != true {
                badNumbers.append(value)
            }
        }
        text = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { texts.append(text) }
    }
}

final class SVGChartTests: XCTestCase {
    private func parse(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> SVGCollector {
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = SVGCollector()
        parser.delegate = collector
        XCTAssertTrue(
            parser.parse(), "SVG is not XML: \(String(describing: parser.parserError))", file: file, line: line)
        XCTAssertFalse(
            svg.lowercased().contains("nan") || svg.lowercased().contains("inf"), "non-finite number in SVG",
            file: file, line: line)
        XCTAssertEqual(collector.badNumbers, [], file: file, line: line)
        return collector
    }

    private func records(_ count: Int) -> [MetricsRecord] {
        (1...count).map { i in
            var metrics = [
                MetricName.rewardMean: Double(i) / Double(count), MetricName.klPerToken: 0.001 * Double(i),
                MetricName.responseLength: 6 - Double(i % 3),
            ]
            if i % 5 == 0 { metrics[MetricName.heldOutAccuracy] = 0.2 + 0.01 * Double(i) }
            return MetricsRecord(iteration: i, time: Double(i), metrics: metrics)
        }
    }

    func testStandardChartHasFourPanelsWithOnePolylinePerSeries() throws {
        let chart = SVGChart.standard(records: records(60), title: "test <run> & co")
        let svg = chart.svg
        let parsed = parse(svg)
        XCTAssertEqual(parsed.panels, 4)
        XCTAssertEqual(parsed.polylinePoints.map(\.count), [60, 12, 60, 60])
        for title in [
            "Reward (mean)", "Held-out accuracy", "KL per token", "Response length", "iteration",
            "test <run> & co",
        ] {
            XCTAssertTrue(parsed.texts.contains(title), title)
        }
        // Tick labels: the x axis of 1...60 ends on 60 and the reward axis runs 0...1.
        XCTAssertTrue(parsed.texts.contains("60"))
        XCTAssertTrue(parsed.texts.contains("1.0"), "\(parsed.texts)")
        if let out = ProcessInfo.processInfo.environment["RUNKIT_CHART_OUT"] { try chart.write(to: out) }
    }

    func testEmptySinglePointNaNAndConstantSeries() {
        let nanSeries = SVGChart.Series(
            name: "gappy",
            points: [
                .init(x: 1, y: .nan), .init(x: 2, y: 3),
                .init(x: .infinity, y: 1), .init(x: 4, y: 5),
            ])
        let chart = SVGChart(
            title: "edge cases",
            panels: [
                .init(title: "empty", yLabel: "y", series: [.init(name: "none", points: [])]),
                .init(title: "single", yLabel: "y", series: [.init(name: "one", points: [.init(x: 7, y: 0.5)])]),
                .init(title: "gaps", yLabel: "y", series: [nanSeries]),
                .init(
                    title: "constant", yLabel: "y",
                    series: [
                        .init(name: "zero", points: (0..<5).map { .init(x: Double($0), y: 0) }),
                        .init(name: "missing", points: [.init(x: 1, y: .nan)]),
                    ]),
                .init(
                    title: "huge", yLabel: "y",
                    series: [
                        .init(
                            name: "big",
                            points: [
                                .init(x: 0, y: 1e300),
                                .init(x: 1, y: -1e300),
                            ])
                    ]),
            ])
        let parsed = parse(chart.svg)
        if let out = ProcessInfo.processInfo.environment["RUNKIT_CHART_OUT"] { try? chart.write(to: out + ".edge.svg") }
        XCTAssertEqual(parsed.panels, 5)
        XCTAssertEqual(parsed.polylinePoints.map(\.count), [1, 2, 5, 2])
        XCTAssertTrue(parsed.texts.contains("no data yet"))
        XCTAssertEqual(parse(SVGChart.standard(records: []).svg).polylinePoints.count, 0)
    }

    func testAxisTicksAreRound() {
        let axis = Axis(values: [0.013, 0.087], integer: false)
        XCTAssertEqual(axis.step, 0.02, accuracy: 1e-12)
        XCTAssertEqual(axis.low, 0.0, accuracy: 1e-12)
        XCTAssertEqual(axis.high, 0.1, accuracy: 1e-12)
        XCTAssertEqual(axis.label(0.04), "0.04")
        let iterations = Axis(values: [1, 3], integer: true)
        XCTAssertEqual(iterations.step, 1)
        XCTAssertEqual(iterations.ticks, [1, 2, 3])
        let constant = Axis(values: [5, 5], integer: false)
        XCTAssertLessThan(constant.low, 5)
        XCTAssertGreaterThan(constant.high, 5)
    }

    func testWriteStandardReadsMetricsFile() throws {
        let dir = try temporaryDirectory("runkit-chart").path
        let sink = try MetricsJSONL(directory: dir, resume: false)
        for record in records(10) { try sink.append(record) }
        try SVGChart.writeStandard(directory: dir)
        let svg = try String(contentsOfFile: dir + "/chart.svg", encoding: .utf8)
        XCTAssertEqual(parse(svg).polylinePoints.map(\.count), [10, 2, 10, 10])
    }
}
