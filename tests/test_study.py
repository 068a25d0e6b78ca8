"""`clinfair study`: config checks, flags, --plan, the report's seed-level statistics on
hand-made runs, and a real 2-method x 2-seed study of a few steps."""

from __future__ import annotations

import json
import math
import statistics

import pandas as pd
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
        "primary": {"metric": "accuracy", "attribute": "age_group", "gap": True, "direction": "lower"},
        "target_effect": 0.05,
        "minority": {"age_group": "A4"},
        "eval_limit": 12,
        "n_bootstrap": 10,
        **changes,
    }
    config = {key: value for key, value in config.items() if value is not None}  # None: the key is left out
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"method": ["grpo"]}, "unknown key(s) 'method' (did you mean 'methods'?)"),
        ({"primary": None}, "no primary endpoint; add primary: {metric: accuracy, attribute: age_group"),
        (
            {"primary": {"metric": "accuracy", "attribute": "age_group"}},
            "give either group: <name> or gap: true",
        ),
        ({"primary": {"metric": "f1"}}, "primary: metric 'f1' unknown"),
        ({"primary": {"metrc": "accuracy"}}, "primary: unknown key(s) 'metrc' (did you mean 'metric'?)"),
        ({"target_effect": 0}, "target_effect must be a positive difference (e.g. 0.05 for 5 points), got 0"),
        ({"target_effect": -0.1}, "target_effect must be a positive difference"),
        ({"target_effect": None}, "no target_effect; add target_effect: 0.05"),
        ({"comparisons": ["magic"]}, "comparisons ['magic'] unknown"),
        ({"methods": ["grpo", "magic"]}, "['magic'] unknown"),
        ({"baseline": "dro"}, "baseline 'dro' is not one of"),
        ({"task_options": [1]}, "task_options must be"),
        ({"eval_batch_size": 0}, "eval_batch_size must be a whole number >= 1, got 0"),
        ({"max_new_tokens": 0}, "max_new_tokens must be a whole number >= 1, got 0"),
        ({"eval_limit": 0}, "eval_limit must be null or a whole number >= 1, got 0"),
        ({"eval_limit": -5}, "eval_limit must be null or a whole number >= 1, got -5"),
        ({"workers": -1}, "workers must be a whole number >= 0 (0: one per CPU core), got -1"),
        ({"workers": True}, "workers must be a whole number >= 0 (0: one per CPU core), got True"),
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


def test_flags_override_the_config_and_plan_prints_the_seeds_needed(tmp_path, capsys):
    config = _config(tmp_path)
    flags = ["--seeds", "3", "--methods", "grpo,fairgrpo,dr_grpo", "--steps", "7", "--rows", "90"]
    assert main(["study", config, *flags, "--warm-start-steps", "4", "--plan", "--sd", "0.1"]) == 0
    printed = capsys.readouterr().out
    # one comparison (fairgrpo: the config's comparisons default to every method but the baseline,
    # dr_grpo joined from the command line), so the level is 5 % / 2
    assert "each of fairgrpo, dr_grpo vs grpo" in printed and "α = 0.025" in printed
    # hand check with the G*Power-style figures: sd 0.1, target 0.05 -> d = 0.5 at α = 0.025
    from clinfair.benchmark.seedstats import seeds_needed

    needed = seeds_needed(0.05, 0.1, alpha=0.025)
    assert "With the configured 3 seeds" in printed
    assert f"at 80 % power: {needed} ({needed * 3} runs of 3 methods)" in printed
    assert "Time: give --seconds-per-run" in printed

    from clinfair.study.config import CommandOverrides, apply_overrides, load_config

    changed = apply_overrides(load_config(config), CommandOverrides(7, 90, 4, 3, ["grpo"]))
    assert (changed.overrides["max_steps"], changed.task_options["n"], changed.warm_start_steps) == (7, 90, 4)
    assert (changed.seed_list, changed.methods) == ([0, 1, 2], ["grpo"])


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--plan"], "--plan needs --pilot DIR (a finished study folder) or --sd X"),
        (["--plan", "--sd", "0"], "--sd must be a positive number"),
        (["--plan", "--pilot", "nowhere"], "--pilot nowhere: no report.json"),
        (["--steps", "0"], "--steps must be at least 1, got 0"),
        (["--sd", "0.1"], "--sd only go with --plan"),
        (["--seeds", "0"], "--seeds must be at least 1, got 0"),
        (["--workers", "-1"], "--workers must be at least 0, got -1"),
    ],
)
def test_bad_flags_are_one_line(tmp_path, capsys, flags, message):
    assert main(["study", _config(tmp_path), "--out", str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_a_config_with_a_target_effect_of_zero_cannot_plan(tmp_path, capsys):
    assert main(["study", _config(tmp_path, target_effect=0.0), "--plan", "--sd", "0.1"]) == 2
    assert "target_effect must be a positive difference" in capsys.readouterr().err


def test_every_shipped_study_config_declares_its_primary_endpoint():
    from pathlib import Path

    from clinfair.study.config import load_config

    configs = sorted(Path("configs/studies").glob("*.yaml"))
    assert configs
    for path in configs:
        config = load_config(path)
        assert config.endpoint.name and config.target_effect > 0 and config.compared, path


# ---------------------------------------------------------------------------------------------
# The report on hand-made runs: every number recomputed here from the rows
# ---------------------------------------------------------------------------------------------

ROWS = 40


def _fake_run(folder, correct, age, invalid=0):
    import pandas as pd

    (folder / "eval").mkdir(parents=True)
    n = len(correct)
    pd.DataFrame(
        {
            "dataset": ["synthetic"] * n,
            "id": [f"r{i:03d}" for i in range(n)],
            "correct": correct,
            "valid": [i >= invalid for i in range(n)],
            "age_group": age,
        }
    ).to_parquet(folder / "eval" / "predictions.parquet")
    accuracy = float(sum(correct) / n)
    results = {
        "schema_version": 1,
        "run": {"name": folder.name, "method": folder.name.split("-seed")[0]},
        "tasks": {
            "synthetic": {
                "accuracy_exact": accuracy,
                "invalid_answers": invalid,
                "rows": n,
                "label_space": ["benign", "malignant"],
            }
        },
        "metrics": {"paper": {"overall": {"accuracy": accuracy, "f1": accuracy / 2}}},
    }
    (folder / "eval" / "results.json").write_text(json.dumps(results))
    (folder / "run.json").write_text(json.dumps({"train_s": 10.0, "eval_s": 2.0}))


def _age_gap(correct, age):
    means = [sum(c for c, a in zip(correct, age) if a == g) / age.count(g) for g in sorted(set(age))]
    return max(means) - min(means)


def test_report_verdict_is_the_primary_endpoint_with_seed_level_tests(tmp_path):
    from clinfair.benchmark.seedstats import holm, paired_t_power
    from scipy import stats

    from clinfair.study.config import load_config
    from clinfair.study.report import render, summarise

    config = load_config(_config(tmp_path, seeds=4, methods=["grpo", "fairgrpo", "dr_grpo"]))
    rng = __import__("random").Random(0)
    age = ["A1", "A4"] * (ROWS // 2)
    gaps = {}
    for method, skill in (("grpo", 0.4), ("fairgrpo", 0.7), ("dr_grpo", 0.45)):
        for seed in range(4):
            correct = [a == "A1" or rng.random() < skill for a in age]
            _fake_run(tmp_path / "runs" / f"{method}-seed{seed}", correct, age, invalid=seed)
            gaps.setdefault(method, []).append(_age_gap(correct, age))
    summary = summarise(config, tmp_path)

    fair = summary["differences"]["fairgrpo"]["primary"]
    assert [fair["per_seed"][str(s)]["diff"] for s in range(4)] == pytest.approx(
        [a - b for a, b in zip(gaps["fairgrpo"], gaps["grpo"])]
    )
    p_fair = stats.ttest_rel(gaps["fairgrpo"], gaps["grpo"]).pvalue
    p_dr = stats.ttest_rel(gaps["dr_grpo"], gaps["grpo"]).pvalue
    assert fair["p"] == pytest.approx(p_fair)
    # Holm over the two primary tests (fairgrpo, dr_grpo vs grpo)
    assert fair["p_holm"] == pytest.approx(holm([p_fair, p_dr])[0])
    # secondary: per comparison exact acc, Acc, F1, the minority's accuracy and gap (the fake runs have no
    # other paper key; the invalid rates are equal seed by seed, so no test): 2 x 5
    assert summary["family_sizes"] == {"primary": 2, "secondary": 10}
    sd = float(__import__("numpy").std(__import__("numpy").subtract(gaps["fairgrpo"], gaps["grpo"]), ddof=1))
    assert fair["power"]["power"] == pytest.approx(paired_t_power(0.05, sd, 4, alpha=0.025))
    # the invalid rate: seed s's runs have s invalid rows of 40
    assert summary["methods"]["grpo"]["invalid"]["mean"] == pytest.approx((0 + 1 + 2 + 3) / 4 / ROWS)

    text = render(summary)
    first = text.splitlines()[0]
    assert first.startswith(
        "**Verdict** on the primary endpoint, age_group exact accuracy gap (lower is better)"
    )
    powers = [summary["differences"][m]["primary"]["power"]["power"] for m in ("fairgrpo", "dr_grpo")]
    assert ("UNDERPOWERED" in first) == (min(powers) < 0.8)
    assert "Unit of inference: the training run (seed)" in text
    assert f"Holm over the whole secondary family: {summary['family_sizes']['secondary']} tests." in text
    header = next(line for line in text.splitlines() if line.startswith("| method | seeds |"))
    assert header.split("|")[3:5] == [" Exact acc ", " Invalid "]
    assert "row-level 95 % CI (measurement)" in text and "all seeds pooled" not in text


def test_plan_from_a_pilot_reads_its_sd_and_time(tmp_path, capsys):
    from clinfair.benchmark.seedstats import minimum_detectable_difference

    pilot = tmp_path / "pilot"
    pilot.mkdir()
    report = {
        "config": {"baseline": "grpo"},
        "primary": {"name": "age_group exact accuracy gap"},
        "differences": {"fairgrpo": {"primary": {"sd": 0.08}}},
        "seconds_per_run": {"mean": 30.0},
    }
    (pilot / "report.json").write_text(json.dumps(report))
    assert main(["study", _config(tmp_path), "--plan", "--pilot", str(pilot)]) == 0
    printed = capsys.readouterr().out
    assert "8.00 points (from pilot" in printed
    assert f"{minimum_detectable_difference(0.08, 2) * 100:.2f} points" in printed
    assert "Time at 30 s per run" in printed


@pytest.mark.slow
def test_study_runs_reports_and_resumes(tmp_path, capsys):
    out = tmp_path / "out"
    config = _config(tmp_path, workers=2)  # two runs at a time, each in its own process
    assert main(["study", config, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "## Secondary: paired differences to grpo" in printed

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
    assert diff["primary"]["seeds"] == [0, 1]
    # 2 seeds: at best p = 0.5 for the sign-flip test, and the report says its power
    assert (out / "report.md").read_text().startswith("**Verdict** on the primary endpoint")
    for run in ("grpo-seed0", "grpo-seed1", "fairgrpo-seed0", "fairgrpo-seed1"):
        assert (out / "models" / run / "fairness.jsonl").is_file()
    # the leaderboard beside the report, its runs named after the run, not "train"
    board = (out / "leaderboard" / "leaderboard.md").read_text()
    assert "fairgrpo-seed1" in board and "| train |" not in board

    # resumable: a run whose marker is gone (killed) is redone; finished runs are not touched
    kept = (out / "runs" / "grpo-seed0" / "run.json").stat().st_mtime_ns
    weights = out / "models" / "fairgrpo-seed1" / "model.safetensors"
    predictions = out / "runs" / "fairgrpo-seed1" / "eval" / "predictions.parquet"
    trained_in_a_worker = weights.read_bytes(), pd.read_parquet(predictions)
    (out / "runs" / "fairgrpo-seed1" / "run.json").unlink()
    weights.unlink()
    assert main(["study", config, "--out", str(out)]) == 0  # one pending run: trained in this process
    assert (out / "runs" / "fairgrpo-seed1" / "run.json").is_file()
    assert (out / "runs" / "grpo-seed0" / "run.json").stat().st_mtime_ns == kept
    # the same run, trained beside another in a worker process or alone here: the same weights, answers
    assert weights.read_bytes() == trained_in_a_worker[0]
    pd.testing.assert_frame_equal(pd.read_parquet(predictions), trained_in_a_worker[1])

    # the same folder with other data is refused
    other = _config(tmp_path, task_options={"n": 90})
    assert main(["study", other, "--out", str(out)]) == 2


@pytest.mark.parametrize("command", [["study"], ["findings", "regenerate"], ["demo"]])
def test_help_prints(command, capsys):
    with pytest.raises(SystemExit) as exit_code:
        main([*command, "--help"])
    assert exit_code.value.code == 0 and "usage: clinfair" in capsys.readouterr().out


def test_runs_at_a_time_follow_workers_and_the_cpu_cores():
    import os

    from clinfair.study.config import StudyConfig

    assert StudyConfig(workers=3).worker_count(2) == 2 and StudyConfig(workers=3).worker_count(5) == 3
    assert StudyConfig(workers=1).worker_count(9) == 1
    assert StudyConfig(workers=0, torch_threads=None).worker_count(9) == 1  # torch threads over every core
    cores = len(os.sched_getaffinity(0))  # no GPU in the test tier
    assert StudyConfig(workers=0).worker_count(9) == max(1, min(cores, 4))
    assert StudyConfig(workers=0, torch_threads=2).worker_count(9) == max(1, min(cores // 2, 4))
    assert StudyConfig(workers=0).worker_count(1) == 1
