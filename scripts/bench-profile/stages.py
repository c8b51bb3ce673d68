"""Splits a `perf script` dump of cutover's CPU samples into pipeline stages.

Usage: stages.py SCRIPT_TXT EVENTS CPU_MICROSECONDS. Each sample is given to the first stage (in
the order of STAGES) one of whose patterns matches any frame of its call chain, so a SQLite frame
under the ingest transaction counts as ingest, not as SQLite in general. Prints, per stage, its
share of the samples, that share of the measured CPU per event, and how much of it is the
kernel's (samples whose leaf frame is in the kernel: syscalls, fsync, loopback TCP, scheduling).
"""
import collections, sys

from perfscript import first_match, readable, samples

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


def main(path, events, cpu_us):
    chains = samples(path)
    if not chains:
        sys.exit("no samples in " + path)
    names = readable(chains)
    counts, kernel = collections.Counter(), collections.Counter()
    for frames in chains:
        stage = first_match(STAGES, [names.get(name, name) for name, _ in frames])
        counts[stage] += 1
        if "kernel" in frames[0][1]:
            kernel[stage] += 1
    per_event = cpu_us / events
    print(f"{'stage':32s} {'share':>6s} {'us/event':>9s} {'kernel':>7s}")
    for stage, count in counts.most_common():
        share = count / len(chains)
        print(f"{stage:32s} {100 * share:5.1f}% {per_event * share:9.1f} {100 * kernel[stage] / count:6.0f}%")
    print(f"{'all':32s} {100.0:5.1f}% {per_event:9.1f} {100 * sum(kernel.values()) / len(chains):6.0f}%  ({len(chains)} samples)")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
