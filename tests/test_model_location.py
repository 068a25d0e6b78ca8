"""``check-model``, ``eval``, ``probe`` and ``train`` name the real cause of a model that cannot load, in
one line, before torch is imported: a mistyped path, an empty folder, a file, a folder without
config.json, a Hub id offline and not cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from clinfair.benchmark.locate import ModelLocationError, cached_in_hub_cache, locate_model, looks_like_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cases(tmp_path) -> dict[str, tuple[str, str]]:
    """case -> (the --model given, a fragment the one-line error must hold)."""
    models = tmp_path / "models"
    (models / "tiny-gemma3").mkdir(parents=True)
    (models / "tiny-gemma3" / "config.json").write_text("{}")
    (models / "empty").mkdir()
    weights = models / "tiny-gemma3" / "model.safetensors"
    weights.write_bytes(b"")
    (models / "no-config").mkdir()
    (models / "no-config" / "tokenizer.json").write_text("{}")
    (models / "run" / "checkpoint-4").mkdir(parents=True)
    (models / "run" / "checkpoint-4" / "config.json").write_text("{}")
    return {
        "typo": (
            str(models / "tiny-gema3"),
            f"model path {models / 'tiny-gema3'} does not exist; did you mean ",
        ),
        "empty": (str(models / "empty"), f"model folder {models / 'empty'} is empty"),
        "file": (str(weights), f"model path {weights} is a file, not a checkpoint folder; give the folder"),
        "no_config": (
            str(models / "no-config"),
            "has no config.json, so it is not a transformers checkpoint",
        ),
        "checkpoint_inside": (str(models / "run"), "the checkpoint is one level down: "),
        "hub_offline": (
            "someorg/not-cached-model",
            "is not a local folder and not in the Hub cache, and HF_HUB_OFFLINE",
        ),
    }


def test_each_cause_in_one_line_before_torch_is_imported(cases, tmp_path):
    """One fresh interpreter per command runs every case; each must exit 2 with one stderr line naming
    the cause, and leave torch, transformers and TRL unimported."""
    data, out = tmp_path / "data", tmp_path / "out"
    script = textwrap.dedent(
        """
        import contextlib, io, json, sys
        from clinfair.cli import main
        argvs, report = json.loads(sys.argv[1]), {}
        for case, argv in argvs.items():
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(argv)
            heavy = sorted(m for m in ("torch", "transformers", "trl") if m in sys.modules)
            report[case] = [code, err.getvalue(), heavy]
        print(json.dumps(report))
        """
    )
    commands = {
        "check-model": lambda model: ["check-model", model],
        "eval": lambda model: ["eval", "--model", model, "--data", str(data), "--out", str(out)],
        "probe": lambda model: ["probe", "--model", model, "--data", str(data), "--out", str(out)],
        "train": lambda model: [
            "train",
            "--method",
            "grpo",
            "--recipe",
            "tiny-cpu",
            f"model={model}",
            f"output_dir={out}",
        ],
    }
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub-cache")}
    for command, argv in commands.items():
        argvs = {case: argv(model) for case, (model, _) in cases.items()}
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps(argvs)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout.strip().splitlines()[-1])
        for case, (code, err, heavy) in report.items():
            lines = [line for line in err.splitlines() if line.strip()]
            assert code == 2 and len(lines) == 1, (command, case, err)
            assert lines[0].startswith(f"clinfair {command}: error: "), (command, case, err)
            assert cases[case][1] in lines[0], (command, case, lines[0])
            assert heavy == [], (command, case, heavy)
        assert not out.exists()  # nothing written


def test_what_looks_like_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    assert (
        looks_like_path("./x")
        and looks_like_path("/x")
        and looks_like_path("~/x")
        and looks_like_path("a/b/c")
    )
    assert looks_like_path("models/tiny")  # under an existing local folder: a typo, not an org
    assert not looks_like_path("google/medgemma-4b-it") and not looks_like_path("gpt2")


def test_a_checkpoint_folder_and_a_cached_hub_id_pass(tmp_path, monkeypatch):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    locate_model(folder)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelLocationError, match="not in the Hub cache"):
        locate_model("org/model")
    snapshot = tmp_path / "cache" / "models--org--model" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "cache" / "models--org--model" / "refs").mkdir()
    (tmp_path / "cache" / "models--org--model" / "refs" / "main").write_text("a" * 40)
    locate_model("org/model")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    locate_model("org/other")  # online: whether the Hub has it is the loader's to find out
    with pytest.raises(ModelLocationError, match="neither a local folder nor a valid Hub id"):
        locate_model("org/bad name!")


@pytest.mark.parametrize("revision", [None, "main", "v1", "b" * 40, "a" * 40])
def test_hub_cache_lookup_agrees_with_huggingface_hub(tmp_path, monkeypatch, revision):
    """huggingface_hub's own cache lookup is the oracle for the layout read by hand."""
    from huggingface_hub import try_to_load_from_cache

    cache = tmp_path / "cache"
    repo = cache / "models--org--model"
    (repo / "snapshots" / ("a" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("a" * 40) / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    expected = isinstance(
        try_to_load_from_cache("org/model", "config.json", cache_dir=cache, revision=revision), str
    )
    assert cached_in_hub_cache("org/model", revision) is expected
