// ParameterLayout: sizes every parameter tensor of a model (one function, in the manner of llm.c's
// fill_in_parameter_sizes) and carves one contiguous Float32 buffer into named views. Parameters,
// gradients and AdamW's first and second moments each use one such buffer with the same layout.
import Foundation

/// One named tensor in a flat parameter buffer: Hugging Face name, shape and element offset.
public struct TensorSpec: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
}

/// Element offsets of one decoder layer's tensors inside the flat buffer.
public struct LayerOffsets: Sendable {
    public var ln1 = 0, wq = 0, bq = -1, wk = 0, bk = -1, wv = 0, bv = -1, wo = 0, bo = -1
    /// Per-head RMSNorm weights [D] of q and k (Qwen3), -1 when absent.
    public var qNorm = -1, kNorm = -1
    public var ln2 = 0, wGate = 0, bGate = -1, wUp = 0, bUp = -1, wDown = 0, bDown = -1
}

/// The layout of every parameter: specs in Hugging Face order and per-layer offsets.
public struct ParameterLayout: Sendable {
    public let specs: [TensorSpec]
    public let totalCount: Int
    public let embed: Int
    public let layers: [LayerOffsets]
    public let finalNorm: Int
    /// Offset of lm_head.weight [V, C], or of the embedding when tied.
    public let lmHead: Int
    /// Offset of score.weight [1, C] for the scalar head, -1 otherwise.
    public let score: Int

    /// Sizes every tensor for `config`.
    public init(config c: ModelConfig) {
        var specs: [TensorSpec] = []
        var off = 0
        func add(_ name: String, _ shape: [Int]) -> Int {
            let s = TensorSpec(name: name, shape: shape, offset: off)
            specs.append(s)
            off += s.count
            return s.offset
        }
        let C = c.hiddenSize
        let D = c.headDim
        let F = c.intermediateSize
        let qd = c.numHeads * D
        let kvd = c.numKVHeads * D
        embed = add("model.embed_tokens.weight", [c.vocabSize, C])
        var layers: [LayerOffsets] = []
        for l in 0..<c.numLayers {
            let p = "model.layers.\(l)."
            var o = LayerOffsets()
            o.ln1 = add(p + "input_layernorm.weight", [C])
            o.wq = add(p + "self_attn.q_proj.weight", [qd, C])
            if c.attentionBias { o.bq = add(p + "self_attn.q_proj.bias", [qd]) }
            o.wk = add(p + "self_attn.k_proj.weight", [kvd, C])
            if c.attentionBias { o.bk = add(p + "self_attn.k_proj.bias", [kvd]) }
            o.wv = add(p + "self_attn.v_proj.weight", [kvd, C])
            if c.attentionBias { o.bv = add(p + "self_attn.v_proj.bias", [kvd]) }
            o.wo = add(p + "self_attn.o_proj.weight", [C, qd])
            if c.attentionOutputBias { o.bo = add(p + "self_attn.o_proj.bias", [C]) }
            if c.qkNorm {
                o.qNorm = add(p + "self_attn.q_norm.weight", [D])
                o.kNorm = add(p + "self_attn.k_norm.weight", [D])
            }
            o.ln2 = add(p + "post_attention_layernorm.weight", [C])
            o.wGate = add(p + "mlp.gate_proj.weight", [F, C])
            if c.mlpBias { o.bGate = add(p + "mlp.gate_proj.bias", [F]) }
            o.wUp = add(p + "mlp.up_proj.weight", [F, C])
            if c.mlpBias { o.bUp = add(p + "mlp.up_proj.bias", [F]) }
            o.wDown = add(p + "mlp.down_proj.weight", [C, F])
            if c.mlpBias { o.bDown = add(p + "mlp.down_proj.bias", [C]) }
            layers.append(o)
        }
        self.layers = layers
        finalNorm = add("model.norm.weight", [C])
        if c.scalarHead {
            score = add("score.weight", [1, C])
            lmHead = embed
        } else {
            score = -1
            lmHead = c.tieWordEmbeddings ? embed : add("lm_head.weight", [c.vocabSize, C])
        }
        self.specs = specs
        totalCount = off
    }

    /// The spec with Hugging Face name `name`, if the model has it.
    public func spec(named name: String) -> TensorSpec? { specs.first { $0.name == name } }
}

/// A contiguous, zero-initialised, 64-byte aligned Float32 buffer that the owner frees. A `lazy` buffer of
/// 1 MB or more is an anonymous mapping whose pages take memory only once written (a model that never
/// trains leaves its gradient buffer unbacked).
public final class FloatBuffer: @unchecked Sendable {
    /// Base pointer of `count` floats.
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    private let mapping: PageMapping

    /// Allocates `count` zeroed floats.
    public init(count: Int, lazy: Bool = false) {
        self.count = count
        mapping = PageMapping(bytes: max(count, 1) * 4, lazy: lazy)
        pointer = mapping.base.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Sets every element to zero.
    public func zero() { pointer.update(repeating: 0, count: count) }
    /// Copies the contents into an array.
    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    /// Copies `other` (same count) into this buffer.
    public func copy(from other: FloatBuffer) {
        precondition(other.count == count)
        pointer.update(from: other.pointer, count: count)
    }
    /// Pointer at element `offset`.
    @inline(__always) public subscript(offset: Int) -> UnsafeMutablePointer<Float> { pointer + offset }
    /// Gives the memory back to the system; every element reads as zero afterwards.
    public func release() { mapping.release() }
    /// Backs every page of a lazy buffer now, keeping its contents. For a buffer that will be read and then
    /// written in place, such as an optimizer's moments: a first read would map the shared zero page, and the
    /// write that follows would fault again and flush that page from every core's TLB, an interrupt to each
    /// core per page (see docs/benchmarks.md, "First optimizer step").
    public func backPages() { mapping.backPages() }
}

/// A contiguous, zero-initialised buffer of bfloat16 values (raw bits), laid out like a FloatBuffer.
public final class BFloat16Buffer: @unchecked Sendable {
    /// Base pointer of `count` bfloat16 values.
    public let pointer: UnsafeMutablePointer<UInt16>
    public let count: Int
    private let mapping: PageMapping

    /// Allocates `count` zeroed values.
    public init(count: Int) {
        self.count = count
        mapping = PageMapping(bytes: max(count, 1) * 2, lazy: true)
        pointer = mapping.base.bindMemory(to: UInt16.self, capacity: max(count, 1))
    }
}

/// Zeroed memory: when lazy, an anonymous mapping from 1 MB up (pages backed on first write); the heap otherwise.
final class PageMapping: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let bytes: Int
    let mapped: Bool

    init(bytes: Int, lazy: Bool) {
        self.bytes = bytes
        if lazy, bytes >= 1 << 20, let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            p != MAP_FAILED
        {
            base = p
            mapped = true
        } else {
            base = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            mapped = false
        }
    }

    /// Returns the pages to the system (they read as zero afterwards); zeroes a heap block.
    func release() {
        if mapped {
            madvise(base, bytes, MADV_DONTNEED)
        } else {
            base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        }
    }

    /// Linux's MADV_POPULATE_WRITE (5.14 and later): write-faults every page in the range, contents unchanged.
    private static let populateWrite: Int32 = 23

    func backPages() {
        // On an older kernel madvise fails with EINVAL and the pages come on first use, as before.
        if mapped { _ = madvise(base, bytes, Self.populateWrite) }
    }

    deinit { if mapped { munmap(base, bytes) } else { base.deallocate() } }
}
