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
