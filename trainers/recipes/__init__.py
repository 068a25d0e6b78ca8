"""Training recipes: one flat YAML file per run, as TRL's recipes are.

A recipe mixes two kinds of keys:

* clinfair's own (:class:`RecipeArguments`): the model, the tasks and where their prepared
  data lives, the rewards, and the fairness evaluation during training;
* every field of the method's TRL config (``trl.GRPOConfig`` and the method's additions,
  e.g. ``fair_mode`` for FairGRPO or ``dro_eta`` for group-DRO).

One recipe serves every method: a key that belongs to another method's config is ignored
(and reported) for this one. A key no config knows is an error naming it. Command-line
``key=value`` overrides are read as YAML values (``max_steps=10``, ``tasks=[ham10000]``);
``a.b=value`` sets one entry of a mapping (``fair_advantage.window=batch``). Numbers may be
written as ``1e-6`` (``clinfair.core.yamlio``); a value of the wrong type is an error naming it (the
types are the dataclass fields', read by ``clinfair.core.arguments``, which also builds ``clinfair``'s
flags: a number-valued field given text, a switch given anything but true/false), and so is a
value no run can use (``learning_rate=-1``, ``num_generations=1``, see :data:`VALUE_RULES`). Errors name where the key came from: the recipe file, or the
command-line override. ``resume_from_checkpoint`` is checked before training starts: the
folder must exist and its saved advantage state must be readable (``clinfair.trainers.gathered``).

A method may set recipe keys of its own (``Method.recipe_defaults`` in ``clinfair.trainers.methods``);
the recipe and the overrides win over them.

The recipes shipped with clinfair are package data of this package (``trainers/recipes/*.yaml``,
installed with it); ``--recipe NAME`` finds ``NAME.yaml`` there, any other value is a file path.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from clinfair.tasks.prepare import default_data_dir
from clinfair.tasks.registry import include_paths
from clinfair.tasks.schema import DEFAULT_GROUP_ATTRIBUTES
from clinfair.tasks.spec import TaskConfigError
from clinfair.trainers.methods import METHODS, UnknownMethodError, get_method

from clinfair.core.arguments import field_specs
from clinfair.core.errors import ClinfairError
from clinfair.core.yamlio import (
    load_yaml,
    load_yaml_value,
    merge_mappings,
    unknown_keys_message,
    yaml_error_line,
)

if TYPE_CHECKING:
    from clinfair.trainers.grpo import GRPOConfig

#: The folder of the shipped recipes (this package's data files).
RECIPE_DIR = Path(__file__).resolve().parent


class RecipeError(ClinfairError, ValueError):
    """A recipe that cannot be used: unknown key, bad value, missing file."""


@dataclass(frozen=True)
class Rule:
    """What a recipe value must be: an integer or a number, within bounds, or null if optional."""

    integer: bool = False
    low: float | None = None
    low_open: bool = False  # True: value > low, else value >= low
    high: float | None = None  # value <= high
    optional: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def describe(self) -> str:
        text = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            text += f" in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"
        elif self.low is not None:
            text += f" {'>' if self.low_open else '>='} {self.low:g}"
        return text + (" or null" if self.optional else "")


_COUNT = Rule(integer=True, low=1)
_POSITIVE = Rule(low=0, low_open=True)
_NON_NEGATIVE = Rule(low=0)
#: Values a run cannot use, checked for the keys a recipe or an override sets (TRL and torch would
#: fail at the first step, or train silently wrong).
VALUE_RULES: dict[str, Rule] = {
    "learning_rate": _POSITIVE,
    "num_train_epochs": _POSITIVE,
    "temperature": _POSITIVE,
    "logging_steps": _POSITIVE,
    "save_steps": _POSITIVE,
    "top_p": Rule(low=0, low_open=True, high=1),
    "per_device_train_batch_size": _COUNT,
    "gradient_accumulation_steps": _COUNT,
    "num_iterations": _COUNT,
    "num_generations": Rule(integer=True, low=2),
    "max_completion_length": _COUNT,
    "max_steps": Rule(integer=True),
    "steps_per_generation": Rule(integer=True, low=1, optional=True),
    "generation_batch_size": Rule(integer=True, low=1, optional=True),
    "beta": _NON_NEGATIVE,
    "epsilon": _NON_NEGATIVE,
    "weight_decay": _NON_NEGATIVE,
    "max_grad_norm": _NON_NEGATIVE,
    "warmup_steps": _NON_NEGATIVE,
    "seed": Rule(integer=True, low=0),
    "dro_eta": _NON_NEGATIVE,
    "fairness_eval_steps": _COUNT,
    "fairness_max_new_tokens": _COUNT,
    "fairness_batch_size": _COUNT,
    "train_limit": Rule(integer=True, low=1, optional=True),
    "eval_limit": Rule(integer=True, low=1, optional=True),
}


@dataclass
class RecipeArguments:
    """clinfair's keys of a recipe (every other key configures the method's TRL config).

    Parameters:
        model (`str`):
            Local folder, Hub id, or ``"tiny"`` (a tiny random VLM built in ``output_dir/tiny-model``).
        dtype (`str`, *optional*, defaults to `"auto"`):
            Weights dtype when loading: auto, float32, bfloat16, float16.
        tasks (`list[str]`, *optional*, defaults to `["synthetic"]`):
            Task keys to train on (a list, or comma-separated text).
        data_dir (`str`, *optional*, defaults to `$CLINFAIR_DATA` or `"data"`):
            Folder holding one prepared dataset per task (``data_dir/<task>``); synthetic is built if missing.
        train_split (`str`, *optional*, defaults to `"train"`):
            Split trained on.
        train_limit (`int` or `None`, *optional*):
            First N training rows of each task (all when null).
        group_attributes (`list[str]`, *optional*, defaults to `["sex", "age_group"]`):
            Demographic fields whose values form a prompt's group.
        rewards (`list`, *optional*, defaults to `["accuracy"]`):
            Reward names (``clinfair.trainers.rewards.REWARDS``) or mappings ``{name, weight, **parameters}``.
        eval_split (`str` or `None`, *optional*, defaults to `"validation"`):
            Split the fairness callback scores during training; null turns the callback off.
        eval_limit (`int` or `None`, *optional*):
            First N evaluation rows of each task (all when null).
        fairness_eval_steps (`int`, *optional*, defaults to `100`):
            Optimizer steps between two fairness evaluations.
        fairness_max_new_tokens (`int`, *optional*, defaults to `512`):
            New tokens per answer in the fairness evaluation.
        fairness_batch_size (`int`, *optional*, defaults to `8`):
            Prompts per generation batch in the fairness evaluation.
        select_by (`str` or `None`, *optional*):
            Keep a ``best/`` copy of the checkpoint best on this validation metric
            (``clinfair.trainers.callbacks.SELECTABLE``); needs ``eval_split``.
        include_path (`list[str]` or `str`, *optional*):
            Folder(s) of your own task YAMLs (``clinfair.tasks.registry.include_path``), as ``--include-path``
            on the command line.
    """

    model: str = field(metadata={"help": "local folder, Hub id, or 'tiny' (a tiny random VLM)"})
    dtype: str = field(default="auto", metadata={"help": "weights dtype: auto, float32, bfloat16, float16"})
    tasks: list[str] = field(default_factory=lambda: ["synthetic"], metadata={"help": "task keys"})
    data_dir: str = field(
        default_factory=default_data_dir,
        metadata={"help": "folder of prepared tasks, DATA/<task> ($CLINFAIR_DATA or ./data)"},
    )
    train_split: str = field(default="train", metadata={"help": "split trained on"})
    train_limit: int | None = field(default=None, metadata={"help": "first N training rows of each task"})
    group_attributes: list[str] = field(
        default_factory=lambda: list(DEFAULT_GROUP_ATTRIBUTES),
        metadata={"help": "fields forming a prompt's group"},
    )
    rewards: list[Any] = field(
        default_factory=lambda: ["accuracy"],
        metadata={"help": "reward names or {name, weight, ...} mappings"},
    )
    eval_split: str | None = field(
        default="validation", metadata={"help": "split of the fairness callback; null: off"}
    )
    eval_limit: int | None = field(default=None, metadata={"help": "first N evaluation rows of each task"})
    fairness_eval_steps: int = field(default=100, metadata={"help": "steps between fairness evaluations"})
    fairness_max_new_tokens: int = field(default=512, metadata={"help": "new tokens per evaluation answer"})
    fairness_batch_size: int = field(default=8, metadata={"help": "prompts per evaluation batch"})
    select_by: str | None = field(
        default=None, metadata={"help": "keep best/: the checkpoint best on this validation metric"}
    )
    include_path: list[str] | str | None = field(
        default=None,
        metadata={
            "help": "folder(s) of your own task YAMLs (clinfair.tasks.registry.include_path), as --include-path "
            "on the command line"
        },
    )


@dataclass
class Recipe:
    """A resolved recipe: clinfair's arguments, the method and its TRL config."""

    arguments: RecipeArguments
    method: str
    config: GRPOConfig
    ignored: list[str]  # keys of other methods' configs, not used by this method
    values: dict[str, Any]  # every key as read (file + overrides), for the record


def reward_specs(entries: Sequence[Any]) -> list[tuple[str, float | None, dict[str, Any]]]:
    """``rewards`` entries as (name, weight or None, parameters); names are checked."""
    from clinfair.trainers.rewards import REWARDS

    if isinstance(entries, str | dict):
        entries = [entries]
    if not entries:
        raise RecipeError("rewards: at least one reward is needed")
    specs = []
    for entry in entries:
        params = (
            {"name": entry} if isinstance(entry, str) else dict(entry) if isinstance(entry, dict) else None
        )
        if params is None or "name" not in params:
            raise RecipeError(f"rewards: {entry!r} is neither a reward name nor a mapping with a 'name'")
        name, weight = params.pop("name"), params.pop("weight", None)
        if name not in REWARDS:
            raise RecipeError(f"rewards: unknown reward {name!r}; known rewards: {', '.join(REWARDS)}")
        specs.append((name, None if weight is None else float(weight), params))
    return specs


def _init_fields(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.init}


def shipped_recipes() -> list[str]:
    """The names of the recipes that ship with clinfair."""
    return sorted(path.stem for path in RECIPE_DIR.glob("*.yaml"))


def resolve_recipe_path(recipe: str | Path) -> Path:
    """A file path, or the name of a shipped recipe (:func:`shipped_recipes`)."""
    path = Path(recipe)
    if path.is_file():
        return path
    shipped = RECIPE_DIR / f"{recipe}.yaml"
    if shipped.is_file():
        return shipped
    raise RecipeError(
        f"recipe {recipe} not found (not a file; shipped recipes: {', '.join(shipped_recipes()) or 'none'})"
    )


def _check_values(dataclass_type: type, values: dict[str, Any], where) -> None:
    """Each value fits its field's type (a number-valued field given text would fail much later,
    inside TRL), and a key of :data:`VALUE_RULES` holds a value a run can use. ``where(key)``
    names the key's source."""
    specs = field_specs(dataclass_type)
    for key, value in values.items():
        problem = specs[key].problem(value) if key in specs else None
        if problem is not None:
            raise RecipeError(f"{where(key)}: {key} {problem}, got {value!r}")
        rule = VALUE_RULES.get(key)
        if rule is not None and not rule.accepts(value):
            raise RecipeError(f"{where(key)}: {key} must be {rule.describe()}, got {value!r}")


def _check_resume(config: GRPOConfig, where) -> None:
    """``resume_from_checkpoint``: the folder exists and its advantage state can be loaded."""
    from clinfair.trainers.gathered import AdvantageStateError, read_advantage_state
    from transformers.trainer_utils import get_last_checkpoint

    resume = config.resume_from_checkpoint
    if resume in (None, False, ""):
        return
    if resume is True:
        folder = get_last_checkpoint(config.output_dir) if Path(config.output_dir).is_dir() else None
        if folder is None:
            raise RecipeError(
                f"{where('resume_from_checkpoint')}: no checkpoint in {config.output_dir} to resume from"
            )
    else:
        folder = str(resume)
        if not Path(folder).is_dir():
            raise RecipeError(
                f"{where('resume_from_checkpoint')}: resume_from_checkpoint {folder} is not a folder"
            )
    try:
        read_advantage_state(folder)  # fails before training when it cannot be loaded
    except AdvantageStateError as error:
        raise RecipeError(str(error)) from None
    from clinfair.trainers.checkpoint_files import check_checkpoint_files

    check_checkpoint_files(folder, where("resume_from_checkpoint"))  # the trainer's files too


#: The run folder when a recipe names none; ``output_dir`` may use the same placeholders.
DEFAULT_OUTPUT_DIR = "runs/{recipe}-{method}-seed{seed}"


def _output_dir(values: dict[str, Any], recipe_name: str, method: str, config_class: type, where) -> str:
    """The recipe's ``output_dir`` (default :data:`DEFAULT_OUTPUT_DIR`) with ``{recipe}``, ``{method}``
    and ``{seed}`` filled in, so two methods or seeds of one recipe never share a folder."""
    template = str(values.get("output_dir") or DEFAULT_OUTPUT_DIR)
    seed = values.get("seed", next(f.default for f in dataclasses.fields(config_class) if f.name == "seed"))
    try:
        return template.format(recipe=recipe_name, method=method, seed=seed)
    except (KeyError, IndexError, ValueError) as error:
        raise RecipeError(
            f"{where('output_dir')}: output_dir {template!r} may use only {{recipe}}, {{method}} and {{seed}} "
            f"({error!r})"
        ) from None


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """``["a=1", "b.c=x"]`` -> ``{"a": 1, "b": {"c": "x"}}``; values are parsed as YAML."""
    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise RecipeError(f"override {item!r} is not of the form key=value")
        value = load_yaml_value(raw, f"override {key.strip()!r}") if raw.strip() else None
        *parents, leaf = key.strip().split(".")
        target = out
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise RecipeError(f"override {item!r}: {part!r} is not a mapping")
        target[leaf] = value
    return out


def load_recipe(recipe: str | Path | dict[str, Any], method: str, overrides: Sequence[str] = ()) -> Recipe:
    """Read a recipe (file, shipped name or mapping), apply overrides, build the method's config.

    Precedence, lowest first: the config's defaults, the method's ``recipe_defaults``, the
    recipe, the overrides."""
    try:
        spec = get_method(method)
    except UnknownMethodError as error:
        raise RecipeError(str(error)) from None
    if isinstance(recipe, dict):
        values, source, recipe_name = dict(recipe), "recipe", "recipe"
    else:
        path = resolve_recipe_path(recipe)
        try:
            values = load_yaml(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise RecipeError(f"{path}: not valid YAML ({yaml_error_line(error)})") from None
        if not isinstance(values, dict):
            raise RecipeError(f"{path}: a recipe is a mapping of key: value")
        source, recipe_name = str(path), path.stem
    values = merge_mappings({**spec.recipe_defaults, **values}, parse_overrides(overrides))
    # where each top-level key was set: the last override naming it, else the recipe
    given = {item.partition("=")[0].strip().split(".")[0]: item for item in overrides}

    def where(key: str) -> str:
        return f"override {given[key]!r}" if key in given else source

    ours = _init_fields(RecipeArguments)
    config_class = spec.config_class()
    theirs = _init_fields(config_class)
    any_method = set().union(*(_init_fields(m.config_class()) for m in METHODS.values()))
    known = sorted(ours | any_method)
    by_source: dict[str, list[str]] = {}
    for key in sorted(set(values) - set(known)):
        by_source.setdefault(where(key), []).append(key)
    if by_source:  # each key blamed on the file or override that set it; TRL's fields are too many to list
        raise RecipeError(
            "; ".join(
                str(unknown_keys_message(keys, known, place, kind="recipe key", list_known=False))
                for place, keys in by_source.items()
            )
        )
    ignored = sorted(set(values) - ours - theirs)

    if not values.get("model"):
        raise RecipeError(
            f"{where('model')}: the recipe needs a 'model' key (a local folder, a Hub id or 'tiny')"
        )
    our_values = {k: v for k, v in values.items() if k in ours}
    _check_values(RecipeArguments, our_values, where)
    arguments = RecipeArguments(**our_values)
    if arguments.select_by is not None:
        from clinfair.trainers.callbacks import SELECTABLE

        if arguments.select_by not in SELECTABLE:
            raise RecipeError(
                f"{source}: select_by {arguments.select_by!r} is not a validation metric; choose one of "
                f"{', '.join(SELECTABLE)}"
            )
        if not arguments.eval_split:
            raise RecipeError(f"{source}: select_by needs the fairness callback (set eval_split)")
    if isinstance(arguments.tasks, str):
        arguments.tasks = [t.strip() for t in arguments.tasks.split(",") if t.strip()]
    if not arguments.tasks:
        raise RecipeError(
            f"{where('tasks')}: the task list is empty; name at least one task (e.g. [synthetic])"
        )
    try:
        include_paths(arguments.include_path)
    except TaskConfigError as error:
        raise RecipeError(f"{where('include_path')}: {error}") from None
    values["output_dir"] = _output_dir(values, recipe_name, method, config_class, where)
    config_values = {k: v for k, v in values.items() if k in theirs}
    _check_values(config_class, config_values, where)
    weights = [weight for _, weight, _ in reward_specs(arguments.rewards)]
    if any(w is not None for w in weights):
        if config_values.get("reward_weights") is not None:
            raise RecipeError(
                f"{where('reward_weights')}: give reward weights either in 'rewards' or in 'reward_weights', not both"
            )
        config_values["reward_weights"] = [1.0 if w is None else w for w in weights]
    try:
        config = config_class(**config_values)
    except (TypeError, ValueError) as error:
        place = source + (f" with override(s) {', '.join(map(repr, overrides))}" if overrides else "")
        raise RecipeError(f"{place}: {error}") from None
    _check_resume(config, where)
    return Recipe(arguments, method, config, ignored, values)
