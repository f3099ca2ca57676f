// libFuzzer entry point for the frame decoder. `make fuzz` builds this with -sanitize=fuzzer -DFUZZING,
// where libFuzzer supplies main; a normal build adds a main that replays the files named on its command
// line through the same function, which is how crashes found by the fuzzer are reproduced.
import Wire

/// Decodes arbitrary bytes as a frame, with and without a cluster key. Any outcome but a crash is fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrame(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    let plain = FrameCodec(limits: FrameLimits(maxPayloadBytes: 1 << 20, maxRawBytes: 4 << 20))
    _ = try? plain.decode(bytes)
    return 0
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
                print("\(path): cannot read"); continue
            }
            let bytes = [UInt8](data)
            _ = bytes.withUnsafeBufferPointer { fuzzFrame($0.baseAddress, $0.count) }
            print("\(path): ok")
        }
    }
}
#endif
