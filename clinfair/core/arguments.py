"""Command-line flags and recipe values read from dataclass fields: one reading of a field's
type, default and help for ``clinfair eval``/``train`` and for the recipe loader.

A field documents itself as ``transformers.HfArgumentParser`` expects (``metadata={"help":
..., "choices": ...}``; the metadata is passed to ``add_argument``), so the same dataclasses
also work with ``HfArgumentParser``/``trl.TrlParser``. That parser is not used here because
importing transformers takes about 2 s, ten times all of ``clinfair --help`` (TRL vendors its
own copy of the parser for the same latency).

Flags are the field names with dashes (``n_bootstrap`` -> ``--n-bootstrap``); a field
without a default is a required flag; ``x: T | None = None`` takes a T; a bool field that
defaults to False is a switch (``--overwrite``), one that defaults to True is turned off by
``--no-<name>``. A list field takes several values and may repeat (``--include-path A B
--include-path C``); its items have the list's item type (``list[Path]``).

Two metadata keys are read here and not passed on (:data:`HELPER_KEYS`): ``"positional": True``
makes the field a positional argument (``clinfair prepare TASK``; a list one takes one or more
values, or any number when it has a default), and ``"aliases"`` gives further option strings
(``("-o",)`` beside ``--option``). ``HfArgumentParser`` knows neither: a dataclass using them is
for this helper only.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from dataclasses import MISSING, dataclass
from typing import Any


@dataclass(frozen=True)
class FieldSpec:
    """What a dataclass field accepts, read from its annotation, default and metadata."""

    name: str
    kind: Any  # int, float, bool, str, pathlib.Path ...; None when the annotation mixes types
    optional: bool  # None is a valid value
    default: Any  # dataclasses.MISSING when the field is required
    help: str
    metadata: dict[str, Any]
    item: Any = None  # the item type of a list or tuple field (list[Path] -> Path), else None

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def problem(self, value: Any) -> str | None:
        """Why ``value`` cannot be this field's (None if it can). Only numbers and switches are
        checked: other fields may be given several shapes on purpose (``tasks`` as a list or a
        comma-separated text; ``resume_from_checkpoint`` as a folder or ``true``)."""
        if value is None:
            return None if self.optional else "must not be null"
        if self.kind is bool and not isinstance(value, bool):
            return "must be true or false"
        if self.kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return "must be a number"
            if self.kind is int and not isinstance(value, int):
                return "must be an integer"
        choices = self.metadata.get("choices")
        if choices is not None and value not in choices:
            return f"must be one of {', '.join(map(str, choices))}"
        return None


def _resolve(annotation: Any) -> tuple[Any, bool]:
    """(the single type, whether None is allowed) of ``T``, ``T | None`` or ``Optional[T]``;
    the type is None for a union of several types."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        kind = _resolve(members[0])[0] if len(members) == 1 else None
        return kind, optional
    if origin is not None:  # list[str], dict[str, Any], Literal[...]: the container type
        return (origin if isinstance(origin, type) else None), False
    return (annotation if isinstance(annotation, type) else None), False


def _item(annotation: Any) -> Any:
    """The item type of ``list[T]``, ``tuple[T, ...]`` or either ``| None``; None otherwise."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _item(members[0]) if len(members) == 1 else None
    if origin in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if len(set(args)) == 1 and isinstance(args[0], type):
            return args[0]
    return None


def _hints(cls: type) -> dict[str, Any]:
    """Each field's annotation, evaluated (``from __future__ import annotations`` leaves text);
    an annotation that cannot be evaluated counts as mixed."""
    try:
        return typing.get_type_hints(cls)
    except Exception:  # a forward reference only a type checker can see: resolve field by field
        hints: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            namespace = vars(sys.modules.get(klass.__module__, object()))
            for name, annotation in vars(klass).get("__annotations__", {}).items():
                try:
                    hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation
                except Exception:
                    hints[name] = Any
        return hints


def field_specs(cls: type) -> dict[str, FieldSpec]:
    """The specs of the init fields of dataclass ``cls``, in declaration order."""
    hints = _hints(cls)
    specs = {}
    for item in dataclasses.fields(cls):
        if not item.init:
            continue
        annotation = hints.get(item.name, Any)
        kind, optional = _resolve(annotation)
        if item.default is not MISSING:
            default = item.default
        elif item.default_factory is not MISSING:
            default = item.default_factory()
        else:
            default = MISSING
        specs[item.name] = FieldSpec(
            name=item.name,
            kind=kind,
            optional=optional or default is None,
            default=default,
            help=item.metadata.get("help", ""),
            metadata=dict(item.metadata),
            item=_item(annotation),
        )
    return specs


#: Metadata keys :func:`add_dataclass_arguments` reads itself (see the module docstring).
HELPER_KEYS = ("positional", "aliases")


def add_dataclass_arguments(parser: argparse._ActionsContainer, cls: type) -> None:
    """One flag (or positional argument) per init field of ``cls`` (see the module docstring);
    ``parse_args`` then fills a namespace :func:`from_namespace` turns into ``cls``."""
    for spec in field_specs(cls).values():
        positional = bool(spec.metadata.get("positional"))
        names = ["--" + spec.name.replace("_", "-"), *spec.metadata.get("aliases", ())]
        kwargs: dict[str, Any] = {k: v for k, v in spec.metadata.items() if k not in HELPER_KEYS}
        if not positional:
            kwargs["dest"] = spec.name
        if spec.kind is bool and not positional:
            if spec.default is True:
                names[0] = "--no-" + spec.name.replace("_", "-")
                kwargs.update(action="store_false", default=True)
            else:
                kwargs.update(action="store_true", default=False)
            parser.add_argument(*names, **kwargs)
            continue
        sequence = spec.kind in (list, tuple)
        if sequence:  # --include-path A B, or --include-path A --include-path B
            if positional:
                kwargs.setdefault("nargs", "+" if spec.required else "*")
            else:
                kwargs.setdefault("nargs", "+")
                kwargs.setdefault("action", "extend")
            if spec.item is not None and spec.item is not str:
                kwargs.setdefault("type", spec.item)
        elif spec.kind is not None and spec.kind is not str:
            kwargs["type"] = spec.kind
        if spec.required:
            if not positional:
                kwargs["required"] = True
        else:
            if positional and not sequence:
                kwargs.setdefault("nargs", "?")
            # argparse would extend a non-empty sequence default itself: from_namespace fills it instead
            kwargs["default"] = (
                (None if spec.default or spec.default is None else list(spec.default))
                if sequence
                else spec.default
            )
            if spec.default not in (None, [], ()) and "(default" not in spec.help:
                kwargs["help"] = f"{spec.help} (default: {_shown(spec.default)})".lstrip()
        parser.add_argument(*([spec.name] if positional else names), **kwargs)


def _shown(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def from_namespace(cls: type, namespace: argparse.Namespace) -> Any:
    """The ``cls`` instance a parsed namespace holds (other attributes, e.g. ``func``, are left)."""
    values = {}
    for name, spec in field_specs(cls).items():
        value = getattr(namespace, name, MISSING)
        if value is MISSING or (value is None and spec.kind in (list, tuple)):
            continue  # not a flag here, or a sequence flag not given: the field's own default
        values[name] = value
    return cls(**values)
