// Where the learner's prompts come from (data.task): the built-in arithmetic task (fresh random problems every
// iteration, seeded validation/test splits excluded from training) or JSONL files with `prompt` and `answer`
// fields (data.train, data.validation, data.test). Prompts are tokenised with the model's character tokenizer
// and left-padded to data.prompt_width. The prompts of iteration i depend only on (run.seed, i), so a resumed
// run continues with exactly the prompts the interrupted one would have used.
import Foundation
import Model
import RunKit
import Wire

/// The learner's prompts and held-out sets.
struct PromptSource: Sendable {
    enum Kind: Sendable { case arith(ArithTask), jsonl(train: [ArithProblem]) }
    let kind: Kind
    /// Held-out prompts evaluated every eval.every iterations.
    let validation: [ArithProblem]
    /// Held-out prompts evaluated once at the end.
    let test: [ArithProblem]
    let tokenizer = CharTokenizer()
    let promptWidth: Int
    /// Response tokens allowed in evaluation.
    let maxNewTokens: Int

    /// Builds the source `config.data` describes; JSONL errors name the file and line.
    init(config: RunConfig, splitSeed: UInt64) throws {
        let d = config.data
        promptWidth = d.promptWidth
        maxNewTokens = config.sampling.maxNewTokens
        switch d.task {
        case .arith:
            let task = ArithTask(ops: d.ops.compactMap(ArithOp.init(name:)))
            let splits = task.splits(validation: config.eval.prompts, test: config.eval.prompts, seed: splitSeed)
            kind = .arith(task)
            validation = splits.validation
            test = splits.test
        case .jsonl:
            guard let train = d.train else {
                throw RolesError(.invalidConfig, "data.task jsonl needs data.train=PATH (a JSONL file of {\"prompt\", \"answer\"})")
            }
            let problems = try Self.load(train, key: "data.train")
            guard !problems.isEmpty else { throw RolesError(.invalidConfig, "data.train \(train): no prompts in the file") }
            kind = .jsonl(train: problems)
            validation = try d.validation.map { try Self.load($0, key: "data.validation") } ?? []
            test = try d.test.map { try Self.load($0, key: "data.test") } ?? []
        }
        for (key, set) in [("data.train", trainProblems), ("data.validation", validation), ("data.test", test)] {
            for p in set { _ = try tokens(p, key: key) }
        }
    }

    private var trainProblems: [ArithProblem] {
        if case .jsonl(let train) = kind { return train }
        return []
    }

    /// Reads `{"prompt": "...", "answer": "..."}` lines (answer may be a number); blank lines are skipped.
    static func load(_ path: String, key: String) throws -> [ArithProblem] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw RolesError(.invalidConfig, "\(key) \(path): cannot read the file (\(ioReason(error)))")
        }
        var out: [ArithProblem] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let at = "\(key) \(path):\(i + 1)"
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw RolesError(.invalidConfig, "\(at): not a JSON object; each line must be {\"prompt\": \"...\", \"answer\": \"...\"}")
            }
            guard let prompt = object["prompt"] as? String else {
                throw RolesError(.invalidConfig, "\(at): missing string field \"prompt\"")
            }
            let answer: String
            if let s = object["answer"] as? String { answer = s }
            else if let n = object["answer"] as? NSNumber { answer = n.stringValue }
            else { throw RolesError(.invalidConfig, "\(at): missing field \"answer\" (a string or a number)") }
            out.append(ArithProblem(prompt: prompt, answer: answer))
        }
        return out
    }

    /// Prompt tokens (at most the prompt width, no padding).
    func tokens(_ p: ArithProblem, key: String = "prompt") throws -> [Int32] {
        let ids: [Int32]
        do { ids = try tokenizer.encode(p.prompt) } catch {
            throw RolesError(.invalidConfig, "\(key): prompt \"\(p.prompt)\" has a character outside the model's vocabulary "
                             + "(digits and + - * =)")
        }
        guard ids.count <= promptWidth else {
            throw RolesError(.invalidConfig, "\(key): prompt \"\(p.prompt)\" is \(ids.count) tokens, longer than data.prompt_width = \(promptWidth)")
        }
        return ids
    }

    /// The `count` prompts of `iteration` (1-based): fresh arithmetic problems not held out, or the next slice of a
    /// seeded shuffle of the training file (a new shuffle every pass).
    func prompts(iteration: Int, count: Int, seed: UInt64) throws -> [Prompt] {
        var problems: [ArithProblem] = []
        switch kind {
        case .arith(let task):
            let heldOut = Set((validation + test).map(\.prompt))
            var rng = Xoshiro256(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(iteration))
            while problems.count < count {
                let p = task.draw(&rng)
                if !heldOut.contains(p.prompt) { problems.append(p) }
            }
        case .jsonl(let train):
            let start = (iteration - 1) * count
            for k in start..<(start + count) {
                let pass = k / train.count
                problems.append(train[Self.shuffled(train.count, seed: seed, pass: pass)[k % train.count]])
            }
        }
        return try problems.enumerated().map { i, p in
            Prompt(id: UInt64(iteration) * 1_000_000 + UInt64(i), tokens: try tokens(p), answer: p.answer)
        }
    }

    /// A seeded permutation of 0..<n for one pass over the training file.
    static func shuffled(_ n: Int, seed: UInt64, pass: Int) -> [Int] {
        var order = Array(0..<n)
        var rng = Xoshiro256(seed: seed ^ (0xDA7A_5E7 &* UInt64(pass + 1)))
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return order
    }

    /// Greedy accuracy on `problems`: exact answer then EOS for arithmetic, numeric answer match for JSONL.
    func evaluate(_ model: Transformer, on problems: [ArithProblem], batch: Int = 512) throws -> Double {
        if case .arith(let task) = kind { return try task.evaluate(model, on: problems, batch: batch) }
        let verifier = NumericAnswerMatch(tokenizer: tokenizer, requireEOS: true)
        var correct = 0, i = 0
        while i < problems.count {
            let part = Array(problems[i..<min(i + batch, problems.count)])
            let rows = try part.map { try tokens($0) }
            let padded = LeftPadded(rows, padId: tokenizer.padId)
            let g = try model.generate(prompts: padded.rows, options: SamplingOptions(temperature: 0, maxNewTokens: maxNewTokens,
                                                                                     stopTokens: [tokenizer.eosId]),
                                       starts: padded.starts)
            for (k, p) in part.enumerated() {
                let item = ScoreItem(promptTokens: rows[k], responseTokens: g.tokens[k], answer: p.answer)
                if verifier.reward(item) == 1 { correct += 1 }
            }
            i += batch
        }
        return problems.isEmpty ? 0 : Double(correct) / Double(problems.count)
    }
}
