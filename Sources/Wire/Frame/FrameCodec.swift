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

    /// Most bytes of a whole frame under these caps (header, stamp, payload, tag): the receive cap of a socket.
    public var maxFrameBytes: Int { maxPayloadBytes + FrameHeader.size + FrameStamp.size + FrameHeader.macSize }

    /// Sockets that receive only small requests (the learner's control and status ports): 1 MiB on the wire,
    /// 4 MiB decompressed.
    public static let control = FrameLimits(maxPayloadBytes: 1 << 20, maxRawBytes: 4 << 20)

    /// Reward and reference servers: a request of up to `ScoreRequest.maxItems` sequences, 64 MiB on the wire
    /// and decompressed.
    public static let serviceRequest = FrameLimits(maxPayloadBytes: 64 << 20, maxRawBytes: 64 << 20)

    /// The learner's rollouts port: an experience batch of `samples` sequences of at most `tokensPerSample`
    /// tokens (24 bytes a token: a varint token id and two float log-probs with room to spare; 4 KiB a sample
    /// for ids and tensor headers), at least 1 MiB and at most the default 256 MiB.
    public static func experience(samples: Int, tokensPerSample: Int) -> FrameLimits {
        let top = FrameLimits().maxPayloadBytes
        let bytes =
            experienceBytes(samples: samples, tokensPerSample: tokensPerSample).map { min(top, max(1 << 20, $0)) }
            ?? top
        return FrameLimits(maxPayloadBytes: bytes, maxRawBytes: bytes)
    }

    /// The most bytes an experience batch of `samples` sequences of at most `tokensPerSample` tokens takes
    /// (the bound `experience(samples:tokensPerSample:)` allows for); nil when it overflows.
    public static func experienceBytes(samples: Int, tokensPerSample: Int) -> Int? {
        let (perSample, o1) = tokensPerSample.multipliedReportingOverflow(by: 24)
        let (withHeaders, o2) = perSample.addingReportingOverflow(4096)
        let (all, o3) = samples.multipliedReportingOverflow(by: withHeaders)
        let (total, o4) = all.addingReportingOverflow(64 << 10)
        return o1 || o2 || o3 || o4 ? nil : total
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

/// Turns messages into frames and back: protobuf, then zstd, checksum, and with a cluster key a stamp and an
/// HMAC tag, or AES-256-GCM encryption.
public struct FrameCodec: Sendable {
    /// When set, every frame is signed (stamped and tagged) and frames without a valid tag are refused.
    public var key: ClusterKey?
    /// With a key: encrypt every frame this codec seals. Receiving accepts signed and encrypted frames alike.
    public var encrypt: Bool
    public var limits: FrameLimits
    public var compression: Compression
    /// zstd level: 1 is fast with a good ratio; negative levels trade ratio for speed.
    public var compressionLevel: Int32
    /// Payloads smaller than this are never compressed.
    public var minimumCompressBytes: Int

    public init(
        key: ClusterKey? = nil, encrypt: Bool = false, limits: FrameLimits = FrameLimits(),
        compression: Compression = .auto, compressionLevel: Int32 = 1, minimumCompressBytes: Int = 128
    ) {
        self.key = key
        self.encrypt = encrypt
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

    /// Encodes a message with a given stamp (reproducible frames for tests and fixtures; a stamp must never be
    /// used twice with one key).
    public func seal(_ message: WireMessage, stamp: FrameStamp) -> SealedFrame {
        seal(kind: message.kind, payload: message.serialized(), stamp: stamp)
    }

    /// Frames an already serialised protobuf payload of `kind`.
    public func encode(kind: MessageKind, payload raw: UnsafeRawBufferPointer) -> [UInt8] {
        seal(kind: kind, payload: Array(raw)).bytes
    }

    func seal(kind: MessageKind, payload raw: [UInt8], stamp given: FrameStamp? = nil) -> SealedFrame {
        precondition(raw.count <= limits.maxRawBytes, "message of \(raw.count) bytes is over the frame cap")
        var body = raw
        var flags: FrameHeader.Flags = []
        if shouldCompress(raw), let packed = compressed(raw) {
            body = packed
            flags.insert(.compressed)
        }
        let stamp = key == nil ? nil : given ?? .now()
        if key != nil { flags.insert(.authenticated) }
        if key != nil, encrypt { flags.insert(.encrypted) }
        var header = FrameHeader(
            version: FrameHeader.currentVersion, kind: kind, flags: flags,
            payloadLength: UInt32(body.count), rawLength: UInt32(raw.count), checksum: 0,
            stamp: stamp)
        var head = [UInt8](repeating: 0, count: header.prefixLength)
        head.withUnsafeMutableBytes { header.write(to: $0) }
        var tag: [UInt8] = []
        if let key, let stamp, encrypt {
            (body, tag) = Self.encrypt(body, key: key, nonce: stamp.nonce, additional: Self.additionalData(head))
        }
        head.withUnsafeMutableBytes { out in
            header.checksum = body.withUnsafeBytes { Self.checksum(prefix: UnsafeRawBufferPointer(out), payload: $0) }
            header.write(to: out)
        }
        if let key, !encrypt {
            tag = head.withUnsafeBytes { h in body.withUnsafeBytes { b in key.tag(version: header.version, h, b) } }
        }
        return SealedFrame(header: head, body: body, tag: tag)
    }

    /// CRC32C of header bytes 0..<20, the stamp (if any) and the payload.
    static func checksum(prefix: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> UInt32 {
        let crc = crc32c(UnsafeRawBufferPointer(rebasing: prefix[0..<20]))
        return crc32c(
            payload,
            continuing: crc32c(
                UnsafeRawBufferPointer(rebasing: prefix[FrameHeader.size...]),
                continuing: crc))
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

    /// Decodes and checks a frame, keeping its header; with `replay`, a signed frame must also be fresh.
    public func decodeFrame(
        _ p: UnsafeRawBufferPointer,
        replay: ReplayGuard? = nil
    ) throws(FrameError) -> DecodedFrame {
        try open(p, replay: replay) { (header, payload) throws(FrameError) in
            DecodedFrame(header: header, message: try WireMessage.decode(kind: header.kind, payload: payload))
        }
    }

    /// Checks header, length, checksum and tag (or decrypts), then, with `replay`, the stamp; decompresses only
    /// after all that, and hands the protobuf payload to `body` (a view into `p` when the frame is neither
    /// compressed nor encrypted).
    public func open<R>(
        _ p: UnsafeRawBufferPointer, replay: ReplayGuard? = nil,
        _ body: (FrameHeader, UnsafeRawBufferPointer) throws(FrameError) -> R
    ) throws(FrameError) -> R {
        let header = try FrameHeader.read(p, limits: limits)
        let start = header.prefixLength
        let end = start + Int(header.payloadLength)
        let expected = header.frameLength
        guard p.count >= expected else {
            throw FrameError(.truncatedPayload, "\(p.count) bytes but the header describes a frame of \(expected)")
        }
        guard p.count == expected else {
            throw FrameError(.trailingBytes, "\(p.count - expected) bytes after the end of a \(expected)-byte frame")
        }
        let prefix = UnsafeRawBufferPointer(rebasing: p[0..<start])
        let payload = UnsafeRawBufferPointer(rebasing: p[start..<end])
        let tag = UnsafeRawBufferPointer(rebasing: p[end..<expected])
        let crc = Self.checksum(prefix: prefix, payload: payload)
        guard crc == header.checksum else {
            throw FrameError(
                .checksumMismatch,
                String(
                    format: "CRC32C is %08x, the header says %08x: the frame was "
                        + "damaged in transit or on disk", crc, header.checksum))
        }
        let encrypted = header.flags.contains(.encrypted)
        if let key {
            guard header.flags.contains(.authenticated) else {
                throw FrameError(
                    .missingMAC,
                    "the frame carries no HMAC tag but this process has a cluster key "
                        + "(\(key.fingerprint)): give the sender the same key file")
            }
            if encrypted {
                let plain = try Self.decrypt(
                    payload, tag: tag, key: key, header: header,
                    additional: Self.additionalData(prefix))
                try replay?.admit(header)
                return try withBytes(plain) { (plain) throws(FrameError) in try unpack(header, plain, body) }
            }
            guard key.isValid(tag: tag, version: header.version, prefix, payload) else {
                throw FrameError(
                    .badMAC,
                    "HMAC-SHA256 tag does not match cluster key \(key.fingerprint): "
                        + "the sender uses another key, or the frame was forged")
            }
            try replay?.admit(header)
        } else if encrypted {
            throw FrameError(
                .needsKey,
                "the frame is encrypted and this process has no cluster key: set "
                    + "cluster.key_file to the cluster's key file")
        }
        return try unpack(header, payload, body)
    }

    /// Decompresses (when flagged) and hands the protobuf bytes to `body`.
    private func unpack<R>(
        _ header: FrameHeader, _ payload: UnsafeRawBufferPointer,
        _ body: (FrameHeader, UnsafeRawBufferPointer) throws(FrameError) -> R
    )
        throws(FrameError) -> R
    {
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
