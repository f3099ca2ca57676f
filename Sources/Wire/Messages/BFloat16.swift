import CSupport

/// bfloat16 conversions (the CSupport kernels: round to nearest even, the same bits on every CPU).
public enum BFloat16 {
    /// float32 -> bfloat16 (round to nearest even) into `destination`, which holds at least `source.count` values.
    public static func narrow(
        _ source: UnsafeBufferPointer<Float>,
        into destination: UnsafeMutableBufferPointer<UInt16>
    ) {
        precondition(
            destination.count >= source.count,
            "bfloat16 destination holds \(destination.count) of \(source.count)")
        guard let s = source.baseAddress, let d = destination.baseAddress else { return }
        rpp_f32_to_bf16(s, d, source.count)
    }

    /// bfloat16 -> float32 (exact) into `destination`, which holds at least `source.count` values.
    public static func widen(
        _ source: UnsafeBufferPointer<UInt16>,
        into destination: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(
            destination.count >= source.count,
            "float32 destination holds \(destination.count) of \(source.count)")
        guard let s = source.baseAddress, let d = destination.baseAddress else { return }
        rpp_bf16_to_f32(s, d, source.count)
    }

    /// The bfloat16 bits of `values`.
    public static func narrow(_ values: [Float]) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: values.count) { out, n in
            values.withUnsafeBufferPointer { narrow($0, into: out) }
            n = values.count
        }
    }

    /// The float32 values of bfloat16 bits.
    public static func widen(_ bits: [UInt16]) -> [Float] {
        [Float](unsafeUninitializedCapacity: bits.count) { out, n in
            bits.withUnsafeBufferPointer { widen($0, into: out) }
            n = bits.count
        }
    }
}
