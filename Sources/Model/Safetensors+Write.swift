// Writing safetensors files from Float32 tensors, stored as F32, BF16 or F16. BF16 rounds to nearest, ties
// to even (as torch's float32 -> bfloat16), NaN stays NaN; F16 uses the IEEE conversion (also ties to even)
// and refuses finite values beyond its range rather than storing them as infinities.
import Foundation

/// The element type weights are stored with in a saved checkpoint.
public enum WeightDType: String, Sendable, CaseIterable {
    case f32, bf16, f16

    /// The safetensors dtype name.
    public var safetensorsName: String {
        switch self {
        case .f32: return "F32"
        case .bf16: return "BF16"
        case .f16: return "F16"
        }
    }

    /// torch's name, as config.json's `torch_dtype` / `dtype` spells it.
    public var torchName: String {
        switch self {
        case .f32: return "float32"
        case .bf16: return "bfloat16"
        case .f16: return "float16"
        }
    }

    /// Bytes per element.
    public var width: Int { self == .f32 ? 4 : 2 }

    /// The dtype a name stands for: f32/float32, bf16/bfloat16, f16/float16 (any case).
    public init?(name: String) {
        switch name.lowercased() {
        case "f32", "float32", "fp32": self = .f32
        case "bf16", "bfloat16": self = .bf16
        case "f16", "float16", "fp16", "half": self = .f16
        default: return nil
        }
    }
}

/// Float32 to 16-bit conversions used when writing.
public enum HalfPrecision {
    /// The bfloat16 nearest to `x` (ties to even); a NaN becomes the quiet NaN 0x7FC0; values past bfloat16's
    /// largest finite value round to infinity, as torch rounds them.
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let bits = x.bitPattern
        let bias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ bias) >> 16)
    }

    /// The float16 nearest to `x` (ties to even; NaN stays NaN; past 65504 gives infinity).
    public static func float16Bits(_ x: Float) -> UInt16 { Float16(x).bitPattern }
}

extension SafetensorsFile {
    /// Serialises Float32 tensors (name, shape, values) in the given order, stored as `dtype`. Throws
    /// `ModelError.invalidInput` naming the tensor when F16 cannot hold one of its finite values.
    public static func serialize(
        _ tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)],
        dtype: WeightDType = .f32,
        metadata: [String: String] = ["format": "pt"]
    ) throws -> Data {
        var header: [String: Any] = ["__metadata__": metadata]
        var off = 0
        for t in tensors {
            precondition(t.shape.reduce(1, *) == t.values.count)
            let bytes = dtype.width * t.values.count
            header[t.name] =
                [
                    "dtype": dtype.safetensorsName, "shape": t.shape,
                    "data_offsets": [off, off + bytes],
                ] as [String: Any]
            off += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (json.count + 8) % 8 != 0 { json.append(0x20) }
        var out = Data(count: 8 + json.count + off)
        try out.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            let base = raw.baseAddress!
            base.storeBytes(of: UInt64(json.count).littleEndian, as: UInt64.self)
            json.withUnsafeBytes { base.advanced(by: 8).copyMemory(from: $0.baseAddress!, byteCount: json.count) }
            var at = base.advanced(by: 8 + json.count)
            for t in tensors {
                try encode(t.values, as: dtype, into: at, tensor: t.name)
                at = at.advanced(by: dtype.width * t.values.count)
            }
        }
        return out
    }

    /// Writes `values` as little-endian `dtype` elements at `out` (which holds them).
    static func encode(
        _ values: UnsafeBufferPointer<Float>, as dtype: WeightDType, into out: UnsafeMutableRawPointer,
        tensor: String
    ) throws {
        guard values.count > 0 else { return }
        switch dtype {
        case .f32:
            // x86-64 and arm64 are little-endian.
            out.copyMemory(from: values.baseAddress!, byteCount: 4 * values.count)
        case .bf16:
            let p = out.bindMemory(to: UInt16.self, capacity: values.count)
            for i in 0..<values.count { p[i] = HalfPrecision.bfloat16Bits(values[i]).littleEndian }
        case .f16:
            let p = out.bindMemory(to: UInt16.self, capacity: values.count)
            var overflow = 0
            var largest: Float = 0
            for i in 0..<values.count {
                let x = values[i]
                let h = Float16(x)
                if h.isInfinite && x.isFinite {
                    overflow += 1
                    largest = max(largest, abs(x))
                }
                p[i] = h.bitPattern.littleEndian
            }
            if overflow > 0 {
                throw ModelError.invalidInput(
                    "tensor \(tensor) holds \(overflow) values beyond float16's range (largest "
                        + "magnitude \(largest), float16 stops at 65504): save as bf16 or f32")
            }
        }
    }
}
