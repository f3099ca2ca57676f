import Foundation

extension DType {
    init(wire: Rpp_V1_DType, field: String) throws(FrameError) {
        switch wire {
        case .float32: self = .float32
        case .float64: self = .float64
        case .float16: self = .float16
        case .bfloat16: self = .bfloat16
        case .int32: self = .int32
        case .int64: self = .int64
        case .uint8: self = .uint8
        case .unspecified: throw .invariant(field, "dtype is unspecified")
        case .UNRECOGNIZED(let raw): throw .invariant(field, "unknown dtype \(raw)")
        }
    }

    var wire: Rpp_V1_DType {
        switch self {
        case .float32: .float32
        case .float64: .float64
        case .float16: .float16
        case .bfloat16: .bfloat16
        case .int32: .int32
        case .int64: .int64
        case .uint8: .uint8
        }
    }
}

/// Tensors larger than this many elements are refused before anything is allocated.
let maxTensorElements = 1 << 31

extension DenseTensor {
    /// Tensors smaller than this are sent unfiltered: the filter cannot pay for itself (the frame still
    /// compresses the payload as a whole).
    static let shuffleMinimumBytes = 4096

    /// Byte-shuffle when that makes the bytes compress better and well enough for the frame to compress
    /// them (`rpp bench wire` measures both); random float mantissas gain too little to be worth a pass.
    var shouldShuffle: Bool {
        guard dtype.size > 1, bytes.count >= Self.shuffleMinimumBytes else { return false }
        return bytes.withUnsafeBytes { p in
            let shuffled = Compressibility.estimatedShuffledRatio(p, width: dtype.size)
            return shuffled >= Compressibility.worthwhileRatio && shuffled > Compressibility.estimatedRatio(p) * 1.05
        }
    }

    /// Checks the invariant (bytes = dtype size × product(shape)) and undoes the filter. The sparse form is taken
    /// only where `sparse` allows it (weight chunks), and then for at most `Sparse.maxDenseBytes`.
    init(wire: Rpp_V1_Tensor, field: String, sparse: Bool = false) throws(FrameError) {
        let dtype = try DType(wire: wire.dtype, field: field)
        var elements = 1
        for (axis, dim) in wire.shape.enumerated() {
            guard dim >= 0 else { throw .invariant(field, "shape[\(axis)] is negative (\(dim))") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int(dim))
            guard !overflow, product <= maxTensorElements else {
                throw .invariant(field, "shape \(wire.shape) has more than \(maxTensorElements) elements")
            }
            elements = product
        }
        if wire.filter == .sparse {
            guard sparse else { throw .invariant(field, "the sparse filter is only used for weight deltas") }
            let checked = wire.data.withUnsafeBytes { p in
                Result { () throws(FrameError) in try Sparse.check(p, count: elements, dtype: dtype, field: field) }
            }
            try checked.get()
        } else if wire.data.count != elements * dtype.size {
            throw .invariant(
                field,
                "\(wire.data.count) data bytes but \(dtype.rawValue) × shape \(wire.shape) "
                    + "needs \(elements * dtype.size)")
        }
        let raw: Data
        switch wire.filter {
        case .none: raw = wire.data
        case .byteShuffle: raw = Data(wire.data.withUnsafeBytes { ByteShuffle.unshuffle($0, width: dtype.size) })
        case .sparse: raw = Data(wire.data.withUnsafeBytes { Sparse.unpack($0, count: elements, width: dtype.size) })
        case .UNRECOGNIZED(let f): throw .invariant(field, "unknown filter \(f)")
        }
        self.init(dtype: dtype, shape: wire.shape.map { Int($0) }, bytes: raw)
    }

    var wire: Rpp_V1_Tensor { wire(sparse: false) }

    /// The wire form; with `sparse`, the sparse form when it is at most half the bytes (an XOR delta of weights),
    /// else as without.
    func wire(sparse: Bool) -> Rpp_V1_Tensor {
        var t = Rpp_V1_Tensor()
        t.dtype = dtype.wire
        t.shape = shape.map { Int64($0) }
        if sparse, bytes.count >= Self.shuffleMinimumBytes,
            let packed = bytes.withUnsafeBytes({ Sparse.packIfHalved($0, width: dtype.size) })
        {
            t.filter = .sparse
            t.data = Data(packed)
        } else if shouldShuffle {
            t.filter = .byteShuffle
            t.data = Data(bytes.withUnsafeBytes { ByteShuffle.shuffle($0, width: dtype.size) })
        } else {
            t.data = bytes
        }
        return t
    }

    /// A float32 vector field with a known length.
    static func floats(wire: Rpp_V1_Tensor, field: String, count: Int) throws(FrameError) -> [Float] {
        let tensor = try DenseTensor(wire: wire, field: field)
        guard tensor.dtype == .float32 else {
            throw .invariant(field, "dtype is \(tensor.dtype.rawValue), expected float32")
        }
        guard tensor.shape == [count] else {
            throw .invariant(field, "shape \(tensor.shape), expected [\(count)]")
        }
        return tensor.floats!
    }
}
