"""A study's configuration: what runs (task, model, recipe, methods, seeds) and what it tests,
declared before the run (the primary endpoint, the comparisons and the target effect).

A config is a YAML mapping (``configs/studies/group_shift.yaml`` is the shipped one)::

    task: synthetic
    task_options: {n: 800, group_cues: {F|A4: size, M|A4: size}}   # builder options
    model: tiny              # tiny: a tiny random VLM + a supervised warm start; or a model folder
    warm_start_steps: 50
    recipe: demo             # trainers/recipes/<name>.yaml or a file: the budget, the rewards
    overrides: {max_steps: 120}
    methods: [grpo, fairgrpo]
    seeds: 5                 # seeds 0..4 (or a list)
    baseline: grpo
    comparisons: [fairgrpo]  # each tested against the baseline (default: every other method)
    primary:                 # the one question the verdict answers
      metric: accuracy       # exact accuracy (or invalid: the invalid-answer rate) of the rows
      attribute: age_group
      gap: true              # the gap (max - min over the attribute's groups); or group: A4
      direction: lower       # which way is better for a method: lower | higher
    target_effect: 0.05      # the difference (fraction: 0.05 = 5 points) the study must detect
    minority: {age_group: A4}
    eval_split: test
    workers: 0               # runs trained at once (0: one per CPU core); results do not depend on it
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinfair.core.errors import ClinfairError
from clinfair.core.yamlio import load_dataclass, load_yaml
from clinfair.trainers.methods import METHODS

#: row-level quantities a primary endpoint can be computed from (per row: 1/0)
ENDPOINT_METRICS = {"accuracy": "exact accuracy", "invalid": "invalid-answer rate"}
DIRECTIONS = ("lower", "higher")
#: what a config without a primary endpoint is told to add
PRIMARY_EXAMPLE = (
    "primary: {metric: accuracy, attribute: age_group, gap: true, direction: lower} "
    "(or group: A4 instead of gap; direction: which way is better)"
)


@dataclass(frozen=True)
class PrimaryEndpoint:
    """The primary endpoint, computed per run from its predictions' rows.

    Parameters:
        metric: ``accuracy`` (the exact accuracy: answer equals the label) or ``invalid`` (the
            invalid-answer rate), per row 1 or 0.
        attribute: the demographic column the endpoint is about; None: all rows.
        group: the endpoint is the metric on this group of ``attribute``.
        gap: the endpoint is max - min of the metric over ``attribute``'s groups.
        direction: which way is better for a method (``lower`` for a gap, ``higher`` for an accuracy).
    """

    metric: str = "accuracy"
    attribute: str | None = None
    group: str | None = None
    gap: bool = False
    direction: str = "higher"

    def __post_init__(self) -> None:
        if self.metric not in ENDPOINT_METRICS:
            raise ValueError(f"metric {self.metric!r} unknown; choose from {', '.join(ENDPOINT_METRICS)}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}")
        if not isinstance(self.gap, bool):
            raise ValueError(f"gap must be true or false, got {self.gap!r}")
        if self.attribute is None and (self.group is not None or self.gap):
            raise ValueError("group and gap need an attribute")
        if self.attribute is not None and (self.group is None) == (not self.gap):
            raise ValueError(f"with attribute {self.attribute!r}, give either group: <name> or gap: true")

    @property
    def name(self) -> str:
        what = ENDPOINT_METRICS[self.metric]
        if self.gap:
            return f"{self.attribute} {what} gap"
        if self.group is not None:
            return f"{what} of {self.attribute}={self.group}"
        return what


@dataclass
class StudyConfig:
    task: str = "synthetic"
    task_options: dict[str, Any] = field(default_factory=dict)
    model: str = "tiny"
    warm_start_steps: int = 50
    recipe: str = "demo"
    overrides: dict[str, Any] = field(default_factory=dict)
    methods: list[str] = field(default_factory=lambda: ["grpo", "fairgrpo"])
    seeds: int | list[int] = 5
    baseline: str = "grpo"
    comparisons: list[str] | None = None
    primary: PrimaryEndpoint | dict[str, Any] | None = None
    target_effect: float | None = None
    minority: dict[str, str] = field(default_factory=dict)
    eval_split: str = "test"
    eval_limit: int | None = None
    max_new_tokens: int = 24
    eval_batch_size: int = 32
    n_bootstrap: int = 200
    # torch CPU threads; 1 by default: a tiny model gains nothing from more, and on a busy
    # machine two threads stall each other at every OpenMP barrier (measured: 0.5-0.7 s per
    # demo GRPO step with 1 thread vs 1.5-24 s with 2, at load 4.5 on 2 cores). null: torch's choice.
    torch_threads: int | None = 1
    # runs trained at once, each in its own process with ``torch_threads`` threads; 0: one per
    # free CPU core (at most 4, and 1 where a GPU is visible: runs would share it). Results do
    # not depend on it (each run is seeded and single-threaded): only the wall time does.
    workers: int = 1

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else [int(s) for s in self.seeds]

    @property
    def endpoint(self) -> PrimaryEndpoint:
        assert isinstance(self.primary, PrimaryEndpoint), "call check() first"
        return self.primary

    @property
    def compared(self) -> list[str]:
        """The methods tested against the baseline, in the config's order (those still run)."""
        wanted = self.comparisons if self.comparisons is not None else self.methods
        return [m for m in wanted if m != self.baseline and m in self.methods]

    def check(self, where: str) -> None:

        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown or not self.methods:
            raise ClinfairError(
                f"{where}: methods {unknown or '[]'} unknown; choose from {', '.join(METHODS)}"
            )
        if self.baseline not in self.methods:
            raise ClinfairError(
                f"{where}: baseline {self.baseline!r} is not one of the methods {self.methods}"
            )
        if self.comparisons is not None:
            stray = sorted(set(self.comparisons) - set(METHODS))
            if stray or not isinstance(self.comparisons, list):
                raise ClinfairError(f"{where}: comparisons {stray} unknown; choose from {', '.join(METHODS)}")
        if not self.seed_list or len(set(self.seed_list)) != len(self.seed_list):
            raise ClinfairError(f"{where}: seeds must be a positive count or a list of distinct seeds")
        if self.primary is None:
            raise ClinfairError(f"{where}: no primary endpoint; add {PRIMARY_EXAMPLE}")
        if not isinstance(self.primary, PrimaryEndpoint):
            self.primary = load_dataclass(PrimaryEndpoint, self.primary, f"{where}: primary")
        if self.target_effect is None:
            raise ClinfairError(
                f"{where}: no target_effect; add target_effect: 0.05 (the difference in the primary "
                f"endpoint, as a fraction, the study must detect)"
            )
        check_target_effect(self.target_effect, f"{where}: target_effect")
        if len(self.minority) > 1:
            raise ClinfairError(
                f"{where}: minority names one attribute and its group, e.g. {{age_group: A4}}"
            )
        for key in ("max_new_tokens", "eval_batch_size"):
            if not (isinstance(getattr(self, key), int) and getattr(self, key) >= 1):
                raise ClinfairError(f"{where}: {key} must be a whole number >= 1, got {getattr(self, key)!r}")
        if isinstance(self.workers, bool) or not (isinstance(self.workers, int) and self.workers >= 0):
            raise ClinfairError(
                f"{where}: workers must be a whole number >= 0 (0: one per CPU core), got {self.workers!r}"
            )
        if self.eval_limit is not None and not (isinstance(self.eval_limit, int) and self.eval_limit >= 1):
            raise ClinfairError(
                f"{where}: eval_limit must be null or a whole number >= 1, got {self.eval_limit!r}"
            )

    def worker_count(self, runs: int) -> int:
        """How many runs train at once for ``runs`` pending runs (``workers``; 0 resolved here)."""
        if self.workers:
            return max(1, min(self.workers, runs))
        import os

        import torch

        if torch.cuda.is_available() or not self.torch_threads:
            return 1  # one GPU, or torch's own threads over every core
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, min(cores // self.torch_threads, 4, runs))

    def check_recipes(self) -> None:
        """Resolve the recipe for every method now (a bad override fails before data, warm start and
        evaluations, not at the first run); paths are placeholders, set per run by the runner."""
        from clinfair.study.runner import recipe_for

        for method in self.methods:
            recipe_for(self, method, 0, Path("model"), Path("data"), Path("run"))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_target_effect(value: Any, where: str) -> float:
    """A target effect is a positive number (a difference in the primary endpoint, a fraction)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ClinfairError(f"{where} must be a positive difference (e.g. 0.05 for 5 points), got {value!r}")
    return float(value)


@dataclass(frozen=True)
class CommandOverrides:
    """What ``clinfair study`` flags change in a config (None: keep the config's)."""

    steps: int | None = None
    rows: int | None = None
    warm_start_steps: int | None = None
    seeds: int | None = None
    methods: list[str] | None = None
    workers: int | None = None


def apply_overrides(config: StudyConfig, flags: CommandOverrides) -> StudyConfig:
    """The config with the command line's values: ``--steps`` is the recipe's ``max_steps``,
    ``--rows`` the task's ``n`` (rows over all splits)."""
    for flag, value in (
        ("steps", flags.steps),
        ("rows", flags.rows),
        ("warm-start-steps", flags.warm_start_steps),
        ("seeds", flags.seeds),
        ("workers", flags.workers),
    ):
        least = 0 if flag in ("warm-start-steps", "workers") else 1
        if value is not None and value < least:
            raise ClinfairError(f"--{flag} must be at least {least}, got {value}")
    changed = dataclasses.replace(config)
    if flags.steps is not None:
        changed.overrides = {**config.overrides, "max_steps": flags.steps}
    if flags.rows is not None:
        changed.task_options = {**config.task_options, "n": flags.rows}
    if flags.warm_start_steps is not None:
        changed.warm_start_steps = flags.warm_start_steps
    if flags.seeds is not None:
        changed.seeds = flags.seeds
    if flags.methods:
        changed.methods = list(flags.methods)
    if flags.workers is not None:
        changed.workers = flags.workers
    return changed


def load_config(path: str | Path) -> StudyConfig:
    """Read a study YAML; an unknown key or a wrong type is a ClinfairError naming the file and key."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ClinfairError(f"study config {path} not found")
    try:
        values = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ClinfairError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise ClinfairError(f"{path}: a study config is a YAML mapping")
    for key in ("task_options", "overrides", "minority", "primary"):
        if key in values and not isinstance(values[key], dict):
            raise ClinfairError(f"{path}: {key} must be a mapping")
    for key in ("warm_start_steps", "n_bootstrap"):
        if key in values and not (isinstance(values[key], int) and values[key] >= 0):
            raise ClinfairError(f"{path}: {key} must be a whole number >= 0, got {values[key]!r}")
    config = load_dataclass(StudyConfig, values, str(path))
    config.check(str(path))
    return config
