import CSystemShims
import Synchronization

/// A value behind a lock: the one lock type Cutover uses, a `Synchronization.Mutex` whose
/// hand-over ThreadSanitizer can see.
///
/// On Linux a contended `Mutex` passes from one holder to the next inside the kernel
/// (`FUTEX_LOCK_PI`/`FUTEX_UNLOCK_PI`), which ThreadSanitizer does not intercept. It sees the
/// uncontended fast path (an atomic exchange) but not that hand-over, so under contention it found
/// no happens-before between two holders and reported the guarded accesses as races (the spool's
/// batch and statement cache, the HMAC pool). `withLock` tells it about the acquire and the release
/// through CSystemShims, whose two calls are empty unless built with `--sanitize=thread`; an access
/// outside the lock is still reported (scripts/sanitizers/check-tsan.sh proves both).
/// `public` only so that the bodies reach the callers' modules (see `withLock`).
public final class Locked<Value: ~Copyable>: Sendable {
    @usableFromInline let mutex: Mutex<Value>

    @inlinable
    public init(_ initialValue: consuming sending Value) { mutex = Mutex(initialValue) }

    /// Runs `body` with the value while holding the lock (not reentrant, as `Mutex.withLock`).
    /// Public, not `package`, for the optimizer's sake: Swift 6.3 inlined a `package` @inlinable
    /// body into no other module, so every caller ran the unspecialized generic, which looks up
    /// `Mutex<Value>`'s metadata at run time on each call (3 to 4 % of a retry's CPU).
    @inlinable
    public func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        // The object's address names the lock for TSan: stable for its lifetime, one per lock.
        let identity = Unmanaged.passUnretained(self).toOpaque()
        return try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            cutover_tsan_acquire(identity)
            defer { cutover_tsan_release(identity) }
            return try body(&value)
        }
    }
}
