"""The method registry (``clinfair.trainers.methods``): every entry resolves, every Config is documented,
a method's recipe defaults sit under the recipe, and the shipped recipes are package data."""

from __future__ import annotations

import dataclasses
import re
from importlib.resources import files

import pytest
import trl
from clinfair.trainers.methods import METHODS, Method, UnknownMethodError, get_method
from clinfair.trainers.recipes import RecipeError, load_recipe, shipped_recipes

CPU = ["use_cpu=true", "bf16=false"]


@pytest.mark.parametrize("name", METHODS)
def test_every_entry_resolves_to_a_config_and_a_trl_trainer(name):
    from clinfair.trainers.grpo import GRPOConfig

    method = METHODS[name]
    assert method.name == name and method.description
    assert issubclass(method.config_class(), GRPOConfig)
    assert issubclass(method.trainer_class(), trl.GRPOTrainer)


def test_unknown_method():
    with pytest.raises(UnknownMethodError, match="unknown method 'ppo'; choose one of grpo, dr_grpo"):
        get_method("ppo")
    with pytest.raises(RecipeError, match="unknown method 'ppo'"):
        load_recipe("tiny-cpu", "ppo")


def _parameters_section(cls: type) -> str:
    doc = cls.__doc__ or ""
    return doc.split("Parameters:", 1)[1] if "Parameters:" in doc else ""


def _declaring_class(config: type, name: str) -> type:
    return next(klass for klass in config.__mro__ if name in vars(klass).get("__annotations__", {}))


@pytest.mark.parametrize("name", METHODS)
def test_every_field_a_config_adds_over_trl_is_documented(name):
    """TRL style: each field appears in the "Parameters:" section of the class that declares it
    (the Config or a clinfair base), with its type, and carries the help ``--help`` shows."""
    config = METHODS[name].config_class()
    trl_fields = {f.name for f in dataclasses.fields(trl.GRPOConfig)}
    declared_here = set(vars(config).get("__annotations__", {}))
    added = [f for f in dataclasses.fields(config) if f.name not in trl_fields or f.name in declared_here]
    for item in added:
        owner = _declaring_class(config, item.name)
        assert re.search(rf"^\s+{item.name} \(`", _parameters_section(owner), re.MULTILINE), (
            owner,
            item.name,
        )
        assert item.metadata.get("help"), (owner, item.name)
    assert "Parameters" in (config.__doc__ or ""), config  # also where no field is added: it says so


def test_recipe_arguments_are_documented():
    from clinfair.trainers.recipes import RecipeArguments

    for item in dataclasses.fields(RecipeArguments):
        assert re.search(rf"^\s+{item.name} \(`", _parameters_section(RecipeArguments), re.MULTILINE), (
            item.name
        )
        assert item.metadata.get("help"), item.name


def test_a_new_method_is_one_registry_entry(monkeypatch):
    """A method added to the registry alone is trainable by name; its recipe defaults sit under
    the recipe and the overrides."""
    entry = Method(
        "grpo_hot",
        "clinfair.trainers.grpo:GRPOConfig",
        "clinfair.trainers.grpo:GRPOTrainer",
        "GRPO sampling hotter",
        recipe_defaults={"temperature": 1.5, "top_p": 0.9},
    )
    monkeypatch.setitem(METHODS, "grpo_hot", entry)
    recipe = load_recipe({"model": "tiny", "output_dir": "x", "top_p": 0.8}, "grpo_hot", [*CPU])
    assert (recipe.config.temperature, recipe.config.top_p) == (1.5, 0.8)  # recipe beats the method
    recipe = load_recipe({"model": "tiny", "output_dir": "x"}, "grpo_hot", [*CPU, "temperature=0.7"])
    assert recipe.config.temperature == 0.7  # an override beats both
    assert load_recipe({"model": "tiny", "output_dir": "x"}, "grpo", CPU).config.temperature == 1.0  # TRL's


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("max_steps=2.5", "max_steps must be an integer, got 2.5"),
        ("bf16=maybe", "bf16 must be true or false, got 'maybe'"),
        ("fairness_eval_steps=often", "fairness_eval_steps must be a number, got 'often'"),
        ("learning_rate=fast", "learning_rate must be a number, got 'fast'"),
    ],
)
def test_recipe_values_are_checked_against_field_types(override, message):
    with pytest.raises(RecipeError, match=re.escape(f"override {override!r}: {message}")):
        load_recipe("tiny-cpu", "grpo", [override])


def test_recipes_ship_inside_the_package():
    """Package data of ``clinfair.trainers.recipes`` (pyproject's package-data), found by name."""
    shipped = {
        path.name for path in files("clinfair.trainers.recipes").iterdir() if path.name.endswith(".yaml")
    }
    assert {"tiny-cpu.yaml", "demo.yaml", "medgemma-4b-it.yaml"} <= shipped
    assert shipped_recipes() == sorted(name.removesuffix(".yaml") for name in shipped)
    assert load_recipe("tiny-cpu", "grpo").values["model"] == "tiny"
