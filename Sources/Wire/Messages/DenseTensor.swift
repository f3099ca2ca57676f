import Foundation

/// Element type of a `DenseTensor`.
public enum DType: String, Sendable, CaseIterable {
    case float32, float64, float16, bfloat16, int32, int64, uint8

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16: 2
        case .uint8: 1
        }
    }

}

/// A dense tensor as it travels: dtype + shape + little-endian row-major bytes.
/// The bytes are `Data` so that they pass to and from protobuf without a copy.
public struct DenseTensor: Sendable, Equatable {
    public var dtype: DType
    public var shape: [Int]
    public var bytes: Data

    public init(dtype: DType, shape: [Int], bytes: Data) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// A float32 tensor; 1-D of `values.count` unless `shape` is given.
    public init(floats values: [Float], shape: [Int]? = nil) {
        self.dtype = .float32
        self.shape = shape ?? [values.count]
        self.bytes = values.withUnsafeBytes { Data($0) }  // little-endian on every supported host
    }

    /// Elements the shape describes.
    public var elementCount: Int { shape.reduce(1, *) }

    /// The float32 values; nil for any other dtype.
    public var floats: [Float]? {
        guard dtype == .float32 else { return nil }
        let count = bytes.count / 4
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBytes { src in
                if count > 0 {
                    UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: src.baseAddress!, byteCount: count * 4)
                }
            }
            initialized = count
        }
    }
}
