// The GGUF byte-level parser: a bounds-checked little-endian cursor over the file. Every count read
// from the file is checked against the bytes that remain before anything is allocated, so a hostile
// or truncated file gives a `GGUFError` instead of a crash or a huge allocation.
import Foundation

/// What `GGUFParser.parse` finds.
struct GGUFIndex {
    var version = 0
    var metadata: [(key: String, value: GGUFValue)] = []
    var tensors: [GGUFTensorInfo] = []
    var alignment = 32
    var dataOffset = 0
}

/// Reads the header, metadata and tensor infos of a GGUF file held in `bytes`.
struct GGUFParser {
    let bytes: UnsafeRawBufferPointer
    let source: String
    private var pos = 0
    /// Deepest nesting of arrays inside arrays that is accepted.
    static let maxArrayDepth = 3
    /// GGML tensors have at most this many dimensions.
    static let maxDims = 4
    /// Most metadata values (array elements included) a file may hold: far above real vocabularies, and it
    /// bounds what a hostile file can make the parser allocate.
    static let maxMetadataValues = 1 << 24
    private var valuesLeft = GGUFParser.maxMetadataValues

    init(bytes: UnsafeRawBufferPointer, source: String) {
        self.bytes = bytes
        self.source = source
    }

    private var remaining: Int { bytes.count - pos }

    private func truncated(_ what: String) -> GGUFError {
        GGUFError(.truncated, "\(source): file ends at byte \(bytes.count) while reading \(what) at byte \(pos)")
    }

    private func corrupt(_ what: String) -> GGUFError { GGUFError(.corrupt, "\(source): \(what)") }

    private mutating func take<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
        let n = MemoryLayout<T>.size
        guard remaining >= n else { throw truncated(what) }
        let v = bytes.loadUnaligned(fromByteOffset: pos, as: T.self)
        pos += n
        return T(littleEndian: v)
    }

    /// A count or length stored as u64, checked to need at most `remaining` bytes at `unit` bytes each.
    private mutating func count(_ what: String, unit: Int) throws -> Int {
        let raw = try take(UInt64.self, what)
        guard raw <= UInt64(remaining / max(unit, 1)) else {
            throw GGUFError(
                .truncated, "\(source): \(what) is \(raw) but only \(remaining) bytes remain at byte \(pos)")
        }
        return Int(raw)
    }

    private mutating func string(_ what: String) throws -> String {
        let n = try count("length of \(what)", unit: 1)
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + n)]), as: UTF8.self)
        pos += n
        return s
    }

    private mutating func valueType(_ what: String) throws -> GGUFValueType {
        let raw = try take(UInt32.self, "type of \(what)")
        guard let t = GGUFValueType(rawValue: raw) else { throw corrupt("\(what) has unknown value type \(raw)") }
        return t
    }

    private mutating func value(_ type: GGUFValueType, _ what: String, depth: Int = 0) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint(UInt64(try take(UInt8.self, what)), type)
        case .uint16: return .uint(UInt64(try take(UInt16.self, what)), type)
        case .uint32: return .uint(UInt64(try take(UInt32.self, what)), type)
        case .uint64: return .uint(try take(UInt64.self, what), type)
        case .int8: return .int(Int64(try take(Int8.self, what)), type)
        case .int16: return .int(Int64(try take(Int16.self, what)), type)
        case .int32: return .int(Int64(try take(Int32.self, what)), type)
        case .int64: return .int(try take(Int64.self, what), type)
        case .float32: return .float(Double(Float(bitPattern: try take(UInt32.self, what))), type)
        case .float64: return .float(Double(bitPattern: try take(UInt64.self, what)), type)
        case .bool:
            let b = try take(UInt8.self, what)
            guard b <= 1 else { throw corrupt("\(what) is a bool with value \(b)") }
            return .bool(b == 1)
        case .string: return .string(try string(what))
        case .array:
            guard depth < Self.maxArrayDepth else {
                throw corrupt("\(what) nests arrays deeper than \(Self.maxArrayDepth)")
            }
            let element = try valueType("elements of \(what)")
            // The smallest encoding of one element bounds the count: strings and arrays need at least 8 and 12 bytes.
            let unit = element.width ?? (element == .string ? 8 : 12)
            let n = try count("element count of \(what)", unit: unit)
            guard n <= valuesLeft else {
                throw corrupt(
                    "\(what) has \(n) elements, more than the \(Self.maxMetadataValues) values metadata may hold")
            }
            valuesLeft -= n
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for i in 0..<n { items.append(try value(element, "\(what)[\(i)]", depth: depth + 1)) }
            return .array(element, items)
        }
    }

    /// Parses everything up to the data section and checks each tensor's extent against the file.
    mutating func parse() throws -> GGUFIndex {
        var index = GGUFIndex()
        guard remaining >= 4 else { throw truncated("the magic number") }
        guard bytes[0] == 0x47, bytes[1] == 0x47, bytes[2] == 0x55, bytes[3] == 0x46 else {
            throw corrupt("not a GGUF file (the first bytes are not \"GGUF\")")
        }
        pos = 4
        let version = try take(UInt32.self, "the version")
        guard version == 2 || version == 3 else {
            throw GGUFError(.unsupported, "\(source): GGUF version \(version) is not supported (2 and 3 are)")
        }
        index.version = Int(version)
        // Each tensor info needs at least 24 bytes and each key/value at least 13.
        let tensorCount = try count("the tensor count", unit: 24)
        let kvCount = try count("the metadata count", unit: 13)
        index.metadata.reserveCapacity(kvCount)
        for i in 0..<kvCount {
            let key = try string("metadata key \(i)")
            let type = try valueType("metadata \(key)")
            index.metadata.append((key, try value(type, "metadata \(key)")))
        }
        if let a = index.metadata.first(where: { $0.key == "general.alignment" })?.value {
            guard let v = a.intValue, v > 0, v <= 1 << 16, v & (v - 1) == 0 else {
                throw corrupt("general.alignment \(a) is not a power of two up to 65536")
            }
            index.alignment = v
        }
        var infos: [(name: String, dims: [Int], type: GGUFTensorType, offset: UInt64)] = []
        infos.reserveCapacity(tensorCount)
        for i in 0..<tensorCount {
            let name = try string("name of tensor \(i)")
            let nd = try take(UInt32.self, "dimension count of tensor \(name)")
            guard nd >= 1, nd <= Self.maxDims else {
                throw corrupt("tensor \(name) has \(nd) dimensions (1 to 4 allowed)")
            }
            var dims: [Int] = []
            for d in 0..<Int(nd) {
                let v = try take(UInt64.self, "dimension \(d) of tensor \(name)")
                guard v <= UInt64(Int32.max) else { throw corrupt("tensor \(name) dimension \(d) is \(v)") }
                dims.append(Int(v))
            }
            let rawType = try take(UInt32.self, "type of tensor \(name)")
            guard let type = GGUFTensorType(rawValue: rawType) else {
                throw corrupt("tensor \(name) has unknown tensor type \(rawType)")
            }
            infos.append((name, dims, type, try take(UInt64.self, "offset of tensor \(name)")))
        }
        let aligned = pos.roundedUp(to: index.alignment)
        index.dataOffset = aligned
        let dataSize = max(bytes.count - aligned, 0)
        for t in infos {
            var n = 1
            for d in t.dims {
                let (p, o) = n.multipliedReportingOverflow(by: d)
                guard !o, p <= Int(Int32.max) * 64 else {
                    throw corrupt("tensor \(t.name) has too many elements (\(t.dims))")
                }
                n = p
            }
            guard t.dims[0] % t.type.blockSize == 0 else {
                throw corrupt(
                    "tensor \(t.name) of type \(t.type) has a row of \(t.dims[0]) values, "
                        + "not a multiple of its block of \(t.type.blockSize)")
            }
            let byteCount = n / t.type.blockSize * t.type.blockBytes
            guard t.offset % UInt64(index.alignment) == 0 else {
                throw corrupt(
                    "tensor \(t.name) starts at offset \(t.offset), not a multiple of the alignment \(index.alignment)")
            }
            guard t.offset <= UInt64(dataSize), byteCount <= dataSize - Int(t.offset) else {
                throw GGUFError(
                    .truncated,
                    "\(source): tensor \(t.name) needs bytes \(t.offset)..<\(t.offset + UInt64(byteCount)) "
                        + "of the data section, which has \(dataSize)")
            }
            index.tensors.append(
                GGUFTensorInfo(
                    name: t.name, dims: t.dims, type: t.type, offset: Int(t.offset),
                    count: n, byteCount: byteCount))
        }
        return index
    }
}

extension Int {
    /// The smallest multiple of `alignment` (a power of two) not below self.
    func roundedUp(to alignment: Int) -> Int { (self + alignment - 1) & ~(alignment - 1) }
}
