// `rpp data arith`: writes the arithmetic task's prompt sets as JSONL.
import ArgumentParser
import Foundation
import Model
import Tasks

/// `rpp data ...`: built-in data sets.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Write built-in task data sets.",
        subcommands: [DataArith.self])
}

/// `rpp data arith`: train / validation / test JSONL files of {"prompt", "answer"}.
struct DataArith: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arith",
        abstract: "Write arithmetic prompt sets (train, validation, test) as JSONL.",
        discussion: "Validation and test are seeded and disjoint; train never contains a held-out prompt.")

    @Option(help: "Output directory.") var out: String = "runs/data/arith"
    @Option(help: "Operations, comma separated: add, sub, mul.") var ops: String = "add"
    @Option(help: "Training prompts to write.") var train: Int = 10000
    @Option(help: "Validation prompts.") var validation: Int = 500
    @Option(help: "Held-out test prompts.") var test: Int = 500
    @Option(help: "Seed of the splits (the same seed gives the splits `rpp sft` uses).") var seed: UInt64 = 1

    func validate() throws {
        // The arith task has about half a million distinct problems; more cannot be drawn without repeats.
        try checkRange(train, 0...100_000, "--train")
        try checkRange(validation, 0...100_000, "--validation")
        try checkRange(test, 0...100_000, "--test")
    }

    func run() throws {
        let task = try arithTask(ops)
        guard train >= 0, validation >= 0, test >= 0 else { throw ValidationError("counts must be non-negative") }
        let (val, tst) = task.splits(validation: validation, test: test, seed: seed)
        let held = Set(val.map(\.prompt)).union(tst.map(\.prompt))
        var rng = Xoshiro256(seed: seed &+ 0xDA7A)
        var tr: [ArithProblem] = []
        while tr.count < train {
            let p = task.draw(&rng)
            if !held.contains(p.prompt) { tr.append(p) }
        }
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, set) in [("train", tr), ("validation", val), ("test", tst)] {
            let text = set.map(ArithTask.jsonLine).joined(separator: "\n") + (set.isEmpty ? "" : "\n")
            try Data(text.utf8).write(to: dir.appendingPathComponent("\(name).jsonl"))
            print("wrote \(set.count) prompts to \(dir.appendingPathComponent("\(name).jsonl").path)")
        }
    }
}

/// Parses "add,sub" into an ArithTask.
func arithTask(_ ops: String) throws -> ArithTask {
    let parsed = try ops.split(separator: ",").map { s -> ArithOp in
        guard let op = ArithOp(name: s.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("unknown operation \(s) (use add, sub, mul)")
        }
        return op
    }
    return ArithTask(ops: parsed)
}

/// A runtime failure of a policy-engine command, printed as one line.
struct ModelCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
