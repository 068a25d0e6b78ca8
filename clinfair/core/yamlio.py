"""The one YAML reader for what users write: task configs, recipes and ``key=value`` options.

PyYAML follows YAML 1.1, which wants a dot in a float (``1.0e-6``) and reads ``1e-6`` as a
string; learning rates and other small numbers are usually written that way, and a
string would only fail deep inside the code that uses it. This loader is PyYAML's safe
loader (no arbitrary objects) that also reads ``1e-6`` / ``5E+3`` as floats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml


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
