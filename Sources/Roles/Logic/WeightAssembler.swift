// WeightAssembler (rollout worker): decides which weight announcements and chunks to keep and when a policy
// version may be used. Chunks may come in any order and before their announcement (a worker that joins
// mid-broadcast); duplicates are ignored; chunks that do not fit the announcement are refused; a newer
// announcement drops the version in progress; a version is exposed only when every chunk is in and the
// SHA-256 matches, so a half-received or corrupt buffer is never visible.

import Wire

/// A verified, complete policy version.
public struct PolicyWeights: Sendable, Equatable {
    /// The policy version.
    public var version: UInt64
    /// The flat parameter buffer.
    public var parameters: [Float]
    /// Named views into `parameters`.
    public var layout: [TensorSpan]
}

/// Reassembles broadcast weights; `latest` is the newest verified version.
public struct WeightAssembler: Sendable {
    /// What an announcement or chunk led to.
    public enum Event: Sendable, Equatable {
        /// A new version is being assembled (any earlier one in progress was dropped).
        case started(version: UInt64)
        /// A chunk was stored: `received` of `total` chunks are in.
        case stored(version: UInt64, received: Int, total: Int)
        /// A chunk arrived before its announcement and was kept for it.
        case buffered(version: UInt64)
        /// An announcement or chunk of a version already exposed, older, or already received: dropped.
        case ignored(version: UInt64)
        /// The input is malformed or does not fit its announcement.
        case rejected(RolesError)
        /// Every chunk is in and the checksum matches: `latest` is now this version.
        case completed(version: UInt64)
        /// Every chunk is in but the checksum does not match: the version was dropped.
        case checksumFailed(version: UInt64)
    }

    struct Progress: Sendable {
        var announcement: WeightAnnouncement
        var buffer: [Float]
        var have: [Bool]
        var received = 0
    }

    /// The newest verified version, or nil before the first one.
    public private(set) var latest: PolicyWeights?
    /// Most chunks kept for a version not yet announced.
    public let maxEarlyChunks: Int
    private var progress: Progress?
    private var early: (version: UInt64, chunks: [Int: WeightChunk])?

    /// Creates an empty assembler.
    public init(maxEarlyChunks: Int = 4096) { self.maxEarlyChunks = maxEarlyChunks }

    /// The version being assembled, if any.
    public var versionInProgress: UInt64? { progress?.announcement.policyVersion }

    /// Chunks received of the version in progress.
    public var receivedChunks: Int { progress?.received ?? 0 }

    /// Takes an announcement: starts its version if newer than anything seen, then applies early chunks.
    public mutating func receive(_ a: WeightAnnouncement) -> [Event] {
        let v = a.policyVersion
        if let l = latest, v <= l.version { return [.ignored(version: v)] }
        if let p = progress, v <= p.announcement.policyVersion { return [.ignored(version: v)] }
        if let error = Self.check(a) { return [.rejected(error)] }
        progress = Progress(announcement: a, buffer: [Float](repeating: 0, count: a.elementCount),
                            have: [Bool](repeating: false, count: a.chunkCount))
        var events: [Event] = [.started(version: v)]
        if let e = early, e.version <= v {
            early = nil
            if e.version == v { for index in e.chunks.keys.sorted() { events.append(store(e.chunks[index]!)) } }
        }
        return events
    }

    /// Takes a chunk: stores it into the version in progress, or keeps it until its announcement arrives.
    public mutating func receive(_ c: WeightChunk) -> Event {
        let v = c.policyVersion
        if let l = latest, v <= l.version { return .ignored(version: v) }
        if let p = progress, v < p.announcement.policyVersion { return .ignored(version: v) }
        if let p = progress, v == p.announcement.policyVersion { return store(c) }
        // A version nobody announced yet: keep only the newest such version, within bounds.
        if let e = early, v < e.version { return .ignored(version: v) }
        if early == nil || early!.version < v { early = (v, [:]) }
        if early!.chunks[c.index] != nil { return .ignored(version: v) }
        guard early!.chunks.count < maxEarlyChunks else {
            return .rejected(RolesError(.invalidWeights, "more than \(maxEarlyChunks) chunks of version \(v) before its announcement"))
        }
        early!.chunks[c.index] = c
        return .buffered(version: v)
    }

    private mutating func store(_ c: WeightChunk) -> Event {
        guard var p = progress else { return .ignored(version: c.policyVersion) }
        let a = p.announcement
        if let error = Self.check(c, against: a) { return .rejected(error) }
        if p.have[c.index] { return .ignored(version: c.policyVersion) }
        guard let values = c.data.floats, values.count == c.count else {
            return .rejected(RolesError(.invalidWeights, "chunk \(c.index) of version \(c.policyVersion) holds \(c.data.bytes.count) bytes for \(c.count) floats"))
        }
        progress = nil  // avoid a copy of the buffer while it is mutated
        p.buffer.replaceSubrange(c.offset..<(c.offset + c.count), with: values)
        p.have[c.index] = true
        p.received += 1
        guard p.received == a.chunkCount else {
            progress = p
            return .stored(version: a.policyVersion, received: p.received, total: a.chunkCount)
        }
        guard WeightDigest.sha256(p.buffer) == a.sha256 else { return .checksumFailed(version: a.policyVersion) }
        latest = PolicyWeights(version: a.policyVersion, parameters: p.buffer, layout: a.layout)
        return .completed(version: a.policyVersion)
    }

    static func check(_ a: WeightAnnouncement) -> RolesError? {
        func bad(_ m: String) -> RolesError { RolesError(.invalidWeights, "announcement of version \(a.policyVersion): \(m)") }
        guard a.dtype == .float32 else { return bad("dtype \(a.dtype.rawValue), expected float32") }
        guard a.elementCount >= 1, a.chunkElements >= 1 else { return bad("\(a.elementCount) elements in chunks of \(a.chunkElements)") }
        guard a.chunkCount == (a.elementCount + a.chunkElements - 1) / a.chunkElements else {
            return bad("\(a.chunkCount) chunks cannot hold \(a.elementCount) elements in chunks of \(a.chunkElements)")
        }
        guard a.sha256.count == 32 else { return bad("SHA-256 has \(a.sha256.count) bytes, expected 32") }
        return nil
    }

    static func check(_ c: WeightChunk, against a: WeightAnnouncement) -> RolesError? {
        func bad(_ m: String) -> RolesError { RolesError(.invalidWeights, "chunk \(c.index) of version \(c.policyVersion): \(m)") }
        guard c.index >= 0, c.index < a.chunkCount else { return bad("index outside 0..<\(a.chunkCount)") }
        let offset = c.index * a.chunkElements, count = min(a.chunkElements, a.elementCount - offset)
        guard c.offset == offset, c.count == count else {
            return bad("covers \(c.count) floats at \(c.offset), announcement says \(count) at \(offset)")
        }
        guard c.data.dtype == .float32, c.data.elementCount == count else {
            return bad("tensor is \(c.data.dtype.rawValue) \(c.data.shape), expected float32 [\(count)]")
        }
        return nil
    }
}
