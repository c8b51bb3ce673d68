#define _GNU_SOURCE
#include <malloc.h>
#include <sys/socket.h>
#include "CSystemShims.h"

int cutover_accept_nonblocking(int listener, struct sockaddr *address, socklen_t *length) {
    return accept4(listener, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int cutover_set_mmap_threshold(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes);
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CUTOVER_THREAD_SANITIZER 1
#endif
#endif

#ifdef CUTOVER_THREAD_SANITIZER
// The ThreadSanitizer runtime's annotation interface (compiler-rt tsan_interface.h).
void __tsan_acquire(void *address);
void __tsan_release(void *address);
#endif

void cutover_tsan_acquire(void *address) {
#ifdef CUTOVER_THREAD_SANITIZER
    __tsan_acquire(address);
#else
    (void)address;
#endif
}

void cutover_tsan_release(void *address) {
#ifdef CUTOVER_THREAD_SANITIZER
    __tsan_release(address);
#else
    (void)address;
#endif
}
