/// The fixed 24-byte header that starts every frame (all integers little-endian):
///
///     offset size field
///          0    4 magic "RPPF"
///          4    2 wire version (1)
///          6    2 message kind (MessageKind)
///          8    2 flags: bit 0 payload is zstd-compressed, bit 1 an HMAC-SHA256 tag follows the payload
///         10    2 reserved, 0
///         12    4 payload length: bytes that follow the header (before the tag)
///         16    4 raw length: protobuf bytes once decompressed
///         20    4 CRC32C of header bytes 0..<20 and the payload
///
/// Then the payload, then (flag bit 1) 32 bytes of HMAC-SHA256 over the header and payload.
public struct FrameHeader: Sendable, Equatable {
    public static let magic: [UInt8] = Array("RPPF".utf8)
    public static let size = 24
    public static let macSize = 32
    public static let currentVersion: UInt16 = 1
    /// Wire versions this build decodes.
    public static let supportedVersions: [UInt32] = [1]

    public struct Flags: OptionSet, Sendable, Equatable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let compressed = Flags(rawValue: 1 << 0)
        public static let authenticated = Flags(rawValue: 1 << 1)
        public static let known: Flags = [.compressed, .authenticated]
    }

    public var version: UInt16
    public var kind: MessageKind
    public var flags: Flags
    public var payloadLength: UInt32
    public var rawLength: UInt32
    public var checksum: UInt32

    /// Bytes of the whole frame this header describes.
    public var frameLength: Int {
        Self.size + Int(payloadLength) + (flags.contains(.authenticated) ? Self.macSize : 0)
    }

    /// Writes the header; the checksum field is written as given.
    func write(to p: UnsafeMutableRawBufferPointer) {
        for i in 0..<4 { p[i] = Self.magic[i] }
        p.storeBytes(of: version.littleEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: kind.rawValue.littleEndian, toByteOffset: 6, as: UInt16.self)
        p.storeBytes(of: flags.rawValue.littleEndian, toByteOffset: 8, as: UInt16.self)
        p.storeBytes(of: UInt16(0), toByteOffset: 10, as: UInt16.self)
        p.storeBytes(of: payloadLength.littleEndian, toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: rawLength.littleEndian, toByteOffset: 16, as: UInt32.self)
        p.storeBytes(of: checksum.littleEndian, toByteOffset: 20, as: UInt32.self)
    }

    /// Parses and checks a header: magic, version, kind, flags, sizes against `limits`.
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
            throw FrameError(.unsupportedVersion,
                             "version \(version); this build understands \(supportedVersions.map(String.init).joined(separator: ", "))"
                             + ": run the same rpp version on every host")
        }
        let rawKind = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        guard let kind = MessageKind(rawValue: rawKind) else {
            throw FrameError(.unknownKind, "kind \(rawKind) is not a message of wire version \(version)")
        }
        let flags = Flags(rawValue: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
        let reserved = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        guard flags.subtracting(.known).isEmpty, reserved == 0 else {
            throw FrameError(.unknownFlags, "flags 0x\(String(flags.rawValue, radix: 16)), reserved \(reserved): "
                             + "this build knows only compressed (0x1) and authenticated (0x2)")
        }
        let payloadLength = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        let rawLength = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        guard Int(payloadLength) <= limits.maxPayloadBytes else {
            throw FrameError(.tooLarge, "payload of \(payloadLength) bytes is over the cap of \(limits.maxPayloadBytes)")
        }
        guard Int(rawLength) <= limits.maxRawBytes else {
            throw FrameError(.tooLarge, "payload claims \(rawLength) bytes decompressed, over the cap of \(limits.maxRawBytes)")
        }
        if !flags.contains(.compressed), payloadLength != rawLength {
            throw FrameError(.invariant, "uncompressed payload of \(payloadLength) bytes but raw length \(rawLength)")
        }
        let checksum = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
        return FrameHeader(version: version, kind: kind, flags: flags, payloadLength: payloadLength,
                           rawLength: rawLength, checksum: checksum)
    }
}

extension String {
    init(format2 byte: UInt8) {
        let hex = String(byte, radix: 16)
        self = hex.count == 1 ? "0" + hex : hex
    }
}
