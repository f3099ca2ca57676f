import Foundation
import TestKit
import XCTest

@testable import Wire

/// Replay protection, encryption and receive caps of signed frames.
final class SecurityTests: XCTestCase {
    let key = try! ClusterKey(bytes: Array(repeating: 5, count: 32))
    let heartbeat = Examples.all[2]

    func testAReplayedSignedFrameIsRefused() throws {
        let address = TestAddress.inproc()
        let pull = try FrameSocket(.pull, codec: FrameCodec(key: key))
        try pull.bind(address)
        let raw = try Socket(.push)
        try raw.connect(address)
        let captured = FrameCodec(key: key).encode(heartbeat)
        try raw.send(captured, timeout: .seconds(2))
        XCTAssertEqual(try pull.receiveSync(timeout: .seconds(2)), heartbeat)
        try raw.send(captured, timeout: .seconds(2))
        XCTAssertThrowsError(try pull.receiveSync(timeout: .seconds(2))) {
            XCTAssertEqual(($0 as? FrameError)?.code, .replayed, "\($0)")
        }
        // A fresh frame still passes.
        try raw.send(FrameCodec(key: key).encode(heartbeat), timeout: .seconds(2))
        XCTAssertEqual(try pull.receiveSync(timeout: .seconds(2)), heartbeat)
    }

    func testAnOldSignedFrameIsRefusedAndItsStampCannotBeChanged() throws {
        let address = TestAddress.inproc()
        let pull = try FrameSocket(.pull, codec: FrameCodec(key: key))
        try pull.bind(address)
        let raw = try Socket(.push)
        try raw.connect(address)
        let old = FrameStamp(unixMillis: FrameStamp.currentUnixMillis() - 3_600_000, nonce: .random())
        var frame = FrameCodec(key: key).seal(heartbeat, stamp: old).bytes
        try raw.send(frame, timeout: .seconds(2))
        XCTAssertThrowsError(try pull.receiveSync(timeout: .seconds(2))) {
            XCTAssertEqual(($0 as? FrameError)?.code, .stale, "\($0)")
        }
        // Moving the stamp to now breaks the tag (and the checksum, which is fixed up here as an attacker would).
        let now = FrameStamp.currentUnixMillis()
        frame.withUnsafeMutableBytes {
            $0.storeBytes(of: now.littleEndian, toByteOffset: FrameHeader.size, as: Int64.self)
        }
        let crc = frame.withUnsafeBytes { p in
            FrameCodec.checksum(
                prefix: UnsafeRawBufferPointer(rebasing: p[0..<(FrameHeader.size + FrameStamp.size)]),
                payload: UnsafeRawBufferPointer(rebasing: p[(FrameHeader.size + FrameStamp.size)..<(p.count - 32)]))
        }
        frame.withUnsafeMutableBytes { $0.storeBytes(of: crc.littleEndian, toByteOffset: 20, as: UInt32.self) }
        try raw.send(frame, timeout: .seconds(2))
        XCTAssertThrowsError(try pull.receiveSync(timeout: .seconds(2))) {
            XCTAssertEqual(($0 as? FrameError)?.code, .badMAC, "\($0)")
        }
    }

    func testAVersion1SignedFrameDecodesButASocketRefusesIt() throws {
        let v1 = try [UInt8](Data(contentsOf: Fixtures.url("frames/signed_heartbeat.frame")))
        let key = try ClusterKey(bytes: Array(0..<32))
        XCTAssertEqual(try FrameCodec(key: key).decode(v1), heartbeat, "old frames still read (inspect, recordings)")
        let address = TestAddress.inproc()
        let pull = try FrameSocket(.pull, codec: FrameCodec(key: key))
        try pull.bind(address)
        let raw = try Socket(.push)
        try raw.connect(address)
        try raw.send(v1, timeout: .seconds(2))
        XCTAssertThrowsError(try pull.receiveSync(timeout: .seconds(2))) {
            XCTAssertEqual(($0 as? FrameError)?.code, .stale, "\($0)")
        }
    }

    func testEncryptedFramesHideThePayloadAndRoundTrip() throws {
        let secret = WireMessage.weightChunk(
            WeightChunk(
                policyVersion: 3, index: 0, count: 1, offset: 0,
                data: DenseTensor(floats: (0..<4096).map { Float($0) * 0.25 })))
        let plainFrame = FrameCodec(key: key, compression: .never).encode(secret)
        let sealed = FrameCodec(key: key, encrypt: true, compression: .never).encode(secret)
        XCTAssertEqual(sealed[8] & 0x6, 0x6, "authenticated and encrypted flags")
        let payload = plainFrame[(FrameHeader.size + FrameStamp.size)..<(plainFrame.count - 32)]
        let window = Array(payload[payload.startIndex + 64..<payload.startIndex + 96])
        XCTAssertNil(sealed.firstRange(of: window), "plaintext bytes appear in the encrypted frame")
        XCTAssertEqual(sealed.count, FrameHeader.size + FrameStamp.size + payload.count + FrameHeader.sealTagSize)
        // Any receiver with the key reads it, with or without `encrypt` of its own.
        XCTAssertEqual(try FrameCodec(key: key).decode(sealed), secret)
        XCTAssertEqual(try FrameCodec(key: key, encrypt: true).decode(sealed), secret)
        let inspection = try sealed.withUnsafeBytes { try FrameCodec(key: key).inspect($0) }
        XCTAssertTrue(inspection.mac.contains("decrypted"), inspection.mac)
        // Compressed and encrypted.
        let big = WireMessage.weightChunk(
            WeightChunk(
                policyVersion: 3, index: 0, count: 1, offset: 0,
                data: DenseTensor(floats: [Float](repeating: 1, count: 65536))))
        let packed = FrameCodec(key: key, encrypt: true, compression: .always).encode(big)
        XCTAssertEqual(packed[8] & 0x7, 0x7)
        XCTAssertEqual(try FrameCodec(key: key).decode(packed), big)
    }

    func testEncryptedFramesRefuseTamperingOtherKeysAndNoKey() throws {
        let sealed = FrameCodec(key: key, encrypt: true).encode(heartbeat)
        let other = try ClusterKey(bytes: Array(repeating: 6, count: 32))
        XCTAssertThrowsError(try FrameCodec(key: other).decode(sealed)) {
            XCTAssertEqual(($0 as? FrameError)?.code, .badMAC)
        }
        XCTAssertThrowsError(try FrameCodec().decode(sealed)) { XCTAssertEqual(($0 as? FrameError)?.code, .needsKey) }
        // Flip one ciphertext bit and repair the checksum: the AEAD tag catches it.
        var bad = sealed
        let start = FrameHeader.size + FrameStamp.size
        bad[start] ^= 1
        let crc = bad.withUnsafeBytes { p in
            FrameCodec.checksum(
                prefix: UnsafeRawBufferPointer(rebasing: p[0..<start]),
                payload: UnsafeRawBufferPointer(rebasing: p[start..<(p.count - 16)]))
        }
        bad.withUnsafeMutableBytes { $0.storeBytes(of: crc.littleEndian, toByteOffset: 20, as: UInt32.self) }
        XCTAssertThrowsError(try FrameCodec(key: key).decode(bad)) {
            XCTAssertEqual(($0 as? FrameError)?.code, .badMAC)
        }
    }

    /// A forged frame that claims a compressed payload is refused on its tag before zstd ever sees it.
    func testTheTagIsCheckedBeforeDecompression() throws {
        var frame = FrameCodec(key: key, compression: .always).encode(
            WireMessage.weightChunk(
                WeightChunk(
                    policyVersion: 1, index: 0, count: 1, offset: 0,
                    data: DenseTensor(floats: [Float](repeating: 2, count: 4096)))))
        XCTAssertEqual(frame[8] & 1, 1)
        let start = FrameHeader.size + FrameStamp.size
        for i in start..<(frame.count - 32) { frame[i] = 0xEE }  // not zstd any more
        let crc = frame.withUnsafeBytes { p in
            FrameCodec.checksum(
                prefix: UnsafeRawBufferPointer(rebasing: p[0..<start]),
                payload: UnsafeRawBufferPointer(rebasing: p[start..<(p.count - 32)]))
        }
        frame.withUnsafeMutableBytes { $0.storeBytes(of: crc.littleEndian, toByteOffset: 20, as: UInt32.self) }
        XCTAssertThrowsError(try FrameCodec(key: key).decode(frame)) {
            XCTAssertEqual(($0 as? FrameError)?.code, .badMAC)
        }
        XCTAssertThrowsError(try FrameCodec().decode(frame)) {
            XCTAssertEqual(($0 as? FrameError)?.code, .corruptCompression, "without a key zstd is reached")
        }
    }

    /// A socket with small limits disconnects a peer that announces a bigger message, before allocating it,
    /// and goes on serving.
    func testASocketsReceiveCapDropsBiggerMessages() throws {
        let address = TestAddress.tcp()
        let pull = try FrameSocket(.pull, limits: .control)
        try pull.bind(address)
        XCTAssertEqual(pull.receiveCodec.limits, .control)
        XCTAssertEqual(pull.codec.limits, FrameLimits(), "what it sends keeps the default caps")
        let big = try Socket(.push)
        try big.connect(address)
        try big.send([UInt8](repeating: 0x41, count: 2 << 20), timeout: .seconds(5))
        XCTAssertThrowsError(try pull.receiveSync(timeout: .milliseconds(500))) {
            XCTAssertEqual(($0 as? TransportError)?.code, .timedOut, "\($0)")
        }
        let small = try FrameSocket(.push)
        try small.connect(address)
        try small.sendSync(heartbeat, timeout: .seconds(5))
        XCTAssertEqual(try pull.receiveSync(timeout: .seconds(5)), heartbeat)
    }

    func testExperienceCapFitsTheUnitAndStaysBounded() {
        let cap = FrameLimits.experience(samples: 16 * 8, tokensPerSample: 128).maxPayloadBytes
        XCTAssertEqual(cap, 1 << 20, "a small unit gets the 1 MiB floor")
        XCTAssertEqual(
            FrameLimits.experience(samples: 4096, tokensPerSample: 1024).maxPayloadBytes,
            4096 * (1024 * 24 + 4096) + (64 << 10))
        XCTAssertEqual(FrameLimits.experience(samples: .max, tokensPerSample: .max).maxPayloadBytes, 256 << 20)
    }

    /// A score request over the item cap is refused while counting, before its items are built.
    func testTooManyItemsAreRefusedBeforeParsing() throws {
        var payload: [UInt8] = [0x08, 0x01]  // request_id 1
        for _ in 0...ScoreRequest.maxItems { payload += [0x12, 0x00] }  // empty items, one over the cap
        let frame = payload.withUnsafeBytes { FrameCodec().encode(kind: .scoreRequest, payload: $0) }
        XCTAssertThrowsError(try FrameCodec().decode(frame)) { error in
            XCTAssertEqual((error as? FrameError)?.code, .invariant, "\(error)")
            XCTAssertTrue("\(error)".contains("more than \(ScoreRequest.maxItems)"), "\(error)")
        }
        var refs: [UInt8] = [0x1d, 0x00, 0x00, 0x80, 0x3f]  // temperature 1
        for _ in 0...RefLogprobRequest.maxSequences { refs += [0x12, 0x00] }
        let refFrame = refs.withUnsafeBytes { FrameCodec().encode(kind: .refLogprobRequest, payload: $0) }
        XCTAssertThrowsError(try FrameCodec().decode(refFrame)) {
            XCTAssertTrue("\($0)".contains("more than"), "\($0)")
        }
    }
}
