// Weight chunks written by Tests/Scripts/make_fuzz_regressions.py (an encoder independent of rpp's), opened as a
// receiving socket opens them: read in place, their checksum left to the copy, then copied, expanded or applied
// as a delta as a rollout worker does.
import CSupport
import Foundation
import TestKit
import XCTest

@testable import Wire

final class ReceivedChunkFixtureTests: XCTestCase {
    let codec = FrameCodec()

    struct NotAChunk: Error {
        var kind: MessageKind
    }

    func bytes(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: Fixtures.url("fuzz").appendingPathComponent(name)))
    }

    /// Opens fixture `name` as a receiver does and hands the weight chunk view to `body`.
    func withChunk<R>(_ name: String, _ body: (WeightChunkView) throws -> R) throws -> R {
        let frame = try bytes(name)
        return try frame.withUnsafeBytes { p in
            try codec.openReceived(p) { header, message in
                guard case .weightChunk(let view) = message else { throw NotAChunk(kind: header.kind) }
                return try body(view)
            }
        }
    }

    /// The view's elements written by `copyData(to:)`, and whether its checksum held.
    func copied(_ view: WeightChunkView) -> ([UInt8], Bool) {
        var out = [UInt8](repeating: 0xEE, count: view.denseBytes)
        let intact = out.withUnsafeMutableBytes { view.copyData(to: $0.baseAddress!) }
        return (out, intact)
    }

    func floats(_ bytes: [UInt8]) -> [Float] {
        bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func testByteShuffledChunkIsUnshuffled() throws {
        let (out, intact) = try withChunk("chunk-shuffled.frame") { view in
            XCTAssertTrue(view.shuffled)
            XCTAssertEqual(view.dtype, .float32)
            XCTAssertEqual(view.elements, 4)
            XCTAssertEqual(view.count, 4)
            XCTAssertEqual(view.owned()?.data.shape, [4])
            XCTAssertEqual(view.owned()?.data.floats, [1.0, -2.0, 0.5, 3.25])
            return copied(view)
        }
        XCTAssertTrue(intact)
        XCTAssertEqual(floats(out), [1.0, -2.0, 0.5, 3.25])
    }

    func testSparseChunkIsExpanded() throws {
        let (out, intact) = try withChunk("chunk-sparse.frame") { view in
            XCTAssertTrue(view.sparse)
            XCTAssertEqual(view.elements, 10)
            XCTAssertEqual(view.owned()?.data.shape, [10], "the shape of the expanded elements")
            return copied(view)
        }
        XCTAssertTrue(intact)
        XCTAssertEqual(floats(out), [0, 1.5, 0, 0, -4.0, 0, 0, 0, 0, 8.0])
    }

    func testBFloat16DeltaIsXoredOntoItsBase() throws {
        let base = (0..<16).map { UInt8(0xA0 + $0) }
        let (out, crc) = try withChunk("chunk-delta-bf16.frame") { view in
            XCTAssertEqual(view.dtype, .bfloat16)
            XCTAssertEqual(view.baseVersion, 6)
            XCTAssertEqual(view.policyVersion, 7)
            XCTAssertEqual(view.denseBytes, 16)
            var out = [UInt8](repeating: 0, count: 16)
            let crc = base.withUnsafeBytes { b in
                out.withUnsafeMutableBytes { view.applyDelta(to: b.baseAddress!, into: $0.baseAddress!) }
            }
            return (out, crc)
        }
        XCTAssertEqual(out, (0..<16).map { UInt8(0xA0 + $0) ^ UInt8($0 + 1) })
        XCTAssertEqual(crc, crc32c(out))
    }

    /// A worker may apply a delta over the version it holds: the same bytes as into a separate buffer, whatever
    /// the chunk's form.
    func testDeltaAppliedOverItsBaseGivesTheSameBytes() throws {
        for name in ["chunk-delta-bf16.frame", "chunk-shuffled.frame", "chunk-sparse.frame"] {
            let (apart, over) = try withChunk(name) { view in
                let base = (0..<view.denseBytes).map { UInt8(truncatingIfNeeded: 0x31 &* $0 &+ 7) }
                var apart = [UInt8](repeating: 0, count: view.denseBytes)
                let crc = base.withUnsafeBytes { b in
                    apart.withUnsafeMutableBytes { view.applyDelta(to: b.baseAddress!, into: $0.baseAddress!) }
                }
                var over = base
                let overCRC = over.withUnsafeMutableBytes {
                    view.applyDelta(to: $0.baseAddress!, into: $0.baseAddress!)
                }
                XCTAssertEqual(crc, overCRC, name)
                return (apart, over)
            }
            XCTAssertEqual(apart, over, name)
        }
    }

    func testSparseChunkWithTooFewValuesIsRefusedBeforeAnyCopy() throws {
        XCTAssertThrowsError(try withChunk("chunk-sparse-short.frame") { _ in XCTFail("opened") }) { error in
            XCTAssertEqual((error as? FrameError)?.code, .invariant, "\(error)")
            XCTAssertTrue("\(error)".contains("not the sparse form of 8"), "\(error)")
        }
    }

    func testDamagedChunkReadInPlaceFailsItsCopy() throws {
        let (intact, owned) = try withChunk("chunk-damaged.frame") { view in (copied(view).1, view.owned()) }
        XCTAssertFalse(intact, "the flipped data byte must fail the frame's checksum during the copy")
        XCTAssertNil(owned)
        XCTAssertThrowsError(try codec.decode(try bytes("chunk-damaged.frame"))) { error in
            XCTAssertEqual((error as? FrameError)?.code, .checksumMismatch, "\(error)")
        }
    }

    /// Every hostile input (and whatever `make fuzz` found) opened as a receiver opens it: refused, or a chunk whose
    /// copy, delta and owned copy stay within its bytes.
    func testFuzzInputsOpenedAsAReceiverDoes() throws {
        let dir = Fixtures.url("fuzz")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertGreaterThanOrEqual(names.count, 11)
        var chunks = 0
        for name in names {
            let frame = try bytes(name)
            _ = try? frame.withUnsafeBytes { p in
                try codec.openReceived(p) { _, message in
                    guard case .weightChunk(let view) = message else { return }
                    chunks += 1
                    var base = [UInt8](repeating: 0x5A, count: view.denseBytes)
                    _ = copied(view)
                    _ = base.withUnsafeMutableBytes { view.applyDelta(to: $0.baseAddress!, into: $0.baseAddress!) }
                    _ = view.owned()
                }
            }
        }
        XCTAssertGreaterThanOrEqual(chunks, 4, "the chunk fixtures open as views")
    }
}
