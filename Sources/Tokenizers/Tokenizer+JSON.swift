import Foundation

/// Reading tokenizer.json. Components rpp does not implement are refused with an error that names them.
extension Tokenizer {
    /// Loads a tokenizer.json file.
    public convenience init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError("cannot read \(url.path): \(error.localizedDescription)")
        }
        do {
            try self.init(json: data)
        } catch let e as TokenizerError {
            throw TokenizerError("\(url.path): \(e.message)")
        }
    }

    /// Parses the contents of a tokenizer.json.
    public convenience init(json data: Data) throws {
        guard let root = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [String: Any]
        else {
            throw TokenizerError("not a JSON object (expected a tokenizer.json)")
        }
        if let version = root["version"] as? String, version != "1.0" {
            throw TokenizerError("unknown tokenizer.json version \"\(version)\" (rpp reads version 1.0)")
        }
        guard let modelJSON = root["model"] as? [String: Any] else {
            throw TokenizerError("no \"model\" object")
        }
        let model = try JSONReader.model(modelJSON)
        let normalizer = try JSONReader.optional(root["normalizer"], JSONReader.normalizer)
        let preTokenizer = try JSONReader.optional(root["pre_tokenizer"], JSONReader.preTokenizer)
        var added = AddedVocabulary()
        let addedJSON = root["added_tokens"] as? [[String: Any]] ?? []
        var tokens: [AddedToken] = []
        for (i, t) in addedJSON.enumerated() {
            tokens.append(try JSONReader.addedToken(t, what: "added_tokens[\(i)]"))
        }
        try added.add(tokens, model: model, normalizer: normalizer)
        let postProcessor = try JSONReader.optional(root["post_processor"]) {
            try JSONReader.postProcessor($0, model, added)
        }
        let decoder = try JSONReader.optional(root["decoder"], JSONReader.decoder)
        self.init(
            normalizer: normalizer, preTokenizer: preTokenizer, model: model, postProcessor: postProcessor,
            decoder: decoder, added: added)
    }
}

/// Converters from tokenizer.json's JSON objects to the components.
enum JSONReader {
    static func optional<T>(_ value: Any?, _ read: (Any) throws -> T) throws -> T? {
        guard let value, !(value is NSNull) else { return nil }
        return try read(value)
    }

    static func object(_ value: Any, _ what: String) throws -> [String: Any] {
        guard let o = value as? [String: Any] else { throw TokenizerError("\(what) is not a JSON object") }
        return o
    }

    static func type(_ o: [String: Any], _ what: String) throws -> String {
        guard let t = o["type"] as? String else { throw TokenizerError("\(what) has no \"type\"") }
        return t
    }

    static func bool(_ o: [String: Any], _ key: String, _ defaultValue: Bool) -> Bool {
        (o[key] as? NSNumber)?.boolValue ?? defaultValue
    }

    static func string(_ o: [String: Any], _ key: String, _ what: String) throws -> String {
        guard let s = o[key] as? String else { throw TokenizerError("\(what): \"\(key)\" must be a string") }
        return s
    }

    static func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }

    static func singleScalar(_ o: [String: Any], _ key: String, _ what: String) throws -> UInt32 {
        let s = try string(o, key, what)
        guard s.unicodeScalars.count == 1 else { throw TokenizerError("\(what): \"\(key)\" must be one character") }
        return s.unicodeScalars.first!.value
    }

    /// A `{"String": ...}` or `{"Regex": ...}` pattern, compiled.
    static func pattern(_ value: Any?, _ what: String) throws -> ScalarRegex {
        guard let p = value as? [String: Any] else { throw TokenizerError("\(what): \"pattern\" must be an object") }
        if let s = p["String"] as? String { return ScalarRegex.literal(s) }
        if let r = p["Regex"] as? String {
            do {
                return try ScalarRegex(r)
            } catch let e as TokenizerError {
                throw TokenizerError("\(what): \(e.message)")
            }
        }
        throw TokenizerError("\(what): \"pattern\" needs \"String\" or \"Regex\"")
    }

    static func behavior(
        _ o: [String: Any], _ what: String,
        _ defaultValue: SplitBehavior? = nil
    ) throws -> SplitBehavior {
        guard let raw = o["behavior"] as? String else {
            if let defaultValue { return defaultValue }
            throw TokenizerError("\(what): missing \"behavior\"")
        }
        guard let b = SplitBehavior(rawValue: raw) else {
            throw TokenizerError(
                "\(what): unknown behavior \"\(raw)\" (Removed, Isolated, MergedWithPrevious, "
                    + "MergedWithNext or Contiguous)")
        }
        return b
    }

    static func prependScheme(_ o: [String: Any], _ what: String) throws -> PrependScheme {
        var scheme = PrependScheme.always
        if let raw = o["prepend_scheme"] as? String {
            guard let s = PrependScheme(rawValue: raw) else {
                throw TokenizerError("\(what): unknown prepend_scheme \"\(raw)\" (first, never or always)")
            }
            scheme = s
        }
        if let add = o["add_prefix_space"] as? NSNumber, !add.boolValue {
            if o["prepend_scheme"] != nil && scheme != .never {
                throw TokenizerError("\(what): add_prefix_space false does not match prepend_scheme \(scheme.rawValue)")
            }
            scheme = .never
        }
        return scheme
    }

    static func unsupported(_ kind: String, _ name: String) -> TokenizerError {
        TokenizerError(
            "\(kind) \"\(name)\" is not supported by rpp (it reads BPE tokenizers: byte-level like "
                + "GPT-2/Llama 3/Qwen2, or SentencePiece-style with byte fallback like Llama 2/Mistral)")
    }

    static func normalizer(_ value: Any) throws -> Normalizer {
        let o = try object(value, "normalizer")
        let t = try type(o, "normalizer")
        let what = "normalizer \(t)"
        switch t {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "StripAccents": return .stripAccents
        case "ByteLevel": return .byteLevel
        case "Strip": return .strip(left: bool(o, "strip_left", true), right: bool(o, "strip_right", true))
        case "Prepend": return .prepend(scalars(try string(o, "prepend", what)))
        case "Replace": return .replace(try pattern(o["pattern"], what), scalars(try string(o, "content", what)))
        case "Sequence":
            guard let list = o["normalizers"] as? [Any] else {
                throw TokenizerError("\(what): missing \"normalizers\"")
            }
            return .sequence(try list.map(normalizer))
        default: throw unsupported("normalizer", t)
        }
    }

    static func preTokenizer(_ value: Any) throws -> PreTokenizer {
        let o = try object(value, "pre_tokenizer")
        let t = try type(o, "pre_tokenizer")
        let what = "pre_tokenizer \(t)"
        switch t {
        case "ByteLevel":
            let regex = bool(o, "use_regex", true) ? try ScalarRegex(gpt2Pattern) : nil
            return .byteLevel(addPrefixSpace: bool(o, "add_prefix_space", true), regex: regex)
        case "Split":
            return .split(try pattern(o["pattern"], what), try behavior(o, what), invert: bool(o, "invert", false))
        case "Digits": return .digits(individual: bool(o, "individual_digits", false))
        case "Metaspace":
            return .metaspace(
                replacement: try singleScalar(o, "replacement", what), scheme: try prependScheme(o, what),
                split: bool(o, "split", true))
        case "Whitespace": return .whitespace(try ScalarRegex(#"\w+|[^\w\s]+"#, flavor: .rust))
        case "WhitespaceSplit": return .whitespaceSplit
        case "Punctuation": return .punctuation(try behavior(o, what, .isolated))
        case "BertPreTokenizer": return .sequence([.whitespaceSplit, .punctuation(.isolated)])
        case "Sequence":
            guard let list = o["pretokenizers"] as? [Any] else {
                throw TokenizerError("\(what): missing \"pretokenizers\"")
            }
            return .sequence(try list.map(preTokenizer))
        default: throw unsupported("pre_tokenizer", t)
        }
    }

    static func model(_ o: [String: Any]) throws -> BPEModel {
        let t = o["type"] as? String ?? (o["merges"] != nil ? "BPE" : "unknown")
        guard t == "BPE" else { throw unsupported("model", t) }
        if let dropout = o["dropout"] as? NSNumber, dropout.doubleValue > 0 {
            throw TokenizerError("model BPE: dropout \(dropout) makes encoding random; rpp needs dropout null")
        }
        guard let vocabJSON = o["vocab"] as? [String: Any] else {
            throw TokenizerError("model BPE: \"vocab\" must be an object of token -> id")
        }
        var vocab: [ScalarKey: Int32] = [:]
        vocab.reserveCapacity(vocabJSON.count)
        for (token, id) in vocabJSON {
            guard let n = id as? NSNumber, let id32 = Int32(exactly: n.doubleValue), id32 >= 0 else {
                throw TokenizerError("model BPE: id of \"\(token)\" is not a non-negative integer")
            }
            vocab[ScalarKey(scalars: scalars(token))] = id32
        }
        guard let mergesJSON = o["merges"] as? [Any] else { throw TokenizerError("model BPE: missing \"merges\"") }
        var merges: [([UInt32], [UInt32])] = []
        merges.reserveCapacity(mergesJSON.count)
        for (i, m) in mergesJSON.enumerated() {
            if let line = m as? String {
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError("model BPE: merge \(i) \"\(line)\" is not two tokens separated by a space")
                }
                merges.append((scalars(String(parts[0])), scalars(String(parts[1]))))
            } else if let pair = m as? [String], pair.count == 2 {
                merges.append((scalars(pair[0]), scalars(pair[1])))
            } else {
                throw TokenizerError("model BPE: merge \(i) is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }
        return try BPEModel(
            vocab: vocab, merges: merges, unkToken: o["unk_token"] as? String, fuseUnk: bool(o, "fuse_unk", false),
            byteFallback: bool(o, "byte_fallback", false), ignoreMerges: bool(o, "ignore_merges", false),
            continuingSubwordPrefix: o["continuing_subword_prefix"] as? String,
            endOfWordSuffix: o["end_of_word_suffix"] as? String)
    }

    static func addedToken(_ t: [String: Any], what: String) throws -> AddedToken {
        guard let content = t["content"] as? String else { throw TokenizerError("\(what): missing \"content\"") }
        let special = bool(t, "special", false)
        return AddedToken(
            content: content, id: (t["id"] as? NSNumber)?.intValue ?? -1, special: special,
            lstrip: bool(t, "lstrip", false), rstrip: bool(t, "rstrip", false),
            normalized: bool(t, "normalized", !special), singleWord: bool(t, "single_word", false))
    }

    static func postProcessor(_ value: Any, _ model: BPEModel, _ added: AddedVocabulary) throws -> PostProcessor {
        let o = try object(value, "post_processor")
        let t = try type(o, "post_processor")
        let what = "post_processor \(t)"
        func tokenID(_ key: String) throws -> Int32 {
            guard let pair = o[key] as? [Any], pair.count == 2, let id = pair[1] as? NSNumber else {
                throw TokenizerError("\(what): \"\(key)\" must be [token, id]")
            }
            return id.int32Value
        }
        switch t {
        case "TemplateProcessing":
            guard let single = o["single"] as? [Any] else { throw TokenizerError("\(what): missing \"single\"") }
            let specials = o["special_tokens"] as? [String: Any] ?? [:]
            var items: [PostProcessor.TemplateItem] = []
            for piece in single {
                guard let p = piece as? [String: Any] else { throw TokenizerError("\(what): bad template piece") }
                if let s = p["SpecialToken"] as? [String: Any], let name = s["id"] as? String {
                    guard let spec = specials[name] as? [String: Any], let ids = spec["ids"] as? [NSNumber] else {
                        throw TokenizerError("\(what): special token \"\(name)\" is missing from special_tokens")
                    }
                    items.append(.special(ids.map(\.int32Value)))
                } else if p["Sequence"] != nil {
                    items.append(.sequence)
                } else {
                    throw TokenizerError("\(what): template piece is neither SpecialToken nor Sequence")
                }
            }
            return .template(items)
        case "ByteLevel": return .byteLevel
        case "BertProcessing": return .bert(cls: try tokenID("cls"), sep: try tokenID("sep"))
        case "RobertaProcessing": return .roberta(cls: try tokenID("cls"), sep: try tokenID("sep"))
        case "Sequence":
            guard let list = o["processors"] as? [Any] else { throw TokenizerError("\(what): missing \"processors\"") }
            return .sequence(try list.map { try postProcessor($0, model, added) })
        default: throw unsupported("post_processor", t)
        }
    }

    static func decoder(_ value: Any) throws -> Decoder {
        let o = try object(value, "decoder")
        let t = try type(o, "decoder")
        let what = "decoder \(t)"
        switch t {
        case "ByteLevel": return .byteLevel
        case "Metaspace":
            return .metaspace(replacement: try singleScalar(o, "replacement", what), scheme: try prependScheme(o, what))
        case "Replace": return .replace(try pattern(o["pattern"], what), scalars(try string(o, "content", what)))
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            return .strip(
                content: try singleScalar(o, "content", what),
                start: (o["start"] as? NSNumber)?.intValue ?? 0,
                stop: (o["stop"] as? NSNumber)?.intValue ?? 0)
        case "BPEDecoder": return .bpe(suffix: scalars(o["suffix"] as? String ?? "</w>"))
        case "Sequence":
            guard let list = o["decoders"] as? [Any] else { throw TokenizerError("\(what): missing \"decoders\"") }
            return .sequence(try list.map(decoder))
        default: throw unsupported("decoder", t)
        }
    }
}
