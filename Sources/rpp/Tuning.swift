import CSupport

/// Process-wide settings of the codec benchmarks.
enum Tuning {
    /// glibc maps allocations above its threshold fresh from the kernel and trims freed heap memory, so a
    /// stream of 16 MB messages pays page faults and zeroing for each one. `rpp bench wire` and
    /// `rpp bench weights` measure the codec, not that, so they keep blocks up to 512 MiB in the heap for
    /// reuse. The roles and `rpp bench broadcast` (whose workers stand for rollout workers) keep glibc's
    /// defaults, which already reuse the broadcast's chunks (0.5-1 MB).
    static func keepLargeAllocations() {
        _ = rpp_keep_large_allocations(512 << 20)
    }
}
