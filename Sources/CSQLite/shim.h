// SQLITE_TRANSIENT and SQLITE_STATIC are macros casting integers to function pointers, which Swift
// cannot import.
#ifndef CUTOVER_CSQLITE_SHIM_H
#define CUTOVER_CSQLITE_SHIM_H
#include <sqlite3.h>

static inline int cutover_sqlite3_bind_blob_transient(sqlite3_stmt *statement, int index, const void *bytes, int length) {
    return sqlite3_bind_blob(statement, index, bytes, length, SQLITE_TRANSIENT);
}
static inline int cutover_sqlite3_bind_text_transient(sqlite3_stmt *statement, int index, const char *text, int length) {
    return sqlite3_bind_text(statement, index, text, length, SQLITE_TRANSIENT);
}
// SQLITE_STATIC: SQLite reads the caller's bytes in place until they are rebound or the statement
// is reset with sqlite3_clear_bindings or finalized; the caller keeps them alive that long.
static inline int cutover_sqlite3_bind_blob_static(sqlite3_stmt *statement, int index, const void *bytes, int length) {
    return sqlite3_bind_blob(statement, index, bytes, length, SQLITE_STATIC);
}
static inline int cutover_sqlite3_bind_text_static(sqlite3_stmt *statement, int index, const char *text, int length) {
    return sqlite3_bind_text(statement, index, text, length, SQLITE_STATIC);
}
#endif
