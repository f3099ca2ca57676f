import CZstd
import Synchronization

/// zstd compression of whole buffers, with bounded output on decompression. Compression and
/// decompression contexts are pooled: creating one costs more than compressing a small message.
public enum Zstd {
    /// Compresses `input` at `level` (negative levels are zstd's fast modes).
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](unsafeUninitializedCapacity: bound) { _, n in n = bound }
        let written = out.withUnsafeMutableBytes { compress(input, into: $0, level: level) }
        // Compression into a buffer of compressBound size cannot fail for valid levels.
        precondition(written != nil, "zstd compress failed")
        out.removeSubrange(written!...)
        return out
    }

    /// Compresses into `output`; nil if it does not fit (or zstd fails).
    static func compress(
        _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
        level: Int32
    ) -> Int? {
        let context = pool.takeCompressor()
        defer { pool.give(compressor: context) }
        let written = ZSTD_compressCCtx(
            context.pointer, output.baseAddress, output.count, input.baseAddress,
            input.count, level)
        return ZSTD_isError(written) == 0 ? written : nil
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
            throw FrameError(
                .corruptCompression,
                "zstd frame declares \(declared) bytes but the header says \(expectedSize)")
        }
        var failure: FrameError?
        let context = pool.takeDecompressor()
        defer { pool.give(decompressor: context) }
        let out = [UInt8](unsafeUninitializedCapacity: max(expectedSize, 1)) { dst, initialized in
            let got = ZSTD_decompressDCtx(
                context.pointer, dst.baseAddress, expectedSize, input.baseAddress, input.count)
            if ZSTD_isError(got) != 0 {
                failure = FrameError(.corruptCompression, "zstd: \(errorName(got))")
            } else if got != expectedSize {
                failure = FrameError(
                    .corruptCompression,
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

    static let pool = ContextPool()
}

/// A zstd context owned by at most one thread at a time.
struct ZstdContext: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Reusable zstd contexts (a few per process: one per thread that compresses at once).
final class ContextPool: Sendable {
    private let compressors = Mutex<[ZstdContext]>([])
    private let decompressors = Mutex<[ZstdContext]>([])
    private let keep = 8

    func takeCompressor() -> ZstdContext {
        compressors.withLock { $0.popLast() } ?? ZstdContext(pointer: ZSTD_createCCtx())
    }

    func give(compressor c: ZstdContext) {
        let kept = compressors.withLock { list -> Bool in
            guard list.count < keep else { return false }
            list.append(c)
            return true
        }
        if !kept { ZSTD_freeCCtx(c.pointer) }
    }

    func takeDecompressor() -> ZstdContext {
        decompressors.withLock { $0.popLast() } ?? ZstdContext(pointer: ZSTD_createDCtx())
    }

    func give(decompressor d: ZstdContext) {
        let kept = decompressors.withLock { list -> Bool in
            guard list.count < keep else { return false }
            list.append(d)
            return true
        }
        if !kept { ZSTD_freeDCtx(d.pointer) }
    }
}
