"""Property tests: results do not depend on row order or group names, and duplicating rows
leaves every rate unchanged."""

from __future__ import annotations

import pandas as pd
import pytest
from clinfair.benchmark.metrics import PAPER_KEYS, STANDARD_METRICS, build_report
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

LABELS = ("a", "b", "c")
SITES = ("s1", "s2", "s3")

row = st.tuples(
    st.sampled_from(["d1", "d2"]),
    st.lists(st.sampled_from(LABELS), min_size=1, max_size=2, unique=True),
    st.none() | st.lists(st.sampled_from(LABELS), max_size=2, unique=True),
    st.sampled_from(["F", "M", None]),
    st.sampled_from(["A1", "A2", "A3", "A4", None]),
    st.sampled_from([*SITES, None]),
)
tables = st.lists(row, min_size=1, max_size=40)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ATTRIBUTES = ["sex", "age_group", "site", "sex*age_group"]


def to_frame(rows: list[tuple]) -> pd.DataFrame:
    columns = ["dataset", "answer", "prediction", "sex", "age_group", "site"]
    return pd.DataFrame([dict(zip(columns, r)) for r in rows], columns=columns)


def report(df: pd.DataFrame, n_bootstrap: int = 0) -> dict:
    return build_report(df, attributes=ATTRIBUTES, n_bootstrap=n_bootstrap, min_group_size=5)


def point_values(result: dict) -> dict:
    """Every standard-layer point value, keyed by (dataset, attribute, group, metric)."""
    values = {}
    for dataset, d in result["standard"]["by_dataset"].items():
        for attribute, a in d["attributes"].items():
            for group, g in a["groups"].items():
                for metric in STANDARD_METRICS:
                    values[dataset, attribute, group, metric] = g["metrics"][metric]["value"]
    return values


def assert_same_numbers(left: dict, right: dict) -> None:
    assert left.keys() == right.keys()
    for key in left:
        if left[key] is None or right[key] is None:
            assert left[key] == right[key], key
        else:
            assert left[key] == pytest.approx(right[key], abs=1e-12), key


@SETTINGS
@given(tables, st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_report(rows, random):
    shuffled = list(rows)
    random.shuffle(shuffled)
    # with the bootstrap too: resamples are drawn over row types, not row positions
    assert report(to_frame(rows), n_bootstrap=20) == report(to_frame(shuffled), n_bootstrap=20)


@SETTINGS
@given(tables, st.permutations(SITES), st.permutations(["A1", "A2", "A3", "A4"]))
def test_relabelling_groups_only_renames_them(rows, sites, ages):
    site_map = dict(zip(SITES, (f"site-{s}" for s in sites))) | {None: None}
    age_map = dict(zip(["A1", "A2", "A3", "A4"], ages))
    sex_map = {"F": "M", "M": "F", None: None}
    relabelled = [
        (d, a, p, sex_map[sex], None if age is None else age_map[age], site_map[site])
        for d, a, p, sex, age, site in rows
    ]
    before, after = report(to_frame(rows)), report(to_frame(relabelled))

    # paper protocol: swapping F/M and permuting the age bins changes no value
    for dataset, values in before["paper"]["by_dataset"].items():
        assert_same_numbers(values, after["paper"]["by_dataset"][dataset])
    assert_same_numbers(before["paper"]["overall"], after["paper"]["overall"])

    # standard layer: the site groups carry the same numbers under their new names
    renamed = {
        (dataset, attribute, site_map[group] if attribute == "site" else group, metric): value
        for (dataset, attribute, group, metric), value in point_values(before).items()
        if attribute == "site"
    }
    assert_same_numbers(renamed, {k: v for k, v in point_values(after).items() if k[1] == "site"})
    for dataset, d in before["standard"]["by_dataset"].items():
        for metric, summary in d["attributes"]["site"]["summary"].items():
            new = after["standard"]["by_dataset"][dataset]["attributes"]["site"]["summary"][metric]
            assert new["gap"]["value"] == pytest.approx(summary["gap"]["value"], abs=1e-12)


@SETTINGS
@given(tables)
def test_duplicating_every_row_leaves_rates_unchanged(rows):
    once, twice = report(to_frame(rows)), report(to_frame(rows + rows))
    assert_same_numbers(point_values(once), point_values(twice))
    for dataset, values in once["paper"]["by_dataset"].items():
        assert_same_numbers(values, twice["paper"]["by_dataset"][dataset])
    assert_same_numbers(once["paper"]["overall"], twice["paper"]["overall"])
    assert twice["counts"]["rows"] == 2 * once["counts"]["rows"]
    assert twice["counts"]["invalid_predictions"] == 2 * once["counts"]["invalid_predictions"]


@SETTINGS
@given(tables)
def test_report_is_always_complete_and_nan_free(rows):
    import json

    result = report(to_frame(rows), n_bootstrap=10)
    json.dumps(result, allow_nan=False)
    assert set(result["paper"]["overall"]) == set(PAPER_KEYS)
    for values in point_values(result).values():
        assert values is None or 0.0 <= values <= 1.0
