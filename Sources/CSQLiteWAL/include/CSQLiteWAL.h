#ifndef CUTOVER_CSQLITE_WAL_H
#define CUTOVER_CSQLITE_WAL_H
#include <sqlite3.h>

/// The name of the VFS `cutover_sqlite3_register_wal_vfs` registers.
#define CUTOVER_WAL_VFS_NAME "cutover-wal"

/// Registers (once per process; later calls return the first call's result) a VFS named
/// CUTOVER_WAL_VFS_NAME over the default one that writes each WAL frame with one write instead of
/// two. SQLite appends a frame as its 24-byte header and then its page, always back to back
/// (walWriteOneFrame); this VFS holds a header that continues the log until that next write and
/// issues both as one. A 24-byte write anywhere else (a header rewritten in place) goes out at
/// once, and any other call on the file writes a held header first, so by the time a commit's
/// last write returns, everything is written, as without this VFS.
/// Returns SQLITE_OK or SQLite's error code.
int cutover_sqlite3_register_wal_vfs(void);

/// Frames whose header and page went out as one write, since the process started (tests).
sqlite3_int64 cutover_sqlite3_wal_vfs_merged_frames(void);

#endif
