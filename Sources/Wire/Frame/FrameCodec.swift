import CZstd
import Foundation

/// Hard caps that keep a small frame from claiming gigabytes.
public struct FrameLimits: Sendable, Equatable {
    /// Most bytes a frame's payload may have on the wire.
    public var maxPayloadBytes: Int
    /// Most bytes a payload may expand to.
    public var maxRawBytes: Int

    public init(maxPayloadBytes: Int = 256 << 20, maxRawBytes: Int = 256 << 20) {
        self.maxPayloadBytes = maxPayloadBytes
        self.maxRawBytes = maxRawBytes
    }
}

/// When a frame's payload is zstd-compressed.
public enum Compression: String, Sendable, CaseIterable {
    /// Only when a cheap estimate promises `Compressibility.worthwhileRatio` (zstd at ~800 MB/s is slower
    /// than loopback or a fast network unless it saves a lot). The default.
    case auto
    /// Every payload of `minimumCompressBytes` or more (slow links).
    case always
    /// Never (checksums and tags still apply).
    case never
}

/// A frame taken apart and checked.
public struct DecodedFrame: Sendable {
    public var header: FrameHeader
    public var message: WireMessage
}

/// A frame in three parts, so a socket can send it without first joining them into one buffer.
public struct SealedFrame: Sendable {
    public var header: [UInt8]
    public var body: [UInt8]
    public var tag: [UInt8]

    /// The frame as one buffer.
    public var bytes: [UInt8] {
        var all = [UInt8]()
        all.reserveCapacity(count)
        all.append(contentsOf: header)
        all.append(contentsOf: body)
        all.append(contentsOf: tag)
        return all
    }
    public var count: Int { header.count + body.count + tag.count }
}

/// Turns messages into frames and back: protobuf, then zstd, checksum and optional HMAC.
public struct FrameCodec: Sendable {
    /// When set, every frame is signed and frames without a valid tag are refused.
    public var key: ClusterKey?
    public var limits: FrameLimits
    public var compression: Compression
    /// zstd level: 1 is fast with a good ratio; negative levels trade ratio for speed.
    public var compressionLevel: Int32
    /// Payloads smaller than this are never compressed.
    public var minimumCompressBytes: Int

    public init(key: ClusterKey? = nil, limits: FrameLimits = FrameLimits(), compression: Compression = .auto,
                compressionLevel: Int32 = 1, minimumCompressBytes: Int = 128) {
        self.key = key
        self.limits = limits
        self.compression = compression
        self.compressionLevel = compressionLevel
        self.minimumCompressBytes = minimumCompressBytes
    }

    /// Encodes a message as one frame.
    public func encode(_ message: WireMessage) -> [UInt8] { seal(message).bytes }

    /// Encodes a message as header, body and tag.
    public func seal(_ message: WireMessage) -> SealedFrame {
        seal(kind: message.kind, payload: message.serialized())
    }

    /// Frames an already serialised protobuf payload of `kind`.
    public func encode(kind: MessageKind, payload raw: UnsafeRawBufferPointer) -> [UInt8] {
        seal(kind: kind, payload: Array(raw)).bytes
    }

    func seal(kind: MessageKind, payload raw: [UInt8]) -> SealedFrame {
        precondition(raw.count <= limits.maxRawBytes, "message of \(raw.count) bytes is over the frame cap")
        var body = raw
        var flags: FrameHeader.Flags = key == nil ? [] : .authenticated
        if shouldCompress(raw), let packed = compressed(raw) {
            body = packed
            flags.insert(.compressed)
        }
        var header = FrameHeader(version: FrameHeader.currentVersion, kind: kind, flags: flags,
                                 payloadLength: UInt32(body.count), rawLength: UInt32(raw.count), checksum: 0)
        var head = [UInt8](repeating: 0, count: FrameHeader.size)
        head.withUnsafeMutableBytes { out in
            header.write(to: out)
            let crc = crc32c(UnsafeRawBufferPointer(rebasing: out[0..<20]))
            header.checksum = body.withUnsafeBytes { crc32c($0, continuing: crc) }
            header.write(to: out)
        }
        var tag: [UInt8] = []
        if let key {
            tag = head.withUnsafeBytes { h in body.withUnsafeBytes { b in key.tag(h, b) } }
        }
        return SealedFrame(header: head, body: body, tag: tag)
    }

    private func shouldCompress(_ raw: [UInt8]) -> Bool {
        guard raw.count >= minimumCompressBytes else { return false }
        switch compression {
        case .never: return false
        case .always: return true
        case .auto: return raw.withUnsafeBytes { Compressibility.estimatedRatio($0) } >= Compressibility.worthwhileRatio
        }
    }

    /// The compressed payload, or nil when zstd does not make it smaller.
    private func compressed(_ raw: [UInt8]) -> [UInt8]? {
        let bound = ZSTD_compressBound(raw.count)
        var out = [UInt8](unsafeUninitializedCapacity: bound) { _, n in n = bound }
        let written = raw.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in Zstd.compress(src, into: dst, level: compressionLevel) }
        }
        guard let written, written < raw.count else { return nil }
        out.removeSubrange(written...)
        return out
    }

    /// Decodes and checks a frame.
    public func decode(_ bytes: [UInt8]) throws(FrameError) -> WireMessage {
        try withBytes(bytes) { (p) throws(FrameError) in try decodeFrame(p).message }
    }

    /// Decodes and checks a frame, keeping its header.
    public func decodeFrame(_ p: UnsafeRawBufferPointer) throws(FrameError) -> DecodedFrame {
        try open(p) { (header, payload) throws(FrameError) in
            DecodedFrame(header: header, message: try WireMessage.decode(kind: header.kind, payload: payload))
        }
    }

    /// Checks header, length, checksum and tag, decompresses, and hands the protobuf payload to `body`
    /// (a view into `p` when the frame is not compressed).
    public func open<R>(_ p: UnsafeRawBufferPointer,
                        _ body: (FrameHeader, UnsafeRawBufferPointer) throws(FrameError) -> R) throws(FrameError) -> R {
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
        let head = UnsafeRawBufferPointer(rebasing: p[0..<h])
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
            guard key.isValid(tag: UnsafeRawBufferPointer(rebasing: p[end..<expected]), head, payload) else {
                throw FrameError(.badMAC, "HMAC-SHA256 tag does not match cluster key \(key.fingerprint): "
                                 + "the sender uses another key, or the frame was forged")
            }
        }
        if header.flags.contains(.compressed) {
            let raw = try Zstd.decompress(payload, expectedSize: Int(header.rawLength))
            return try withBytes(raw) { (r) throws(FrameError) in try body(header, r) }
        }
        return try body(header, payload)
    }
}

/// `withUnsafeBytes` that keeps the typed error of its body.
func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(FrameError) -> R) throws(FrameError) -> R {
    let result: Result<R, FrameError> = bytes.withUnsafeBytes { p in
        Result { () throws(FrameError) -> R in try body(p) }
    }
    return try result.get()
}
