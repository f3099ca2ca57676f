// WeightAssembler (rollout worker): decides which weight announcements and chunks to keep and when a policy
// version may be used. Chunks may come in any order and before their announcement (a worker that joins
// mid-broadcast); duplicates are ignored; chunks that do not fit the announcement are refused; a newer
// announcement drops the version in progress; every chunk is checked against the announcement's CRC32C for it as it
// is stored, and a version is exposed only when every chunk is in, so a half-received or corrupt buffer is never
// visible. Weights come in float32 or bfloat16 and are kept in the precision they came in. A delta (XOR against a
// base version) is applied only to exactly that base (version and digest); without it the worker waits for a full
// copy.

import Wire

/// A verified, complete policy version.
public struct PolicyWeights: Sendable, Equatable {
    /// The policy version.
    public var version: UInt64
    /// The flat parameter buffer, in the precision it was broadcast in.
    public var values: WeightValues
    /// Named views into the buffer.
    public var layout: [TensorSpan]
    /// CRC32C of each chunk of the buffer (verified).
    public var chunkChecksums: [UInt32]

    /// The version's digest (see `WeightAnnouncement.digest`).
    public var digest: UInt32 { WeightAnnouncement.digest(chunkChecksums) }

    /// The precision the weights came in.
    public var precision: WeightPrecision { values.precision }
    /// Elements in the buffer.
    public var count: Int { values.count }
    /// The parameters as float32 (bfloat16 weights widened exactly; a new array).
    public var parameters: [Float] { values.floats }
    /// The bfloat16 bits as broadcast, without any conversion; nil for float32 weights.
    public var bf16: [UInt16]? { if case .bf16(let v) = values { v } else { nil } }
    /// Writes the parameters as float32 (bfloat16 widened exactly) to `destination`, which holds at least `count`.
    public func copyParameters(into destination: UnsafeMutableBufferPointer<Float>) {
        values.copyFloats(into: destination)
    }
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
        /// Every chunk is in and checked: `latest` is now this version.
        case completed(version: UInt64)
        /// A chunk's bytes, intact on the wire, do not match the announcement's checksum for them (after applying
        /// a delta, a base that differs from the one announced): the chunk was dropped and comes again with a
        /// re-send.
        case checksumFailed(version: UInt64, chunk: Int)
        /// A delta against a version this worker does not hold: ignored; a full copy must come.
        case needsFullCopy(version: UInt64)
        /// A full copy of the delta in progress was announced (a re-send): the chunks already in are kept and
        /// the full copy's chunks fill the rest.
        case continuedAsFullCopy(version: UInt64, received: Int, total: Int)
    }

    struct Progress: Sendable {
        var announcement: WeightAnnouncement
        /// Made when the first chunk is stored (a spare offered meanwhile is taken then).
        var buffer: WeightValues?
        var have: [Bool]
        var received = 0
    }

    /// The newest verified version, or nil before the first one.
    public private(set) var latest: PolicyWeights?
    /// Most chunks kept for a version not yet announced.
    public let maxEarlyChunks: Int
    private var progress: Progress?
    private var early: (version: UInt64, chunks: [Int: WeightChunk])?
    /// The buffer of the version before `latest`, reused for the next version instead of a fresh allocation.
    private var spare: WeightValues?

    /// Creates an empty assembler.
    public init(maxEarlyChunks: Int = 4096) { self.maxEarlyChunks = maxEarlyChunks }

    /// True between versions when the next version of the latest one's shape would need a new buffer.
    public var needsSpare: Bool { latest != nil && spare == nil && progress == nil }

    /// Keeps `buffer` for the next version when it has the latest version's shape (and no chunk of a version in
    /// progress is stored yet): a caller that allocates and touches it between versions spares the next broadcast a
    /// page fault per 4 KiB.
    public mutating func offerSpare(_ buffer: WeightValues) {
        guard spare == nil, progress?.buffer == nil, let l = latest, buffer.count == l.count,
            buffer.precision == l.precision
        else { return }
        spare = buffer
    }

    /// The version being assembled, if any.
    public var versionInProgress: UInt64? { progress?.announcement.policyVersion }

    /// True when chunk `index` of `version` is the last chunk of the version in progress.
    public func isLastChunk(version: UInt64, index: Int) -> Bool {
        guard let a = progress?.announcement else { return false }
        return a.policyVersion == version && index == a.chunkCount - 1
    }

    /// Chunks received of the version in progress.
    public var receivedChunks: Int { progress?.received ?? 0 }

    /// The indices of the chunks of the version in progress not yet stored (empty when none is in progress).
    public var missingChunks: [Int] {
        guard let p = progress else { return [] }
        return p.have.indices.filter { !p.have[$0] }
    }

    /// Takes an announcement: starts its version if newer than anything seen, then applies early chunks.
    public mutating func receive(_ a: WeightAnnouncement) -> [Event] {
        let v = a.policyVersion
        if let l = latest, v <= l.version { return [.ignored(version: v)] }
        if var p = progress, v == p.announcement.policyVersion, p.announcement.isDelta, !a.isDelta,
            Self.sameContent(a, p.announcement)
        {
            // Stored delta chunks already hold the version's own bytes (XORed with the base on the way in).
            p.announcement = a
            progress = p
            return [.continuedAsFullCopy(version: v, received: p.received, total: a.chunkCount)]
        }
        if let current = progress?.announcement, !Self.replaces(a, current) { return [.ignored(version: v)] }
        if let error = Self.check(a) { return [.rejected(error)] }
        if a.isDelta {
            guard let l = latest, l.version == a.baseVersion, l.digest == a.baseDigest, l.count == a.elementCount,
                l.precision.dtype == a.dtype
            else { return [.needsFullCopy(version: v)] }
        }
        progress = Progress(announcement: a, buffer: nil, have: [Bool](repeating: false, count: a.chunkCount))
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
        // A delta is usable only with its announcement (which names its base): never kept ahead of it.
        if c.baseVersion != 0 { return .ignored(version: v) }
        // A version nobody announced yet: keep only the newest such version, within bounds.
        if let e = early, v < e.version { return .ignored(version: v) }
        if early == nil || early!.version < v { early = (v, [:]) }
        if early!.chunks[c.index] != nil { return .ignored(version: v) }
        guard early!.chunks.count < maxEarlyChunks else {
            return .rejected(
                RolesError(
                    .invalidWeights, "more than \(maxEarlyChunks) chunks of version \(v) before its announcement"))
        }
        early!.chunks[c.index] = c
        return .buffered(version: v)
    }

    private mutating func store(_ c: WeightChunk) -> Event {
        let meta = ChunkMeta(
            policyVersion: c.policyVersion, index: c.index, count: c.count, offset: c.offset,
            baseVersion: c.baseVersion, dtype: c.data.dtype, elements: c.data.elementCount,
            bytes: c.data.bytes.count)
        return store(meta) { dst, base in
            c.data.bytes.withUnsafeBytes { src in
                guard let base else { return crc32c(copying: src, to: dst, streaming: true) }
                ByteXor.xor(into: dst, src.baseAddress!, base, count: src.count)
                return crc32c(UnsafeRawBufferPointer(start: dst, count: src.count))
            }
        }
    }

    /// Takes a chunk read in place from a frame: its bytes go straight into the version in progress (a chunk
    /// before its announcement is copied and kept, as `receive(_: WeightChunk)` does).
    public mutating func receive(_ c: WeightChunkView) -> Event {
        let v = c.policyVersion
        if let p = progress, v == p.announcement.policyVersion {
            let meta = ChunkMeta(
                policyVersion: v, index: c.index, count: c.count, offset: c.offset,
                baseVersion: c.baseVersion, dtype: c.dtype, elements: c.elements, bytes: c.denseBytes)
            return store(meta) { dst, base in
                base.map { c.applyDelta(to: $0, into: dst) } ?? c.copyDataChecksummed(to: dst, streaming: true)
            }
        }
        guard let owned = c.owned() else {
            return .rejected(RolesError(.invalidWeights, "chunk \(c.index) of version \(v) failed its frame checksum"))
        }
        return receive(owned)
    }

    /// Takes chunk `index` of the version in progress (a full copy) from `bytes`, the whole version in its precision
    /// as the learner wrote it to shared memory: copied into place and checked against the announcement's checksum
    /// (a mismatch: the learner has written a newer version over it since).
    public mutating func receive(chunk index: Int, of version: UInt64, shared bytes: UnsafeRawBufferPointer) -> Event {
        guard let a = progress?.announcement, a.policyVersion == version, !a.isDelta else {
            return .ignored(version: version)
        }
        guard index >= 0, index < a.chunkCount, bytes.count >= a.byteCount else {
            return .rejected(
                RolesError(
                    .invalidWeights,
                    "chunk \(index) of version \(version) lies outside the \(bytes.count) bytes in shared memory"))
        }
        let (offset, count) = a.span(index)
        let size = a.dtype.size
        let meta = ChunkMeta(
            policyVersion: version, index: index, count: count, offset: offset, baseVersion: 0, dtype: a.dtype,
            elements: count, bytes: count * size)
        let source = UnsafeRawBufferPointer(rebasing: bytes[(offset * size)..<((offset + count) * size)])
        return store(meta) { dst, _ in crc32c(copying: source, to: dst, streaming: true) }
    }

    struct ChunkMeta {
        var policyVersion: UInt64, index: Int, count: Int, offset: Int, baseVersion: UInt64
        var dtype: DType, elements: Int, bytes: Int
    }

    /// Writes a chunk into the version in progress: `write` puts its bytes at the destination (for a delta, XORed
    /// with the base version's bytes at the same place, the second argument) and returns the CRC32C of the bytes
    /// it wrote, or nil when they are damaged (the frame's checksum, checked during the copy), and the chunk is
    /// then not taken.
    private mutating func store(
        _ c: ChunkMeta, write: (UnsafeMutableRawPointer, UnsafeRawPointer?) -> UInt32?
    ) -> Event {
        guard var p = progress else { return .ignored(version: c.policyVersion) }
        let a = p.announcement
        // A full copy and a delta of one version may both be on their way: keep to the one announced.
        if c.baseVersion != a.baseVersion { return .ignored(version: c.policyVersion) }
        if let error = Self.check(c, against: a) { return .rejected(error) }
        if p.have[c.index] { return .ignored(version: c.policyVersion) }
        progress = nil  // avoid a copy of the buffer while it is mutated
        let size = a.dtype.size
        let base = a.isDelta ? latest : nil
        let expected = a.chunkChecksums[c.index]
        if p.buffer == nil {
            let precision = WeightPrecision(dtype: a.dtype)!
            if let s = spare, s.count == a.elementCount, s.precision == precision {
                p.buffer = s  // every byte is overwritten by a chunk before the version is exposed
            } else {
                // Not zeroed: the pages are first touched by the chunks' copies, spread over the broadcast, instead
                // of all at once while the first chunks wait in the socket buffer.
                p.buffer = WeightValues(unfilled: a.elementCount, precision: precision)
            }
            spare = nil
        }
        let outcome = p.buffer!.withUnsafeMutableBytes { buffer -> StoreOutcome in
            let range = (c.offset * size)..<((c.offset + c.count) * size)
            let destination = buffer.baseAddress! + range.lowerBound
            let crc =
                base.map { b in b.values.withUnsafeBytes { write(destination, $0.baseAddress! + range.lowerBound) } }
                ?? write(destination, nil)
            guard let crc else { return .damaged }
            return crc == expected ? .stored : .mismatched
        }
        switch outcome {
        case .stored: break
        case .damaged:
            progress = p
            return .rejected(
                RolesError(
                    .invalidWeights,
                    "chunk \(c.index) of version \(c.policyVersion) failed its "
                        + "frame checksum: dropped, it comes again with the next re-send"))
        case .mismatched:
            progress = p
            return .checksumFailed(version: a.policyVersion, chunk: c.index)
        }
        p.have[c.index] = true
        p.received += 1
        guard p.received == a.chunkCount else {
            progress = p
            return .stored(version: a.policyVersion, received: p.received, total: a.chunkCount)
        }
        spare = latest?.values
        latest = PolicyWeights(
            version: a.policyVersion, values: p.buffer!, layout: a.layout, chunkChecksums: a.chunkChecksums)
        return .completed(version: a.policyVersion)
    }

    private enum StoreOutcome { case stored, damaged, mismatched }

    /// True when announcement `a` takes the place of `current`, the version in progress: a newer version, or the same
    /// version with other bytes (from a learner that restarted from an earlier checkpoint and numbers its versions
    /// from there; the version in progress could never complete).
    static func replaces(_ a: WeightAnnouncement, _ current: WeightAnnouncement) -> Bool {
        a.policyVersion > current.policyVersion || a.policyVersion == current.policyVersion && !sameContent(a, current)
    }

    /// True when two announcements describe the same bytes in the same chunks (a delta and its full copy).
    static func sameContent(_ a: WeightAnnouncement, _ b: WeightAnnouncement) -> Bool {
        a.chunkChecksums == b.chunkChecksums && a.elementCount == b.elementCount && a.chunkElements == b.chunkElements
            && a.chunkCount == b.chunkCount && a.dtype == b.dtype && a.layout == b.layout
    }

    static func check(_ a: WeightAnnouncement) -> RolesError? {
        func bad(_ m: String) -> RolesError {
            RolesError(.invalidWeights, "announcement of version \(a.policyVersion): \(m)")
        }
        guard WeightPrecision(dtype: a.dtype) != nil else {
            return bad("dtype \(a.dtype.rawValue), expected float32 or bfloat16")
        }
        guard a.elementCount >= 1, a.chunkElements >= 1 else {
            return bad("\(a.elementCount) elements in chunks of \(a.chunkElements)")
        }
        guard a.chunkCount == (a.elementCount + a.chunkElements - 1) / a.chunkElements else {
            return bad("\(a.chunkCount) chunks cannot hold \(a.elementCount) elements in chunks of \(a.chunkElements)")
        }
        guard a.chunkChecksums.count == a.chunkCount else {
            return bad("\(a.chunkChecksums.count) chunk checksums for \(a.chunkCount) chunks")
        }
        return nil
    }

    static func check(_ c: ChunkMeta, against a: WeightAnnouncement) -> RolesError? {
        func bad(_ m: String) -> RolesError {
            RolesError(.invalidWeights, "chunk \(c.index) of version \(c.policyVersion): \(m)")
        }
        guard c.index >= 0, c.index < a.chunkCount else { return bad("index outside 0..<\(a.chunkCount)") }
        let (offset, count) = a.span(c.index)
        guard c.offset == offset, c.count == count else {
            return bad("covers \(c.count) floats at \(c.offset), announcement says \(count) at \(offset)")
        }
        guard c.dtype == a.dtype, c.elements == count, c.bytes == count * a.dtype.size else {
            return bad(
                "tensor is \(c.elements) \(c.dtype.rawValue) in \(c.bytes) bytes, expected \(a.dtype.rawValue) [\(count)]"
            )
        }

        return nil
    }
}
