"""Helpers shared by the trainer tests and the two-process script (``two_process_fairgrpo.py``)."""

from __future__ import annotations

import zlib

NUM_GENERATIONS = 2
#: TRL config settings of every trainer test: CPU, no logging service or checkpoints, seeded
CPU = dict(
    use_cpu=True,
    bf16=False,
    report_to="none",
    save_strategy="no",
    seed=0,
    max_completion_length=4,
    num_generations=NUM_GENERATIONS,
    logging_steps=1,
)


def keyed_reward(prompts, completions, id, **kwargs) -> list[float]:
    """A reward fixed by (prompt id, rollout index), whatever was generated.

    The rollout index of a row is its position in the gathered batch modulo G; a process's
    rows start at ``process_index · len(completions)`` (TRL's layout). So a one-process and a
    two-process run of the same batch see the same rewards. Values in {0, 0.25, .., 1}.
    """
    from accelerate import PartialState

    start = PartialState().process_index * len(completions)
    return [zlib.crc32(f"{key}:{(start + i) % NUM_GENERATIONS}".encode()) % 5 / 4 for i, key in enumerate(id)]


def load(model_path: str):
    """The (model, processor) of a checkpoint folder in float32, as the trainer tests train it."""
    from clinfair.benchmark.models import load_model_and_processor

    return load_model_and_processor(model_path, dtype="float32")


def two_domain_dataset(data_dir: str, limit: int = 12):
    """The synthetic GRPO dataset with every other row moved to a second domain."""
    from clinfair.trainers.data import build_grpo_dataset

    dataset = build_grpo_dataset(["synthetic"], data_dir, limit=limit)
    return dataset.map(lambda row, i: {"dataset": "synthetic" if i % 2 else "other"}, with_indices=True)


def fair_config(output_dir: str, per_device_batch: int, **overrides):
    from clinfair.trainers.fairgrpo import FairGRPOConfig

    settings = CPU | dict(
        output_dir=output_dir, max_steps=2, per_device_train_batch_size=per_device_batch, learning_rate=1e-4
    )
    return FairGRPOConfig(**(settings | overrides))


def recording(trainer_class):
    """``trainer_class`` that records, per generation batch, the gathered batch and its local slice."""

    class Recording(trainer_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.records = []

        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            batch = self.last_batch
            self.records.append(
                {
                    "rank": self.accelerator.process_index,
                    "rewards": batch["rewards"].tolist(),
                    "domains": list(batch["domains"]),
                    "groups": list(batch["groups"]),
                    "advantages": batch["advantages"].tolist(),
                    "local_advantages": output["advantages"].tolist(),
                }
            )
            return output

    return Recording
