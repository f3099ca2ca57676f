import Model

extension ModelConfig {
    /// A small Llama used across the engine's tests: hidden size 128, 4 layers, 4 heads, vocabulary 16 (857,216
    /// parameters, the size of the arithmetic task's policy).
    static let smallLlama = ModelConfig(
        hiddenSize: 128, intermediateSize: 384, numLayers: 4,
        numHeads: 4, numKVHeads: 4, vocabSize: 16,
        maxPositionEmbeddings: 64)
}
