import Foundation
import TestKit
import Wire
import XCTest

/// The committed frames under Tests/Fixtures/frames pin the wire format: a change that breaks compatibility
/// makes these fail. The `*.frame` files of every kind and `signed_heartbeat.frame` were written by wire
/// version 1 and are kept as they are (this build must still read them); the `v2_*.frame` files are version 2.
/// The weight announcement changed its content when chunk checksums replaced the whole-buffer SHA-256: its
/// version 1 frame (`v1_weight_announcement_sha256.frame`) is refused with advice, `v2_weight_announcement.frame`
/// pins the current one. Kinds added after version 1 (`weight_progress`) have a version 2 frame only.
/// Regenerate the version 2 files only on purpose: RPP_WRITE_GOLDEN=1 swift test --filter Golden.
final class GoldenFrameTests: XCTestCase {
    var writing: Bool { ProcessInfo.processInfo.environment["RPP_WRITE_GOLDEN"] == "1" }
    let fixedStamp = FrameStamp(
        unixMillis: 1_800_000_000_000, nonce: .init(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c))

    /// The kinds whose version 1 frames are committed and still read as they were.
    let version1Kinds = Set(MessageKind.allCases).subtracting([.weightAnnouncement, .weightProgress])

    func testEveryKindHasAnExample() {
        XCTAssertEqual(Set(Examples.all.map(\.kind)), Set(MessageKind.allCases))
    }

    func testVersion1GoldenFramesDecodeToTheExamples() throws {
        let codec = FrameCodec()
        for message in Examples.all where version1Kinds.contains(message.kind) {
            let url = Fixtures.url("frames/\(message.kind.name).frame")
            let bytes = try [UInt8](Data(contentsOf: url))
            let decoded = try codec.decode(bytes)
            XCTAssertEqual(decoded, message, "golden frame \(url.lastPathComponent) no longer decodes to its example")
            // Header fields are part of the contract too.
            XCTAssertEqual(Array(bytes[0..<4]), Array("RPPF".utf8))
            XCTAssertEqual(UInt16(bytes[4]) | UInt16(bytes[5]) << 8, 1, "wire version")
            XCTAssertEqual(UInt16(bytes[6]) | UInt16(bytes[7]) << 8, message.kind.rawValue, "kind")
        }
    }

    func testUnsignedFramesOfVersion2DifferFromVersion1OnlyInVersionAndChecksum() throws {
        for message in Examples.all where version1Kinds.contains(message.kind) {
            let v1 = try [UInt8](Data(contentsOf: Fixtures.url("frames/\(message.kind.name).frame")))
            guard v1[8] & 1 == 0 else { continue }  // compressed bytes depend on the zstd build
            let v2 = FrameCodec(compression: .never).encode(message)
            XCTAssertEqual(v2.count, v1.count)
            XCTAssertEqual(UInt16(v2[4]) | UInt16(v2[5]) << 8, 2)
            XCTAssertEqual(Array(v2[6..<20]), Array(v1[6..<20]), message.kind.name)
            XCTAssertEqual(Array(v2[24...]), Array(v1[24...]), message.kind.name)
        }
    }

    func testSignedGoldenFrameNeedsItsKey() throws {
        let key = try ClusterKey(bytes: Array(0..<32))
        let bytes = try [UInt8](Data(contentsOf: Fixtures.url("frames/signed_heartbeat.frame")))
        XCTAssertEqual(try FrameCodec(key: key).decode(bytes), Examples.all[2])
        let fileKey = try ClusterKey(file: Fixtures.url("frames/test-cluster.key").path)
        XCTAssertEqual(fileKey.fingerprint, key.fingerprint)
        XCTAssertThrowsError(try FrameCodec(key: try ClusterKey(bytes: Array(1...32))).decode(bytes))
    }

    /// Version 2 signed and encrypted frames, with a fixed stamp so the bytes are reproducible.
    func testVersion2SignedAndEncryptedGoldenFrames() throws {
        let key = try ClusterKey(file: Fixtures.url("frames/test-cluster.key").path)
        for (name, encrypt) in [("v2_signed_heartbeat", false), ("v2_encrypted_heartbeat", true)] {
            let url = Fixtures.url("frames/\(name).frame")
            let codec = FrameCodec(key: key, encrypt: encrypt)
            if writing { try Data(codec.seal(Examples.all[2], stamp: fixedStamp).bytes).write(to: url) }
            let bytes = try [UInt8](Data(contentsOf: url))
            XCTAssertEqual(bytes, codec.seal(Examples.all[2], stamp: fixedStamp).bytes, "\(name) is no longer produced")
            XCTAssertEqual(try FrameCodec(key: key).decode(bytes), Examples.all[2])
            XCTAssertEqual(UInt16(bytes[4]) | UInt16(bytes[5]) << 8, 2, "wire version")
            XCTAssertEqual(
                Int64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 24, as: Int64.self) }),
                fixedStamp.unixMillis, "the stamp follows the header")
        }
    }

    func testVersion2GoldenFramesOfTheKindsWithoutAVersion1Frame() throws {
        for kind in Set(MessageKind.allCases).subtracting(version1Kinds) {
            let message = try XCTUnwrap(Examples.all.first { $0.kind == kind })
            let url = Fixtures.url("frames/v2_\(kind.name).frame")
            let codec = FrameCodec(compression: .never)
            if writing { try Data(codec.encode(message)).write(to: url) }
            let bytes = try [UInt8](Data(contentsOf: url))
            XCTAssertEqual(bytes, codec.encode(message), "the \(kind.name) is no longer encoded as committed")
            XCTAssertEqual(try FrameCodec().decode(bytes), message)
            XCTAssertEqual(UInt16(bytes[6]) | UInt16(bytes[7]) << 8, kind.rawValue, "kind")
        }
    }

    func testAnnouncementOfAnOlderRppIsRefusedWithAdvice() throws {
        let bytes = try [UInt8](Data(contentsOf: Fixtures.url("frames/v1_weight_announcement_sha256.frame")))
        XCTAssertThrowsError(try FrameCodec().decode(bytes)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("chunk_crc32c"), text)
            XCTAssertTrue(text.contains("same rpp on every host"), text)
        }
    }
}
