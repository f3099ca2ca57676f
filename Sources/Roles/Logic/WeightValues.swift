// WeightValues: a flat parameter buffer in the precision it travels in (float32, or bfloat16 when the rollout
// workers compute in bf16), with byte access for hashing, sending and receiving in place.

import Model
import Wire

/// The precision weights are broadcast in.
public enum WeightPrecision: String, Sendable, CaseIterable {
    /// float32: the learner's master weights as they are.
    case fp32
    /// bfloat16 (round to nearest even): half the bytes, for workers that compute in bf16.
    case bf16

    /// The element type on the wire.
    public var dtype: DType { self == .fp32 ? .float32 : .bfloat16 }

    /// The precision of a wire element type, or nil for a type weights never travel in.
    public init?(dtype: DType) {
        switch dtype {
        case .float32: self = .fp32
        case .bfloat16: self = .bf16
        default: return nil
        }
    }
}

/// A flat parameter buffer: float32 values or bfloat16 bits.
public enum WeightValues: Sendable, Equatable {
    case fp32([Float])
    case bf16([UInt16])

    /// `count` zeros in `precision`.
    public init(zeros count: Int, precision: WeightPrecision) {
        switch precision {
        case .fp32: self = .fp32([Float](repeating: 0, count: count))
        case .bf16: self = .bf16([UInt16](repeating: 0, count: count))
        }
    }

    /// `count` elements in `precision` whose bytes are not set: for a buffer every byte of which is written
    /// before it is read (a version being assembled is exposed only when every chunk is in).
    init(unfilled count: Int, precision: WeightPrecision) {
        switch precision {
        case .fp32: self = .fp32([Float](unsafeUninitializedCapacity: count) { _, n in n = count })
        case .bf16: self = .bf16([UInt16](unsafeUninitializedCapacity: count) { _, n in n = count })
        }
    }

    /// `values` in `precision` (bfloat16: rounded to nearest even).
    public init(_ values: [Float], precision: WeightPrecision) {
        switch precision {
        case .fp32: self = .fp32(values)
        case .bf16: self = .bf16(BFloat16.narrow(values))
        }
    }

    public var precision: WeightPrecision {
        switch self {
        case .fp32: .fp32
        case .bf16: .bf16
        }
    }

    /// Elements.
    public var count: Int {
        switch self {
        case .fp32(let v): v.count
        case .bf16(let v): v.count
        }
    }

    /// Bytes per element.
    public var elementBytes: Int { precision.dtype.size }

    /// The little-endian bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .fp32(let v): try v.withUnsafeBytes(body)
        case .bf16(let v): try v.withUnsafeBytes(body)
        }
    }

    /// The bytes, writable in place (the array is taken out of the enum first, so writing never copies it).
    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .fp32(var v):
            self = .fp32([])
            defer { self = .fp32(v) }
            return try v.withUnsafeMutableBytes(body)
        case .bf16(var v):
            self = .bf16([])
            defer { self = .bf16(v) }
            return try v.withUnsafeMutableBytes(body)
        }
    }

    /// The values as float32 (bfloat16 widened exactly).
    public var floats: [Float] {
        switch self {
        case .fp32(let v): v
        case .bf16(let v): BFloat16.widen(v)
        }
    }

    /// Writes the values as float32 (bfloat16 widened exactly) to `destination`, which holds at least `count`.
    public func copyFloats(into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count >= count, "destination holds \(destination.count) of \(count) values")
        switch self {
        case .fp32(let v):
            v.withUnsafeBufferPointer { s in
                if let b = s.baseAddress { destination.baseAddress!.update(from: b, count: s.count) }
            }
        case .bf16(let v): v.withUnsafeBufferPointer { BFloat16.widen($0, into: destination) }
        }
    }
}

extension WeightValues {
    /// A copy of `values` in `precision` and the CRC32C of each `chunkElements`-element chunk of it, made one
    /// chunk at a time on every core, each chunk checksummed while it is still in cache. The copy is written into
    /// `spare` when it has the same precision and size and nothing else holds it (a buffer this large costs a
    /// page fault per 4 KiB when it is new).
    public static func chunked(
        copying values: UnsafeBufferPointer<Float>, precision: WeightPrecision, chunkElements: Int,
        reusing spare: consuming WeightValues? = nil
    ) -> (values: WeightValues, checksums: [UInt32]) {
        precondition(chunkElements >= 1, "chunks of \(chunkElements) elements")
        let n = values.count
        let chunks = (n + chunkElements - 1) / chunkElements
        var checksums = [UInt32](repeating: 0, count: chunks)
        guard n > 0, let source = values.baseAddress else { return (WeightValues(zeros: 0, precision: precision), []) }
        func fill<T>(_ out: UnsafeMutableBufferPointer<T>, _ convert: (UnsafeMutablePointer<T>, Range<Int>) -> Void) {
            checksums.withUnsafeMutableBufferPointer { sums in
                let sums = sums.baseAddress!
                Parallel.forEach(chunks) { i in
                    let range = (i * chunkElements)..<min(n, (i + 1) * chunkElements)
                    convert(out.baseAddress! + range.lowerBound, range)
                    let bytes = UnsafeRawBufferPointer(
                        start: out.baseAddress! + range.lowerBound, count: range.count * MemoryLayout<T>.stride)
                    sums[i] = crc32c(bytes)
                }
            }
        }
        func make<T>(_ reused: inout [T]?, _ convert: (UnsafeMutablePointer<T>, Range<Int>) -> Void) -> [T] {
            if var out = reused.take(), out.count == n {
                out.withUnsafeMutableBufferPointer { fill($0, convert) }
                return out
            }
            return [T](unsafeUninitializedCapacity: n) { out, k in
                fill(out, convert)
                k = n
            }
        }
        switch precision {
        case .fp32:
            var reused: [Float]?
            if case .fp32(let r)? = spare { reused = r }
            spare = nil
            let out = make(&reused) { d, r in d.initialize(from: source + r.lowerBound, count: r.count) }
            return (.fp32(out), checksums)
        case .bf16:
            var reused: [UInt16]?
            if case .bf16(let r)? = spare { reused = r }
            spare = nil
            let out = make(&reused) { d, r in
                BFloat16.narrow(
                    UnsafeBufferPointer(start: source + r.lowerBound, count: r.count),
                    into: UnsafeMutableBufferPointer(start: d, count: r.count))
            }
            return (.bf16(out), checksums)
        }
    }
}
