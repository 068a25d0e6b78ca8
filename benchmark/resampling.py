"""Every bootstrap resample clinfair draws comes from here.

A resample is drawn from a **named seeded generator** (:func:`named_rng`): it depends on the seed
and on names (a dataset, an attribute, a run) only, so one dataset's, attribute's or run's
resamples do not change when others join a report. The draws, by shape:

* :func:`stratified_rows` -- row positions drawn with replacement **within each stratum**, each
  stratum keeping its size (``clinfair compare``: within datasets; the leaderboard's paper
  bootstrap: within dataset x sex x age group). A **paired** resample is one such draw applied
  to both runs' rows, which are aligned first, so the spread reflects only where they differ.
* :func:`stratified_counts` -- the same draw as a ``(resamples, rows)`` matrix of how often each
  row was drawn, for metrics that weight rows (the score layer's AUROC, Brier and ECE).
* :func:`type_counts` -- rows of a group compressed into row types (see
  ``clinfair.benchmark.metrics.encoding``): drawing the group's n rows with replacement and
  counting them per type is exactly one multinomial draw over the types (the standard layer
  and the paired comparison of two prediction columns).
* :func:`plain_rows` -- positions drawn with replacement over all rows, no strata (the probe's
  means).

:func:`chunk_sizes` bounds the memory of vectorised draws. The default number of resamples is
``clinfair.benchmark.bootstrap.N_BOOTSTRAP`` (kept apart, without numpy, so that the command
line can show it without loading this module).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence

import numpy as np

#: Upper bound on resamples x row types (or rows) held in memory at once while bootstrapping.
BOOTSTRAP_CELLS = 4_000_000


def named_rng(seed: int, *names: str) -> np.random.Generator:
    """A generator that depends on the seed and the names only (no names: ``default_rng(seed)``'s
    stream), so one dataset's, attribute's or run's resamples do not change when others join."""
    return np.random.default_rng([seed, *(zlib.crc32(name.encode("utf-8")) for name in names)])


def chunk_sizes(n_bootstrap: int, cells_per_resample: int) -> Iterator[int]:
    """Sizes of consecutive batches of resamples, each holding at most :data:`BOOTSTRAP_CELLS`
    cells (at least one resample per batch); drawing in batches gives the same numbers as one draw."""
    chunk = max(1, BOOTSTRAP_CELLS // max(cells_per_resample, 1))
    for start in range(0, n_bootstrap, chunk):
        yield min(chunk, n_bootstrap - start)


def stratified_rows(strata: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """One resample: each stratum's positions drawn with replacement, its size kept, the strata
    concatenated in the order given."""
    return np.concatenate([rng.choice(members, size=len(members)) for members in strata])


def stratified_counts(
    strata: Sequence[np.ndarray], n: int, size: int, rng: np.random.Generator
) -> np.ndarray:
    """``size`` resamples of ``n`` rows as counts ``(size, n)``: how often each row was drawn, each
    stratum's rows drawn with replacement and its size kept; rows in no stratum are never drawn."""
    weights = np.zeros((size, n))
    for rows in strata:
        if len(rows):
            weights[:, rows] = rng.multinomial(len(rows), np.full(len(rows), 1 / len(rows)), size=size)
    return weights


def type_counts(counts: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` resamples of a pool holding ``counts[t]`` rows of type ``t`` (every count > 0), as
    drawn rows per type ``(size, types)``: the pool's rows drawn with replacement and counted per
    type, which is one multinomial draw with probabilities ``counts / counts.sum()``."""
    n = counts.sum()
    return rng.multinomial(n, counts / n, size=size).astype(float)


def plain_rows(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` resamples of ``n`` rows as positions ``(size, n)``, drawn with replacement."""
    return rng.integers(0, n, size=(size, n))
