#define _GNU_SOURCE
#include <sched.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include "CSystemShimsEpoll.h"

_Static_assert(sizeof(cutover_epoll_event) == sizeof(struct epoll_event), "epoll_event layout");
_Static_assert(offsetof(cutover_epoll_event, data) == offsetof(struct epoll_event, data), "epoll_event layout");

const uint32_t cutover_epoll_in = EPOLLIN;
const uint32_t cutover_epoll_out = EPOLLOUT;
const uint32_t cutover_epoll_rdhup = EPOLLRDHUP;
const uint32_t cutover_epoll_err = EPOLLERR;
const uint32_t cutover_epoll_hup = EPOLLHUP;
const uint32_t cutover_epoll_edge_triggered = EPOLLET;

int cutover_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

static int control(int epoll, int operation, int descriptor, uint32_t events, uint64_t data) {
    struct epoll_event event = {.events = events, .data = {.u64 = data}};
    return epoll_ctl(epoll, operation, descriptor, &event);
}

int cutover_epoll_add(int epoll, int descriptor, uint32_t events, uint64_t data) {
    return control(epoll, EPOLL_CTL_ADD, descriptor, events, data);
}

int cutover_epoll_modify(int epoll, int descriptor, uint32_t events, uint64_t data) {
    return control(epoll, EPOLL_CTL_MOD, descriptor, events, data);
}

int cutover_epoll_remove(int epoll, int descriptor) {
    // Kernels before 2.6.9 wanted a non-null event even for DEL.
    return control(epoll, EPOLL_CTL_DEL, descriptor, 0, 0);
}

int cutover_epoll_wait(int epoll, cutover_epoll_event *events, int capacity, int timeout_milliseconds) {
    return epoll_wait(epoll, (struct epoll_event *)events, capacity, timeout_milliseconds);
}

int cutover_timerfd_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

int cutover_timerfd_arm(int timer, uint64_t nanoseconds) {
    if (nanoseconds == 0) nanoseconds = 1;
    struct itimerspec spec = {
        .it_interval = {0, 0},
        .it_value = {.tv_sec = (time_t)(nanoseconds / 1000000000u), .tv_nsec = (long)(nanoseconds % 1000000000u)},
    };
    return timerfd_settime(timer, 0, &spec, NULL);
}

int cutover_affinity_core_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    return CPU_COUNT(&set);
}
