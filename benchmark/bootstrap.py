"""The default number of bootstrap resamples. Light on purpose (no numpy), so that the command line
can show the default without loading the metrics; the resamples themselves and their named seeded
generator are :mod:`clinfair.benchmark.resampling`'s."""

from __future__ import annotations

#: Bootstrap resamples of an interval when a command or a call is not told otherwise.
N_BOOTSTRAP = 1000
