// Finding a model's chat template(s) and special tokens as transformers' from_pretrained does:
// chat_template.jinja and additional_chat_templates/*.jinja beside the config take priority over
// tokenizer_config.json's "chat_template" (a string, or a list of {"name", "template"}).
import Foundation

/// A model's chat templates by name, and the special tokens its templates see as variables.
public struct ChatTemplates: Sendable {
    /// One template without a name (a string in the config, or chat_template.jinja alone).
    public var single: String?
    /// Named templates (a list in the config, or chat_template.jinja with additional_chat_templates/).
    public var named: [String: String]
    /// bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token and
    /// additional_special_tokens, as strings (only those set and not empty).
    public var specialTokens: [String: Value]

    public init(single: String? = nil, named: [String: String] = [:], specialTokens: [String: Value] = [:]) {
        self.single = single
        self.named = named
        self.specialTokens = specialTokens
    }

    /// Loads from a model directory, a tokenizer_config.json file, or a .jinja file.
    public static func load(_ path: String) throws -> ChatTemplates {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LoadError("\(path) does not exist")
        }
        let url = URL(fileURLWithPath: path)
        if !isDirectory.boolValue {
            if path.hasSuffix(".jinja") { return ChatTemplates(single: try read(url)) }
            return try fromConfig(url, directory: nil)
        }
        let config = url.appendingPathComponent("tokenizer_config.json")
        return try fromConfig(FileManager.default.fileExists(atPath: config.path) ? config : nil, directory: url)
    }

    private static func read(_ url: URL) throws -> String {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw LoadError("cannot read \(url.path)")
        }
        guard let s = String(data: data, encoding: .utf8) else { throw LoadError("\(url.path) is not UTF-8 text") }
        return s
    }

    private static func readJSON(_ url: URL) throws -> OrderedDict {
        do {
            guard case .dict(let d) = try JSONReader.parse(try read(url)) else {
                throw LoadError("\(url.path): expected a JSON object")
            }
            return d
        } catch let e as JSONReadError {
            throw LoadError("\(url.path): \(e)")
        }
    }

    private static func fromConfig(_ config: URL?, directory: URL?) throws -> ChatTemplates {
        var out = ChatTemplates()
        let cfg = try config.map(readJSON) ?? OrderedDict()
        // Special tokens: the config's, overridden by the legacy special_tokens_map.json unless the config has
        // an added_tokens_decoder (then transformers ignores that file).
        var tokens = cfg
        if cfg["added_tokens_decoder"] == nil, let dir = directory ?? config?.deletingLastPathComponent() {
            let mapURL = dir.appendingPathComponent("special_tokens_map.json")
            if FileManager.default.fileExists(atPath: mapURL.path) {
                let map = try readJSON(mapURL)
                for (k, v) in map.items {
                    guard case .string(let key) = k else { continue }
                    if key == "additional_special_tokens", case .list(let extra) = v {
                        var merged: [Value] = []
                        if case .list(let existing)? = cfg[key] { merged = existing }
                        let texts = merged.compactMap(tokenText)
                        for t in extra where !texts.contains(tokenText(t) ?? "") { merged.append(t) }
                        tokens.set(key, .list(merged))
                    } else {
                        tokens.set(key, v)
                    }
                }
            }
        }
        for key in ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] {
            if let v = tokens[key], let token = tokenText(v), !token.isEmpty { out.specialTokens[key] = .string(token) }
        }
        if case .list(let list)? = tokens["additional_special_tokens"] {
            let texts = list.compactMap(tokenText)
            if !texts.isEmpty { out.specialTokens["additional_special_tokens"] = .list(texts.map { .string($0) }) }
        }
        // Templates: files beside the config win over the config's entry.
        var files: [String: String] = [:]
        if let dir = directory ?? config?.deletingLastPathComponent() {
            let main = dir.appendingPathComponent("chat_template.jinja")
            if FileManager.default.fileExists(atPath: main.path) { files["default"] = try read(main) }
            let extra = dir.appendingPathComponent("additional_chat_templates")
            if let names = try? FileManager.default.contentsOfDirectory(atPath: extra.path) {
                for n in names where n.hasSuffix(".jinja") {
                    files[String(n.dropLast(6))] = try read(extra.appendingPathComponent(n))
                }
            }
        }
        if files.count == 1, let d = files["default"] {
            out.single = d
        } else if !files.isEmpty {
            out.named = files
        } else if let t = cfg["chat_template"] {
            switch t {
            case .string(let s): out.single = s
            case .list(let entries):
                for e in entries {
                    guard case .dict(let d) = e, case .string(let name)? = d["name"],
                        case .string(let tpl)? = d["template"]
                    else {
                        throw LoadError("chat_template: each entry must be {\"name\": ..., \"template\": ...}")
                    }
                    out.named[name] = tpl
                }
            case .none: break
            default: throw LoadError("chat_template must be a string or a list of named templates")
            }
        }
        return out
    }

    /// The text of a special token written as a string or as an AddedToken object {"content": ...}.
    static func tokenText(_ v: Value) -> String? {
        switch v {
        case .string(let s): return s
        case .dict(let d):
            if case .string(let s)? = d["content"] { return s }
            return nil
        default: return nil
        }
    }

    /// The template to use, as transformers' get_chat_template picks it: an explicit name, else
    /// "tool_use" when tools are given and it exists, else "default".
    public func select(name: String? = nil, hasTools: Bool) throws -> String {
        if named.isEmpty {
            guard let single else {
                throw LoadError(
                    "the model has no chat template (no chat_template in tokenizer_config.json and no "
                        + "chat_template.jinja)")
            }
            if let name {
                throw LoadError("the model has one unnamed chat template; there is no template named '\(name)'")
            }
            return single
        }
        if let name {
            guard let t = named[name] else {
                throw LoadError(
                    "no chat template named '\(name)'; the model has \(named.keys.sorted().joined(separator: ", "))")
            }
            return t
        }
        if hasTools, let t = named["tool_use"] { return t }
        if let t = named["default"] { return t }
        throw LoadError(
            "the model has several chat templates and none is named 'default'; choose one of "
                + named.keys.sorted().joined(separator: ", "))
    }
}

/// A model directory whose chat template or config cannot be used.
public struct LoadError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
