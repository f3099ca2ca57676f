import Foundation
import Wire

extension BenchWire {
    /// What the cluster key costs: the same messages plain, signed (stamp and HMAC-SHA256) and encrypted
    /// (stamp and AES-256-GCM), through the codec alone and over loopback.
    func securityTable(weights: [Float]) throws {
        print("\n## Cluster key cost: plain, signed (HMAC-SHA256 + replay stamp), encrypted (AES-256-GCM + stamp)")
        print("   codec = encode or decode alone; loopback = encode + send + receive + decode over tcp://127.0.0.1")
        print(row(["message", "mode", "frame bytes", "encode MB/s", "decode MB/s", "loopback MB/s", "vs plain"]))
        let key = try ClusterKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })
        let chunk = WireMessage.weightChunk(
            WeightChunk(
                policyVersion: 1, index: 0, count: 1, offset: 0,
                data: DenseTensor(floats: weights)))
        let small = WireMessage.weightChunk(
            WeightChunk(
                policyVersion: 1, index: 0, count: 1, offset: 0,
                data: DenseTensor(floats: Array(weights.prefix(262_144)))))
        let batch = WireMessage.experienceBatch(WireBenchData.experienceBatch(samples: 512, length: 128))
        let modes: [(String, FrameCodec)] = [
            ("plain", FrameCodec(compressionLevel: level)),
            ("signed", FrameCodec(key: key, compressionLevel: level)),
            ("encrypted", FrameCodec(key: key, encrypt: true, compressionLevel: level)),
        ]
        for (name, message) in [
            ("weight chunk 16 MiB", chunk), ("weight chunk 1 MiB", small),
            ("experience 512x128", batch),
        ] {
            var plainLoopback = 0.0
            for (mode, codec) in modes {
                let frame = codec.encode(message)
                let rawBytes = Double(frameRawLength(frame))
                let enc = best { _ = codec.encode(message) }
                let receiver = FrameCodec(key: codec.key)
                let dec = best { _ = try? receiver.decode(frame) }
                let count = max(4, min(2_000, Int(200_000_000 / rawBytes * seconds)))
                let loop = try bestOf3 { try LoopbackBench.framed(message: message, codec: codec, count: count) }
                if mode == "plain" { plainLoopback = loop }
                print(
                    row([
                        name, mode, "\(frame.count)", mbps(rawBytes, enc), mbps(rawBytes, dec),
                        mbps(rawBytes * Double(count), loop), String(format: "%.2fx", plainLoopback / loop),
                    ]))
            }
        }
    }
}
