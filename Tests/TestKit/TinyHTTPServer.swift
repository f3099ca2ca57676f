// A tiny HTTP/1.1 server on loopback for the remote-reward tests: one thread per connection, one request per
// connection, answers decided by a closure from the request's JSON body.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

public final class TinyHTTPServer: @unchecked Sendable {
    /// What to answer: status, body and seconds to wait first.
    public struct Answer {
        public var status: Int, body: Data, delay: Double
        public init(status: Int = 200, body: Data, delay: Double = 0) {
            self.status = status
            self.body = body
            self.delay = delay
        }
    }

    public let port: UInt16
    private let fd: Int32
    private let handler: @Sendable ([String: Any]) -> Answer
    private let lock = NSLock()
    private var count = 0
    private var stopped = false
    private let acceptDone = DispatchSemaphore(value: 0)
    /// Requests received so far.
    public var requests: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    public init(_ handler: @escaping @Sendable ([String: Any]) -> Answer) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw NSError(domain: "TinyHTTPServer", code: 1) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = UInt16(bigEndian: addr.sin_port)
        self.fd = fd
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    public var url: String { "http://127.0.0.1:\(port)/get_reward" }

    /// Stops accepting. The descriptor is closed only once the accept thread has returned: closed earlier, its
    /// number could be reused by the next test's server while this thread still calls accept on it, and this
    /// server would answer the next test's requests.
    public func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        acceptDone.wait()
        close(fd)
    }

    private func acceptLoop() {
        defer { acceptDone.signal() }
        while !lock.withLock({ stopped }) {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            Thread.detachNewThread { [self] in serve(c) }
        }
    }

    private func serve(_ c: Int32) {
        defer { close(c) }
        var data = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        var bodyStart: Int?
        var length = 0
        while true {
            let n = read(c, &buf, buf.count)
            if n <= 0 { return }
            data.append(contentsOf: buf[0..<n])
            if bodyStart == nil, let r = data.range(of: Data("\r\n\r\n".utf8)) {
                bodyStart = r.upperBound
                let head = String(decoding: data[..<r.lowerBound], as: UTF8.self).lowercased()
                for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if let s = bodyStart, data.count - s >= length { break }
        }
        lock.lock()
        count += 1
        lock.unlock()
        let body = data[bodyStart!...]
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        let answer = handler(object)
        if answer.delay > 0 { Thread.sleep(forTimeInterval: answer.delay) }
        var out = Data(
            "HTTP/1.1 \(answer.status) X\r\nContent-Type: application/json\r\nContent-Length: \(answer.body.count)\r\nConnection: close\r\n\r\n"
                .utf8)
        out.append(answer.body)
        out.withUnsafeBytes { _ = write(c, $0.baseAddress!, $0.count) }
    }
}
