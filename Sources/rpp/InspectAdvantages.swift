// `rpp inspect advantages --input FILE.json [section.key=value ...]`: runs the RL core's advantage computation on
// a small batch given as JSON and prints the per-token KL, token rewards, returns and advantages of every sample.
// Its settings are run-config keys, read by the run config's reader (the batch's own sections, or --config).
import ArgumentParser
import Foundation
import Model
import RLCore
import RunKit

/// `rpp inspect advantages`: token rewards, returns and advantages of a batch written as JSON.
struct InspectAdvantages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advantages",
        abstract: "Compute KL, token rewards, returns and advantages of a JSON batch.",
        discussion: """
            The settings are run-config keys, read by the run config's reader: the batch file's own config
            sections, or --config FILE (a run config), then --set section.key=value and trailing section.key=value
            arguments. The keys used: algorithm.estimator (reinforce | reinforce_baseline | rloo | group_norm |
            dr_grpo | gae), algorithm.samples_per_prompt, gamma, lambda, reward_clip, advantage_normalization;
            kl.coef, kl.estimator (k1 | k2 | k3), kl.placement (reward | loss). Defaults are the run config's,
            with algorithm.train_batch and micro_batch 1 (the batch is the file's, not rollout_batch).
            Input (samples of one prompt contiguous, in groups of algorithm.samples_per_prompt):
              {"algorithm": {"estimator": "rloo", "samples_per_prompt": 4, "gamma": 1.0},
               "kl": {"coef": 0.01, "estimator": "k1"},
               "samples": [{"reward": 1.0, "mask": [1, 1, 0], "logprobs": [...], "ref_logprobs": [...],
                            "values": [...]}]}
            Required: samples, and per sample reward, mask, logprobs, ref_logprobs (values for gae).
            Samples may have different lengths: each is padded to the longest and its output trimmed back.
            Output: {"samples": [{"kl": [...], "token_rewards": [...], "returns": [...], "advantages": [...]}]}
            """)

    @Option(name: .long, help: "The JSON batch to read.")
    var input: String
    @Option(help: "A run config file (YAML) to take the settings from, instead of the batch file's sections.")
    var config: String?
    @Option(name: .customLong("set"), help: "Override a config value: section.key=value (repeatable).")
    var overrides: [String] = []
    @Argument(help: "More overrides, section.key=value.") var assignments: [String] = []

    mutating func run() throws {
        do {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: input))
            } catch {
                throw InspectInputError("cannot read \(input): \(ioReason(error))")
            }
            let request = try AdvantagesRequest(
                json: data, source: input, configFile: config, overrides: overrides + assignments)
            let result = try computeAdvantages(request.input, config: request.config)
            print(try request.render(result))
        } catch let error as InspectInputError {
            try fail(error.message)
        } catch let error as ConfigError {
            try fail("\(error)")
        } catch let error as RLConfigError {
            try fail("\(error.field): \(error.message)")
        } catch let error as RLInputError {
            try fail("\(error.field): \(error.message)")
        }
    }

    /// One line on stderr, then exit status 1.
    private func fail(_ message: String) throws -> Never {
        let line = "error: " + message.replacingOccurrences(of: "\n", with: " ") + "\n"
        FileHandle.standardError.write(Data(line.utf8))
        throw ExitCode(1)
    }
}

/// A problem with the input file, with the JSON path of the offending field.
struct InspectInputError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Any JSON value, decoded strictly (numbers and booleans are kept apart).
enum InspectJSONValue: Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([InspectJSONValue])
    case object([String: InspectJSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let x = try? c.decode(Double.self) {
            self = .number(x)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([InspectJSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: InspectJSONValue].self))
        }
    }

    /// The value as JSON text (which the YAML config reader reads too): keys sorted, integral numbers
    /// without a fraction so integer keys read them.
    var jsonText: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let x): return x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : "\(x)"
        case .string(let s):
            let encoder = JSONEncoder()
            encoder.outputFormatting = .withoutEscapingSlashes
            return (try? encoder.encode(s)).flatMap { String(data: $0, encoding: .utf8) } ?? "\"\""
        case .array(let items): return "[" + items.map(\.jsonText).joined(separator: ", ") + "]"
        case .object(let fields):
            let pairs = fields.sorted { $0.key < $1.key }.map {
                InspectJSONValue.string($0.key).jsonText + ": " + $0.value.jsonText
            }
            return "{" + pairs.joined(separator: ", ") + "}"
        }
    }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// The parsed request: the RL configuration, the padded batch and each sample's own length.
struct AdvantagesRequest {
    var config: RLConfig
    var input: AdvantageInput<Double>
    var lengths: [Int]

    /// The settings every batch starts from beneath its own: one optimiser step per sample, so that any
    /// group size divides the (unused) iteration.
    static let batchDefaults = ["algorithm.train_batch=1", "algorithm.micro_batch=1"]
    static let sampleFields: Set<String> = ["reward", "mask", "logprobs", "ref_logprobs", "values"]

    /// Reads the batch in `data` (named `source` in errors). The settings come from the batch's config
    /// sections or from `configFile` (not both), then `overrides`, through the run config's reader.
    init(json data: Data, source: String, configFile: String? = nil, overrides: [String] = []) throws {
        let root: InspectJSONValue
        do {
            root = try JSONDecoder().decode(InspectJSONValue.self, from: data)
        } catch {
            throw InspectInputError("input is not valid JSON (\(Self.describe(error)))")
        }
        guard case .object(let doc) = root else {
            throw InspectInputError("input: expected a JSON object, got \(root.typeName)")
        }
        let sections = doc.filter { $0.key != "samples" }
        let run: RunConfig
        do {
            if let configFile {
                guard sections.isEmpty else {
                    throw InspectInputError(
                        "\(source) carries settings (\(sections.keys.sorted().joined(separator: ", "))) and --config "
                            + "gives \(configFile): take them from one place")
                }
                run = try RunConfig.load(path: configFile, overrides: overrides, defaults: Self.batchDefaults)
            } else {
                let text = InspectJSONValue.object(sections).jsonText
                run = try RunConfig.parse(
                    yaml: text, overrides: overrides, source: source, defaults: Self.batchDefaults)
            }
        } catch let error as ConfigError {
            throw Self.batchError(error, source: source, sections: sections.keys)
        }
        let config = run.rlConfig
        let estimator = config.estimator
        // The RL core's own check (the run config's reader has made it too).
        try config.validate()

        guard let samplesValue = doc["samples"] else { throw InspectInputError("samples: missing required field") }
        guard case .array(let samples) = samplesValue else {
            throw InspectInputError("samples: expected an array of objects, got \(samplesValue.typeName)")
        }
        var rewards: [Double] = []
        var masks: [[Double]] = []
        var logps: [[Double]] = []
        var refs: [[Double]] = []
        var values: [[Double]] = []
        for (i, sample) in samples.enumerated() {
            let path = "samples[\(i)]"
            guard case .object(let s) = sample else {
                throw InspectInputError("\(path): expected an object, got \(sample.typeName)")
            }
            for key in s.keys.sorted() where !Self.sampleFields.contains(key) {
                throw InspectInputError(
                    "\(path).\(key): unknown field (known: \(Self.sampleFields.sorted().joined(separator: ", ")))")
            }
            guard let reward = try Self.number(s["reward"], "\(path).reward") else {
                throw InspectInputError("\(path).reward: missing required field")
            }
            rewards.append(reward)
            let mask = try Self.requiredNumbers(s, "mask", path)
            for (t, m) in mask.enumerated() where m != 0 && m != 1 {
                throw InspectInputError("\(path).mask[\(t)]: expected 0 or 1, got \(m)")
            }
            masks.append(mask)
            logps.append(try Self.requiredNumbers(s, "logprobs", path, count: mask.count))
            refs.append(try Self.requiredNumbers(s, "ref_logprobs", path, count: mask.count))
            if estimator.needsCritic {
                values.append(try Self.requiredNumbers(s, "values", path, count: mask.count))
            }
        }
        if estimator.usesGroupBaseline && samples.count % config.samplesPerPrompt != 0 {
            throw InspectInputError(
                "samples: \(samples.count) samples is not a multiple of algorithm.samples_per_prompt "
                    + "\(config.samplesPerPrompt) (samples of one prompt come in complete contiguous groups)")
        }
        let tokens = masks.map(\.count).max() ?? 0
        func pad(_ rows: [[Double]]) -> [Double] {
            rows.flatMap { $0 + [Double](repeating: 0, count: tokens - $0.count) }
        }
        self.config = config
        self.lengths = masks.map(\.count)
        self.input = AdvantageInput(
            shape: TokenShape(samples: samples.count, tokens: tokens), rewards: rewards,
            mask: pad(masks), logprobs: pad(logps), refLogprobs: pad(refs),
            values: estimator.needsCritic ? pad(values) : nil)
    }

    /// A config error about the batch file, located in the file rather than on a line of the text the reader
    /// saw, and for a top-level field that is not a section, a word on the layout.
    static func batchError(_ error: ConfigError, source: String, sections: some Collection<String>) -> ConfigError {
        let location = error.location.map { $0.hasPrefix(source + ":") ? source : $0 }
        var message = error.message
        if sections.contains(error.key) && !RunConfig.sectionNames.contains(error.key) {
            message +=
                "; a batch file holds \"samples\" and run-config sections, e.g. "
                + "{\"algorithm\": {\"estimator\": \"rloo\"}, \"kl\": {\"coef\": 0.01}}"
        }
        return ConfigError(key: error.key, message: message, location: location)
    }

    /// The output JSON, one sample per line, each trimmed to its own length.
    func render(_ result: AdvantageResult<Double>) throws -> String {
        let tokens = result.shape.tokens
        var lines: [String] = []
        for (b, length) in lengths.enumerated() {
            var fields: [String] = []
            for (name, array) in [
                ("kl", result.kl), ("token_rewards", result.tokenRewards),
                ("returns", result.returns), ("advantages", result.advantages),
            ] {
                let row = array[(b * tokens)..<(b * tokens + length)]
                if let bad = row.firstIndex(where: { !$0.isFinite }) {
                    throw InspectInputError(
                        "samples[\(b)]: \(name)[\(bad - b * tokens)] is not finite "
                            + "(inputs too large for double precision)")
                }
                fields.append("\"\(name)\": [" + row.map { "\($0)" }.joined(separator: ", ") + "]")
            }
            lines.append("  {" + fields.joined(separator: ", ") + "}")
        }
        return "{\"samples\": [\n" + lines.joined(separator: ",\n") + (lines.isEmpty ? "]}" : "\n]}")
    }

    // MARK: field readers (every error names the field)

    static func describe(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return context.underlyingError.map { "\($0.localizedDescription)" } ?? context.debugDescription
        }
        return "\(error)"
    }

    static func number(_ value: InspectJSONValue?, _ path: String) throws -> Double? {
        guard let value else { return nil }
        guard case .number(let x) = value else {
            throw InspectInputError("\(path): expected a number, got \(value.typeName)")
        }
        guard x.isFinite else { throw InspectInputError("\(path): expected a finite number") }
        return x
    }

    static func numbers(_ value: InspectJSONValue, _ path: String) throws -> [Double] {
        guard case .array(let items) = value else {
            throw InspectInputError("\(path): expected an array of numbers, got \(value.typeName)")
        }
        return try items.enumerated().map { t, item in
            guard case .number(let x) = item, x.isFinite else {
                throw InspectInputError("\(path)[\(t)]: expected a number, got \(item.typeName)")
            }
            return x
        }
    }

    static func requiredNumbers(
        _ sample: [String: InspectJSONValue], _ key: String, _ path: String,
        count: Int? = nil
    ) throws -> [Double] {
        guard let value = sample[key] else { throw InspectInputError("\(path).\(key): missing required field") }
        let xs = try numbers(value, "\(path).\(key)")
        if let count, xs.count != count {
            throw InspectInputError("\(path).\(key): has \(xs.count) entries but mask has \(count)")
        }
        return xs
    }
}
