// `rpp bench memory --inference`: what an inference role holds (resident memory once its weights are in
// place and it has sampled), per precision, each in a fresh child process. A bf16 role keeps only the
// bfloat16 copy of its weights.
import ArgumentParser
import Foundation
import Model

extension BenchMemory {
    /// The parent: one child per precision, then the table.
    func runInference(shape s: ModelBenchShape) throws {
        let precisions = try precisionList(precision)
        let count = ParameterLayout(config: s.config).totalCount
        print(ModelBench.cpuLine())
        print(
            String(
                format: "shape %@: %d parameters (%.0f MiB in fp32, %.0f MiB in bf16); 16 rows x 32 new tokens",
                s.name, count, Double(count) * 4 / 1_048_576, Double(count) * 2 / 1_048_576))
        print("precision | resident MiB after sampling | peak MiB")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rpp-bench-memory-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for p in precisions {
            let log = dir.appendingPathComponent("inference-\(p.rawValue).log")
            let child = try BenchChild(
                name: "inference-\(p.rawValue)", executable: currentExecutable(),
                arguments: ["bench", "memory", "--shape", shape, "--inference-child", p.rawValue],
                log: log, environment: [:])
            while child.isRunning { usleep(20_000) }
            guard let exit = child.exit, exit.status == 0 else {
                throw ValidationError("the \(p.rawValue) child failed: \(child.tail())")
            }
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("resident_mb ") }),
                let resident = Double(line.dropFirst("resident_mb ".count))
            else {
                throw ValidationError("the \(p.rawValue) child printed no resident size: \(child.tail())")
            }
            print(String(format: "%9@ | %27.0f | %8.0f", p.rawValue, resident, exit.peakMB))
        }
    }

    /// The child: a model of the shape with random weights, switched to `precision` as a role does, samples
    /// once, then prints its resident memory.
    static func holdForInference(shape s: ModelBenchShape, precision name: String) throws {
        guard let p = try precisionList(name).first else { throw ValidationError("no precision given") }
        let m = try Transformer(config: s.config)
        m.initializeWeights(seed: 1)
        m.usePrecision(p, keepFloat32: false)
        let prompts = (0..<16).map { r in (0..<16).map { Int32((r * 31 + $0 * 7) % s.config.vocabSize) } }
        _ = try m.generate(prompts: prompts, options: SamplingOptions(temperature: 1, maxNewTokens: 32, seed: 1))
        print(String(format: "resident_mb %.1f", residentMegabytes()))
    }

    /// VmRSS of this process in MiB.
    static func residentMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return .nan }
        return kb / 1024
    }
}
