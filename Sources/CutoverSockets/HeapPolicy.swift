import CSystemShims

#if canImport(Glibc)
import Glibc
#endif

/// How the process's heap treats request-sized buffers.
package enum HeapPolicy {
    /// Allocations of `threshold` bytes and more get pages of their own, unmapped when freed.
    /// glibc otherwise raises its threshold to the largest block freed so far, so after the
    /// first 4 MiB body every later one comes from the arenas, which keep it after a burst
    /// (scripts/stress.sh: RSS settled at 355 MB after 1000 refused 4 MiB bodies with the
    /// default, 160 MB with this; 73 vs 40 MB after 48 x 3 MB signed).
    package static func returnLargeBuffersToTheSystem(threshold: Int = 1 << 20) throws(SystemError) {
        guard cutover_set_mmap_threshold(Int32(clamping: threshold)) == 1 else {
            // mallopt sets no errno; it refuses only a value out of its range.
            throw SystemError("mallopt(M_MMAP_THRESHOLD, \(threshold))", errno: EINVAL)
        }
    }
}
