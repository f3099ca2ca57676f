import Foundation

/// Cheap guesses of how well zstd would compress some bytes, so that a frame skips compression that
/// cannot pay (random float mantissas) and a tensor is byte-shuffled only when that helps.
///
/// The guess is the order-0 entropy of an evenly spread sample of at most 8 KiB, which tracks zstd
/// level 1 on tensors closely (`rpp bench wire` prints both) and costs microseconds.
public enum Compressibility {
    /// Compression must promise at least this ratio (raw / compressed) to be worth its time. On loopback
    /// and fast networks zstd at ~800 MB/s is slower than the link unless it saves a lot.
    public static let worthwhileRatio = 1.3

    static let sampleBytes = 8192
    static let runBytes = 64

    /// Estimated raw/compressed ratio of `bytes` (≥ 1).
    public static func estimatedRatio(_ bytes: UnsafeRawBufferPointer) -> Double {
        var histogram = [Int](repeating: 0, count: 256)
        let n = sample(bytes, into: &histogram)
        return n == 0 ? 1 : 8 / max(entropyBits(histogram, n), 8.0 / 64)
    }

    /// Estimated ratio after a byte shuffle of elements of `width` bytes: planes are estimated apart.
    static func estimatedShuffledRatio(_ bytes: UnsafeRawBufferPointer, width: Int) -> Double {
        let count = bytes.count / width
        guard width > 1, count > 0 else { return estimatedRatio(bytes) }
        let step = max(1, count / (sampleBytes / width))
        var totalBits = 0.0
        var totalCount = 0
        for plane in 0..<width {
            var histogram = [Int](repeating: 0, count: 256)
            var n = 0
            var i = 0
            while i < count {
                histogram[Int(bytes[i * width + plane])] += 1
                n += 1
                i += step
            }
            totalBits += entropyBits(histogram, n) * Double(n)
            totalCount += n
        }
        return 8 / max(totalBits / Double(totalCount), 8.0 / 64)
    }

    private static func sample(_ bytes: UnsafeRawBufferPointer, into histogram: inout [Int]) -> Int {
        let n = bytes.count
        if n <= sampleBytes {
            for b in bytes { histogram[Int(b)] += 1 }
            return n
        }
        let runs = sampleBytes / runBytes
        let stride = n / runs
        for r in 0..<runs {
            let start = r * stride
            for i in start..<min(start + runBytes, n) { histogram[Int(bytes[i])] += 1 }
        }
        return runs * runBytes
    }

    /// Order-0 entropy in bits per byte: log2(n) - Σ c·log2(c) / n, with c·log2(c) from a table.
    private static func entropyBits(_ histogram: [Int], _ n: Int) -> Double {
        guard n > 0 else { return 0 }
        let table = cLogC
        var sum = 0.0
        for c in histogram where c > 0 { sum += c < table.count ? table[c] : Double(c) * log2(Double(c)) }
        return log2(Double(n)) - sum / Double(n)
    }

    /// c·log2(c) for every count a sample can reach.
    private static let cLogC: [Double] = (0...sampleBytes).map { $0 == 0 ? 0 : Double($0) * log2(Double($0)) }
}
