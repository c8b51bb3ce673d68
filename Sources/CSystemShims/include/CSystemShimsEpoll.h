// epoll, timerfd and the CPU affinity mask: not in the Glibc module (sys/epoll.h, sys/timerfd.h),
// or macros Swift cannot call (CPU_COUNT).
#ifndef CUTOVER_CSYSTEMSHIMS_EPOLL_H
#define CUTOVER_CSYSTEMSHIMS_EPOLL_H
#include <stdint.h>

/// Readiness bits, as the kernel reports them in `cutover_epoll_event.events`.
extern const uint32_t cutover_epoll_in;
extern const uint32_t cutover_epoll_out;
extern const uint32_t cutover_epoll_rdhup;
extern const uint32_t cutover_epoll_err;
extern const uint32_t cutover_epoll_hup;
extern const uint32_t cutover_epoll_edge_triggered;

/// One ready descriptor: its events and the 64 bits registered with it. Laid out as the kernel's
/// `struct epoll_event` (packed on x86-64 only), which epoll.c checks at compile time.
#if defined(__x86_64__)
#define CUTOVER_EPOLL_PACKED __attribute__((packed))
#else
#define CUTOVER_EPOLL_PACKED
#endif
typedef struct cutover_epoll_event {
    uint32_t events;
    uint64_t data;
} CUTOVER_EPOLL_PACKED cutover_epoll_event;

/// epoll_create1(EPOLL_CLOEXEC).
int cutover_epoll_create(void);
/// epoll_ctl with EPOLL_CTL_ADD, EPOLL_CTL_MOD or EPOLL_CTL_DEL: -1 and errno on failure.
int cutover_epoll_add(int epoll, int descriptor, uint32_t events, uint64_t data);
int cutover_epoll_modify(int epoll, int descriptor, uint32_t events, uint64_t data);
int cutover_epoll_remove(int epoll, int descriptor);
/// epoll_wait: the number of events written to `events`, 0 when none is ready, -1 and errno.
int cutover_epoll_wait(int epoll, cutover_epoll_event *events, int capacity, int timeout_milliseconds);

/// timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC).
int cutover_timerfd_create(void);
/// Arms `timer` to expire once, `nanoseconds` from now (at least 1 ns: 0 would disarm it).
int cutover_timerfd_arm(int timer, uint64_t nanoseconds);

/// CPU_COUNT of sched_getaffinity(0): the cores this process may run on; -1 and errno on failure.
int cutover_affinity_core_count(void);
#endif
