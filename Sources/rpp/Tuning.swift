import CSupport

/// Process-wide settings every role applies at start.
enum Tuning {
    /// glibc maps every allocation above 128 KiB fresh from the kernel (page faults and zeroing for each
    /// 16 MB message) and unmaps it at free. Frames and weight buffers are that large and come in
    /// streams, so keep blocks up to 512 MiB in the heap for reuse.
    static func keepLargeAllocations() {
        _ = rpp_keep_large_allocations(512 << 20)
    }
}
