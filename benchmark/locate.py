"""Where a ``--model`` is, checked before anything heavy is imported.

``check-model``, ``eval``, ``probe`` and ``train`` call :func:`locate_model` first, so a typo in a
path, an empty folder, a file given for a folder, a folder that is not a checkpoint, or a Hub id
that cannot be reached offline is one line naming the real cause, in well under a second, instead
of whatever transformers says after importing torch (a Hub connection error for a local typo, "no
``model_type`` in its config.json" for a folder without one). It imports only the standard library:
the Hub cache is read by its documented layout (``huggingface_hub`` alone takes seconds to import
on a busy machine).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from clinfair.core.errors import ClinfairError

#: What a checkpoint folder must hold for transformers to load it.
CONFIG_FILE = "config.json"


class ModelLocationError(ClinfairError):
    """A ``--model`` that names no loadable checkpoint, with the reason."""


def looks_like_path(model: str) -> bool:
    """Whether ``model`` can only be meant as a local path: it starts like one (``/``, ``.``, ``~``, a
    drive), has more than one ``/``, ends with one, or its first component is a local folder (so
    ``models/tiny-gemma`` is a typo under ``models/``, not the Hub id of an org called "models")."""
    text = model.replace("\\", "/")
    if text.startswith(("/", ".", "~")) or text.endswith("/") or (len(text) > 1 and text[1] == ":"):
        return True
    if text.count("/") > 1:
        return True
    return "/" in text and Path(text.split("/", 1)[0]).is_dir()


def _listing(folder: Path, limit: int = 5) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _missing_path(path: Path) -> str:
    """'does not exist', with the closest name in the nearest existing parent folder."""
    parent = path.parent
    while not parent.is_dir() and parent != parent.parent:
        parent = parent.parent
    message = f"model path {path} does not exist"
    if parent.is_dir() and parent != path.parent:
        return f"{message} (nor does {path.parent}; the nearest existing folder is {parent})"
    if parent.is_dir():
        siblings = [p.name for p in parent.iterdir() if p.is_dir()]
        close = difflib.get_close_matches(path.name, siblings, n=1)
        if close:
            return f"{message}; did you mean {parent / close[0]}?"
    return message


def _not_a_checkpoint(folder: Path) -> str:
    """A folder without config.json: say what it holds, and point at a checkpoint inside if there is one."""
    inside = sorted(p.parent for p in folder.glob(f"*/{CONFIG_FILE}"))
    if inside:
        return (
            f"model folder {folder} has no {CONFIG_FILE}; the checkpoint is one level down: "
            + ", ".join(str(p) for p in inside[:3])
            + (" …" if len(inside) > 3 else "")
        )
    return (
        f"model folder {folder} has no {CONFIG_FILE}, so it is not a transformers checkpoint "
        f"(it holds {_listing(folder)})"
    )


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


#: A Hub repository id, as ``huggingface_hub.utils.validate_repo_id`` accepts it: NAME or ORG/NAME.
_REPO_ID = re.compile(r"(?:[\w.-]+/)?[\w.-]{1,96}")


def hub_cache_folder() -> Path:
    """The Hub cache (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``)."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def cached_in_hub_cache(model: str, revision: str | None = None) -> bool:
    """Whether the Hub cache holds ``config.json`` of ``model`` (at ``revision``: a branch, tag or
    commit; by default ``main``, or any snapshot when no ref was recorded)."""
    repo = hub_cache_folder() / ("models--" + model.replace("/", "--"))
    ref = repo / "refs" / (revision or "main")
    if ref.is_file():
        return (repo / "snapshots" / ref.read_text().strip() / CONFIG_FILE).is_file()
    if revision:  # a commit hash names its snapshot folder directly
        return (repo / "snapshots" / revision / CONFIG_FILE).is_file()
    return any((repo / "snapshots").glob(f"*/{CONFIG_FILE}"))


def _check_hub_id(model: str, revision: str | None) -> None:
    if not _REPO_ID.fullmatch(model) or "--" in model or ".." in model or model.endswith((".", "-")):
        raise ModelLocationError(f"model {model!r} is neither a local folder nor a valid Hub id (ORG/NAME)")
    if _offline() and not cached_in_hub_cache(model, revision):
        raise ModelLocationError(
            f"model {model} is not a local folder and not in the Hub cache, and HF_HUB_OFFLINE is set: "
            f"download it first (huggingface-cli download {model}) or give a local folder"
        )


def locate_model(model: str | os.PathLike, *, revision: str | None = None) -> None:
    """Raise :class:`ModelLocationError` with the cause when ``model`` cannot be a loadable checkpoint.

    A local folder needs a ``config.json``; a string that is not a local path is taken as a Hub id,
    which offline (``HF_HUB_OFFLINE=1``) must be in the Hub cache. Whether the checkpoint then loads
    (architecture, processor) is for the loaders to say."""
    text = str(model)
    if not text.strip():
        raise ModelLocationError("--model is empty")
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            hint = (
                f"; give the folder that holds it ({path.parent})"
                if path.suffix in {".safetensors", ".bin", ".json", ".pt", ".gguf"}
                else ""
            )
            raise ModelLocationError(f"model path {path} is a file, not a checkpoint folder{hint}")
        if not any(path.iterdir()):
            raise ModelLocationError(f"model folder {path} is empty")
        if not (path / CONFIG_FILE).is_file():
            raise ModelLocationError(_not_a_checkpoint(path))
        return
    if looks_like_path(text):
        raise ModelLocationError(_missing_path(path))
    _check_hub_id(text, revision)
