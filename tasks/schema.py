"""The unified example schema (DESIGN.md section 2) and the demographic normalisers.

One row is one question about one patient study. A missing demographic is ``None``,
never dropped and never guessed. Everything here is plain Python except
:func:`features`, which builds the ``datasets.Features`` for a task.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from clinfair.core.errors import ClinfairError

SEXES = ("F", "M")
#: The paper's four age bins: <=25, (25, 50], (50, 75], >75 years.
AGE_GROUPS = ("A1", "A2", "A3", "A4")
AGE_BIN_UPPER_EDGES = (25.0, 50.0, 75.0)
UNKNOWN_GROUP = "UNK"
#: The demographics every row carries as groups, with their groups in order (the paper protocol's two
#: attributes; ``clinfair.tasks.attributes`` builds every command's attribute spec from them).
DEMOGRAPHIC_GROUPS: dict[str, tuple[str, ...]] = {"sex": SEXES, "age_group": AGE_GROUPS}
#: The trainer's group key by default: every demographic, e.g. ``F|A3``.
DEFAULT_GROUP_ATTRIBUTES = tuple(DEMOGRAPHIC_GROUPS)
#: Fields of a row that hold demographics at top level (others live in ``attributes``).
TOP_LEVEL_DEMOGRAPHICS = ("sex", "age", "age_group")
SPLITS = ("train", "validation", "test")

_NULL_TOKENS = {"", "nan", "none", "null", "na", "n/a", "unknown", "unk", "?", "-", "not specified"}
_SEX_TOKENS = {
    "f": "F",
    "female": "F",
    "woman": "F",
    "w": "F",
    "feminine": "F",
    "m": "M",
    "male": "M",
    "man": "M",
    "masculine": "M",
}
_AGE_UNITS_IN_YEARS = {"Y": 1.0, "M": 1 / 12, "W": 7 / 365.25, "D": 1 / 365.25}
_DICOM_AGE = re.compile(r"^(\d{1,3})\s*([DWMY])$", re.IGNORECASE)
MAX_AGE = 130.0


class FieldError(ClinfairError, ValueError):
    """A bad value in one named field of a row (builders add the file and row number)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in _NULL_TOKENS


def normalize_sex(value: Any) -> str | None:
    """Map a raw sex/gender value to ``"F"``, ``"M"`` or ``None``.

    Recognises the spellings used by the sources (``Male``, ``female``, ``M``, ``F``,
    ``FEMALE``...); blanks and ``unknown`` become ``None``. Anything else is an error:
    a value we cannot read is reported, not guessed.
    """
    if _is_null(value):
        return None
    if not isinstance(value, str):
        raise ValueError(f"unrecognised sex value {value!r}")
    token = value.strip().lower()
    if token in _SEX_TOKENS:
        return _SEX_TOKENS[token]
    if token in {"other", "o", "x", "intersex"}:
        return None  # not one of the two groups the paper's protocol compares
    raise ValueError(f"unrecognised sex value {value!r}")


def normalize_age(value: Any) -> float | None:
    """Return an age in years, or ``None`` when the source leaves it blank.

    Accepts numbers (``45``, ``45.0``, ISIC's ``age_approx``), numeric strings and DICOM
    age strings (``"053Y"``, ``"006M"``, ``"002W"``, ``"010D"``). Raises ``ValueError``
    for text that is not an age (``"abc"``) or an age outside [0, 130].
    """
    if _is_null(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"unrecognised age value {value!r}")
    if isinstance(value, (int, float)):
        years = float(value)
    elif isinstance(value, str):
        text = value.strip()
        match = _DICOM_AGE.match(text)
        if match:
            years = int(match.group(1)) * _AGE_UNITS_IN_YEARS[match.group(2).upper()]
        else:
            try:
                years = float(text)
            except ValueError:
                raise ValueError(f"unrecognised age value {value!r}") from None
    else:
        raise ValueError(f"unrecognised age value {value!r}")
    if math.isnan(years):
        return None
    if not 0.0 <= years <= MAX_AGE or math.isinf(years):
        raise ValueError(f"age {value!r} is outside [0, {MAX_AGE:g}] years")
    return years


def age_group(age: float | None) -> str | None:
    """The paper's bin for an age in years: A1 <=25 < A2 <=50 < A3 <=75 < A4."""
    if age is None or (isinstance(age, float) and math.isnan(age)):
        return None
    for name, upper in zip(AGE_GROUPS, AGE_BIN_UPPER_EDGES):
        if age <= upper:
            return name
    return AGE_GROUPS[-1]


def demographic_value(row: Mapping[str, Any], attribute: str) -> str | None:
    """Read one demographic attribute from a row (top level first, then ``attributes``)."""
    if attribute in row:
        value = row[attribute]
    else:
        value = (row.get("attributes") or {}).get(attribute)
    if _is_null(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def group_key(row: Mapping[str, Any], attributes: Sequence[str] = DEFAULT_GROUP_ATTRIBUTES) -> str:
    """The trainer's demographic group key, e.g. ``"F|A3"``; ``"UNK"`` if any part is null."""
    parts = [demographic_value(row, name) for name in attributes]
    if any(part is None for part in parts):
        return UNKNOWN_GROUP
    return "|".join(parts)  # type: ignore[arg-type]


def make_example(
    *,
    id: str,
    dataset: str,
    split: str,
    images: list[Any],
    question: str,
    choices: Sequence[str],
    answer: Iterable[str],
    sex: Any = None,
    age: Any = None,
    attributes: Mapping[str, Any] | None = None,
    attribute_names: Sequence[str] = (),
) -> dict[str, Any]:
    """Assemble one schema row, normalising demographics and checking the fields.

    ``sex`` and ``age`` are raw values (normalised here); ``age_group`` is derived.
    ``attribute_names`` fixes the keys of ``attributes`` (missing ones become ``None``),
    so every row of a task has the same columns.
    """
    if split not in SPLITS:
        raise FieldError("split", f"split {split!r} is not one of {SPLITS}")
    if not images:
        raise FieldError("images", "an example needs at least one image")
    answer = list(dict.fromkeys(answer))
    unknown = [label for label in answer if label not in choices]
    if unknown:
        raise FieldError("answer", f"labels {unknown} are not in the label space {list(choices)}")
    if not answer:
        raise FieldError("answer", "an example needs at least one answer label")
    attrs = dict(attributes or {})
    extra = sorted(set(attrs) - set(attribute_names))
    if extra:
        raise FieldError("attributes", f"attributes {extra} are not declared by the task")
    try:
        norm_sex = normalize_sex(sex)
    except ValueError as error:
        raise FieldError("sex", str(error)) from None
    try:
        norm_age = normalize_age(age)
    except ValueError as error:
        raise FieldError("age", str(error)) from None
    return {
        "id": str(id),
        "dataset": dataset,
        "split": split,
        "images": list(images),
        "question": question,
        "choices": list(choices),
        "answer": answer,
        "sex": norm_sex,
        "age": norm_age,
        "age_group": age_group(norm_age),
        "attributes": {
            name: (None if _is_null(attrs.get(name)) else str(attrs.get(name))) for name in attribute_names
        },
    }


def features(attribute_names: Sequence[str] = ()):
    """The ``datasets.Features`` of a task's rows.

    ``attributes`` is a struct whose keys are the task's extra attributes (e.g.
    ``fitzpatrick`` for PAD-UFES-20); tasks without any hold a single null ``_`` field,
    because Arrow cannot store an empty struct.
    """
    from datasets import Features, Image, List, Value

    attr_fields = {name: Value("string") for name in attribute_names} or {"_": Value("string")}
    return Features(
        {
            "id": Value("string"),
            "dataset": Value("string"),
            "split": Value("string"),
            "images": List(Image()),
            "question": Value("string"),
            "choices": List(Value("string")),
            "answer": List(Value("string")),
            "sex": Value("string"),
            "age": Value("float32"),
            "age_group": Value("string"),
            "attributes": attr_fields,
        }
    )


def to_arrow_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as :func:`features` stores it (fills the placeholder of empty attributes)."""
    out = dict(row)
    out["attributes"] = dict(row.get("attributes") or {}) or {"_": None}
    return out


def from_arrow_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`to_arrow_row`: drop the placeholder attribute."""
    out = dict(row)
    out["attributes"] = {k: v for k, v in (row.get("attributes") or {}).items() if k != "_"}
    return out
