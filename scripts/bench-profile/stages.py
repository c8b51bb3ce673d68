"""Splits a `perf script` dump of cutover's CPU samples into pipeline stages.

Usage: stages.py SCRIPT_TXT EVENTS CPU_MICROSECONDS. Each sample is given to the first stage (in
the order of STAGES) one of whose patterns matches any frame of its call chain, so a SQLite frame
under the ingest transaction counts as ingest, not as SQLite in general. Prints, per stage, its
share of the samples, that share of the measured CPU per event, and how much of it is the
kernel's (samples whose leaf frame is in the kernel: syscalls, fsync, loopback TCP, scheduling).
"""
import collections, re, subprocess, sys

STAGES = [
    ("spool: ingest transaction", r"SQLiteDatabase\.ingest|GroupCommitter"),
    ("spool: delivery bookkeeping", r"recordAndClaim|claimDue|applyOutcomes|recordAttempt"),
    ("spool: WAL checkpoint", r"WALCheckpointer"),
    ("spool: other", r"SQLiteDatabase|SpoolStore|^sqlite3"),
    ("ingress: JSON parse", r"ParserState|JSONParser"),
    ("ingress: decode and normalize", r"WebhookDecoder|CloudDecoding|OnPremDecoding|CommittedEventIndex|SignedBodyIDs"),
    ("ingress: signature", r"WebhookSignatureVerifier"),
    ("delivery: render and sign", r"OutboundRequestBuilder|WebhookRenderer|CloudRendering|OnPremRendering"),
    ("delivery: HTTP client", r"HTTPClient|HTTP1ClientConnection|HTTP1ResponseDecoder|HTTP1RequestEncoder"),
    ("delivery: worker", r"DeliveryWorker|DecodedEventCache"),
    ("ingress: handler", r"IngressHandler|DecodePool|Spool\."),
    ("HTTP server", r"HTTP1ServerConnection|HTTP1RequestDecoder|HTTP1ResponseEncoder|HTTPServer"),
    ("event loop and sockets", r"EpollEventLoop|Connection\.|Socket"),
    ("Dispatch (queues, threads)", r"_dispatch|dispatch_"),
]
FRAME = re.compile(r"\s+[0-9a-f]+ (\S+) \((.*)\)")


def main(path, events, cpu_us):
    samples, names = [], set()
    for block in open(path, errors="replace").read().split("\n\n"):
        frames = [(re.sub(r"\+0x[0-9a-f]+$", "", m.group(1)), m.group(2))
                  for m in map(FRAME.match, block.split("\n")[1:]) if m]
        if frames:
            samples.append(frames)
            names.update(name for name, _ in frames)
    if not samples:
        sys.exit("no samples in " + path)
    ordered = sorted(names)
    demangled = subprocess.run(["swift-demangle", "--simplified", "--compact"], input="\n".join(ordered),
                               capture_output=True, text=True, check=True).stdout.split("\n")
    readable = dict(zip(ordered, demangled))
    counts, kernel = collections.Counter(), collections.Counter()
    for frames in samples:
        chain = [readable.get(name, name) for name, _ in frames]
        stage = next((name for name, pattern in STAGES if any(re.search(pattern, f) for f in chain)), "other")
        counts[stage] += 1
        if "kernel" in frames[0][1]:
            kernel[stage] += 1
    per_event = cpu_us / events
    print(f"{'stage':32s} {'share':>6s} {'us/event':>9s} {'kernel':>7s}")
    for stage, count in counts.most_common():
        share = count / len(samples)
        print(f"{stage:32s} {100 * share:5.1f}% {per_event * share:9.1f} {100 * kernel[stage] / count:6.0f}%")
    print(f"{'all':32s} {100.0:5.1f}% {per_event:9.1f} {100 * sum(kernel.values()) / len(samples):6.0f}%  ({len(samples)} samples)")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
