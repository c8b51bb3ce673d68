import CutoverLocking
import CutoverWebhooks

/// The event ids of recently seen signed `/cloud` bodies, by their verified `X-Hub-Signature-256`.
/// Meta resends a webhook byte for byte, so a retry carries the first copy's signature, and its
/// ids are known without parsing the body again: the commonest request of all costs an HMAC and
/// two lookups in memory.
///
/// A verified signature names one body: it is the HMAC-SHA256 of exactly those bytes under an app
/// secret, and another body with the same HMAC is a forgery nobody without the secret can make.
/// On `/cloud` the ids are a function of the body alone (no route, no business) under one
/// decoder's limits; the cache belongs to one configuration snapshot, so a reload (other secrets,
/// other limits) starts an empty one.
///
/// Bounded: `limits.signed_bodies_kept` bodies, the oldest forgotten first (a forgotten body is
/// parsed again, as before the cache).
final class SignedBodyIDs: Sendable {
    /// The 32 bytes of an HMAC-SHA256, as four words: cheap to hash and compare.
    struct Key: Hashable, Sendable {
        let words: (UInt64, UInt64, UInt64, UInt64)

        init?(mac: [UInt8]) {
            guard mac.count == 32 else { return nil }
            func word(_ index: Int) -> UInt64 {
                mac[index * 8..<index * 8 + 8].reduce(0) { $0 << 8 | UInt64($1) }
            }
            words = (word(0), word(1), word(2), word(3))
        }

        static func == (lhs: Key, rhs: Key) -> Bool { lhs.words == rhs.words }

        func hash(into hasher: inout Hasher) {
            hasher.combine(words.0)
            hasher.combine(words.1)
            hasher.combine(words.2)
            hasher.combine(words.3)
        }
    }

    private let bodies: Locked<BoundedRecentMap<Key, [String]>>

    init(capacity: Int) {
        bodies = Locked(BoundedRecentMap(capacity: capacity))
    }

    /// The ids `eventIDs` gave for the body with this signature, if it is still remembered.
    func ids(of body: Key) -> [String]? {
        bodies.withLock { $0[body] }
    }

    func remember(_ ids: [String], of body: Key) {
        bodies.withLock { $0.insertIfAbsent(ids, for: body) }
    }

    var count: Int { bodies.withLock { $0.count } }
}
