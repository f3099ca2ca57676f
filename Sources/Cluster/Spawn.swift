// Running a program to completion with a deadline: posix_spawnp with stdin from /dev/null and stdout and
// stderr captured through pipes read with poll(2). The child gets no other descriptor of this process:
// the roles a launch script starts in the background live on, and an inherited descriptor would tie them
// to whoever started `rpp cluster` (Foundation's Process, for one, waits until every holder of the
// descriptor it gave its child has closed it, so `rpp cluster up` run by a Process would never end).
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

enum Spawn {
    enum Failure: Error {
        case cannotStart(String)
        case timedOut
    }

    /// Runs `args` (searched in PATH) and returns its exit status and output; kills it after `timeout` s.
    static func run(_ args: [String], timeout: Double) throws -> HostShell.Output {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw Failure.cannotStart("pipe: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        closeInheritedDescriptors(&actions)
        let cArgs = args.map { strdup($0) } + [nil]
        defer { for pointer in cArgs { free(pointer) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, args[0], &actions, nil, cArgs, environ)
        close(outPipe[1])
        close(errPipe[1])
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }
        guard rc == 0 else { throw Failure.cannotStart(String(cString: strerror(rc))) }
        var out = [UInt8]()
        var err = [UInt8]()
        var open = [true, true]
        var status: Int32 = 0
        var exited = false
        var exitedAt = Date.distantFuture
        let deadline = Date(timeIntervalSinceNow: timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var fds = [
                pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
                pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, 20)
            for i in 0..<2 where open[i] && fds[i].revents != 0 {
                let n = read(fds[i].fd, &buffer, buffer.count)
                if n > 0 { if i == 0 { out += buffer[..<n] } else { err += buffer[..<n] } } else { open[i] = false }
            }
            if !exited, waitpid(pid, &status, WNOHANG) == pid {
                exited = true
                exitedAt = Date()
            }
            // Done once it exited and the pipes closed (or stayed open a second after: a grandchild holds them).
            if exited && ((!open[0] && !open[1]) || Date().timeIntervalSince(exitedAt) > 1) { break }
            if !exited && Date() >= deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw Failure.timedOut
            }
        }
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return HostShell.Output(
            status: code, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// Closes every descriptor above 2 in the child: glibc's posix_spawn_file_actions_addclosefrom_np
    /// (2.34+, looked up at run time) or, without it, one close action per descriptor open now.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
            return
        }
        let open =
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) } ?? []
        for fd in open where fd > 2 && fcntl(fd, F_GETFD) >= 0 { posix_spawn_file_actions_addclose(&actions, fd) }
    }
}
