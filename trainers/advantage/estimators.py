"""One pure advantage estimator per training method, named by the method registry.

Each entry of ``clinfair.trainers.methods.METHODS`` names its estimator by an import string
(``Method.advantage``), so listing methods imports nothing, and anything that needs a method's
advantages without TRL (``clinfair simulate``) builds it from the registry::

    estimator = get_method("fairgrpo").advantage_estimator(num_generations=8, fair_mode="reference")
    advantages = estimator(rewards, domains, groups)      # one generation batch, P·G rows

An estimator is built once per run (``estimator_class(num_generations, **options)``; options
are the method's own, e.g. ``fair_mode`` and ``fair_advantage`` for FairGRPO, ``dro_eta`` for
group-DRO, the same names as its Config fields) and called once per generation batch, in
training order: FairGRPO's windows and group-DRO's weights are state. The maths is the one
module of each method's family (``grpo``, ``scaler``, ``weights``, ``baselines``); this
module only binds it to the registry's calling convention.

Class attributes tell a caller what it may do with an estimator:

* ``per_prompt``: a prompt's advantages depend on its own G rewards only, so independent
  batches (the simulator's seeds) may be stacked into one call;
* ``reads_groups``: the estimator uses the domain and group labels (others ignore them);
* ``sampling_weights(domains, groups)``: the training sampler's probability of each prompt,
  or None for uniform (the resampling baseline draws ∝ 1/count of the prompt's cell).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from clinfair.trainers.advantage.baselines import reinforce_pp_advantages, rloo_advantages
from clinfair.trainers.advantage.common import UNK, AdvantageWarning, _as_rewards
from clinfair.trainers.advantage.config import (
    RENORMS,
    FairAdvantageConfig,
    mode_config,
    resolve_fair_advantage,
)
from clinfair.trainers.advantage.grpo import grpo_advantages
from clinfair.trainers.advantage.scaler import FairAdvantageScaler, renormalise
from clinfair.trainers.advantage.weights import GroupDROWeights, resampling_weights


class AdvantageEstimator:
    """The calling convention of every method's estimator (see the module docstring)."""

    per_prompt: ClassVar[bool] = False
    reads_groups: ClassVar[bool] = False

    def __init__(self, num_generations: int) -> None:
        if not (isinstance(num_generations, int) and num_generations >= 1):
            raise ValueError(f"num_generations must be an integer >= 1, got {num_generations!r}")
        self.num_generations = num_generations
        self.warnings = 0  # AdvantageWarnings met so far (counted, not printed: see FairGRPOAdvantage)

    def __call__(
        self,
        rewards: Sequence[float | None] | np.ndarray,
        domains: Sequence[Any] = (),
        groups: Sequence[Any] = (),
        true_groups: Sequence[Any] | None = None,
    ) -> np.ndarray:
        """Advantages (P·G floats) of one generation batch; ``domains``/``groups``: one label per
        row (read only where ``reads_groups``); ``true_groups`` only scores clusters."""
        raise NotImplementedError

    def sampling_weights(self, domains: Sequence[Any], groups: Sequence[Any]) -> np.ndarray | None:
        """The training sampler's probability of each prompt; None: uniform."""
        return None


class GRPOAdvantage(AdvantageEstimator):
    """GRPO as TRL computes it (``grpo_advantages``; ``scale_rewards`` as TRL's).

    ``renorm`` ("none" by default) adds FairGRPO's batch re-normalisation ("zscore" or "std",
    with FairGRPO's ε = 1e-6) and nothing else: the simulator's control arm ``grpo_renorm``,
    which separates FairGRPO's group weights from its change of the advantages' scale.
    """

    def __init__(self, num_generations: int, scale_rewards: str = "group", renorm: str = "none") -> None:
        super().__init__(num_generations)
        self.scale, self.renorm = scale_rewards, renorm
        if renorm not in RENORMS:
            raise ValueError(f"renorm must be one of {RENORMS}, got {renorm!r}")
        self.per_prompt = renorm == "none"

    def __call__(self, rewards, domains=(), groups=(), true_groups=None) -> np.ndarray:
        r = _as_rewards(rewards)
        advantages = grpo_advantages(r, self.num_generations, self.scale)
        if self.renorm == "none":
            return advantages
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AdvantageWarning)
            out = renormalise(advantages, np.isfinite(r), self.renorm, FairAdvantageConfig.eps)
        self.warnings += len(caught)
        return out


class DrGRPOAdvantage(GRPOAdvantage):
    """Dr.GRPO: GRPO without the std division (TRL ``scale_rewards="none"``)."""

    per_prompt = True

    def __init__(self, num_generations: int) -> None:
        super().__init__(num_generations, scale_rewards="none")


class ResamplingAdvantage(GRPOAdvantage):
    """GRPO advantages; prompts drawn ∝ 1/count of their (domain, group) (``resampling_weights``)."""

    per_prompt = True

    def __init__(self, num_generations: int) -> None:
        super().__init__(num_generations)

    def sampling_weights(self, domains: Sequence[Any], groups: Sequence[Any]) -> np.ndarray:
        return resampling_weights(domains, groups)


class DROAdvantage(AdvantageEstimator):
    """GRPO advantages times online group-DRO weights over (domain, group) cells."""

    reads_groups = True

    def __init__(self, num_generations: int, dro_eta: float = 0.1) -> None:
        super().__init__(num_generations)
        self.dro = GroupDROWeights(dro_eta)

    def __call__(self, rewards, domains=(), groups=(), true_groups=None) -> np.ndarray:
        keys = [f"{d}/{g}" for d, g in zip(domains, groups)]
        self.dro.update(keys, rewards)
        return grpo_advantages(rewards, self.num_generations) * self.dro.weights_for(keys)


class FairGRPOAdvantage(AdvantageEstimator):
    """FairGRPO (``FairAdvantageScaler``): ``fair_mode`` "paper" | "reference", then the
    ``fair_advantage`` setting (a ``FairAdvantageConfig`` or a mapping of its fields), as
    ``FairGRPOConfig`` reads them.

    The authors' guard warns whenever a group's mean reward is 0 in a batch, which a
    policy-gradient run meets often: the warnings are counted in ``warnings``, not printed.
    """

    reads_groups = True
    clusters: ClassVar[bool] = False  # FairGRPO_ND: every prompt clustered, labels only score clusters

    def __init__(
        self,
        num_generations: int,
        fair_mode: str = "paper",
        fair_advantage: FairAdvantageConfig | Mapping[str, Any] | None = None,
        scale_rewards: str = "group",
    ) -> None:
        super().__init__(num_generations)
        config = resolve_fair_advantage(mode_config(fair_mode, self.clusters, scale_rewards), fair_advantage)
        self.scaler = FairAdvantageScaler(config)
        self.ari: list[float] = []  # per batch, where clusters were scored against true groups
        self.nmi: list[float] = []

    @property
    def config(self) -> FairAdvantageConfig:
        return self.scaler.config

    def __call__(self, rewards, domains=(), groups=(), true_groups=None) -> np.ndarray:
        clustered = self.config.grouping == "clusters"
        if clustered and true_groups is None and any(g is not None and g != UNK for g in groups):
            true_groups = groups  # known groups only score the clusters
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AdvantageWarning)
            out = self.scaler(rewards, domains, groups, self.num_generations, true_groups=true_groups)
        self.warnings += len(caught)
        if "ari" in self.scaler.last_stats:
            self.ari.append(self.scaler.last_stats["ari"])
            self.nmi.append(self.scaler.last_stats["nmi"])
        return out


class FairGRPONDAdvantage(FairGRPOAdvantage):
    """FairGRPO_ND: FairGRPO whose groups are K-means clusters ("reference": ``reference_nd()``)."""

    clusters = True

    def __init__(self, num_generations: int, **options: Any) -> None:
        super().__init__(num_generations, **options)
        if self.config.grouping != "clusters":
            raise ValueError(
                f"FairGRPO_ND groups by clusters; fair_advantage.grouping={self.config.grouping!r} is not allowed"
            )


class RLOOAdvantage(AdvantageEstimator):
    """RLOO (``rloo_advantages``): reward minus the mean of the prompt's other rollouts."""

    per_prompt = True

    def __call__(self, rewards, domains=(), groups=(), true_groups=None) -> np.ndarray:
        return rloo_advantages(rewards, self.num_generations)


class REINFORCEPPAdvantage(AdvantageEstimator):
    """REINFORCE++ (``reinforce_pp_advantages``): rewards whitened over the whole batch."""

    baseline: ClassVar[bool] = False

    def __call__(self, rewards, domains=(), groups=(), true_groups=None) -> np.ndarray:
        return reinforce_pp_advantages(rewards, self.num_generations, baseline=self.baseline)


class REINFORCEPPBaselineAdvantage(REINFORCEPPAdvantage):
    """REINFORCE++-baseline: prompt-mean-centred rewards whitened over the batch."""

    baseline = True
