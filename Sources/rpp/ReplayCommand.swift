// `rpp replay DIR`: re-runs a learner's updates from a recording (`rpp learner --record DIR`) with no workers,
// and checks the result against the recorded parameters bit for bit.
import ArgumentParser
import CSupport
import Foundation
import Model
import Roles

/// Subcommands about recordings.
let recordingCommands: [any ParsableCommand.Type] = [ReplayCommand.self]

/// `rpp replay DIR [--until N] [--out DIR]`.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-run a recorded learner's updates with no workers and check the final weights bit for bit.",
        discussion: """
            DIR is a recording made with `rpp learner --record DIR`: recording.json, config.yaml, start/ (the \
            trainer before the first recorded update), batches/iter-NNNNNN.frame (one experience_batch frame per \
            iteration), index.jsonl and final.json. Replay loads config.yaml and start/, checks every batch \
            file against index.jsonl (size, SHA-256, frame, sample count), then before each update checks the \
            parameters' SHA-256 and policy version against index.jsonl, and applies the learner's update. It prints the final parameters' SHA-256 next \
            to the recorded one and exits 0 only when they are equal; any mismatch or damage is one line naming \
            the file or iteration, exit status 1.

            Bit-exactness needs the recording's OpenBLAS kernels: replay re-executes itself with \
            OPENBLAS_CORETYPE set to the core named in recording.json (even over an OPENBLAS_CORETYPE already \
            set; RPP_NO_REEXEC=1 keeps the current one), so the CPU must be able to run them: a recording made \
            with OPENBLAS_CORETYPE=Nehalem replays on any x86-64 CPU. Large products are split into as many parts \
            as the recording process had cores (recording.json: workers), whatever this machine's core count. \
            OPENBLAS_NUM_THREADS does not matter (rpp runs OpenBLAS single-threaded).
            """)

    @Argument(help: "The recording directory (written by `rpp learner --record DIR`).")
    var directory: String

    @Option(
        help: ArgumentHelp(
            "Stop after iteration N and compare with the parameters the learner had then.", valueName: "n"))
    var until: Int?

    @Option(
        help: ArgumentHelp(
            "Save the resulting trainer checkpoint (weights, optimiser, counters) to this directory.", valueName: "dir")
    )
    var out: String?

    func validate() throws {
        if let until, until < 0 {
            throw ValidationError("--until must be an iteration number (0 or more), not \(until)")
        }
    }

    func run() throws {
        do {
            let recording = try Recording(directory: URL(fileURLWithPath: directory))
            if let problem = BLASCore.cannotRun(
                recorded: recording.header.blasCore, hasAVX512: OpenBLASTuning.cpuHasAVX512(),
                hasAVX2: rpp_cpu_has_avx2() != 0)
            {
                fail(problem)
            }
            BLASCore.reexecIfNeeded(recorded: recording.header.blasCore)
            try replay(recording)
        } catch let exit as ExitCode {
            throw exit
        } catch let error as RecordingError {
            fail(error.message)
        } catch {
            fail("\(error)")
        }
    }

    private func replay(_ recording: Recording) throws {
        let h = recording.header
        let last = recording.entries.last?.iteration
        var line = "replay: \(directory): \(recording.entries.count) recorded batches"
        if let first = recording.entries.first?.iteration, let last { line += " (iterations \(first)–\(last))" }
        line +=
            ", OpenBLAS core \(OpenBLASTuning.coreName) (recorded \(h.blasCore)), \(Parallel.workers) cores (recorded \(h.workers))"
        print(line)
        if OpenBLASTuning.coreName.lowercased() != h.blasCore.lowercased() {
            print(
                "replay: warning: OpenBLAS runs \(OpenBLASTuning.coreName) kernels, the recording used \(h.blasCore); "
                    + "the weights will most likely differ")
        }
        if let name = h.matmulKernel, let recorded = MatmulKernel(rawValue: name), recorded != MatmulKernel.selected,
            recording.config.model.learnerPrecision == .bf16
        {
            if recorded.isSupported() {
                MatmulKernel.selected = recorded
                print("replay: bf16 products run on the recorded kernel \(name)")
            } else {
                print(
                    "replay: warning: the recording's bf16 products ran on the \(name) kernel, which this CPU cannot "
                        + "run; a run with bf16 products will most likely differ")
            }
        }
        if h.workers >= 1, Parallel.workers != h.workers {
            print(
                "replay: products split into \(h.workers) parts as recorded (this machine has \(Parallel.workers) cores)"
            )
            Parallel.workers = h.workers
        }
        fflush(nil)
        let trainer = try Replay.makeTrainer(recording)
        let result = try Replay.run(recording, trainer: trainer, until: until) {
            print($0)
            fflush(nil)
        }
        if let out {
            do { try trainer.save(directory: URL(fileURLWithPath: out)) } catch {
                fail("cannot save the checkpoint to \(out): \(error)")
            }
            print("replay: checkpoint \(out) (iteration \(trainer.iteration), policy version \(trainer.version))")
        }
        let got = WeightDigest.hex(result.finalSHA256)
        print("replay: final parameters sha256 \(got)")
        guard let expected = result.expectedSHA256 else {
            print(
                "replay: recorded parameters sha256 none: \(recording.directory.path)/final.json is missing (the learner "
                    + "was killed before it finished); replay with --until \((last ?? 1) - 1) to check up to the last recorded state"
            )
            throw ExitCode(1)
        }
        print("replay: recorded parameters sha256 \(expected) (\(result.expectedSource))")
        let count = result.iterations.map { $0.count } ?? 0
        if result.matches {
            print(String(format: "replay: identical, bit for bit (%d updates in %.2f s)", count, result.seconds))
        } else {
            print(
                "replay: MISMATCH: the replayed weights differ from the recorded ones after iteration "
                    + "\(result.iterations?.upperBound ?? trainer.iteration) (OpenBLAS core \(OpenBLASTuning.coreName), "
                    + "recorded \(h.blasCore); \(Parallel.workers) cores, recorded \(h.workers))")
            throw ExitCode(1)
        }
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("rpp replay: \(message)\n".utf8))
        Foundation.exit(1)
    }
}

/// Makes this process use the OpenBLAS kernels a recording was made with.
enum BLASCore {
    /// Re-executes with OPENBLAS_CORETYPE=`recorded` when OpenBLAS picked another core (even one chosen through
    /// OPENBLAS_CORETYPE: bit-exactness needs the recorded kernels). Set RPP_NO_REEXEC to keep the current core.
    static func reexecIfNeeded(recorded: String) {
        guard getenv("RPP_NO_REEXEC") == nil, getenv("RPP_REPLAY_REEXECUTED") == nil,
            OpenBLASTuning.coreName.lowercased() != recorded.lowercased()
        else { return }
        // Once only (the marker). When exec fails the replay carries on with the current kernels and the SHA-256
        // comparison tells.
        OpenBLASTuning.reexec(withCore: recorded, marker: "RPP_REPLAY_REEXECUTED")
    }

    /// Why this CPU cannot run OpenBLAS core `recorded` (OpenBLAS takes the name and then dies of an illegal
    /// instruction in its first product), or nil when it can or the core is not one rpp knows the needs of.
    static func cannotRun(recorded: String, hasAVX512: Bool, hasAVX2: Bool) -> String? {
        guard let needs = OpenBLASTuning.instructionSet(ofCore: recorded) else { return nil }
        if needs == "AVX-512" ? hasAVX512 : hasAVX2 { return nil }
        return "the recording was made with OpenBLAS's \(recorded) kernels, which need \(needs), and this CPU has "
            + "none: replay on a CPU with \(needs), or record with OPENBLAS_CORETYPE set to a core every machine "
            + "runs (Haswell for AVX2, Nehalem for any x86-64)"
    }
}
