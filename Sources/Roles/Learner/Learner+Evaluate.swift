// The learner's held-out evaluations: greedy responses scored by the task, and a few of them written to the run
// directory (samples.jsonl) and to TensorBoard (text), so a run shows what the policy writes as it learns.
import Foundation
import Model
import RunKit
import Wire

extension Learner {
    /// Evaluates `prompts` (the `split` set) greedily, records the first `eval.samples` responses at `iteration`,
    /// and returns the evaluation.
    func evaluate(_ prompts: [Prompt], split: String, iteration: Int, metrics: RunMetrics) throws -> Evaluation {
        let cfg = settings.run
        let settings = EvaluationSettings(
            maxNewTokens: cfg.sampling.maxNewTokens, stopTokens: Set(stopTokens),
            maxBatch: evaluationBatch, samples: cfg.eval.samples)
        let result = try task.evaluate(model, on: prompts, settings: settings)
        if !result.samples.isEmpty {
            try metrics.recordSamples(
                lines: result.samples.map { Self.jsonLine($0, split: split, iteration: iteration) },
                markdown: Self.markdown(result.samples), tag: MetricName.samplesTag(split: split), step: iteration)
            lastSample = result.samples.first
            if iteration == 0 {
                samplesBefore = result.samples
            } else if split == "validation" {
                samplesAfter = result.samples
            }
        }
        return result
    }

    /// Rows a held-out evaluation decodes at a time: enough to keep both cores busy, few enough that a large
    /// model's cache stays small.
    var evaluationBatch: Int { model.parameterCount > 50_000_000 ? 64 : 0 }

    /// One samples.jsonl line.
    static func jsonLine(_ s: EvaluationSample, split: String, iteration: Int) -> String {
        let object: [String: Any] = [
            "iteration": iteration, "split": split, "prompt": s.prompt,
            "response": s.response, "label": s.label, "reward": s.reward,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A markdown table of `samples` for TensorBoard's text view.
    static func markdown(_ samples: [EvaluationSample]) -> String {
        func cell(_ text: String) -> String {
            text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: "<br>")
        }
        var out = "| prompt | response | label | reward |\n|---|---|---|---|\n"
        for s in samples {
            out +=
                "| \(cell(s.prompt)) | \(cell(s.response)) | \(cell(s.label)) | \(String(format: "%.3g", s.reward)) |\n"
        }
        return out
    }

    /// Lines showing the same held-out prompts answered before training and at the last evaluation.
    func beforeAndAfterLines() -> [String] {
        guard let after = samplesAfter, !samplesBefore.isEmpty else { return [] }
        func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\n", with: "⏎") + "\"" }
        var lines = ["learner: held-out responses before training → at the last evaluation:"]
        for (b, a) in zip(samplesBefore, after) where b.prompt == a.prompt {
            lines.append(
                "  answer \(a.label): \(quoted(b.response)) (reward \(String(format: "%.2g", b.reward))) → "
                    + "\(quoted(a.response)) (reward \(String(format: "%.2g", a.reward)))")
        }
        return lines
    }
}
