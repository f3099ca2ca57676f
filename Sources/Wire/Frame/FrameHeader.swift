/// The fixed 24-byte header that starts every frame (all integers little-endian):
///
///     offset size field
///          0    4 magic "RPPF"
///          4    2 wire version (2; version 1 frames are still read)
///          6    2 message kind (MessageKind)
///          8    2 flags: bit 0 payload is zstd-compressed, bit 1 the frame is signed (a stamp follows the
///                 header in version 2 and a tag follows the payload), bit 2 the payload is encrypted
///                 (AES-256-GCM; only with bit 1)
///         10    2 reserved, 0
///         12    4 payload length: bytes of the payload (before the tag)
///         16    4 raw length: protobuf bytes once decrypted and decompressed
///         20    4 CRC32C of header bytes 0..<20, the stamp and the payload
///
/// A signed frame of version 2 has a 20-byte stamp after the header: the sender's Unix time in milliseconds
/// (8 bytes) and a random nonce (12 bytes). Receivers refuse a stamp they have seen or one outside their
/// time window. After the payload comes the tag: 32 bytes of HMAC-SHA256 over header, stamp and payload
/// (with the MAC key derived from the cluster key), or for an encrypted frame the 16-byte AES-GCM tag, whose
/// additional data are header bytes 0..<20 and the stamp. Version 1 frames have no stamp; their HMAC uses the
/// cluster key itself, over header and payload.
public struct FrameHeader: Sendable, Equatable {
    public static let magic: [UInt8] = Array("RPPF".utf8)
    public static let size = 24
    public static let macSize = 32
    /// Bytes of the AES-GCM tag of an encrypted frame.
    public static let sealTagSize = 16
    public static let currentVersion: UInt16 = 2
    /// Wire versions this build decodes.
    public static let supportedVersions: [UInt32] = [1, 2]

    public struct Flags: OptionSet, Sendable, Equatable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let compressed = Flags(rawValue: 1 << 0)
        public static let authenticated = Flags(rawValue: 1 << 1)
        public static let encrypted = Flags(rawValue: 1 << 2)
        public static let known: Flags = [.compressed, .authenticated, .encrypted]
    }

    public var version: UInt16
    public var kind: MessageKind
    public var flags: Flags
    public var payloadLength: UInt32
    public var rawLength: UInt32
    public var checksum: UInt32
    /// The time stamp and nonce of a signed version-2 frame; nil otherwise.
    public var stamp: FrameStamp? = nil

    /// Bytes before the payload: the header and, when present, the stamp.
    public var prefixLength: Int { Self.size + (stamp == nil ? 0 : FrameStamp.size) }

    /// Bytes of the tag after the payload.
    public var tagLength: Int {
        flags.contains(.encrypted) ? Self.sealTagSize : flags.contains(.authenticated) ? Self.macSize : 0
    }

    /// Bytes of the whole frame this header describes.
    public var frameLength: Int { prefixLength + Int(payloadLength) + tagLength }

    /// Writes the header and the stamp; the checksum field is written as given.
    func write(to p: UnsafeMutableRawBufferPointer) {
        for i in 0..<4 { p[i] = Self.magic[i] }
        p.storeBytes(of: version.littleEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: kind.rawValue.littleEndian, toByteOffset: 6, as: UInt16.self)
        p.storeBytes(of: flags.rawValue.littleEndian, toByteOffset: 8, as: UInt16.self)
        p.storeBytes(of: UInt16(0), toByteOffset: 10, as: UInt16.self)
        p.storeBytes(of: payloadLength.littleEndian, toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: rawLength.littleEndian, toByteOffset: 16, as: UInt32.self)
        p.storeBytes(of: checksum.littleEndian, toByteOffset: 20, as: UInt32.self)
        stamp?.write(to: UnsafeMutableRawBufferPointer(rebasing: p[Self.size...]))
    }

    /// Parses and checks a header (and stamp): magic, version, kind, flags, sizes against `limits`.
    static func read(_ p: UnsafeRawBufferPointer, limits: FrameLimits) throws(FrameError) -> FrameHeader {
        guard p.count >= size else {
            throw FrameError(.truncatedHeader, "\(p.count) bytes; a frame starts with a \(size)-byte header")
        }
        guard p[0] == magic[0], p[1] == magic[1], p[2] == magic[2], p[3] == magic[3] else {
            let found = (0..<4).map { String(format2: p[$0]) }.joined(separator: " ")
            throw FrameError(.badMagic, "starts with \(found), expected 52 50 50 46 (\"RPPF\"): not an rpp frame")
        }
        let version = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        guard supportedVersions.contains(UInt32(version)) else {
            throw FrameError(
                .unsupportedVersion,
                "version \(version); this build understands \(supportedVersions.map(String.init).joined(separator: ", "))"
                    + ": run the same rpp version on every host")
        }
        let rawKind = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        guard let kind = MessageKind(rawValue: rawKind) else {
            throw FrameError(.unknownKind, "kind \(rawKind) is not a message of wire version \(version)")
        }
        let flags = Flags(rawValue: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
        let reserved = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        let known: Flags = version == 1 ? [.compressed, .authenticated] : .known
        guard flags.subtracting(known).isEmpty, reserved == 0 else {
            throw FrameError(
                .unknownFlags,
                "flags 0x\(String(flags.rawValue, radix: 16)), reserved \(reserved): "
                    + "wire version \(version) knows only compressed (0x1), authenticated (0x2)"
                    + (version == 1 ? "" : " and encrypted (0x4)"))
        }
        if flags.contains(.encrypted), !flags.contains(.authenticated) {
            throw FrameError(
                .invariant,
                "flags 0x\(String(flags.rawValue, radix: 16)): an encrypted frame must also "
                    + "carry the authenticated flag")
        }
        let payloadLength = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        let rawLength = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        guard Int(payloadLength) <= limits.maxPayloadBytes else {
            throw FrameError(
                .tooLarge, "payload of \(payloadLength) bytes is over the cap of \(limits.maxPayloadBytes)")
        }
        guard Int(rawLength) <= limits.maxRawBytes else {
            throw FrameError(
                .tooLarge, "payload claims \(rawLength) bytes decompressed, over the cap of \(limits.maxRawBytes)")
        }
        if !flags.contains(.compressed), payloadLength != rawLength {
            throw FrameError(.invariant, "uncompressed payload of \(payloadLength) bytes but raw length \(rawLength)")
        }
        let checksum = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
        var stamp: FrameStamp?
        if version >= 2, flags.contains(.authenticated) {
            guard p.count >= size + FrameStamp.size else {
                throw FrameError(
                    .truncatedHeader,
                    "\(p.count) bytes; a signed frame starts with a \(size)-byte header "
                        + "and a \(FrameStamp.size)-byte stamp")
            }
            stamp = FrameStamp(reading: UnsafeRawBufferPointer(rebasing: p[size..<(size + FrameStamp.size)]))
        }
        return FrameHeader(
            version: version, kind: kind, flags: flags, payloadLength: payloadLength,
            rawLength: rawLength, checksum: checksum, stamp: stamp)
    }
}

extension String {
    init(format2 byte: UInt8) {
        let hex = String(byte, radix: 16)
        self = hex.count == 1 ? "0" + hex : hex
    }
}
