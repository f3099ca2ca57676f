import Wire
import XCTest

/// CRC32C helpers beyond the plain checksum (whose known values and versions `FrameTests` checks): combining the
/// CRCs of two parts, and copying while checksumming.
final class ChecksumTests: XCTestCase {
    func testCRC32CCombineAndCopy() {
        let bytes = (0..<40_007).map { UInt8(truncatingIfNeeded: $0 &* 197 &+ $0 >> 5) }
        for cut in [0, 1, 7, 8, 9, 4096, 5000, 12_289, 40_006, 40_007] {
            let a = Array(bytes[..<cut])
            let b = Array(bytes[cut...])
            XCTAssertEqual(crc32cCombine(crc32c(a), crc32c(b), secondLength: b.count), crc32c(bytes), "cut \(cut)")
        }
        // Appending zeros: the combined CRC of A and n zero bytes.
        XCTAssertEqual(
            crc32cCombine(crc32c(Array("123456789".utf8)), crc32c([UInt8](repeating: 0, count: 32)), secondLength: 32),
            crc32c(Array("123456789".utf8) + [UInt8](repeating: 0, count: 32)))
        var copy = [UInt8](repeating: 0, count: bytes.count)
        let crc = bytes.withUnsafeBytes { src in
            copy.withUnsafeMutableBytes { crc32c(copying: src, to: $0.baseAddress!) }
        }
        XCTAssertEqual(copy, bytes)
        XCTAssertEqual(crc, crc32c(bytes))
    }

    /// The streaming copy (non-temporal stores after an unaligned head) writes exactly the source's bytes, at any
    /// alignment of either side and any length around its 16-byte lines and 16 KiB blocks, and nothing beyond.
    func testStreamingCopyAtEveryAlignment() {
        let bytes = (0..<40_100).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 7 &+ 3) }
        for length in [0, 1, 15, 16, 17, 31, 33, 16_383, 16_384, 16_385, 16_400, 40_007] {
            for shift in [0, 1, 7, 8, 15] {
                var destination = [UInt8](repeating: 0xEE, count: length + 64)
                let source = Array(bytes[shift..<(shift + length)])
                let crc = source.withUnsafeBytes { src in
                    destination.withUnsafeMutableBytes {
                        crc32c(copying: src, to: $0.baseAddress! + shift, continuing: 0x1234, streaming: true)
                    }
                }
                XCTAssertEqual(Array(destination[shift..<(shift + length)]), source, "length \(length), shift \(shift)")
                XCTAssertTrue(destination[..<shift].allSatisfy { $0 == 0xEE }, "before, length \(length)")
                XCTAssertTrue(destination[(shift + length)...].allSatisfy { $0 == 0xEE }, "after, length \(length)")
                XCTAssertEqual(crc, crc32c(source, continuing: 0x1234), "crc, length \(length), shift \(shift)")
            }
        }
    }
}
