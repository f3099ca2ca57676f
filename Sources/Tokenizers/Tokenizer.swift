import Foundation

/// A Hugging Face tokenizer (tokenizer.json with a BPE model): encode text to ids and decode ids to text
/// exactly as the `tokenizers` library does.
///
/// Encoding: added tokens are cut out of the raw text (those with `normalized: false`), the rest is
/// normalized, added tokens with `normalized: true` are cut out of the normalized text, the remaining
/// pieces are pre-tokenized into words, each word goes through BPE, and the post-processor adds its
/// special tokens.
public final class Tokenizer: Sendable {
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: BPEModel
    let postProcessor: PostProcessor?
    let decoder: Decoder?
    let added: AddedVocabulary

    init(
        normalizer: Normalizer?, preTokenizer: PreTokenizer?, model: BPEModel, postProcessor: PostProcessor?,
        decoder: Decoder?, added: AddedVocabulary
    ) {
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        self.decoder = decoder
        self.added = added
    }

    /// A copy of this tokenizer with another post-processor (transformers rebuilds it from
    /// `add_bos_token` / `add_eos_token`) and more added tokens.
    func with(postProcessor: PostProcessor?, addedTokens: [AddedToken]) throws -> Tokenizer {
        var vocabulary = added
        if !addedTokens.isEmpty { try vocabulary.add(addedTokens, model: model, normalizer: normalizer) }
        return Tokenizer(
            normalizer: normalizer, preTokenizer: preTokenizer, model: model,
            postProcessor: postProcessor, decoder: decoder, added: vocabulary)
    }

    /// The ids of `text`; with `addSpecialTokens` the post-processor's special tokens too (as
    /// transformers' `tokenizer(text)["input_ids"]`).
    public func encode(_ text: String, addSpecialTokens: Bool = true) throws -> [Int] {
        let ids = try encodeIDs(text)
        let processed = addSpecialTokens ? (postProcessor?.process(ids) ?? ids) : ids
        return processed.map { Int($0) }
    }

    /// `ids` (of one text, encoded without special tokens) with the special tokens the post-processor adds
    /// around a single sequence, as transformers' `build_inputs_with_special_tokens`.
    public func addingSpecialTokens(_ ids: [Int]) -> [Int] {
        guard let postProcessor else { return ids }
        return postProcessor.process(ids.map { Int32(truncatingIfNeeded: $0) }).map { Int($0) }
    }

    func encodeIDs(_ text: String) throws -> [Int32] {
        let scalars = text.unicodeScalars.map(\.value)
        var ids: [Int32] = []
        ids.reserveCapacity(scalars.count / 3)
        for raw in added.split(scalars, normalized: false) {
            if let id = raw.id {
                // Empty pieces are dropped, added tokens included (an empty match left by strips).
                if !raw.range.isEmpty { ids.append(id) }
                continue
            }
            if raw.range.isEmpty { continue }
            var piece = TextPiece(scalars: Array(scalars[raw.range]), atOrigin: raw.range.lowerBound == 0)
            if let normalizer { try normalizer.apply(&piece) }
            for segment in added.split(piece.scalars, normalized: true) {
                if let id = segment.id {
                    if !segment.range.isEmpty { ids.append(id) }
                    continue
                }
                if segment.range.isEmpty { continue }
                let sub = TextPiece(
                    scalars: Array(piece.scalars[segment.range]),
                    atOrigin: piece.atOrigin && segment.range.lowerBound == 0)
                let words = try preTokenizer?.apply([sub]) ?? [sub]
                for word in words { try model.tokenize(word.scalars, into: &ids) }
            }
        }
        return ids
    }

    /// The text of `ids` as the tokenizers library decodes them; ids without a token are skipped.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) throws -> String {
        var tokens: [[UInt32]] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            guard let id32 = Int32(exactly: id) else { continue }
            if let form = added.decodeForm(id32) {
                if skipSpecialTokens && isSpecial(form) { continue }
                tokens.append(form)
            } else if id32 >= 0, Int(id32) < model.tokens.count, let token = model.tokens[Int(id32)] {
                if skipSpecialTokens && isSpecial(token) { continue }
                tokens.append(token)
            }
        }
        let scalars: [UInt32]
        if let decoder {
            scalars = try decoder.decodeChain(tokens).flatMap { $0 }
        } else {
            scalars = Array(tokens.map { $0 }.joined(separator: [32]))
        }
        var view = String.UnicodeScalarView()
        for v in scalars { if let u = Unicode.Scalar(v) { view.append(u) } }
        return String(view)
    }

    private func isSpecial(_ token: [UInt32]) -> Bool {
        guard let id = added.idOfContent[ScalarKey(scalars: token)] else { return false }
        return added.byID[id]?.special ?? false
    }

    /// The id of a token string (added tokens first, then the model's vocabulary).
    public func id(of token: String) -> Int? {
        let key = ScalarKey(scalars: token.unicodeScalars.map(\.value))
        if let id = added.idOfContent[key] ?? model.vocab[key] { return Int(id) }
        return nil
    }

    /// The token string of an id, or nil.
    public func token(of id: Int) -> String? {
        guard let id32 = Int32(exactly: id) else { return nil }
        if let token = added.byID[id32] { return token.content }
        guard id32 >= 0, Int(id32) < model.tokens.count, let t = model.tokens[Int(id32)] else { return nil }
        return BPEModel.text(t)
    }

    /// The added tokens, by id.
    public var addedTokens: [AddedToken] { added.byID.values.sorted { $0.id < $1.id } }

    /// Size of the vocabulary including added tokens (one more than the largest id).
    public var vocabularySize: Int {
        max(model.tokens.count, Int(added.byID.keys.max() ?? -1) + 1)
    }
}
