import ArgumentParser
import Foundation
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
    /// (both read the monotonic clock). Raw receivers get `bytes`, the framed one a weight chunk of `values`.
    static func seconds(
        _ receiver: Receiver, count: Int, bytes: [UInt8], values: [Float], codec: FrameCodec
    ) throws -> Double {
        let address = "tcp://127.0.0.1:\(LoopbackPort.free())"
        let send: () throws -> Void
        let close: () -> Void
        if receiver == .framed {
            let push = try FrameSocket(.push, codec: codec)
            try push.bind(address)
            send = {
                _ = try values.withUnsafeBytes { b in
                    try push.sendWeightChunk(
                        policyVersion: 1, index: 0, count: values.count, offset: 0, dtype: .float32,
                        data: b, compression: .never, timeout: .seconds(30))  // as the broadcast sends full copies
                }
            }
            close = { push.close() }
        } else {
            let push = try Socket(.push)
            try push.bind(address)
            send = { try push.send(bytes, timeout: .seconds(30)) }
            close = { push.close() }
        }
        defer { close() }
        let child = try ChildLines(
            arguments: [
                "bench", "wire", "--receive", receiver.rawValue, "--address", address, "--count", "\(count)",
            ])
        defer { child.end() }
        try child.expect("ready")
        try send()  // the connection made and warm
        try child.expect("warm")
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<count { try send() }
        let line = try child.line()
        guard line.hasPrefix("done "), let end = UInt64(line.dropFirst(5)), end > start else {
            throw ValidationError("the receiving process reported '\(line)', expected 'done' and a time")
        }
        return Double(end - start) / 1e9
    }

    /// The receiving process: connects to `address`, says "ready", takes one message and says "warm", then takes
    /// `count` more and says "done" with the monotonic time in nanoseconds.
    static func receive(_ receiver: Receiver, address: String, count: Int) throws {
        let say = { (line: String) in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        var destination: UnsafeMutableRawBufferPointer?
        defer { destination?.deallocate() }
        let buffer = { (bytes: Int) -> UnsafeMutableRawPointer in
            if let d = destination, d.count >= bytes { return d.baseAddress! }
            destination?.deallocate()
            let d = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
            destination = d
            return d.baseAddress!
        }
        let one: () throws -> Void
        let close: () -> Void
        if receiver == .framed {
            let pull = try FrameSocket(.pull)
            try pull.connect(address)
            one = {
                try pull.receiveViewSync(timeout: .seconds(30)) { _, message in
                    guard case .weightChunk(let view) = message else {
                        throw ValidationError("expected a weight chunk")
                    }
                    guard view.copyData(to: buffer(view.denseBytes)) else {
                        throw ValidationError("a weight chunk's checksum does not match")
                    }
                }
            }
            close = { pull.close() }
        } else {
            let pull = try Socket(.pull)
            try pull.connect(address)
            let copies = receiver == .copy
            one = {
                _ = try pull.receive(timeout: .seconds(30)) { message in
                    if copies { buffer(message.count).copyMemory(from: message.baseAddress!, byteCount: message.count) }
                    return message.count
                }
            }
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

/// A child process of this binary whose standard output is read line by line.
final class ChildLines {
    private let process = Process()
    private let output = Pipe()
    private var pending = Data()

    init(arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: currentExecutable())
        process.arguments = arguments
        process.standardOutput = output
        try process.run()
    }

    /// The next line; throws when the child ends first.
    func line() throws -> String {
        while true {
            if let nl = pending.firstIndex(of: 10) {
                let text = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...nl)
                return text
            }
            let data = output.fileHandleForReading.availableData
            guard !data.isEmpty else {
                throw ValidationError(
                    "the receiving process (rpp \(process.arguments?.joined(separator: " ") ?? "")) ended early")
            }
            pending.append(data)
        }
    }

    func expect(_ text: String) throws {
        let got = try line()
        guard got == text else { throw ValidationError("the receiving process said '\(got)', expected '\(text)'") }
    }

    /// Waits for the child to exit (it does after its last line), ending it if it has not within a few seconds.
    func end() {
        let until = Date(timeIntervalSinceNow: 5)
        while process.isRunning && Date() < until { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
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
        let ratios = rounds.map { $0[keyPath: baseline] / $0.framed }.sorted()
        guard !ratios.isEmpty else { return .nan }
        let mid = ratios.count / 2
        return ratios.count % 2 == 1 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2
    }
}
