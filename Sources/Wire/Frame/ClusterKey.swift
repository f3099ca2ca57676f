import Crypto
import Foundation

/// The shared secret of a cluster. Version 2 frames use two keys derived from it with HKDF-SHA256: one for
/// HMAC-SHA256 tags of signed frames, one for AES-256-GCM of encrypted frames; version 1 tags used the secret
/// itself.
///
/// The key file holds at least 32 bytes of secret: either 64 or more hex digits on one line
/// (as `openssl rand -hex 32` writes it) or raw bytes.
public struct ClusterKey: Sendable {
    /// The secret as read (tags of version 1 frames).
    let key: SymmetricKey
    /// HMAC-SHA256 key of version 2 signed frames.
    let macKey: SymmetricKey
    /// AES-256-GCM key of encrypted frames.
    let encryptionKey: SymmetricKey
    /// The first 8 hex digits of SHA-256 of the key: safe to log, tells two keys apart.
    public let fingerprint: String

    public static let minimumBytes = 32

    public init(bytes: [UInt8]) throws(ClusterKeyError) {
        guard bytes.count >= Self.minimumBytes else {
            throw ClusterKeyError(
                "cluster key has \(bytes.count) bytes; it needs at least \(Self.minimumBytes) "
                    + "(make one with `openssl rand -hex 32 > cluster.key`)")
        }
        key = SymmetricKey(data: bytes)
        let salt = Array("rpp cluster key".utf8)
        macKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, salt: salt, info: Array("rpp frame mac v2".utf8),
            outputByteCount: 32)
        encryptionKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, salt: salt,
            info: Array("rpp frame encryption v2".utf8), outputByteCount: 32)
        fingerprint = SHA256.hash(data: bytes).prefix(4).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads a key file: hex text (whitespace ignored) or raw bytes.
    public init(file path: String) throws(ClusterKeyError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClusterKeyError("cannot read cluster key file \(path): check the path and its permissions")
        }
        let bytes = [UInt8](data)
        let text = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
        if text.count >= 2 * Self.minimumBytes, text.count % 2 == 0, text.allSatisfy(\.isHexDigit) {
            var decoded: [UInt8] = []
            decoded.reserveCapacity(text.count / 2)
            var index = text.startIndex
            while index < text.endIndex {
                let next = text.index(index, offsetBy: 2)
                decoded.append(UInt8(text[index..<next], radix: 16)!)
                index = next
            }
            try self.init(bytes: decoded)
        } else {
            do { try self.init(bytes: bytes) } catch {
                throw ClusterKeyError("cluster key file \(path): \(error.message)")
            }
        }
    }

    /// The HMAC key of frames of wire `version`.
    func macKey(version: UInt16) -> SymmetricKey { version >= 2 ? macKey : key }

    /// HMAC-SHA256 of `parts`, in order, for a frame of wire `version`.
    func tag(version: UInt16, _ parts: UnsafeRawBufferPointer...) -> [UInt8] {
        var mac = HMAC<SHA256>(key: macKey(version: version))
        for part in parts { mac.update(data: part) }
        return Array(mac.finalize())
    }

    /// Constant-time check of a tag over `parts`, for a frame of wire `version`.
    func isValid(tag: UnsafeRawBufferPointer, version: UInt16, _ parts: UnsafeRawBufferPointer...) -> Bool {
        var mac = HMAC<SHA256>(key: macKey(version: version))
        for part in parts { mac.update(data: part) }
        let expected = mac.finalize()
        return expected.withUnsafeBytes { e in
            guard e.count == tag.count else { return false }
            var diff: UInt8 = 0
            for i in 0..<e.count { diff |= e[i] ^ tag[i] }
            return diff == 0
        }
    }
}

/// A cluster key that cannot be used, and why.
public struct ClusterKeyError: Error, CustomStringConvertible, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
