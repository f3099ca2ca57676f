import Foundation

extension RunConfig {
    /// Checks the rules that span several keys (and the ones a programmatically built config could
    /// break); `load` and `parse` call it.
    public func validate() throws { try validate(locations: [:]) }

    func validate(locations: [String: String]) throws {
        func fail(_ key: String, _ message: String) -> ConfigError {
            ConfigError(key: key, message: message, location: locations[key])
        }
        let a = algorithm
        let allowedName = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._-"))
        if run.name.isEmpty || run.name == "." || run.name == ".."
            || run.name.unicodeScalars.contains(where: { !allowedName.contains($0) })
        {
            throw fail(
                "run.name", "'\(run.name)' is not a usable directory name; use letters, digits, '.', '_' and '-'")
        }
        let (samples, overflow) = a.rolloutBatch.multipliedReportingOverflow(by: a.samplesPerPrompt)
        if overflow || samples > Limits.samples || a.rolloutBatch < 1 || a.samplesPerPrompt < 1 {
            throw fail(
                "algorithm.rollout_batch",
                "rollout_batch × samples_per_prompt = \(a.rolloutBatch) × "
                    + "\(a.samplesPerPrompt) must be in [1, \(Limits.samples)] samples per iteration")
        }
        if a.trainBatch < 1 || a.microBatch < 1 {
            throw fail("algorithm.train_batch", "train_batch and micro_batch must be at least 1")
        }
        if samples % a.trainBatch != 0 {
            throw fail(
                "algorithm.train_batch",
                "\(a.trainBatch) must divide rollout_batch × samples_per_prompt = "
                    + "\(a.rolloutBatch) × \(a.samplesPerPrompt) = \(samples); use a divisor such as \(divisorNear(samples, a.trainBatch))"
            )
        }
        if a.trainBatch % a.microBatch != 0 {
            throw fail(
                "algorithm.micro_batch",
                "\(a.microBatch) must divide train_batch = \(a.trainBatch); "
                    + "use a divisor such as \(divisorNear(a.trainBatch, a.microBatch))")
        }
        if a.estimator.usesGroupBaseline && a.samplesPerPrompt < 2 {
            throw fail(
                "algorithm.samples_per_prompt",
                "estimator \(a.estimator.rawValue) compares samples of one prompt "
                    + "and needs samples_per_prompt >= 2 (found \(a.samplesPerPrompt))")
        }
        if a.estimator.usesGroupBaseline && a.gamma != 1 {
            throw fail(
                "algorithm.gamma",
                "is \(a.gamma) but estimator \(a.estimator.rawValue) is defined with gamma = 1: set "
                    + "algorithm.gamma=1, or use estimator reinforce or gae")
        }
        if a.rewardClip.count != 2 || !(a.rewardClip[0] < a.rewardClip[1]) {
            throw fail("algorithm.reward_clip", "must be [low, high] with low < high (found \(a.rewardClip))")
        }
        if optim.betas.count != 2 || optim.betas.contains(where: { !($0 >= 0 && $0 < 1) }) {
            throw fail("optim.betas", "must be two numbers in [0, 1) (found \(optim.betas))")
        }
        if data.task == .dataset && data.train == nil {
            throw fail(
                "data.train",
                "task dataset needs a training file (JSONL or a JSON list); set data.train=PATH or "
                    + "use data.task=arith or chat_arith")
        }
        if data.task != .dataset && (data.train != nil || data.validation != nil || data.test != nil) {
            throw fail(
                "data.train",
                "data.task \(data.task.rawValue) generates its prompts; dataset files need "
                    + "data.task=dataset")
        }
        if reward.kind == .remote && reward.url == nil {
            throw fail("reward.url", "reward.kind remote needs the endpoint; set reward.url=http://HOST:PORT/PATH")
        }
        if (reward.kind == .model || reward.kind == .classifier) && reward.model == nil {
            throw fail(
                "reward.model",
                "reward.kind \(reward.kind.rawValue) needs a reward model checkpoint; set reward.model=PATH")
        }
        if kl.placement == .loss && kl.estimator == .k1 {
            throw fail(
                "kl.estimator",
                "is k1 but a KL loss term (kl.placement loss) needs k2 or k3: set kl.estimator=k2 or k3, "
                    + "or kl.placement=reward")
        }
        if kl.controller == .adaptive && kl.coef <= 0 {
            throw fail(
                "kl.coef", "the adaptive controller scales the coefficient and needs kl.coef > 0 (found \(kl.coef))")
        }
        if cluster.heartbeatSeconds >= cluster.leaseSeconds {
            throw fail(
                "cluster.heartbeat_seconds",
                "\(cluster.heartbeatSeconds) must be less than lease_seconds = "
                    + "\(cluster.leaseSeconds), or leases expire between heartbeats")
        }
        if cluster.encrypt && cluster.keyFile == nil {
            throw fail(
                "cluster.encrypt",
                "encryption uses a key derived from the cluster key; set "
                    + "cluster.key_file=PATH (make one with `openssl rand -hex 32 > cluster.key`) or "
                    + "cluster.encrypt=false")
        }
        try validateAddresses(fail)
        try validateRLCore(fail)
    }

    private func validateAddresses(_ fail: (String, String) -> ConfigError) throws {
        do {
            _ = try ClusterAddress(cluster.learner, key: "cluster.learner", tcpOnly: true)
        } catch let error as ConfigError {
            throw fail(error.key, error.message)
        }
        var taken: [String: String] = [:]
        for port in LearnerPort.allCases {
            taken[try cluster.learnerEndpoint(port)] = "cluster.learner (+\(port.rawValue) \(port))"
        }
        for (key, list) in [("cluster.reward", cluster.reward), ("cluster.reference", cluster.reference)] {
            if list.isEmpty { throw fail(key, "must list at least one address") }
            for address in list {
                do {
                    _ = try ClusterAddress(address, key: key, tcpOnly: false)
                } catch let error as ConfigError {
                    throw fail(error.key, error.message)
                }
                if let owner = taken[address] {
                    throw fail(key, "address \(address) is already used by \(owner); pick another port")
                }
                taken[address] = key
            }
        }
    }

    /// The divisor of `n` closest to `wanted`.
    private func divisorNear(_ n: Int, _ wanted: Int) -> Int {
        guard n > 0 else { return 1 }
        return (1...n).filter { n % $0 == 0 }.min { abs($0 - wanted) < abs($1 - wanted) } ?? 1
    }
}

/// The sockets the learner binds, as offsets from `cluster.learner` (the base address).
public enum LearnerPort: Int, Sendable, CaseIterable, CustomStringConvertible {
    /// base + 0: REP socket where rollout workers take leases and hand in results.
    case control = 0
    /// base + 1: BUS socket broadcasting policy weights.
    case weights = 1
    /// base + 2: REP socket answering status requests (`rpp cluster status`).
    case status = 2
    /// base + 3: PULL socket receiving streamed rollout samples.
    case rollouts = 3

    /// The role name.
    public var description: String {
        switch self {
        case .control: return "control REP"
        case .weights: return "weights BUS"
        case .status: return "status REP"
        case .rollouts: return "rollouts PULL"
        }
    }
}

extension RunConfig.ClusterSection {
    /// The address of one learner socket: the base `learner` address with its port plus the
    /// socket's offset (`tcp://127.0.0.1:5600` → weights at `tcp://127.0.0.1:5601`).
    public func learnerEndpoint(_ port: LearnerPort) throws -> String {
        let base = try ClusterAddress(learner, key: "cluster.learner", tcpOnly: true)
        return "tcp://\(base.host):\(base.port! + port.rawValue)"
    }
}

/// A parsed nanomsg address: `tcp://host:port`, `ipc://path` or `inproc://name`.
struct ClusterAddress {
    let scheme: String, host: String, port: Int?

    init(_ text: String, key: String, tcpOnly: Bool) throws {
        let example = "like tcp://127.0.0.1:5600"
        guard let range = text.range(of: "://") else {
            throw ConfigError(key: key, message: "'\(text)' is not an address; write it \(example)")
        }
        scheme = String(text[..<range.lowerBound])
        let rest = String(text[range.upperBound...])
        if tcpOnly && scheme != "tcp" {
            throw ConfigError(
                key: key, message: "'\(text)' must be a tcp address (other ports are derived from it), \(example)")
        }
        switch scheme {
        case "tcp":
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
                !rest[..<colon].isEmpty
            else {
                throw ConfigError(key: key, message: "'\(text)' needs a host and a port, \(example)")
            }
            let top = 65535 - (tcpOnly ? LearnerPort.allCases.count - 1 : 0)
            guard (1...top).contains(port) else {
                throw ConfigError(key: key, message: "port \(port) in '\(text)' must be in [1, \(top)]")
            }
            host = String(rest[..<colon])
            self.port = port
        case "ipc", "inproc":
            guard !rest.isEmpty else { throw ConfigError(key: key, message: "'\(text)' needs a name after ://") }
            host = rest
            port = nil
        default:
            throw ConfigError(
                key: key, message: "scheme '\(scheme)' in '\(text)' is not supported; use tcp, ipc or inproc")
        }
    }
}
