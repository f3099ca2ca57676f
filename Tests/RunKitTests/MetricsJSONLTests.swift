import Foundation
import TestKit
import XCTest

@testable import RunKit

final class MetricsJSONLTests: XCTestCase {
    func testAppendsOneObjectPerLineAndKeepsEarlierLines() throws {
        let dir = try temporaryDirectory("runkit-jsonl").path
        do {
            let sink = try MetricsJSONL(directory: dir, resume: false)
            try sink.append(iteration: 1, time: 2.5, metrics: ["reward/mean": 0.25, "kl/per_token": 1e-5])
        }
        // A second sink (a resumed run) appends; a torn last line from a crash is skipped on read.
        let sink = try MetricsJSONL(directory: dir, resume: true)
        try sink.append(iteration: 2, time: 5, metrics: ["reward/mean": .nan, "len": 6])
        let text = try String(contentsOfFile: sink.path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        XCTAssertTrue(lines[0].hasPrefix(#"{"run_id": ""#), "the first line names the run: \(lines[0])")
        XCTAssertEqual(
            String(lines[1]),
            #"{"iteration": 1, "time": 2.5, "metrics": {"kl/per_token": 1e-05, "reward/mean": 0.25}}"#)
        XCTAssertEqual(String(lines[2]), #"{"iteration": 2, "time": 5, "metrics": {"len": 6, "reward/mean": null}}"#)
        for line in lines.dropFirst() {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertNotNil(object?["metrics"] as? [String: Any])
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: sink.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"iteration": 3, "ti"#.utf8))
        try handle.close()
        let records = try MetricsJSONL.read(path: sink.path)
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(
            records[0], MetricsRecord(iteration: 1, time: 2.5, metrics: ["reward/mean": 0.25, "kl/per_token": 1e-5]))
        XCTAssertTrue(records[1].metrics["reward/mean"]!.isNaN)
        XCTAssertEqual(records[1].metrics["len"], 6)
    }

    func testResumeSetsLaterRecordsAsideWithoutLosingThem() throws {
        let dir = try temporaryDirectory("runkit-aside").path
        let sink = try MetricsJSONL(directory: dir, resume: false)
        for i in 0...5 { try sink.append(iteration: i, time: Double(i), metrics: ["x": Double(i)]) }
        XCTAssertEqual(try MetricsJSONL.setAside(path: sink.path, after: 3), 2)
        XCTAssertEqual(try MetricsJSONL.read(path: sink.path).map(\.iteration), [0, 1, 2, 3])
        XCTAssertEqual(try MetricsJSONL.read(path: dir + "/metrics.discarded.jsonl").map(\.iteration), [4, 5])
        XCTAssertEqual(try MetricsJSONL.setAside(path: sink.path, after: 3), 0, "nothing later: nothing moves")
    }

    func testCorruptMiddleLineIsAnError() throws {
        let path = try temporaryDirectory("runkit-bad").appendingPathComponent("file.jsonl").path
        try Data(
            "{\"iteration\": 1, \"time\": 0, \"metrics\": {}}\nnot json\n{\"iteration\": 2, \"time\": 0, \"metrics\": {}}\n"
                .utf8
        )
        .write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try MetricsJSONL.read(path: path)) { error in
            XCTAssertTrue("\(error)".contains("line 2"), "\(error)")
        }
    }
}

final class RunMetricsTests: XCTestCase {
    func testRecordsGoToEverySinkAndSurviveAResume() throws {
        let dir = try temporaryDirectory("runkit-run").path
        do {
            let metrics = try RunMetrics(directory: dir, resume: false)
            try metrics.record(iteration: 1, time: 1, metrics: [MetricName.rewardMean: 0.25], wallTime: 10)
            try metrics.record(iteration: 2, time: 2, metrics: [MetricName.rewardMean: 0.5], wallTime: 11)
            let events = Array(try Data(contentsOf: URL(fileURLWithPath: metrics.eventFilePath)))
            let expected = TensorBoardEvent.record(
                TensorBoardEvent.scalar(tag: MetricName.rewardMean, value: 0.5, step: 2, wallTime: 11))
            XCTAssertEqual(Array(events.suffix(expected.count)), expected)
        }
        let resumed = try RunMetrics(directory: dir, resume: true)
        try resumed.record(iteration: 3, time: 3, metrics: [MetricName.rewardMean: 0.75])
        XCTAssertEqual(resumed.history.map(\.iteration), [1, 2, 3])
        XCTAssertEqual(try MetricsJSONL.read(path: resumed.jsonlPath).count, 3)
        try resumed.writeChart()
        let svg = try String(contentsOfFile: resumed.chartPath, encoding: .utf8)
        XCTAssertTrue(svg.contains("points=\""))
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        XCTAssertEqual(files.filter { $0.hasPrefix("events.out.tfevents.") }.count, 2)
    }
}
