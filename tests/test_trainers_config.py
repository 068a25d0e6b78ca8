"""Configs, recipes and the resampling sampler: no model needed."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from clinfair.trainers.advantage import FairAdvantageConfig
from clinfair.trainers.dr_grpo import DrGRPOConfig
from clinfair.trainers.fairgrpo import FairGRPOConfig
from clinfair.trainers.fairgrpo_nd import FairGRPONDConfig
from clinfair.trainers.methods import METHODS
from clinfair.trainers.recipes import RecipeError, load_recipe, parse_overrides, resolve_recipe_path
from clinfair.trainers.resampling import GroupBalancedRepeatSampler

CPU = {"use_cpu": True, "bf16": False, "report_to": "none"}


# -- Dr.GRPO preset ------------------------------------------------------------------------------


def test_dr_grpo_preset_is_trls_dr_grpo_settings():
    import trl

    preset = DrGRPOConfig(output_dir="x", **CPU)
    by_hand = trl.GRPOConfig(output_dir="x", loss_type="dr_grpo", scale_rewards="none", **CPU)
    assert (preset.loss_type, preset.scale_rewards) == ("dr_grpo", "none")
    assert (preset.loss_type, preset.scale_rewards) == (by_hand.loss_type, by_hand.scale_rewards)
    assert DrGRPOConfig(output_dir="x", scale_rewards=False, **CPU).scale_rewards == "none"  # TRL's alias


@pytest.mark.parametrize("change", [{"loss_type": "dapo"}, {"scale_rewards": "group"}])
def test_dr_grpo_refuses_half_a_preset(change):
    with pytest.raises(ValueError, match="dr_grpo.*together"):
        DrGRPOConfig(output_dir="x", **CPU, **change)


# -- FairGRPO configs ----------------------------------------------------------------------------


def test_fair_modes_and_overrides():
    paper = FairGRPOConfig(output_dir="x", **CPU).fair_advantage_config()
    assert (paper.temperature, paper.guard, paper.grpo_scale) == ("sqrt_n_times_r", "floor", "group")
    batch_scaled = FairGRPOConfig(output_dir="x", scale_rewards="batch", **CPU).fair_advantage_config()
    assert batch_scaled.grpo_scale == "batch"  # the base advantage follows TRL's scale_rewards
    ref = FairGRPOConfig(output_dir="x", fair_mode="reference", fair_advantage={"window": "batch"}, **CPU)
    assert ref.fair_advantage_config().guard == "authors" and ref.fair_advantage_config().window == "batch"
    with pytest.raises(ValueError, match="unknown key.*'windw'"):
        FairGRPOConfig(output_dir="x", fair_advantage={"windw": "batch"}, **CPU)
    with pytest.raises(ValueError, match="fair_mode"):
        FairGRPOConfig(output_dir="x", fair_mode="papers", **CPU)


def test_fairgrpo_nd_always_clusters():
    assert FairGRPONDConfig(output_dir="x", **CPU).fair_advantage_config().grouping == "clusters"
    ref = FairGRPONDConfig(output_dir="x", fair_mode="reference", **CPU).fair_advantage_config()
    assert (ref.grouping, ref.cluster_feature, ref.max_history) == ("clusters", "raw", None)
    assert ref == FairAdvantageConfig.reference_nd()  # the authors' FairGRPO_ND, not reference() + clusters
    tweaked = FairGRPONDConfig(
        output_dir="x", fair_mode="reference", fair_advantage={"window": "batch"}, **CPU
    )
    assert tweaked.fair_advantage_config() == FairAdvantageConfig.reference_nd(window="batch")
    with pytest.raises(ValueError, match="groups by clusters"):
        FairGRPONDConfig(output_dir="x", fair_advantage={"grouping": "explicit"}, **CPU)


# -- recipes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny-cpu", "medgemma-4b-it", "qwen2.5-vl-7b-instruct"])
@pytest.mark.parametrize("method", METHODS)
def test_shipped_recipes_load_for_every_method(name, method):
    overrides = [
        "use_vllm=false",
        "bf16=false",
        "use_cpu=true",
    ]  # the paper recipes' GPU settings fail on CPU
    recipe = load_recipe(name, method, overrides)
    assert type(recipe.config) is METHODS[method].config_class()
    if name != "tiny-cpu":
        c = recipe.config
        assert (c.num_generations, c.max_completion_length, c.beta, c.temperature, c.epsilon) == (
            10,
            4096,
            0.0,
            1.0,
            0.2,
        )
        assert c.learning_rate == (5e-7 if name.startswith("medgemma") else 1e-6)
        assert c.generation_batch_size == 512 * 10


def test_paper_recipes_select_vllm_modes():
    values = load_recipe("medgemma-4b-it", "grpo", ["use_vllm=false", "bf16=false", "use_cpu=true"]).values
    assert values["vllm_mode"] == "colocate"
    server = load_recipe(
        "medgemma-4b-it", "grpo", ["use_vllm=false", "bf16=false", "use_cpu=true", "vllm_mode=server"]
    )
    assert server.config.vllm_mode == "server"


def test_unknown_recipe_key_is_one_clear_error(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: tiny\nlerning_rate: 1.0e-5\nuse_cpu: true\n")
    with pytest.raises(
        RecipeError, match=r"unknown recipe key\(s\) 'lerning_rate' \(did you mean 'learning_rate'\?\)"
    ):
        load_recipe(path, "grpo")
    with pytest.raises(RecipeError, match="'zzz_key'"):
        load_recipe("tiny-cpu", "grpo", ["zzz_key=1"])


def test_overrides_and_other_methods_keys():
    assert parse_overrides(
        ["max_steps=7", "tasks=[a, b]", "fair_advantage.window=batch", "eval_split=null"]
    ) == {
        "max_steps": 7,
        "tasks": ["a", "b"],
        "fair_advantage": {"window": "batch"},
        "eval_split": None,
    }
    recipe = load_recipe(
        "tiny-cpu", "fairgrpo", ["max_steps=7", "fair_advantage.window=batch", "tasks=synthetic"]
    )
    assert recipe.config.max_steps == 7
    assert recipe.config.fair_advantage_config().window == "batch"
    assert recipe.arguments.tasks == ["synthetic"]
    assert recipe.ignored == ["dro_eta"]  # a group-DRO key, not used by FairGRPO
    assert recipe.config.reward_weights == [1.0, 0.5, 0.2]  # from the weights of the recipe's rewards
    with pytest.raises(RecipeError, match="key=value"):
        parse_overrides(["max_steps"])


def test_numbers_in_exponent_form_are_numbers_and_text_for_a_number_is_an_error(tmp_path):
    # YAML 1.1 reads 1e-6 (no dot) as a string; the paper's learning rates are written so
    assert parse_overrides(["learning_rate=1e-6", "beta=5E-2", "max_steps=1_0", "name=1e"]) == {
        "learning_rate": 1e-6,
        "beta": 0.05,
        "max_steps": 10,
        "name": "1e",
    }
    path = tmp_path / "r.yaml"
    path.write_text("model: tiny\nlearning_rate: 5e-7\nuse_cpu: true\nbf16: false\n")
    assert load_recipe(path, "grpo").config.learning_rate == 5e-7
    assert load_recipe("tiny-cpu", "grpo", ["learning_rate=3e-3"]).config.learning_rate == 3e-3
    with pytest.raises(
        RecipeError, match=r"override 'learning_rate=fast': learning_rate must be a number, got 'fast'"
    ):
        load_recipe("tiny-cpu", "grpo", ["learning_rate=fast"])  # the override, not the file, is named
    path.write_text("model: tiny\nlearning_rate: fast\n")
    with pytest.raises(RecipeError, match=r"r\.yaml: learning_rate must be a number, got 'fast'"):
        load_recipe(path, "grpo")
    with pytest.raises(RecipeError, match="fairness_eval_steps must be a number, got 'often'"):
        load_recipe("tiny-cpu", "grpo", ["fairness_eval_steps=often"])  # clinfair's own keys too


def test_recipe_value_errors_are_recipe_errors(tmp_path):
    with pytest.raises(RecipeError, match="needs a 'model'"):
        load_recipe({"use_cpu": True}, "grpo")
    with pytest.raises(RecipeError, match="unknown reward 'acc'"):
        load_recipe({"model": "tiny", "rewards": ["acc"]}, "grpo")
    with pytest.raises(RecipeError, match="dr_grpo"):
        load_recipe({"model": "tiny", "loss_type": "dapo", **CPU}, "dr_grpo")
    with pytest.raises(RecipeError, match="not found"):
        resolve_recipe_path("no-such-recipe")
    with pytest.raises(RecipeError, match="unknown method"):
        load_recipe({"model": "tiny"}, "ppo")


# -- resampling sampler --------------------------------------------------------------------------


def test_sampler_keeps_trls_repeat_layout():
    g, prompts_per_batch, repeats = (
        3,
        2,
        4,
    )  # num_generations, generation batch in prompts, iterations x steps
    sampler = GroupBalancedRepeatSampler([0.1, 0.2, 0.3, 0.4, 0.5], g, prompts_per_batch, repeats, seed=7)
    drawn = list(sampler)
    assert len(drawn) == len(sampler) == (5 // 2) * 2 * g * repeats
    block = prompts_per_batch * g
    for start in range(0, len(drawn), block * repeats):
        chunk = drawn[start : start + block]
        for r in range(repeats):  # the chunk is repeated for num_iterations x steps_per_generation
            assert drawn[start + r * block : start + (r + 1) * block] == chunk
        for p in range(prompts_per_batch):  # each prompt's G rollouts in a row
            assert chunk[p * g : (p + 1) * g] == [chunk[p * g]] * g
    # every rank builds its sampler with the same seed and so draws the same sequence
    assert (
        list(GroupBalancedRepeatSampler([0.1, 0.2, 0.3, 0.4, 0.5], g, prompts_per_batch, repeats, seed=7))
        == drawn
    )
    assert list(sampler) != drawn  # the next epoch draws anew, as TRL's sampler does


def test_sampler_balances_groups():
    from clinfair.trainers.advantage import resampling_weights

    # cells: (d1, a) x 6 rows, (d1, b) x 3, (d2, a) x 1; each cell should get 1/3 of the draws
    domains = ["d1"] * 9 + ["d2"]
    groups = ["a"] * 6 + ["b"] * 3 + ["a"]
    sampler = GroupBalancedRepeatSampler(resampling_weights(domains, groups), 1, 10, 1, seed=0)
    counts = Counter()
    for _ in range(2000):
        counts.update(list(sampler))
    total = sum(counts.values())
    cell = {i: (domains[i], groups[i]) for i in range(10)}
    per_cell = Counter()
    for index, n in counts.items():
        per_cell[cell[index]] += n
    assert np.allclose(
        [per_cell[c] / total for c in [("d1", "a"), ("d1", "b"), ("d2", "a")]], 1 / 3, atol=0.01
    )
    # and inside a cell each row gets 1/count of the cell's share: the lone d2 row is drawn 6x a d1/a row
    assert counts[9] / np.mean([counts[i] for i in range(6)]) == pytest.approx(6, rel=0.1)
