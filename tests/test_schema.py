"""The demographic normalisers, age bins, group key and row assembly."""

from __future__ import annotations

import math

import pytest
from clinfair.tasks.schema import (
    FieldError,
    age_group,
    features,
    from_arrow_row,
    group_key,
    make_example,
    normalize_age,
    normalize_sex,
    to_arrow_row,
)
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Male", "M"),
        ("male", "M"),
        ("M", "M"),
        (" m ", "M"),
        ("MALE", "M"),
        ("Female", "F"),
        ("female", "F"),
        ("F", "F"),
        ("f", "F"),
        ("unknown", None),
        ("Unknown", None),
        ("", None),
        (None, None),
        (float("nan"), None),
        ("other", None),
    ],
)
def test_normalize_sex(raw, expected):
    assert normalize_sex(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "3", 1, "malee"])
def test_normalize_sex_rejects_unknown_values(raw):
    with pytest.raises(ValueError, match="sex"):
        normalize_sex(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (45, 45.0),
        (45.5, 45.5),
        ("45", 45.0),
        ("45.0", 45.0),
        ("053Y", 53.0),
        ("053y", 53.0),
        ("006M", 0.5),
        ("0", 0.0),
        ("", None),
        ("  ", None),
        (None, None),
        (float("nan"), None),
        ("unknown", None),
        ("nan", None),
    ],
)
def test_normalize_age(raw, expected):
    assert normalize_age(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "-3", "200", 131, "12Q", True, [4]])
def test_normalize_age_rejects(raw):
    with pytest.raises(ValueError, match="age"):
        normalize_age(raw)


@given(st.integers(min_value=0, max_value=130))
def test_dicom_age_strings_equal_integers(years):
    assert normalize_age(f"{years:03d}Y") == normalize_age(years) == float(years)


@given(st.floats(min_value=0, max_value=130, allow_nan=False))
def test_numeric_strings_round_trip(value):
    assert normalize_age(repr(value)) == pytest.approx(value)


@given(
    st.sampled_from(["male", "female", "m", "f"]),
    st.sampled_from([str.upper, str.lower, str.title]),
    st.text(alphabet=" \t", max_size=3),
)
def test_sex_case_and_whitespace_do_not_matter(word, case, pad):
    assert normalize_sex(pad + case(word) + pad) == normalize_sex(word)


@pytest.mark.parametrize(
    ("age", "group"),
    [
        (0, "A1"),
        (25, "A1"),
        (25.01, "A2"),
        (50, "A2"),
        (50.5, "A3"),
        (75, "A3"),
        (75.1, "A4"),
        (101, "A4"),
        (None, None),
        (math.nan, None),
    ],
)
def test_age_bins_are_the_papers(age, group):
    assert age_group(age) == group


@given(st.floats(min_value=0, max_value=130), st.floats(min_value=0, max_value=130))
def test_age_bins_are_monotone(a, b):
    low, high = sorted([a, b])
    assert age_group(low) <= age_group(high)


def test_group_key_default_and_unknown():
    assert group_key({"sex": "F", "age_group": "A3"}) == "F|A3"
    assert group_key({"sex": None, "age_group": "A3"}) == "UNK"
    assert group_key({"sex": "M", "age_group": None}) == "UNK"


def test_group_key_reads_attributes_and_custom_tuples():
    row = {"sex": "F", "age_group": "A2", "attributes": {"fitzpatrick": "3"}}
    assert group_key(row, ("fitzpatrick",)) == "3"
    assert group_key(row, ("sex", "fitzpatrick")) == "F|3"
    assert group_key({**row, "attributes": {"fitzpatrick": None}}, ("sex", "fitzpatrick")) == "UNK"


def _example(**overrides):
    fields = dict(
        id="1",
        dataset="d",
        split="train",
        images=[b"x"],
        question="q?",
        choices=["a", "b"],
        answer=["a"],
        sex="Female",
        age="053Y",
    )
    return make_example(**{**fields, **overrides})


def test_make_example_normalises_and_derives_age_group():
    row = _example()
    assert (row["sex"], row["age"], row["age_group"]) == ("F", 53.0, "A3")
    assert row["attributes"] == {}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"answer": ["c"]}, "answer"),
        ({"answer": []}, "answer"),
        ({"age": "abc"}, "age"),
        ({"sex": "xx"}, "sex"),
        ({"split": "dev"}, "split"),
        ({"images": []}, "images"),
        ({"attributes": {"race": "x"}}, "attributes"),
    ],
)
def test_make_example_names_the_bad_field(overrides, field):
    with pytest.raises(FieldError) as info:
        _example(**overrides)
    assert info.value.field == field


def test_features_round_trip_through_arrow():
    from datasets import Dataset

    row = _example(images=[{"bytes": _png(), "path": "x.png"}])
    ds = Dataset.from_list([to_arrow_row(row)], features=features())
    back = from_arrow_row(ds[0])
    assert back["attributes"] == {} and back["sex"] == "F" and back["answer"] == ["a"]
    with_attrs = _example(
        images=[{"bytes": _png(), "path": "x.png"}],
        attributes={"fitzpatrick": 2},
        attribute_names=("fitzpatrick",),
    )
    ds = Dataset.from_list([to_arrow_row(with_attrs)], features=features(("fitzpatrick",)))
    assert from_arrow_row(ds[0])["attributes"] == {"fitzpatrick": "2"}


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    return buffer.getvalue()
