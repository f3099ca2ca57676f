import Foundation

/// Backs the pages of a fresh buffer at once (Linux's MADV_POPULATE_WRITE, 5.14 and later): in a virtual machine a
/// page fault on every 4 KiB of a large buffer that is being written costs several times one call that maps them
/// all. Contents are unchanged; on an older kernel, or memory that is not a private anonymous mapping, nothing
/// happens and the pages come on first use.
public enum PageBacking {
    static let populateWrite: Int32 = 23

    /// Backs the whole pages inside `buffer`.
    public static func back(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + buffer.count) / page * page
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(p, end - start, populateWrite)
    }
}
