// A reward computed by a remote HTTP endpoint, compatible with OpenRLHF's --remote_rm_url: POST
// {"query": [prompt + response, ...], "prompts": [...], "labels": [...]} as JSON, answer {"rewards": [...]}
// (extra keys such as "scores" or "extra_logs" are ignored).
//
// A stuck endpoint never freezes a run: every request has a timeout and is retried with backoff; when a
// batch still fails, each sample is sent alone (so one bad sample cannot sink the others), and a sample
// whose own requests fail gets the fallback reward and is counted in `failed`.
import ChatTemplate
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// How a remote reward behaves when the endpoint is slow or wrong.
public struct RemoteRewardPolicy: Sendable, Equatable {
    /// Seconds one request may take.
    public var timeout: Double
    /// Further attempts after a failed request.
    public var retries: Int
    /// Seconds before the first retry; doubles with each further one.
    public var backoff: Double
    /// The reward of a sample the endpoint could not score.
    public var fallback: Double

    public init(timeout: Double = 30, retries: Int = 2, backoff: Double = 0.5, fallback: Double = 0) {
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.fallback = fallback
    }

    /// Seconds to wait before attempt `n` (0 for the first).
    public func delay(beforeAttempt n: Int) -> Double { n == 0 ? 0 : backoff * Double(1 << min(n - 1, 20)) }
}

/// Rewards of one batch and what went wrong.
public struct RemoteRewards: Sendable, Equatable {
    public var rewards: [Double]
    /// Samples that got the fallback reward.
    public var failed: Int
    /// The last error seen, for the log; nil when every request succeeded at once.
    public var lastError: String?
}

/// A failed request: what happened, in one line.
public struct RemoteRewardError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// A client of a remote reward endpoint.
public final class RemoteReward: Sendable {
    public let url: URL
    public let policy: RemoteRewardPolicy
    private let session: URLSession

    /// A client for `url` (http or https).
    public init(url: String, policy: RemoteRewardPolicy = RemoteRewardPolicy()) throws {
        guard let u = URL(string: url), let scheme = u.scheme, ["http", "https"].contains(scheme), u.host != nil else {
            throw RemoteRewardError(
                message: "reward.url \"\(url)\" is not an http(s) URL such as http://127.0.0.1:5000/get_reward")
        }
        guard policy.timeout > 0, policy.retries >= 0, policy.backoff >= 0, policy.fallback.isFinite else {
            throw RemoteRewardError(
                message: "remote reward: timeout must be positive, retries and backoff not negative, fallback finite")
        }
        self.url = u
        self.policy = policy
        // The request's own deadline is kept by `post` (URLSession on Linux does not honour fractions of a
        // second); the session's timeouts are a looser bound behind it.
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = policy.timeout.rounded(.up) + 2
        config.timeoutIntervalForResource = policy.timeout.rounded(.up) + 2
        session = URLSession(configuration: config)
    }

    /// Rewards of `queries` (prompt + response texts), with their prompts and labels (same counts).
    public func score(queries: [String], prompts: [String], labels: [String]) -> RemoteRewards {
        precondition(queries.count == prompts.count && prompts.count == labels.count)
        if queries.isEmpty { return RemoteRewards(rewards: [], failed: 0, lastError: nil) }
        var lastError: String?
        switch attempt(queries, prompts, labels) {
        case .success(let r): return RemoteRewards(rewards: r, failed: 0, lastError: nil)
        case .failure(let e): lastError = e.message
        }
        if queries.count == 1 { return RemoteRewards(rewards: [policy.fallback], failed: 1, lastError: lastError) }
        var out = RemoteRewards(rewards: [], failed: 0, lastError: lastError)
        for i in queries.indices {
            switch attempt([queries[i]], [prompts[i]], [labels[i]]) {
            case .success(let r): out.rewards.append(r[0])
            case .failure(let e):
                out.rewards.append(policy.fallback)
                out.failed += 1
                out.lastError = e.message
            }
        }
        return out
    }

    /// One request with its retries.
    private func attempt(_ q: [String], _ p: [String], _ l: [String]) -> Result<[Double], RemoteRewardError> {
        let body: Data
        do { body = try JSONSerialization.data(withJSONObject: ["query": q, "prompts": p, "labels": l]) } catch {
            return .failure(RemoteRewardError(message: "cannot encode the request: \(error)"))
        }
        var last = RemoteRewardError(message: "no attempt made")
        for n in 0...policy.retries {
            let wait = policy.delay(beforeAttempt: n)
            if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            switch post(body) {
            case .success(let data):
                switch Self.rewards(from: data, count: q.count) {
                case .success(let r): return .success(r)
                case .failure(let e): last = e
                }
            case .failure(let e): last = e
            }
        }
        return .failure(last)
    }

    private func post(_ body: Data) -> Result<Data, RemoteRewardError> {
        var request = URLRequest(
            url: url, cachePolicy: .reloadIgnoringLocalCacheData,
            timeoutInterval: policy.timeout.rounded(.up) + 2)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = body
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        let task = session.dataTask(with: request) { data, response, error in
            if let error {
                box.result = .failure(RemoteRewardError(message: "\(self.url): \(error.localizedDescription)"))
            } else if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                box.result = .failure(RemoteRewardError(message: "\(self.url): HTTP \(http.statusCode)"))
            } else {
                box.result = .success(data ?? Data())
            }
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + policy.timeout) == .timedOut {
            task.cancel()
            return .failure(RemoteRewardError(message: "\(url): no answer within \(policy.timeout) s"))
        }
        return box.result ?? .failure(RemoteRewardError(message: "\(url): no answer"))
    }

    /// The rewards of an answer body: {"rewards": [numbers]} with one per sample.
    public static func rewards(from data: Data, count: Int) -> Result<[Double], RemoteRewardError> {
        guard let text = String(data: data, encoding: .utf8), case .dict(let object)? = try? JSONReader.parse(text)
        else {
            return .failure(RemoteRewardError(message: "the answer is not a JSON object (want {\"rewards\": [...]})"))
        }
        guard case .list(let list)? = object["rewards"] else {
            return .failure(RemoteRewardError(message: "the answer has no \"rewards\" list"))
        }
        guard list.count == count else {
            return .failure(RemoteRewardError(message: "the answer has \(list.count) rewards for \(count) samples"))
        }
        var out: [Double] = []
        for v in list {
            switch v {
            case .int(let n): out.append(Double(n))
            case .double(let x) where x.isFinite: out.append(x)
            default:
                return .failure(RemoteRewardError(message: "the answer's rewards must be finite numbers (found \(v))"))
            }
        }
        return .success(out)
    }
}

/// The result a URLSession callback hands back to the waiting thread.
private final class ResultBox: @unchecked Sendable {
    var result: Result<Data, RemoteRewardError>?
}
