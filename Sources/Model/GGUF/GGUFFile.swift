// GGUF files (llama.cpp's model format): a header, typed metadata key/values, tensor infos, then the
// tensor data at an aligned offset. `GGUFFile` parses and validates the whole index; tensor bytes are
// read on demand through `tensorBytes(_:)` and converted by `GGUFTensorType.dequantize`.
import Foundation

/// A problem with a GGUF file or its contents; the message says what and where.
public struct GGUFError: Error, CustomStringConvertible, Equatable {
    /// What kind of problem it is.
    public enum Code: Sendable, Equatable {
        /// The file ends before a structure it announces.
        case truncated
        /// A value is impossible (bad magic, unknown value type, sizes that overflow or disagree).
        case corrupt
        /// A well-formed file that this importer cannot use (version, tensor type, architecture).
        case unsupported
        /// Metadata or a tensor that the import needs is absent.
        case missing
        /// The file could not be read or an output could not be written.
        case io
    }
    public let code: Code
    public let message: String

    /// An error of kind `code` with a message for the user.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// The element types of GGUF metadata values.
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0
    case int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

    /// Bytes of one value of a fixed-width type; nil for strings and arrays.
    var width: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}

/// One metadata value.
public enum GGUFValue: Sendable, Equatable {
    case uint(UInt64, GGUFValueType)
    case int(Int64, GGUFValueType)
    case float(Double, GGUFValueType)
    case bool(Bool)
    case string(String)
    /// An array with its element type.
    case array(GGUFValueType, [GGUFValue])

    /// The value as an integer when it is an integer that fits an `Int`.
    public var intValue: Int? {
        switch self {
        case .uint(let v, _): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int(let v, _): return Int(v)
        default: return nil
        }
    }

    /// The value as a floating-point number when it is numeric.
    public var doubleValue: Double? {
        switch self {
        case .float(let v, _): return v
        case .uint(let v, _): return Double(v)
        case .int(let v, _): return Double(v)
        default: return nil
        }
    }

    /// The string, when the value is one.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The boolean, when the value is one.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements, when the value is an array.
    public var arrayValue: [GGUFValue]? {
        if case .array(_, let a) = self { return a }
        return nil
    }
}

/// One tensor's entry in the index: name, GGML dimensions (fastest first), type and data offset.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// GGML order: `dims[0]` is the contiguous (column) dimension.
    public let dims: [Int]
    public let type: GGUFTensorType
    /// Byte offset from the start of the data section.
    public let offset: Int
    /// Number of elements.
    public let count: Int
    /// Bytes the data occupies.
    public let byteCount: Int

    /// Row-major shape as PyTorch and safetensors write it (the GGML dimensions reversed).
    public var shape: [Int] { dims.reversed() }
}

/// A parsed GGUF file: version, metadata, tensor index and data section, with every size checked.
public struct GGUFFile: Sendable {
    /// Format version (2 or 3).
    public let version: Int
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment`, or 32.
    public let alignment: Int
    /// Absolute byte offset of the data section.
    public let dataOffset: Int
    let data: Data
    private let metadataIndex: [String: Int]
    private let tensorIndex: [String: Int]

    /// Parses `data` (a whole file); `source` names it in errors.
    public init(data: Data, source: String = "file") throws {
        let parsed = try data.withUnsafeBytes { raw in
            var parser = GGUFParser(bytes: raw, source: source)
            return try parser.parse()
        }
        version = parsed.version
        metadata = parsed.metadata
        tensors = parsed.tensors
        alignment = parsed.alignment
        dataOffset = parsed.dataOffset
        self.data = data
        var mi: [String: Int] = [:]
        for (i, kv) in metadata.enumerated() {
            guard mi[kv.key] == nil else {
                throw GGUFError(.corrupt, "\(source): metadata key \(kv.key) appears twice")
            }
            mi[kv.key] = i
        }
        var ti: [String: Int] = [:]
        for (i, t) in tensors.enumerated() {
            guard ti[t.name] == nil else { throw GGUFError(.corrupt, "\(source): tensor \(t.name) appears twice") }
            ti[t.name] = i
        }
        metadataIndex = mi
        tensorIndex = ti
    }

    /// Maps and parses the file at `url`.
    public init(contentsOf url: URL) throws {
        let d: Data
        do { d = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw GGUFError(.io, "cannot read \(url.path): \(error.localizedDescription)")
        }
        try self.init(data: d, source: url.lastPathComponent)
    }

    /// The value of metadata `key`, if present.
    public subscript(key: String) -> GGUFValue? { metadataIndex[key].map { metadata[$0].value } }

    /// The info of tensor `name`, if present.
    public func tensor(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// Calls `body` with the raw bytes of tensor `info` (valid only inside the call).
    public func withTensorBytes<R>(_ info: GGUFTensorInfo, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try data.withUnsafeBytes { raw in
            try body(
                UnsafeRawBufferPointer(
                    rebasing: raw[(dataOffset + info.offset)..<(dataOffset + info.offset + info.byteCount)]))
        }
    }

    /// Tensor `info` converted to Float32 (row-major, `info.count` values).
    public func dequantize(_ info: GGUFTensorInfo) throws -> [Float] {
        var out = [Float](repeating: 0, count: info.count)
        try out.withUnsafeMutableBufferPointer { o in
            try withTensorBytes(info) { bytes in
                try info.type.dequantize(bytes, count: info.count, into: o.baseAddress!, tensor: info.name)
            }
        }
        return out
    }
}
