// Tasks on text for real models: dataset files (`data.task: dataset`) and generated chat arithmetic
// (`data.task: chat_arith`). Prompts are rendered (through the chat template when asked), tokenized with the
// model directory's tokenizer and held to the prompt-length limit; responses are judged by a verifier on their
// decoded text. Training prompts of an iteration are a function of (seed, iteration), so a resumed run draws the
// prompts the interrupted one would have drawn.
import Model
import Roles
import Wire

/// One tokenized prompt with its ground truth.
struct TaskItem: Sendable {
    var tokens: [Int32]
    var label: String
}

/// A task whose prompts and rewards are text.
public struct TextTask: PromptTask {
    /// Where training prompts come from.
    enum Training: Sendable {
        /// A dataset, visited in a new seeded order every pass.
        case examples([TaskItem], SeededPasses)
        /// Generated questions, never one of the held-out ones.
        case generated(ChatArithmetic, heldOut: Set<String>)
    }

    let training: Training
    let text: ModelText
    let renderer: PromptRenderer
    let verifier: any Verifier
    let stops: StopStrings?
    public let summary: String
    public let validation: [Prompt]
    public let test: [Prompt]
    public var stopTokens: [Int32] { text.stopTokens }

    public func prompts(iteration: Int, count: Int, seed: UInt64) throws -> [Prompt] {
        var items: [TaskItem] = []
        switch training {
        case .examples(let all, let passes):
            // Positions (iteration - 1) * count ..< iteration * count of the endless sequence of seeded passes.
            let start = (iteration - 1) * count
            for k in start..<(start + count) { items.append(all[passes.item(at: k, seed: seed)]) }
        case .generated(let generator, let heldOut):
            var rng = Xoshiro256(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(iteration))
            while items.count < count {
                let q = generator.draw(&rng)
                if heldOut.contains(q.question) { continue }
                items.append(try Self.item(q, renderer: renderer, text: text))
            }
        }
        return items.enumerated().map { i, it in
            Prompt(id: UInt64(iteration) * 1_000_000 + UInt64(i), tokens: it.tokens, answer: it.label)
        }
    }

    /// The tokenized prompt of a generated question.
    static func item(_ q: ChatArithmetic.Question, renderer: PromptRenderer, text: ModelText) throws -> TaskItem {
        let rendered = try renderer.render(Example(id: q.question, input: .text(q.question), label: q.answer))
        return TaskItem(tokens: try text.encode(rendered, addSpecialTokens: renderer.template == nil), label: q.answer)
    }

    public func evaluationReward(_ item: ScoreItem) -> Double {
        verifier.score(response: text.response(item.responseTokens), label: item.answer)
    }

    public func endsWithStopString(_ response: [Int32]) -> Bool { stops?.ends(response) ?? false }

    public func text(_ tokens: [Int32]) -> String { text.text(tokens) }
}

/// Generated arithmetic questions in words, for chat models: "What is 23 + 41? Answer with just the number."
public struct ChatArithmetic: Sendable {
    /// One question and its answer.
    public struct Question: Sendable, Equatable {
        public var question: String
        public var answer: String
    }

    public let ops: [ArithOp]
    /// Operands are uniform in this range.
    public let operands: ClosedRange<Int>

    public init(ops: [ArithOp], operands: ClosedRange<Int>) {
        self.ops = ops.isEmpty ? [.add] : ops
        self.operands = operands
    }

    /// How many distinct questions there are.
    public var distinctCount: Int { ops.count * operands.count * operands.count }

    /// A random question.
    public func draw(_ rng: inout Xoshiro256) -> Question {
        let op = ops[Int(rng.next() % UInt64(ops.count))]
        let width = UInt64(operands.count)
        let a = operands.lowerBound + Int(rng.next() % width)
        let b = operands.lowerBound + Int(rng.next() % width)
        let (word, value): (String, Int)
        switch op {
        case .add: (word, value) = ("+", a + b)
        case .sub: (word, value) = ("-", a - b)
        case .mul: (word, value) = ("times", a * b)
        }
        return Question(question: "What is \(a) \(word) \(b)? Answer with just the number.", answer: String(value))
    }

    /// Distinct validation and test questions (disjoint), seeded; each at most a quarter of all questions.
    public func splits(validation: Int, test: Int, seed: UInt64) -> (validation: [Question], test: [Question]) {
        var rng = Xoshiro256(seed: seed ^ 0x5EED_0F_5B11)
        var seen = Set<String>()
        let cap = max(1, distinctCount / 4)
        func take(_ n: Int) -> [Question] {
            var out: [Question] = []
            while out.count < min(n, cap) {
                let q = draw(&rng)
                if seen.insert(q.question).inserted { out.append(q) }
            }
            return out
        }
        let v = take(validation)
        return (v, take(test))
    }
}
