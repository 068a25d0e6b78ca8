"""``clinfair train``: GRPO or a fairness-aware variant of it, from a recipe, under Accelerate.

    clinfair train --method fairgrpo --recipe tiny-cpu                       # CPU, seconds
    clinfair train --method fairgrpo --recipe medgemma-4b-it max_steps=200   # key=value overrides
    accelerate launch --config_file configs/accelerate/zero3.yaml -m clinfair.cli \\
        train --method fairgrpo --recipe medgemma-4b-it                     # several GPUs

The run happens in this process, so ``accelerate launch`` starts one per device. It writes
to the recipe's ``output_dir``: the trained model and processor, ``recipe.yaml`` (the keys
used, overrides included) and ``fairness.jsonl`` (``clinfair.trainers.callbacks``).
"""

from __future__ import annotations

import argparse
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from clinfair.core.arguments import add_dataclass_arguments, field_specs, from_namespace
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
    """

    method: str = field(
        metadata={"help": "training method (listed below)", "choices": tuple(METHODS), "metavar": "METHOD"}
    )
    recipe: str = field(
        metadata={"help": "a recipe file, or the name of a shipped one (listed below, e.g. tiny-cpu)"}
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
    from clinfair.trainers.recipes import load_recipe

    train = from_namespace(TrainArguments, args)
    recipe = load_recipe(train.recipe, train.method, args.overrides)
    check_train_output(recipe, train.recipe)
    from clinfair.trainers.build import build_trainer

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
