// `rpp inspect advantages --input FILE.json`: runs the RL core's advantage computation on a small batch given
// as JSON and prints the per-token KL, token rewards, returns and advantages of every sample.
import ArgumentParser
import Foundation
import Model
import RLCore

/// `rpp inspect advantages`: token rewards, returns and advantages of a batch written as JSON.
struct InspectAdvantages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advantages",
        abstract: "Compute KL, token rewards, returns and advantages of a JSON batch.",
        discussion: """
            Input (samples of one prompt contiguous, groups of n_samples_per_prompt):
              {"estimator": "reinforce|reinforce_baseline|rloo|group_norm|dr_grpo|gae",
               "gamma": 1.0, "lambda": 1.0, "kl_coef": 0.01, "kl_estimator": "k1|k2|k3",
               "n_samples_per_prompt": 4, "reward_clip": [-10, 10],
               "samples": [{"reward": 1.0, "mask": [1, 1, 0], "logprobs": [...], "ref_logprobs": [...],
                            "values": [...]}]}
            Required: estimator, samples, and per sample reward, mask, logprobs, ref_logprobs (values for gae).
            Defaults: gamma 1, lambda 1, kl_coef 0.01, kl_estimator k1, n_samples_per_prompt 1,
            reward_clip [-10, 10]. Optional extras: "normalize": "mean_std" (default) | "mean" | "none"
            (reinforce, reinforce_baseline and gae only), "advantage_clip": 10, "kl_placement": "reward"
            (default) | "loss", "reward_normalization": {"mean": m, "std": s}.
            Samples may have different lengths: each is padded to the longest and its output trimmed back.
            Output: {"samples": [{"kl": [...], "token_rewards": [...], "returns": [...], "advantages": [...]}]}
            """)

    @Option(name: .long, help: "The JSON batch to read.")
    var input: String

    mutating func run() throws {
        do {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: input))
            } catch {
                throw InspectInputError("cannot read \(input): \(ioReason(error))")
            }
            let request = try AdvantagesRequest(json: data)
            let result = try computeAdvantages(request.input, config: request.config)
            print(try request.render(result))
        } catch let error as InspectInputError {
            try fail(error.message)
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

    static let topLevelFields: Set<String> = [
        "estimator", "gamma", "lambda", "kl_coef", "kl_estimator",
        "n_samples_per_prompt", "reward_clip", "samples", "normalize",
        "advantage_clip", "kl_placement", "reward_normalization",
    ]
    static let sampleFields: Set<String> = ["reward", "mask", "logprobs", "ref_logprobs", "values"]

    init(json data: Data) throws {
        let root: InspectJSONValue
        do {
            root = try JSONDecoder().decode(InspectJSONValue.self, from: data)
        } catch {
            throw InspectInputError("input is not valid JSON (\(Self.describe(error)))")
        }
        guard case .object(let doc) = root else {
            throw InspectInputError("input: expected a JSON object, got \(root.typeName)")
        }
        for key in doc.keys.sorted() where !Self.topLevelFields.contains(key) {
            throw InspectInputError(
                "\(key): unknown field (known: \(Self.topLevelFields.sorted().joined(separator: ", ")))")
        }
        var config = RLConfig()
        let estimatorName = try Self.string(doc, "estimator", required: true)!
        guard let estimator = AdvantageEstimator(rawValue: estimatorName) else {
            throw InspectInputError(
                "estimator: unknown estimator \"\(estimatorName)\" (one of "
                    + AdvantageEstimator.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        config.estimator = estimator
        config.samplesPerPrompt = 1
        if let n = try Self.number(doc["n_samples_per_prompt"], "n_samples_per_prompt") {
            guard n == n.rounded(), n >= 1, n <= 1_000_000 else {
                throw InspectInputError("n_samples_per_prompt: expected a positive integer, got \(n)")
            }
            config.samplesPerPrompt = Int(n)
        }
        if let x = try Self.number(doc["gamma"], "gamma") { config.gamma = x }
        if let x = try Self.number(doc["lambda"], "lambda") { config.lambda = x }
        if let x = try Self.number(doc["kl_coef"], "kl_coef") { config.klCoef = x }
        if let x = try Self.number(doc["advantage_clip"], "advantage_clip") { config.advantageClip = x }
        config.klEstimator = try Self.enumValue(doc, "kl_estimator", default: .k1)
        config.advantageNormalization = try Self.enumValue(doc, "normalize", default: .meanStd)
        config.klPlacement = try Self.enumValue(doc, "kl_placement", default: .reward)
        if let clip = doc["reward_clip"] {
            let bounds = try Self.numbers(clip, "reward_clip")
            guard bounds.count == 2 else {
                throw InspectInputError("reward_clip: expected [low, high], got \(bounds.count) numbers")
            }
            config.rewardClip = ClipRange(bounds[0], bounds[1])
        }
        if let norm = doc["reward_normalization"] {
            guard case .object(let o) = norm else {
                throw InspectInputError(
                    "reward_normalization: expected an object {\"mean\": m, \"std\": s}, got \(norm.typeName)")
            }
            guard let mean = try Self.number(o["mean"], "reward_normalization.mean"),
                let std = try Self.number(o["std"], "reward_normalization.std")
            else {
                throw InspectInputError("reward_normalization: needs both mean and std")
            }
            config.rewardNormalization = RewardNormalization(mean: mean, std: std)
        }
        // The config's own check, with the same snake_case field names.
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
                "samples: \(samples.count) samples is not a multiple of n_samples_per_prompt "
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

    static func string(_ doc: [String: InspectJSONValue], _ key: String, required: Bool) throws -> String? {
        guard let value = doc[key] else {
            if required { throw InspectInputError("\(key): missing required field") }
            return nil
        }
        guard case .string(let s) = value else {
            throw InspectInputError("\(key): expected a string, got \(value.typeName)")
        }
        return s
    }

    static func enumValue<E: RawRepresentable & CaseIterable>(
        _ doc: [String: InspectJSONValue], _ key: String,
        default value: E
    ) throws -> E where E.RawValue == String {
        guard let name = try string(doc, key, required: false) else { return value }
        guard let e = E(rawValue: name) else {
            throw InspectInputError(
                "\(key): unknown value \"\(name)\" (one of "
                    + E.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        return e
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
