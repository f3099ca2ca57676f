import Model

extension ModelConfig {
    /// The starting policy of the arithmetic task (`rpp sft`): a Llama of hidden size 128, 4 layers, 4 heads and
    /// the task's 16-token vocabulary (857,216 parameters).
    public static let arithPolicy = ModelConfig(
        hiddenSize: 128, intermediateSize: 384, numLayers: 4,
        numHeads: 4, numKVHeads: 4, vocabSize: 16,
        maxPositionEmbeddings: 64)
}
