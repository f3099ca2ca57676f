// Memory shared by processes of one machine: one process writes an anonymous memory file (memfd) and names it by
// /proc/PID/fd/N; another opens that path read-only and maps it. The file has no name in any directory, so a killed
// writer leaves nothing behind: its memory goes when the last process that maps it lets go.
import CSupport
import Foundation

/// A shared-memory file that could not be made, opened or mapped.
public struct SharedMemoryError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file's path, or its name when it has none yet.
    public let path: String
    public let reason: String

    public init(_ path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }

    static func errno(_ path: String, _ call: String) -> SharedMemoryError {
        SharedMemoryError(path, "\(call): \(String(cString: strerror(Glibc.errno)))")
    }
}

/// A memory file of a fixed size this process writes, which other processes of the same user on this machine can
/// map (`SharedMemoryMapping`) while this one holds it.
public final class SharedMemoryFile: @unchecked Sendable {
    /// Where another process opens it: /proc/PID/fd/N.
    public let path: String
    /// The file's bytes, writable.
    public let bytes: UnsafeMutableRawBufferPointer
    private var fd: Int32

    /// A new file of `count` bytes (zeros), named `name` in /proc/PID/fd listings. Its size never changes: a
    /// process that maps it can read every byte for as long as it keeps the mapping.
    public init(name: String, bytes count: Int) throws(SharedMemoryError) {
        guard count > 0 else { throw SharedMemoryError(name, "a shared-memory file needs at least one byte") }
        let fd = rpp_memory_file(name)
        guard fd >= 0 else { throw .errno(name, "memfd_create") }
        guard ftruncate(fd, off_t(count)) == 0 else {
            let e = SharedMemoryError.errno(name, "ftruncate to \(count) bytes")
            Glibc.close(fd)
            throw e
        }
        guard let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            let e = SharedMemoryError.errno(name, "mmap of \(count) bytes")
            Glibc.close(fd)
            throw e
        }
        self.fd = fd
        path = "/proc/\(getpid())/fd/\(fd)"
        bytes = UnsafeMutableRawBufferPointer(start: p, count: count)
    }

    /// Unmaps and closes the file (processes that map it keep their mapping).
    deinit {
        munmap(bytes.baseAddress, bytes.count)
        Glibc.close(fd)
    }
}

/// A read-only mapping of a memory file another process of this machine shares (its `SharedMemoryFile.path`).
public final class SharedMemoryMapping: @unchecked Sendable {
    /// The path it was opened at.
    public let path: String
    /// The file's bytes.
    public let bytes: UnsafeRawBufferPointer
    private let device: UInt64
    private let inode: UInt64

    /// Opens and maps `path`: /proc/PID/fd/N naming a regular file of at least `minimumBytes` bytes.
    public init(path: String, minimumBytes: Int) throws(SharedMemoryError) {
        guard Self.isProcessFile(path) else {
            throw SharedMemoryError(path, "not a /proc/PID/fd/N path of a shared-memory file")
        }
        // Non-blocking: whatever the path names (a FIFO, say), opening it never waits.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .errno(path, "open") }
        defer { Glibc.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .errno(path, "fstat") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw SharedMemoryError(path, "is not a regular file") }
        let size = Int(info.st_size)
        guard size >= max(1, minimumBytes) else {
            throw SharedMemoryError(path, "holds \(size) bytes, expected at least \(minimumBytes)")
        }
        // Populated at once: the pages are then mapped in one call rather than faulted in one at a time.
        guard let p = mmap(nil, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0), p != MAP_FAILED else {
            throw .errno(path, "mmap of \(size) bytes")
        }
        self.path = path
        bytes = UnsafeRawBufferPointer(start: p, count: size)
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) }

    /// True while `path` still names the file mapped (a writer that restarted with the same process and descriptor
    /// numbers made another one).
    public var isCurrent: Bool {
        var info = stat()
        return stat(path, &info) == 0 && UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// True for /proc/PID/fd/N with decimal PID and N.
    public static func isProcessFile(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        let number = { (s: Substring) in !s.isEmpty && s.count <= 10 && s.allSatisfy { $0 >= "0" && $0 <= "9" } }
        return parts.count == 5 && parts[0].isEmpty && parts[1] == "proc" && number(parts[2]) && parts[3] == "fd"
            && number(parts[4])
    }
}
