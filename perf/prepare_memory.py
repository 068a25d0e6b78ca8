"""`clinfair prepare synthetic`: peak memory at 1,000 vs 10,000 images (goal: ratio <= 1.2), and
throughput at --num-proc 1 vs 2 on 10,000 images (goal: >= 1.6x with 2 processes on 2 free cores).

Each run is a fresh process, so the peak resident set size (ru_maxrss) belongs to that run
alone; with --num-proc 2 the peak is the largest of the main process and its workers
(RUSAGE_CHILDREN holds the largest child). Rows stream from the builder into Arrow writers,
so the peak should not grow with the number of images. Rows/s count the whole command
(worker start, the split hashes of the manifest, the summary), as a user waits for it.
The machine's load (os.getloadavg) is printed beside the figures: other work on the cores
lowers the speed-up.

    python perf/prepare_memory.py [--sizes 1000 10000] [--procs 1 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_prepare(n: int, num_proc: int = 1) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one `clinfair prepare synthetic -o n=N --num-proc P` process."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["prepare", "synthetic", "--out", str(Path(tmp) / "out"), "-o", f"n={n}", "--no-progress"]
        argv += ["--num-proc", str(num_proc)]
        code = (
            "import sys, resource; from clinfair.cli import main; "
            f"code = main({argv!r}); "
            "peak = max(resource.getrusage(who).ru_maxrss for who in "
            "(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)); "
            "print(peak); sys.exit(code)"
        )
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - start
    return int(done.stdout.strip().splitlines()[-1]) / 1024, seconds


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f} on {} cores".format(*os.getloadavg(), os.cpu_count())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[1000, 10000])
    parser.add_argument("--procs", type=int, nargs=2, default=[1, 2])
    args = parser.parse_args()
    small, large = args.sizes
    print(f"before: {load()}")
    results = {n: run_prepare(n) for n in (small, large)}
    for n, (mib, seconds) in results.items():
        print(
            f"prepare synthetic n={n:>6}: peak RSS {mib:7.1f} MiB, {seconds:6.1f} s, {n / seconds:7.1f} rows/s"
        )
    ratio = results[large][0] / results[small][0]
    print(f"peak memory ratio {large}/{small}: {ratio:.3f} (goal <= 1.2)")

    one, more = args.procs
    base = results[large] if one == 1 else run_prepare(large, one)
    mib, seconds = run_prepare(large, more)
    print(
        f"prepare synthetic n={large:>6} --num-proc {more}: peak RSS {mib:7.1f} MiB, {seconds:6.1f} s, "
        f"{large / seconds:7.1f} rows/s"
    )
    print(f"throughput --num-proc {more} / --num-proc {one}: {base[1] / seconds:.2f}x (goal >= 1.6x)")
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
