// The rollout worker's loop (see RolloutWorker.swift) and the handling of one work unit.
import Foundation
import Model
import Wire

extension RolloutWorker {
    /// Registers, then serves work units until `stop()`. Throws when the learner cannot be reached at start.
    public func run() throws {
        try register()
        settings.log("\(settings.workerID): registered with \(settings.learner.control)")
        var waitingSince: Date? = nil
        while !stopFlag.isCancelled {
            if heartbeats.takeNeedsRegister() { try? register() }
            refreshWeights()
            guard let version = policyVersion else {
                // No verified weights yet: after a while register again, which makes the learner re-send them.
                if let since = waitingSince, Date().timeIntervalSince(since) > 2 { try? register(); waitingSince = Date() }
                if waitingSince == nil { waitingSince = Date() }
                pause(milliseconds: 20)
                continue
            }
            let reply: WireMessage
            do {
                reply = try control.call(.workRequest(WorkRequest(workerID: settings.workerID, policyVersion: version)),
                                         timeout: requestTimeout, cancel: stopFlag)
            } catch let e as RemoteError {
                // notFound: the learner does not know this worker (or restarted): register again.
                // overloaded: no work right now.
                if e.code == .notFound { try? register() }
                pause(milliseconds: LearnerHub.retryMillis)
                continue
            } catch {
                settings.log("\(settings.workerID): work request failed: \(error)")
                pause(milliseconds: 500)
                continue
            }
            guard case .workUnit(let unit) = reply else {
                settings.log("\(settings.workerID): learner answered a work request with \(reply.kind.name)")
                continue
            }
            do {
                let batch = try process(unit, version: version)
                try push.sendSync(.experienceBatch(batch), timeout: requestTimeout, cancel: stopFlag)
                unitCompleted(samples: batch.items.count)
            } catch {
                if stopFlag.isCancelled { break }
                settings.log("\(settings.workerID): unit \(unit.id) failed: \(error)")
                pause(milliseconds: 200)
            }
        }
        sayGoodbye()
    }

    /// Samples, scores and (optionally) reference-scores one unit.
    func process(_ unit: WorkUnit, version: UInt64) throws -> ExperienceBatch {
        let n = unit.samplesPerPrompt
        let width = unit.prompts.map(\.tokens.count).max() ?? 0
        var rows: [[Int32]] = []
        for p in unit.prompts {
            let padded = [Int32](repeating: 0, count: width - p.tokens.count) + p.tokens
            rows += Array(repeating: padded, count: n)
        }
        let s = unit.sampling
        let seed = s.seed ^ (unit.id &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(truncatingIfNeeded: unit.iteration << 40)
        let g = try model.generate(prompts: rows, options: SamplingOptions(
            temperature: s.temperature, topP: s.topP, topK: s.topK, maxNewTokens: s.maxNewTokens,
            stopTokens: Set(s.stopTokens), seed: seed))
        var rollouts: [Rollout] = []
        for (b, tokens) in g.tokens.enumerated() {
            let p = unit.prompts[b / n]
            rollouts.append(Rollout(unitID: unit.id, promptID: p.id, sampleIndex: b % n, promptTokens: rows[b],
                                    responseTokens: tokens, behaviourLogprobs: g.logprobs[b],
                                    finishReason: g.finish[b] == .stop ? .stop : .length, policyVersion: version,
                                    workerID: settings.workerID))
        }
        // A reward or reference server may die mid-request: retry the scoring (not the sampling) a few times
        // before the unit is given up (its lease then expires and the learner re-issues it).
        var scored: ([Float], [[Float]]?)? = nil
        for attempt in 1...3 where scored == nil && !stopFlag.isCancelled {
            do { scored = try scoreInParallel(unit: unit, rollouts: rollouts) } catch where attempt < 3 {
                settings.log("\(settings.workerID): scoring unit \(unit.id) failed (attempt \(attempt)): \(error)")
                pause(milliseconds: 200)
            }
        }
        guard let result = scored else { throw WorkerError("stopped while scoring unit \(unit.id)") }
        let (rewards, refs) = result
        let items = rollouts.enumerated().map { i, r in Experience(rollout: r, reward: rewards[i], refLogprobs: refs?[i]) }
        return ExperienceBatch(unitID: unit.id, workerID: settings.workerID, items: items)
    }

    /// Asks the reward servers and (when used) the reference servers at the same time.
    func scoreInParallel(unit: WorkUnit, rollouts: [Rollout]) throws -> ([Float], [[Float]]?) {
        let n = unit.samplesPerPrompt
        let score = ScoreRequest(id: unit.id, items: rollouts.enumerated().map { b, r in
            ScoreItem(promptTokens: r.promptTokens, responseTokens: r.responseTokens, answer: unit.prompts[b / n].answer)
        })
        let box = ResultBox()
        let group = DispatchGroup()
        if let references {
            let request = RefLogprobRequest(id: unit.id, sequences: rollouts.map {
                TokenSequence(promptTokens: $0.promptTokens, responseTokens: $0.responseTokens)
            }, temperature: unit.sampling.temperature)
            let timeout = requestTimeout, cancel = stopFlag
            DispatchQueue.global().async(group: group) {
                box.set(Result { try references.call(.refLogprobRequest(request), timeout: timeout, cancel: cancel) })
            }
        }
        // SIGTERM (stop()) ends both waits at once: a worker blocked on a server that does not answer stops
        // promptly instead of when the request times out.
        let reply: WireMessage
        do { reply = try rewards.call(.scoreRequest(score), timeout: requestTimeout, cancel: stopFlag) } catch {
            group.wait()
            throw error
        }
        group.wait()
        guard case .scoreReply(let sr) = reply, sr.rewards.count == rollouts.count else {
            throw RolesError(.invalidBatch, "reward server answered with \(reply.kind.name) of the wrong size")
        }
        guard references != nil else { return (sr.rewards, nil) }
        guard case .refLogprobReply(let rr) = try box.get()!.get(), rr.logprobs.count == rollouts.count,
              zip(rr.logprobs, rollouts).allSatisfy({ $0.count == $1.responseTokens.count }) else {
            throw RolesError(.invalidBatch, "reference server answered with the wrong shape")
        }
        return (sr.rewards, rr.logprobs)
    }

    private func pause(milliseconds: Int) {
        let until = Date(timeIntervalSinceNow: Double(milliseconds) / 1000)
        while !stopFlag.isCancelled && Date() < until { Thread.sleep(forTimeInterval: 0.005) }
    }
}

/// One result handed from a helper thread.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<WireMessage, any Error>?
    func set(_ v: Result<WireMessage, any Error>) { lock.withLock { value = v } }
    func get() -> Result<WireMessage, any Error>? { lock.withLock { value } }
}
