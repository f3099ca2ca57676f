// AES-256-GCM of encrypted frames: the payload (after compression) is the ciphertext, the frame's stamp
// nonce is the GCM nonce, and header bytes 0..<20 with the stamp are the additional authenticated data.
import Crypto
import Foundation

extension FrameCodec {
    /// Header bytes 0..<20 and the stamp: everything before the payload except the checksum field.
    static func additionalData(_ prefix: [UInt8]) -> [UInt8] {
        Array(prefix[0..<20]) + Array(prefix[FrameHeader.size...])
    }

    static func additionalData(_ prefix: UnsafeRawBufferPointer) -> [UInt8] {
        Array(prefix[0..<20]) + Array(prefix[FrameHeader.size...])
    }

    /// Ciphertext and tag of `plain`.
    static func encrypt(
        _ plain: [UInt8], key: ClusterKey, nonce: FrameStamp.Nonce,
        additional: [UInt8]
    ) -> (ciphertext: [UInt8], tag: [UInt8]) {
        do {
            let box = try AES.GCM.seal(
                plain, using: key.encryptionKey, nonce: try AES.GCM.Nonce(data: nonce.bytes),
                authenticating: additional)
            return (Array(box.ciphertext), Array(box.tag))
        } catch {
            preconditionFailure("AES-GCM refused a 12-byte nonce and a 256-bit key: \(error)")
        }
    }

    /// The plaintext of an encrypted payload, or `badMAC` when the tag does not verify.
    static func decrypt(
        _ ciphertext: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer, key: ClusterKey,
        header: FrameHeader, additional: [UInt8]
    ) throws(FrameError) -> [UInt8] {
        guard let stamp = header.stamp else {
            throw FrameError(.invariant, "an encrypted frame of wire version \(header.version) has no stamp")
        }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: try AES.GCM.Nonce(data: stamp.nonce.bytes), ciphertext: ciphertext,
                tag: tag)
            return Array(try AES.GCM.open(box, using: key.encryptionKey, authenticating: additional))
        } catch {
            throw FrameError(
                .badMAC,
                "AES-GCM tag does not match cluster key \(key.fingerprint): the sender uses "
                    + "another key, or the frame was forged")
        }
    }
}
