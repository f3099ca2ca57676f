import ArgumentParser
import Foundation
import Wire

/// `rpp inspect frame FILE`: a frame's header and message as JSON, or a one-line error.
struct InspectFrame: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frame",
        abstract: "Print a frame's header and decoded message as JSON.",
        discussion: """
            Checks everything a receiving process checks: magic, wire version, kind, sizes, CRC32C checksum, \
            HMAC tag or AES-GCM encryption (with --key), zstd data, protobuf and message invariants. A bad frame \
            exits with status 1 \
            and one line naming the problem.
            """)

    @Argument(help: "A file holding one frame (a golden frame, a recorded batch, a capture).")
    var file: String

    @Option(help: "Cluster key file: verify the frame's tag (decrypt an encrypted frame) and refuse unsigned frames.")
    var key: String?

    @Option(help: "Tensor values to show per tensor (the rest are counted, not printed).")
    var maxValues: Int = 64

    @Flag(help: "Show tensor bytes as protobuf JSON does (base64), not as values.")
    var rawTensors = false

    func run() throws {
        do {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw InspectError("cannot read \(file): check the path")
            }
            let codec = FrameCodec(key: try key.map { k throws(ClusterKeyError) in try ClusterKey(file: k) })
            let bytes = [UInt8](data)
            let inspection = try bytes.withUnsafeBytes { p in try codec.inspect(p) }
            var inspection2 = inspection
            if !rawTensors {
                inspection2.messageJSON = TensorJSON.readable(inspection.messageJSON, maxValues: maxValues)
            }
            print(render(inspection2, frameBytes: bytes.count))
        } catch {
            FileHandle.standardError.write(Data("rpp inspect frame: \(file): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    func render(_ i: FrameInspection, frameBytes: Int) -> String {
        let h = i.header
        var flags: [String] = []
        if h.flags.contains(.compressed) { flags.append("\"compressed\"") }
        if h.flags.contains(.authenticated) { flags.append("\"authenticated\"") }
        if h.flags.contains(.encrypted) { flags.append("\"encrypted\"") }
        let hex = String(h.checksum, radix: 16)
        let stamp =
            h.stamp.map { s in
                let nonce = s.nonce.bytes.map { String(format: "%02x", $0) }.joined()
                return "\"stamp\": {\"unix_millis\": \(s.unixMillis), \"nonce\": \"\(nonce)\"}, "
            } ?? ""
        return """
            {"header": {"magic": "RPPF", "version": \(h.version), "kind": "\(h.kind.name)", "kind_code": \(h.kind.rawValue), \
            "flags": [\(flags.joined(separator: ", "))], "frame_bytes": \(frameBytes), "payload_bytes": \(h.payloadLength), \
            "raw_bytes": \(h.rawLength), "checksum": "crc32c:\(String(repeating: "0", count: 8 - hex.count) + hex)", \
            \(stamp)"mac": "\(i.mac)"},
             "message": \(i.messageJSON)}
            """
    }
}

struct InspectError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
