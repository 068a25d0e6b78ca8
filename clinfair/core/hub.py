"""The Hub's names: whether a string is a Hub repository id, and how a model is named in public."""

from __future__ import annotations

import re
from pathlib import Path

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_HUB_CACHE_FOLDER = re.compile(r"^models--([\w.-]+?)--([\w.-]+)$")


def is_hub_id(model: str) -> bool:
    """Whether ``model`` names a Hub repository (ORG/NAME) rather than a local folder."""
    return bool(HUB_ID.fullmatch(model or "")) and not Path(model).exists()


def public_model_name(model: str) -> str:
    """How a model is named in anything published: its Hub id when known, else its folder's name.

    A Hub id stays as it is; a folder of the Hub cache (``.../models--ORG--NAME/snapshots/SHA``)
    gives ``ORG/NAME``; any other local path gives its last component, so no local path
    (``/home/me/runs/ckpt-100``) leaves the machine.
    """
    model = str(model)
    if is_hub_id(model):
        return model
    path = Path(model).expanduser()
    for part in path.parts:
        match = _HUB_CACHE_FOLDER.match(part)
        if match:
            return f"{match.group(1)}/{match.group(2)}"
    if not path.is_absolute() and not path.exists() and "/" not in model and "\\" not in model:
        return model  # a bare name, e.g. "tiny"
    return path.resolve().name or model
