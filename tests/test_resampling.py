"""``clinfair.benchmark.resampling``: every bootstrap's draws, checked against numpy's own calls and
against what a resample must be (drawn within its stratum, each stratum keeping its size)."""

from __future__ import annotations

import zlib

import numpy as np
from clinfair.benchmark.resampling import (
    chunk_sizes,
    named_rng,
    plain_rows,
    stratified_counts,
    stratified_rows,
    type_counts,
)


def test_named_rng_depends_on_seed_and_names_only():
    assert (named_rng(7).random(5) == np.random.default_rng(7).random(5)).all()
    expected = np.random.default_rng([3, zlib.crc32(b"isic2020"), zlib.crc32(b"sex")]).random(5)
    assert (named_rng(3, "isic2020", "sex").random(5) == expected).all()
    assert not (named_rng(3, "isic2020", "age_group").random(5) == expected).all()


def test_stratified_rows_stay_in_their_stratum_and_keep_its_size():
    strata = [np.array([0, 2, 4]), np.array([1, 3]), np.array([5, 6, 7, 8])]
    rng, oracle = named_rng(0, "t"), named_rng(0, "t")
    for _ in range(50):
        rows = stratified_rows(strata, rng)
        assert len(rows) == 9
        for (start, stop), members in zip([(0, 3), (3, 5), (5, 9)], strata):
            assert set(rows[start:stop]) <= set(members)
        # the same numbers as drawing each stratum with numpy's choice, in order
        assert (rows == np.concatenate([oracle.choice(m, size=len(m), replace=True) for m in strata])).all()


def test_stratified_counts_are_draws_per_row():
    strata = [np.array([0, 1, 2]), np.array([4, 5])]
    weights = stratified_counts(strata, 7, 400, named_rng(1))
    assert weights.shape == (400, 7)
    assert (weights[:, [0, 1, 2]].sum(axis=1) == 3).all() and (weights[:, [4, 5]].sum(axis=1) == 2).all()
    assert (weights[:, [3, 6]] == 0).all()  # in no stratum: never drawn
    assert np.allclose(weights.mean(axis=0)[[0, 1, 2, 4, 5]], 1, atol=0.15)  # each row drawn once on average


def test_type_counts_are_row_draws_counted_per_type():
    counts = np.array([6, 3, 1])
    drawn = type_counts(counts, 20_000, named_rng(2))
    assert (drawn.sum(axis=1) == 10).all()
    assert np.allclose(drawn.mean(axis=0), counts, atol=0.08)
    # the variance of a type's count when 10 rows are drawn with replacement: binomial(10, c / 10)
    assert np.allclose(drawn.var(axis=0), counts * (1 - counts / 10), rtol=0.1)


def test_plain_rows_and_batches():
    rows = plain_rows(5, 1000, named_rng(4))
    assert rows.shape == (1000, 5) and rows.min() == 0 and rows.max() == 4
    sizes = list(chunk_sizes(10, 1_500_000))  # 4,000,000 cells: 2 resamples a batch
    assert sizes == [2, 2, 2, 2, 2]
    assert list(chunk_sizes(3, 10**9)) == [1, 1, 1] and list(chunk_sizes(0, 5)) == []
    # drawing in batches gives the numbers of one draw
    one = type_counts(np.array([2, 5]), 10, named_rng(9))
    rng = named_rng(9)
    batched = np.concatenate([type_counts(np.array([2, 5]), size, rng) for size in (2, 2, 2, 2, 2)])
    assert (one == batched).all()
