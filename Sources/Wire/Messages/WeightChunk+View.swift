import Foundation

/// A weight chunk read in place from a received frame: the metadata, and the tensor bytes as a view into the
/// receive buffer, so a receiver copies them once, straight into its parameter buffer.
///
/// `data` is valid only inside the closure that received the frame (`FrameSocket.receiveViewSync`).
public struct WeightChunkView {
    public var policyVersion: UInt64
    public var index: Int
    /// Elements in this chunk.
    public var count: Int
    /// First element of this chunk in the flat buffer.
    public var offset: Int
    /// 0 for a full copy, else the base version of an XOR delta.
    public var baseVersion: UInt64
    public var dtype: DType
    /// The bytes are byte-shuffled (see `ByteShuffle`); `copyData(to:)` undoes it.
    public var shuffled: Bool
    /// The bytes are in the sparse form (see `Sparse`); `copyData(to:)` expands them.
    public var sparse: Bool
    /// Elements of the tensor (its shape).
    public var elements: Int
    /// The tensor bytes as they are in the frame.
    public var data: UnsafeRawBufferPointer
    /// For a frame whose checksum is checked during the copy: the CRC32C of the frame up to `data`, the bytes of
    /// the frame after `data`, and the checksum the header gives.
    var deferredCheck: (seed: UInt32, after: UnsafeRawBufferPointer, expected: UInt32)?

    /// Bytes of the tensor once unfiltered: what `copyData(to:)` writes.
    public var denseBytes: Int { elements * dtype.size }

    /// Writes the element bytes (unfiltered) to `destination`, which must hold `denseBytes`. Returns false
    /// when the frame's checksum, checked during the copy for frames read in place, does not match: the bytes
    /// written are then damaged and must not be used. `streaming` writes past the cache (see `crc32c(copying:)`).
    @discardableResult
    public func copyData(to destination: UnsafeMutableRawPointer, streaming: Bool = false) -> Bool {
        copyDataChecksummed(to: destination, streaming: streaming) != nil
    }

    /// `copyData(to:)` that also returns the CRC32C of the element bytes written, taken in the same pass; nil when
    /// the frame's checksum does not match.
    public func copyDataChecksummed(to destination: UnsafeMutableRawPointer, streaming: Bool = false) -> UInt32? {
        if sparse || shuffled {
            if sparse {
                Sparse.unpack(data, count: elements, width: dtype.size, into: destination)
            } else {
                ByteShuffle.unshuffle(data, width: dtype.size, into: destination)
            }
            guard frameIntact else { return nil }
            return crc32c(UnsafeRawBufferPointer(start: destination, count: denseBytes))
        }
        let written = crc32c(copying: data, to: destination, streaming: streaming)
        guard let check = deferredCheck else { return written }
        let frame = crc32cCombine(check.seed, written, secondLength: data.count)
        return crc32c(check.after, continuing: frame) == check.expected ? written : nil
    }

    /// Writes `base` XOR the element bytes (a delta applied; `base` and `destination` hold `denseBytes` each and
    /// may be the same) and returns the CRC32C of the bytes written; nil when the frame's checksum does not match.
    public func applyDelta(to base: UnsafeRawPointer, into destination: UnsafeMutableRawPointer) -> UInt32? {
        if shuffled {
            // The elements must be unshuffled before they can be XORed: apart, since `destination` may be `base`.
            var plain = [UInt8](repeating: 0, count: denseBytes)
            guard plain.withUnsafeMutableBytes({ copyData(to: $0.baseAddress!) }) else { return nil }
            plain.withUnsafeBytes { ByteXor.xor(into: destination, $0.baseAddress!, base, count: denseBytes) }
        } else {
            if sparse {
                Sparse.unpackXor(data, count: elements, width: dtype.size, base: base, into: destination)
            } else {
                ByteXor.xor(into: destination, data.baseAddress!, base, count: denseBytes)
            }
            guard frameIntact else { return nil }
        }
        return crc32c(UnsafeRawBufferPointer(start: destination, count: denseBytes))
    }

    /// Whether the frame's checksum holds (always true for a frame checked when it was read).
    private var frameIntact: Bool {
        guard let check = deferredCheck else { return true }
        return crc32c(check.after, continuing: crc32c(data, continuing: check.seed)) == check.expected
    }

    /// An owned copy, for chunks kept beyond the receive (a chunk that came before its announcement); nil when
    /// the frame's checksum does not match.
    public func owned() -> WeightChunk? {
        var bytes = Data(count: denseBytes)
        guard bytes.withUnsafeMutableBytes({ copyData(to: $0.baseAddress!) }) else { return nil }
        return WeightChunk(
            policyVersion: policyVersion, index: index, count: count, offset: offset,
            data: DenseTensor(dtype: dtype, shape: [elements], bytes: bytes), baseVersion: baseVersion)
    }

    /// Reads a `WeightChunk` protobuf payload without copying its tensor bytes. Accepts what any protobuf encoder
    /// writes (fields in any order, packed or unpacked shape, unknown fields) and checks what `WeightChunk`
    /// decoding checks.
    public init(payload p: UnsafeRawBufferPointer) throws(FrameError) {
        var reader = ProtoReader(p, field: "weight_chunk")
        var version: UInt64 = 0
        var index: UInt64 = 0
        var count: UInt64 = 0
        var offset: UInt64 = 0
        var base: UInt64 = 0
        var tensor: UnsafeRawBufferPointer?
        while let (field, type) = try reader.nextTag() {
            switch (field, type) {
            case (1, 0): version = try reader.varint()
            case (2, 0): index = try reader.varint()
            case (3, 0): count = try reader.varint()
            case (4, 0): offset = try reader.varint()
            case (5, 2): tensor = try reader.bytes()
            case (6, 0): base = try reader.varint()
            default: try reader.skip(type)
            }
        }
        guard count >= 1, count <= UInt64(UInt32.max) else {
            throw .invariant("weight_chunk.count", "is \(count); a chunk holds 1 to 2^32-1 elements")
        }
        guard index <= UInt64(UInt32.max) else { throw .invariant("weight_chunk.index", "is \(index), beyond 2^32-1") }
        guard let tensor else { throw .invariant("weight_chunk.data", "is missing") }
        guard offset <= UInt64(maxTensorElements) else {
            throw .invariant("weight_chunk.offset", "is \(offset), beyond any buffer")
        }
        var t = ProtoReader(tensor, field: "weight_chunk.data")
        var rawDType: UInt64 = 0
        var filter: UInt64 = 0
        var shape: [Int64] = []
        var data = UnsafeRawBufferPointer(start: nil, count: 0)
        while let (field, type) = try t.nextTag() {
            switch (field, type) {
            case (1, 0): rawDType = try t.varint()
            case (2, 0): shape.append(Int64(bitPattern: try t.varint()))
            case (2, 2):
                var packed = ProtoReader(try t.bytes(), field: "weight_chunk.data.shape")
                while !packed.atEnd { shape.append(Int64(bitPattern: try packed.varint())) }
            case (3, 2): data = try t.bytes()
            case (4, 0): filter = try t.varint()
            default: try t.skip(type)
            }
        }
        let field = "weight_chunk.data"
        guard rawDType <= UInt64(Int32.max),
            let wire = Rpp_V1_DType(rawValue: Int(rawDType))
        else {
            throw .invariant(
                field,
                "unknown dtype \(rawDType)")
        }
        let dtype = try DType(wire: wire, field: field)
        guard filter <= 2 else { throw .invariant(field, "unknown filter \(filter)") }
        guard shape.count == 1, shape[0] >= 1, shape[0] <= Int64(maxTensorElements) else {
            throw .invariant(field, "shape \(shape), expected a non-empty 1-D slice")
        }
        if filter == 2 {
            try Sparse.check(data, count: Int(shape[0]), dtype: dtype, field: field)
        } else if data.count != Int(shape[0]) * dtype.size {
            throw .invariant(
                field,
                "\(data.count) data bytes but \(dtype.rawValue) × shape \(shape) "
                    + "needs \(Int(shape[0]) * dtype.size)")
        }
        self.init(
            policyVersion: version, index: Int(index), count: Int(count), offset: Int(offset), baseVersion: base,
            dtype: dtype, shuffled: filter == 1, sparse: filter == 2, elements: Int(shape[0]), data: data)
    }

    init(
        policyVersion: UInt64, index: Int, count: Int, offset: Int, baseVersion: UInt64, dtype: DType,
        shuffled: Bool, sparse: Bool = false, elements: Int? = nil, data: UnsafeRawBufferPointer
    ) {
        self.policyVersion = policyVersion
        self.index = index
        self.count = count
        self.offset = offset
        self.baseVersion = baseVersion
        self.dtype = dtype
        self.shuffled = shuffled
        self.sparse = sparse
        self.elements = elements ?? data.count / dtype.size
        self.data = data
    }

    /// The protobuf bytes of a `WeightChunk` up to (not including) its tensor bytes, whose length is `dataBytes`:
    /// the payload is these bytes followed by the tensor's, so a sender can hand the tensor to the socket in place.
    static func payloadPrefix(
        policyVersion: UInt64, index: Int, count: Int, offset: Int, baseVersion: UInt64,
        dtype: DType, dataBytes: Int, sparse: Bool = false
    ) -> [UInt8] {
        var tensor: [UInt8] = []
        ProtoWriter.varintField(1, UInt64(dtype.wire.rawValue), into: &tensor)
        if sparse { ProtoWriter.varintField(4, UInt64(Rpp_V1_Filter.sparse.rawValue), into: &tensor) }
        ProtoWriter.tag(2, 2, into: &tensor)
        ProtoWriter.varint(UInt64(ProtoWriter.varintSize(UInt64(count))), into: &tensor)
        ProtoWriter.varint(UInt64(count), into: &tensor)
        ProtoWriter.tag(3, 2, into: &tensor)
        ProtoWriter.varint(UInt64(dataBytes), into: &tensor)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        ProtoWriter.varintField(1, policyVersion, into: &out)
        ProtoWriter.varintField(2, UInt64(index), into: &out)
        ProtoWriter.varintField(3, UInt64(count), into: &out)
        ProtoWriter.varintField(4, UInt64(offset), into: &out)
        if baseVersion != 0 { ProtoWriter.varintField(6, baseVersion, into: &out) }
        ProtoWriter.tag(5, 2, into: &out)
        ProtoWriter.varint(UInt64(tensor.count + dataBytes), into: &out)
        out.append(contentsOf: tensor)
        return out
    }
}

/// Just enough of the protobuf wire format to read a message in place.
struct ProtoReader {
    private let p: UnsafeRawBufferPointer
    private var i = 0
    private let field: String

    init(_ p: UnsafeRawBufferPointer, field: String) {
        self.p = p
        self.field = field
    }

    var atEnd: Bool { i >= p.count }

    /// The next (field number, wire type), or nil at the end.
    mutating func nextTag() throws(FrameError) -> (UInt64, UInt64)? {
        guard !atEnd else { return nil }
        let tag = try varint()
        guard tag >> 3 != 0 else { throw FrameError(.badProtobuf, "\(field): field number 0") }
        return (tag >> 3, tag & 7)
    }

    mutating func varint() throws(FrameError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard i < p.count else { throw FrameError(.badProtobuf, "\(field): truncated varint") }
            let b = p[i]
            i += 1
            guard shift < 64 else { throw FrameError(.badProtobuf, "\(field): varint longer than 10 bytes") }
            value |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
        }
    }

    mutating func bytes() throws(FrameError) -> UnsafeRawBufferPointer {
        let n = try varint()
        guard n <= UInt64(p.count - i) else {
            throw FrameError(.badProtobuf, "\(field): a length of \(n) runs past the end of the message")
        }
        defer { i += Int(n) }
        return UnsafeRawBufferPointer(rebasing: p[i..<(i + Int(n))])
    }

    mutating func skip(_ type: UInt64) throws(FrameError) {
        switch type {
        case 0: _ = try varint()
        case 1, 5:
            let n = type == 1 ? 8 : 4
            guard p.count - i >= n else { throw FrameError(.badProtobuf, "\(field): truncated fixed-size field") }
            i += n
        case 2: _ = try bytes()
        default: throw FrameError(.badProtobuf, "\(field): wire type \(type) is not valid here")
        }
    }
}

/// Writes protobuf varints and tags.
enum ProtoWriter {
    static func varint(_ v: UInt64, into out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func varintSize(_ v: UInt64) -> Int {
        var v = v
        var n = 1
        while v >= 0x80 {
            v >>= 7
            n += 1
        }
        return n
    }

    static func tag(_ field: UInt64, _ type: UInt64, into out: inout [UInt8]) { varint(field << 3 | type, into: &out) }

    static func varintField(_ field: UInt64, _ v: UInt64, into out: inout [UInt8]) {
        tag(field, 0, into: &out)
        varint(v, into: &out)
    }
}
