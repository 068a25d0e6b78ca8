"""`clinfair study`: config checks, and a real 2-method x 2-seed study of a few steps."""

from __future__ import annotations

import json
import math
import statistics

import pytest
import yaml

from clinfair.cli import main


def _config(tmp_path, **changes) -> str:
    config = {
        "task": "synthetic",
        "task_options": {"n": 80, "group_cues": {"F|A4": "size", "M|A4": "size"}},
        "warm_start_steps": 2,
        "recipe": "demo",
        "overrides": {
            "max_steps": 2,
            "eval_limit": 4,
            "fairness_eval_steps": 100,
            "per_device_train_batch_size": 8,
            "num_generations": 4,
        },
        "methods": ["grpo", "fairgrpo"],
        "seeds": 2,
        "minority": {"age_group": "A4"},
        "eval_limit": 12,
        "n_bootstrap": 10,
        **changes,
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"method": ["grpo"]}, "unknown key(s) 'method' (did you mean 'methods'?)"),
        ({"methods": ["grpo", "magic"]}, "['magic'] unknown"),
        ({"baseline": "dro"}, "baseline 'dro' is not one of"),
        ({"task_options": [1]}, "task_options must be"),
        ({"eval_batch_size": 0}, "eval_batch_size must be a whole number >= 1, got 0"),
        ({"max_new_tokens": 0}, "max_new_tokens must be a whole number >= 1, got 0"),
        ({"eval_limit": 0}, "eval_limit must be null or a whole number >= 1, got 0"),
        ({"eval_limit": -5}, "eval_limit must be null or a whole number >= 1, got -5"),
        ({"overrides": {"num_generations": 1}}, "num_generations must be an integer >= 2"),
    ],
)
def test_bad_config_is_one_line_naming_the_problem(tmp_path, capsys, changes, message):
    """Refused before anything is written or trained (a bad recipe override used to surface at
    the first run, after the data, the warm start and the evaluations)."""
    assert main(["study", _config(tmp_path, **changes), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_study_runs_reports_and_resumes(tmp_path, capsys):
    out = tmp_path / "out"
    config = _config(tmp_path)
    assert main(["study", config, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "## Paired differences to grpo" in printed

    # the per-method interval, recomputed by hand from the runs' own results files
    report = json.loads((out / "report.json").read_text())
    accuracy = [
        json.loads((out / "runs" / f"fairgrpo-seed{s}" / "eval" / "results.json").read_text())["metrics"][
            "paper"
        ]["overall"]["accuracy"]
        for s in (0, 1)
    ]
    entry = report["methods"]["fairgrpo"]["accuracy"]
    assert entry["mean"] == pytest.approx(statistics.fmean(accuracy))
    assert entry["half"] == pytest.approx(12.7062 * statistics.stdev(accuracy) / math.sqrt(2), abs=1e-4)
    diff = report["differences"]["fairgrpo"]
    assert diff["seeds"] == [0, 1] and "minority_gap" in diff["by_metric"]
    assert "accuracy" in diff["bootstrap"]
    assert (out / "report.md").read_text().startswith("## Per method")
    for run in ("grpo-seed0", "grpo-seed1", "fairgrpo-seed0", "fairgrpo-seed1"):
        assert (out / "runs" / run / "train" / "fairness.jsonl").is_file()

    # resumable: a run whose marker is gone (killed) is redone; finished runs are not touched
    kept = (out / "runs" / "grpo-seed0" / "run.json").stat().st_mtime_ns
    (out / "runs" / "fairgrpo-seed1" / "run.json").unlink()
    (out / "runs" / "fairgrpo-seed1" / "train" / "model.safetensors").unlink()
    assert main(["study", config, "--out", str(out)]) == 0
    assert (out / "runs" / "fairgrpo-seed1" / "run.json").is_file()
    assert (out / "runs" / "fairgrpo-seed1" / "train" / "model.safetensors").is_file()
    assert (out / "runs" / "grpo-seed0" / "run.json").stat().st_mtime_ns == kept

    # the same folder with other data is refused
    other = _config(tmp_path, task_options={"n": 90})
    assert main(["study", other, "--out", str(out)]) == 2
