"""The attribute spec: which attributes a report groups rows by (``--attributes`` of every command).

An attribute is a demographic column of the rows: ``sex`` and ``age_group``, which every task's
rows carry (:data:`DEMOGRAPHICS`, the paper protocol's two attributes), and each of a task's own
``attributes`` (``fitzpatrick`` for PAD-UFES-20). ``"sex*age_group"`` is an **intersection**:
its groups are ``F|A1``, ``F|A2``... This module owns, once for every command (``eval``,
``metrics``, ``compare``, ``probe``, ``study``) and for the metrics library:

* **parsing** (:func:`parse_attributes`): ``"sex, age_group,sex * age_group"`` ->
  ``["sex", "age_group", "sex*age_group"]``, each once; a bad item is one
  :class:`AttributeSpecError` naming the flag; :func:`attribute_parts` splits one item;
* **the default** (:func:`default_attributes`): sex, age_group and sex*age_group, then every
  attribute of the tasks in their order;
* **the checks**: against the tasks' attributes (:func:`check_attributes`,
  :func:`resolve_attributes`) or against the attributes a predictions table has
  (:func:`check_available`, :func:`resolve_for_table`), each an :class:`UnknownAttributeError`
  naming what is there.

``clinfair eval`` knows its tasks (:func:`resolve_attributes`); ``clinfair metrics`` and
``clinfair compare`` read a predictions table (:func:`resolve_for_table`: the default of the
table's registered tasks, what its ``results.json`` recorded, and the keys of an ``attributes``
dict column, each where the table has it); ``clinfair probe`` states the demographics only.

It imports nothing of ``clinfair.tasks`` but the schema, so the metrics can parse specs without
loading the task registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from clinfair.tasks.schema import DEMOGRAPHIC_GROUPS

from clinfair.core.errors import ClinfairError

if TYPE_CHECKING:  # the spec imports this module: its type only, for hints
    from clinfair.tasks.spec import TaskSpec

#: Joins the attributes of an intersection: ``"sex*age_group"``.
INTERSECTION = "*"
#: The command-line flag the specs come from (named in every error).
OPTION = "--attributes"
#: Attributes every task's rows carry as groups (top-level columns): the paper protocol's two.
DEMOGRAPHICS: tuple[str, ...] = tuple(DEMOGRAPHIC_GROUPS)
#: Columns of a predictions table that are not demographic attributes.
NOT_ATTRIBUTES = frozenset(
    {
        "id",
        "dataset",
        "split",
        "index",
        "age",
        "group",
        "attributes",
        "choices",
        "answer",
        "completion",
        "prediction",
        "valid",
        "correct",
        "scores",
        "run",
    }
)
#: What :func:`default_attributes` says, for help texts.
DEFAULT_HELP = (
    f"{', '.join(DEMOGRAPHICS)}, {INTERSECTION.join(DEMOGRAPHICS)} and every attribute of the tasks"
)


class AttributeSpecError(ClinfairError, ValueError):
    """An ``--attributes`` item that is not an attribute or an intersection of distinct attributes."""


class UnknownAttributeError(ClinfairError):
    """A demographic attribute that none of the chosen tasks (or the table) has."""


def attribute_parts(item: str | Sequence[str], option: str = OPTION) -> tuple[str, ...]:
    """``"sex * age_group"`` or ``("sex", "age_group")`` -> ``("sex", "age_group")``."""
    parts = str(item).split(INTERSECTION) if isinstance(item, str) else [str(part) for part in item]
    parts = [part.strip() for part in parts]
    if not parts or not all(parts) or len(set(parts)) != len(parts):
        shown = item.strip() if isinstance(item, str) else INTERSECTION.join(parts)
        raise AttributeSpecError(
            f"{option}: invalid attribute specification {shown!r} (an attribute, or an intersection "
            f"such as {INTERSECTION.join(DEMOGRAPHICS)})"
        )
    return tuple(parts)


def parse_attributes(chosen: str | Sequence[str | Sequence[str]], option: str = OPTION) -> list[str]:
    """A comma list (``"sex, sex*age_group"``) or a list of names, intersections or part tuples ->
    normalised names (``["sex", "sex*age_group"]``), each once, in the order given."""
    items = chosen.split(",") if isinstance(chosen, str) else list(chosen)
    parsed = [
        INTERSECTION.join(attribute_parts(item, option))
        for item in items
        if not (isinstance(item, str) and not item.strip())
    ]
    if not parsed:
        raise AttributeSpecError(f"{option} names no attribute")
    return list(dict.fromkeys(parsed))


def names_in(attributes: Iterable[str]) -> list[str]:
    """The single attributes that normalised names use, each once: ``["sex*age_group"]`` ->
    ``["sex", "age_group"]``."""
    return list(dict.fromkeys(part for item in attributes for part in item.split(INTERSECTION)))


def default_attributes(specs: Sequence[TaskSpec] = (), extra: Iterable[str] = ()) -> list[str]:
    """The default of every command: sex, age_group and sex*age_group, then every attribute of the
    tasks ``specs`` in their order, then ``extra`` (e.g. what a results file recorded), each once."""
    paper = [*DEMOGRAPHICS, INTERSECTION.join(DEMOGRAPHICS)]
    own = [name for spec in specs for name in spec.attributes]
    return list(dict.fromkeys([*paper, *own, *extra]))


def check_attributes(names: Iterable[str], specs: Sequence[TaskSpec], option: str) -> None:
    """Raise :class:`UnknownAttributeError` for the first name no task in ``specs`` can group by.

    An attribute one task has and another lacks is accepted: the other task's rows hold null
    there (in no group; ``UNK`` in a trainer's group key). The message names the attribute,
    the option it came from and each task's attributes.
    """
    known = {name for spec in specs for name in spec.groupable_attributes}
    for name in names:
        if name not in known:
            available = "; ".join(f"{spec.key} has {', '.join(spec.groupable_attributes)}" for spec in specs)
            raise UnknownAttributeError(f"unknown attribute {name!r} in {option}: {available}")


def check_available(
    attributes: Iterable[str],
    available: Sequence[str],
    where: str,
    option: str = OPTION,
    accepted: Iterable[str] = (),
) -> None:
    """Raise :class:`UnknownAttributeError` for the first part of ``attributes`` (normalised names)
    that is neither in ``available`` (the attributes of the table read from ``where``, named in the
    message) nor in ``accepted`` (other columns one may still group by)."""
    known = {*available, *accepted}
    for name in names_in(attributes):
        if name not in known:
            raise UnknownAttributeError(
                f"{where}: unknown attribute {name!r} in {option}; the file has {', '.join(available)}"
            )


def resolve_attributes(
    chosen: str | Sequence[str] | None, specs: Sequence[TaskSpec], option: str = OPTION
) -> list[str]:
    """The attributes a run on ``specs`` reports: ``chosen`` parsed and checked against the tasks,
    or :func:`default_attributes` when ``chosen`` is None."""
    if chosen is None:
        return default_attributes(specs)
    parsed = parse_attributes(chosen, option)
    check_attributes(names_in(parsed), specs, option)
    return parsed


def available_defaults(defaults: Iterable[str], available: Iterable[str]) -> list[str]:
    """The items of a default whose every part the table has; sex, age_group and their intersection
    are always kept (every predictions table has those columns, null or not)."""
    present, always = set(available), set(default_attributes())
    return [
        item for item in dict.fromkeys(defaults) if item in always or set(item.split(INTERSECTION)) <= present
    ]


def table_attributes(columns: Iterable[str], attribute_dicts: Iterable[object] = ()) -> list[str]:
    """The attributes a predictions table has: its columns but :data:`NOT_ATTRIBUTES`, then the keys
    of its ``attributes`` dict column (``attribute_dicts``: that column's values)."""
    keys = set()
    for attrs in attribute_dicts:
        if isinstance(attrs, Mapping):
            keys.update(str(key) for key in attrs if key != "_")
    own = [str(column) for column in columns if column not in NOT_ATTRIBUTES]
    return list(dict.fromkeys([*own, *sorted(keys)]))


def resolve_for_table(
    chosen: str | Sequence[str] | None,
    *,
    specs: Sequence[TaskSpec],
    columns: Sequence[str],
    attribute_dicts: Iterable[object] = (),
    recorded: Iterable[str] = (),
    where: str,
    option: str = OPTION,
) -> list[str]:
    """The attributes a report on a predictions table groups by: ``chosen`` parsed and checked to be
    attributes the table has (:func:`check_available`; any of its columns is accepted), or by default
    :func:`default_attributes` of its tasks (``specs``: the registered ones,
    ``clinfair.tasks.registry.registered_tasks``), then ``recorded`` (the ``attributes`` its
    ``results.json`` lists) and the keys of its ``attributes`` dict column, each where the table has it."""
    available = table_attributes(columns, attribute_dicts)
    if chosen is not None:
        parsed = parse_attributes(chosen, option)
        check_available(parsed, available, where, option, accepted=columns)
        return parsed
    keys = [name for name in available if name not in columns]  # of the dict column
    defaults = default_attributes(specs, extra=[*recorded, *keys])
    return available_defaults(defaults, available)
