// libFuzzer entry point for the frame decoder and the in-place weight-chunk reader. `make fuzz` builds this
// with -sanitize=fuzzer -DFUZZING, where libFuzzer supplies main; a normal build adds a main that replays the
// files named on its command line through the same function, which is how crashes found by the fuzzer are
// reproduced.
import Wire

/// Decodes arbitrary bytes as a frame, as they are and with the header checksum made to match, so that
/// mutations get past the CRC into decompression, protobuf and invariant checks; and opens them as a
/// receiving socket does, where a weight chunk is read in place before its checksum is checked, then uses
/// the chunk as a worker does. Any outcome but a crash is fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrame(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    let codec = FrameCodec(limits: FrameLimits(maxPayloadBytes: 1 << 20, maxRawBytes: 4 << 20))
    var inputs = [bytes]
    if bytes.count >= FrameHeader.size {
        var fixed = bytes
        let payloadLength = Int(fixed[12]) | Int(fixed[13]) << 8 | Int(fixed[14]) << 16 | Int(fixed[15]) << 24
        let end = min(fixed.count, FrameHeader.size + payloadLength)
        let crc = crc32c(Array(fixed[FrameHeader.size..<end]), continuing: crc32c(Array(fixed[0..<20])))
        for i in 0..<4 { fixed[20 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        inputs.append(fixed)
    }
    for input in inputs {
        _ = try? codec.decode(input)
        _ = try? input.withUnsafeBytes { p in
            try codec.openReceived(p) { _, message in
                if case .weightChunk(let view) = message { useChunk(view) }
            }
        }
    }
    return 0
}

/// What a rollout worker does with a received chunk: copies it into its place (checking the frame's checksum
/// on the way), applies it as a delta to the version it holds, or keeps an owned copy.
func useChunk(_ view: WeightChunkView) {
    let bytes = view.denseBytes
    let destination = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
    let base = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
    defer {
        destination.deallocate()
        base.deallocate()
    }
    base.initializeMemory(as: UInt8.self, repeating: 0x5A, count: max(bytes, 1))
    _ = view.copyData(to: destination)
    _ = view.copyDataChecksummed(to: destination, streaming: true)
    _ = view.applyDelta(to: base, into: destination)
    _ = view.applyDelta(to: destination, into: destination)
    _ = view.owned()
}

#if !FUZZING
    import Foundation

    @main
    struct ReplayFuzzInputs {
        static func main() {
            let paths = CommandLine.arguments.dropFirst()
            if paths.isEmpty {
                print("usage: rpp-fuzz-frame FILE...  (replays inputs through the frame decoder; `make fuzz` fuzzes)")
            }
            for path in paths {
                guard let data = FileManager.default.contents(atPath: path) else {
                    print("\(path): cannot read")
                    continue
                }
                let bytes = [UInt8](data)
                _ = bytes.withUnsafeBufferPointer { fuzzFrame($0.baseAddress, $0.count) }
                print("\(path): ok")
            }
        }
    }
#endif
