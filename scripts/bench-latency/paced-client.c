// An open-loop HTTP/1.1 load generator for the latency and RSS rows of `make bench`: sends requests
// at a fixed rate whatever the server does (wrk cannot pace, and wrk2 is not packaged here), one
// request at a time per keep-alive connection, and measures each response from the instant its
// request was *due*, not sent, so a server that falls behind shows it in the tail (no coordinated
// omission).
//
// usage: paced-client PORT RATE SECONDS CONNECTIONS REQUESTS_FILE
//   RATE 0: no pacing, each connection sends its next request as soon as it has an answer (a
//   closed loop, as wrk), and SECONDS is the number of requests to send instead.
//   REQUESTS_FILE: one request per line, "PATH" for a GET or "PATH<TAB>SIGNATURE<TAB>BODY" for a
//   signed JSON POST; used in order, cycling when the run needs more than the file holds.
// Prints one line: "due completed non2xx p50_ms p99_ms p999_ms max_ms rate".
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
    perror(what);
    exit(1);
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

typedef struct { char *bytes; size_t length; } request;

// Each line of the file becomes the full request bytes, formatted once before the clock starts.
static request *load(const char *path, size_t *count) {
    FILE *file = fopen(path, "r");
    if (!file) die(path);
    size_t capacity = 1024, n = 0;
    request *requests = malloc(capacity * sizeof *requests);
    char *line = NULL;
    size_t size = 0;
    ssize_t length;
    while ((length = getline(&line, &size, file)) > 0) {
        if (line[length - 1] == '\n') line[--length] = 0;
        if (length == 0) continue;
        if (n == capacity) requests = realloc(requests, (capacity *= 2) * sizeof *requests);
        char *signature = strchr(line, '\t'), *body = signature ? strchr(signature + 1, '\t') : NULL;
        char *formatted;
        int written;
        if (signature && body) {
            *signature++ = 0;
            *body++ = 0;
            written = asprintf(&formatted,
                "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Hub-Signature-256: %s\r\n"
                "Content-Length: %zu\r\n\r\n%s", line, signature, strlen(body), body);
        } else {
            written = asprintf(&formatted, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", line);
        }
        if (written < 0) die("asprintf");
        requests[n++] = (request){formatted, (size_t)written};
    }
    free(line);
    fclose(file);
    if (n == 0) { fprintf(stderr, "%s: no requests\n", path); exit(2); }
    *count = n;
    return requests;
}

typedef struct {
    int fd;
    int busy;
    uint64_t due;  // when the request in flight was due
    char buffer[16384];
    size_t filled;
} connection;

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

// The response in `c->buffer` once complete: its length, or 0 while more is needed.
static size_t complete_response(connection *c, int *status) {
    c->buffer[c->filled < sizeof c->buffer ? c->filled : sizeof c->buffer - 1] = 0;
    char *end = strstr(c->buffer, "\r\n\r\n");
    if (!end) return 0;
    size_t head = (size_t)(end - c->buffer) + 4, body = 0;
    for (char *line = strstr(c->buffer, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "content-length:", 15) == 0) body = strtoul(line + 17, NULL, 10);
    }
    if (c->filled < head + body) return 0;
    *status = atoi(c->buffer + 9);
    return head + body;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: paced-client PORT RATE SECONDS CONNECTIONS REQUESTS_FILE\n");
        return 2;
    }
    int port = atoi(argv[1]), connections = atoi(argv[4]);
    double rate = atof(argv[2]), seconds = atof(argv[3]);
    size_t count;
    request *requests = load(argv[5], &count);
    uint64_t total = rate > 0 ? (uint64_t)(rate * seconds) : (uint64_t)seconds, interval = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
    uint64_t *latencies = calloc(total, sizeof *latencies);
    connection *pool = calloc((size_t)connections, sizeof *pool);
    int epoll = epoll_create1(0), timer = timerfd_create(CLOCK_MONOTONIC, 0);
    if (epoll < 0 || timer < 0) die("epoll/timerfd");
    struct epoll_event event = {.events = EPOLLIN, .data.u64 = (uint64_t)-1};
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, timer, &event) != 0) die("epoll_ctl");
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < connections; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) die("connect");
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pool[i].fd = fd;
        event = (struct epoll_event){.events = EPOLLIN, .data.u64 = (uint64_t)i};
        if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0) die("epoll_ctl");
    }
    uint64_t start = now_ns() + 1000000, next = 0, completed = 0, non2xx = 0, deadline = start + (uint64_t)(((rate > 0 ? seconds : 0) + 300) * 1e9);
    int idle = connections;
    while (completed < total) {
        uint64_t now = now_ns();
        if (now > deadline) { fprintf(stderr, "paced-client: %llu of %llu answered before the deadline\n",
                                      (unsigned long long)completed, (unsigned long long)total); break; }
        // Every request that is due goes out on an idle connection; the rest wait, and count it.
        for (int i = 0; i < connections && idle > 0 && next < total && start + next * interval <= now; i++) {
            if (pool[i].busy) continue;
            request *r = &requests[next % count];
            if (send(pool[i].fd, r->bytes, r->length, MSG_NOSIGNAL) != (ssize_t)r->length) die("send (short or failed)");
            pool[i].busy = 1;
            pool[i].due = start + next * interval;
            next++;
            idle--;
        }
        if (next < total && idle > 0) {
            uint64_t due = start + next * interval;
            struct itimerspec when = {.it_value = {.tv_sec = (time_t)(due / 1000000000u), .tv_nsec = (long)(due % 1000000000u)}};
            if (timerfd_settime(timer, TFD_TIMER_ABSTIME, &when, NULL) != 0) die("timerfd_settime");
        }
        struct epoll_event ready[64];
        int n = epoll_wait(epoll, ready, 64, 1000);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int k = 0; k < n; k++) {
            if (ready[k].data.u64 == (uint64_t)-1) {
                uint64_t expirations;
                if (read(timer, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("read timerfd");
                continue;
            }
            connection *c = &pool[ready[k].data.u64];
            ssize_t got = recv(c->fd, c->buffer + c->filled, sizeof c->buffer - 1 - c->filled, 0);
            if (got <= 0) { fprintf(stderr, "paced-client: connection closed by the server\n"); exit(1); }
            c->filled += (size_t)got;
            int status = 0;
            size_t length = complete_response(c, &status);
            if (length == 0) continue;
            if (!c->busy) { fprintf(stderr, "paced-client: response without a request\n"); exit(1); }
            latencies[completed++] = now_ns() - c->due;
            if (status < 200 || status > 299) non2xx++;
            memmove(c->buffer, c->buffer + length, c->filled - length);
            c->filled -= length;
            c->busy = 0;
            idle++;
        }
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    qsort(latencies, completed, sizeof *latencies, compare);
#define AT(q) (completed ? (double)latencies[(size_t)((double)(completed - 1) * (q))] / 1e6 : 0)
    printf("%llu %llu %llu %.3f %.3f %.3f %.3f %.0f\n", (unsigned long long)total, (unsigned long long)completed,
           (unsigned long long)non2xx, AT(0.5), AT(0.99), AT(0.999), AT(1.0), (double)completed / elapsed);
    return completed == total ? 0 : 1;
}
