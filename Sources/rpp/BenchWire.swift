import ArgumentParser
import CSupport
import Foundation
import Model
import Roles
import Wire

/// `rpp bench wire`: frame codec speed, compression with and without the byte-shuffle filter, and
/// loopback throughput of framed messages next to raw nanomsg on the same socket type, in one run.
struct BenchWire: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wire",
        abstract: "Frame encode/decode MB/s, compression ratios, framed vs raw nanomsg loopback throughput, and the "
            + "cost of signing and encrypting frames.")

    @Option(help: "Seconds to spend on each measurement (more is steadier).")
    var seconds: Double = 1.0

    @Option(help: "zstd level the framed transport uses.")
    var level: Int32 = 1

    @Option(name: .customLong("only"), help: "Run only these tables: codec, compression, throughput, security.")
    var tables: [String] = []

    @Option(help: "Rounds of the loopback runs, in which raw, raw+copy and framed take turns.")
    var rounds: Int = 5

    @Option(help: .hidden) var receive: ProcessLoopbackBench.Receiver?
    @Option(help: .hidden) var address: String = ""
    @Option(help: .hidden) var count: Int = 0
    @Option(help: .hidden) var elements: Int = 0
    @Option(help: .hidden) var chunks: Int = 1

    func validate() throws {
        try checkSeconds(seconds, "--seconds")
        try checkRange(Int(level), 1...19, "--level")
        try checkRange(rounds, 1...1000, "--rounds")
        for t in tables where !["codec", "compression", "throughput", "security"].contains(t) {
            throw ValidationError("unknown table '\(t)'; choose codec, compression, throughput or security")
        }
    }

    func run() throws {
        Tuning.keepLargeAllocations()
        if let receive {
            return try ProcessLoopbackBench.receive(
                receive, address: address, count: count, elements: elements, chunks: chunks)
        }
        print(
            "rpp bench wire  (MB = 10^6 bytes; each figure is the best of 3 runs, of \(rounds) rounds for "
                + "the loopback runs)")
        print(ModelBench.cpuLine())
        let run = { (t: String) in tables.isEmpty || tables.contains(t) }
        let weights = WireBenchData.weights(count: 4 << 20)  // 16 MiB of float32
        let tokens = WireBenchData.tokens(count: 4 << 20)  // 16 MiB of int32 token ids
        if run("codec") { codecTable(weights: weights) }
        if run("compression") { compressionTable(weights: weights, tokens: tokens) }
        if run("throughput") { try throughputTable() }
        if run("security") { try securityTable(weights: weights) }
    }

    // MARK: Frame codec

    func codecTable(weights: [Float]) {
        print("\n## Frame codec (message -> frame -> message), zstd level \(level)")
        print(row(["message", "raw bytes", "frame bytes", "encode MB/s", "decode MB/s"]))
        let chunk = WireMessage.weightChunk(
            WeightChunk(
                policyVersion: 1, index: 0, count: 1, offset: 0,
                data: DenseTensor(floats: weights)))
        let batch = WireMessage.experienceBatch(WireBenchData.experienceBatch(samples: 512, length: 128))
        let codec = FrameCodec(compressionLevel: level)
        for (name, message) in [("weight chunk 16 MiB", chunk), ("experience 512x128", batch)] {
            let frame = codec.encode(message)
            let rawBytes = Double(frameRawLength(frame))
            let enc = best { _ = codec.encode(message) }
            let dec = best { _ = try? codec.decode(frame) }
            print(row([name, "\(Int(rawBytes))", "\(frame.count)", mbps(rawBytes, enc), mbps(rawBytes, dec)]))
        }
    }

    // MARK: Compression

    func compressionTable(weights: [Float], tokens: [Int32]) {
        print("\n## zstd on 16 MiB tensors, with and without the byte-shuffle filter")
        print(row(["data", "filter", "level", "ratio", "compress MB/s", "decompress MB/s"]))
        let w = weights.withUnsafeBytes { Array($0) }
        let t = tokens.withUnsafeBytes { Array($0) }
        for (name, bytes) in [("float32 weights", w), ("int32 token ids", t)] {
            for shuffle in [false, true] {
                for lvl: Int32 in [-5, 1, 3] {
                    let input = shuffle ? ByteShuffle.shuffle(bytes, width: 4) : bytes
                    let packed = input.withUnsafeBytes { Zstd.compress($0, level: lvl) }
                    let c = best { _ = input.withUnsafeBytes { Zstd.compress($0, level: lvl) } }
                    let d = best { _ = packed.withUnsafeBytes { try? Zstd.decompress($0, expectedSize: input.count) } }
                    let ratio = Double(bytes.count) / Double(packed.count)
                    print(
                        row([
                            name, shuffle ? "shuffle" : "none", "\(lvl)", String(format: "%.3f", ratio),
                            mbps(Double(bytes.count), c), mbps(Double(bytes.count), d),
                        ]))
                }
            }
        }
        let s = best { _ = ByteShuffle.shuffle(w, width: 4) }
        print("byte shuffle alone: \(mbps(Double(w.count), s)) MB/s")
        let mib = Array(w.prefix(1 << 20))
        mib.withUnsafeBytes { b in
            let isal = best { _ = crc32c(b) }
            let instruction = best { _ = rpp_crc32c_sse42(0, b.baseAddress, b.count) }
            print(
                "CRC32C of 1 MiB: \(mbps(Double(b.count), isal)) MB/s (ISA-L, the frames' checksum), "
                    + "\(mbps(Double(b.count), instruction)) MB/s (the crc32 instruction on three streams)")
            copyIntoLargeBuffer(b)
        }
    }

    /// A worker's write of a version: 1 MiB pieces checksummed and copied one after another into a 256 MiB buffer,
    /// with ordinary stores and with streaming ones (what workers use).
    func copyIntoLargeBuffer(_ piece: UnsafeRawBufferPointer) {
        let size = 256 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        let fill = { (streaming: Bool) in
            for at in stride(from: 0, to: size, by: piece.count) {
                _ = crc32c(copying: piece, to: buffer.baseAddress! + at, streaming: streaming)
            }
        }
        let cached = best { fill(false) }
        let streamed = best { fill(true) }
        print(
            "CRC32C and copy of 1 MiB pieces into a 256 MiB buffer: \(mbps(Double(size), cached)) MB/s (ordinary "
                + "stores), \(mbps(Double(size), streamed)) MB/s (streaming stores, as workers write a version)")
    }

    // MARK: Loopback throughput

    func throughputTable() throws {
        for separate in [false, true] {
            print(
                separate
                    ? "\n## The same, the receiver in a process of its own (as the learner and a worker are)"
                    : "\n## PUSH/PULL over tcp://127.0.0.1, one sender and one receiver thread in one process")
            if !separate {
                print(
                    "   framed = a weight chunk sent in place from a float32 array (frame header, CRC32C; no "
                        + "compression check, as the")
                print("   broadcast's full copies), received as a view")
                print(
                    "   and copied into a destination buffer; raw = nn_send/nn_recv of the same number of bytes, the "
                        + "receiver")
                print(
                    "   only reading the length; raw+copy = the same with the receiver copying each message into a "
                        + "buffer")
                print(
                    "   last row: framed sends the 16 MB as the broadcast sends weights, in chunk frames, each copied "
                        + "into its place;")
                print("   raw and raw+copy still send it as one message")
                print(
                    "   MB/s and framed/raw: each receiver's best round; (median): the median over the rounds of the "
                        + "ratio within a round")
            }
            try throughputRows(separateProcesses: separate)
        }
    }

    func throughputRows(separateProcesses: Bool) throws {
        print(
            row([
                "size", "raw MB/s", "raw+copy MB/s", "framed MB/s", "framed/raw", "(median)", "framed/raw+copy",
                "(median)", "frame bytes/raw",
            ]))
        // The last row: the 16 MB tensor as the broadcast moves weights, in chunk frames of its default size, each
        // copied into its place in the receiver's buffer; raw still sends 16 MB messages.
        let chunk = WeightPublisher.defaultChunkElements
        let sizes: [(String, Int, Int?)] = [
            ("1 KB", 1_000, nil), ("1 MB", 1_000_000, nil), ("16 MB", 16_000_000, nil),
            ("16 MB in \((chunk * 4) >> 20) MiB chunks", 16_000_000, chunk),
        ]
        for (label, size, chunkElements) in sizes {
            let floats = WireBenchData.weights(count: max(1, (size - 16) / 4))
            let codec = FrameCodec(compressionLevel: level)
            let whole = try WeightPublisher.publish(version: 1, parameters: floats, chunkElements: floats.count)
            let publication =
                try chunkElements.map { try WeightPublisher.publish(version: 1, parameters: floats, chunkElements: $0) }
                ?? whole
            // Raw messages are as long as the single frame's payload.
            let payload = frameRawLength(codec.encode(.weightChunk(whole.chunk(0))))
            let frameBytes = publication.chunks.reduce(0) { $0 + codec.encode(.weightChunk($1)).count }
            let rawBytes = [UInt8](repeating: 0x5A, count: payload)
            let count = max(4, min(20_000, Int(200_000_000 / Double(payload) * seconds)))
            let measure = { (receiver: ProcessLoopbackBench.Receiver) throws -> Double in
                if separateProcesses {
                    return try ProcessLoopbackBench.seconds(
                        receiver, count: count, bytes: rawBytes, publication: publication, codec: codec)
                }
                switch receiver {
                case .raw: return try LoopbackBench.raw(bytes: rawBytes, count: count)
                case .copy: return try LoopbackBench.raw(bytes: rawBytes, count: count, intoBuffer: true)
                case .framed:
                    return try LoopbackBench.framed(publication: publication, codec: codec, count: count)
                }
            }
            // The three take turns, round after round, so that a slow spell of the machine meets all of them.
            var times = LoopbackRounds()
            for _ in 0..<rounds {
                times.add(raw: try measure(.raw), copy: try measure(.copy), framed: try measure(.framed))
            }
            let bytes = Double(payload * count)
            let ratio = { String(format: "%.2f", $0) }
            print(
                row([
                    label, mbps(bytes, times.best(\.raw)), mbps(bytes, times.best(\.copy)),
                    mbps(bytes, times.best(\.framed)),
                    ratio(times.best(\.raw) / times.best(\.framed)), ratio(times.medianRatio(\.raw)),
                    ratio(times.best(\.copy) / times.best(\.framed)), ratio(times.medianRatio(\.copy)),
                    String(format: "%.3f", Double(frameBytes) / Double(payload)),
                ]))
        }
    }

    // MARK: Helpers

    /// Best seconds per call of `body`, repeated for about `seconds`, best of 3 rounds.
    func best(_ body: () -> Void) -> Double {
        body()
        var bestTime = Double.infinity
        for _ in 0..<3 {
            var n = 0
            let start = DispatchTime.now().uptimeNanoseconds
            var elapsed = 0.0
            repeat {
                body()
                n += 1
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            } while elapsed < seconds / 3
            bestTime = min(bestTime, elapsed / Double(n))
        }
        return bestTime
    }

    func bestOf3(_ body: () throws -> Double) throws -> Double {
        var b = Double.infinity
        for _ in 0..<3 { b = min(b, try body()) }
        return b
    }

    func mbps(_ bytes: Double, _ seconds: Double) -> String { String(format: "%.0f", bytes / seconds / 1e6) }

    func frameRawLength(_ frame: [UInt8]) -> Int {
        Int(frame[16]) | Int(frame[17]) << 8 | Int(frame[18]) << 16 | Int(frame[19]) << 24
    }

    func row(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in
            i == 0
                ? c.padding(toLength: 22, withPad: " ", startingAt: 0)
                : String(repeating: " ", count: max(0, 16 - c.count)) + c
        }.joined()
    }
}
