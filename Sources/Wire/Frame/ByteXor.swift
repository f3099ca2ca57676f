import CSupport

/// XOR of byte ranges, the operation of weight deltas (AVX-512 when the CPU has it).
public enum ByteXor {
    /// `destination[i] = a[i] ^ b[i]` for `count` bytes; `destination` may be `a` or `b`.
    public static func xor(
        into destination: UnsafeMutableRawPointer, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int
    ) {
        guard count > 0 else { return }
        rpp_xor_bytes(destination, a, b, count)
    }
}
