// The operating-system buffers of the weight sockets: what the kernel allows, the window of a send it makes, and
// the advice the learner prints when that window is small.
import Foundation

extension WeightBroadcaster {
    /// The kernel's cap on a connection's send buffer (`/proc/sys/net/core/wmem_max`), or nil where it cannot be
    /// read.
    public static func systemSendBufferCap() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/core/wmem_max", encoding: .utf8) else {
            return nil
        }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The window of a send (see `BroadcastWindow`) under a send-buffer cap of `cap` bytes (nil: none known): what
    /// the kernel gives a connection's send buffer (twice the size asked for, up to the cap), at most
    /// `socketBufferBytes`.
    public static func windowBytes(cap: Int?) -> Int {
        min(socketBufferBytes, 2 * (cap ?? socketBufferBytes))
    }

    /// Chunks a window holds at least: a send then never has a chunk waiting for room in a connection's buffer,
    /// where a BUS socket would drop the next one.
    public static let chunksPerWindow = 4

    /// `requested` elements a chunk, or fewer (not under 1024) so that `windowBytes` holds `chunksPerWindow` chunks.
    public static func chunkElements(_ requested: Int, windowBytes: Int, precision: WeightPrecision) -> Int {
        min(requested, max(1024, windowBytes / (chunksPerWindow * precision.dtype.size)))
    }

    /// How many chunks a worker takes between two receipts, for a window of `windowChunks`: a quarter of it.
    public static func receiptEvery(windowChunks: Int) -> Int { max(1, windowChunks / 4) }

    /// One line of advice when the kernel's cap makes the window of a send hold fewer than `chunksPerWindow` chunks
    /// of the default size, so that versions go out in smaller chunks and sends wait more often for the workers'
    /// receipts; nil otherwise.
    public static func bufferAdvice(cap: Int?, versionBytes: Int, precision: WeightPrecision) -> String? {
        guard let cap, versionBytes > cap else { return nil }
        let window = windowBytes(cap: cap)
        let chunk = chunkElements(WeightPublisher.defaultChunkElements, windowBytes: window, precision: precision)
        guard chunk < WeightPublisher.defaultChunkElements else { return nil }
        return "learner: net.core.wmem_max is \(cap >> 10) KiB: the weight broadcast keeps at most \(window >> 10) KiB "
            + "on the way to each worker, so it sends a \(versionBytes >> 20) MiB version in chunks of "
            + "\((chunk * precision.dtype.size) >> 10) KiB and waits for the workers' receipts more often. As root: "
            + "sysctl -w net.core.wmem_max=\(socketBufferBytes) net.core.rmem_max=\(socketBufferBytes) (on every host "
            + "of the cluster)"
    }
}
