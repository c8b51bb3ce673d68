"""Groups a `perf script` dump of cutover's sched:sched_switch events by why the thread left the CPU.

Usage: switches.py SCRIPT_TXT EVENTS. The cause is read off the user-space frames of the switching
thread, the first category (in CAUSES order) whose pattern matches; prints switches per event.
"""
import collections, sys

from perfscript import first_match, readable, samples

CAUSES = [
    ("waits for the WAL fsync", r"sqlite3WalFrames|sqlite3PagerCommitPhaseOne"),
    ("waits for a WAL checkpoint", r"sqlite3WalCheckpoint|WALCheckpointer"),
    ("waits for a lock", r"_lockSlow|lll_lock|pthread_mutex_lock"),
    ("preempted sending to a peer", r"Socket\.write|__libc_send"),
    ("preempted waking a queue", r"futex_wake|eventfd_write|DispatchQueue\.async"),
    ("event loop waits in epoll", r"EpollSet\.wait|epoll_wait"),
    ("idle Dispatch worker parks", r"_dispatch_worker_thread|start_thread"),
]


def main(path, events):
    # The cause is in user space: the kernel frames of a switch are the scheduler's.
    chains = [[frame for frame in frames if "kernel" not in frame[1]] for frames in samples(path, event="sched_switch")]
    names = readable(chains)
    counts = collections.Counter(first_match(CAUSES, [names.get(name, name) for name, _ in frames]) for frames in chains)
    for cause, count in counts.most_common():
        print(f"  {count / events:5.2f}  {cause}")
    print(f"  {len(chains) / events:5.2f}  all sampled ({len(chains)} switches)")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
