// A resumed run redoes the iterations after its checkpoint. Their first attempt is in the event files the
// earlier learner wrote, and TensorBoard would plot both attempts of those steps. On resume, the learner
// rewrites each earlier event file with only the steps up to the checkpoint, and moves the later events to
// a file of the same name in RUN/discarded/ (TensorBoard shows that directory as a run of its own). A torn
// last record (the writer was killed mid-write) is dropped. This mirrors metrics.discarded.jsonl.
import Foundation

extension TensorBoardWriter {
    /// The directory, inside a run directory, that receives the events of iterations done again.
    public static let discardedDirectory = "discarded"

    /// Moves every event with a step after `iteration` out of the event files of `directory` (to
    /// `directory/discarded/` under the same names); returns how many events moved.
    public static func setAside(directory: String, after iteration: Int) throws -> Int {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.contains("tfevents") }.sorted()
        var moved = 0
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                let data = fm.contents(atPath: path)
            else { continue }
            let (records, torn) = splitRecords(Array(data))
            var kept: [UInt8] = []
            var later: [UInt8] = []
            var count = 0
            for r in records {
                if step(ofEvent: r.data) > Int64(iteration) {
                    later += r.bytes
                    count += 1
                } else {
                    kept += r.bytes
                }
            }
            guard count > 0 || torn else { continue }
            if count > 0 {
                let aside = (directory as NSString).appendingPathComponent(discardedDirectory)
                try fm.createDirectory(atPath: aside, withIntermediateDirectories: true)
                let target = (aside as NSString).appendingPathComponent(name)
                let previous =
                    fm.contents(atPath: target).map(Array.init)
                    ?? TensorBoardEvent.record(TensorBoardEvent.fileVersion(wallTime: Date().timeIntervalSince1970))
                try Data(previous + later).write(to: URL(fileURLWithPath: target), options: .atomic)
            }
            try Data(kept).write(to: URL(fileURLWithPath: path), options: .atomic)
            moved += count
        }
        return moved
    }

    /// The whole records of a TFRecord file (each record's bytes and its data) and whether a torn or corrupt
    /// tail followed them.
    static func splitRecords(_ bytes: [UInt8]) -> (
        records: [(bytes: ArraySlice<UInt8>, data: ArraySlice<UInt8>)], torn: Bool
    ) {
        var out: [(bytes: ArraySlice<UInt8>, data: ArraySlice<UInt8>)] = []
        var at = 0
        func u32(_ i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[i + $1]) << (8 * $1) } }
        while at + 12 <= bytes.count {
            let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
            guard u32(at + 8) == CRC32C.masked(Array(bytes[at..<(at + 8)])), length <= UInt64(bytes.count - at - 16)
            else {
                return (out, true)
            }
            let start = at + 12
            let end = start + Int(length)
            guard u32(end) == CRC32C.masked(Array(bytes[start..<end])) else { return (out, true) }
            out.append((bytes[at..<(end + 4)], bytes[start..<end]))
            at = end + 4
        }
        return (out, at != bytes.count)
    }

    /// The `step` (field 2) of an encoded `Event`; 0 when absent or unreadable.
    static func step(ofEvent data: ArraySlice<UInt8>) -> Int64 {
        var i = data.startIndex
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while i < data.endIndex && shift < 64 {
                let b = data[i]
                i += 1
                value |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return value }
                shift += 7
            }
            return nil
        }
        while i < data.endIndex {
            guard let key = varint() else { return 0 }
            switch key & 7 {
            case 0:
                guard let v = varint() else { return 0 }
                if key >> 3 == 2 { return Int64(bitPattern: v) }
            case 1: i += 8
            case 2:
                guard let n = varint(), n <= UInt64(data.endIndex - i) else { return 0 }
                i += Int(n)
            case 5: i += 4
            default: return 0
            }
        }
        return 0
    }
}
