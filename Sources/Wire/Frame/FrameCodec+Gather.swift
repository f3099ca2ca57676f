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
    func withGatheredFrame<R>(
        kind: MessageKind, prefix: [UInt8], tail: UnsafeRawBufferPointer,
        stamp given: FrameStamp? = nil,
        _ body: ([UnsafeRawBufferPointer]) throws -> R
    ) rethrows -> R? {
        let raw = prefix.count + tail.count
        precondition(raw <= limits.maxRawBytes, "message of \(raw) bytes is over the frame cap")
        guard sendsInPlace(tail: tail, rawBytes: raw) else { return nil }
        let stamp = key == nil ? nil : given ?? .now()
        var header = FrameHeader(
            version: FrameHeader.currentVersion, kind: kind,
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
        let tag: [UInt8] =
            key.map { key in
                head.withUnsafeBytes { h in prefix.withUnsafeBytes { p in key.tag(version: header.version, h, p, tail) }
                }
            } ?? []
        return try head.withUnsafeBytes { h in
            try prefix.withUnsafeBytes { p in
                try tag.withUnsafeBytes { t in try body([h, p, tail, t]) }
            }
        }
    }
}

extension FrameCodec {
    /// Reads an unsigned, uncompressed weight-chunk frame in place with its checksum left to the copy of its
    /// tensor bytes (`WeightChunkView.copyData(to:)` checks it in the same pass); nil for any other frame, which
    /// `open` checks as usual. Header, sizes and the chunk's fields are checked here.
    func openWeightChunkInPlace(_ p: UnsafeRawBufferPointer) throws(FrameError) -> (FrameHeader, WeightChunkView)? {
        guard key == nil else { return nil }
        let header = try FrameHeader.read(p, limits: limits)
        guard header.kind == .weightChunk, header.flags.isEmpty else { return nil }
        let start = header.prefixLength
        let end = start + Int(header.payloadLength)
        guard p.count >= header.frameLength else {
            throw FrameError(
                .truncatedPayload,
                "\(p.count) bytes but the header describes a frame of \(header.frameLength)")
        }
        guard p.count == header.frameLength else {
            throw FrameError(
                .trailingBytes,
                "\(p.count - header.frameLength) bytes after the end of a "
                    + "\(header.frameLength)-byte frame")
        }
        let payload = UnsafeRawBufferPointer(rebasing: p[start..<end])
        var view = try WeightChunkView(payload: payload)
        let dataStart = view.data.count == 0 ? payload.count : view.data.baseAddress! - payload.baseAddress!
        let dataEnd = dataStart + view.data.count
        let seed = crc32c(
            UnsafeRawBufferPointer(rebasing: payload[0..<dataStart]),
            continuing: Self.checksum(
                prefix: UnsafeRawBufferPointer(rebasing: p[0..<start]),
                payload: UnsafeRawBufferPointer(start: nil, count: 0)))
        view.deferredCheck = (seed, UnsafeRawBufferPointer(rebasing: payload[dataEnd...]), header.checksum)
        return (header, view)
    }
}
