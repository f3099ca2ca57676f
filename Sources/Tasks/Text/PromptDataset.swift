// Prompt datasets as users have them (the OpenRLHF conventions): JSONL files or JSON lists of objects,
// with the prompt under `input_key` (a string, or a list of chat messages) and the ground truth under
// `label_key`. Every example keeps a stable id (file name and line or index), so a resumed run finds the
// same prompts; errors name the file and the line.
import ChatTemplate
import Foundation

/// One example: the prompt and its ground truth.
public struct Example: Sendable {
    /// The prompt: plain text, or chat messages (each a dict with at least "role" and "content").
    public enum Input: Sendable {
        case text(String)
        case messages([Value])
    }

    /// "FILE:LINE" for JSONL, "FILE[INDEX]" for a JSON list: stable across runs and resumes.
    public let id: String
    public let input: Input
    /// The ground truth (numbers are kept as the file writes them); empty when the dataset has no labels.
    public let label: String
}

/// Which keys of a dataset's objects hold what.
public struct DatasetKeys: Sendable, Equatable {
    /// The prompt: a string, or a list of {"role", "content"} messages.
    public var input: String
    /// The ground truth; nil when the dataset has none (a reward model scores it).
    public var label: String?

    public init(input: String = "input", label: String? = "label") {
        self.input = input
        self.label = label
    }
}

/// A dataset that cannot be read; the message names the file, the line and what to do.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads prompt datasets.
public enum PromptDataset {
    /// Largest dataset file read (a guard against reading a device or a model file by mistake).
    public static let maxBytes = 1 << 30

    /// The examples of the JSONL or JSON-list file at `path` (a list when its first non-space byte is '[').
    public static func load(_ path: String, keys: DatasetKeys) throws -> [Example] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw DatasetError("\(path): cannot read the file (\(error.localizedDescription))")
        }
        guard data.count <= maxBytes else { throw DatasetError("\(path): larger than 1 GiB; split the dataset") }
        guard let text = String(data: data, encoding: .utf8) else { throw DatasetError("\(path): not UTF-8 text") }
        let name = URL(fileURLWithPath: path).lastPathComponent
        if text.first(where: { !$0.isWhitespace }) == "[" {
            let list: Value
            do { list = try JSONReader.parse(text) } catch {
                throw DatasetError(
                    "\(path): not a valid JSON list (\(error)); use one JSON object per line (JSONL) or a JSON list")
            }
            guard case .list(let items) = list else { throw DatasetError("\(path): expected a JSON list of objects") }
            return try items.enumerated().map { i, item in
                try example(item, id: "\(name)[\(i)]", at: "\(path): item \(i)", keys: keys)
            }
        }
        var out: [Example] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy(\.isWhitespace) {
            let at = "\(path):\(i + 1)"
            let object: Value
            do { object = try JSONReader.parse(String(line)) } catch {
                throw DatasetError("\(at): not valid JSON (\(error)); each line must be one JSON object")
            }
            out.append(try example(object, id: "\(name):\(i + 1)", at: at, keys: keys))
        }
        return out
    }

    /// One example from a parsed object; `at` starts every error.
    static func example(_ object: Value, id: String, at: String, keys: DatasetKeys) throws -> Example {
        guard case .dict(let d) = object else { throw DatasetError("\(at): expected a JSON object") }
        let known = d.keys.compactMap { if case .string(let s) = $0 { return "\"\(s)\"" } else { return nil } }
        let hint = "; its keys are \(known.joined(separator: ", ")) (set data.input_key / data.label_key)"
        let input: Example.Input
        switch d[keys.input] {
        case .string(let s)?:
            input = .text(s)
        case .list(let messages)?:
            for (j, m) in messages.enumerated() {
                guard case .dict(let md) = m, case .string? = md["role"], case .string? = md["content"] else {
                    throw DatasetError(
                        "\(at): \"\(keys.input)\" message \(j) must be an object with string \"role\" and \"content\"")
                }
            }
            guard !messages.isEmpty else { throw DatasetError("\(at): \"\(keys.input)\" is an empty message list") }
            input = .messages(messages)
        case nil:
            throw DatasetError("\(at): no \"\(keys.input)\" key\(hint)")
        default:
            throw DatasetError("\(at): \"\(keys.input)\" must be a string or a list of chat messages")
        }
        var label = ""
        if let key = keys.label {
            switch d[key] {
            case .string(let s)?: label = s
            case .int(let n)?: label = String(n)
            case .double(let x)?: label = x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
            case nil: throw DatasetError("\(at): no \"\(key)\" key\(hint)")
            default: throw DatasetError("\(at): \"\(key)\" must be a string or a number")
            }
        }
        return Example(id: id, input: input, label: label)
    }
}
