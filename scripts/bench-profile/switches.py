"""Groups a `perf script` dump of cutover's sched:sched_switch events by why the thread left the CPU.

Usage: switches.py SCRIPT_TXT EVENTS. The cause is read off the user-space frames of the switching
thread, the first category (in CAUSES order) whose pattern matches; prints switches per event.
"""
import collections, re, subprocess, sys

CAUSES = [
    ("waits for the WAL fsync", r"sqlite3WalFrames|sqlite3PagerCommitPhaseOne"),
    ("waits for a WAL checkpoint", r"sqlite3WalCheckpoint|WALCheckpointer"),
    ("waits for a lock", r"_lockSlow|lll_lock|pthread_mutex_lock"),
    ("preempted sending to a peer", r"Socket\.write|__libc_send"),
    ("preempted waking a queue", r"futex_wake|eventfd_write|DispatchQueue\.async"),
    ("event loop waits in epoll", r"EpollSet\.wait|epoll_wait"),
    ("idle Dispatch worker parks", r"_dispatch_worker_thread|start_thread"),
]
FRAME = re.compile(r"\s+[0-9a-f]+ (\S+) \((.*)\)")


def main(path, events):
    samples, names = [], set()
    for block in open(path, errors="replace").read().split("\n\n"):
        if "sched_switch" not in block:
            continue
        frames = [re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
                  for m in map(FRAME.match, block.split("\n")[1:]) if m and "kernel" not in m.group(2)]
        samples.append(frames)
        names.update(frames)
    ordered = sorted(names)
    demangled = subprocess.run(["swift-demangle", "--simplified", "--compact"], input="\n".join(ordered),
                               capture_output=True, text=True, check=True).stdout.split("\n")
    readable = dict(zip(ordered, demangled))
    counts = collections.Counter()
    for frames in samples:
        chain = [readable.get(name, name) for name in frames]
        counts[next((name for name, pattern in CAUSES if any(re.search(pattern, f) for f in chain)), "other")] += 1
    for cause, count in counts.most_common():
        print(f"  {count / events:5.2f}  {cause}")
    print(f"  {len(samples) / events:5.2f}  all sampled ({len(samples)} switches)")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
