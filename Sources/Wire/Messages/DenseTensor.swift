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

    /// Whether byte-shuffling helps zstd for this type (floats: exponent bytes group together).
    public var isFloat: Bool { self == .float32 || self == .float64 || self == .float16 || self == .bfloat16 }
}

/// A dense tensor as it travels: dtype + shape + little-endian row-major bytes.
public struct DenseTensor: Sendable, Equatable {
    public var dtype: DType
    public var shape: [Int]
    public var bytes: [UInt8]

    public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// A float32 tensor; 1-D of `values.count` unless `shape` is given.
    public init(floats values: [Float], shape: [Int]? = nil) {
        self.dtype = .float32
        self.shape = shape ?? [values.count]
        self.bytes = values.withUnsafeBytes { Array($0) }   // little-endian on every supported host
    }

    /// Elements the shape describes.
    public var elementCount: Int { shape.reduce(1, *) }

    /// The float32 values; nil for any other dtype.
    public var floats: [Float]? {
        guard dtype == .float32 else { return nil }
        let count = bytes.count / 4
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBytes { src in
                _ = memcpyBytes(UnsafeMutableRawPointer(out.baseAddress!), src.baseAddress!, count * 4)
            }
            initialized = count
        }
    }
}

@inline(__always)
func memcpyBytes(_ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, _ count: Int) -> UnsafeMutableRawPointer {
    if count > 0 { dst.copyMemory(from: src, byteCount: count) }
    return dst
}
