"""``clinfair train``: GRPO or a fairness-aware variant of it, from a recipe, under Accelerate.

    clinfair train --method fairgrpo --recipe tiny-cpu                       # CPU, seconds
    clinfair train --method fairgrpo --recipe medgemma-4b-it max_steps=200   # key=value overrides
    accelerate launch --config_file configs/accelerate/zero3.yaml -m clinfair.cli \\
        train --method fairgrpo --recipe medgemma-4b-it                     # several GPUs

The run happens in this process, so ``accelerate launch`` starts one per device. It writes
to the recipe's ``output_dir``: the trained model and processor, ``recipe.yaml`` (the keys
used, overrides included) and ``fairness.jsonl`` (``trainers.callbacks``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tasks.errors import ClinfairError

#: The methods of ``trainers.recipes.METHODS`` (listed here so ``--help`` does not import TRL).
METHOD_NAMES = (
    "grpo",
    "dr_grpo",
    "fairgrpo",
    "fairgrpo_nd",
    "resampling",
    "dro",
    "rloo",
    "reinforce_pp",
    "reinforce_pp_baseline",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a VLM with GRPO, Dr.GRPO, FairGRPO, FairGRPO_ND, resampling, group-DRO, RLOO or REINFORCE++",
        description="Train from a TRL-style YAML recipe (configs/recipes/) with key=value overrides. Runs in this "
        "process: launch it with `accelerate launch -m clinfair.cli train ...` for several devices. Writes the "
        "model, recipe.yaml and fairness.jsonl to the recipe's output_dir.",
    )
    parser.add_argument("--method", required=True, choices=METHOD_NAMES)
    parser.add_argument(
        "--recipe", required=True, help="a recipe file, or the name of one in configs/recipes (e.g. tiny-cpu)"
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="recipe keys to override")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trainers.recipes import RecipeError, load_recipe

    try:
        recipe = load_recipe(args.recipe, args.method, args.overrides)
    except RecipeError as error:
        raise ClinfairError(str(error)) from None
    from trainers.build import build_trainer

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
