import Foundation

/// Token strings as Unicode scalars, compared scalar by scalar (Swift's String equality would treat
/// canonically equivalent spellings as one token).
struct ScalarKey: Hashable, Sendable {
    let scalars: [UInt32]

    static func == (a: ScalarKey, b: ScalarKey) -> Bool { a.scalars == b.scalars }

    /// One FNV-1a pass fed to the hasher as a single word (cheaper than combining every scalar).
    func hash(into hasher: inout Hasher) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in scalars { h = (h ^ UInt64(v)) &* 0x100_0000_01b3 }
        hasher.combine(h)
        hasher.combine(scalars.count)
    }
}

/// A byte-pair-encoding model: vocabulary, ranked merges and the options of tokenizer.json's BPE.
final class BPEModel: @unchecked Sendable {
    let vocab: [ScalarKey: Int32]
    /// Token of each id (nil for ids no entry has).
    let tokens: [[UInt32]?]
    /// (left id << 32 | right id) -> (rank, merged id).
    let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Id of each single-scalar token, for the common case without prefix or suffix.
    let singleScalar: [UInt32: Int32]
    let byteFallbackIDs: [Int32?]
    let unkID: Int32?
    let unkToken: String?
    let fuseUnk: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    let continuingSubwordPrefix: [UInt32]?
    let endOfWordSuffix: [UInt32]?
    private let cache = WordCache()

    init(
        vocab: [ScalarKey: Int32], merges: [([UInt32], [UInt32])], unkToken: String?, fuseUnk: Bool,
        byteFallback: Bool, ignoreMerges: Bool, continuingSubwordPrefix: String?, endOfWordSuffix: String?
    ) throws {
        self.vocab = vocab
        let maxID = Int(vocab.values.max() ?? -1)
        var tokens = [[UInt32]?](repeating: nil, count: maxID + 1)
        for (k, id) in vocab where id >= 0 { tokens[Int(id)] = k.scalars }
        self.tokens = tokens
        var single: [UInt32: Int32] = [:]
        for (k, id) in vocab where k.scalars.count == 1 { single[k.scalars[0]] = id }
        singleScalar = single
        byteFallbackIDs = (0..<256).map { b in
            vocab[ScalarKey(scalars: Array(String(format: "<0x%02X>", b).unicodeScalars.map(\.value)))]
        }
        let prefix = continuingSubwordPrefix.flatMap { $0.isEmpty ? nil : $0.unicodeScalars.map(\.value) }
        self.continuingSubwordPrefix = prefix
        self.endOfWordSuffix = endOfWordSuffix.flatMap { $0.isEmpty ? nil : $0.unicodeScalars.map(\.value) }
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = vocab[ScalarKey(scalars: a)] else {
                throw TokenizerError("BPE merge \(rank): token \"\(Self.text(a))\" is not in the vocabulary")
            }
            guard let ib = vocab[ScalarKey(scalars: b)] else {
                throw TokenizerError("BPE merge \(rank): token \"\(Self.text(b))\" is not in the vocabulary")
            }
            let tail = prefix.map { b.starts(with: $0) ? Array(b.dropFirst($0.count)) : b } ?? b
            guard let merged = vocab[ScalarKey(scalars: a + tail)] else {
                throw TokenizerError(
                    "BPE merge \(rank): merged token \"\(Self.text(a + tail))\" is not in the vocabulary")
            }
            table[UInt64(UInt32(bitPattern: ia)) << 32 | UInt64(UInt32(bitPattern: ib))] = (Int32(rank), merged)
        }
        self.merges = table
        self.unkToken = unkToken
        if let unkToken {
            unkID = vocab[ScalarKey(scalars: unkToken.unicodeScalars.map(\.value))]
        } else {
            unkID = nil
        }
        self.fuseUnk = fuseUnk
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
    }

    static func text(_ scalars: [UInt32]) -> String {
        var s = String.UnicodeScalarView()
        for v in scalars { if let u = Unicode.Scalar(v) { s.append(u) } }
        return String(s)
    }

    /// Number of entries in the vocabulary (added tokens not included).
    var vocabCount: Int { vocab.count }

    /// The ids of one pre-tokenized word.
    func tokenize(_ word: [UInt32], into out: inout [Int32]) throws {
        if word.isEmpty { return }
        if ignoreMerges, let id = vocab[ScalarKey(scalars: word)] {
            out.append(id)
            return
        }
        if let hit = cache.get(word) {
            out.append(contentsOf: hit)
            return
        }
        let ids = try merge(word)
        if word.count < 256 { cache.put(word, ids) }
        out.append(contentsOf: ids)
    }

    /// Initial symbols (one per scalar, or byte-fallback / unknown tokens), then merges lowest rank first,
    /// leftmost first among equal ranks.
    private func merge(_ word: [UInt32]) throws -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(word.count)
        var pendingUnk = false
        let plain = continuingSubwordPrefix == nil && endOfWordSuffix == nil
        for (i, v) in word.enumerated() {
            var id: Int32?
            if plain {
                id = singleScalar[v]
            } else {
                var s = [v]
                if i > 0, let p = continuingSubwordPrefix { s = p + s }
                if i == word.count - 1, let x = endOfWordSuffix { s += x }
                id = vocab[ScalarKey(scalars: s)]
            }
            if let id {
                if pendingUnk, let unkID { ids.append(unkID) }
                pendingUnk = false
                ids.append(id)
                continue
            }
            if byteFallback {
                let bytes = Array(String(Character(Unicode.Scalar(v) ?? "\u{FFFD}")).utf8)
                let fallback = bytes.compactMap { byteFallbackIDs[Int($0)] }
                if fallback.count == bytes.count {
                    // As in the tokenizers library, a pending unknown token stays pending past byte tokens.
                    ids.append(contentsOf: fallback)
                    continue
                }
            }
            if let unkToken {
                guard let unkID else {
                    throw TokenizerError("the unknown token \"\(unkToken)\" is not in the vocabulary")
                }
                if pendingUnk && !fuseUnk { ids.append(unkID) }
                pendingUnk = true
            }
        }
        if pendingUnk, let unkID { ids.append(unkID) }
        return applyMerges(ids)
    }

    private struct Candidate: Comparable {
        let rank: Int32
        let pos: Int32
        let id: Int32
        static func < (a: Candidate, b: Candidate) -> Bool {
            a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos
        }
    }

    private func applyMerges(_ initial: [Int32]) -> [Int32] {
        let n = initial.count
        if n < 2 { return initial }
        var ids = initial
        var prev = (0..<n).map { Int32($0 - 1) }
        var next = (0..<n).map { Int32($0 + 1 < n ? $0 + 1 : -1) }
        var alive = [Bool](repeating: true, count: n)
        var heap = MinHeap<Candidate>()
        for i in 0..<(n - 1) {
            if let m = merges[Self.pairKey(ids[i], ids[i + 1])] {
                heap.push(Candidate(rank: m.rank, pos: Int32(i), id: m.id))
            }
        }
        while let top = heap.pop() {
            let p = Int(top.pos)
            guard alive[p], next[p] >= 0 else { continue }
            let q = Int(next[p])
            guard let m = merges[Self.pairKey(ids[p], ids[q])], m.id == top.id else { continue }
            ids[p] = top.id
            alive[q] = false
            next[p] = next[q]
            if next[q] >= 0 { prev[Int(next[q])] = Int32(p) }
            if prev[p] >= 0, let m = merges[Self.pairKey(ids[Int(prev[p])], ids[p])] {
                heap.push(Candidate(rank: m.rank, pos: prev[p], id: m.id))
            }
            if next[p] >= 0, let m = merges[Self.pairKey(ids[p], ids[Int(next[p])])] {
                heap.push(Candidate(rank: m.rank, pos: Int32(p), id: m.id))
            }
        }
        var out: [Int32] = []
        var i = 0
        while i >= 0 && i < n {
            out.append(ids[i])
            i = Int(next[i])
        }
        return out
    }

    @inline(__always) static func pairKey(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }
}

/// A binary min-heap.
struct MinHeap<T: Comparable> {
    private var items: [T] = []

    mutating func push(_ x: T) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[i] < items[parent] {
                items.swapAt(i, parent)
                i = parent
            } else {
                break
            }
        }
    }

    mutating func pop() -> T? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return first }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < items.count && items[l] < items[m] { m = l }
            if r < items.count && items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return first
    }
}

/// Merged ids of words seen before, shared by the threads that encode with one tokenizer.
final class WordCache: @unchecked Sendable {
    private var table: [ScalarKey: [Int32]] = [:]
    private let lock = NSLock()
    private let capacity = 100_000

    func get(_ word: [UInt32]) -> [Int32]? {
        lock.lock()
        defer { lock.unlock() }
        return table[ScalarKey(scalars: word)]
    }

    func put(_ word: [UInt32], _ ids: [Int32]) {
        lock.lock()
        defer { lock.unlock() }
        if table.count < capacity { table[ScalarKey(scalars: word)] = ids }
    }
}
