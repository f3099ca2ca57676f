// What a model of a given config allocates up front, counted with overflow checks, and the check against
// the machine's memory that runs before any buffer is allocated.
import Foundation

extension ModelConfig {
    /// Number of parameters, counted with overflow checks; nil when no Int holds it.
    public var checkedParameterCount: Int? {
        let C = hiddenSize
        let F = intermediateSize
        let V = vocabSize
        guard numHeads > 0, numLayers >= 0 else { return nil }
        let D = headDim
        guard let qd = product(numHeads, D), let kvd = product(numKVHeads, D),
            let attention = sum([product(qd, C), product(kvd, C), product(kvd, C), product(C, qd)]),
            let mlp = product(3, F, C),
            let bias = attentionBias ? sum([qd, kvd, kvd]) : 0,
            let layer = sum([
                2 * C, attention, mlp, bias, attentionOutputBias ? C : 0, mlpBias ? 2 * F + C : 0,
                qkNorm ? 2 * D : 0,
            ]),
            let embedding = product(V, C)
        else { return nil }
        let head = scalarHead ? C : (tieWordEmbeddings ? 0 : embedding)
        return sum([embedding, product(numLayers, layer), C, head])
    }

    /// Bytes a `Transformer` of this config allocates when made: parameters and gradients in Float32 and
    /// the rotary tables (optimizer moments and activations come later, with training); nil on overflow.
    public var allocationBytes: Int? {
        guard let parameters = checkedParameterCount, let buffers = product(2, parameters),
            let rotary = product(maxPositionEmbeddings, headDim),
            let floats = sum([buffers, rotary])
        else { return nil }
        return product(4, floats)
    }

    /// Throws `ModelError.invalidConfig` unless `allocationBytes` fits in `available` bytes (this machine's
    /// physical memory by default), so a config that cannot fit fails with one line instead of an abort.
    public func checkMemory(available: UInt64 = ProcessInfo.processInfo.physicalMemory) throws {
        guard let bytes = allocationBytes else {
            throw ModelError.invalidConfig("the parameter count of this config overflows a 64-bit integer")
        }
        guard UInt64(bytes) <= available else {
            let gb = { (b: Double) in String(format: "%.1f GB", b / 1e9) }
            throw ModelError.invalidConfig(
                "a model of this config needs \(gb(Double(bytes))) for its "
                    + "\(checkedParameterCount ?? 0) parameters and their gradients, more than "
                    + "this machine's \(gb(Double(available))) of memory")
        }
    }
}

/// The product of `factors`, or nil when it overflows (or any factor is nil or negative).
private func product(_ factors: Int?...) -> Int? {
    var result = 1
    for factor in factors {
        guard let factor, factor >= 0 else { return nil }
        let (value, overflow) = result.multipliedReportingOverflow(by: factor)
        if overflow { return nil }
        result = value
    }
    return result
}

/// The sum of `terms`, or nil when it overflows (or any term is nil).
private func sum(_ terms: [Int?]) -> Int? {
    var result = 0
    for term in terms {
        guard let term else { return nil }
        let (value, overflow) = result.addingReportingOverflow(term)
        if overflow { return nil }
        result = value
    }
    return result
}
