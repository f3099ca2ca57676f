// From a run config's `data` and `reward.verifier` sections and a model directory's text side to the learner's
// task. Errors name the setting, the file and the line.
import ChatTemplate
import Foundation
import Model
import Roles
import RunKit
import Wire

/// Builds the task a run config describes.
public enum TaskFactory {
    /// The task of `config` for a policy with `positions` positions whose text side is `text`; `log` hears about
    /// dropped prompts.
    public static func make(
        config: RunConfig, text: ModelText, positions: Int,
        log: (String) -> Void = { _ in }
    ) throws -> any PromptTask {
        let d = config.data
        let ops = d.ops.compactMap(ArithOp.init(name:))
        switch d.task {
        case .arith:
            guard case .characters = text.kind else {
                throw DatasetError(
                    "data.task arith is the character toy; \(text.directory) has a Hugging Face tokenizer: "
                        + "use data.task chat_arith or dataset")
            }
            return try ArithPromptTask(ops: ops, heldOut: config.eval.prompts)
        case .chatArith:
            let generator = ChatArithmetic(ops: ops, operands: d.operands[0]...d.operands[1])
            let parts = try Parts(config: config, text: text, useTemplate: text.template != nil)
            let splits = generator.splits(validation: config.eval.prompts, test: config.eval.prompts, seed: 1)
            func prompts(_ set: [ChatArithmetic.Question], base: UInt64) throws -> [Prompt] {
                try set.enumerated().map { i, q in
                    let it = try parts.item(q)
                    return Prompt(id: base + UInt64(i), tokens: it.tokens, answer: it.label)
                }
            }
            let held = Set((splits.validation + splits.test).map(\.question))
            let summary =
                "chat_arith (\(ops.map(\.rawValue).joined(separator: " ")), operands \(d.operands[0])-"
                + "\(d.operands[1]), \(parts.renderer.template == nil ? "plain text" : "chat template")), "
                + "\(splits.validation.count) validation and \(splits.test.count) test prompts, verifier \(config.reward.verifier)"
            return TextTask(
                training: .generated(generator, heldOut: held), text: text, renderer: parts.renderer,
                verifier: parts.verifier, stops: parts.stops, summary: summary,
                validation: try prompts(splits.validation, base: 1 << 40),
                test: try prompts(splits.test, base: 2 << 40))
        case .dataset:
            guard let trainPath = d.train else {
                throw DatasetError(
                    "data.task dataset needs data.train: a JSONL file or a JSON list of objects with "
                        + "\"\(d.inputKey)\" and \"\(d.labelKey)\"")
            }
            let parts = try Parts(config: config, text: text, useTemplate: d.applyChatTemplate)
            let keys = DatasetKeys(input: d.inputKey, label: d.labelKey)
            let limit = PromptLengthLimit(
                maxTokens: d.promptLimit(
                    positions: positions,
                    maxNewTokens: config.sampling.maxNewTokens),
                policy: d.longPrompts)
            func load(_ path: String, key: String) throws -> [Example] {
                do { return try PromptDataset.load(path, keys: keys) } catch { throw DatasetError("\(key): \(error)") }
            }
            func items(_ examples: [Example], key: String) throws -> [TaskItem] {
                var all: [TaskItem] = []
                for e in examples {
                    let rendered = try parts.renderer.render(e)
                    let tokens = try text.encode(rendered, addSpecialTokens: parts.renderer.template == nil)
                    guard !tokens.isEmpty else { throw DatasetError("\(key) \(e.id): the prompt is empty") }
                    all.append(TaskItem(tokens: tokens, label: e.label))
                }
                let (kept, dropped) = try limit.apply(lengths: all.map(\.tokens.count), ids: examples.map(\.id))
                if dropped > 0 {
                    log(
                        "\(key): dropped \(dropped) of \(all.count) prompts longer than \(limit.maxTokens) tokens "
                            + "(data.max_prompt_tokens; data.long_prompts: error refuses them instead)")
                }
                guard !kept.isEmpty || examples.isEmpty else {
                    throw DatasetError(
                        "\(key): every prompt is longer than \(limit.maxTokens) tokens (data.max_prompt_tokens)")
                }
                return kept.map { all[$0] }
            }
            var train = try load(trainPath, key: "data.train")
            guard !train.isEmpty else { throw DatasetError("data.train \(trainPath): no examples in the file") }
            var validation: [Example] = []
            if let path = d.validation {
                validation = try load(path, key: "data.validation")
            } else if d.heldoutFraction > 0 {
                (train, validation) = try PromptDataset.holdOut(
                    train, fraction: d.heldoutFraction,
                    seed: UInt64(config.run.seed))
            }
            let test = try d.test.map { try load($0, key: "data.test") } ?? []
            func prompts(_ set: [TaskItem], base: UInt64) -> [Prompt] {
                set.prefix(config.eval.prompts).enumerated().map { i, it in
                    Prompt(id: base + UInt64(i), tokens: it.tokens, answer: it.label)
                }
            }
            let trainItems = try items(train, key: "data.train")
            let v = prompts(try items(validation, key: "data.validation"), base: 1 << 40)
            let t = prompts(try items(test, key: "data.test"), base: 2 << 40)
            let summary =
                "dataset \((trainPath as NSString).lastPathComponent) (\(trainItems.count) training prompts, "
                + "keys \(d.inputKey)/\(d.labelKey)\(parts.renderer.template == nil ? "" : ", chat template")), "
                + "\(v.count) validation and \(t.count) test prompts, verifier \(config.reward.verifier)"
            return TextTask(
                training: .examples(trainItems, SeededPasses(count: trainItems.count)), text: text,
                renderer: parts.renderer,
                verifier: parts.verifier, stops: parts.stops, summary: summary, validation: v, test: t)
        }
    }

    /// What every text task is made of.
    struct Parts {
        let renderer: PromptRenderer
        let verifier: any Verifier
        let stops: StopStrings?
        let text: ModelText

        init(config: RunConfig, text: ModelText, useTemplate: Bool) throws {
            self.text = text
            var template: ChatTemplate? = nil
            if useTemplate {
                guard let t = text.template else {
                    throw DatasetError(
                        "data.apply_chat_template: \(text.templateProblem ?? "\(text.directory) has no chat template")")
                }
                template = t
            }
            renderer = PromptRenderer(
                template: template, specialTokens: text.specialTokens,
                system: config.data.systemPrompt)
            do { verifier = try VerifierSpec.parse(config.reward.verifier) } catch {
                throw DatasetError("reward.verifier: \(error)")
            }
            stops = StopStrings(config.sampling.stop, text: text)
        }

        func item(_ q: ChatArithmetic.Question) throws -> TaskItem {
            try TextTask.item(q, renderer: renderer, text: text)
        }
    }
}
