"""Peak memory of `clinfair prepare synthetic` at 1,000 and 10,000 images (goal: ratio <= 1.2).

Each size runs in a fresh process so the peak resident set size (ru_maxrss of the child)
belongs to that run alone. Rows stream from the builder into Arrow writers, so the peak
should not grow with the number of images.

    python perf/prepare_memory.py [--sizes 1000 10000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mib(n: int) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one `clinfair prepare synthetic -o n=N` process."""
    with tempfile.TemporaryDirectory() as tmp:
        code = (
            "import sys, resource; from clinfair.cli import main; "
            f"code = main(['prepare', 'synthetic', '--out', {str(Path(tmp) / 'out')!r}, '-o', 'n={n}', '--no-progress']); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)"
        )
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - start
    return int(done.stdout.strip().splitlines()[-1]) / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[1000, 10000])
    args = parser.parse_args()
    small, large = args.sizes
    results = {n: peak_rss_mib(n) for n in (small, large)}
    for n, (mib, seconds) in results.items():
        print(f"prepare synthetic n={n:>6}: peak RSS {mib:7.1f} MiB, {seconds:6.1f} s")
    ratio = results[large][0] / results[small][0]
    print(f"peak memory ratio {large}/{small}: {ratio:.3f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
