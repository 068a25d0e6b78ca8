"""``clinfair train``'s output folder: unique per recipe, method and seed by default."""

from __future__ import annotations

import pytest
from clinfair.trainers.recipes import RecipeError, load_recipe


def test_default_folder_is_unique_per_method_and_seed():
    folders = {
        (method, seed): load_recipe("tiny-cpu", method, [f"seed={seed}"]).config.output_dir
        for method in ("grpo", "fairgrpo")
        for seed in (0, 1)
    }
    assert folders == {
        ("grpo", 0): "runs/tiny-cpu-grpo-seed0",
        ("grpo", 1): "runs/tiny-cpu-grpo-seed1",
        ("fairgrpo", 0): "runs/tiny-cpu-fairgrpo-seed0",
        ("fairgrpo", 1): "runs/tiny-cpu-fairgrpo-seed1",
    }


def test_recipe_without_output_dir_gets_the_default(tmp_path):
    recipe = load_recipe({"model": "tiny", "seed": 3, "use_cpu": True, "bf16": False}, "dro")
    assert recipe.config.output_dir == "runs/recipe-dro-seed3"
    assert recipe.values["output_dir"] == "runs/recipe-dro-seed3"  # what recipe.yaml records


def test_explicit_folder_is_kept_and_placeholders_filled():
    assert load_recipe("tiny-cpu", "grpo", ["output_dir=out/x"]).config.output_dir == "out/x"
    recipe = load_recipe("tiny-cpu", "rloo", ["output_dir=out/{method}/{seed}", "seed=7"])
    assert recipe.config.output_dir == "out/rloo/7"


def test_unknown_placeholder_is_one_line_naming_the_override():
    with pytest.raises(
        RecipeError, match=r"override 'output_dir=out/\{model\}': output_dir 'out/\{model\}' may use"
    ):
        load_recipe("tiny-cpu", "grpo", ["output_dir=out/{model}"])


def test_every_shipped_recipe_separates_methods_and_seeds():
    from clinfair.trainers.recipes import shipped_recipes

    for name in shipped_recipes():
        if name == "demo":  # the demo sets output_dir itself, per run
            continue
        a = load_recipe(name, "grpo", ["seed=0", "use_cpu=true", "bf16=false"]).config.output_dir
        b = load_recipe(name, "fairgrpo", ["seed=1", "use_cpu=true", "bf16=false"]).config.output_dir
        assert a != b and "grpo" in a and "seed1" in b, name


# -- what training prints ------------------------------------------------------------------------------


def test_compact_line_of_a_training_log():
    from clinfair.commands.train import compact_log_line

    logs = {
        "loss": 0.01234,
        "reward": 0.4,
        "reward_std": 0.2,
        "completions/mean_length": 11.6,
        "grad_norm": 3.0,
    }
    assert (
        compact_log_line(logs, 3, 10, 1.25)
        == "step 3/10  loss 0.01234, reward 0.400 ± 0.200, 12 tokens, 1.2 s/step"
    )
    fairness = {"fairness/overall/accuracy": 0.5, "fairness/overall/f1": 1 / 3, "fairness/synthetic/f1": 0.2}
    assert (
        compact_log_line(fairness, 4, 10, None)
        == "step 4/10  validation: paper protocol accuracy 0.500, F1 0.333"
    )
    assert (
        compact_log_line(fairness, 4, 10, None, {"rows": 8, "invalid": 8})
        == "step 4/10  validation: 8/8 answers invalid; paper protocol accuracy 0.500, F1 0.333"
    )
    assert compact_log_line({"train_runtime": 3.0, "train_loss": 0.1}, 10, 10, None) is None
    assert compact_log_line({"loss": float("nan")}, 1, 0, None) is None


def test_summary_reads_the_last_fairness_evaluation(tmp_path):
    import json

    from clinfair.commands.train import training_summary

    groups = {"synthetic": {"sex": {"F": {"rows": 4, "accuracy": 0.25}, "M": {"rows": 0}}}}
    first = {
        "step": 0,
        "split": "validation",
        "rows": 8,
        "invalid": 8,
        "overall": {"accuracy": 0.5},
        "groups": {},
    }
    last = {
        "step": 4,
        "split": "validation",
        "rows": 8,
        "invalid": 2,
        "overall": {"accuracy": 0.625, "f1": 0.5},
        "groups": groups,
    }
    (tmp_path / "fairness.jsonl").write_text(json.dumps(first) + "\n" + json.dumps(last) + "\n")
    lines = training_summary("grpo", 4, [(1, 0.0), (2, 0.5), (3, 0.5), (4, 1.0)], 12.3, tmp_path)
    assert lines == [
        "clinfair train: grpo done: 4 steps in 12 s",
        "  mean reward 0.500 over the run, 1.000 over its last 1 logged step(s)",
        "  last fairness evaluation (step 4, validation split): 2/8 answers invalid; paper protocol accuracy 0.625, "
        "F1 0.500",
        "    synthetic sex accuracy (paper protocol): F 0.25 (n=4)",
        f"  model: {tmp_path}",
    ]


def test_train_prints_step_lines_and_a_summary_not_log_dicts(tiny_vlm, data_dir, tmp_path, capsys):
    from conftest import train_args

    from clinfair.cli import main

    out = tmp_path / "run"
    steps = ("max_steps=2", "train_limit=8", "eval_limit=4", "fairness_eval_steps=1")
    assert main(train_args(tiny_vlm, data_dir, out, *steps, method="grpo")) == 0
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert "{'loss'" not in text and "'reward':" not in text  # no raw log dictionaries
    assert "step 1/2  loss " in text and "step 2/2  loss " in text
    assert "clinfair train: grpo done: 2 steps in " in text
    assert (
        "  last fairness evaluation (step 2, validation split): " in text and "/4 answers invalid; " in text
    )
    assert "validation: " in text and "/4 answers invalid; paper protocol accuracy" in text
    assert f"  model: {out}" in text
