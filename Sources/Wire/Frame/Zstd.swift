import CZstd

/// zstd compression of whole buffers, with bounded output on decompression.
public enum Zstd {
    /// Compresses `input` at `level` (negative levels are zstd's fast modes).
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            ZSTD_compress(dst.baseAddress, bound, input.baseAddress, input.count, level)
        }
        // Compression into a buffer of compressBound size cannot fail for valid levels.
        precondition(ZSTD_isError(written) == 0, "zstd compress failed: \(errorName(written))")
        out.removeSubrange(written...)
        return out
    }

    /// Decompresses `input`, which must expand to exactly `expectedSize` bytes.
    /// Never allocates more than `expectedSize` (checked against the caller's cap beforehand).
    public static func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws(FrameError) -> [UInt8] {
        let declared = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        // ZSTD_CONTENTSIZE_ERROR is (0ULL - 2), ZSTD_CONTENTSIZE_UNKNOWN is (0ULL - 1).
        if declared == UInt64.max - 1 {
            throw FrameError(.corruptCompression, "payload is not a zstd frame (flags say it is compressed)")
        }
        if declared != UInt64.max, declared != UInt64(expectedSize) {
            throw FrameError(.corruptCompression,
                             "zstd frame declares \(declared) bytes but the header says \(expectedSize)")
        }
        var failure: FrameError?
        let out = [UInt8](unsafeUninitializedCapacity: max(expectedSize, 1)) { dst, initialized in
            let got = ZSTD_decompress(dst.baseAddress, expectedSize, input.baseAddress, input.count)
            if ZSTD_isError(got) != 0 {
                failure = FrameError(.corruptCompression, "zstd: \(errorName(got))")
            } else if got != expectedSize {
                failure = FrameError(.corruptCompression,
                                     "zstd data expands to \(got) bytes, the header says \(expectedSize)")
            }
            initialized = failure == nil ? expectedSize : 0
        }
        if let failure { throw failure }
        return out
    }

    static func errorName(_ code: Int) -> String {
        String(cString: ZSTD_getErrorName(code))
    }
}
