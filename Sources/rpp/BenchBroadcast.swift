// `rpp bench broadcast`: one policy version after another from a learner-side WeightBroadcaster to rollout-worker
// WeightReceivers in processes of their own (this binary, run with --receive), over loopback; the time from the
// publish call (bf16 rounding and chunk checksums included) to the moment the last worker has the version verified.
import ArgumentParser
import Foundation
import Model
import Roles
import Synchronization
import Wire

struct BenchBroadcast: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broadcast",
        abstract: "Seconds for a policy version to reach every worker (processes on loopback), fp32 or bf16.",
        discussion: "Each version is the previous one after a small step. A worker whose chunks stopped coming names "
            + "the ones it lacks and gets those again, as a rollout worker does in its work requests; one that has not "
            + "verified a version within the learner's re-send interval gets the whole version again.")

    @Option(help: "Parameters per version (SmolLM2-135M: 134515008).") var params: Int = 134_515_008
    @Option(help: "Worker processes.") var workers: Int = 4
    @Option(help: "Versions to send, one after another.") var versions: Int = 5
    @Option(help: "Broadcast precision: fp32 or bf16.") var precision: String = "fp32"
    @Option(
        help: ArgumentHelp(
            "Transport: tcp (loopback), ipc (a Unix socket) or shm (versions in shared memory, announced on a "
                + "Unix socket: what workers on a loopback learner's machine use)."))
    var transport: String = "tcp"
    @Option(help: "Elements per chunk.") var chunkElements: Int = WeightPublisher.defaultChunkElements
    @Option(help: "Pacing of the broadcast in MB/s (0: unpaced, as runs send).") var pacing: Double = 0
    @Flag(help: "Send versions after the first as XOR deltas against the previous one.") var delta = false
    @Option(help: "Frame compression (cluster.compression): auto, never or always. Deltas follow it.")
    var compression: String = Compression.auto.rawValue
    @Option(help: .hidden) var receive: String?

    func validate() throws {
        try checkRange(params, 1...(1 << 30), "--params")
        try checkRange(workers, 1...64, "--workers")
        try checkRange(versions, 1...1000, "--versions")
        try checkRange(chunkElements, 1024...(1 << 26), "--chunk-elements")
        try checkRange(pacing, 0...100_000, "--pacing")
        guard WeightPrecision(rawValue: precision) != nil else { throw ValidationError("--precision: fp32 or bf16") }
        guard ["ipc", "shm", "tcp"].contains(transport) else { throw ValidationError("--transport: tcp, ipc or shm") }
        guard Compression(rawValue: compression) != nil else {
            throw ValidationError("--compression: auto, never or always")
        }
    }

    func run() throws {
        if let receive { return try runWorker(address: receive) }
        let prec = WeightPrecision(rawValue: precision)!
        let address =
            transport == "tcp"
            ? "tcp://127.0.0.1:\(LoopbackPort.free())"
            : "ipc://\(NSTemporaryDirectory())rpp-bench-broadcast-\(getpid()).ipc"
        print(
            "rpp bench broadcast  \(params) parameters, \(workers) worker processes, \(prec.rawValue)"
                + (delta ? " + XOR delta" : "") + ", compression \(compression)"
                + ", \(transport), chunks of \(chunkElements), "
                + (pacing > 0 ? "pacing \(Int(pacing)) MB/s" : "unpaced"))
        print(ModelBench.cpuLine())
        let broadcaster = try WeightBroadcaster(
            address: address, codec: FrameCodec(compression: Compression(rawValue: compression)!), precision: prec,
            delta: delta, sharedMemory: transport == "shm",
            pacingBytesPerSecond: pacing * 1e6, log: { print($0) })
        defer { broadcaster.close() }
        let board = Scoreboard()
        let children = try (0..<workers).map { try spawnWorker(index: $0, address: address, board: board) }
        defer { for c in children where c.isRunning { c.terminate() } }
        guard board.waitReady(workers, timeout: 30) else { throw ValidationError("workers did not start") }
        Thread.sleep(forTimeInterval: 0.5)  // connections
        var parameters = initial(params)
        print(
            "version  publish s  send s  waited s  all verified s  wire MB  repairs  re-sends  CPU s: learner  "
                + "workers  (per worker s)")
        var times: [Double] = []
        var cpu: [(learner: Double, workers: Double)] = []
        for v in 1...UInt64(versions) {
            if v > 1 { step(&parameters, seed: v) }
            let start = DispatchTime.now().uptimeNanoseconds
            let learnerCPU = processCPUNanoseconds()
            try broadcaster.publish(version: v, parameters: parameters, chunkElements: chunkElements)
            let published = DispatchTime.now().uptimeNanoseconds
            let stats = broadcaster.lastBroadcast
            var resends = 0
            var repairs = 0
            let interval = max(0.5, 2 * (stats?.seconds ?? 0), Double(params * prec.dtype.size) / 250e6)
            var deadline = Date(timeIntervalSinceNow: interval)
            let giveUp = Date(timeIntervalSinceNow: 120)
            while !board.all(workers, have: v) {
                guard Date() < giveUp else { throw ValidationError("version \(v) did not reach every worker in 120 s") }
                for (version, chunks) in board.takeMissing() where version == v {
                    broadcaster.resend(version: v, chunks: chunks)
                    repairs += 1
                }
                if Date() >= deadline {
                    broadcaster.republish()
                    resends += 1
                    deadline = Date(timeIntervalSinceNow: interval)
                }
                board.wait(seconds: 0.01)
            }
            let each = board.times(of: v).map { Double($0 - start) / 1e9 }
            let total = each.max() ?? 0
            times.append(total)
            cpu.append(
                (Double(processCPUNanoseconds() - learnerCPU) / 1e9, Double(board.cpuSpent(on: v)) / 1e9))
            print(
                String(
                    format: "%7d  %9.3f  %6.3f  %8.3f  %14.3f  %7.1f  %7d  %8d  %14.3f  %7.3f  ", v,
                    Double(published - start) / 1e9, stats?.seconds ?? 0, stats?.waitSeconds ?? 0, total,
                    Double(stats?.wireBytes ?? 0) / 1e6, repairs, resends, cpu.last!.learner, cpu.last!.workers)
                    + each.map { String(format: "%.3f", $0) }.joined(separator: " "))
        }
        let first = times.count > 1 ? 1 : 0
        let steady = times[first...]
        // Medians of the CPU times: the workers' second version, when each also faults in a fresh buffer, does not
        // move them.
        print(
            String(
                format: "mean over versions %d-%d: %.3f s per version (%.0f MB of %@ to each worker); median CPU s a "
                    + "version: learner %.3f, workers together %.3f", first + 1, times.count,
                steady.reduce(0, +) / Double(steady.count), Double(params * prec.dtype.size) / 1e6, prec.rawValue,
                median(cpu[first...].map(\.learner)), median(cpu[first...].map(\.workers))))
    }

    /// Weights of a small model's scale.
    func initial(_ n: Int) -> [Float] {
        var s: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<n).map { _ in
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(s >> 40) / Float(1 << 24) - 0.5) * 0.08
        }
    }

    /// A small update of every parameter, as one optimiser step makes.
    func step(_ p: inout [Float], seed: UInt64) {
        var s = seed &* 0xD1B5_4A32_D192_ED03
        for i in p.indices {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            p[i] += (Float(s >> 40) / Float(1 << 24) - 0.5) * 2e-5
        }
    }

    func spawnWorker(index: Int, address: String, board: Scoreboard) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: currentExecutable())
        process.arguments = ["bench", "broadcast", "--receive", address]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        Thread {
            var pending = Data()
            while true {
                let data = out.fileHandleForReading.availableData
                if data.isEmpty { return }
                pending.append(data)
                while let nl = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...nl)
                    board.take(worker: index, line: line)
                }
            }
        }.start()
        return process
    }

    /// A worker: prints "ready", then "verified VERSION NANOS CPU" (monotonic clock, and the CPU time the process
    /// has used, in nanoseconds) for every version it verifies, and "missing VERSION I,J,..." when chunks of a
    /// version stopped coming (as a rollout worker names them).
    func runWorker(address: String) throws {
        let receiver = try WeightReceiver(
            address: address, codec: FrameCodec(), name: "bench-worker",
            log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        receiver.completed = { v in
            let line = "verified \(v) \(DispatchTime.now().uptimeNanoseconds) \(processCPUNanoseconds())\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        receiver.start()
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        // Until the benchmark ends (it closes our stdout pipe or terminates us).
        while getppid() != 1 {
            Thread.sleep(forTimeInterval: 0.05)
            guard let (v, chunks) = receiver.chunksToAskFor() else { continue }
            let list = chunks.map(String.init).joined(separator: ",")
            FileHandle.standardOutput.write(Data("missing \(v) \(list)\n".utf8))
        }
        receiver.close()
    }
}

/// What the worker processes reported.
final class Scoreboard: @unchecked Sendable {
    private let condition = NSCondition()
    private var ready = Set<Int>()
    /// Per version, per worker: when it had the version verified (monotonic clock) and its CPU time then (ns).
    private var verified: [UInt64: [Int: (time: UInt64, cpu: UInt64)]] = [:]
    private var missing: [(version: UInt64, chunks: [Int])] = []

    func take(worker: Int, line: String) {
        let words = line.split(separator: " ")
        condition.withLock {
            if line == "ready" { ready.insert(worker) }
            if words.count == 4, words[0] == "verified", let v = UInt64(words[1]), let t = UInt64(words[2]),
                let c = UInt64(words[3])
            {
                verified[v, default: [:]][worker] = (t, c)
            }
            if words.count == 3, words[0] == "missing", let v = UInt64(words[1]) {
                missing.append((v, words[2].split(separator: ",").compactMap { Int($0) }))
            }
        }
        condition.broadcast()
    }

    func waitReady(_ n: Int, timeout: Double) -> Bool {
        let until = Date(timeIntervalSinceNow: timeout)
        return condition.withLock {
            while ready.count < n { if !condition.wait(until: until) { return false } }
            return true
        }
    }

    /// The chunks workers reported missing since the last call.
    func takeMissing() -> [(version: UInt64, chunks: [Int])] {
        condition.withLock {
            defer { missing = [] }
            return missing
        }
    }

    func all(_ n: Int, have v: UInt64) -> Bool { condition.withLock { (verified[v]?.count ?? 0) >= n } }

    func times(of v: UInt64) -> [UInt64] {
        condition.withLock { verified[v].map { byWorker in byWorker.keys.sorted().map { byWorker[$0]!.time } } ?? [] }
    }

    /// The CPU time the workers used until they had `v` since the last version each had before it (for its first,
    /// since it started), summed over the workers.
    func cpuSpent(on v: UInt64) -> UInt64 {
        condition.withLock {
            (verified[v] ?? [:]).reduce(0) { sum, entry in
                let last = verified.keys.filter { $0 < v && verified[$0]?[entry.key] != nil }.max()
                let earlier = last.flatMap { verified[$0]?[entry.key]?.cpu } ?? 0
                return sum + entry.value.cpu - min(entry.value.cpu, earlier)
            }
        }
    }

    func wait(seconds: Double) {
        condition.withLock { _ = condition.wait(until: Date(timeIntervalSinceNow: seconds)) }
    }
}

/// CPU time (user and system, every thread) this process has used so far, in nanoseconds.
func processCPUNanoseconds() -> UInt64 {
    var usage = rusage()
    guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
    let total = { (t: timeval) in UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1000 }
    return total(usage.ru_utime) + total(usage.ru_stime)
}
