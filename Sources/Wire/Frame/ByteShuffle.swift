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
            if width == 2 || width == 4 {
                // Whole elements: loads and stores the compiler vectorises, instead of strided bytes.
                let planes = (0..<width).map { out.baseAddress! + $0 * count }
                let raw = input.baseAddress!
                if width == 2 {
                    let (p0, p1) = (planes[0], planes[1])
                    for i in 0..<count {
                        let v = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                        p0[i] = UInt8(truncatingIfNeeded: v)
                        p1[i] = UInt8(truncatingIfNeeded: v >> 8)
                    }
                } else {
                    let (p0, p1, p2, p3) = (planes[0], planes[1], planes[2], planes[3])
                    for i in 0..<count {
                        let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                        p0[i] = UInt8(truncatingIfNeeded: v)
                        p1[i] = UInt8(truncatingIfNeeded: v >> 8)
                        p2[i] = UInt8(truncatingIfNeeded: v >> 16)
                        p3[i] = UInt8(truncatingIfNeeded: v >> 24)
                    }
                }
                for i in (count * width)..<n { out[i] = src[i] }
                initialized = n
                return
            }
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
        if width == 2 {
            let (p0, p1) = (src.baseAddress!, src.baseAddress! + count)
            for i in 0..<count {
                let v = UInt16(p0[i]) | UInt16(p1[i]) << 8
                destination.storeBytes(of: v, toByteOffset: 2 * i, as: UInt16.self)
            }
            for i in (count * width)..<n { out[i] = src[i] }
            return
        }
        if width == 4 {
            let (p0, p1, p2, p3) = (
                src.baseAddress!, src.baseAddress! + count, src.baseAddress! + 2 * count, src.baseAddress! + 3 * count
            )
            for i in 0..<count {
                let v = UInt32(p0[i]) | UInt32(p1[i]) << 8 | UInt32(p2[i]) << 16 | UInt32(p3[i]) << 24
                destination.storeBytes(of: v, toByteOffset: 4 * i, as: UInt32.self)
            }
            for i in (count * width)..<n { out[i] = src[i] }
            return
        }
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
