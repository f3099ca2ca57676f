/// What `rpp inspect frame` shows of a frame.
public struct FrameInspection: Sendable {
    public var header: FrameHeader
    /// "verified", "decrypted and verified", "none", or "present, not verified (no key given)".
    public var mac: String
    /// The message as protobuf JSON (field names as in Protos/).
    public var messageJSON: String
}

extension FrameCodec {
    /// Checks a frame fully (header, checksum, tag when this codec has a key, decompression, protobuf and
    /// invariants) and renders its message as JSON.
    public func inspect(_ p: UnsafeRawBufferPointer) throws(FrameError) -> FrameInspection {
        let (header, json) = try open(p) { (header, raw) throws(FrameError) in
            _ = try WireMessage.decode(kind: header.kind, payload: raw)
            return (header, try WireMessage.json(kind: header.kind, payload: raw))
        }
        let mac =
            !header.flags.contains(.authenticated)
            ? "none"
            : key == nil
                ? "present, not verified (no key given)"
                : header.flags.contains(.encrypted) ? "decrypted and verified (AES-256-GCM)" : "verified"
        return FrameInspection(header: header, mac: mac, messageJSON: json)
    }
}
