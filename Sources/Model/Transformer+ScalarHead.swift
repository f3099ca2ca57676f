// A scalar-head copy of a language model: the start of a reward model or a PPO critic.

extension Transformer {
    /// A scalar-head copy of this language model: every transformer weight copied by name, `score.weight`
    /// zero (so every value starts at 0), the language-model head dropped.
    public func scalarHeadCopy() throws -> Transformer {
        var c = config
        c.scalarHead = true
        let copy = try Transformer(config: c)
        for s in copy.layout.specs where s.name != "score.weight" {
            guard let from = layout.spec(named: s.name), from.shape == s.shape else {
                throw ModelError.missingTensor(s.name)
            }
            (copy.params.pointer + s.offset).update(from: params.pointer + from.offset, count: s.count)
        }
        return copy
    }
}
