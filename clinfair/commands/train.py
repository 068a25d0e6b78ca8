"""``clinfair train``: GRPO or a fairness-aware variant of it, from a recipe, under Accelerate.

    clinfair train --method fairgrpo --recipe tiny-cpu                       # CPU, seconds
    clinfair train --method fairgrpo --recipe medgemma-4b-it max_steps=200   # key=value overrides
    accelerate launch --config_file configs/accelerate/zero3.yaml -m clinfair.cli \\
        train --method fairgrpo --recipe medgemma-4b-it                     # several GPUs

The run happens in this process, so ``accelerate launch`` starts one per device. It writes
to the recipe's ``output_dir`` (by default ``runs/<recipe>-<method>-seed<N>``): the trained
model and processor, ``recipe.yaml`` (the keys used, overrides included) and ``fairness.jsonl``
(``clinfair.trainers.callbacks``). A folder that already holds a run is never replaced
silently: ``resume_from_checkpoint=true`` continues it, ``--overwrite`` replaces it.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from clinfair.core.arguments import add_dataclass_arguments, field_specs, from_namespace
from clinfair.core.errors import ClinfairError
from clinfair.core.yamlio import load_yaml
from clinfair.trainers.methods import METHODS
from clinfair.trainers.recipes import (
    RecipeArguments,
    load_recipe,
    parse_overrides,
    resolve_recipe_path,
    shipped_recipes,
)


@dataclass
class TrainArguments:
    """The flags of ``clinfair train``; everything else is a recipe key (``key=value`` overrides).

    Parameters:
        method (`str`):
            A training method of ``clinfair.trainers.methods.METHODS``.
        recipe (`str`):
            A recipe file, or the name of a recipe shipped with clinfair (``trainers/recipes/``).
        overwrite (`bool`, defaults to `False`):
            Replace an earlier ``clinfair train`` run in ``output_dir`` instead of refusing it.
    """

    method: str = field(
        metadata={"help": "training method (listed below)", "choices": tuple(METHODS), "metavar": "METHOD"}
    )
    recipe: str = field(
        metadata={"help": "a recipe file, or the name of a shipped one (listed below, e.g. tiny-cpu)"}
    )
    overwrite: bool = field(
        default=False,
        metadata={"help": "replace an earlier clinfair train run in output_dir (default: refuse it)"},
    )


#: What ``clinfair train`` leaves in its output folder; a folder holding any of them holds a run.
RUN_MARKERS = ("recipe.yaml", "fairness.jsonl", "config.json", "tiny-model", "best")


def existing_run(output_dir: Path) -> str | None:
    """What in OUTPUT_DIR shows an earlier run (a file name or a checkpoint), or None."""
    if not output_dir.is_dir():
        return None
    for name in RUN_MARKERS:
        if (output_dir / name).exists():
            return name
    checkpoints = sorted(p.name for p in output_dir.glob("checkpoint-*"))
    return checkpoints[-1] if checkpoints else None


def check_output_dir(output_dir: Path, *, resume: object, overwrite: bool) -> bool:
    """Refuse to train into a folder that holds something, unless resuming it or told to replace it.

    Returns whether the folder is to be replaced (``--overwrite`` on an earlier run). A folder
    that holds files but no run is never replaced: it may be anything of the user's."""
    if not output_dir.exists() or resume not in (None, False, ""):
        return False  # resume_from_checkpoint is checked by the recipe loader
    if not output_dir.is_dir():
        raise ClinfairError(f"output_dir {output_dir} is a file, not a folder; choose another output_dir=")
    found = existing_run(output_dir)
    if found is None:
        if any(output_dir.iterdir()):
            raise ClinfairError(
                f"output_dir {output_dir} is not empty and holds no clinfair train run; choose another output_dir="
            )
        return False
    if overwrite:
        return True
    has_checkpoint = any(output_dir.glob("checkpoint-*"))
    resume_hint = (
        "resume_from_checkpoint=true to continue it, or "
        if has_checkpoint
        else "(it has no checkpoint to resume) "
    )
    raise ClinfairError(
        f"output_dir {output_dir} already holds a training run ({found}); pass {resume_hint}--overwrite to "
        "replace it, or choose another output_dir="
    )


def _epilog() -> str:
    """The methods and clinfair's recipe keys with their help, and the shipped recipes."""
    keys = field_specs(RecipeArguments).values()
    width = max(len(name) for name in [*METHODS, *(spec.name for spec in keys)]) + 2
    methods = "\n".join(f"  {m.name:<{width}}{m.description}" for m in METHODS.values())
    keys_help = "\n".join(f"  {spec.name:<{width}}{spec.help}" for spec in keys)
    recipes = textwrap.fill(
        ", ".join(shipped_recipes()), initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False
    )
    return (
        f"methods:\n{methods}\n\nshipped recipes:\n{recipes}\n\n"
        f"clinfair's recipe keys (every other key is a field of the method's TRL GRPOConfig):\n{keys_help}"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a VLM with GRPO or a fairness-aware variant (" + ", ".join(METHODS) + ")",
        description="Train from a TRL-style YAML recipe with key=value overrides. Runs in this process:\n"
        "launch it with `accelerate launch -m clinfair.cli train ...` for several devices.\n"
        "Writes the model, recipe.yaml and fairness.jsonl to the recipe's output_dir.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dataclass_arguments(parser, TrainArguments)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="recipe keys to override")
    parser.set_defaults(func=run)


def recipe_model(recipe: str, overrides: list[str]) -> str | None:
    """The recipe's ``model``, read without building the method's config (which imports TRL); None
    when the recipe cannot be read this way (``load_recipe`` then says why)."""

    try:
        values = load_yaml(resolve_recipe_path(recipe).read_text()) or {}
        model = parse_overrides(overrides).get("model", values.get("model"))
    except Exception:  # noqa: BLE001 - any problem is load_recipe's to report, with its context
        return None
    return str(model) if model else None


def check_train_output(recipe, recipe_name: str) -> None:
    """``output_dir`` is none of the run's inputs (the recipe file, a local model, the prepared data)
    and holds no other command's files it would overwrite (``clinfair.core.io.check_output_folder``)."""
    from clinfair.core.io import check_output_folder
    from clinfair.trainers.recipes import resolve_recipe_path

    model, data_dir = recipe.arguments.model, Path(recipe.arguments.data_dir)
    check_output_folder(
        recipe.config.output_dir,
        inputs=[
            ("--recipe file", resolve_recipe_path(recipe_name)),
            ("model folder", model if Path(model).exists() else None),
            *((f"prepared {task} data", data_dir / task) for task in recipe.arguments.tasks),
        ],
        writes=("recipe.yaml", "fairness.jsonl"),
        command="clinfair train",
        flag="output_dir",
    )


def run(args: argparse.Namespace) -> int:
    from clinfair.benchmark.locate import locate_model

    train = from_namespace(TrainArguments, args)
    model = recipe_model(train.recipe, args.overrides)
    if model and model != "tiny":  # the cause in one line, before TRL and torch are imported
        locate_model(model)
    recipe = load_recipe(train.recipe, train.method, args.overrides)
    check_train_output(recipe, train.recipe)
    output_dir = Path(recipe.config.output_dir)
    replace = check_output_dir(
        output_dir, resume=recipe.config.resume_from_checkpoint, overwrite=train.overwrite
    )
    from accelerate import PartialState

    from clinfair.trainers.build import build_trainer

    state = PartialState()
    state.wait_for_everyone()  # every process has checked the folder before the main one replaces it
    if replace and state.is_main_process:
        print(f"clinfair train: --overwrite: replacing the earlier run in {output_dir}")
        shutil.rmtree(output_dir)
    state.wait_for_everyone()

    trainer = build_trainer(recipe)
    log = use_compact_log(trainer)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=recipe.config.resume_from_checkpoint)
    trainer.save_model(recipe.config.output_dir)
    if trainer.accelerator.is_main_process:
        for line in training_summary(
            recipe.method,
            trainer.state.global_step,
            log.rewards,
            time.perf_counter() - started,
            output_dir,
        ):
            print(line)
        selection = output_dir / "best" / "selection.json"
        if recipe.arguments.select_by and selection.is_file():
            best = json.loads(selection.read_text())
            print(
                f"  best on validation {best['select_by']} = {best['value']:.4f} at step "
                f"{best['step']}, kept in {selection.parent}"
            )
    return 0


# -- what training prints: one compact line per logging step, then a summary ------------------------------


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def compact_log_line(
    logs: dict,
    step: int,
    max_steps: int,
    seconds_per_step: float | None,
    evaluation: dict | None = None,
) -> str | None:
    """One line for one of the trainer's log dictionaries: the training values that say how it goes
    (loss, mean reward and its spread, completion length, seconds per step) or, for the fairness
    callback's evaluation, how many answers were invalid (from its ``fairness.jsonl`` record,
    ``evaluation``) and the paper protocol's accuracy, F1 and F1 gap; None for the final totals
    (the summary reports them)."""
    if "train_runtime" in logs:
        return None
    where = f"step {step}/{max_steps}" if max_steps and max_steps > 0 else f"step {step}"
    if any(key.startswith("fairness/") for key in logs):
        parts = [
            f"{label} {value:.3f}"
            for key, label in (
                ("fairness/overall/accuracy", "accuracy"),
                ("fairness/overall/f1", "F1"),
                ("fairness/overall/f1_gap", "F1 gap"),
            )
            if (value := _number(logs.get(key))) is not None
        ]
        invalid = _invalid_text(evaluation)
        return f"{where}  validation: {invalid}paper protocol " + (", ".join(parts) or "no values")
    parts = []
    if (loss := _number(logs.get("loss"))) is not None:
        parts.append(f"loss {loss:.4g}")
    if (reward := _number(logs.get("reward"))) is not None:
        spread = _number(logs.get("reward_std"))
        parts.append(f"reward {reward:.3f}" + (f" ± {spread:.3f}" if spread is not None else ""))
    if (length := _number(logs.get("completions/mean_length"))) is not None:
        parts.append(f"{length:.0f} tokens")
    if seconds_per_step is not None:
        parts.append(f"{seconds_per_step:.1f} s/step")
    return f"{where}  " + ", ".join(parts) if parts else None


def use_compact_log(trainer):
    """Replace the trainer's log printing (raw dictionaries) by :func:`compact_log_line`, keeping the
    progress bar; returns the callback, whose ``rewards`` lists (step, mean reward) as logged."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class CompactLog(ProgressCallback):
        def __init__(self):
            super().__init__()
            self.rewards: list[tuple[int, float]] = []
            self._last: tuple[int, float] | None = None

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if (reward := _number(logs.get("reward"))) is not None:
                self.rewards.append((state.global_step, reward))
            now, per_step = time.perf_counter(), None
            if "loss" in logs:
                if self._last is not None and state.global_step > self._last[0]:
                    per_step = (now - self._last[1]) / (state.global_step - self._last[0])
                self._last = (state.global_step, now)
            if not state.is_world_process_zero:
                return
            evaluation = None
            if any(key.startswith("fairness/") for key in logs):
                evaluation = _last_fairness_record(Path(args.output_dir) / "fairness.jsonl")
            line = compact_log_line(logs, state.global_step, state.max_steps, per_step, evaluation)
            if line is None:
                return
            if self.training_bar is not None:
                self.training_bar.write(line)
            else:
                print(line)

    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    callback = CompactLog()
    if trainer.args.disable_tqdm:  # keep the lines, without the bar
        callback.on_train_begin = lambda *a, **k: None
        callback.on_step_end = lambda *a, **k: None
        callback.on_prediction_step = lambda *a, **k: None
    trainer.add_callback(callback)
    return callback


def training_summary(
    method: str, steps: int, rewards: list[tuple[int, float]], seconds: float, output_dir: Path
) -> list[str]:
    """The end of a training run in a few lines: steps and time, the mean reward over the run and
    its last quarter, the last fairness evaluation per group (``fairness.jsonl``), where the model is."""
    lines = [f"clinfair train: {method} done: {steps} steps in {seconds:.0f} s"]
    if rewards:
        values = [reward for _, reward in rewards]
        tail = values[-max(1, len(values) // 4) :]
        lines.append(
            f"  mean reward {sum(values) / len(values):.3f} over the run, {sum(tail) / len(tail):.3f} "
            f"over its last {len(tail)} logged step(s)"
        )
    record = _last_fairness_record(output_dir / "fairness.jsonl")
    if record is not None:
        overall = record.get("overall") or {}
        shown = ", ".join(
            f"{label} {overall[key]:.3f}"
            for key, label in (("accuracy", "accuracy"), ("f1", "F1"), ("f1_gap", "F1 gap"))
            if isinstance(overall.get(key), int | float)
        )
        lines.append(
            f"  last fairness evaluation (step {record.get('step')}, {record.get('split')} split): "
            f"{_invalid_text(record)}paper protocol {shown or 'no values'}"
        )
        for dataset, attributes in (record.get("groups") or {}).items():
            for attribute, groups in attributes.items():
                cells = [
                    f"{group} {values['accuracy']:.2f} (n={values['rows']})"
                    for group, values in groups.items()
                    if values.get("rows") and isinstance(values.get("accuracy"), int | float)
                ]
                if cells:
                    lines.append(f"    {dataset} {attribute} accuracy (paper protocol): " + ", ".join(cells))
    lines.append(f"  model: {output_dir}")
    return lines


def _invalid_text(record: dict | None) -> str:
    """ "3/8 answers invalid; " from a fairness.jsonl record, first: a model that never answers has a
    paper-protocol accuracy of 0.5 on a balanced binary task."""
    if not record or not isinstance(record.get("rows"), int) or not isinstance(record.get("invalid"), int):
        return ""
    return f"{record['invalid']}/{record['rows']} answers invalid; "


def _last_fairness_record(path: Path) -> dict | None:
    if not path.is_file():
        return None
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        return json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None
