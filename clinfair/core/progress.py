"""A periodic "still working" line for a step that has no natural unit to count.

Steps that can count their work show a tqdm bar (eval, probe, prepare, simulate); a step that
cannot (building a leaderboard's tables and figures, a warm start) wraps itself in
:func:`heartbeat`, so no command is silent for more than ``every`` seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

#: Seconds between two lines.
HEARTBEAT_S = 10.0


@contextmanager
def heartbeat(label: str, every: float = HEARTBEAT_S, stream: TextIO | None = None) -> Iterator[None]:
    """Print ``LABEL: still working (N s)`` every ``every`` seconds while the block runs.

    The lines go to stdout by default, beside the command's other output: stderr holds a failing
    command's one error line and nothing else."""
    stop = threading.Event()
    start = time.perf_counter()

    def beat() -> None:
        while not stop.wait(every):
            print(
                f"{label}: still working ({time.perf_counter() - start:.0f} s)",
                file=stream or sys.stdout,
                flush=True,
            )

    thread = threading.Thread(target=beat, name="clinfair-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
