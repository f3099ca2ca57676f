import ArgumentParser
import Foundation
import Roles
import Synchronization
import Wire

/// Deterministic data that looks like what rpp sends.
enum WireBenchData {
    /// Weights as a trained small model has them: roughly normal, scale 0.02.
    static func weights(count: Int) -> [Float] {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        return (0..<count).map { _ in
            // Sum of four uniforms: close enough to normal for compression purposes.
            var s: Float = 0
            for _ in 0..<4 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                s += Float(state >> 40) / Float(1 << 24)
            }
            return (s - 2) * 0.035
        }
    }

    /// Token ids from a 16-token vocabulary, as the built-in task produces.
    static func tokens(count: Int) -> [Int32] {
        var state: UInt64 = 42
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1
            return Int32((state >> 33) % 16)
        }
    }

    static func experienceBatch(samples: Int, length: Int) -> ExperienceBatch {
        let toks = tokens(count: samples * length)
        let lp = weights(count: samples * length).map { -abs($0) * 40 }
        let items = (0..<samples).map { i in
            let r = Rollout(
                unitID: 1, promptID: UInt64(i / 4), sampleIndex: i % 4,
                promptTokens: Array(toks[(i * length)..<(i * length + 8)]),
                responseTokens: Array(toks[(i * length)..<((i + 1) * length)]),
                behaviourLogprobs: Array(lp[(i * length)..<((i + 1) * length)]),
                finishReason: .stop, policyVersion: 1, workerID: "bench")
            return Experience(rollout: r, reward: Float(i % 2), refLogprobs: r.behaviourLogprobs.map { $0 * 1.01 })
        }
        return ExperienceBatch(unitID: 1, workerID: "bench", items: items)
    }
}

/// One sender thread and one receiver thread over a fresh PUSH/PULL pair on tcp loopback.
enum LoopbackBench {

    /// Seconds to move `count` messages; the sender runs on its own thread.
    static func measure(
        count: Int, send: @escaping @Sendable () throws -> Void,
        receive: () throws -> Void
    ) throws -> Double {
        let failure = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        let start = DispatchTime.now().uptimeNanoseconds
        let sender = Thread {
            do { for _ in 0..<count { try send() } } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        sender.start()
        for _ in 0..<count { try receive() }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        done.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        return elapsed
    }

    /// Raw nanomsg: `bytes` sent with nn_send and received with nn_recv. With `intoBuffer` the receiver copies
    /// each message into a destination buffer (what any receiver of a tensor must do to keep it); without, it
    /// only looks at the length.
    static func raw(bytes: [UInt8], count: Int, intoBuffer: Bool = false) throws -> Double {
        let address = "tcp://127.0.0.1:\(LoopbackPort.free())"
        let pull = try Socket(.pull)
        try pull.bind(address)
        let push = try Socket(.push)
        try push.connect(address)
        defer {
            push.close()
            pull.close()
        }
        let destination = intoBuffer ? ReceiveBuffer() : nil
        let receive = { try receiveRaw(on: pull, into: destination) }
        try push.send(bytes, timeout: .seconds(10))  // warm the connection
        try receive()
        return try measure(count: count, send: { try push.send(bytes, timeout: .seconds(30)) }, receive: receive)
    }

    /// Any message through the codec: encode + send + receive + decode.
    static func framed(message: WireMessage, codec: FrameCodec, count: Int) throws -> Double {
        let address = "tcp://127.0.0.1:\(LoopbackPort.free())"
        let pull = try FrameSocket(.pull, codec: codec)
        try pull.bind(address)
        let push = try FrameSocket(.push, codec: codec)
        try push.connect(address)
        defer {
            push.close()
            pull.close()
        }
        try push.sendSync(message, timeout: .seconds(10))
        _ = try pull.receiveSync(timeout: .seconds(10))
        return try measure(
            count: count, send: { try push.sendSync(message, timeout: .seconds(30)) },
            receive: { _ = try pull.receiveSync(timeout: .seconds(30)) })
    }

    /// Weight chunks as the broadcast moves them: the chunks of `publication` sent in place, read as views and copied
    /// into their place in a destination buffer (the receiver's parameters).
    static func framed(publication: WeightPublication, codec: FrameCodec, count: Int) throws -> Double {
        let address = "tcp://127.0.0.1:\(LoopbackPort.free())"
        let pull = try FrameSocket(.pull, codec: codec)
        try pull.bind(address)
        let push = try FrameSocket(.push, codec: codec)
        try push.connect(address)
        defer {
            push.close()
            pull.close()
        }
        let destination = ReceiveBuffer()
        let a = publication.announcement
        let send = { @Sendable () throws -> Void in try sendChunks(of: publication, on: push) }
        let receive = {
            for _ in 0..<a.chunkCount { try receiveChunk(on: pull, into: destination, total: a.elementCount) }
        }
        _ = try measure(count: 1, send: send, receive: receive)  // warm; a tensor of several chunks fills the pipe
        return try measure(count: count, send: send, receive: receive)
    }

    /// Sends every chunk of `publication` in place and uncompressed, as the broadcast sends full copies.
    static func sendChunks(of publication: WeightPublication, on push: FrameSocket) throws {
        let a = publication.announcement
        for i in 0..<a.chunkCount {
            let (offset, count) = publication.span(i)
            _ = try publication.withChunkBytes(i) { bytes in
                try push.sendWeightChunk(
                    policyVersion: a.policyVersion, index: i, count: count, offset: offset, dtype: a.dtype,
                    data: bytes, compression: .never, timeout: .seconds(30))
            }
        }
    }

    /// Receives one weight chunk of a tensor of `total` elements as a view and copies it into its place in
    /// `destination`, checking its checksum on the way, as a worker fills its weight buffer (past the cache).
    static func receiveChunk(on pull: FrameSocket, into destination: ReceiveBuffer, total: Int) throws {
        try pull.receiveViewSync(timeout: .seconds(30)) { _, message in
            guard case .weightChunk(let view) = message else { throw ValidationError("expected a weight chunk") }
            guard view.dtype == .float32, view.offset >= 0, view.offset + view.elements <= total else {
                throw ValidationError("a weight chunk outside the \(total) elements of the tensor")
            }
            let base = destination.pointer(holding: total * 4)
            guard view.copyData(to: base + view.offset * 4, streaming: true) else {
                throw ValidationError("a weight chunk's checksum does not match")
            }
        }
    }

    /// Receives one raw message; copies it into `destination` when there is one, else only reads its length.
    static func receiveRaw(on pull: Socket, into destination: ReceiveBuffer?) throws {
        _ = try pull.receive(timeout: .seconds(30)) { message in
            if let destination, let base = message.baseAddress {
                destination.pointer(holding: message.count).copyMemory(from: base, byteCount: message.count)
            }
            return message.count
        }
    }
}

/// A receiver's destination: grows to hold the largest message it is given (never trusting an earlier size).
final class ReceiveBuffer {
    private var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    deinit { storage.deallocate() }

    func pointer(holding bytes: Int) -> UnsafeMutableRawPointer {
        if storage.count < bytes || storage.baseAddress == nil {
            storage.deallocate()
            storage = .allocate(byteCount: max(bytes, 1), alignment: 64)
        }
        return storage.baseAddress!
    }
}
