// A VFS over SQLite's default one that halves the write calls of the WAL: see CSQLiteWAL.h.
// Every method forwards to the default VFS's own; only a WAL file's xWrite differs.
#include "CSQLiteWAL.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { FRAME_HEADER_BYTES = 24 };

typedef struct {
    sqlite3_file base;      // pMethods: one of methods_by_version
    sqlite3_file *real;     // the default VFS's file, laid out right after this struct
    int is_wal;
    /// Where the last write to this file ended (-1 before the first): a frame header continues it
    /// when SQLite appends frames; rewrites of earlier frames' headers do not.
    sqlite3_int64 last_write_end;
    int header_held;
    sqlite3_int64 header_offset;
    unsigned char header[FRAME_HEADER_BYTES];
    unsigned char *frame;   // header + page, for the one write; grown to the largest frame seen
    int frame_capacity;
} CoalescingFile;

static sqlite3_vfs *base_vfs;
static sqlite3_vfs wal_vfs;
/// The same methods, one table per io-methods version: a file claims the version the default
/// VFS's file did, so SQLite never calls (through this VFS) a method that file lacks.
static sqlite3_io_methods methods_by_version[4];
static int registration_result = SQLITE_ERROR;
static pthread_once_t registration_once = PTHREAD_ONCE_INIT;
static _Atomic sqlite3_int64 merged_frames;

#define REAL(file) (((CoalescingFile *)(file))->real)

// Writes a held header on its own (the write after it did not continue it).
static int write_held_header(CoalescingFile *file) {
    if (!file->header_held) return SQLITE_OK;
    file->header_held = 0;
    return file->real->pMethods->xWrite(file->real, file->header, FRAME_HEADER_BYTES, file->header_offset);
}

static int write_through(CoalescingFile *file, const void *bytes, int amount, sqlite3_int64 offset) {
    file->last_write_end = offset + amount;
    return file->real->pMethods->xWrite(file->real, bytes, amount, offset);
}

static int coalescing_close(sqlite3_file *handle) {
    CoalescingFile *file = (CoalescingFile *)handle;
    int held = write_held_header(file);
    int rc = file->real->pMethods->xClose(file->real);
    free(file->frame);
    file->frame = NULL;
    file->frame_capacity = 0;
    return held != SQLITE_OK ? held : rc;
}

static int coalescing_read(sqlite3_file *handle, void *buffer, int amount, sqlite3_int64 offset) {
    int rc = write_held_header((CoalescingFile *)handle);
    if (rc != SQLITE_OK) return rc;
    return REAL(handle)->pMethods->xRead(REAL(handle), buffer, amount, offset);
}

static int coalescing_write(sqlite3_file *handle, const void *bytes, int amount, sqlite3_int64 offset) {
    CoalescingFile *file = (CoalescingFile *)handle;
    if (file->header_held) {
        if (offset == file->header_offset + FRAME_HEADER_BYTES && amount > 0 && amount <= 0x7fffffff - FRAME_HEADER_BYTES) {
            int total = FRAME_HEADER_BYTES + amount;
            if (total > file->frame_capacity) {
                unsigned char *grown = realloc(file->frame, (size_t)total);
                if (grown == NULL) {
                    // No room to join them: both go out as SQLite asked.
                    int rc = write_held_header(file);
                    if (rc != SQLITE_OK) return rc;
                    return write_through(file, bytes, amount, offset);
                }
                file->frame = grown;
                file->frame_capacity = total;
            }
            memcpy(file->frame, file->header, FRAME_HEADER_BYTES);
            memcpy(file->frame + FRAME_HEADER_BYTES, bytes, (size_t)amount);
            file->header_held = 0;
            atomic_fetch_add_explicit(&merged_frames, 1, memory_order_relaxed);
            return write_through(file, file->frame, total, file->header_offset);
        }
        int rc = write_held_header(file);
        if (rc != SQLITE_OK) return rc;
    }
    // Held only when it continues the log (walWriteOneFrame appending a frame: its page comes
    // next). A header rewritten in place after a commit (walRewriteChecksums, when a transaction
    // had overwritten frames it logged before) has no page after it and nothing may follow it
    // before readers are shown the commit: it goes out at once.
    if (file->is_wal && amount == FRAME_HEADER_BYTES && offset == file->last_write_end) {
        memcpy(file->header, bytes, FRAME_HEADER_BYTES);
        file->header_offset = offset;
        file->header_held = 1;
        file->last_write_end = offset + amount;
        return SQLITE_OK;
    }
    return write_through(file, bytes, amount, offset);
}

static int coalescing_truncate(sqlite3_file *handle, sqlite3_int64 size) {
    int rc = write_held_header((CoalescingFile *)handle);
    if (rc != SQLITE_OK) return rc;
    return REAL(handle)->pMethods->xTruncate(REAL(handle), size);
}

static int coalescing_sync(sqlite3_file *handle, int flags) {
    int rc = write_held_header((CoalescingFile *)handle);
    if (rc != SQLITE_OK) return rc;
    return REAL(handle)->pMethods->xSync(REAL(handle), flags);
}

static int coalescing_file_size(sqlite3_file *handle, sqlite3_int64 *size) {
    int rc = write_held_header((CoalescingFile *)handle);
    if (rc != SQLITE_OK) return rc;
    return REAL(handle)->pMethods->xFileSize(REAL(handle), size);
}

static int coalescing_lock(sqlite3_file *handle, int level) { return REAL(handle)->pMethods->xLock(REAL(handle), level); }
static int coalescing_unlock(sqlite3_file *handle, int level) { return REAL(handle)->pMethods->xUnlock(REAL(handle), level); }
static int coalescing_check_reserved_lock(sqlite3_file *handle, int *out) {
    return REAL(handle)->pMethods->xCheckReservedLock(REAL(handle), out);
}

static int coalescing_file_control(sqlite3_file *handle, int op, void *argument) {
    int rc = write_held_header((CoalescingFile *)handle);
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
    int rc = write_held_header((CoalescingFile *)handle);
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

sqlite3_int64 cutover_sqlite3_wal_vfs_merged_frames(void) {
    return atomic_load_explicit(&merged_frames, memory_order_relaxed);
}
