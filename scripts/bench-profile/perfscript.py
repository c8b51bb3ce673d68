"""Reads a `perf script` dump for scripts/bench-profile: its samples' call chains and readable names."""
import re, subprocess

FRAME = re.compile(r"\s+[0-9a-f]+ (\S+) \((.*)\)")


def samples(path, event=None):
    """Each sample's frames, leaf first, as (symbol without offset, library); only samples whose
    header line names `event`, when given."""
    chains = []
    for block in open(path, errors="replace").read().split("\n\n"):
        lines = block.split("\n")
        if event and event not in lines[0]:
            continue
        frames = [(re.sub(r"\+0x[0-9a-f]+$", "", m.group(1)), m.group(2)) for m in map(FRAME.match, lines[1:]) if m]
        if frames:
            chains.append(frames)
    return chains


def readable(chains):
    """Symbol -> its demangled Swift name (`swift-demangle --simplified`), for every symbol in `chains`."""
    names = sorted({name for frames in chains for name, _ in frames})
    demangled = subprocess.run(["swift-demangle", "--simplified", "--compact"], input="\n".join(names),
                               capture_output=True, text=True, check=True).stdout.split("\n")
    return dict(zip(names, demangled))


def first_match(categories, chain, default="other"):
    """The name of the first (name, pattern) in `categories` whose pattern matches a frame of `chain`."""
    return next((name for name, pattern in categories if any(re.search(pattern, frame) for frame in chain)), default)
