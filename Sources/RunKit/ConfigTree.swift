import Foundation
import Yams

/// A YAML value as the config reader sees it: scalars keep their text and whether they were
/// quoted; every value remembers where it came from for error messages.
struct ConfigNode {
    enum Kind {
        case null
        case scalar(String, quoted: Bool)
        case sequence([ConfigNode])
        case mapping([(key: String, value: ConfigNode)])
    }
    var kind: Kind
    /// `file:line` or `command line`.
    var location: String?

    /// Shown in messages: the scalar text, a flow list, or `{...}`.
    var display: String {
        switch kind {
        case .null: return "null"
        case .scalar(let text, let quoted): return quoted ? "\"\(text)\"" : text
        case .sequence(let items): return "[" + items.map(\.display).joined(separator: ", ") + "]"
        case .mapping: return "{...}"
        }
    }

    /// Parses YAML text; a syntax error becomes a one-line `ConfigError` with line and column.
    static func parse(yaml: String, source: String, keyPath: String = "") throws -> ConfigNode {
        try scan(yaml: yaml, source: source, keyPath: keyPath)
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigError(key: keyPath, message: describe(error), location: source)
        } catch {
            throw ConfigError(key: keyPath, message: "malformed YAML: \(error)", location: source)
        }
        guard let node else { return ConfigNode(kind: .null, location: source) }
        return try convert(node, source: source, keyPath: keyPath)
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return "malformed YAML at line \(mark.line), column \(mark.column): \(problem)"
        case .reader(let problem, let offset, _, _):
            return "unreadable YAML at offset \(offset ?? 0): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "duplicated key(s) \(duplicates.sorted().joined(separator: ", ")) near line \(context.mark.line)"
        default:
            return "malformed YAML: \(error)"
        }
    }

    private static func convert(_ node: Node, source: String, keyPath: String) throws -> ConfigNode {
        let line = source == "command line" ? source : (node.mark.map { "\(source):\($0.line)" } ?? source)
        switch node {
        case .scalar(let scalar):
            let quoted = scalar.style == .singleQuoted || scalar.style == .doubleQuoted
            if !quoted && ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                return ConfigNode(kind: .null, location: line)
            }
            return ConfigNode(kind: .scalar(scalar.string, quoted: quoted), location: line)
        case .sequence(let sequence):
            let items = try sequence.map { try convert($0, source: source, keyPath: keyPath) }
            return ConfigNode(kind: .sequence(items), location: line)
        case .mapping(let mapping):
            var pairs: [(key: String, value: ConfigNode)] = []
            for (key, value) in mapping {
                guard case .scalar(let k) = key else {
                    throw ConfigError(key: keyPath, message: "mapping keys must be plain words", location: line)
                }
                let path = keyPath.isEmpty ? k.string : keyPath + "." + k.string
                pairs.append((k.string, try convert(value, source: source, keyPath: path)))
            }
            return ConfigNode(kind: .mapping(pairs), location: line)
        case .alias:  // `scan` refuses aliases before composing; kept for a composer that keeps them
            throw ConfigError(key: keyPath, message: "YAML aliases are not supported in a run config", location: line)
        }
    }
}

/// One `section.key=value` command-line override.
struct ConfigOverride {
    let section: String
    let key: String
    let value: ConfigNode

    /// Parses `section.key=value`; the value is a YAML scalar or flow sequence.
    init(_ text: String) throws {
        guard let equals = text.firstIndex(of: "=") else {
            throw ConfigError(
                key: text, message: "an override must look like section.key=value (e.g. optim.lr=1e-3)",
                location: "command line")
        }
        let path = text[..<equals].trimmingCharacters(in: .whitespaces)
        let valueText = String(text[text.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ConfigError(
                key: path, message: "an override names exactly one section and one key, like algorithm.estimator=gae",
                location: "command line")
        }
        section = parts[0]
        key = parts[1]
        var node = try ConfigNode.parse(yaml: valueText, source: "command line", keyPath: path)
        node.location = "command line"
        if case .mapping = node.kind {
            throw ConfigError(
                key: path, message: "value '\(valueText)' is a mapping; give a scalar or a list like [1, 2]",
                location: "command line")
        }
        value = node
    }
}
