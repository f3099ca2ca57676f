// Resuming at a checkpoint moves the events of later steps out of the earlier event files (into discarded/),
// drops a torn last record, and leaves files with nothing later untouched.
import Foundation
import TestKit
import XCTest

@testable import RunKit

final class TensorBoardSetAsideTests: XCTestCase {
    func steps(_ path: String) throws -> [Int64] {
        let (records, torn) = TensorBoardWriter.splitRecords(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        XCTAssertFalse(torn, path)
        return records.map { TensorBoardWriter.step(ofEvent: $0.data) }
    }

    func testLaterStepsMoveToDiscarded() throws {
        let dir = try temporaryDirectory("rpp-tb").path
        let killed = try TensorBoardWriter(directory: dir, wallTime: 1_000, hostname: "h")
        for step in 1...6 {
            try killed.add(scalars: ["loss": Double(step), "reward": 0.5], step: step, wallTime: 1_000 + Double(step))
        }
        // The learner was killed while writing step 7: half a record at the end.
        let partial = TensorBoardEvent.record(TensorBoardEvent.scalar(tag: "loss", value: 7, step: 7, wallTime: 1_007))
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: killed.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(partial.prefix(20)))
        try handle.close()
        let name = (killed.path as NSString).lastPathComponent

        XCTAssertEqual(try TensorBoardWriter.setAside(directory: dir, after: 4), 4, "steps 5 and 6, two scalars each")
        XCTAssertEqual(
            try steps(killed.path), [0, 1, 1, 2, 2, 3, 3, 4, 4], "file_version, then steps up to the checkpoint")
        let aside = (dir as NSString).appendingPathComponent("discarded/\(name)")
        XCTAssertEqual(try steps(aside), [0, 5, 5, 6, 6], "a file_version record, then the steps done again")
        // Resuming again from the same checkpoint moves nothing more and keeps the file as it is.
        let before = try Data(contentsOf: URL(fileURLWithPath: killed.path))
        XCTAssertEqual(try TensorBoardWriter.setAside(directory: dir, after: 4), 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: killed.path)), before)
    }

    func testStepOfEvent() {
        XCTAssertEqual(
            TensorBoardWriter.step(ofEvent: TensorBoardEvent.scalar(tag: "a", value: 1, step: 300, wallTime: 5)[...]),
            300)
        XCTAssertEqual(TensorBoardWriter.step(ofEvent: TensorBoardEvent.fileVersion(wallTime: 5)[...]), 0)
        XCTAssertEqual(TensorBoardWriter.step(ofEvent: [0x10][...]), 0, "a truncated varint reads as no step")
    }
}
