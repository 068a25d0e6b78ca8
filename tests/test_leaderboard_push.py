"""`clinfair leaderboard push`: everything up to huggingface_hub's HTTP layer is real.

huggingface_hub sends every request through one ``httpx.Client`` made by a factory that
``huggingface_hub.set_client_factory`` replaces (its supported hook). The factory here gives
a client whose transport is an ``httpx.MockTransport`` playing the few Hub endpoints a push
uses (create repo, validate the card's YAML, preupload, commit), recording each request.
The tests then read the files out of the commit request itself (NDJSON, base64 content).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import httpx
import pytest
import yaml
from huggingface_hub import constants, parse_eval_result_entries, set_client_factory
from huggingface_hub.utils._http import default_client_factory, hf_request_event_hook

from clinfair.cli import main

TOKEN = "hf_leaderboardTestTokenNeverPrinted"
REPO = "clinfair-test/fairness-board"


class FakeHub:
    """The Hub endpoints of a push; ``refuse`` maps an endpoint name to an HTTP status to answer."""

    def __init__(self, refuse: dict[str, int] | None = None):
        self.refuse = refuse or {}
        self.requests: list[httpx.Request] = []
        self.commits: list[dict] = []  # accepted commits: repo, params, header, files

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/agent-harnesses":  # huggingface_hub's user-agent helper; not part of the push
            return httpx.Response(404)
        self.requests.append(request)
        routes = (
            ("create", r"/api/repos/create"),
            ("validate", r"/api/validate-yaml"),
            ("preupload", r"/api/(?P<type>models|datasets)/(?P<repo>[^/]+/[^/]+)/preupload/main"),
            ("commit", r"/api/(?P<type>models|datasets)/(?P<repo>[^/]+/[^/]+)/commit/main"),
        )
        for name, pattern in routes:
            match = re.fullmatch(pattern, path)
            if match and request.method == "POST":
                if name in self.refuse:
                    status = self.refuse[name]
                    return httpx.Response(
                        status,
                        json={"error": "You don't have the rights to write here"},
                        headers={"X-Error-Message": "You don't have the rights to write here"},
                    )
                return getattr(self, name)(request, match)
        return httpx.Response(404, json={"error": f"FakeHub: unexpected {request.method} {path}"})

    def create(self, request, match):
        body = json.loads(request.content)
        return httpx.Response(
            200, json={"url": f"https://huggingface.co/datasets/{body['organization']}/{body['name']}"}
        )

    def validate(self, request, match):
        return httpx.Response(200, json={"errors": [], "warnings": []})

    def preupload(self, request, match):
        files = json.loads(request.content)["files"]
        return httpx.Response(
            200,
            json={
                "files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
            },
        )

    def commit(self, request, match):
        lines = [json.loads(line) for line in request.content.decode().splitlines()]
        header = next(item["value"] for item in lines if item["key"] == "header")
        files = {
            item["value"]["path"]: base64.b64decode(item["value"]["content"])
            for item in lines
            if item["key"] == "file"
        }
        self.commits.append(
            {
                "type": match["type"],
                "repo": match["repo"],
                "params": dict(request.url.params),
                "header": header,
                "files": files,
            }
        )
        pr = (
            f"https://huggingface.co/{match['repo']}/discussions/1"
            if request.url.params.get("create_pr")
            else None
        )
        return httpx.Response(
            200,
            json={
                "commitUrl": f"https://huggingface.co/{match['repo']}/commit/{'a' * 40}",
                "commitOid": "a" * 40,
                "pullRequestUrl": pr,
            },
        )


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """Route huggingface_hub's HTTP through a FakeHub; a token in HF_TOKEN; offline mode off."""
    fake = FakeHub()

    def factory() -> httpx.Client:
        # the same client huggingface_hub builds by default, with the transport swapped
        return httpx.Client(
            transport=httpx.MockTransport(lambda r: fake.handle(r)),
            event_hooks={"request": [hf_request_event_hook]},
            follow_redirects=True,
        )

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # tests/conftest.py sets it for downloads
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-cached-token"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    set_client_factory(factory)
    yield fake
    set_client_factory(default_client_factory)


@pytest.fixture(scope="module")
def board(eval_results, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("push") / "board"
    assert main(["leaderboard", "build", *eval_results, "--out", str(out), "--n-bootstrap", "10"]) == 0
    return out


def push(capsys, *args) -> tuple[int, str]:
    code = main(["leaderboard", "push", *map(str, args)])
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    return code, captured.out + captured.err


def test_push_is_one_commit_of_the_build_card_and_eval_yaml(hub, board, capsys):
    code, output = push(capsys, board, "--repo", REPO, "--private")
    assert code == 0, output
    assert f"to {REPO} in one commit" in output
    create = json.loads(next(r for r in hub.requests if r.url.path == "/api/repos/create").content)
    assert create == {
        "name": "fairness-board",
        "organization": "clinfair-test",
        "visibility": "private",
        "type": "dataset",
    }
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in hub.requests)
    (commit,) = hub.commits
    assert commit["type"] == "datasets" and commit["repo"] == REPO and "create_pr" not in commit["params"]
    files = commit["files"]
    built = {p.relative_to(board).as_posix(): p.read_bytes() for p in board.rglob("*") if p.is_file()}
    assert set(files) == set(built) | {"README.md", "eval.yaml"}
    assert all(files[path] == data for path, data in built.items())  # byte for byte
    for run in ("tiny-grpo", "tiny-fairgrpo"):
        assert f"runs/{run}/results.json" in files and f"runs/{run}/predictions.parquet" in files
    card = files["README.md"].decode()
    front = yaml.safe_load(card.split("---")[1])
    configs = {c["config_name"]: c["data_files"] for c in front["configs"]}
    assert configs == {
        "leaderboard": "leaderboard.parquet",
        "scores": "scores.parquet",
        "groups": "groups.parquet",
        "predictions": "predictions.parquet",
    }
    assert "| tiny-grpo | grpo |" in card and f'load_dataset("{REPO}", "leaderboard"' in card
    evaluation = yaml.safe_load(files["eval.yaml"])
    assert [task["id"] for task in evaluation["tasks"]] == ["overall", "synthetic"]
    assert {m["name"] for m in evaluation["metrics"]} >= {"f1", "pp", "eod", "f1_es"}
    validated = json.loads(next(r for r in hub.requests if r.url.path == "/api/validate-yaml").content)
    assert validated == {"content": card, "repoType": "dataset"}


def test_dry_run_writes_exactly_what_would_be_pushed(hub, board, tmp_path, capsys):
    dry = tmp_path / "dry"
    code, output = push(
        capsys, board, "--repo", REPO, "--dry-run", dry, "--model-pr", "tiny-grpo=clinfair-test/tiny"
    )
    assert code == 0 and "nothing was pushed" in output
    assert hub.requests == []  # a dry run contacts nothing
    operations = json.loads((dry / "operations.json").read_text())
    assert operations["create_repo"] == {
        "repo_id": REPO,
        "repo_type": "dataset",
        "private": False,
        "exist_ok": True,
    }
    dataset, model = operations["commits"]
    for commit in (dataset, model):
        for op in commit["operations"]:
            data = (dry / commit["folder"] / op["path_in_repo"]).read_bytes()
            assert op["size"] == len(data) and op["sha256"] == hashlib.sha256(data).hexdigest()
    assert (
        model["repo_id"] == "clinfair-test/tiny"
        and model["repo_type"] == "model"
        and model["create_pr"] is True
    )

    # the real push of the same build sends the same bytes
    assert push(capsys, board, "--repo", REPO, "--model-pr", "tiny-grpo=clinfair-test/tiny")[0] == 0
    pushed_dataset, pushed_model = hub.commits
    on_disk = {
        p.relative_to(dry / "dataset").as_posix(): p.read_bytes()
        for p in (dry / "dataset").rglob("*")
        if p.is_file()
    }
    assert pushed_dataset["files"] == on_disk
    assert pushed_dataset["header"]["summary"] == dataset["commit_message"]
    assert pushed_model["files"] == {
        op["path_in_repo"]: (dry / "model-1" / op["path_in_repo"]).read_bytes() for op in model["operations"]
    }


def test_model_pr_adds_eval_results_on_the_model_repo(hub, board, capsys):
    code, output = push(capsys, board, "--repo", REPO, "--model-pr", "tiny-fairgrpo=clinfair-test/tiny-fair")
    assert code == 0, output
    dataset, model = hub.commits
    assert (
        dataset["type"] == "datasets"
        and model["type"] == "models"
        and model["repo"] == "clinfair-test/tiny-fair"
    )
    assert model["params"] == {"create_pr": "1"}
    assert "opened https://huggingface.co/clinfair-test/tiny-fair/discussions/1" in output
    ((path, content),) = model["files"].items()
    assert path == ".eval_results/clinfair_tiny-fairgrpo.yaml"
    entries = parse_eval_result_entries(yaml.safe_load(content))
    assert [(e.dataset_id, e.task_id) for e in entries] == [(REPO, "overall"), (REPO, "synthetic")]
    # the tiny model answers nothing valid: the entry says its values are not a ranking
    assert all("not ranked: 100% invalid answers" in e.notes for e in entries)
    card = yaml.safe_load(dataset["files"]["eval.yaml"])
    assert {e.task_id for e in entries} <= {task["id"] for task in card["tasks"]}


def test_model_pr_without_a_hub_model_says_how(hub, board, capsys):
    code, output = push(capsys, board, "--repo", REPO, "--model-pr", "tiny-grpo")
    assert code == 2 and "not a Hub repository; use --model-pr tiny-grpo=ORG/MODEL" in output
    assert hub.requests == []


@pytest.mark.parametrize("endpoint", ["preupload", "commit"])
def test_refused_push_is_a_clear_message_and_changes_nothing(hub, board, capsys, endpoint):
    hub.refuse[endpoint] = 403
    code, output = push(capsys, board, "--repo", REPO)
    assert code == 2
    assert output.count("\n") == 1
    assert f"push to {REPO}: the Hub refused it (HTTP 403" in output and "write access" in output
    assert hub.commits == []  # no commit was accepted: the repository is as it was


def test_no_token_is_a_clear_message(hub, board, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    code, output = push(capsys, board, "--repo", REPO)
    assert code == 2 and "no Hugging Face token: set HF_TOKEN or run `hf auth login`" in output
    assert hub.requests == []


def test_offline_mode_is_a_clear_message(hub, board, capsys, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    code, output = push(capsys, board, "--repo", REPO)
    assert code == 2 and "HF_HUB_OFFLINE is set" in output and hub.requests == []


def test_no_predictions_leaves_them_out(hub, board, capsys):
    assert push(capsys, board, "--repo", REPO, "--no-predictions")[0] == 0
    (commit,) = hub.commits
    assert not [path for path in commit["files"] if path.endswith("predictions.parquet")]
    assert "runs/tiny-grpo/results.json" in commit["files"]
    assert "config_name: predictions" not in commit["files"]["README.md"].decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repo", "not a repo"], "--repo must look like ORG/NAME"),
        (["--repo", REPO, "--model-pr", "nobody"], "names run 'nobody', which is not in the build"),
    ],
)
def test_bad_push_arguments(hub, board, capsys, args, message):
    code, output = push(capsys, board, *args)
    assert code == 2 and message in output and hub.requests == []


def test_push_needs_a_build_folder(hub, tmp_path, capsys):
    code, output = push(capsys, tmp_path, "--repo", REPO)
    assert code == 2 and "is not a leaderboard build (no manifest.json)" in output
