// Batched generation with a KV cache and continuous batching.
//
// Prompts come left-padded to one width Tp with each row's padding length (the padding is never
// computed). Prefill runs the ordinary forward once over the distinct prompts, packed without padding. At
// most `maxBatch` rows decode at a time, each in a slot of the KV cache: a row's prompt keys and values are
// copied into its slot from the prefill, and each decode step pushes one token per active row through the
// same decoder blocks, attending over the row's own cached positions. A row that stops leaves the batch at
// once and the next waiting row takes its slot, so a few long responses do not hold the rest.
// Behaviour log-prob of a sampled token: log softmax(logits / temperature)[token], the distribution before
// top-k / top-p truncation (temperature 0 = greedy, scored at temperature 1).
// A full forward over prompt + generated tokens gives the same numbers (see SamplingTests).
import Foundation

/// How to sample.
public struct SamplingOptions: Sendable {
    /// 0 means greedy (argmax).
    public var temperature: Float
    /// Nucleus mass in (0, 1]; 1 disables.
    public var topP: Float
    /// Keep the k most likely tokens; 0 disables.
    public var topK: Int
    public var maxNewTokens: Int
    /// Generation of a row stops after it emits one of these (the stop token is returned).
    public var stopTokens: Set<Int32>
    public var seed: UInt64
    /// Rows decoded at a time (0: all); the others wait for a finished row's slot.
    public var maxBatch: Int

    public init(
        temperature: Float = 1, topP: Float = 1, topK: Int = 0, maxNewTokens: Int, stopTokens: Set<Int32> = [],
        seed: UInt64 = 0, maxBatch: Int = 0
    ) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.maxNewTokens = maxNewTokens
        self.stopTokens = stopTokens
        self.seed = seed
        self.maxBatch = maxBatch
    }
}

/// Why a row stopped (raw values match Wire's FinishReason: "stop", "length").
public enum GenerationFinish: String, Sendable, Codable {
    case stop, length
}

/// Generated continuations, one per prompt.
public struct Generation: Sendable {
    /// New tokens of each row (including the stop token when finish is .stop).
    public var tokens: [[Int32]]
    /// Behaviour log-prob of each new token (see file header).
    public var logprobs: [[Float]]
    public var finish: [GenerationFinish]
}

/// Fewest rows a core takes through a decode step (below this a step runs on one core).
let decodeRowsPerCore = 8

extension Transformer {
    /// Generates continuations of `prompts` (equal lengths) with a KV cache. `starts[b]` (empty: all 0) is the
    /// number of left-padding tokens of prompt b: never attended, and positions count from the first real token.
    /// `onToken(row, token)` (optional) sees each new token as it is kept; returning false stops that row.
    public func generate(
        prompts: [[Int32]], options o: SamplingOptions, starts: [Int] = [],
        onToken: ((_ row: Int, _ token: Int32) -> Bool)? = nil
    ) throws -> Generation {
        let c = config
        guard !c.scalarHead else { throw ModelError.invalidInput("scalar-head model cannot generate") }
        guard let Tp = prompts.first?.count, Tp > 0, prompts.allSatisfy({ $0.count == Tp }) else {
            throw ModelError.invalidInput("prompts must be non-empty and of equal length (left-pad them)")
        }
        guard o.maxNewTokens >= 0, o.temperature >= 0, o.topP > 0, o.topP <= 1, o.topK >= 0, o.maxBatch >= 0 else {
            throw ModelError.invalidInput("bad sampling options")
        }
        guard starts.isEmpty || (starts.count == prompts.count && starts.allSatisfy({ (0..<Tp).contains($0) })) else {
            throw ModelError.invalidInput(
                "starts must give each of the \(prompts.count) prompts a first real token in 0..<\(Tp)")
        }
        let B = prompts.count
        guard Tp + o.maxNewTokens <= c.maxPositionEmbeddings else {
            throw ModelError.invalidInput(
                "prompt \(Tp) + max new tokens \(o.maxNewTokens) exceeds max_position_embeddings \(c.maxPositionEmbeddings)"
            )
        }
        var result = Generation(
            tokens: Array(repeating: [], count: B), logprobs: Array(repeating: [], count: B),
            finish: Array(repeating: .length, count: B))
        if o.maxNewTokens == 0 { return result }
        // Prefill each distinct prompt once (a work unit repeats every prompt samplesPerPrompt times), packed
        // without its padding. The arena keeps its keys and values while the rows decode.
        var uniqueIndex: [ArraySlice<Int32>: Int] = [:]
        var unique: [[Int32]] = []
        let source = prompts.indices.map { b in
            let real = prompts[b][(starts.isEmpty ? 0 : starts[b])...]
            if let u = uniqueIndex[real] { return u }
            uniqueIndex[real] = unique.count
            unique.append(Array(real))
            return unique.count - 1
        }
        try forward(packed: unique, forBackward: false)
        defer { forwardDone = false }
        var batch = DecodeBatch(
            model: self, prompts: attention.segments.map { (offset: $0.offset, length: $0.length) },
            rows: B, slots: o.maxBatch > 0 ? min(o.maxBatch, B) : B,
            capacity: unique.map(\.count).max()! + o.maxNewTokens)
        var rng = Xoshiro256(seed: o.seed)
        var waiting = 0
        func admit() {
            var admitted: [(slot: Int, prompt: Int)] = []
            while waiting < B, let slot = batch.freeSlot() {
                batch.occupy(slot, row: waiting)
                admitted.append((slot, source[waiting]))
                waiting += 1
            }
            batch.prefillLogits(admitted)
        }
        admit()
        while batch.hasActiveRows {
            // The draws in slot order, then every slot's token on the cores (each depends only on its logits and
            // its draw), then the tokens kept in slot order.
            let slots = batch.slotsWithLogits()
            let draws = slots.map { _ in o.temperature > 0 ? rng.uniform() : 0 }
            let rows = slots.map { batch.logits($0) }
            var sampled = [(Int32, Float)](repeating: (0, 0), count: slots.count)
            sampled.withUnsafeMutableBufferPointer { buffer in
                let out = buffer
                let sample = { (k: Int) in out[k] = sampleLogits(rows[k], V: c.vocabSize, options: o, u: draws[k]) }
                if slots.count * c.vocabSize >= Self.parallelSamplingElements {
                    Parallel.forEach(slots.count, sample)
                } else {
                    for k in slots.indices { sample(k) }
                }
            }
            for (k, slot) in slots.enumerated() {
                let b = batch.row[slot]
                let (tok, lp) = sampled[k]
                result.tokens[b].append(tok)
                result.logprobs[b].append(lp)
                let keep = onToken?(b, tok) ?? true
                if o.stopTokens.contains(tok) || !keep {
                    result.finish[b] = .stop
                    batch.free(slot)
                } else if result.tokens[b].count == o.maxNewTokens {
                    batch.free(slot)
                } else {
                    batch.feed(slot, token: tok)
                }
            }
            admit()
            batch.step()
        }
        return result
    }

    /// Logits of one step (slots × vocabulary) from which sampling is worth spreading over the cores.
    static let parallelSamplingElements = 1 << 16
}
