/// Frames whose payload ends with bytes the caller owns (a tensor): the frame is handed to the socket as parts,
/// header and payload prefix from small buffers, the tensor in place, so nothing copies it before nanomsg does.
extension FrameCodec {
    /// True when this codec sends a payload ending in `tail` as it is: neither encrypted nor compressed
    /// (compression only when the tail promises `Compressibility.worthwhileRatio` under `.auto`).
    func sendsInPlace(tail: UnsafeRawBufferPointer, rawBytes: Int) -> Bool {
        if key != nil, encrypt { return false }
        guard rawBytes >= minimumCompressBytes else { return true }
        switch compression {
        case .never: return true
        case .always: return false
        case .auto: return Compressibility.estimatedRatio(tail) < Compressibility.worthwhileRatio
        }
    }

    /// Seals a frame of `kind` whose payload is `prefix` followed by `tail` and hands its parts, in order, to
    /// `body`; nil (and `body` is not called) when this codec would compress or encrypt the payload.
    /// The frame is byte for byte what `seal` makes of the joined payload when it does not compress.
    func withGatheredFrame<R>(kind: MessageKind, prefix: [UInt8], tail: UnsafeRawBufferPointer,
                              stamp given: FrameStamp? = nil,
                              _ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R? {
        let raw = prefix.count + tail.count
        precondition(raw <= limits.maxRawBytes, "message of \(raw) bytes is over the frame cap")
        guard sendsInPlace(tail: tail, rawBytes: raw) else { return nil }
        let stamp = key == nil ? nil : given ?? .now()
        var header = FrameHeader(version: FrameHeader.currentVersion, kind: kind,
                                 flags: key == nil ? [] : .authenticated, payloadLength: UInt32(raw),
                                 rawLength: UInt32(raw), checksum: 0, stamp: stamp)
        var head = [UInt8](repeating: 0, count: header.prefixLength)
        head.withUnsafeMutableBytes { out in
            header.write(to: out)
            let crc = prefix.withUnsafeBytes { p in
                crc32c(tail, continuing: Self.checksum(prefix: UnsafeRawBufferPointer(out), payload: p))
            }
            header.checksum = crc
            header.write(to: out)
        }
        let tag: [UInt8] = key.map { key in
            head.withUnsafeBytes { h in prefix.withUnsafeBytes { p in key.tag(version: header.version, h, p, tail) } }
        } ?? []
        return try head.withUnsafeBytes { h in
            try prefix.withUnsafeBytes { p in
                try tag.withUnsafeBytes { t in try body([h, p, tail, t]) }
            }
        }
    }
}
