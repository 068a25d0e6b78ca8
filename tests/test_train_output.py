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
