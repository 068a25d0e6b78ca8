"""`clinfair prepare --push-to-hub`: the splits, the manifest and the dataset card, in one commit.

Everything up to huggingface_hub's HTTP layer is real; the Hub is the ``FakeHub`` of
tests/test_leaderboard_push.py, which records what each commit sends.
"""

from __future__ import annotations

import hashlib
import json

import yaml
from clinfair.tasks import get_task
from split_hash import parquet_rows, split_sha256
from test_leaderboard_push import TOKEN, hub  # noqa: F401 (the fixture)

from clinfair.cli import main

REPO = "clinfair-test/synthetic-splits"


def prepare(capsys, tmp_path, *extra) -> tuple[int, str]:
    code = main(
        ["prepare", "synthetic", "--out", str(tmp_path / "data"), "-o", "n=80", "--no-progress", *extra]
    )
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    return code, captured.out + captured.err


def test_dry_run_writes_the_splits_and_a_card_with_the_hashes(hub, tmp_path, capsys):  # noqa: F811
    dry = tmp_path / "dry"
    code, output = prepare(capsys, tmp_path, "--push-to-hub", REPO, "--dry-run", str(dry))
    assert code == 0 and "nothing was pushed" in output, output
    assert hub.requests == []  # a dry run contacts nothing
    manifest = json.loads((tmp_path / "data" / "split_manifest.json").read_text())
    files = sorted(
        p.relative_to(dry / "dataset").as_posix() for p in (dry / "dataset").rglob("*") if p.is_file()
    )
    assert files == [
        "README.md",
        "data/test-00000-of-00001.parquet",
        "data/train-00000-of-00001.parquet",
        "data/validation-00000-of-00001.parquet",
        "split_manifest.json",
    ]
    # the published rows hash (recomputed with hashlib from the Parquet files) to the pinned hashes
    for split, entry in manifest["splits"].items():
        rows = parquet_rows(list((dry / "dataset" / "data").glob(f"{split}-*.parquet")))
        assert [row["id"] for row in rows] == entry["ids"]
        assert split_sha256(rows) == entry["sha256"]
    card = (dry / "dataset" / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["configs"][0]["data_files"] == [
        {"split": split, "path": f"data/{split}-*.parquet"} for split in ("train", "validation", "test")
    ]
    spec = get_task("synthetic")
    for split, entry in manifest["splits"].items():
        assert f"| {split} | {entry['rows']} | `{entry['sha256']}` |" in card
    assert f"Source: {spec.source}" in card and f"Licence and access: {spec.access}" in card
    assert "A1 <= 25 < A2 <= 50 < A3 <= 75 < A4 (years)" in card
    assert f'load_dataset("{REPO}", split="test")' in card and '"n": 80' in card
    operations = json.loads((dry / "operations.json").read_text())
    assert (
        operations["create_repo"]["repo_id"] == REPO and operations["create_repo"]["repo_type"] == "dataset"
    )
    (commit,) = operations["commits"]
    for op in commit["operations"]:
        data = (dry / "dataset" / op["path_in_repo"]).read_bytes()
        assert op["size"] == len(data) and op["sha256"] == hashlib.sha256(data).hexdigest()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left

    # the real push sends the same bytes, in one commit to a dataset repository
    code, output = prepare(capsys, tmp_path, "--overwrite", "--push-to-hub", REPO, "--private")
    assert code == 0 and f"to {REPO} in one commit" in output, output
    (pushed,) = hub.commits
    assert pushed["type"] == "datasets" and pushed["repo"] == REPO
    on_disk = {name: (dry / "dataset" / name).read_bytes() for name in files}
    assert pushed["files"] == on_disk
    create = json.loads(next(r for r in hub.requests if r.url.path == "/api/repos/create").content)
    assert create["visibility"] == "private" and create["type"] == "dataset"


def test_push_arguments_are_checked_before_preparing(hub, tmp_path, capsys):  # noqa: F811
    code, output = prepare(capsys, tmp_path, "--push-to-hub", "not a repo id")
    assert code == 2 and "--push-to-hub takes a Hub dataset id ORG/NAME" in output
    code, output = prepare(capsys, tmp_path, "--dry-run", str(tmp_path / "dry"))
    assert code == 2 and "give --push-to-hub REPO_ID too" in output
    (tmp_path / "mine").mkdir()
    code, output = prepare(capsys, tmp_path, "--push-to-hub", REPO, "--dry-run", str(tmp_path / "mine"))
    assert code == 2 and "is not an earlier output of this command" in output
    assert not (tmp_path / "data").exists() and hub.requests == []


def test_refused_push_is_one_line(hub, tmp_path, capsys):  # noqa: F811
    hub.refuse["commit"] = 403
    code, output = prepare(capsys, tmp_path, "--push-to-hub", REPO)
    assert code == 2 and output.strip().splitlines()[-1].startswith("clinfair prepare: error: push to")
    assert "HTTP 403" in output and "write access" in output
    assert (tmp_path / "data" / "split_manifest.json").is_file()  # the prepared data stays


def test_an_existing_prepared_folder_is_published_as_it_is(hub, tmp_path, capsys):  # noqa: F811
    """Prepare once, publish later: no rebuild (the rows and their hashes stay), build inputs that
    would be ignored are refused, and a folder whose rows no longer match its manifest is refused
    before anything is sent."""

    def push(*extra):
        data = str(tmp_path / "data")
        code = main(["prepare", "synthetic", "--out", data, "--no-progress", "--push-to-hub", REPO, *extra])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    code, _ = prepare(capsys, tmp_path)
    assert code == 0
    shard = next((tmp_path / "data" / "test").glob("*.arrow"))
    stamp = shard.stat().st_mtime_ns
    code, output = push()
    assert code == 0 and "as it is" in output and f"to {REPO} in one commit" in output, output
    assert shard.stat().st_mtime_ns == stamp  # not rebuilt
    (pushed,) = hub.commits
    manifest = json.loads((tmp_path / "data" / "split_manifest.json").read_text())
    assert json.loads(pushed["files"]["split_manifest.json"]) == manifest
    # build inputs with an existing folder would be ignored: refused, naming them
    code, output = push("-o", "n=90", "--num-proc", "2")
    assert code == 2 and "drop -o, --num-proc to publish it" in output and len(hub.commits) == 1, output
    # a folder whose rows no longer match its manifest (here: another seed's manifest) is refused
    other = tmp_path / "other"
    assert (
        main(["prepare", "synthetic", "--out", str(other), "-o", "n=80", "-o", "seed=1", "--no-progress"])
        == 0
    )
    (tmp_path / "data" / "split_manifest.json").write_text((other / "split_manifest.json").read_text())
    capsys.readouterr()
    code, output = push()
    assert code == 2 and len(hub.commits) == 1, output
    assert "split_manifest.json pinned" in output.strip().splitlines()[-1], output


def test_dataset_publishing_fails_with_the_neutral_hub_error(hub, tmp_path, capsys, monkeypatch):  # noqa: F811
    """The Hub push is clinfair.core.hub's, shared with the leaderboard: its errors are a HubError,
    not a LeaderboardError, and without a token nothing is sent."""
    import pytest
    from clinfair.leaderboard.runs import LeaderboardError

    from clinfair.core.hub import HubError
    from clinfair.publish import push_splits

    assert prepare(capsys, tmp_path)[0] == 0
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    with pytest.raises(HubError, match="no Hugging Face token") as raised:
        push_splits(tmp_path / "data", REPO, get_task("synthetic"))
    assert not isinstance(raised.value, LeaderboardError) and hub.requests == []
