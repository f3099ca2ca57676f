// Weight announcements as a hostile or broken peer may send them: sizes that overflow any arithmetic on them are
// refused with an error naming the field, never a trap.
import Foundation
import XCTest

@testable import Wire

final class WeightAnnouncementWireTests: XCTestCase {
    func good() throws -> Rpp_V1_WeightAnnouncement {
        guard case .weightAnnouncement(let a) = Examples.all.first(where: { $0.kind == .weightAnnouncement }) else {
            throw XCTSkip("no announcement example")
        }
        return a.wire
    }

    func refused(_ w: Rpp_V1_WeightAnnouncement, mentions: String, line: UInt = #line) throws {
        let frame = handMadeFrame(kind: MessageKind.weightAnnouncement.rawValue, payload: try w.serializedBytes())
        XCTAssertThrowsError(try FrameCodec().decode(frame), line: line) { error in
            XCTAssertEqual((error as? FrameError)?.code, .invariant, "\(error)", line: line)
            XCTAssertTrue("\(error)".contains(mentions), "\(error) should mention \(mentions)", line: line)
        }
    }

    func testChunkSizesBeyondAnyBufferAreRefused() throws {
        for chunkElements in [UInt64.max, 1 << 63, UInt64(Int.max), UInt64(1) << 40] {
            var w = try good()
            w.elementCount = 1
            w.chunkCount = 1
            w.chunkCrc32C = [0]
            w.layout = []
            w.chunkElements = chunkElements
            try refused(w, mentions: "weight_announcement.chunk_elements")
        }
    }

    func testLayoutShapesWhoseProductOverflowsAreRefused() throws {
        var w = try good()
        var span = w.layout[0]
        // 2^31 · 2^31 · 2^2 wraps to 0 in 64 bits, which would fit any buffer.
        span.shape = [1 << 31, 1 << 31, 4]
        span.offset = 0
        w.layout = [span]
        try refused(w, mentions: "runs past the end of the buffer")
    }
}
