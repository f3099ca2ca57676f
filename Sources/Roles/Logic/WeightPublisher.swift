// WeightPublisher (learner): cuts one policy version's flat float32 parameter buffer into an announcement
// (sizes, layout, SHA-256 of the little-endian bytes) and 1-D chunks of `chunkElements` floats. The default,
// 262,144 floats (1 MiB), is where the wire benchmark measured framed throughput at 90% of raw nanomsg.

import Crypto
import Foundation
import Wire

/// SHA-256 digests of parameter buffers.
public enum WeightDigest {
    /// SHA-256 of the little-endian bytes of `values` (the host is little-endian on every supported platform).
    public static func sha256(_ values: [Float]) -> [UInt8] {
        values.withUnsafeBytes { raw in
            var hasher = SHA256()
            hasher.update(bufferPointer: raw)
            return Array(hasher.finalize())
        }
    }

    /// Lower-case hex of a digest, as logs, indexes and `rpp replay` print it.
    public static func hex(_ digest: [UInt8]) -> String { digest.map { String(format: "%02x", $0) }.joined() }
}

/// One policy version ready to broadcast: its announcement, then its chunks in any order.
public struct WeightPublication: Sendable {
    /// The announcement workers need before they can verify the chunks.
    public let announcement: WeightAnnouncement
    private let parameters: [Float]

    /// Chunk `index` (0..<chunkCount).
    public func chunk(_ index: Int) -> WeightChunk {
        let a = announcement
        precondition(index >= 0 && index < a.chunkCount, "chunk index \(index) outside 0..<\(a.chunkCount)")
        let offset = index * a.chunkElements, count = min(a.chunkElements, a.elementCount - offset)
        return WeightChunk(policyVersion: a.policyVersion, index: index, count: count, offset: offset,
                           data: DenseTensor(floats: Array(parameters[offset..<(offset + count)])))
    }

    /// Every chunk in index order.
    public var chunks: [WeightChunk] { (0..<announcement.chunkCount).map(chunk) }

    init(announcement: WeightAnnouncement, parameters: [Float]) {
        self.announcement = announcement; self.parameters = parameters
    }
}

/// Builds weight publications.
public enum WeightPublisher {
    /// 262,144 floats = 1 MiB per chunk.
    public static let defaultChunkElements = 262_144

    /// The announcement and chunks of `parameters` as policy `version`.
    public static func publish(version: UInt64, parameters: [Float], layout: [TensorSpan] = [],
                               chunkElements: Int = defaultChunkElements) throws(RolesError) -> WeightPublication {
        guard chunkElements >= 1 else { throw RolesError(.invalidConfig, "chunk size is \(chunkElements) floats; it must be at least 1") }
        guard !parameters.isEmpty else { throw RolesError(.invalidWeights, "policy version \(version) has no parameters") }
        for span in layout {
            let n = span.shape.reduce(1, *)
            guard span.offset >= 0, n >= 0, span.offset + n <= parameters.count else {
                throw RolesError(.invalidWeights, "tensor \(span.name) (\(n) floats at \(span.offset)) lies outside the \(parameters.count) parameters")
            }
        }
        let chunkCount = (parameters.count + chunkElements - 1) / chunkElements
        let a = WeightAnnouncement(policyVersion: version, dtype: .float32, elementCount: parameters.count,
                                   chunkCount: chunkCount, chunkElements: chunkElements,
                                   sha256: WeightDigest.sha256(parameters), layout: layout)
        return WeightPublication(announcement: a, parameters: parameters)
    }
}
