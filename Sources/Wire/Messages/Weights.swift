/// One named view into the flat parameter buffer.
public struct TensorSpan: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var offset: Int

    public init(name: String, shape: [Int], offset: Int) {
        self.name = name; self.shape = shape; self.offset = offset
    }
}

/// Announces a new policy version; its chunks follow.
public struct WeightAnnouncement: Sendable, Equatable {
    public var policyVersion: UInt64
    public var dtype: DType
    public var elementCount: Int
    public var chunkCount: Int
    public var chunkElements: Int
    /// SHA-256 of the whole little-endian buffer; a worker checks it before it samples.
    public var sha256: [UInt8]
    public var layout: [TensorSpan]

    public init(policyVersion: UInt64, dtype: DType, elementCount: Int, chunkCount: Int, chunkElements: Int,
                sha256: [UInt8], layout: [TensorSpan]) {
        self.policyVersion = policyVersion; self.dtype = dtype; self.elementCount = elementCount
        self.chunkCount = chunkCount; self.chunkElements = chunkElements; self.sha256 = sha256; self.layout = layout
    }
}

/// A 1-D slice of the flat parameter buffer of one policy version.
public struct WeightChunk: Sendable, Equatable {
    public var policyVersion: UInt64
    public var index: Int
    public var count: Int
    /// First element of this chunk in the flat buffer.
    public var offset: Int
    public var data: DenseTensor

    public init(policyVersion: UInt64, index: Int, count: Int, offset: Int, data: DenseTensor) {
        self.policyVersion = policyVersion; self.index = index; self.count = count; self.offset = offset
        self.data = data
    }
}
