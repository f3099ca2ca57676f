// GGML tensor types: their block sizes, and dequantisation to Float32 of the types the importer reads.
// Block layouts (little-endian, f16 scales as IEEE half):
//   Q8_0 (32 values, 34 bytes): d f16, q int8 x32;                       w = d*q
//   Q4_0 (32 values, 18 bytes): d f16, 16 bytes of nibbles;              w = d*(q-8)
//   Q4_1 (32 values, 20 bytes): d f16, m f16, 16 bytes of nibbles;       w = d*q + m
//     nibbles: byte j holds value j (low 4 bits) and value j+16 (high 4 bits)
//   Q4_K (256 values, 144 bytes): d f16, dmin f16, 12 bytes of 6-bit scales and mins for 8 sub-blocks
//     of 32, 128 bytes of nibbles; chunk c (32 bytes) holds sub-block 2c (low) and 2c+1 (high);
//     w = d*scale[s]*q - dmin*min[s]
//   Q6_K (256 values, 210 bytes): ql 128 bytes (low 4 bits), qh 64 bytes (high 2 bits), 16 int8 scales,
//     d f16; in each half of 128 values, value r has ql nibble (r/64) of byte r%64 and qh bit pair
//     (r/32) of byte r%32; w = d*scale[i/16]*(q-32)
import Foundation

/// A GGML tensor type (the numbering of ggml.h), with its block size and bytes per block.
public struct GGUFTensorType: Sendable, Equatable, CustomStringConvertible {
    public let rawValue: UInt32
    /// Name as llama.cpp prints it (F32, Q4_K...).
    public let name: String
    /// Values per block.
    public let blockSize: Int
    /// Bytes per block.
    public let blockBytes: Int

    private static let table: [UInt32: (String, Int, Int)] = [
        0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
        7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
        12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
        16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
        20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
        24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
        29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    ]

    /// The type numbered `rawValue`, or nil when GGML has no such type.
    public init?(rawValue: UInt32) {
        guard let (n, b, s) = Self.table[rawValue] else { return nil }
        self.rawValue = rawValue
        name = n
        blockSize = b
        blockBytes = s
    }

    public var description: String { name }

    /// The types `dequantize` reads.
    public static let supportedNames = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q6_K"]

    /// Whether `dequantize` reads this type.
    public var isSupported: Bool { Self.supportedNames.contains(name) }

    /// Converts `count` values stored in `bytes` (exactly their encoding) to Float32 into `out`;
    /// `tensor` names the tensor in errors.
    public func dequantize(
        _ bytes: UnsafeRawBufferPointer, count: Int, into out: UnsafeMutablePointer<Float>,
        tensor: String = "tensor"
    ) throws {
        guard isSupported else {
            throw GGUFError(
                .unsupported,
                "tensor \(tensor) has type \(name), which the importer cannot read "
                    + "(supported: \(Self.supportedNames.joined(separator: ", ")))")
        }
        guard count % blockSize == 0, bytes.count == count / blockSize * blockBytes, let base = bytes.baseAddress else {
            if count == 0 { return }
            throw GGUFError(.corrupt, "tensor \(tensor): \(bytes.count) bytes do not hold \(count) values of \(name)")
        }
        let blocks = count / blockSize
        @inline(__always) func half(_ p: UnsafeRawPointer, _ at: Int) -> Float {
            Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
        }
        switch name {
        case "F32":
            for i in 0..<count {
                out[i] = Float(bitPattern: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            }
        case "F16":
            for i in 0..<count { out[i] = half(base, 2 * i) }
        case "BF16":
            for i in 0..<count {
                out[i] = Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        case "Q8_0":
            for b in 0..<blocks {
                let p = base + b * 34
                let o = out + b * 32
                let d = half(p, 0)
                for j in 0..<32 { o[j] = d * Float(Int8(bitPattern: p.load(fromByteOffset: 2 + j, as: UInt8.self))) }
            }
        case "Q4_0":
            for b in 0..<blocks {
                let p = base + b * 18
                let o = out + b * 32
                let d = half(p, 0)
                for j in 0..<16 {
                    let q = p.load(fromByteOffset: 2 + j, as: UInt8.self)
                    o[j] = d * Float(Int(q & 0x0F) - 8)
                    o[j + 16] = d * Float(Int(q >> 4) - 8)
                }
            }
        case "Q4_1":
            for b in 0..<blocks {
                let p = base + b * 20
                let o = out + b * 32
                let d = half(p, 0)
                let m = half(p, 2)
                for j in 0..<16 {
                    let q = p.load(fromByteOffset: 4 + j, as: UInt8.self)
                    o[j] = d * Float(q & 0x0F) + m
                    o[j + 16] = d * Float(q >> 4) + m
                }
            }
        case "Q4_K":
            for b in 0..<blocks { Self.dequantizeQ4K(base + b * 144, out + b * 256) }
        default:  // Q6_K
            for b in 0..<blocks { Self.dequantizeQ6K(base + b * 210, out + b * 256) }
        }
    }

    private static func dequantizeQ4K(_ p: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let d = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 0, as: UInt16.self)))
        let dmin = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        let s = p + 4
        let qs = p + 16
        func byte(_ i: Int) -> UInt8 { s.load(fromByteOffset: i, as: UInt8.self) }
        for sub in 0..<8 {
            // Sub-blocks 0-3 keep 6-bit scale and min in bytes 0-3 and 4-7; sub-blocks 4-7 take their low
            // 4 bits from bytes 8-11 and their high 2 bits from the top of bytes 0-3 and 4-7.
            let scale: UInt8
            let minimum: UInt8
            if sub < 4 {
                scale = byte(sub) & 0x3F
                minimum = byte(sub + 4) & 0x3F
            } else {
                scale = (byte(sub + 4) & 0x0F) | ((byte(sub - 4) >> 2) & 0x30)
                minimum = (byte(sub + 4) >> 4) | ((byte(sub) >> 2) & 0x30)
            }
            let ds = d * Float(scale)
            let dm = dmin * Float(minimum)
            let chunk = qs + (sub / 2) * 32
            let shift = UInt8((sub % 2) * 4)
            for j in 0..<32 {
                let q = (chunk.load(fromByteOffset: j, as: UInt8.self) >> shift) & 0x0F
                o[sub * 32 + j] = ds * Float(q) - dm
            }
        }
    }

    private static func dequantizeQ6K(_ p: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let ql = p
        let qh = p + 128
        let scales = p + 192
        let d = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 208, as: UInt16.self)))
        for i in 0..<256 {
            let h = i / 128
            let r = i % 128
            let low = (ql.load(fromByteOffset: h * 64 + r % 64, as: UInt8.self) >> UInt8((r / 64) * 4)) & 0x0F
            let high = (qh.load(fromByteOffset: h * 32 + r % 32, as: UInt8.self) >> UInt8((r / 32) * 2)) & 0x03
            let q = Int(low | (high << 4)) - 32
            let scale = Float(Int8(bitPattern: scales.load(fromByteOffset: i / 16, as: UInt8.self)))
            o[i] = d * scale * Float(q)
        }
    }
}
