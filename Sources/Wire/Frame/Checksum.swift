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

/// Copies `source` to `destination` and returns the CRC32C of the bytes (continuing from `crc`), in one pass.
/// `streaming` writes the destination past the cache (non-temporal stores): faster for a destination larger than
/// the cache that is not read again at once, such as a weight buffer being filled chunk by chunk.
public func crc32c(
    copying source: UnsafeRawBufferPointer, to destination: UnsafeMutableRawPointer, continuing crc: UInt32 = 0,
    streaming: Bool = false
) -> UInt32 {
    guard let base = source.baseAddress, source.count > 0 else { return crc }
    return streaming
        ? rpp_crc32c_copy_streaming(crc, destination, base, source.count)
        : rpp_crc32c_copy(crc, destination, base, source.count)
}

/// The CRC32C of A followed by B, from `first` = CRC32C(A), `second` = CRC32C(B) and B's length in bytes.
public func crc32cCombine(_ first: UInt32, _ second: UInt32, secondLength: Int) -> UInt32 {
    rpp_crc32c_combine(first, second, secondLength)
}
