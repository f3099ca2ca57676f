// The rollout worker's loop (see RolloutWorker.swift) and the handling of one work unit.
import Foundation
import Model
import Wire

extension RolloutWorker {
    /// Registers, then serves work units until `stop()`. Throws when the learner cannot be reached at start.
    public func run() throws {
        try register()
        settings.log(
            "\(settings.workerID): registered with \(settings.learner.control), weights from "
                + settings.learner.workerWeights)
        var waitingSince: Date? = nil
        while !stopFlag.isCancelled {
            if heartbeats.takeNeedsRegister() { try? register() }
            refreshWeights()
            guard let version = policyVersion else {
                if let (v, chunks) = weights.chunksToAskFor() {
                    let ask = WorkRequest(
                        workerID: settings.workerID, policyVersion: 0, partialVersion: v, missingChunks: chunks,
                        repairOnly: true)
                    _ = try? control.call(.workRequest(ask), timeout: requestTimeout, cancel: stopFlag)
                }
                // No verified weights yet: after a while register again, which makes the learner re-send them.
                // A large model's weights take seconds to arrive: ask again only when none are arriving.
                if let since = waitingSince, Date().timeIntervalSince(since) > 2, weights.secondsSinceLastFrame > 2 {
                    try? register()
                    waitingSince = Date()
                }
                if waitingSince == nil { waitingSince = Date() }
                pause(milliseconds: 20)
                continue
            }
            let reply: WireMessage
            do {
                // Chunks of a newer version lost on the way are named, so that just those come again.
                let partial = weights.chunksToAskFor().flatMap { $0.version > version ? $0 : nil }
                let ask = WorkRequest(
                    workerID: settings.workerID, policyVersion: version, partialVersion: partial?.version ?? 0,
                    missingChunks: partial?.chunks ?? [])
                reply = try control.call(.workRequest(ask), timeout: requestTimeout, cancel: stopFlag)
            } catch let e as RemoteError {
                // notFound: the learner does not know this worker (or restarted): register again.
                // overloaded: no work right now.
                if e.code == .notFound { try? register() }
                pause(milliseconds: LearnerHub.retryMillis)
                continue
            } catch let error as FrameError {
                // The learner's answer did not decode (a unit this build cannot read): the learner must know, or
                // it would wait for that unit forever.
                if stopFlag.isCancelled { break }
                report(UnitFailure(workerID: settings.workerID, unitID: 0, stage: .read, message: "\(error)"))
                pause(milliseconds: 500)
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
                do {
                    try push.sendSync(.experienceBatch(batch), timeout: requestTimeout, cancel: stopFlag)
                } catch { throw StageError(stage: .deliver, underlying: error) }
                unitCompleted(samples: batch.items.count)
            } catch {
                if stopFlag.isCancelled { break }
                let stage = (error as? StageError)?.stage ?? .sample
                let message = (error as? StageError).map { "\($0.underlying)" } ?? "\(error)"
                report(UnitFailure(workerID: settings.workerID, unitID: unit.id, stage: stage, message: message))
                pause(milliseconds: 200)
            }
        }
        sayGoodbye()
    }

    /// Samples, scores and (optionally) reference-scores one unit.
    func process(_ unit: WorkUnit, version: UInt64) throws -> ExperienceBatch {
        let n = unit.samplesPerPrompt
        // Each prompt n times, left-padded to the longest; the padding is masked and positions start at each
        // prompt's first token, so a sample is what its prompt alone would give.
        let batch = LeftPadded(unit.prompts.flatMap { Array(repeating: $0.tokens, count: n) })
        let s = unit.sampling
        let seed = s.seed ^ (unit.id &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(truncatingIfNeeded: unit.iteration << 40)
        let g: Generation
        // Stop strings: a row also ends once its decoded text ends with one (the text is the task's to decode).
        var responses = [[Int32]](repeating: [], count: batch.rows.count)
        let stopString = settings.endsWithStopString
        do {
            g = try model.generate(
                prompts: batch.rows,
                options: SamplingOptions(
                    temperature: s.temperature, topP: s.topP, topK: s.topK, maxNewTokens: s.maxNewTokens,
                    stopTokens: Set(s.stopTokens), seed: seed, maxBatch: settings.maxBatch), starts: batch.starts,
                onToken: stopString.map { ends in
                    { row, token in
                        responses[row].append(token)
                        return !ends(responses[row])
                    }
                })
        } catch { throw StageError(stage: .sample, underlying: error) }
        var rollouts: [Rollout] = []
        for (b, tokens) in g.tokens.enumerated() {
            let p = unit.prompts[b / n]
            rollouts.append(
                Rollout(
                    unitID: unit.id, promptID: p.id, sampleIndex: b % n, promptTokens: p.tokens,
                    responseTokens: tokens, behaviourLogprobs: g.logprobs[b],
                    finishReason: g.finish[b] == .stop ? .stop : .length, policyVersion: version,
                    workerID: settings.workerID))
        }
        // A reward or reference server may die mid-request: retry the scoring (not the sampling) a few times
        // before the unit is given up (its lease then expires and the learner re-issues it).
        var scored: ([Float], [[Float]]?)? = nil
        for attempt in 1...3 where scored == nil && !stopFlag.isCancelled {
            do { scored = try scoreInParallel(unit: unit, rollouts: rollouts) } catch  where attempt < 3 {
                settings.log("\(settings.workerID): scoring unit \(unit.id) failed (attempt \(attempt)): \(error)")
                pause(milliseconds: 200)
            } catch { throw StageError(stage: .score, underlying: error) }
        }
        guard let result = scored else { throw WorkerError("stopped while scoring unit \(unit.id)") }
        let (rewards, refs) = result
        let items = rollouts.enumerated().map { i, r in
            Experience(rollout: r, reward: rewards[i], refLogprobs: refs?[i])
        }
        return ExperienceBatch(unitID: unit.id, workerID: settings.workerID, items: items)
    }

    /// Asks the reward servers and (when used) the reference servers at the same time, in requests of at most
    /// the servers' cap of items each.
    func scoreInParallel(unit: WorkUnit, rollouts: [Rollout]) throws -> ([Float], [[Float]]?) {
        let cap = min(ScoreRequest.maxItems, RefLogprobRequest.maxSequences)
        var rewards: [Float] = []
        var refs: [[Float]]? = references == nil ? nil : []
        for first in stride(from: 0, to: rollouts.count, by: cap) {
            let part = Array(rollouts[first..<min(first + cap, rollouts.count)])
            let (r, l) = try scoreInParallel(unit: unit, rollouts: part, first: first)
            rewards += r
            if let l { refs? += l }
        }
        return (rewards, refs)
    }

    /// Scores `rollouts`, the rollouts of `unit` from index `first` on.
    private func scoreInParallel(unit: WorkUnit, rollouts: [Rollout], first: Int) throws -> ([Float], [[Float]]?) {
        let n = unit.samplesPerPrompt
        let score = ScoreRequest(
            id: unit.id,
            items: rollouts.enumerated().map { b, r in
                ScoreItem(
                    promptTokens: r.promptTokens, responseTokens: r.responseTokens,
                    answer: unit.prompts[(first + b) / n].answer)
            })
        let box = ResultBox()
        let group = DispatchGroup()
        if let references {
            let request = RefLogprobRequest(
                id: unit.id,
                sequences: rollouts.map {
                    TokenSequence(promptTokens: $0.promptTokens, responseTokens: $0.responseTokens)
                }, temperature: unit.sampling.temperature)
            let timeout = requestTimeout
            let cancel = stopFlag
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
            zip(rr.logprobs, rollouts).allSatisfy({ $0.count == $1.responseTokens.count })
        else {
            throw RolesError(.invalidBatch, "reference server answered with the wrong shape")
        }
        return (sr.rewards, rr.logprobs)
    }

    /// Tells the learner this worker could not do a unit (best effort: the lease expiry covers a lost report).
    private func report(_ failure: UnitFailure) {
        let unit = failure.unitID == 0 ? "a work unit" : "unit \(failure.unitID)"
        settings.log("\(settings.workerID): could not do \(unit) (\(failure.stage.rawValue)): \(failure.message)")
        do {
            _ = try control.call(.unitFailure(failure), timeout: requestTimeout, cancel: stopFlag)
        } catch {
            settings.log("\(settings.workerID): the learner did not take the failure report: \(error)")
        }
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

/// A unit's failure with the stage it happened at.
struct StageError: Error {
    let stage: UnitFailure.Stage
    let underlying: any Error
}
