"""Which attributes a run reports per group (``clinfair eval --attributes``).

An attribute is a column of ``predictions.parquet``: ``sex``, ``age_group`` and each of a
task's own ``attributes`` (``fitzpatrick`` for PAD-UFES-20), which ``prediction_record``
writes as one column each. ``"sex*age_group"`` is an intersection. The metrics' automatic
choice only knows sex and age group (and keys of an ``attributes`` dict column), so the
runner passes the chosen list explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence

from clinfair.benchmark.metrics import DEFAULT_ATTRIBUTES
from clinfair.tasks.registry import check_attributes
from clinfair.tasks.spec import TaskSpec

from clinfair.core.errors import ClinfairError

INTERSECTION = "*"


def default_attributes(specs: Sequence[TaskSpec]) -> list[str]:
    """sex, age_group and sex*age_group, then every attribute of the tasks, in their order."""
    paper = [INTERSECTION.join(spec) for spec in DEFAULT_ATTRIBUTES]
    own = [name for spec in specs for name in spec.attributes]
    return list(dict.fromkeys([*paper, *own]))


def parse_attributes(chosen: str | Sequence[str], option: str = "--attributes") -> list[str]:
    """``"sex, age_group,sex * age_group"`` -> ``["sex", "age_group", "sex*age_group"]`` (each once)."""
    items = chosen.split(",") if isinstance(chosen, str) else list(chosen)
    parsed = []
    for item in items:
        if not str(item).strip():
            continue
        parts = [part.strip() for part in str(item).split(INTERSECTION)]
        if not all(parts) or len(set(parts)) != len(parts):
            raise ClinfairError(
                f"{option}: invalid attribute specification {str(item).strip()!r} (an attribute, or an "
                "intersection such as sex*age_group)"
            )
        parsed.append(INTERSECTION.join(parts))
    if not parsed:
        raise ClinfairError(f"{option} names no attribute")
    return list(dict.fromkeys(parsed))


def resolve_attributes(
    chosen: str | Sequence[str] | None, specs: Sequence[TaskSpec], option: str = "--attributes"
) -> list[str]:
    """The attributes a run on ``specs`` reports: ``chosen`` checked against the tasks (an
    :class:`~clinfair.tasks.spec.UnknownAttributeError` names an unknown one and each task's
    attributes), or :func:`default_attributes` when ``chosen`` is None."""
    if chosen is None:
        return default_attributes(specs)
    parsed = parse_attributes(chosen, option)
    check_attributes([part for item in parsed for part in item.split(INTERSECTION)], specs, option)
    return parsed
