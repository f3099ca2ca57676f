// WeightPublisher (learner): cuts one policy version's flat parameter buffer, in the broadcast precision (float32
// or bfloat16), into an announcement (sizes, layout, the checksum of every chunk) and 1-D chunks of
// `chunkElements` elements, each with its CRC32C; optionally as an XOR delta against the previous publication.

import Crypto
import Foundation
import Wire

/// SHA-256 digests of parameter buffers, for logs, checkpoints and recordings (the broadcast checks a CRC32C per
/// chunk instead).
public enum WeightDigest {
    /// SHA-256 of the little-endian bytes of `values` (the host is little-endian on every supported platform).
    public static func sha256(_ values: [Float]) -> [UInt8] { values.withUnsafeBytes { sha256($0) } }

    /// SHA-256 of `bytes`.
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bufferPointer: bytes)
        return Array(hasher.finalize())
    }

    /// Lower-case hex of a digest, as logs, indexes and `rpp replay` print it.
    public static func hex(_ digest: [UInt8]) -> String { digest.map { String(format: "%02x", $0) }.joined() }
}

/// One policy version ready to broadcast: its announcement, then its chunks in any order.
public struct WeightPublication: Sendable {
    /// The announcement workers need before they can verify the chunks.
    public let announcement: WeightAnnouncement
    /// The version's buffer in the broadcast precision.
    public let values: WeightValues
    /// With a delta announcement: the base version's buffer, XORed with `values` a chunk at a time as chunks are
    /// sent (a publication held past the next publish keeps this buffer from being written over, so the next
    /// version is then written into a new one).
    let base: WeightValues?

    /// Elements and bytes of chunk `index` (0..<chunkCount).
    public func span(_ index: Int) -> (offset: Int, count: Int) {
        let a = announcement
        precondition(index >= 0 && index < a.chunkCount, "chunk index \(index) outside 0..<\(a.chunkCount)")
        return a.span(index)
    }

    /// The bytes chunk `index` carries: the values in place, or their XOR with the base version's (`deltaBytes`).
    public func withChunkBytes<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if base != nil { return try deltaBytes(index).withUnsafeBytes(body) }
        let range = byteRange(index)
        return try values.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// The XOR of chunk `index`'s values with the base version's, made for the call; only for a delta.
    func deltaBytes(_ index: Int) -> [UInt8] {
        guard let base else { preconditionFailure("chunk \(index) of a full copy has no delta") }
        let range = byteRange(index)
        return values.withUnsafeBytes { v in
            base.withUnsafeBytes { b in
                [UInt8](unsafeUninitializedCapacity: range.count) { out, n in
                    ByteXor.xor(
                        into: out.baseAddress!, v.baseAddress! + range.lowerBound, b.baseAddress! + range.lowerBound,
                        count: range.count)
                    n = range.count
                }
            }
        }
    }

    private func byteRange(_ index: Int) -> Range<Int> {
        let (offset, count) = span(index)
        let size = announcement.dtype.size
        return (offset * size)..<((offset + count) * size)
    }

    /// Chunk `index` as a message (a copy of its bytes).
    public func chunk(_ index: Int) -> WeightChunk {
        let (offset, count) = span(index)
        let bytes = withChunkBytes(index) { Data($0) }
        return WeightChunk(
            policyVersion: announcement.policyVersion, index: index, count: count, offset: offset,
            data: DenseTensor(dtype: announcement.dtype, shape: [count], bytes: bytes),
            baseVersion: announcement.baseVersion)
    }

    /// SHA-256 of the version's bytes in the broadcast precision (a pass over the whole buffer; for logs).
    public var sha256: [UInt8] { values.withUnsafeBytes { WeightDigest.sha256($0) } }

    /// Every chunk in index order.
    public var chunks: [WeightChunk] { (0..<announcement.chunkCount).map(chunk) }

    /// The same version as a full copy (for workers that do not hold the delta's base).
    public var full: WeightPublication {
        guard base != nil else { return self }
        var a = announcement
        a.baseVersion = 0
        a.baseDigest = 0
        return WeightPublication(announcement: a, values: values, base: nil)
    }

    init(announcement: WeightAnnouncement, values: WeightValues, base: WeightValues? = nil) {
        self.announcement = announcement
        self.values = values
        self.base = base
    }
}

/// Builds weight publications.
public enum WeightPublisher {
    /// 262,144 elements per chunk (1 MiB of float32).
    public static let defaultChunkElements = 262_144

    /// The announcement and chunks of `parameters` as policy `version`, in `precision` (bf16: rounded to nearest
    /// even; the checksums are of what is sent). With `base`, a publication of an earlier version in the same
    /// precision and shape, the chunks carry the XOR of the two versions' bytes (`full` turns it back into a copy).
    public static func publish(
        version: UInt64, parameters: [Float], layout: [TensorSpan] = [],
        chunkElements: Int = defaultChunkElements, precision: WeightPrecision = .fp32,
        base: WeightPublication? = nil
    ) throws(RolesError) -> WeightPublication {
        try parameters.withUnsafeBufferPointer { (p) throws(RolesError) in
            try publish(
                version: version, copying: p, layout: layout, chunkElements: chunkElements, precision: precision,
                base: base)
        }
    }

    /// `publish(version:parameters:...)` of a parameter buffer, copied (or rounded to bf16) and checksummed once,
    /// one chunk at a time on every core, into `spare` when it fits and nothing else holds it.
    public static func publish(
        version: UInt64, copying parameters: UnsafeBufferPointer<Float>,
        layout: [TensorSpan] = [], chunkElements: Int = defaultChunkElements,
        precision: WeightPrecision = .fp32,
        base: WeightPublication? = nil, reusing spare: consuming WeightValues? = nil
    ) throws(RolesError) -> WeightPublication {
        guard chunkElements >= 1 else {
            throw RolesError(.invalidConfig, "chunk size is \(chunkElements) floats; it must be at least 1")
        }
        let (values, checksums) = WeightValues.chunked(
            copying: parameters, precision: precision, chunkElements: chunkElements, reusing: spare)
        return try publish(
            version: version, values: values, checksums: checksums, layout: layout, chunkElements: chunkElements,
            base: base)
    }

    /// The publication of `values` (already in the precision they go out in, `checksums` their chunks' CRC32C) as
    /// policy `version`.
    static func publish(
        version: UInt64, values: WeightValues, checksums: [UInt32], layout: [TensorSpan], chunkElements: Int,
        base: WeightPublication?
    ) throws(RolesError) -> WeightPublication {
        let count = values.count
        let precision = values.precision
        guard count > 0 else { throw RolesError(.invalidWeights, "policy version \(version) has no parameters") }
        for span in layout {
            let n = span.shape.reduce(1, *)
            guard span.offset >= 0, n >= 0, span.offset + n <= count else {
                throw RolesError(
                    .invalidWeights,
                    "tensor \(span.name) (\(n) floats at \(span.offset)) lies outside the \(count) parameters")
            }
        }
        let chunkCount = (count + chunkElements - 1) / chunkElements
        var a = WeightAnnouncement(
            policyVersion: version, dtype: precision.dtype, elementCount: count,
            chunkCount: chunkCount, chunkElements: chunkElements,
            chunkChecksums: checksums, layout: layout)
        guard let base else { return WeightPublication(announcement: a, values: values) }
        let b = base.announcement
        guard b.policyVersion > 0 else {
            throw RolesError(
                .invalidWeights, "version 0 cannot be a delta base (a base version of 0 means a full copy)")
        }
        guard b.policyVersion < version, b.dtype == a.dtype, b.elementCount == a.elementCount,
            b.chunkElements == a.chunkElements
        else {
            throw RolesError(
                .invalidWeights,
                "version \(b.policyVersion) (\(b.dtype.rawValue), \(b.elementCount) elements in "
                    + "chunks of \(b.chunkElements)) cannot be the delta base of version \(version) "
                    + "(\(a.dtype.rawValue), \(a.elementCount) in chunks of \(a.chunkElements))")
        }
        a.baseVersion = b.policyVersion
        a.baseDigest = b.digest
        return WeightPublication(announcement: a, values: values, base: base.values)
    }
}
