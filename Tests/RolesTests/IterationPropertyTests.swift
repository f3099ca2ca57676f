import Wire
import XCTest

// Seeded property test of the learner's iteration bookkeeping: across random interleavings of hand-outs,
// deliveries, duplicate deliveries, late deliveries, stale and invalid samples, lease expiries and lost
// workers, every prompt's samples are accepted exactly once: nothing lost, nothing doubled.
@testable import Roles

final class IterationPropertyTests: XCTestCase {
    struct Held {
        var unit: WorkUnit
        var worker: String
    }

    @discardableResult
    func runScenario(seed: UInt64, steps: Int) throws -> (WorkLedger.Counters, BatchAssembler.Counters) {
        var rng = SeededRNG(seed: seed)
        let promptCount = Int.random(in: 1...300, using: &rng)
        let n = Int.random(in: 1...4, using: &rng)
        let unitSize = Int.random(in: 1...4, using: &rng)
        let ledger = try WorkLedger(
            iteration: 7, prompts: makePrompts(promptCount), unitSize: unitSize,
            samplesPerPrompt: n, leaseMillis: 30, firstUnitID: 1000)
        var c = try IterationCollector(
            ledger: ledger, assembler: makeAssembler(promptIDs: ledger.promptIDsInOrder, n: n))
        let workers = ["w0", "w1", "w2", "w3"]
        var held: [Held] = []  // units a worker is working on
        var delivered: [ExperienceBatch] = []  // everything ever sent, for replays
        var acceptedGroups: [UInt64: Int] = [:]
        var acceptedUnits: [UInt64: Int] = [:]
        var now: Millis = 0

        func deliver(_ b: ExperienceBatch) {
            let d = c.deliver(b, now: now)
            switch d.completion {
            case .accepted: acceptedUnits[b.unitID, default: 0] += 1
            case .duplicate: break
            default: XCTFail("seed \(seed): unexpected \(d.completion)")
            }
            for p in d.assembly?.accepted ?? [] { acceptedGroups[p, default: 0] += 1 }
            delivered.append(b)
        }
        func build(_ h: Held) -> ExperienceBatch {
            var b = makeBatch(
                h.unit, worker: h.worker, version: 10, lengths: { _, _ in Int.random(in: 1...6, using: &rng) })
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: for i in b.items.indices { b.items[i].rollout.policyVersion = 3 }  // stale
            case 1: if !b.items.isEmpty { b.items.removeLast() }  // a missing sample
            default: break
            }
            return b
        }

        // The random phase stops at a random step, often with units still out, so the drain below matters.
        let randomSteps = Int.random(in: (steps / 20)...steps, using: &rng)
        for _ in 0..<randomSteps {
            now += Millis.random(in: 0...10, using: &rng)
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<35:
                let w = workers.randomElement(using: &rng)!
                if let u = c.nextUnit(for: w, now: now) { held.append(Held(unit: u, worker: w)) }
            case 35..<70 where !held.isEmpty:
                let h = held.remove(at: Int.random(in: 0..<held.count, using: &rng))
                deliver(build(h))
            case 70..<78 where !delivered.isEmpty:
                deliver(delivered.randomElement(using: &rng)!)  // duplicate / late replay
            case 78..<88:
                _ = c.expire(now: now)
            case 88..<93:
                let w = workers.randomElement(using: &rng)!
                _ = c.workerLost(w)
                // Dead, or a zombie that still delivers.
                if Bool.random(using: &rng) { held.removeAll { $0.worker == w } }
            case 93..<96 where !held.isEmpty:
                held.remove(at: Int.random(in: 0..<held.count, using: &rng))  // silently dropped work
            default:
                break
            }
            XCTAssertTrue(acceptedGroups.values.allSatisfy { $0 == 1 }, "seed \(seed): a prompt accepted twice")
            XCTAssertTrue(acceptedUnits.values.allSatisfy { $0 == 1 }, "seed \(seed): a unit accepted twice")
        }
        // Every worker vanishes silently (no workerLost): only lease expiry can bring their units back.
        // Then one healthy worker drains the queue until the iteration completes.
        held.removeAll()
        var rounds = 0
        while !c.isComplete && rounds < 10_000 {
            rounds += 1
            now += 100
            _ = c.expire(now: now)
            while let u = c.nextUnit(for: "healthy", now: now) { deliver(makeBatch(u, worker: "healthy", version: 10)) }
        }
        XCTAssertTrue(c.isComplete, "seed \(seed): iteration never completed")
        XCTAssertTrue(c.ledger.isFinished, "seed \(seed): ledger still has open units")
        let batch = try XCTUnwrap(c.rolloutBatch())
        XCTAssertEqual(batch.count, promptCount * n)
        let ids = Set(makePrompts(promptCount).map(\.id))
        XCTAssertEqual(Set(acceptedGroups.keys), ids)
        XCTAssertTrue(acceptedGroups.values.allSatisfy { $0 == 1 }, "seed \(seed)")
        for (k, e) in batch.experiences.enumerated() {
            XCTAssertEqual(e.rollout.sampleIndex, k % n)
            XCTAssertEqual(e.rollout.promptID, batch.experiences[k - k % n].rollout.promptID, "groups contiguous")
            XCTAssertEqual(e.rollout.policyVersion, 10, "no stale sample in the batch")
        }
        let counters = c.ledger.counters
        XCTAssertEqual(counters.completed, acceptedUnits.count)
        XCTAssertGreaterThanOrEqual(counters.issued, counters.completed)
        // Every delivery comes from a worker that held its unit, so each is either the first or a duplicate.
        XCTAssertEqual(counters.duplicatesDropped, delivered.count - acceptedUnits.count)
        return (counters, c.assembler.counters)
    }

    func testEveryPromptAcceptedExactlyOnceAcrossSeeds() throws {
        var ledger = WorkLedger.Counters()
        var assembly = BatchAssembler.Counters()
        for seed in UInt64(1)...40 {
            let (l, a) = try runScenario(seed: seed, steps: 3000)
            ledger.reissued += l.reissued
            ledger.duplicatesDropped += l.duplicatesDropped
            ledger.expired += l.expired
            ledger.regeneratedPrompts += l.regeneratedPrompts
            assembly.staleGroups += a.staleGroups
            assembly.invalidGroups += a.invalidGroups
        }
        // The scenarios must actually exercise every path they claim to cover.
        XCTAssertGreaterThan(ledger.reissued, 100)
        XCTAssertGreaterThan(ledger.duplicatesDropped, 100)
        XCTAssertGreaterThan(ledger.expired, 100)
        XCTAssertGreaterThan(ledger.regeneratedPrompts, 20)
        XCTAssertGreaterThan(assembly.staleGroups, 10)
        XCTAssertGreaterThan(assembly.invalidGroups, 10)
    }

    func testLongRun() throws {
        try runScenario(seed: 0xC0FFEE, steps: 20_000)
    }
}
