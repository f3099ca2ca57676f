// TCP ports and socket addresses for tests. Ports come from below Linux's ephemeral range (32768-60999), so no
// outgoing connection of this or another process is handed one, are checked bindable on 127.0.0.1 when given
// out, and are never given out twice in one test process: two tests never share a port.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Free loopback ports, unique within the test process.
public enum LoopbackPorts {
    /// Ports tried: above the well-known and common service ports, below the ephemeral range.
    public static let range = 20_000..<32_000
    private static let lock = NSLock()
    nonisolated(unsafe) private static var given = Set<Int>()

    /// A port bindable on 127.0.0.1 a moment ago and not given out before in this process.
    public static func port() -> Int { block(1) }

    /// The first of `count` consecutive ports, each bindable on 127.0.0.1 a moment ago and none given out before in
    /// this process (a learner's four and the servers' after them). Fails the process only when 1000 random tries
    /// found no such block (the machine is out of ports).
    public static func block(_ count: Int) -> Int {
        precondition(count >= 1 && count < 1000, "LoopbackPorts.block: count \(count)")
        lock.lock()
        defer { lock.unlock() }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let base = Int.random(in: range.lowerBound...(range.upperBound - count), using: &generator)
            let ports = base..<(base + count)
            guard ports.allSatisfy({ !given.contains($0) }), ports.allSatisfy(isBindable) else { continue }
            given.formUnion(ports)
            return base
        }
        preconditionFailure("LoopbackPorts: no \(count) consecutive free ports in \(range) after 1000 tries")
    }

    /// Whether `port` can be bound on 127.0.0.1 right now.
    public static func isBindable(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }
}

/// Socket addresses no other test uses.
public enum TestAddress {
    /// tcp://127.0.0.1:PORT on a fresh port.
    public static func tcp() -> String { "tcp://127.0.0.1:\(LoopbackPorts.port())" }

    /// tcp://127.0.0.1:`port` (a port from `LoopbackPorts`).
    public static func tcp(_ port: Int) -> String { "tcp://127.0.0.1:\(port)" }

    /// An ipc:// socket file in the temporary directory, short enough for a Unix socket path.
    public static func ipc() -> String { "ipc://\(NSTemporaryDirectory())rpp-\(UUID().uuidString.prefix(12)).ipc" }

    /// An inproc:// name made unique by a UUID (`name` only makes it readable, e.g. the test's #function).
    public static func inproc(_ name: String = #function) -> String {
        let readable = name.filter { $0.isLetter || $0.isNumber || $0 == "-" }
        return "inproc://rpp-\(readable)-\(UUID().uuidString)"
    }
}
