/// One named view into the flat parameter buffer.
public struct TensorSpan: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var offset: Int

    public init(name: String, shape: [Int], offset: Int) {
        self.name = name
        self.shape = shape
        self.offset = offset
    }
}

/// Announces a new policy version; its chunks follow.
public struct WeightAnnouncement: Sendable, Equatable {
    public var policyVersion: UInt64
    public var dtype: DType
    public var elementCount: Int
    public var chunkCount: Int
    public var chunkElements: Int
    /// CRC32C of each chunk's little-endian bytes of this version (the values, never a delta), in chunk order;
    /// a worker checks every chunk against it as it stores the chunk.
    public var chunkChecksums: [UInt32]
    public var layout: [TensorSpan]
    /// 0 for a full copy; otherwise the chunks carry the XOR of this version's bytes with those of this version.
    public var baseVersion: UInt64
    /// The `digest` of the base version (0 for a full copy).
    public var baseDigest: UInt32
    /// A worker sends a `WeightProgress` after every this many chunks it takes of this send (0: none). Set by the
    /// broadcaster for each send, from its window.
    public var receiptEvery: Int = 0
    /// The /proc/PID/fd/N path of a shared-memory file holding this version's bytes (a full copy), for rollout
    /// workers on the learner's machine: no chunks follow on the socket. Empty: the chunks do.
    public var sharedBuffer: String = ""

    public init(
        policyVersion: UInt64, dtype: DType, elementCount: Int, chunkCount: Int, chunkElements: Int,
        chunkChecksums: [UInt32], layout: [TensorSpan], baseVersion: UInt64 = 0, baseDigest: UInt32 = 0
    ) {
        self.policyVersion = policyVersion
        self.dtype = dtype
        self.elementCount = elementCount
        self.chunkCount = chunkCount
        self.chunkElements = chunkElements
        self.chunkChecksums = chunkChecksums
        self.layout = layout
        self.baseVersion = baseVersion
        self.baseDigest = baseDigest
    }

    /// The version's digest: the CRC32C of `chunkChecksums` as little-endian bytes. Two versions with the same
    /// chunks and the same digest hold the same bytes (up to the odds of a 32-bit checksum per chunk).
    public var digest: UInt32 { Self.digest(chunkChecksums) }

    /// The CRC32C of `checksums` as little-endian bytes.
    public static func digest(_ checksums: [UInt32]) -> UInt32 {
        checksums.map(\.littleEndian).withUnsafeBytes { crc32c($0) }
    }

    /// True when the chunks carry an XOR delta against `baseVersion`.
    public var isDelta: Bool { baseVersion != 0 }

    /// The first element of chunk `index` (0..<chunkCount) and how many it holds.
    public func span(_ index: Int) -> (offset: Int, count: Int) {
        let offset = index * chunkElements
        return (offset, min(chunkElements, elementCount - offset))
    }

    /// Bytes of the whole version in its element type.
    public var byteCount: Int { elementCount * dtype.size }
}

/// A 1-D slice of the flat parameter buffer of one policy version.
public struct WeightChunk: Sendable, Equatable {
    public var policyVersion: UInt64
    /// The chunk's place among the version's chunks (0..<chunkCount of its announcement).
    public var index: Int
    /// Elements in this chunk.
    public var count: Int
    /// First element of this chunk in the flat buffer.
    public var offset: Int
    public var data: DenseTensor
    /// The announcement's base version: 0 when `data` is the buffer itself, else an XOR delta against it.
    public var baseVersion: UInt64

    public init(
        policyVersion: UInt64, index: Int, count: Int, offset: Int, data: DenseTensor,
        baseVersion: UInt64 = 0
    ) {
        self.policyVersion = policyVersion
        self.index = index
        self.count = count
        self.offset = offset
        self.data = data
        self.baseVersion = baseVersion
    }
}

/// A worker's receipt on the broadcast socket: how far it has taken a send of `policyVersion` off its connection. The learner sends on only while every worker it hears from is within a window of the newest chunk.
public struct WeightProgress: Sendable, Equatable {
    /// The worker's name, for the learner's log.
    public var workerID: String
    /// Random for each receiving socket: tells apart two workers of the same name.
    public var receiverID: UInt64
    public var policyVersion: UInt64
    /// The index of the chunk just taken, plus one; 0 when the announcement was taken.
    public var next: Int

    /// Longest worker name a receipt may carry.
    public static let maxWorkerIDBytes = 256

    public init(workerID: String, receiverID: UInt64, policyVersion: UInt64, next: Int) {
        self.workerID = workerID
        self.receiverID = receiverID
        self.policyVersion = policyVersion
        self.next = next
    }
}
