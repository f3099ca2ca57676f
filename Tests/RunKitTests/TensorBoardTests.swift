import Foundation
import TestKit
import XCTest

@testable import RunKit

/// The same events as SCALARS in Tests/Scripts/make_tensorboard_fixture.py.
private let fixtureScalars: [(tag: String, step: Int, wallTime: Double, value: Double)] = [
    ("reward/mean", 0, 1700000000.25, 0.5),
    ("reward/mean", 1, 1700000001.5, 0.1),
    ("eval/accuracy", 1, 1700000001.5, 0.0),
    ("kl/per_token", 2, 1700000002.75, -3.0e-4),
    ("response/length", 300, 1700000100.0, 5.75),
    ("loss/policy", -1, 0.0, 123456.789),
]
private let fileVersionTime = 1700000000.0

private func fixture(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: Fixtures.url("runkit/\(name)")))
}

/// Splits a TFRecord file into its records' data, checking lengths and CRCs on the way.
private func records(_ bytes: [UInt8]) throws -> [[UInt8]] {
    var out: [[UInt8]] = []
    var i = 0
    func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
    while i < bytes.count {
        guard i + 12 <= bytes.count else { throw CocoaError(.fileReadCorruptFile) }
        let length = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[i + $1]) << (8 * UInt64($1)) })
        XCTAssertEqual(u32(i + 8), CRC32C.masked(bytes[i..<i + 8]))
        guard i + 12 + length + 4 <= bytes.count else { throw CocoaError(.fileReadCorruptFile) }
        let data = Array(bytes[i + 12..<i + 12 + length])
        XCTAssertEqual(u32(i + 12 + length), CRC32C.masked(data))
        out.append(data)
        i += 16 + length
    }
    return out
}

final class TensorBoardTests: XCTestCase {
    func testTextSummaryLayoutByHand() {
        // Event{step: 1, summary: {value: {tag: "t", tensor: {dtype: DT_STRING (7), string_val: "m"},
        // metadata: {plugin_data: {plugin_name: "text"}}}}}, field by field as TensorBoard's text plugin reads it.
        let bytes = TensorBoardEvent.text(tag: "t", markdown: "m", step: 1, wallTime: 0)
        XCTAssertEqual(
            bytes,
            [
                0x10, 0x01, 0x2A, 0x16, 0x0A, 0x14, 0x0A, 0x01, 0x74, 0x42, 0x05, 0x08, 0x07, 0x42, 0x01,
                0x6D, 0x4A, 0x08, 0x0A, 0x06, 0x0A, 0x04, 0x74, 0x65, 0x78, 0x74,
            ])
    }

    func testCRC32CKnownValues() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)  // the standard check value
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)  // RFC 3720 B.4
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
    }

    func testEncodingMatchesTensorBoardRecordWriterByteForByte() throws {
        var expected = TensorBoardEvent.record(TensorBoardEvent.fileVersion(wallTime: fileVersionTime))
        for s in fixtureScalars {
            expected += TensorBoardEvent.record(
                TensorBoardEvent.scalar(tag: s.tag, value: Float(s.value), step: Int64(s.step), wallTime: s.wallTime))
        }
        XCTAssertEqual(expected, try fixture("record_writer.tfevents"))
    }

    func testScalarRecordsMatchTensorBoardEventFileWriter() throws {
        let theirs = try records(try fixture("event_file_writer.tfevents"))
        XCTAssertEqual(theirs.count, fixtureScalars.count + 1)
        XCTAssertTrue(theirs[0].contains(subsequence: Array("brain.Event:2".utf8)))
        let ours = fixtureScalars.map {
            TensorBoardEvent.scalar(tag: $0.tag, value: Float($0.value), step: Int64($0.step), wallTime: $0.wallTime)
        }
        XCTAssertEqual(Array(theirs.dropFirst()), ours)
    }

    func testWriterProducesTheSameFile() throws {
        let dir = try temporaryDirectory("runkit-tb").path
        let writer = try TensorBoardWriter(directory: dir, wallTime: fileVersionTime, hostname: "testhost")
        for s in fixtureScalars { try writer.add(tag: s.tag, value: s.value, step: s.step, wallTime: s.wallTime) }
        XCTAssertEqual((writer.path as NSString).lastPathComponent, "events.out.tfevents.1700000000.testhost")
        XCTAssertEqual(
            Array(try Data(contentsOf: URL(fileURLWithPath: writer.path))),
            try fixture("record_writer.tfevents"))
        // A second writer in the same second gets its own file; batches skip non-finite values.
        let second = try TensorBoardWriter(directory: dir, wallTime: fileVersionTime, hostname: "testhost")
        XCTAssertNotEqual(second.path, writer.path)
        try second.add(scalars: ["b": 2, "a": 1, "nan": .nan], step: 3, wallTime: 5)
        let written = try records(Array(try Data(contentsOf: URL(fileURLWithPath: second.path))))
        XCTAssertEqual(written.count, 3)
        XCTAssertEqual(written[1], TensorBoardEvent.scalar(tag: "a", value: 1, step: 3, wallTime: 5))
        // For the by-hand check with tensorboard's reader (Tests/Scripts/make_tensorboard_fixture.py FILE).
        if let out = ProcessInfo.processInfo.environment["RUNKIT_TB_OUT"] {
            let sample = try TensorBoardWriter(directory: out)
            for step in 0..<5 {
                try sample.add(
                    scalars: ["reward/mean": 0.2 * Double(step), "kl/per_token": 0.001 * Double(step)],
                    step: step)
            }
        }
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<$0 + subsequence.count]) == subsequence }
    }
}
