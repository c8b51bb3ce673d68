#ifndef CUTOVER_CSQLITE_WAL_H
#define CUTOVER_CSQLITE_WAL_H
#include <sqlite3.h>

/// The name of the VFS `cutover_sqlite3_register_wal_vfs` registers.
#define CUTOVER_WAL_VFS_NAME "cutover-wal"

/// Registers (once per process; later calls return the first call's result) a VFS named
/// CUTOVER_WAL_VFS_NAME over the default one that writes a transaction's WAL frames with one
/// write call instead of two per frame. SQLite appends each frame as its 24-byte header and then
/// its page, back to back (walWriteOneFrame), one frame after the other; this VFS holds the
/// frames that continue the log and writes them as one when the frame marking the commit is
/// whole (or before they would pass the 128 KiB the default VFS writes in one call).
/// A 24-byte write anywhere else (a header rewritten in place) goes out at once, and any other
/// call on the file (read, sync, truncate, size, file control, close) writes what is held first.
/// So when a commit's last write returns, everything SQLite asked for is written, as without this
/// VFS; only the frames of a transaction still being written wait.
/// Returns SQLITE_OK or SQLite's error code.
int cutover_sqlite3_register_wal_vfs(void);

/// For `db`'s open WAL (tests): the frames appended through this VFS's runs and every write call
/// made to the file so far. SQLITE_NOTFOUND when no WAL of this VFS is open.
int cutover_sqlite3_wal_vfs_counts(sqlite3 *db, sqlite3_int64 *frames, sqlite3_int64 *writes);

#endif
