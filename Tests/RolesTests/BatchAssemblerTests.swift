import Wire
import XCTest

// BatchAssembler: validation of groups, staleness bound, ordering of the complete batch, and the
// IterationCollector interplay (refused prompts come back as new units).
@testable import Roles

final class BatchAssemblerTests: XCTestCase {
    func group(_ unit: UInt64, _ pid: UInt64, n: Int = 2, version: UInt64 = 10, length: Int = 3) -> [Experience] {
        (0..<n).map { makeExperience(unitID: unit, promptID: pid, sample: $0, length: length, version: version) }
    }

    func testYieldsBatchInPromptThenSampleOrder() throws {
        var a = try makeAssembler(promptIDs: [5, 3, 9])
        // Delivered out of order, samples reversed.
        let b1 = ExperienceBatch(unitID: 1, workerID: "w", items: (group(1, 9) + group(1, 5)).reversed())
        XCTAssertEqual(a.add(b1, expectedPromptIDs: [9, 5]).accepted, [9, 5])
        XCTAssertNil(a.rolloutBatch())
        XCTAssertEqual(a.missingCount, 1)
        XCTAssertEqual(
            a.add(ExperienceBatch(unitID: 2, workerID: "w", items: group(2, 3)), expectedPromptIDs: [3]).accepted, [3])
        let batch = try XCTUnwrap(a.rolloutBatch())
        XCTAssertEqual(batch.experiences.map(\.rollout.promptID), [5, 5, 3, 3, 9, 9])
        XCTAssertEqual(batch.experiences.map(\.rollout.sampleIndex), [0, 1, 0, 1, 0, 1])
        XCTAssertEqual(a.counters.acceptedSamples, 6)
    }

    func testRefusesInvalidGroups() throws {
        func refused(
            _ items: [Experience], ref: Bool = true, _ fragment: String, file: StaticString = #filePath,
            line: UInt = #line
        ) throws {
            var a = try makeAssembler(promptIDs: [1], ref: ref)
            let out = a.add(ExperienceBatch(unitID: 4, workerID: "w", items: items), expectedPromptIDs: [1])
            XCTAssertEqual(out.regenerate, [1], file: file, line: line)
            XCTAssertEqual(out.accepted, [], file: file, line: line)
            XCTAssertTrue(
                out.errors.first?.message.contains(fragment) ?? false, "\(out.errors)", file: file, line: line)
            XCTAssertEqual(a.counters.invalidGroups, 1, file: file, line: line)
        }
        let good = group(4, 1)
        try refused(Array(good.prefix(1)), "1 samples, expected 2")
        try refused(good + [makeExperience(unitID: 4, promptID: 1, sample: 2, version: 10)], "3 samples")
        try refused([good[0], good[0]], "sample indices")
        try refused(
            [good[0], makeExperience(unitID: 4, promptID: 1, sample: 1, length: 0, version: 10)], "0 response tokens")
        try refused(
            [good[0], makeExperience(unitID: 4, promptID: 1, sample: 1, length: 7, version: 10)], "7 response tokens")
        var noRef = good
        noRef[1].refLogprobs = nil
        try refused(noRef, "lacks reference log-probs")
        var shortRef = good
        shortRef[1].refLogprobs = [-1]
        try refused(shortRef, "1 reference log-probs")
        var shortLogp = good
        shortLogp[0].rollout.behaviourLogprobs.removeLast()
        try refused(shortLogp, "2 log-probs for 3 tokens")
        var nan = good
        nan[0].reward = .nan
        try refused(nan, "non-finite reward")
        var future = good
        future[1].rollout.policyVersion = 11
        try refused(future, "newer than the learner's")
        var otherUnit = good
        otherUnit[1].rollout.unitID = 99
        try refused(otherUnit, "names unit 99")
        try refused([], "0 samples")
    }

    func testRefLogprobsOptionalWhenKLIsOff() throws {
        var a = try makeAssembler(promptIDs: [1], ref: false)
        var g = group(4, 1)
        g[0].refLogprobs = nil
        XCTAssertEqual(a.add(ExperienceBatch(unitID: 4, workerID: "w", items: g), expectedPromptIDs: [1]).accepted, [1])
        XCTAssertNil(
            try XCTUnwrap(a.rolloutBatch()).tensors().refLogprobs, "ref arrays only when every sample has them")
    }

    func testStalenessBound() throws {
        var a = try makeAssembler(promptIDs: [1, 2, 3], version: 10, staleness: 2)
        var mixed = group(4, 2, version: 8)
        mixed[1].rollout.policyVersion = 7
        let out = a.add(
            ExperienceBatch(unitID: 4, workerID: "w", items: group(4, 1, version: 8) + mixed),
            expectedPromptIDs: [1, 2])
        XCTAssertEqual(out.accepted, [1], "version 8 = current − s is still accepted")
        XCTAssertEqual(out.regenerate, [2])
        XCTAssertEqual(a.counters.staleSamples, 1)
        XCTAssertEqual(a.counters.staleGroups, 1)
        XCTAssertEqual(a.counters.droppedSamples, 2, "the whole group goes")
        var zero = try makeAssembler(promptIDs: [1], version: 10, staleness: 0)
        XCTAssertEqual(
            zero.add(ExperienceBatch(unitID: 4, workerID: "w", items: group(4, 1, version: 9)), expectedPromptIDs: [1])
                .regenerate, [1])
        var none = try makeAssembler(promptIDs: [1], version: 10, staleness: nil)
        XCTAssertEqual(
            none.add(ExperienceBatch(unitID: 4, workerID: "w", items: group(4, 1, version: 0)), expectedPromptIDs: [1])
                .accepted, [1])
        let early = try makeAssembler(promptIDs: [1], version: 1, staleness: 5)
        XCTAssertEqual(early.config.oldestAcceptedVersion, 0)
    }

    func testMissingForeignAndAlreadyFilledPrompts() throws {
        var a = try makeAssembler(promptIDs: [1, 2])
        let out = a.add(
            ExperienceBatch(unitID: 4, workerID: "w", items: group(4, 1) + group(4, 77)), expectedPromptIDs: [1, 2])
        XCTAssertEqual(out.accepted, [1])
        XCTAssertEqual(out.regenerate, [2], "an expected prompt with no samples is regenerated")
        XCTAssertEqual(out.errors.count, 2)
        XCTAssertEqual(a.counters.droppedSamples, 2, "samples of a prompt outside the unit are dropped")
        let again = a.add(ExperienceBatch(unitID: 5, workerID: "w", items: group(5, 1)), expectedPromptIDs: [1])
        XCTAssertEqual(again.alreadyFilled, [1])
        XCTAssertEqual(a.counters.acceptedSamples, 2)
    }

    func testConfigValidation() {
        XCTAssertThrowsError(try makeAssembler(promptIDs: [1, 1]))
        XCTAssertThrowsError(try makeAssembler(promptIDs: [1], n: 0))
        XCTAssertThrowsError(
            try BatchAssembler(
                iteration: 0, promptOrder: [1],
                config: .init(
                    samplesPerPrompt: 1, minResponseTokens: 4, maxResponseTokens: 3, requireRefLogprobs: false,
                    policyVersion: 0)))
    }

    func testCollectorRegeneratesStalePrompts() throws {
        let ledger = try makeLedger(prompts: 4, unitSize: 4)
        var c = try IterationCollector(ledger: ledger, assembler: makeAssembler(promptIDs: ledger.promptIDsInOrder))
        let u = try XCTUnwrap(c.nextUnit(for: "a", now: 0))
        var batch = makeBatch(u, worker: "a", version: 10)
        for i in batch.items.indices where batch.items[i].rollout.promptID == 102 {
            batch.items[i].rollout.policyVersion = 1
        }
        let d = c.deliver(batch, now: 5)
        XCTAssertEqual(d.assembly?.regenerate, [102])
        XCTAssertEqual(d.regenerationUnits.count, 1)
        XCTAssertEqual(c.deliver(batch, now: 6).completion, .duplicate)
        let r = try XCTUnwrap(c.nextUnit(for: "b", now: 7))
        XCTAssertEqual(r.prompts.map(\.id), [102])
        XCTAssertFalse(c.isComplete)
        XCTAssertEqual(c.deliver(makeBatch(r, worker: "b", version: 10), now: 8).assembly?.accepted, [102])
        XCTAssertTrue(c.isComplete)
        XCTAssertNil(c.nextUnit(for: "b", now: 9))
        XCTAssertEqual(c.rolloutBatch()?.count, 8)
        XCTAssertEqual(c.ledger.counters.regeneratedPrompts, 1)
    }

    func testCollectorRefusesMismatchedParts() throws {
        let ledger = try makeLedger(prompts: 2, n: 2)
        XCTAssertThrowsError(
            try IterationCollector(ledger: ledger, assembler: makeAssembler(promptIDs: [100, 101], n: 3)))
        XCTAssertThrowsError(try IterationCollector(ledger: ledger, assembler: makeAssembler(promptIDs: [100, 5])))
    }
}

extension WorkLedger {
    /// Prompt ids of the ledger's initial units, in order.
    var promptIDsInOrder: [UInt64] {
        (firstUnitID..<nextUnitID).flatMap { promptIDs(ofUnit: $0) ?? [] }
    }
}
