"""What every bootstrap interval in clinfair shares: the default number of resamples and the
seeded generator. Light on purpose (numpy is imported when a generator is made), so that the
command line can show the default without loading the metrics."""

from __future__ import annotations

import zlib
from typing import Any

#: Bootstrap resamples of an interval when a command or a call is not told otherwise.
N_BOOTSTRAP = 1000


def named_rng(seed: int, *names: str) -> Any:
    """A ``numpy.random.Generator`` that depends on the seed and the names only, so one dataset's,
    attribute's or run's resamples do not change when others join the report."""
    import numpy as np

    return np.random.default_rng([seed, *(zlib.crc32(name.encode("utf-8")) for name in names)])
