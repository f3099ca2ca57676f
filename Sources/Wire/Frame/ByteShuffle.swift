/// Byte shuffle (the Blosc/HDF5 filter): element bytes are regrouped into planes, all first bytes,
/// then all second bytes, and so on. For float tensors the sign/exponent bytes land in one plane that
/// zstd compresses far better than interleaved floats. Exactly reversible; a tail that is not a whole
/// element is copied unchanged.
public enum ByteShuffle {
    /// Shuffles `input` with elements of `width` bytes.
    public static func shuffle(_ input: UnsafeRawBufferPointer, width: Int) -> [UInt8] {
        let n = input.count
        guard width > 1, n >= width else { return Array(input) }
        let count = n / width
        return [UInt8](unsafeUninitializedCapacity: n) { out, initialized in
            let src = input.bindMemory(to: UInt8.self)
            for plane in 0..<width {
                let dst = out.baseAddress! + plane * count
                var s = plane
                for i in 0..<count {
                    dst[i] = src[s]
                    s += width
                }
            }
            for i in (count * width)..<n { out[i] = src[i] }
            initialized = n
        }
    }

    /// Reverses `shuffle`.
    public static func unshuffle(_ input: UnsafeRawBufferPointer, width: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: input.count) { out, initialized in
            if let base = out.baseAddress { unshuffle(input, width: width, into: base) }
            initialized = input.count
        }
    }

    /// Reverses `shuffle` into `destination`, which must hold `input.count` bytes.
    public static func unshuffle(
        _ input: UnsafeRawBufferPointer, width: Int,
        into destination: UnsafeMutableRawPointer
    ) {
        let n = input.count
        guard n > 0 else { return }
        guard width > 1, n >= width else {
            destination.copyMemory(from: input.baseAddress!, byteCount: n)
            return
        }
        let count = n / width
        let src = input.bindMemory(to: UInt8.self)
        let out = destination.assumingMemoryBound(to: UInt8.self)
        for plane in 0..<width {
            let from = src.baseAddress! + plane * count
            var d = plane
            for i in 0..<count {
                out[d] = from[i]
                d += width
            }
        }
        for i in (count * width)..<n { out[i] = src[i] }
    }

    public static func shuffle(_ input: [UInt8], width: Int) -> [UInt8] {
        input.withUnsafeBytes { shuffle($0, width: width) }
    }

    public static func unshuffle(_ input: [UInt8], width: Int) -> [UInt8] {
        input.withUnsafeBytes { unshuffle($0, width: width) }
    }
}
