// Safetensors reading and writing: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the raw data.
// Reading accepts F32, BF16 and F16 and converts to Float32 (writing: Safetensors+Write.swift). Every problem
// (truncated file, bad header JSON, offsets outside the data, shape/size disagreement) is a
// typed `ModelError`.
import Foundation

/// One tensor's header entry.
public struct SafetensorsEntry: Sendable {
    public let dtype: String
    public let shape: [Int]
    /// Byte range inside the data section.
    public let begin: Int, end: Int
}

/// A parsed safetensors file held in memory.
public struct SafetensorsFile: Sendable {
    /// The largest header accepted (100 MB, as the reference implementation).
    public static let maxHeaderBytes = 100_000_000
    /// The file name given at parsing, for error messages.
    public let source: String
    public let entries: [String: SafetensorsEntry]
    public let metadata: [String: String]
    let data: Data
    let dataStart: Int

    /// Parses and validates `data` (the whole file); `source` names it in errors.
    public init(data: Data, source: String = "file") throws {
        guard data.count >= 8 else {
            throw ModelError.truncatedFile("\(source): \(data.count) bytes, no header length")
        }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard n <= UInt64(Self.maxHeaderBytes) else {
            throw ModelError.badHeader("\(source): header length \(n) is above the \(Self.maxHeaderBytes)-byte limit")
        }
        guard n <= UInt64(data.count - 8) else {
            throw ModelError.truncatedFile("\(source): header length \(n) exceeds file size \(data.count)")
        }
        self.source = source
        let headerBytes = data.subdata(in: data.startIndex + 8..<data.startIndex + 8 + Int(n))
        guard let obj = try? JSONSerialization.jsonObject(with: headerBytes), let dict = obj as? [String: Any] else {
            throw ModelError.badHeader("\(source): header is not a JSON object")
        }
        let dataLen = data.count - 8 - Int(n)
        var entries: [String: SafetensorsEntry] = [:]
        var meta: [String: String] = [:]
        for (name, value) in dict {
            if name == "__metadata__" {
                for (k, v) in value as? [String: Any] ?? [:] { meta[k] = "\(v)" }
                continue
            }
            guard let e = value as? [String: Any], let dtype = e["dtype"] as? String,
                let shape = e["shape"] as? [NSNumber], let offs = e["data_offsets"] as? [NSNumber], offs.count == 2
            else {
                throw ModelError.badHeader("\(source): entry \(name) lacks dtype, shape or data_offsets")
            }
            let dims = shape.map(exactInteger)
            let begin = exactInteger(offs[0])
            let end = exactInteger(offs[1])
            guard dims.allSatisfy({ ($0 ?? -1) >= 0 }), let b = begin, let en = end, b >= 0, b <= en else {
                throw ModelError.badHeader("\(source): entry \(name) has bad shape \(shape) or offsets \(offs)")
            }
            let s = dims.map { $0! }
            guard en <= dataLen else {
                throw ModelError.truncatedFile(
                    "\(source): tensor \(name) ends at byte \(en) but the data section has \(dataLen)")
            }
            // The byte count of a shape, with overflow checks: a shape like [2^31, 2^31] is refused, not trapped on.
            let bytes = Self.width(dtype).flatMap { Self.byteCount(shape: s, width: $0) }
            if Self.width(dtype) != nil, bytes != en - b {
                throw ModelError.badHeader(
                    "\(source): tensor \(name) has \(en - b) bytes for shape \(s) of \(dtype)"
                        + (bytes == nil ? " (the shape's size overflows)" : ""))
            }
            entries[name] = SafetensorsEntry(dtype: dtype, shape: s, begin: b, end: en)
        }
        self.entries = entries
        metadata = meta
        self.data = data
        dataStart = data.startIndex + 8 + Int(n)
    }

    /// Reads and parses the file at `url`.
    public init(contentsOf url: URL) throws {
        let d: Data
        do { d = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw ModelError.io("cannot read \(url.path): \(ioReason(error))")
        }
        try self.init(data: d, source: url.lastPathComponent)
    }

    /// Bytes of a tensor of `shape` with `width`-byte elements; nil when the product overflows.
    static func byteCount(shape: [Int], width: Int) -> Int? {
        var bytes = width
        for d in shape {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            bytes = product
        }
        return bytes
    }

    static func width(_ dtype: String) -> Int? {
        switch dtype {
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "F64", "I64", "U64": return 8
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": return 1
        default: return nil
        }
    }

    /// Converts tensor `name` to Float32 into `out` (which holds its element count).
    public func read(_ name: String, into out: UnsafeMutablePointer<Float>) throws {
        guard let e = entries[name] else { throw ModelError.missingTensor(name) }
        guard ["F32", "BF16", "F16"].contains(e.dtype) else {
            throw ModelError.unsupportedDType(tensor: name, dtype: e.dtype)
        }
        let count = e.shape.reduce(1, *)
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let base = raw.baseAddress! + (dataStart - data.startIndex) + e.begin
            switch e.dtype {
            case "F32":
                for i in 0..<count {
                    out[i] = Float(bitPattern: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                }
            case "BF16":
                for i in 0..<count {
                    out[i] = Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
                }
            default:  // F16
                for i in 0..<count {
                    out[i] = Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            }
        }
    }
}
