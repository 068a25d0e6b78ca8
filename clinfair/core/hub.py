"""The Hub: whether a string is a Hub repository id, how a model is named in public, and the one
way clinfair writes to the Hub (:func:`push_commit`), used by dataset publishing (``clinfair
prepare --push-to-hub``) and leaderboard publishing (``clinfair leaderboard push``) alike.

A push is a :class:`Commit`: the repository, the message and every file by its path in the
repository, sent in **one** ``create_commit`` so that the repository moves from its previous state
to the new one or not at all. ``--dry-run`` writes the same commits to a folder instead
(:func:`write_dry_run`). Every failure a user can cause or meet (offline mode, no token, a refusal,
no network) is a :class:`HubError` of one line. huggingface_hub is imported inside the functions
that call it: ``clinfair --help`` stays fast.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clinfair.core.errors import ClinfairError, one_line
from clinfair.core.io import atomic_folder, atomic_write_bytes, atomic_write_json

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


# -- writing to the Hub -------------------------------------------------------------------------

#: What ``--dry-run DIR`` writes beside the files: every commit described (see :func:`write_dry_run`).
OPERATIONS_FILE = "operations.json"
#: The card of a Hub repository.
CARD_FILE = "README.md"


class HubError(ClinfairError):
    """A push to the Hub that cannot happen or failed (offline, no token, refused, unreachable)."""


def front_matter(metadata: Mapping[str, Any]) -> list[str]:
    """The YAML front matter of a Hub card (its ``---`` lines included), as lines."""
    text = yaml.safe_dump(dict(metadata), sort_keys=False, allow_unicode=True, width=100)
    return ["---", text.rstrip(), "---"]


def _size_and_sha256(data: bytes | Path) -> tuple[int, str]:
    """Of bytes, or of a file read in chunks (predictions and dataset shards can be large)."""
    if isinstance(data, bytes):
        return len(data), hashlib.sha256(data).hexdigest()
    digest, size = hashlib.sha256(), 0
    with data.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


@dataclass
class Commit:
    """One commit to make: the repository, how, and every file by its path in the repo.

    A file is bytes (generated: a card, eval.yaml) or the Path of a local file, which is read only
    when uploaded or copied, so large files are never all held in memory.
    """

    repo_id: str
    repo_type: str
    message: str
    description: str = ""
    create_pr: bool = False
    files: dict[str, bytes | Path] = field(default_factory=dict)

    def operations(self) -> list:
        """The ``CommitOperationAdd`` of every file, sorted by path."""
        from huggingface_hub import CommitOperationAdd

        return [
            CommitOperationAdd(path_in_repo=path, path_or_fileobj=data)
            for path, data in sorted(self.files.items())
        ]

    def describe(self) -> dict[str, Any]:
        """The commit as ``operations.json`` lists it: each file's path, size and SHA-256."""
        operations = []
        for path, data in sorted(self.files.items()):
            size, sha256 = _size_and_sha256(data)
            operations.append({"operation": "add", "path_in_repo": path, "size": size, "sha256": sha256})
        return {
            "repo_id": self.repo_id,
            "repo_type": self.repo_type,
            "create_pr": self.create_pr,
            "commit_message": self.message,
            "commit_description": self.description,
            "operations": operations,
        }


def write_dry_run(
    out: str | Path,
    commits: Sequence[tuple[str, Commit]],
    *,
    private: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write, atomically, what a push would send: ``out/<folder>/<path>`` for every file of each
    ``(folder, commit)``, and ``out/operations.json`` describing each commit (the first one's
    repository is the one created: ``create_repo``) plus ``extra``'s keys. Contacts nothing."""
    first = commits[0][1]
    with atomic_folder(out, OPERATIONS_FILE, error=HubError) as tmp:
        for folder, commit in commits:
            for path, data in commit.files.items():
                target = tmp / folder / path
                if isinstance(data, Path):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(data, target)
                else:
                    atomic_write_bytes(target, data)
        atomic_write_json(
            tmp / OPERATIONS_FILE,
            {
                "create_repo": {
                    "repo_id": first.repo_id,
                    "repo_type": first.repo_type,
                    "private": private,
                    "exist_ok": True,
                },
                "commits": [{"folder": folder} | commit.describe() for folder, commit in commits],
                **(extra or {}),
            },
        )
    return Path(out)


def _hub_error(error: Exception, what: str) -> HubError:
    """One line for a failed Hub call; never includes the token (huggingface_hub does not put it in messages)."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(error, OfflineModeIsEnabled):
        return HubError(f"{what}: HF_HUB_OFFLINE is set; unset it to push, or use --dry-run DIR")
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        detail = error.server_message or error.response.reason_phrase or ""
        hint = " (check that your token has write access to this repository)" if status in (401, 403) else ""
        return HubError(f"{what}: the Hub refused it (HTTP {status}{': ' + detail if detail else ''}){hint}")
    return HubError(f"{what}: could not reach the Hub ({one_line(error)})")


def push_commit(commit: Commit, *, create_repo: bool = False, private: bool = False, what: str | None = None):
    """Make ``commit`` on the Hub in one ``create_commit`` (a pull request when ``commit.create_pr``);
    with ``create_repo``, first create its repository if it does not exist (``private`` only matters
    then; if the commit is refused, the new repository stays empty). Returns huggingface_hub's
    ``CommitInfo`` (``commit_url``, ``pr_url``).

    The token is read the standard huggingface_hub way (``HF_TOKEN``, else the cached ``hf auth
    login``) and never printed. Offline mode, a missing token, a refusal and a network failure are a
    :class:`HubError` naming ``what`` (default: ``push to <repo>``); nothing is contacted in the first two.
    """
    import httpx
    from huggingface_hub import HfApi, constants, get_token
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if constants.is_offline_mode():
        raise HubError("HF_HUB_OFFLINE is set; unset it to push, or use --dry-run DIR")
    token = get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (or use --dry-run DIR)")
    api = HfApi(token=token)
    # ValueError: the Hub rejected a card's metadata (huggingface_hub raises it for that)
    hub_errors = (HfHubHTTPError, OfflineModeIsEnabled, httpx.HTTPError, ValueError)
    try:
        if create_repo:
            api.create_repo(commit.repo_id, repo_type=commit.repo_type, private=private, exist_ok=True)
        return api.create_commit(
            commit.repo_id,
            operations=commit.operations(),
            repo_type=commit.repo_type,
            create_pr=commit.create_pr,
            commit_message=commit.message,
            commit_description=commit.description,
        )
    except hub_errors as error:
        raise _hub_error(error, what or f"push to {commit.repo_id}") from None
