import Foundation

/// The few TensorBoard `Event` protobuf messages RunKit writes, encoded by hand exactly as a
/// proto3 encoder does (fields in number order, zero scalars left out).
public enum TensorBoardEvent {
    /// `Event{wall_time: 1, file_version: 3}` with `file_version = "brain.Event:2"`.
    public static func fileVersion(wallTime: Double) -> [UInt8] {
        var out: [UInt8] = []
        appendWallTimeAndStep(&out, wallTime: wallTime, step: 0)
        appendBytes(&out, field: 3, Array("brain.Event:2".utf8))
        return out
    }

    /// `Event{wall_time: 1, step: 2, summary: 5 {value: 1 {tag: 1, simple_value: 2}}}`.
    public static func scalar(tag: String, value: Float, step: Int64, wallTime: Double) -> [UInt8] {
        var item: [UInt8] = []
        appendBytes(&item, field: 1, Array(tag.utf8))
        item.append(0x15)  // field 2, fixed32: simple_value is in a oneof, so it is written even when 0
        withUnsafeBytes(of: value.bitPattern.littleEndian) { item.append(contentsOf: $0) }
        var summary: [UInt8] = []
        appendBytes(&summary, field: 1, item)
        var out: [UInt8] = []
        appendWallTimeAndStep(&out, wallTime: wallTime, step: step)
        appendBytes(&out, field: 5, summary)
        return out
    }

    /// A text summary (TensorBoard's text plugin renders it as markdown): `Event{wall_time, step, summary: 5
    /// {value: 1 {tag: 1, tensor: 8 {dtype: 1 = DT_STRING, string_val: 8}, metadata: 9 {plugin_data: 1
    /// {plugin_name: 1 = "text"}}}}}`.
    public static func text(tag: String, markdown: String, step: Int64, wallTime: Double) -> [UInt8] {
        var tensor: [UInt8] = [0x08, 7]  // dtype DT_STRING
        appendBytes(&tensor, field: 8, Array(markdown.utf8))
        var plugin: [UInt8] = []
        appendBytes(&plugin, field: 1, Array("text".utf8))
        var metadata: [UInt8] = []
        appendBytes(&metadata, field: 1, plugin)
        var item: [UInt8] = []
        appendBytes(&item, field: 1, Array(tag.utf8))
        appendBytes(&item, field: 8, tensor)
        appendBytes(&item, field: 9, metadata)
        var summary: [UInt8] = []
        appendBytes(&summary, field: 1, item)
        var out: [UInt8] = []
        appendWallTimeAndStep(&out, wallTime: wallTime, step: step)
        appendBytes(&out, field: 5, summary)
        return out
    }

    /// One TFRecord: length (u64 LE), masked CRC of the length, data, masked CRC of the data.
    public static func record(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian) { Array($0) }
        out += length
        withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { out.append(contentsOf: $0) }
        out += data
        withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    private static func appendWallTimeAndStep(_ out: inout [UInt8], wallTime: Double, step: Int64) {
        if wallTime.bitPattern != 0 {
            out.append(0x09)  // field 1, fixed64
            withUnsafeBytes(of: wallTime.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        }
        if step != 0 {
            out.append(0x10)  // field 2, varint (negative int64 takes ten bytes)
            appendVarint(&out, UInt64(bitPattern: step))
        }
    }

    private static func appendBytes(_ out: inout [UInt8], field: UInt64, _ bytes: [UInt8]) {
        if bytes.isEmpty { return }
        appendVarint(&out, field << 3 | 2)
        appendVarint(&out, UInt64(bytes.count))
        out += bytes
    }

    private static func appendVarint(_ out: inout [UInt8], _ value: UInt64) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
