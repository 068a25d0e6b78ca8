"""FairGRPO (Dai et al. 2025, arXiv 2510.19893): GRPO advantages scaled by group temperatures.

The maths lives in ``clinfair.trainers.advantage`` (pure numpy); this is the TRL adapter. Each
training generation batch is gathered over all processes (``clinfair.trainers.gathered``), and the
advantages of the whole batch come from a stateful ``FairAdvantageScaler``::

    s = GRPO advantage;  a = s / max(T_d · T_{d,g}, ε);  then re-normalised over the batch,
    T(N, r̄) = √(N·r̄) over the statistics window (by default the whole run so far),

with d the prompt's domain (``dataset`` column) and g its demographic group (``group``).
Small or poorly performing groups get small temperatures, so their signal is amplified.

``fair_mode="paper"`` (default) is the paper's formula made robust (floored r̄, z-score),
``fair_mode="reference"`` the authors' code (``FairAdvantageConfig.reference()``); any
field of ``FairAdvantageConfig`` can be set through ``fair_advantage`` (a recipe's mapping
of fields is read on top of the mode into one ``FairAdvantageConfig``). The scaler's
statistics (N, r̄, T per domain and group) are logged under ``fair/``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from clinfair.trainers.advantage import FairAdvantageConfig, FairAdvantageScaler
from clinfair.trainers.advantage.config import FAIR_MODES, mode_config, resolve_fair_advantage
from clinfair.trainers.gathered import GatheredBatchTrainer
from clinfair.trainers.grpo import GRPOConfig, default_config


@dataclass
class FairGRPOConfig(GRPOConfig):
    """``GRPOConfig`` plus the FairGRPO advantage settings.

    Parameters of ``GRPOConfig``, plus:

    Parameters:
        fair_mode (`str`, *optional*, defaults to `"paper"`):
            ``"paper"``: the paper's formula with robust defaults; ``"reference"``: the authors' code
            (``FairAdvantageConfig.reference()``).
        fair_advantage (`FairAdvantageConfig` or `None`, *optional*):
            The advantage's settings (``clinfair.trainers.advantage.FairAdvantageConfig``, every field
            documented there). None: the ``fair_mode``'s configuration. Given as a mapping (a recipe's
            ``fair_advantage:`` block, ``fair_advantage.window=batch``), its fields replace the mode's and
            the result is stored as a ``FairAdvantageConfig`` (read by ``clinfair.core.yamlio.load_dataclass``:
            an unknown field is the one shared unknown-key error).
    """

    fair_mode: str = field(
        default="paper",
        metadata={
            "help": "'paper' (the paper's formula, robust defaults) or 'reference' (the authors' code)."
        },
    )
    fair_advantage: FairAdvantageConfig | None = field(
        default=None,
        metadata={
            "help": "clinfair.trainers.advantage.FairAdvantageConfig; a mapping of its fields, e.g. "
            "{'window': 'batch'}, replaces those of the fair_mode's configuration."
        },
    )

    #: FairGRPO_ND clusters every prompt (its mode configurations are ``mode_config(..., clusters=True)``).
    clusters = False

    def __post_init__(self):
        super().__post_init__()
        if self.fair_mode not in FAIR_MODES:
            raise ValueError(f"fair_mode must be one of {FAIR_MODES}, got {self.fair_mode!r}")
        # a mapping (recipe, override) becomes the typed config here, so a bad field fails now,
        # not at the first step
        self.fair_advantage = resolve_fair_advantage(self.mode_advantage_config(), self.fair_advantage)

    def fair_advantage_config(self) -> FairAdvantageConfig:
        """The scaler's configuration: ``fair_advantage`` (the mode's, with any fields set)."""
        return self.fair_advantage

    def mode_advantage_config(self) -> FairAdvantageConfig:
        """The ``fair_mode``'s configuration, before any ``fair_advantage`` field (in paper mode the
        GRPO base advantage uses this run's ``scale_rewards``, as TRL's does)."""
        return mode_config(self.fair_mode, self.clusters, self.scale_rewards)

    def to_dict(self) -> dict[str, Any]:
        """TRL's ``to_dict`` (logged, JSON-serialised) with ``fair_advantage`` as a mapping of its
        fields, which this class reads back to the same configuration."""
        values = super().to_dict()
        values["fair_advantage"] = asdict(self.fair_advantage)
        return values


class FairGRPOTrainer(GatheredBatchTrainer):
    """GRPO whose training advantages are FairGRPO's, computed over the gathered batch."""

    _tag_names = ["trl", "fairgrpo", "clinfair"]

    def __init__(self, model, reward_funcs, args: FairGRPOConfig | None = None, **kwargs):
        args = args or default_config(FairGRPOConfig, model, "FairGRPO")
        super().__init__(model, reward_funcs, args=args, **kwargs)
        self.scaler = FairAdvantageScaler(args.fair_advantage_config())

    def compute_advantages(self, rewards: np.ndarray, domains: list, groups: list) -> np.ndarray:
        advantages = self.scaler(
            rewards, domains, groups, self.num_generations, true_groups=self.true_groups(groups)
        )
        self._log_scalars(self.scaler.log_scalars("fair"))
        return advantages

    def clustering_diagnostics(self) -> dict[str, dict[str, Any]] | None:
        """The latest batch's K-means groups per clustered domain, for ``fairness.jsonl``: k, the
        cluster sizes and mean rewards over the clustered history ("vectors" of them), and ARI /
        NMI of the batch's clusters against the true groups when those are known. None when
        nothing was clustered (explicit groups, or before the first step)."""
        keys = ("k", "sizes", "means", "vectors", "ari", "nmi")
        out = {
            domain: {key: info["clustering"][key] for key in keys if key in info["clustering"]}
            for domain, info in self.scaler.last_stats.get("domains", {}).items()
            if "clustering" in info
        }
        return out or None

    def true_groups(self, groups: list) -> list | None:
        """Known demographic groups, to score clusters against (FairGRPO_ND); none here."""
        return None

    def advantage_state(self) -> FairAdvantageScaler:
        return self.scaler

    def load_advantage_state(self, state: FairAdvantageScaler) -> None:
        self.scaler = state
