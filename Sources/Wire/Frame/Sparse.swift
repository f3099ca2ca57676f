import CSupport

/// The sparse form of a tensor whose elements are mostly zero: a bitmap of which elements are nonzero, then those
/// elements (the `SPARSE` filter). An XOR delta of two bf16 weight versions is mostly zero elements; this form
/// takes it to a fraction of its size at memory speed, where zstd alone runs at a few hundred MB/s.
public enum Sparse {
    /// Most bytes a sparse tensor may expand to (a payload's default cap: a bitmap of one bit per element must
    /// not stand for more than a frame could carry).
    public static let maxDenseBytes = 256 << 20

    /// The sparse form of `input`, elements of `width` bytes (a tail that is not a whole element is not allowed).
    public static func pack(_ input: UnsafeRawBufferPointer, width: Int) -> [UInt8] {
        precondition(width >= 1 && input.count % width == 0, "\(input.count) bytes are not elements of \(width)")
        let count = input.count / width
        let bound = rpp_sparse_bound(count, width)
        return [UInt8](unsafeUninitializedCapacity: bound) { out, n in
            n = count == 0 ? 0 : rpp_sparse_pack(input.baseAddress!, count, width, out.baseAddress!)
        }
    }

    /// A cheap guess, from 1,024 elements spread over `input`, that at most a third of its elements are nonzero:
    /// when it says no, the sparse form would not halve the bytes and packing is not worth a pass (the XOR of two
    /// float32 versions, whose low mantissa bits all move).
    public static func looksSparse(_ input: UnsafeRawBufferPointer, width: Int) -> Bool {
        let count = input.count / width
        guard count > 0 else { return false }
        let samples = min(count, 1024)
        var nonzero = 0
        for k in 0..<samples {
            let i = k * count / samples
            for b in 0..<width where input[i * width + b] != 0 {
                nonzero += 1
                break
            }
        }
        return nonzero * 3 <= samples
    }

    /// The sparse form of `input` when it at most halves the bytes (checked cheaply first with `looksSparse`),
    /// else nil.
    public static func packIfHalved(_ input: UnsafeRawBufferPointer, width: Int) -> [UInt8]? {
        guard looksSparse(input, width: width) else { return nil }
        let packed = pack(input, width: width)
        return packed.count * 2 <= input.count ? packed : nil
    }

    /// True when `data` is a well-formed sparse form of `count` elements of `width` bytes.
    public static func isWellFormed(_ data: UnsafeRawBufferPointer, count: Int, width: Int) -> Bool {
        guard count >= 0, width >= 1 else { return false }
        if count == 0 { return data.isEmpty }
        guard let base = data.baseAddress else { return false }
        return rpp_sparse_check(base, data.count, count, width) == 0
    }

    /// Throws unless `data` is a well-formed sparse form of `count` elements of `dtype` that expands to at most
    /// `maxDenseBytes`; `field` names the tensor in the error.
    static func check(_ data: UnsafeRawBufferPointer, count: Int, dtype: DType, field: String) throws(FrameError) {
        guard count * dtype.size <= maxDenseBytes else {
            throw .invariant(
                field, "a sparse tensor of \(count * dtype.size) bytes is over the \(maxDenseBytes >> 20) MiB cap")
        }
        guard isWellFormed(data, count: count, width: dtype.size) else {
            throw .invariant(
                field,
                "\(data.count) bytes are not the sparse form of \(count) \(dtype.rawValue) elements "
                    + "(a bitmap of \((count + 7) / 8) bytes, then one value per set bit)")
        }
    }

    /// Writes the `count` elements of the sparse form `data` (checked with `isWellFormed`) to `destination`, which
    /// holds `count * width` bytes.
    public static func unpack(
        _ data: UnsafeRawBufferPointer, count: Int, width: Int, into destination: UnsafeMutableRawPointer
    ) {
        guard count > 0 else { return }
        rpp_sparse_unpack(data.baseAddress!, count, width, destination)
    }

    /// Writes `base` XOR the `count` elements of the sparse form `data` (checked) to `destination`, which may be
    /// `base`; both hold `count * width` bytes.
    public static func unpackXor(
        _ data: UnsafeRawBufferPointer, count: Int, width: Int, base: UnsafeRawPointer,
        into destination: UnsafeMutableRawPointer
    ) {
        guard count > 0 else { return }
        rpp_sparse_unpack_xor(data.baseAddress!, count, width, base, destination)
    }

    /// The dense bytes of a checked sparse form.
    public static func unpack(_ data: UnsafeRawBufferPointer, count: Int, width: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count * width) { out, n in
            if count > 0 { unpack(data, count: count, width: width, into: out.baseAddress!) }
            n = count * width
        }
    }
}
