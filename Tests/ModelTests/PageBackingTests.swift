// Lazily backed buffers: backing the pages of one in advance keeps what it holds, takes the memory at once, and
// an optimizer's moments are backed when it is made.
import Foundation
import XCTest

@testable import Model

final class PageBackingTests: XCTestCase {
    /// Anonymous memory the process holds, in bytes (RssAnon of /proc/self/status).
    private func anonymousBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") })
        let kb = try XCTUnwrap(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kb * 1024
    }

    func testBackingKeepsTheContentsAndTakesTheMemoryAtOnce() throws {
        let count = 16 << 20  // 64 MB, a mapping
        let buffer = FloatBuffer(count: count, lazy: true)
        buffer[5].pointee = 1.5
        buffer[count - 1].pointee = -2
        let before = try anonymousBytes()
        buffer.backPages()
        let taken = try anonymousBytes() - before
        XCTAssertGreaterThan(taken, count * 4 * 9 / 10, "the pages are backed now, not on first use")
        XCTAssertEqual(buffer[5].pointee, 1.5)
        XCTAssertEqual(buffer[count - 1].pointee, -2)
        XCTAssertEqual(buffer[count / 2].pointee, 0)
        buffer.release()
        XCTAssertEqual(buffer[5].pointee, 0, "released memory reads as zero")
    }

    func testASmallBufferOnTheHeapKeepsItsContents() {
        let buffer = FloatBuffer(count: 100, lazy: true)
        buffer[7].pointee = 3
        buffer.backPages()
        XCTAssertEqual(buffer.toArray().filter { $0 != 0 }, [3])
    }

    func testAdamWBacksItsMomentsWhenMade() throws {
        let config = ModelConfig(
            modelType: "llama", hiddenSize: 256, intermediateSize: 512, numLayers: 2, numHeads: 4, numKVHeads: 4,
            vocabSize: 1000, rmsNormEps: 1e-5, ropeTheta: 100, tieWordEmbeddings: false, maxPositionEmbeddings: 32,
            attentionBias: false)
        let model = try Transformer(config: config)
        let before = try anonymousBytes()
        let optimizer = AdamW(model: model, schedule: LRSchedule(peak: 1e-3))
        let taken = try anonymousBytes() - before
        XCTAssertGreaterThan(taken, 2 * model.parameterCount * 4 * 9 / 10, "both moments backed")
        withExtendedLifetime(optimizer) {}
    }
}
