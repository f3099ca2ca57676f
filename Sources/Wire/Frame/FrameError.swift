/// Why a frame was refused. Every bad frame becomes one of these, never a crash.
///
/// `description` is one line that says what was wrong and, where it helps, what to do.
public struct FrameError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The kind of problem, for code that reacts to it.
    public enum Code: String, Sendable, CaseIterable {
        case truncatedHeader = "truncated header"
        case badMagic = "bad magic"
        case unsupportedVersion = "unsupported wire version"
        case unknownKind = "unknown message kind"
        case unknownFlags = "unknown flags"
        case tooLarge = "size over cap"
        case truncatedPayload = "truncated payload"
        case trailingBytes = "trailing bytes"
        case checksumMismatch = "checksum mismatch"
        case missingMAC = "missing MAC"
        case badMAC = "bad MAC"
        case replayed = "replayed frame"
        case stale = "stale frame"
        case needsKey = "encrypted, no key"
        case corruptCompression = "corrupt zstd data"
        case badProtobuf = "undecodable protobuf"
        case invariant = "invariant violated"
        case wrongKind = "unexpected message kind"
    }

    public let code: Code
    /// The detail: which field, which sizes, what to do.
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "bad frame: \(code.rawValue): \(detail)" }
}

extension FrameError {
    static func invariant(_ field: String, _ problem: String) -> FrameError {
        FrameError(.invariant, "\(field): \(problem)")
    }
}
