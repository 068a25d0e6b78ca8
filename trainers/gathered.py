"""The one place clinfair reaches inside TRL: advantages from the gathered generation batch.

TRL 1.16 has no advantage hook. ``GRPOTrainer._generate_and_score_completions`` generates
this process's share of a generation batch, calls ``_calculate_rewards`` (which scores the
local completions and *gathers* the reward matrix over all processes, in process order),
computes GRPO advantages inline over the gathered batch and keeps this process's slice
``[rank·B, (rank+1)·B)``. A prompt's G rollouts are consecutive in that gathered order but
may straddle two processes, and FairGRPO's domain/group statistics need the whole batch,
so :class:`GatheredBatchTrainer` overrides the two methods:

* ``_calculate_rewards``: calls TRL's, keeps the gathered reward matrix, and gathers the
  domain and group columns with ``gather_object`` (same process order);
* ``_generate_and_score_completions``: calls TRL's, then (training only) recomputes the
  advantages of the whole gathered batch with :meth:`compute_advantages`, replaces
  ``output["advantages"]`` by this process's slice, exactly as TRL slices, and replaces
  TRL's logged advantages (the completions table) by the ones used.

Every process computes the same statistics from the same gathered data, so stateful
scalers stay identical across processes without any broadcast. Evaluation batches keep
TRL's advantages and never touch the training statistics.

The weighted reward sum is TRL's ``multi_objective_aggregation="sum_then_normalize"``:
sum_k w_k·r_k, with NaN (unscorable) where every reward function returned None.

A checkpoint carries the advantage state as versioned JSON (``clinfair_advantage_state.json``,
``clinfair.trainers.advantage.advantage_state_to_json``), never a pickle: resuming from a downloaded
checkpoint runs no code from it. An unknown version, or the pickle an older clinfair wrote
(``clinfair_advantage_state.pkl``, never opened), is an :class:`AdvantageStateError` saying
what to do (:func:`read_advantage_state` finds it before training starts).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.utils import gather_object
from clinfair.trainers.advantage import (
    AdvantageStateError,
    advantage_state_from_json,
    advantage_state_to_json,
)
from clinfair.trainers.grpo import GRPOTrainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from clinfair.core.io import atomic_write_json

STATE_FILE = "clinfair_advantage_state.json"
LEGACY_STATE_FILE = "clinfair_advantage_state.pkl"  # clinfair <= 0.1.0; never loaded
STATE_FORMAT = "clinfair.advantage_state"


def read_advantage_state(checkpoint: str | os.PathLike) -> Any | None:
    """The advantage state saved in a checkpoint folder, or None when it holds none.

    Raises :class:`AdvantageStateError` (one line, naming the file) for a file that is not
    JSON, an unknown format or version, or a checkpoint holding only the pickle of an older
    clinfair (not loaded: a pickle can run code).
    """
    folder = Path(checkpoint)
    path = folder / STATE_FILE
    if not path.is_file():
        if (folder / LEGACY_STATE_FILE).exists():
            raise AdvantageStateError(
                f"{folder / LEGACY_STATE_FILE}: a pickled advantage state (clinfair <= 0.1.0) is never loaded, "
                "since a pickle can run code; delete it to resume with fresh fairness statistics"
            )
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise AdvantageStateError(f"{path}: not readable as JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != STATE_FORMAT:
        raise AdvantageStateError(f"{path}: not a clinfair advantage state (format is not {STATE_FORMAT!r})")
    try:
        return advantage_state_from_json(document)
    except AdvantageStateError as error:
        raise AdvantageStateError(f"{path}: {error}") from None


class GatheredBatchTrainer(GRPOTrainer):
    """``GRPOTrainer`` whose training advantages come from :meth:`compute_advantages`.

    Subclasses implement ``compute_advantages(rewards, domains, groups)`` over the gathered
    batch (numpy, P·G rows, prompt-major) and may return their state for checkpoints from
    ``advantage_state()`` / restore it in ``load_advantage_state(state)``.

    After each training generation batch, ``last_batch`` holds what was used:
    ``{"rewards", "domains", "groups", "advantages"}`` (gathered, all processes).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError(
                f"{type(self).__name__} scales the summed reward; multi_objective_aggregation must be "
                f"'sum_then_normalize', got {self.multi_objective_aggregation!r}"
            )
        self._gathered: dict[str, Any] = {}
        self._warned_columns: set[str] = set()
        self.last_batch: dict[str, Any] = {}

    # -- the method's part --------------------------------------------------------------------

    def compute_advantages(self, rewards: np.ndarray, domains: list, groups: list) -> np.ndarray:
        """Advantages of the gathered batch (P·G rows; NaN reward = unscorable). Subclasses define it."""
        raise NotImplementedError

    def advantage_state(self) -> Any:
        """The running statistics to save with a checkpoint (None: nothing to save)."""
        return None

    def load_advantage_state(self, state: Any) -> None:
        """Restore what :meth:`advantage_state` returned, when resuming from a checkpoint."""

    # -- TRL overrides ------------------------------------------------------------------------

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._gathered = {
            "rewards_per_func": rewards_per_func,
            "domains": gather_object(self._column(inputs, self.args.domain_column)),
            "groups": gather_object(self._column(inputs, self.args.group_column)),
        }
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        if not self.model.training:
            return output
        rewards_per_func = self._gathered["rewards_per_func"]
        weights = self.reward_weights.to(rewards_per_func.device)
        rewards = (rewards_per_func * weights.unsqueeze(0)).nansum(dim=1)
        rewards[torch.isnan(rewards_per_func).all(dim=1)] = torch.nan  # unscorable, as in TRL
        rewards = rewards.cpu().double().numpy()
        domains, groups = self._gathered["domains"], self._gathered["groups"]
        advantages = np.asarray(self.compute_advantages(rewards, domains, groups), dtype=np.float64)

        local = output["advantages"]
        start = self.accelerator.process_index * len(local)
        mine = advantages[start : start + len(local)]  # this process's slice, as TRL slices
        output["advantages"] = torch.as_tensor(mine, dtype=local.dtype, device=local.device)
        logged = self._logs["advantages"]  # TRL appended the gathered advantages last; swap them
        for _ in range(min(len(advantages), len(logged))):
            logged.pop()
        logged.extend(advantages.tolist())
        self.last_batch = {"rewards": rewards, "domains": domains, "groups": groups, "advantages": advantages}
        return output

    def _column(self, inputs: list[dict[str, Any]], name: str) -> list[Any]:
        """A dataset column of the local rows; all None (-> "UNK") with a warning if absent."""
        if name in inputs[0]:
            return [row.get(name) for row in inputs]
        if name not in self._warned_columns:
            warnings.warn(
                f"{type(self).__name__}: the training rows have no {name!r} column; every row counts as "
                "'UNK' (keep remove_unused_columns=False and build the dataset with clinfair.trainers.data)",
                stacklevel=2,
            )
            self._warned_columns.add(name)
        return [None] * len(inputs)

    def _log_scalars(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self._metrics["train"][key].append(float(value))

    # -- checkpoints: the statistics window is part of the training state ---------------------

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        state = self.advantage_state()
        if state is not None and self.args.should_save:
            folder = os.path.join(
                self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            )
            # atomic: a kill mid-save must not leave a state that blocks resuming from this checkpoint
            atomic_write_json(
                Path(folder) / STATE_FILE, {"format": STATE_FORMAT, **advantage_state_to_json(state)}
            )

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        state = read_advantage_state(checkpoint) if checkpoint is not None else None
        if state is not None:
            self.load_advantage_state(state)
