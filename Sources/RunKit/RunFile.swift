import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A failed operation on a file of a run: names the file, the config setting that placed it there
/// (`run.dir`) and the system's reason ("No space left on device"), on one line, never raw NSError text.
public struct RunFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The setting that chose the file's place, like `run.dir`.
    public let setting: String
    /// The file or directory.
    public let path: String
    /// What was being done: "write", "create", "open".
    public let action: String
    /// Why it failed, in plain words.
    public let reason: String

    /// Makes an error.
    public init(setting: String, path: String, action: String, reason: String) {
        self.setting = setting
        self.path = path
        self.action = action
        self.reason = reason
    }

    /// An error for the current `errno`.
    static func posix(_ setting: String, _ path: String, _ action: String, code: Int32 = Glibc.errno) -> RunFileError {
        RunFileError(setting: setting, path: path, action: action, reason: String(cString: strerror(code)))
    }

    /// `setting: cannot ACTION PATH: REASON`.
    public var description: String { "\(setting): cannot \(action) \(path): \(reason)" }
}

/// Plain POSIX file operations for the files of a run directory, so every failure carries errno, the path
/// and the setting.
enum RunFile {
    /// Creates `path` and its parents (like `mkdir -p`).
    static func makeDirectory(_ path: String, setting: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return }
            throw RunFileError(setting: setting, path: path, action: "use", reason: "it exists and is not a directory")
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try makeDirectory(parent, setting: setting) }
        if mkdir(path, 0o755) != 0 && Glibc.errno != EEXIST {
            throw RunFileError.posix(setting, path, "create the directory")
        }
    }

    /// Checks that files can be created in `directory` (made if needed) by creating and removing one, so a
    /// read-only or full run directory is found before any socket is bound.
    static func checkWritable(_ directory: String, setting: String) throws {
        try makeDirectory(directory, setting: setting)
        let probe = (directory as NSString).appendingPathComponent(".write-check-\(getpid())")
        let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RunFileError.posix(setting, directory, "create files in") }
        let byte: [UInt8] = [0x0a]
        let written = write(fd, byte, 1)
        let code = Glibc.errno
        close(fd)
        unlink(probe)
        if written != 1 { throw RunFileError.posix(setting, directory, "write files in", code: code) }
    }

    /// Writes `bytes` to `path` through a temporary file and a rename, so readers see the old file or the
    /// new one, never a part.
    static func writeAtomically(_ bytes: [UInt8], to path: String, setting: String) throws {
        let temporary = path + ".partial-\(getpid())"
        let file = try AppendFile(path: temporary, setting: setting, truncate: true)
        do {
            try file.append(bytes)
            file.close()
        } catch {
            file.close()
            unlink(temporary)
            throw error
        }
        if rename(temporary, path) != 0 {
            let code = Glibc.errno
            unlink(temporary)
            throw RunFileError.posix(setting, path, "replace", code: code)
        }
    }
}

/// A file opened for appending. Each `append` writes all its bytes or, on failure (a full disk), cuts the
/// file back to its length before the call, so a failed write leaves no partial record behind.
final class AppendFile: @unchecked Sendable {
    /// The file.
    let path: String
    /// The setting named in errors.
    let setting: String
    private var fd: Int32
    private let lock = NSLock()
    /// The `write(2)` call; tests replace it to fail part-way as a full disk does.
    var writeCall: (Int32, UnsafeRawPointer, Int) -> Int = { Glibc.write($0, $1, $2) }

    /// Opens (creating) `path` for appending; `truncate` empties it first.
    init(path: String, setting: String, truncate: Bool = false) throws {
        self.path = path
        self.setting = setting
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o644)
        if fd < 0 { throw RunFileError.posix(setting, path, "open") }
    }

    deinit { close() }

    /// Closes the file (idempotent).
    func close() {
        lock.lock()
        defer { lock.unlock() }
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// Appends every byte of `bytes`, or none of them.
    func append(_ bytes: [UInt8]) throws {
        if bytes.isEmpty { return }
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else {
            throw RunFileError(setting: setting, path: path, action: "write", reason: "file is closed")
        }
        let start = lseek(fd, 0, SEEK_END)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { writeCall(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && Glibc.errno == EINTR { continue }
            if n <= 0 {
                let code = n == 0 ? ENOSPC : Glibc.errno
                if start >= 0 { _ = ftruncate(fd, start) }
                throw RunFileError.posix(setting, path, "write", code: code)
            }
            done += n
        }
    }
}
