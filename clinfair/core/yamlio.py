"""The one YAML reader for what users write (task configs, recipes, studies, ``key=value`` options),
and the one way a mapping becomes a dataclass (:func:`load_dataclass`, with one unknown-key error).

PyYAML follows YAML 1.1, which wants a dot in a float (``1.0e-6``) and reads ``1e-6`` as a
string; learning rates and other small numbers are usually written that way, and a
string would only fail deep inside the code that uses it. This loader is PyYAML's safe
loader (no arbitrary objects) that also reads ``1e-6`` / ``5E+3`` as floats.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import yaml

from clinfair.core.errors import ClinfairError

T = TypeVar("T")


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` plus exponent-form floats without a dot."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, reading ``1e-6`` as a float."""
    return yaml.load(text, Loader=_Loader)


class YamlValueError(ClinfairError):
    """A value given on the command line that is not valid YAML; the message names where it came from."""


def load_yaml_value(text: str, where: str) -> Any:
    """:func:`load_yaml` of one command-line value (``key=value`` override, ``-o`` option), or a
    one-line :class:`YamlValueError` naming ``where`` (e.g. ``override 'max_steps=[1'``)."""
    try:
        return load_yaml(text)
    except yaml.YAMLError as error:
        raise YamlValueError(
            f"{where}: {text!r} is not a valid YAML value ({yaml_error_line(error, lines=False)}); "
            "quote it if it is text"
        ) from None


def yaml_error_line(error: yaml.YAMLError, lines: bool = True) -> str:
    """A YAML error as one line: the problem and where (``line L, column C``; the column only
    when ``lines`` is False). PyYAML's own message runs over several lines."""
    problem = getattr(error, "problem", None) or getattr(error, "context", None) or type(error).__name__
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return problem
    return (
        f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
        if lines
        else f"{problem} at column {mark.column + 1}"
    )


def merge_mappings(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``extra``, nested mappings merged key by key (recipe overrides, a
    ``--columns`` file over a task's column map); ``extra`` wins everywhere else."""
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = (
            merge_mappings(merged[key], value)
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping)
            else value
        )
    return merged


def unknown_keys_message(
    keys: Iterable[str], known: Sequence[str], where: str, *, kind: str = "key", list_known: bool = True
) -> str | None:
    """The message of :func:`check_keys` (None when every key is known), for a reader that gathers
    several places before raising (a recipe blames each key on the file or override that set it).

    ``kind`` names what the keys are (``"recipe key"``); ``list_known=False`` leaves out the list of
    known keys where it is too long to help (a recipe accepts every field of TRL's GRPOConfig): the
    closest known key is still named.
    """
    known = [str(key) for key in known]
    unknown = [key for key in keys if key not in known]
    if not unknown:
        return None
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), known, 1)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    message = f"{where}: unknown {kind}(s) {', '.join(hints)}"
    return message + (f"; known: {', '.join(known)}" if list_known else "")


def check_keys(
    keys: Iterable[str],
    known: Sequence[str],
    where: str,
    error: type[Exception] = ClinfairError,
    *,
    kind: str = "key",
    list_known: bool = True,
) -> None:
    """The one unknown-key error of every YAML clinfair reads (task configs, table maps, recipes,
    study configs, ``fair_advantage``): each unknown key with its closest known one, then all known
    (see :func:`unknown_keys_message` for ``kind`` and ``list_known``).

    >>> check_keys(["windw"], ["window", "temperature"], "recipe.yaml: fair_advantage")
    Traceback (most recent call last):
    ...
    clinfair.core.errors.ClinfairError: recipe.yaml: fair_advantage: unknown key(s) 'windw' (did you mean 'window'?); known: window, temperature
    """
    message = unknown_keys_message(keys, known, where, kind=kind, list_known=list_known)
    if message is not None:
        raise error(message)


def load_dataclass(
    cls: type[T], values: Mapping[str, Any] | None, where: str, error: type[Exception] = ClinfairError
) -> T:
    """``cls(**values)`` for a mapping read from YAML, with :func:`check_keys`' error for a key that is
    not one of ``cls``'s init fields and one line (``where``: the message) for a value ``cls`` refuses
    (its ``__post_init__`` raising ``ValueError``/``TypeError``)."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise error(f"{where}: a mapping of {cls.__name__} fields, got {type(values).__name__}")
    known = [field.name for field in dataclasses.fields(cls) if field.init]
    check_keys(values, known, where, error)
    try:
        return cls(**values)
    except error:
        raise
    except (TypeError, ValueError) as failure:
        raise error(f"{where}: {failure}") from None
