"""Resampling baseline: draw training prompts with probability ∝ 1 / count of (domain, group).

Every (domain, group) cell then gets the same expected number of draws, so minority groups
are seen as often as majority ones (drawing is with replacement). Advantages are TRL's.

The sampler keeps TRL's ``RepeatSampler`` layout, which GRPO relies on: the prompts drawn
for one generation batch form a chunk of ``generation_batch_size / G`` indices, each index
is repeated G times in a row (its rollouts), and the chunk is repeated
``num_iterations × steps_per_generation`` times (the steps that reuse one generation). The
generator is seeded with ``args.seed``, so every process draws the same sequence and takes
its own slice of it, as with TRL's sampler.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from clinfair.trainers.advantage import resampling_weights
from clinfair.trainers.grpo import GRPOConfig, GRPOTrainer, default_config
from torch.utils.data import Sampler


class GroupBalancedRepeatSampler(Sampler[int]):
    """``trl.trainer.utils.RepeatSampler``'s layout, with prompts drawn by ``weights``.

    Each pass draws ``len(weights)`` prompts with replacement (so an epoch has as many
    prompts as the dataset), cuts them into chunks of ``batch_size`` (an incomplete last
    chunk is dropped, as TRL does), and yields each chunk ``repeat_count`` times with every
    index repeated ``mini_repeat_count`` times in a row.
    """

    def __init__(
        self,
        weights: Sequence[float],
        mini_repeat_count: int,
        batch_size: int = 1,
        repeat_count: int = 1,
        seed: int | None = None,
    ):
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.num_samples = len(self.weights)
        self.mini_repeat_count = mini_repeat_count
        self.batch_size = batch_size
        self.repeat_count = repeat_count
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    def __iter__(self) -> Iterator[int]:
        drawn = torch.multinomial(self.weights, self.num_samples, replacement=True, generator=self.generator)
        indexes = drawn.tolist()
        chunks = [indexes[i : i + self.batch_size] for i in range(0, len(indexes), self.batch_size)]
        for chunk in chunks:
            if len(chunk) < self.batch_size:
                continue
            for _ in range(self.repeat_count):
                for index in chunk:
                    for _ in range(self.mini_repeat_count):
                        yield index

    def __len__(self) -> int:
        full_chunks = self.num_samples // self.batch_size
        return full_chunks * self.batch_size * self.mini_repeat_count * self.repeat_count


@dataclass
class ResamplingConfig(GRPOConfig):
    """``GRPOConfig`` for the resampling baseline.

    Parameters: those of ``GRPOConfig`` (no field added); the sampler balances the cells of
    ``domain_column`` × ``group_column``.
    """


class ResamplingTrainer(GRPOTrainer):
    """GRPO whose training prompts are drawn group-balanced (:class:`GroupBalancedRepeatSampler`)."""

    _tag_names = ["trl", "grpo-resampling", "clinfair"]

    def __init__(self, model, reward_funcs, args: ResamplingConfig | None = None, **kwargs):
        args = args or default_config(ResamplingConfig, model, "Resampling")
        super().__init__(model, reward_funcs, args=args, **kwargs)

    def _get_train_sampler(self, dataset=None) -> Sampler:
        dataset = self.train_dataset if dataset is None else dataset
        if not hasattr(dataset, "column_names") or not hasattr(dataset, "__len__"):
            raise ValueError("resampling needs a map-style dataset (its group counts must be known up front)")
        return GroupBalancedRepeatSampler(
            self.sampling_weights(dataset),
            mini_repeat_count=self.num_generations,
            batch_size=self.args.generation_batch_size // self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
            seed=self.args.seed,
        )

    def sampling_weights(self, dataset) -> list[float]:
        """Probability of each row ∝ 1 / count of its (domain, group); a missing column is all 'UNK'."""
        columns = []
        for name in (self.args.domain_column, self.args.group_column):
            if name in dataset.column_names:
                columns.append(dataset[name])
            else:
                warnings.warn(
                    f"resampling: the dataset has no {name!r} column; every row counts as 'UNK'", stacklevel=2
                )
                columns.append([None] * len(dataset))
        return resampling_weights(*columns).tolist()
