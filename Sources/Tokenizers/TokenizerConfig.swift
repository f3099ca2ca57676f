import Foundation

/// tokenizer_config.json: the special tokens and options transformers applies on top of tokenizer.json.
public struct TokenizerConfig: Sendable {
    /// Named special tokens (`bos_token`, `eos_token`, ...), each a string or an object with flags.
    public var bosToken: AddedToken?
    public var eosToken: AddedToken?
    public var unkToken: AddedToken?
    public var padToken: AddedToken?
    public var sepToken: AddedToken?
    public var clsToken: AddedToken?
    public var maskToken: AddedToken?
    /// `extra_special_tokens` / `additional_special_tokens`.
    public var extraSpecialTokens: [AddedToken] = []
    /// `added_tokens_decoder`, by id.
    public var addedTokensDecoder: [AddedToken] = []
    /// nil when the key is absent (then tokenizer.json's post-processor stays as it is).
    public var addBosToken: Bool?
    public var addEosToken: Bool?
    public var cleanUpTokenizationSpaces = false
    /// transformers skips the clean-up for BPE models unless this is also set.
    public var cleanUpForBPE = false
    /// The `chat_template` string when it is one (templates are rendered elsewhere).
    public var chatTemplate: String?

    public init() {}

    /// Parses tokenizer_config.json.
    public init(json data: Data) throws {
        guard let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TokenizerError("tokenizer_config.json is not a JSON object")
        }
        bosToken = try Self.token(o["bos_token"], "bos_token")
        eosToken = try Self.token(o["eos_token"], "eos_token")
        unkToken = try Self.token(o["unk_token"], "unk_token")
        padToken = try Self.token(o["pad_token"], "pad_token")
        sepToken = try Self.token(o["sep_token"], "sep_token")
        clsToken = try Self.token(o["cls_token"], "cls_token")
        maskToken = try Self.token(o["mask_token"], "mask_token")
        for key in ["additional_special_tokens", "extra_special_tokens"] {
            if let list = o[key] as? [Any] {
                for (i, t) in list.enumerated() {
                    if let token = try Self.token(t, "\(key)[\(i)]") { extraSpecialTokens.append(token) }
                }
            } else if let map = o[key] as? [String: Any] {
                for name in map.keys.sorted() {
                    if let token = try Self.token(map[name], "\(key).\(name)") { extraSpecialTokens.append(token) }
                }
            }
        }
        if let decoder = o["added_tokens_decoder"] as? [String: Any] {
            for (key, value) in decoder {
                guard let id = Int(key), let t = value as? [String: Any] else {
                    throw TokenizerError("added_tokens_decoder: entry \"\(key)\" needs an integer key and an object")
                }
                var token = try JSONReader.addedToken(t, what: "added_tokens_decoder[\(key)]")
                token.id = id
                addedTokensDecoder.append(token)
            }
            addedTokensDecoder.sort { $0.id < $1.id }
        }
        addBosToken = (o["add_bos_token"] as? NSNumber)?.boolValue
        addEosToken = (o["add_eos_token"] as? NSNumber)?.boolValue
        cleanUpTokenizationSpaces = (o["clean_up_tokenization_spaces"] as? NSNumber)?.boolValue ?? false
        cleanUpForBPE =
            (o["clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output"] as? NSNumber)?
            .boolValue ?? false
        chatTemplate = o["chat_template"] as? String
    }

    /// A special token given as a string (special, not normalized) or as an object with its flags.
    static func token(_ value: Any?, _ key: String) throws -> AddedToken? {
        guard let value, !(value is NSNull) else { return nil }
        if let s = value as? String { return AddedToken(content: s, id: -1, special: true, normalized: false) }
        if let o = value as? [String: Any] {
            guard let content = o["content"] as? String else {
                throw TokenizerError("tokenizer_config.json: \(key) object has no \"content\"")
            }
            func flag(_ k: String, _ d: Bool) -> Bool { (o[k] as? NSNumber)?.boolValue ?? d }
            return AddedToken(
                content: content, id: -1, special: flag("special", true), lstrip: flag("lstrip", false),
                rstrip: flag("rstrip", false), normalized: flag("normalized", false),
                singleWord: flag("single_word", false))
        }
        throw TokenizerError("tokenizer_config.json: \(key) must be a string or an object with \"content\"")
    }

    /// The named special tokens in transformers' order.
    var namedSpecialTokens: [AddedToken] {
        [bosToken, eosToken, unkToken, sepToken, padToken, clsToken, maskToken].compactMap { $0 }
    }
}

/// The end-of-sequence ids of generation_config.json (`eos_token_id`: one id or a list).
public func generationEOSTokenIDs(json data: Data) throws -> [Int] {
    guard let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
        throw TokenizerError("generation_config.json is not a JSON object")
    }
    switch o["eos_token_id"] {
    case nil, is NSNull: return []
    case let n as NSNumber: return [n.intValue]
    case let list as [NSNumber]: return list.map(\.intValue)
    default: throw TokenizerError("generation_config.json: eos_token_id must be an integer or a list of integers")
    }
}
