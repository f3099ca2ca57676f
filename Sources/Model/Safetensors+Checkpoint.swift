// The weights of a checkpoint directory as one set of named tensors: model.safetensors alone, or the shards
// that model.safetensors.index.json lists ({"weight_map": {tensor name: shard file name}}). Every tensor
// lives in exactly one file; the index must agree with the shards' headers.
import Foundation

/// A checkpoint's tensors, spread over one or more safetensors files.
public struct SafetensorsCheckpoint: Sendable {
    /// Name of the single-file weights of a checkpoint directory.
    public static let singleFile = "model.safetensors"
    /// Name of the index of a sharded checkpoint.
    public static let indexFile = "model.safetensors.index.json"
    /// The largest index accepted (real indexes are tens of kilobytes).
    public static let maxIndexBytes = 64 << 20

    /// The files, in the order given.
    public let files: [SafetensorsFile]
    /// Tensor name → index in `files`.
    let location: [String: Int]

    /// The tensors of `files`; a tensor stored in two of them is an error.
    public init(files: [SafetensorsFile]) throws {
        var location: [String: Int] = [:]
        for (i, f) in files.enumerated() {
            for name in f.entries.keys {
                if let j = location[name] {
                    throw ModelError.badHeader("tensor \(name) is stored in both \(files[j].source) and \(f.source)")
                }
                location[name] = i
            }
        }
        self.files = files
        self.location = location
    }

    /// Reads `directory`'s model.safetensors or, when it has none, the shards of model.safetensors.index.json.
    public init(directory: URL) throws {
        let single = directory.appendingPathComponent(Self.singleFile)
        let index = directory.appendingPathComponent(Self.indexFile)
        let fm = FileManager.default
        if fm.fileExists(atPath: single.path) || !fm.fileExists(atPath: index.path) {
            try self.init(files: [try SafetensorsFile(contentsOf: single)])
            return
        }
        let map = try Self.weightMap(index)
        var order: [String] = []
        for file in map.values.sorted() where order.last != file { order.append(file) }
        let files = try order.map { try SafetensorsFile(contentsOf: directory.appendingPathComponent($0)) }
        try self.init(files: files)
        for (name, file) in map.sorted(by: { $0.key < $1.key }) {
            guard let i = location[name], files[i].source == file else {
                throw ModelError.badHeader("\(Self.indexFile) puts tensor \(name) in \(file), which does not hold it")
            }
        }
    }

    /// The weight_map of an index file: tensor name → shard file name (a plain name inside the directory).
    static func weightMap(_ url: URL) throws -> [String: String] {
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            data = try handle.read(upToCount: Self.maxIndexBytes + 1) ?? Data()
        } catch {
            throw ModelError.io("cannot read \(url.path): \(ioReason(error))")
        }
        guard data.count <= Self.maxIndexBytes else {
            throw ModelError.badHeader(
                "\(url.path) is larger than \(Self.maxIndexBytes) bytes; not a safetensors index")
        }
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let raw = obj["weight_map"] as? [String: Any]
        else {
            throw ModelError.badHeader("\(url.path) has no weight_map object")
        }
        var map: [String: String] = [:]
        for (name, value) in raw {
            guard let file = value as? String, !file.isEmpty, !file.contains("/"), file != ".", file != ".." else {
                throw ModelError.badHeader(
                    "\(url.path): weight_map entry \(name) must name a file in the checkpoint's "
                        + "directory (found \(value))")
            }
            map[name] = file
        }
        guard !map.isEmpty else { throw ModelError.badHeader("\(url.path): weight_map is empty") }
        return map
    }

    /// Every tensor's header entry, by name.
    public var entries: [String: SafetensorsEntry] {
        var all: [String: SafetensorsEntry] = [:]
        for f in files { all.merge(f.entries) { a, _ in a } }
        return all
    }

    /// The header entry of tensor `name`, if any file holds it.
    public func entry(_ name: String) -> SafetensorsEntry? { location[name].flatMap { files[$0].entries[name] } }

    /// The file that holds tensor `name` (for error messages).
    public func source(of name: String) -> String { location[name].map { files[$0].source } ?? Self.singleFile }

    /// Converts tensor `name` to Float32 into `out` (which holds its element count).
    public func read(_ name: String, into out: UnsafeMutablePointer<Float>) throws {
        guard let i = location[name] else { throw ModelError.missingTensor(name) }
        try files[i].read(name, into: out)
    }
}
