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
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from clinfair.core.arguments import add_dataclass_arguments, field_specs, from_namespace
from clinfair.core.errors import ClinfairError
from clinfair.trainers.methods import METHODS
from clinfair.trainers.recipes import RecipeArguments, shipped_recipes


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
    from clinfair.core.yamlio import load_yaml
    from clinfair.trainers.recipes import parse_overrides, resolve_recipe_path

    try:
        values = load_yaml(resolve_recipe_path(recipe).read_text()) or {}
        model = parse_overrides(overrides).get("model", values.get("model"))
    except Exception:  # noqa: BLE001 - any problem is load_recipe's to report, with its context
        return None
    return str(model) if model else None


def run(args: argparse.Namespace) -> int:
    from clinfair.benchmark.locate import locate_model
    from clinfair.trainers.recipes import load_recipe

    train = from_namespace(TrainArguments, args)
    model = recipe_model(train.recipe, args.overrides)
    if model and model != "tiny":  # the cause in one line, before TRL and torch are imported
        locate_model(model)
    recipe = load_recipe(train.recipe, train.method, args.overrides)
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
    trainer.train(resume_from_checkpoint=recipe.config.resume_from_checkpoint)
    trainer.save_model(recipe.config.output_dir)
    if trainer.accelerator.is_main_process:
        print(f"clinfair train: {recipe.method} model saved to {recipe.config.output_dir}")
        selection = Path(recipe.config.output_dir) / "best" / "selection.json"
        if recipe.arguments.select_by and selection.is_file():
            best = json.loads(selection.read_text())
            print(
                f"clinfair train: best on validation {best['select_by']} = {best['value']:.4f} at step "
                f"{best['step']}, kept in {selection.parent}"
            )
    return 0
