import ArgumentParser
import Foundation
import Roles
import Wire

/// Loopback throughput with the receiver in a process of its own (this binary, run with the hidden `--receive`), as
/// the learner and a rollout worker are: each side then has nanomsg's I/O thread of its own, where in one process a
/// single I/O thread makes both sides' socket copies.
enum ProcessLoopbackBench {
    /// What the receiving process does with each message.
    enum Receiver: String, CaseIterable, ExpressibleByArgument {
        /// Raw nanomsg, the message only counted.
        case raw
        /// Raw nanomsg, each message copied into a buffer.
        case copy
        /// A weight chunk read in place, checked and copied into a destination buffer, as a worker does.
        case framed
    }

    /// Seconds from the first of `count` messages sent from this process until the receiver has taken the last
    /// (both read the monotonic clock). Raw receivers get `bytes`, the framed one the chunks of `publication`.
    static func seconds(
        _ receiver: Receiver, count: Int, bytes: [UInt8], publication: WeightPublication, codec: FrameCodec
    ) throws -> Double {
        let address = "tcp://127.0.0.1:\(LoopbackPort.free())"
        let send: () throws -> Void
        let close: () -> Void
        if receiver == .framed {
            let push = try FrameSocket(.push, codec: codec)
            try push.bind(address)
            send = { try LoopbackBench.sendChunks(of: publication, on: push) }
            close = { push.close() }
        } else {
            let push = try Socket(.push)
            try push.bind(address)
            send = { try push.send(bytes, timeout: .seconds(30)) }
            close = { push.close() }
        }
        defer { close() }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent(
            "rpp-bench-wire-\(getpid())-\(receiver.rawValue).log")
        let child = try BenchChild(
            name: "the receiving process", executable: currentExecutable(),
            arguments: [
                "bench", "wire", "--receive", receiver.rawValue, "--address", address, "--count", "\(count)",
                "--elements", "\(publication.announcement.elementCount)", "--chunks",
                "\(publication.announcement.chunkCount)",
            ],
            log: log, environment: [:])
        defer {
            BenchChild.stopAll([child])
            try? FileManager.default.removeItem(at: log)
        }
        try child.waitFor("ready", seconds: 30, interrupted: { false })
        try send()  // the connection made and warm
        try child.waitFor("warm", seconds: 30, interrupted: { false })
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<count { try send() }
        try child.waitFor("done ", seconds: 60, interrupted: { false })
        let line = child.output.split(separator: "\n").first { $0.hasPrefix("done ") } ?? ""
        guard let end = UInt64(line.dropFirst(5)), end > start else {
            throw ValidationError("the receiving process reported '\(line)', expected 'done' and a time")
        }
        return Double(end - start) / 1e9
    }

    /// The receiving process: connects to `address`, says "ready", takes one message (for the framed receiver a
    /// tensor of `elements` in `chunks` frames) and says "warm", then takes `count` more and says "done" with the
    /// monotonic time in nanoseconds.
    static func receive(_ receiver: Receiver, address: String, count: Int, elements: Int, chunks: Int) throws {
        let say = { (line: String) in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        let destination = ReceiveBuffer()
        let one: () throws -> Void
        let close: () -> Void
        if receiver == .framed {
            let pull = try FrameSocket(.pull)
            try pull.connect(address)
            one = {
                for _ in 0..<chunks { try LoopbackBench.receiveChunk(on: pull, into: destination, total: elements) }
            }
            close = { pull.close() }
        } else {
            let pull = try Socket(.pull)
            try pull.connect(address)
            one = { try LoopbackBench.receiveRaw(on: pull, into: receiver == .copy ? destination : nil) }
            close = { pull.close() }
        }
        defer { close() }
        say("ready")
        try one()
        say("warm")
        for _ in 0..<count { try one() }
        say("done \(DispatchTime.now().uptimeNanoseconds)")
    }
}

/// Seconds per round of the three loopback receivers, which take turns within a round.
struct LoopbackRounds {
    struct Round {
        var raw: Double, copy: Double, framed: Double
    }
    private(set) var rounds: [Round] = []

    mutating func add(raw: Double, copy: Double, framed: Double) {
        rounds.append(Round(raw: raw, copy: copy, framed: framed))
    }

    /// The shortest time of one receiver over the rounds.
    func best(_ receiver: KeyPath<Round, Double>) -> Double { rounds.map { $0[keyPath: receiver] }.min() ?? .nan }

    /// The median over the rounds of `baseline`'s time over framed's time in the same round (framed's throughput
    /// relative to the baseline's; a slow spell of the machine that lasts a round affects both sides of it).
    func medianRatio(_ baseline: KeyPath<Round, Double>) -> Double {
        median(rounds.map { $0[keyPath: baseline] / $0.framed })
    }
}

/// The median of `values` (the mean of the middle two for an even count); NaN for none.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
