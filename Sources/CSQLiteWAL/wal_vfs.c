// A VFS over SQLite's default one that writes a transaction's WAL frames with one call (see
// CSQLiteWAL.h).
// Every method forwards to the default VFS's own; only a WAL file's xWrite differs.
#include "CSQLiteWAL.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum {
    FRAME_HEADER_BYTES = 24,
    /// The most the default VFS writes in one call: its seekAndWriteFd masks the length with
    /// 0x1ffff (a frame is at most 64 KiB + 24), and a longer write comes back short, as
    /// SQLITE_FULL. A run is written before the next frame would take it past this.
    RUN_LIMIT_BYTES = 0x1ffff,
};

typedef struct {
    sqlite3_file base;      // pMethods: one of methods_by_version
    sqlite3_file *real;     // the default VFS's file, laid out right after this struct
    int is_wal;
    /// Where the last write to this file ended (-1 before the first): a frame header continues it
    /// when SQLite appends frames; rewrites of earlier frames' headers do not.
    sqlite3_int64 last_write_end;
    /// Frames appended but not yet written: `run_length` bytes for offset `run_offset` on.
    unsigned char *run;
    int run_length;
    int run_capacity;
    sqlite3_int64 run_offset;
    /// The run ends with a frame header whose page has not come yet.
    int awaiting_page;
    /// That header marks a commit (its database size field is not zero).
    int awaiting_commit_page;
    /// Frames appended through the run, and write calls made to the file (all of them).
    sqlite3_int64 frames_appended;
    sqlite3_int64 write_calls;
} CoalescingFile;

static sqlite3_vfs *base_vfs;
static sqlite3_vfs wal_vfs;
/// The same methods, one table per io-methods version: a file claims the version the default
/// VFS's file did, so SQLite never calls (through this VFS) a method that file lacks.
static sqlite3_io_methods methods_by_version[4];
static int registration_result = SQLITE_ERROR;
static pthread_once_t registration_once = PTHREAD_ONCE_INIT;

#define REAL(file) (((CoalescingFile *)(file))->real)

/// Writes the held frames, if any, with one call.
static int write_run(CoalescingFile *file) {
    if (file->run_length == 0) return SQLITE_OK;
    int length = file->run_length;
    file->run_length = 0;
    file->awaiting_page = 0;
    file->write_calls += 1;
    return file->real->pMethods->xWrite(file->real, file->run, length, file->run_offset);
}

static int write_through(CoalescingFile *file, const void *bytes, int amount, sqlite3_int64 offset) {
    file->last_write_end = offset + amount;
    file->write_calls += 1;
    return file->real->pMethods->xWrite(file->real, bytes, amount, offset);
}

/// Appends to the run (starting one at `offset` when empty); 0 when it cannot grow.
static int append_to_run(CoalescingFile *file, const void *bytes, int amount, sqlite3_int64 offset) {
    // Compared before adding, so a huge `amount` cannot overflow the sum.
    if (amount > RUN_LIMIT_BYTES - file->run_length) return 0;
    int needed = file->run_length + amount;
    if (needed > file->run_capacity) {
        int capacity = file->run_capacity > 0 ? file->run_capacity : 64 * 1024;
        while (capacity < needed) capacity *= 2;
        unsigned char *grown = realloc(file->run, (size_t)capacity);
        if (grown == NULL) return 0;
        file->run = grown;
        file->run_capacity = capacity;
    }
    if (file->run_length == 0) file->run_offset = offset;
    memcpy(file->run + file->run_length, bytes, (size_t)amount);
    file->run_length = needed;
    file->last_write_end = offset + amount;
    return 1;
}

static int coalescing_close(sqlite3_file *handle) {
    CoalescingFile *file = (CoalescingFile *)handle;
    int held = write_run(file);
    int rc = file->real->pMethods->xClose(file->real);
    free(file->run);
    file->run = NULL;
    file->run_capacity = 0;
    return held != SQLITE_OK ? held : rc;
}

static int coalescing_read(sqlite3_file *handle, void *buffer, int amount, sqlite3_int64 offset) {
    int rc = write_run((CoalescingFile *)handle);
    if (rc != SQLITE_OK) return rc;
    return REAL(handle)->pMethods->xRead(REAL(handle), buffer, amount, offset);
}

/// Big-endian bytes 4-7 of a frame header: the database size after a commit, zero otherwise.
static int marks_commit(const unsigned char *header) {
    return (header[4] | header[5] | header[6] | header[7]) != 0;
}

static int coalescing_write(sqlite3_file *handle, const void *bytes, int amount, sqlite3_int64 offset) {
    CoalescingFile *file = (CoalescingFile *)handle;
    int continues = offset == file->last_write_end;
    if (file->awaiting_page && continues && amount > FRAME_HEADER_BYTES && append_to_run(file, bytes, amount, offset)) {
        // A frame is whole: its header and page.
        file->awaiting_page = 0;
        file->frames_appended += 1;
        // A commit's frames are all written before its write returns, as SQLite expects of any
        // write: readers are shown the commit next. A long transaction's frames are written in
        // runs of at most RUN_LIMIT_BYTES (the frames are all of one size).
        if (file->awaiting_commit_page || file->run_length + FRAME_HEADER_BYTES + amount > RUN_LIMIT_BYTES) {
            return write_run(file);
        }
        return SQLITE_OK;
    }
    // A header that continues the log starts or extends a run (walWriteOneFrame appending a
    // frame: its page comes next). A header rewritten in place after a commit
    // (walRewriteChecksums, when a transaction had overwritten frames it logged before) has no
    // page after it and nothing may follow it before readers are shown the commit: like any
    // other write, it goes out at once, after what is held.
    if (file->is_wal && !file->awaiting_page && continues && amount == FRAME_HEADER_BYTES
        && append_to_run(file, bytes, amount, offset)) {
        file->awaiting_page = 1;
        file->awaiting_commit_page = marks_commit(bytes);
        return SQLITE_OK;
    }
    int rc = write_run(file);
    if (rc != SQLITE_OK) return rc;
    return write_through(file, bytes, amount, offset);
}

static int coalescing_truncate(sqlite3_file *handle, sqlite3_int64 size) {
    int rc = write_run((CoalescingFile *)handle);
    if (rc != SQLITE_OK) return rc;
    return REAL(handle)->pMethods->xTruncate(REAL(handle), size);
}

static int coalescing_sync(sqlite3_file *handle, int flags) {
    int rc = write_run((CoalescingFile *)handle);
    if (rc != SQLITE_OK) return rc;
    return REAL(handle)->pMethods->xSync(REAL(handle), flags);
}

static int coalescing_file_size(sqlite3_file *handle, sqlite3_int64 *size) {
    int rc = write_run((CoalescingFile *)handle);
    if (rc != SQLITE_OK) return rc;
    return REAL(handle)->pMethods->xFileSize(REAL(handle), size);
}

static int coalescing_lock(sqlite3_file *handle, int level) { return REAL(handle)->pMethods->xLock(REAL(handle), level); }
static int coalescing_unlock(sqlite3_file *handle, int level) { return REAL(handle)->pMethods->xUnlock(REAL(handle), level); }
static int coalescing_check_reserved_lock(sqlite3_file *handle, int *out) {
    return REAL(handle)->pMethods->xCheckReservedLock(REAL(handle), out);
}

static int coalescing_file_control(sqlite3_file *handle, int op, void *argument) {
    int rc = write_run((CoalescingFile *)handle);
    if (rc != SQLITE_OK) return rc;
    return REAL(handle)->pMethods->xFileControl(REAL(handle), op, argument);
}

static int coalescing_sector_size(sqlite3_file *handle) { return REAL(handle)->pMethods->xSectorSize(REAL(handle)); }
static int coalescing_device_characteristics(sqlite3_file *handle) {
    return REAL(handle)->pMethods->xDeviceCharacteristics(REAL(handle));
}

static int coalescing_shm_map(sqlite3_file *handle, int region, int size, int extend, void volatile **out) {
    return REAL(handle)->pMethods->xShmMap(REAL(handle), region, size, extend, out);
}
static int coalescing_shm_lock(sqlite3_file *handle, int offset, int count, int flags) {
    return REAL(handle)->pMethods->xShmLock(REAL(handle), offset, count, flags);
}
static void coalescing_shm_barrier(sqlite3_file *handle) { REAL(handle)->pMethods->xShmBarrier(REAL(handle)); }
static int coalescing_shm_unmap(sqlite3_file *handle, int delete_flag) {
    return REAL(handle)->pMethods->xShmUnmap(REAL(handle), delete_flag);
}
static int coalescing_fetch(sqlite3_file *handle, sqlite3_int64 offset, int amount, void **out) {
    int rc = write_run((CoalescingFile *)handle);
    if (rc != SQLITE_OK) return rc;
    return REAL(handle)->pMethods->xFetch(REAL(handle), offset, amount, out);
}
static int coalescing_unfetch(sqlite3_file *handle, sqlite3_int64 offset, void *page) {
    return REAL(handle)->pMethods->xUnfetch(REAL(handle), offset, page);
}

static int wal_vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *handle, int flags, int *out_flags) {
    (void)vfs;
    CoalescingFile *file = (CoalescingFile *)handle;
    memset(file, 0, sizeof(*file));
    file->last_write_end = -1;
    file->real = (sqlite3_file *)(file + 1);
    int rc = base_vfs->xOpen(base_vfs, name, file->real, flags, out_flags);
    // A file the default VFS did not open (pMethods NULL) must not be closed through this one.
    if (file->real->pMethods == NULL) return rc;
    file->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    int version = file->real->pMethods->iVersion;
    if (version < 1) version = 1;
    if (version > 3) version = 3;
    file->base.pMethods = &methods_by_version[version];
    return rc;
}

static int wal_vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
    (void)vfs;
    return base_vfs->xDelete(base_vfs, name, sync_dir);
}
static int wal_vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs;
    return base_vfs->xAccess(base_vfs, name, flags, out);
}
static int wal_vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
    (void)vfs;
    return base_vfs->xFullPathname(base_vfs, name, size, out);
}
static void *wal_vfs_dl_open(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return base_vfs->xDlOpen(base_vfs, name);
}
static void wal_vfs_dl_error(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    base_vfs->xDlError(base_vfs, size, out);
}
static void (*wal_vfs_dl_sym(sqlite3_vfs *vfs, void *library, const char *symbol))(void) {
    (void)vfs;
    return base_vfs->xDlSym(base_vfs, library, symbol);
}
static void wal_vfs_dl_close(sqlite3_vfs *vfs, void *library) {
    (void)vfs;
    base_vfs->xDlClose(base_vfs, library);
}
static int wal_vfs_randomness(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return base_vfs->xRandomness(base_vfs, size, out);
}
static int wal_vfs_sleep(sqlite3_vfs *vfs, int microseconds) {
    (void)vfs;
    return base_vfs->xSleep(base_vfs, microseconds);
}
static int wal_vfs_current_time(sqlite3_vfs *vfs, double *out) {
    (void)vfs;
    return base_vfs->xCurrentTime(base_vfs, out);
}
static int wal_vfs_get_last_error(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return base_vfs->xGetLastError(base_vfs, size, out);
}
static int wal_vfs_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    return base_vfs->xCurrentTimeInt64(base_vfs, out);
}
static int wal_vfs_set_system_call(sqlite3_vfs *vfs, const char *name, sqlite3_syscall_ptr call) {
    (void)vfs;
    return base_vfs->xSetSystemCall(base_vfs, name, call);
}
static sqlite3_syscall_ptr wal_vfs_get_system_call(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return base_vfs->xGetSystemCall(base_vfs, name);
}
static const char *wal_vfs_next_system_call(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return base_vfs->xNextSystemCall(base_vfs, name);
}

static void register_once(void) {
    // Before the library initializes (the only time it can be set). Debian's SQLite keeps memory
    // statistics by default, which takes one global mutex around each of its mallocs and frees, and
    // its build has no lookaside, so that is about eighty of each per stored and delivered event.
    // Nothing in Cutover reads those statistics or sets a heap limit. Refused (SQLITE_MISUSE) if the
    // process initialized SQLite before: then the statistics stay on, which changes nothing else.
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (sqlite3_initialize() != SQLITE_OK) return;
    base_vfs = sqlite3_vfs_find(NULL);
    if (base_vfs == NULL) return;
    sqlite3_io_methods methods = {
        .xClose = coalescing_close,
        .xRead = coalescing_read,
        .xWrite = coalescing_write,
        .xTruncate = coalescing_truncate,
        .xSync = coalescing_sync,
        .xFileSize = coalescing_file_size,
        .xLock = coalescing_lock,
        .xUnlock = coalescing_unlock,
        .xCheckReservedLock = coalescing_check_reserved_lock,
        .xFileControl = coalescing_file_control,
        .xSectorSize = coalescing_sector_size,
        .xDeviceCharacteristics = coalescing_device_characteristics,
        .xShmMap = coalescing_shm_map,
        .xShmLock = coalescing_shm_lock,
        .xShmBarrier = coalescing_shm_barrier,
        .xShmUnmap = coalescing_shm_unmap,
        .xFetch = coalescing_fetch,
        .xUnfetch = coalescing_unfetch,
    };
    for (int version = 1; version <= 3; version++) {
        methods_by_version[version] = methods;
        methods_by_version[version].iVersion = version;
    }
    wal_vfs = (sqlite3_vfs){
        .iVersion = base_vfs->iVersion < 3 ? base_vfs->iVersion : 3,
        .szOsFile = (int)sizeof(CoalescingFile) + base_vfs->szOsFile,
        .mxPathname = base_vfs->mxPathname,
        .zName = CUTOVER_WAL_VFS_NAME,
        .xOpen = wal_vfs_open,
        .xDelete = wal_vfs_delete,
        .xAccess = wal_vfs_access,
        .xFullPathname = wal_vfs_full_pathname,
        .xDlOpen = wal_vfs_dl_open,
        .xDlError = wal_vfs_dl_error,
        .xDlSym = wal_vfs_dl_sym,
        .xDlClose = wal_vfs_dl_close,
        .xRandomness = wal_vfs_randomness,
        .xSleep = wal_vfs_sleep,
        .xCurrentTime = wal_vfs_current_time,
        .xGetLastError = wal_vfs_get_last_error,
        .xCurrentTimeInt64 = wal_vfs_current_time_int64,
        .xSetSystemCall = wal_vfs_set_system_call,
        .xGetSystemCall = wal_vfs_get_system_call,
        .xNextSystemCall = wal_vfs_next_system_call,
    };
    registration_result = sqlite3_vfs_register(&wal_vfs, 0);
}

int cutover_sqlite3_register_wal_vfs(void) {
    pthread_once(&registration_once, register_once);
    return registration_result;
}

int cutover_sqlite3_wal_vfs_counts(sqlite3 *db, sqlite3_int64 *frames, sqlite3_int64 *writes) {
    sqlite3_file *wal = NULL;
    int rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
    if (rc != SQLITE_OK) return rc;
    if (wal == NULL || wal->pMethods == NULL || wal->pMethods->xWrite != coalescing_write) return SQLITE_NOTFOUND;
    const CoalescingFile *file = (const CoalescingFile *)wal;
    *frames = file->frames_appended;
    *writes = file->write_calls;
    return SQLITE_OK;
}
