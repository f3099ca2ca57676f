// `rpp bench weights`: what the XOR delta encoding saves on real weights. Two consecutive versions of a model
// (each one AdamW step of a language-modelling loss on seeded token rows), then for float32 and bfloat16: bytes on
// the wire as full copies and as deltas (XOR with the previous version, byte shuffle and zstd as the frame codec
// chooses), and encode / decode MB/s of the delta (build and seal on every core, as the learner does; open, XOR into
// the previous version and check each chunk's CRC32C on one thread, as a worker does).
import ArgumentParser
import Foundation
import Model
import Roles
import Wire

struct BenchWeights: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Bytes on the wire and MB/s of XOR-delta weight broadcasts between two AdamW steps of a model.")

    @Option(help: "A model directory (config.json + model.safetensors), e.g. SmolLM2-135M.") var model: String
    @Option(help: "Token rows per step.") var rows: Int = 4
    @Option(help: "Tokens per row.") var length: Int = 64
    @Option(help: "AdamW learning rate.") var lr: Float = 1e-5
    @Option(help: "Elements per chunk.") var chunkElements: Int = WeightPublisher.defaultChunkElements
    @Option(help: "Frame compression (cluster.compression): auto, never or always.")
    var compression: String = Compression.auto.rawValue

    func validate() throws {
        try checkRange(rows, 1...256, "--rows")
        try checkRange(length, 2...4096, "--length")
        try checkRange(Double(lr), 0...1, "--lr")
        try checkRange(chunkElements, 1024...(1 << 26), "--chunk-elements")
        guard Compression(rawValue: compression) != nil else {
            throw ValidationError("--compression: auto, never or always")
        }
    }

    func run() throws {
        Tuning.keepLargeAllocations()
        let m = try Transformer.load(directory: URL(fileURLWithPath: model))
        let (opt, backing) = timed { AdamW(model: m, schedule: LRSchedule(peak: lr)) }
        var s: UInt64 = 42
        let vocab = UInt64(m.config.vocabSize)
        func step() throws {
            let batch: [[Int32]] = (0..<rows).map { _ in
                (0..<length).map { _ in
                    s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return Int32((s >> 33) % vocab)
                }
            }
            m.zeroGrad()
            let (lp, _) = try m.sequenceLogProbs(batch, scoreFrom: batch.map { _ in 0 })
            try m.backwardSequences(dLogp: lp.map { $0.map { _ in -1 / Float(rows * length) } })
            opt.update(m)
        }
        let first = try timed(step).seconds
        let v1 = m.params.toArray()
        let second = try timed(step).seconds
        let v2 = m.params.toArray()
        let changed = zip(v1, v2).reduce(0) { $0 + ($1.0 != $1.1 ? 1 : 0) }
        print(
            "rpp bench weights  \(model): \(v1.count) parameters, two AdamW steps (lr \(lr)) of \(rows)x\(length) tokens;"
                + String(format: " %.1f%% of the parameters changed", 100 * Double(changed) / Double(v1.count)))
        print(ModelBench.cpuLine())
        print(
            String(
                format: "AdamW state (moments backed in memory) %.2f s; steps: first %.2f s, second %.2f s", backing,
                first, second)
        )
        let lazy = timed { firstUpdate(count: m.parameterCount, backed: false) }.seconds
        let backed = timed { firstUpdate(count: m.parameterCount, backed: true) }.seconds
        print(
            String(
                format: "a first in-place update of one fresh buffer of the model's size on every core: %.2f s, "
                    + "%.2f s with its pages backed first (included)", lazy, backed))
        print("frame compression: \(compression)")
        print("precision  raw MB  full wire MB  delta wire MB  delta ratio  encode MB/s  decode MB/s")
        for precision in WeightPrecision.allCases {
            try measure(v1, v2, precision)
        }
    }

    /// What AdamW's first step does to a moment buffer: read and write every element in place, on every core.
    func firstUpdate(count: Int, backed: Bool) {
        let buffer = FloatBuffer(count: count, lazy: true)
        if backed { buffer.backPages() }
        let p = buffer.pointer
        Parallel.ranges(count, minChunk: 1 << 16) { r in
            for i in r { p[i] = 0.9 * p[i] + 1 }
        }
    }

    /// The value of `body` and the seconds it took.
    func timed<T>(_ body: () throws -> T) rethrows -> (value: T, seconds: Double) {
        let t = DispatchTime.now().uptimeNanoseconds
        let value = try body()
        return (value, Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
    }

    func measure(_ v1: [Float], _ v2: [Float], _ precision: WeightPrecision) throws {
        let codec = FrameCodec(compression: Compression(rawValue: compression)!)
        let base = try WeightPublisher.publish(
            version: 1, parameters: v1, chunkElements: chunkElements,
            precision: precision)
        let rawBytes = Double(v1.count * precision.dtype.size)
        var t = DispatchTime.now().uptimeNanoseconds
        let delta = try WeightPublisher.publish(
            version: 2, parameters: v2, chunkElements: chunkElements,
            precision: precision, base: base)
        // Sealed on every core, as the learner's broadcast seals deltas; a worker opens them on one thread.
        var frames = [[UInt8]](repeating: [], count: delta.announcement.chunkCount)
        frames.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(out.count) { i in out[i] = codec.encode(.weightChunk(delta.chunk(i))) }
        }
        let encode = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
        let full = delta.full
        let fullWire = (0..<full.announcement.chunkCount).reduce(0) {
            $0 + codec.encode(.weightChunk(full.chunk($1))).count
        }
        var assembler = WeightAssembler()
        _ = assembler.receive(base.announcement)
        for c in base.chunks { _ = assembler.receive(c) }
        t = DispatchTime.now().uptimeNanoseconds
        _ = assembler.receive(delta.announcement)
        var last: WeightAssembler.Event?
        for f in frames {
            guard case .weightChunk(let c) = try codec.decode(f) else { throw ValidationError("not a chunk") }
            last = assembler.receive(c)
        }
        let decode = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
        guard last == .completed(version: 2), assembler.latest?.values == delta.values else {
            throw ValidationError("the delta did not rebuild version 2 (\(String(describing: last)))")
        }
        let wire = Double(frames.reduce(0) { $0 + $1.count })
        print(
            precision.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
                + String(
                    format: "  %6.1f  %12.1f  %13.1f  %11.2f  %11.0f  %11.0f", rawBytes / 1e6,
                    Double(fullWire) / 1e6, wire / 1e6, rawBytes / wire, rawBytes / encode / 1e6,
                    rawBytes / decode / 1e6))
    }
}
