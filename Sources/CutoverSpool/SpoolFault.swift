import CSQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why the spool can no longer be trusted, until the process restarts. A fault is sticky: the spool
/// sees a database that was removed or replaced, or one SQLite found corrupt, and neither heals by
/// itself. `/readyz` shows it; ingest refuses to acknowledge anything once the spool is `lost`.
package struct SpoolFault: Sendable, Equatable, CustomStringConvertible {
    package enum Kind: String, Sendable {
        /// The database file at the spool's path is not the one the spool has open (deleted, moved,
        /// replaced): anything written now goes to a file nobody will open again.
        case lost
        /// SQLite reported SQLITE_CORRUPT or SQLITE_NOTADB.
        case corrupt
    }

    package var kind: Kind
    package var reason: String

    package init(kind: Kind, reason: String) {
        self.kind = kind
        self.reason = reason
    }

    package var description: String { reason }

    /// The fault an error shows, if it shows one.
    static func of(_ error: SpoolError) -> SpoolFault? {
        switch error.kind {
        case .lost: return SpoolFault(kind: .lost, reason: error.message)
        case .sqlite where error.primaryCode == SQLITE_CORRUPT || error.primaryCode == SQLITE_NOTADB:
            return SpoolFault(kind: .corrupt, reason: "spool database is corrupt: \(error)")
        default: return nil
        }
    }
}

extension SpoolError {
    /// The spool is in a fault state (lost or corrupt): an operator has to act; retrying will not help.
    package var isFault: Bool { SpoolFault.of(self) != nil }
}

/// A file's device and inode: whether a path still names the file that was opened. While the spool
/// holds the database open, its inode cannot be reused, so a different inode at the path means a
/// different file.
package struct FileIdentity: Equatable, Sendable {
    package var device: UInt64
    package var inode: UInt64

    /// The identity of what `path` names now, or the `errno` of `stat`.
    package static func of(path: String) -> Result<FileIdentity, SpoolError> {
        var info = stat()
        // `withCString`, not the implicit String-to-pointer conversion, which copies the path into
        // a new array on every call (this runs before every acknowledgement).
        guard path.withCString({ stat($0, &info) }) == 0 else {
            let code = errno
            return .failure(SpoolError(kind: .io, code: code, message: FileSystem.errorText(code), operation: "stat \(path)"))
        }
        return .success(FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
    }

    package init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    package init?(path: String) {
        guard case .success(let identity) = Self.of(path: path) else { return nil }
        self = identity
    }
}
