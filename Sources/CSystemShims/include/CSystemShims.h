// Socket calls the Glibc module does not export (accept4 needs _GNU_SOURCE), and the
// ThreadSanitizer annotations Swift cannot call itself.
#ifndef CUTOVER_CSYSTEMSHIMS_H
#define CUTOVER_CSYSTEMSHIMS_H
#include <sys/socket.h>
#include "CSystemShimsEpoll.h"

/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC: the accepted descriptor is ready for the event loop.
int cutover_accept_nonblocking(int listener, struct sockaddr *address, socklen_t *length);

/// mallopt(M_MMAP_THRESHOLD, bytes) (malloc.h is not in the Glibc module): 1 on success, 0 if refused.
int cutover_set_mmap_threshold(int bytes);

/// Tell ThreadSanitizer that the lock identified by `address` was just acquired / is about to be
/// released, for a lock whose hand-over it cannot see (one that waits in the kernel). They do
/// nothing unless this library is built with -fsanitize=thread (swift build --sanitize=thread).
void cutover_tsan_acquire(void *address);
void cutover_tsan_release(void *address);
#endif
