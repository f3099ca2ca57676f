import Foundation

/// The configuration of a whole run: one YAML file whose every value can be overridden on the
/// command line with `section.key=value`. Loading validates types, ranges and cross-field rules
/// and throws `ConfigError` with a one-line message naming the key.
public struct RunConfig: Sendable, Equatable {
    /// The `run` section.
    public var run = RunSection()
    /// The `model` section.
    public var model = ModelSection()
    /// The `data` section.
    public var data = DataSection()
    /// The `algorithm` section.
    public var algorithm = AlgorithmSection()
    /// The `kl` section.
    public var kl = KLSection()
    /// The `optim` section.
    public var optim = OptimSection()
    /// The `sampling` section.
    public var sampling = SamplingSection()
    /// The `eval` section.
    public var eval = EvalSection()
    /// The `checkpoint` section.
    public var checkpoint = CheckpointSection()
    /// The `cluster` section.
    public var cluster = ClusterSection()
    /// The `reward` section.
    public var reward = RewardSection()

    /// The defaults (a valid config).
    public init() {}

    /// The top-level sections, in file order.
    public static let sectionNames = [
        "run", "model", "data", "algorithm", "kl", "optim", "sampling",
        "eval", "checkpoint", "cluster", "reward",
    ]

    /// Values a key no longer takes, by full key, each with the value that now means the same thing. They are
    /// not accepted; the error for one names its replacement.
    public static let renamedValues: [String: [String: String]] = [
        "algorithm.estimator": ["grpo": "group_norm", "ppo": "gae"]
    ]

    /// The largest config file `load` reads (1 MiB; the full config is about 2 KB).
    public static let maxConfigBytes = 1 << 20

    /// Reads and validates the YAML file at `path`, then applies `overrides` (`section.key=value`). `defaults`
    /// (`section.key=value`) fill keys the file does not write, before the overrides.
    public static func load(path: String, overrides: [String] = [], defaults: [String] = []) throws -> RunConfig {
        let text: String
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigError(
                key: "",
                message: "no such config file (give --config PATH; the default run is Deploy/rpp.yaml "
                    + "in the rpp checkout)", location: path)
        }
        // Read at most one byte more than the limit, so neither a huge file nor a device like /dev/zero is read whole.
        guard let handle = FileHandle(forReadingAtPath: path),
            let data = try? handle.read(upToCount: maxConfigBytes + 1) ?? Data()
        else {
            throw ConfigError(key: "", message: "cannot read config file (is it a readable file?)", location: path)
        }
        try? handle.close()
        guard data.count <= maxConfigBytes else {
            throw ConfigError(
                key: "",
                message: "config file is larger than \(maxConfigBytes) bytes; a run config is "
                    + "about 2 KB (is this the right file?)", location: path)
        }
        guard let decoded = String(data: data, encoding: .utf8) else {
            throw ConfigError(key: "", message: "config file is not UTF-8 text", location: path)
        }
        text = decoded
        return try parse(yaml: text, overrides: overrides, source: path, defaults: defaults)
    }

    /// Parses and validates YAML text, then applies `overrides` (`section.key=value`). `source` names the text
    /// in error locations. `defaults` (`section.key=value`) fill keys the text does not write, before the
    /// overrides. Top-level keys in `otherKeys` belong to the caller (a document that carries a config next
    /// to other data) and are skipped.
    public static func parse(
        yaml: String, overrides: [String] = [], source: String = "config", defaults: [String] = [],
        otherKeys: Set<String> = []
    ) throws -> RunConfig {
        let root = try ConfigNode.parse(yaml: yaml, source: source)
        var sections: [(key: String, value: ConfigNode)]
        switch root.kind {
        case .null: sections = []
        case .mapping(let pairs): sections = pairs.filter { !otherKeys.contains($0.key) }
        default:
            throw ConfigError(
                key: "",
                message: "the config must be a mapping of sections ("
                    + sectionNames.joined(separator: ", ") + ")", location: root.location)
        }
        for (key, node) in sections where !sectionNames.contains(key) {
            throw unknownSection(key, location: node.location)
        }
        for text in defaults { try apply(ConfigOverride(text), to: &sections, replacing: false) }
        for text in overrides { try apply(ConfigOverride(text), to: &sections, replacing: true) }
        var config = RunConfig()
        var locations: [String: String] = [:]
        func node(_ name: String) -> ConfigNode? { sections.last { $0.key == name }?.value }
        func read<S>(_ name: String, _ body: (inout SectionReader) throws -> S) throws -> S {
            var reader = try SectionReader(section: name, node: node(name))
            let value = try body(&reader)
            try reader.finish()
            locations.merge(reader.locations) { $1 }
            return value
        }
        config.run = try read("run", RunSection.init(reader:))
        config.model = try read("model", ModelSection.init(reader:))
        config.data = try read("data", DataSection.init(reader:))
        config.algorithm = try read("algorithm", AlgorithmSection.init(reader:))
        config.kl = try read("kl", KLSection.init(reader:))
        config.optim = try read("optim", OptimSection.init(reader:))
        config.sampling = try read("sampling", SamplingSection.init(reader:))
        config.eval = try read("eval", EvalSection.init(reader:))
        config.checkpoint = try read("checkpoint", CheckpointSection.init(reader:))
        config.cluster = try read("cluster", ClusterSection.init(reader:))
        config.reward = try read("reward", RewardSection.init(reader:))
        try config.validate(locations: locations)
        return config
    }

    /// Every section with its keys, in file order (`[("run", ["name", "dir", ...]), ...]`).
    public static var allowedKeys: [(section: String, keys: [String])] {
        var result: [(section: String, keys: [String])] = []
        func keys<S>(_ name: String, _ body: (inout SectionReader) throws -> S) {
            guard var reader = try? SectionReader(section: name, node: nil) else { return }
            _ = try? body(&reader)
            result.append((name, reader.allowed))
        }
        keys("run", RunSection.init(reader:))
        keys("model", ModelSection.init(reader:))
        keys("data", DataSection.init(reader:))
        keys("algorithm", AlgorithmSection.init(reader:))
        keys("kl", KLSection.init(reader:))
        keys("optim", OptimSection.init(reader:))
        keys("sampling", SamplingSection.init(reader:))
        keys("eval", EvalSection.init(reader:))
        keys("checkpoint", CheckpointSection.init(reader:))
        keys("cluster", ClusterSection.init(reader:))
        keys("reward", RewardSection.init(reader:))
        return result
    }

    /// Puts one `section.key=value` into the sections; without `replacing`, a key already written stays.
    private static func apply(
        _ override: ConfigOverride, to sections: inout [(key: String, value: ConfigNode)], replacing: Bool
    ) throws {
        guard sectionNames.contains(override.section) else {
            throw unknownSection(override.section, location: "command line")
        }
        let entry = (key: override.key, value: override.value)
        guard let index = sections.lastIndex(where: { $0.key == override.section }) else {
            sections.append((override.section, ConfigNode(kind: .mapping([entry]), location: "command line")))
            return
        }
        var section = sections[index].value
        switch section.kind {
        case .null: section.kind = .mapping([entry])
        case .mapping(var pairs):
            if !replacing && pairs.contains(where: { $0.key == override.key }) { return }
            pairs.removeAll { $0.key == override.key }
            pairs.append(entry)
            section.kind = .mapping(pairs)
        default: break  // the section reader reports the bad section
        }
        sections[index].value = section
    }

    private static func unknownSection(_ key: String, location: String?) -> ConfigError {
        ConfigError(
            key: key,
            message: "unknown section\(Suggest.hint(for: key, in: sectionNames)); allowed sections: "
                + sectionNames.joined(separator: ", "), location: location)
    }

    /// Optimizer steps per iteration: samples per iteration / train_batch, times epochs.
    public var optimizerStepsPerIteration: Int {
        algorithm.rolloutBatch * algorithm.samplesPerPrompt / max(1, algorithm.trainBatch) * algorithm.epochs
    }

    /// Samples generated per iteration (rollout_batch × samples_per_prompt).
    public var samplesPerIteration: Int { algorithm.rolloutBatch * algorithm.samplesPerPrompt }

    /// The run directory, `run.dir/run.name`.
    public var runDirectory: String { (run.dir as NSString).appendingPathComponent(run.name) }
}
