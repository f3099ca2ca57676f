import Foundation

/// A model's tokenizer as transformers loads it from a directory: tokenizer.json, with the special tokens,
/// `add_bos_token` / `add_eos_token` and decode options of tokenizer_config.json, and the stop tokens of
/// generation_config.json.
public final class LoadedTokenizer: Sendable {
    /// The tokenizer with the config applied (its post-processor adds what transformers' would).
    public let tokenizer: Tokenizer
    public let config: TokenizerConfig
    public let bosTokenID: Int?
    public let eosTokenID: Int?
    public let padTokenID: Int?
    public let unkTokenID: Int?
    /// Ids that end generation: generation_config.json's `eos_token_id` (one or several), else the EOS token.
    public let stopTokenIDs: [Int]

    /// Loads `path`: a model directory (tokenizer.json, optional tokenizer_config.json and
    /// generation_config.json) or a tokenizer.json file (then its siblings are read when present).
    public convenience init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TokenizerError("\(path) does not exist (give a model directory or a tokenizer.json)")
        }
        let url = URL(fileURLWithPath: path)
        let directory = isDirectory.boolValue ? url : url.deletingLastPathComponent()
        let tokenizerFile = isDirectory.boolValue ? url.appendingPathComponent("tokenizer.json") : url
        guard FileManager.default.fileExists(atPath: tokenizerFile.path) else {
            throw TokenizerError(
                "\(directory.path) has no tokenizer.json (rpp reads Hugging Face tokenizer.json files)")
        }
        let tokenizer = try Tokenizer(contentsOf: tokenizerFile)
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        var config = TokenizerConfig()
        if let data = try? Data(contentsOf: configURL) {
            do {
                config = try TokenizerConfig(json: data)
            } catch let e as TokenizerError {
                throw TokenizerError("\(configURL.path): \(e.message)")
            }
        }
        var generationEOS: [Int] = []
        let generationURL = directory.appendingPathComponent("generation_config.json")
        if let data = try? Data(contentsOf: generationURL) {
            do {
                generationEOS = try generationEOSTokenIDs(json: data)
            } catch let e as TokenizerError {
                throw TokenizerError("\(generationURL.path): \(e.message)")
            }
        }
        try self.init(tokenizer: tokenizer, config: config, generationEOSTokenIDs: generationEOS)
    }

    /// Applies `config` to `tokenizer` as transformers (5.x) does when a tokenizer.json is present: special
    /// tokens the tokenizer lacks become added special tokens. `add_bos_token` / `add_eos_token` are read but
    /// change nothing: transformers drops them when tokenizer.json exists, and its post-processor decides
    /// which special tokens `tokenizer(text)` adds.
    public init(tokenizer base: Tokenizer, config: TokenizerConfig, generationEOSTokenIDs: [Int] = []) throws {
        self.config = config
        let extra = config.addedTokensDecoder + config.namedSpecialTokens + config.extraSpecialTokens
        let withTokens = try base.with(postProcessor: base.postProcessor, addedTokens: extra)
        func id(_ t: AddedToken?) -> Int? { t.flatMap { withTokens.id(of: $0.content) } }
        let bos = id(config.bosToken)
        let eos = id(config.eosToken)
        tokenizer = withTokens
        bosTokenID = bos
        eosTokenID = eos
        padTokenID = id(config.padToken)
        unkTokenID = id(config.unkToken)
        var stops = generationEOSTokenIDs
        if stops.isEmpty, let eos { stops = [eos] }
        stopTokenIDs = stops
    }

    /// transformers' `tokenizer(text)["input_ids"]`.
    public func encode(_ text: String) throws -> [Int] {
        try tokenizer.encode(text, addSpecialTokens: true)
    }

    /// transformers' `tokenizer.decode(ids)` (special tokens kept unless asked otherwise).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) throws -> String {
        let text = try tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        return config.cleanUpTokenizationSpaces && config.cleanUpForBPE ? Self.cleanUp(text) : text
    }

    /// transformers' `clean_up_tokenization`: removes the space before some punctuation and contractions.
    static func cleanUp(_ text: String) -> String {
        var t = text
        for (a, b) in [
            (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
            (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
        ] {
            t = t.replacingOccurrences(of: a, with: b, options: .literal)
        }
        return t
    }
}
