import CSupport

/// CRC-32C (Castagnoli), as TFRecord framing uses: CSupport's `rpp_crc32c`, the same code that checks
/// frames on the wire.
public enum CRC32C {
    /// The CRC-32C of `bytes`.
    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        let crc = bytes.withContiguousStorageIfAvailable { checksum(UnsafeRawBufferPointer($0)) }
        return crc ?? Array(bytes).withUnsafeBytes { checksum($0) }
    }

    /// TFRecord's masked CRC: `((crc >> 15) | (crc << 17)) + 0xa282ead8` (wrapping).
    public static func masked<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    private static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        return rpp_crc32c(0, base, bytes.count)
    }
}
