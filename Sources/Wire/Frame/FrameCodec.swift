import CZstd

/// Hard caps that keep a small frame from claiming gigabytes.
public struct FrameLimits: Sendable, Equatable {
    /// Most bytes a frame's payload may have on the wire.
    public var maxPayloadBytes: Int
    /// Most bytes a payload may expand to.
    public var maxRawBytes: Int

    public init(maxPayloadBytes: Int = 256 << 20, maxRawBytes: Int = 1 << 30) {
        self.maxPayloadBytes = maxPayloadBytes
        self.maxRawBytes = maxRawBytes
    }
}

/// A frame taken apart and checked.
public struct DecodedFrame: Sendable {
    public var header: FrameHeader
    public var message: WireMessage
}

/// Turns messages into frames and back: protobuf, then zstd, checksum and optional HMAC.
public struct FrameCodec: Sendable {
    /// When set, every frame is signed and frames without a valid tag are refused.
    public var key: ClusterKey?
    public var limits: FrameLimits
    /// zstd level: 1 is fast with a good ratio; negative levels trade ratio for speed.
    public var compressionLevel: Int32
    /// Payloads smaller than this are sent uncompressed.
    public var minimumCompressBytes: Int

    public init(key: ClusterKey? = nil, limits: FrameLimits = FrameLimits(), compressionLevel: Int32 = 1,
                minimumCompressBytes: Int = 128) {
        self.key = key
        self.limits = limits
        self.compressionLevel = compressionLevel
        self.minimumCompressBytes = minimumCompressBytes
    }

    /// Encodes a message as one frame.
    public func encode(_ message: WireMessage) -> [UInt8] {
        let payload = message.serialized()
        return payload.withUnsafeBytes { encode(kind: message.kind, payload: $0) }
    }

    /// Frames an already serialised protobuf payload of `kind`.
    public func encode(kind: MessageKind, payload raw: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(raw.count <= limits.maxRawBytes, "message of \(raw.count) bytes is over the frame cap")
        let h = FrameHeader.size
        let bound = raw.count >= minimumCompressBytes ? max(ZSTD_compressBound(raw.count), raw.count) : raw.count
        let tail = key == nil ? 0 : FrameHeader.macSize
        var frame = [UInt8](repeating: 0, count: h + bound + tail)
        var flags: FrameHeader.Flags = key == nil ? [] : .authenticated
        let payloadLength: Int = frame.withUnsafeMutableBytes { out in
            let body = out.baseAddress! + h
            if raw.count >= minimumCompressBytes {
                let written = ZSTD_compress(body, bound, raw.baseAddress, raw.count, compressionLevel)
                if ZSTD_isError(written) == 0, written < raw.count {
                    flags.insert(.compressed)
                    return written
                }
            }
            if raw.count > 0 { body.copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
            return raw.count
        }
        var header = FrameHeader(version: FrameHeader.currentVersion, kind: kind, flags: flags,
                                 payloadLength: UInt32(payloadLength), rawLength: UInt32(raw.count), checksum: 0)
        frame.withUnsafeMutableBytes { out in
            header.write(to: out)
            let crc = crc32c(UnsafeRawBufferPointer(rebasing: out[0..<20]))
            header.checksum = crc32c(UnsafeRawBufferPointer(rebasing: out[h..<(h + payloadLength)]), continuing: crc)
            header.write(to: out)
            if let key {
                let tag = key.tag(UnsafeRawBufferPointer(rebasing: out[0..<(h + payloadLength)]))
                for i in 0..<tag.count { out[h + payloadLength + i] = tag[i] }
            }
        }
        frame.removeSubrange((h + payloadLength + tail)...)
        return frame
    }

    /// Decodes and checks a frame.
    public func decode(_ bytes: [UInt8]) throws(FrameError) -> WireMessage {
        try withBytes(bytes) { (p) throws(FrameError) in try decodeFrame(p).message }
    }

    /// Decodes and checks a frame, keeping its header.
    public func decodeFrame(_ p: UnsafeRawBufferPointer) throws(FrameError) -> DecodedFrame {
        let (header, payload) = try open(p)
        let message = try withBytes(payload) { (raw) throws(FrameError) in
            try WireMessage.decode(kind: header.kind, payload: raw)
        }
        return DecodedFrame(header: header, message: message)
    }

    /// Checks header, length, checksum and tag, and decompresses: the protobuf payload of a frame.
    public func open(_ p: UnsafeRawBufferPointer) throws(FrameError) -> (FrameHeader, [UInt8]) {
        let header = try FrameHeader.read(p, limits: limits)
        let h = FrameHeader.size
        let end = h + Int(header.payloadLength)
        let expected = header.frameLength
        guard p.count >= expected else {
            throw FrameError(.truncatedPayload, "\(p.count) bytes but the header describes a frame of \(expected)")
        }
        guard p.count == expected else {
            throw FrameError(.trailingBytes, "\(p.count - expected) bytes after the end of a \(expected)-byte frame")
        }
        let signed = UnsafeRawBufferPointer(rebasing: p[0..<end])
        let payload = UnsafeRawBufferPointer(rebasing: p[h..<end])
        let crc = crc32c(payload, continuing: crc32c(UnsafeRawBufferPointer(rebasing: p[0..<20])))
        guard crc == header.checksum else {
            throw FrameError(.checksumMismatch, String(format: "CRC32C is %08x, the header says %08x: the frame was "
                                                       + "damaged in transit or on disk", crc, header.checksum))
        }
        if let key {
            guard header.flags.contains(.authenticated) else {
                throw FrameError(.missingMAC, "the frame carries no HMAC tag but this process has a cluster key "
                                 + "(\(key.fingerprint)): give the sender the same key file")
            }
            guard key.isValid(tag: UnsafeRawBufferPointer(rebasing: p[end..<expected]), signed) else {
                throw FrameError(.badMAC, "HMAC-SHA256 tag does not match cluster key \(key.fingerprint): "
                                 + "the sender uses another key, or the frame was forged")
            }
        }
        if header.flags.contains(.compressed) {
            return (header, try Zstd.decompress(payload, expectedSize: Int(header.rawLength)))
        }
        return (header, Array(payload))
    }
}

import Foundation

/// `withUnsafeBytes` that keeps the typed error of its body.
func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(FrameError) -> R) throws(FrameError) -> R {
    let result: Result<R, FrameError> = bytes.withUnsafeBytes { p in
        Result { () throws(FrameError) -> R in try body(p) }
    }
    return try result.get()
}
