import Foundation
import Wire
import XCTest

/// The committed frames under Tests/Fixtures/frames pin wire version 1: a change that breaks
/// compatibility makes these fail. Regenerate only on purpose: RPP_WRITE_GOLDEN=1 swift test --filter Golden.
final class GoldenFrameTests: XCTestCase {
    func testEveryKindHasAnExample() {
        XCTAssertEqual(Set(Examples.all.map(\.kind)), Set(MessageKind.allCases))
    }

    func testGoldenFramesDecodeToTheExamples() throws {
        let codec = FrameCodec()
        for message in Examples.all {
            let url = Fixtures.url("frames/\(message.kind.name).frame")
            if ProcessInfo.processInfo.environment["RPP_WRITE_GOLDEN"] == "1" {
                try Data(codec.encode(message)).write(to: url)
            }
            let bytes = try [UInt8](Data(contentsOf: url))
            let decoded = try codec.decode(bytes)
            XCTAssertEqual(decoded, message, "golden frame \(url.lastPathComponent) no longer decodes to its example")
            // Header fields are part of the contract too.
            XCTAssertEqual(Array(bytes[0..<4]), Array("RPPF".utf8))
            XCTAssertEqual(UInt16(bytes[4]) | UInt16(bytes[5]) << 8, 1, "wire version")
            XCTAssertEqual(UInt16(bytes[6]) | UInt16(bytes[7]) << 8, message.kind.rawValue, "kind")
        }
    }

    func testSignedGoldenFrameNeedsItsKey() throws {
        let key = try ClusterKey(bytes: Array(0..<32))
        let url = Fixtures.url("frames/signed_heartbeat.frame")
        if ProcessInfo.processInfo.environment["RPP_WRITE_GOLDEN"] == "1" {
            try Data(FrameCodec(key: key).encode(Examples.all[2])).write(to: url)
            try Data(Array(0..<32).map { String(format: "%02x", $0) }.joined().utf8)
                .write(to: Fixtures.url("frames/test-cluster.key"))
        }
        let bytes = try [UInt8](Data(contentsOf: url))
        XCTAssertEqual(try FrameCodec(key: key).decode(bytes), Examples.all[2])
        let fileKey = try ClusterKey(file: Fixtures.url("frames/test-cluster.key").path)
        XCTAssertEqual(fileKey.fingerprint, key.fingerprint)
    }
}
