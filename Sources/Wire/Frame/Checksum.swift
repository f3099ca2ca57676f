import CSupport

/// CRC32C (Castagnoli) of bytes, continuing from `crc` (start from 0). Hardware-accelerated on x86-64.
@inlinable
public func crc32c(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
    return rpp_crc32c(crc, base, bytes.count)
}

/// CRC32C of a byte array.
public func crc32c(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
    bytes.withUnsafeBytes { crc32c($0, continuing: crc) }
}
