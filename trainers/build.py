"""Build the trainer a resolved recipe describes: data, model, rewards, fairness callback.

``clinfair train`` (and the study) call :func:`build_trainer`; under ``accelerate launch`` each
process builds its own, with data and the tiny model made once by the main process.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml
from clinfair.benchmark.checks import preflight_tasks
from clinfair.benchmark.generation import GenerationSettings, HFBackend
from clinfair.benchmark.models import build_tiny_vlm, load_model_and_processor
from clinfair.trainers.data import build_grpo_dataset, load_task_split
from clinfair.trainers.methods import get_method
from clinfair.trainers.recipes import reward_specs
from clinfair.trainers.rewards import make_reward

from clinfair.core.errors import ClinfairError


def build_trainer(recipe):
    """The trainer a resolved recipe describes, with its fairness callback attached."""
    from accelerate import PartialState
    from clinfair.trainers.callbacks import FairnessCallback

    arguments, config = recipe.arguments, recipe.config
    if config.use_vllm and importlib.util.find_spec("vllm") is None:
        raise ClinfairError("use_vllm needs vLLM: pip install 'clinfair[vllm]' (CUDA only)")
    state = PartialState()
    if recipe.ignored and state.is_main_process:
        print(
            f"clinfair train: keys for other methods, not used by {recipe.method}: {', '.join(recipe.ignored)}"
        )
    output_dir = Path(config.output_dir)
    try:
        with state.main_process_first():  # data and the tiny model are built once, then read by all
            model_path = _model_path(arguments.model, output_dir)
            train_dataset = build_grpo_dataset(
                arguments.tasks,
                arguments.data_dir,
                arguments.train_split,
                group_attributes=arguments.group_attributes,
                limit=arguments.train_limit,
            )
            eval_sets = {
                task: load_task_split(task, arguments.data_dir, arguments.eval_split, arguments.eval_limit)
                for task in (arguments.tasks if arguments.eval_split else [])
            }
        model, processor = load_model_and_processor(model_path, dtype=arguments.dtype)
        _preflight(model, processor, arguments, state.is_main_process)
    except FileNotFoundError as error:  # a model path that does not exist
        raise ClinfairError(error.args[0] if error.args else str(error)) from None

    try:
        rewards = _rewards(arguments.rewards)
    except (ValueError, OSError) as error:  # bad reward parameters, or a judge model that cannot load
        raise ClinfairError(str(error).strip().splitlines()[0]) from None
    trainer_class = get_method(recipe.method).trainer_class()
    trainer = trainer_class(
        model, rewards, args=config, train_dataset=train_dataset, processing_class=processor
    )
    if eval_sets:
        trainer.add_callback(
            FairnessCallback(
                trainer,
                eval_sets,
                eval_steps=arguments.fairness_eval_steps,
                output_file=output_dir / "fairness.jsonl",
                method=recipe.method,
                split=arguments.eval_split,
                max_new_tokens=arguments.fairness_max_new_tokens,
                batch_size=arguments.fairness_batch_size,
                select_by=arguments.select_by,
            )
        )
    if state.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "recipe.yaml").write_text(yaml.safe_dump({"method": recipe.method, **recipe.values}))
    return trainer


def _preflight(model, processor, arguments, verbose: bool) -> None:
    """The checks of ``clinfair check-model`` on two training rows of each task, before TRL sees the model.

    A checkpoint without a chat template gets the plain prompt as its template (TRL renders
    conversational prompts with it), as ``clinfair eval`` does.
    """

    backend = HFBackend(model, processor, GenerationSettings(max_new_tokens=2, batch_size=2))
    if backend.plain_prompt and verbose:
        print(
            "clinfair train: the checkpoint has no chat template; using the plain prompt (image tokens, then text)"
        )
    preflight_tasks(backend, arguments.tasks, arguments.data_dir, arguments.train_split)


def _rewards(entries: list[Any]) -> list:

    return [make_reward(name, **params) for name, _, params in reward_specs(entries)]


def _model_path(model: str, output_dir: Path) -> str:
    """``model`` itself, or for "tiny" a tiny random VLM built (once) in ``output_dir/tiny-model``."""
    if model != "tiny":
        return model

    folder = output_dir / "tiny-model"
    if not (folder / "config.json").is_file():
        build_tiny_vlm(folder)
    return str(folder)
