"""`clinfair demo`: the multi-seed table's arithmetic, and the whole loop at toy size."""

from __future__ import annotations

import json
import math

import pytest

from clinfair.demo import DemoSettings, multi_seed_table


def _results(folder, method, accuracy, exact, invalid, rows=10):
    folder.mkdir(parents=True)
    overall = {"accuracy": accuracy, "f1": accuracy, "acc_gap": 0.1, "f1_gap": 0.2, "pp": 3.0, "eod": None}
    (folder / "results.json").write_text(
        json.dumps(
            {
                "schema_version": 1,
                "run": {"name": folder.name, "method": method},
                "tasks": {
                    "synthetic": {
                        "accuracy_exact": exact,
                        "invalid_answers": invalid,
                        "rows": rows,
                        "label_space": ["benign", "malignant"],
                    }
                },
                "metrics": {"paper": {"overall": overall}},
            }
        )
    )
    (folder / "predictions.parquet").touch()  # a result folder holds both files; the table reads results.json
    return folder


def test_multi_seed_table_groups_runs_by_method(tmp_path):
    dirs = [
        _results(tmp_path / "a", "grpo", 0.5, 0.4, 1),
        _results(tmp_path / "b", "grpo", 0.7, 0.6, 3),
        _results(tmp_path / "c", None, 0.2, 0.0, 10),
    ]
    table = multi_seed_table(dirs, DemoSettings(seeds=2))
    grpo = next(line for line in table.splitlines() if line.startswith("| grpo"))
    cells = [c.strip() for c in grpo.strip("|").split("|")]
    half = 12.706 * math.sqrt(0.02) / math.sqrt(2) * 100  # t(0.975, 1) · s / √2, s of (0.5, 0.7)
    assert cells[:4] == ["grpo", "2", f"50.0 ± {half:.1f}", f"20.0 ± {half:.1f}"]
    assert cells[4] == f"60.0 ± {half:.1f}" and cells[-2] == "3.0 ± 0.0" and cells[-1] == "–"
    assert any(line.startswith("| c | 1 | 0.0 | 100.0 |") for line in table.splitlines())


@pytest.mark.slow
def test_demo_runs_the_whole_loop_at_toy_size(tmp_path, capfd):
    from clinfair.cli import main

    out = tmp_path / "demo"
    assert (
        main(
            [
                "demo",
                "--out",
                str(out),
                "--seeds",
                "1",
                "--steps",
                "2",
                "--methods",
                "grpo,fairgrpo",
                "--examples",
                "120",
                "--warm-steps",
                "3",
            ]
        )
        == 0
    )
    captured = capfd.readouterr()  # file-descriptor level: library loggers and progress bars too
    printed = captured.out
    assert "| untrained | 1 |" in printed and "| fairgrpo | 1 |" in printed
    # one progress display and the final report: no per-run metrics tables, no library chatter
    terminal = captured.out + captured.err
    assert "dataset    Exact acc  Invalid" not in terminal
    for chatter in ("Loading weights", "Writing model shards", "tokenizer has new PAD", "GRPO prompts"):
        assert chatter not in terminal, chatter
    assert "clinfair demo" in captured.err  # the one bar
    assert (
        "## Paired differences to grpo" in printed
        and "clinfair study configs/studies/group_shift.yaml" in printed
    )
    assert (out / "leaderboard" / "index.html").is_file()
    assert (out / "demo_table.md").read_text().startswith("| method | seeds |")
    for folder in ("eval/untrained", "eval/warm-start", "runs/grpo-seed0/eval", "runs/fairgrpo-seed0/eval"):
        assert (out / folder / "results.json").is_file()
        assert (out / folder / "summary.txt").read_text().startswith("dataset    Exact acc  Invalid")
    assert (out / "runs" / "fairgrpo-seed0" / "train" / "fairness.jsonl").is_file()
    assert list((out / "leaderboard" / "plots").glob("*.png"))
    timings = json.loads((out / "demo_timings.json").read_text())
    assert {"setup_s", "runs_s", "leaderboard_s", "total_s"} <= set(timings)


def test_the_demo_recipe_holds_the_demos_defaults():
    """`clinfair train --recipe demo` reproduces one demo run: the recipe and DemoSettings agree."""
    from clinfair.trainers.recipes import load_recipe

    from clinfair.demo import DemoSettings

    demo, config = DemoSettings(), load_recipe("demo", "grpo").config
    assert (config.max_steps, config.learning_rate, config.num_generations, config.max_completion_length) == (
        demo.steps,
        demo.learning_rate,
        demo.num_generations,
        demo.max_new_tokens,
    )
    assert config.per_device_train_batch_size == demo.prompts_per_step * demo.num_generations


def test_the_demo_and_the_shipped_study_run_the_same_group_shift_task():
    from clinfair.tasks.builders.synthetic import GROUP_SHIFT

    from clinfair.demo import study_config
    from clinfair.study import load_config

    demo, shipped = study_config(DemoSettings()), load_config("configs/studies/group_shift.yaml")
    assert demo.task_options == shipped.task_options == {"n": DemoSettings().examples, **GROUP_SHIFT}
    assert (demo.recipe, demo.warm_start_steps, demo.minority) == (
        shipped.recipe,
        shipped.warm_start_steps,
        shipped.minority,
    )


def test_collapsed_runs_are_those_with_one_answer_for_every_image(tmp_path):
    import pandas as pd

    from clinfair.demo import collapsed_runs

    answers = {
        "one-label": [["benign"]] * 3,
        "reads": [["benign"], ["malignant"], ["benign"]],
        "some-invalid": [["benign"], None, ["benign"]],
    }
    for name, predictions in answers.items():
        (tmp_path / name / "eval").mkdir(parents=True)
        pd.DataFrame({"prediction": predictions}).to_parquet(tmp_path / name / "eval" / "predictions.parquet")
        (tmp_path / name / "eval" / "results.json").write_text('{"schema_version": 1, "tasks": {}}')
    runs = [tmp_path / name for name in answers]
    assert collapsed_runs(runs) == ["one-label"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--num-generations", "1"], "num_generations must be an integer >= 2"),
        (["--max-new-tokens", "0"], "max_new_tokens must be a whole number >= 1"),
        (["--eval-limit", "0"], "eval_limit must be null or a whole number >= 1"),
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--methods", "grpo,magic"], "unknown method(s) ['magic']"),
    ],
)
def test_bad_demo_settings_are_refused_before_any_work(tmp_path, capsys, flags, message):
    from clinfair.cli import main

    assert main(["demo", "--out", str(tmp_path / "demo"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "demo").exists()
