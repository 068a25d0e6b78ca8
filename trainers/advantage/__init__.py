"""Fairness-aware advantage maths: GRPO, FairGRPO, FairGRPO_ND, resampling, group-DRO, RLOO, REINFORCE++.

Pure numpy + scikit-learn; no torch, TRL or vLLM, so it can be tested and reused anywhere.
The TRL adapters call into this module with the rewards of one *gathered* generation batch.

Layout of one generation batch (TRL's): P prompts, G rollouts each, flattened prompt-major,
so rows ``p*G .. p*G+G-1`` are the G rollouts of prompt p. Every row carries its prompt's
domain d(p) (the dataset) and group g(p) (the demographic key inside the domain, or "UNK").

GRPO (TRL 1.16 default)::

    s = (r - mean_p) / (std_p + eps_grpo)         std: sample (ddof = 1), NaN-aware, eps_grpo = 1e-4

FairGRPO (paper): for a statistics window W, N_d = prompts of domain d in W, r̄_d = mean reward
over their rollouts, N_{d,g}, r̄_{d,g} the same inside group g, and a temperature T(N, r̄)::

    a = s / max(T(N_d, r̄_d) · T(N_{d,g}, r̄_{d,g}), eps)      then re-normalised over the batch

Small or poorly performing groups get small temperatures, so their signal is amplified. See
``FairAdvantageConfig`` for the options and ``FairAdvantageConfig.reference()`` for the
behaviour of the authors' code (its docstring lists what is not reproduced) (DDVD233/mirl, ``compute_fair_grpo_outcome_advantage``) and
``FairAdvantageConfig.reference_nd()`` for their FairGRPO_ND (DDVD233/qoq_med3,
``compute_fair_grpo_nd_outcome_advantage``). The other baselines of the paper's table (RLOO,
REINFORCE++, REINFORCE++-baseline) are in ``baselines``.

One module per idea, every public name re-exported here (import from ``clinfair.trainers.advantage``):

* ``common``: the batch layout, label and NaN helpers, ``AdvantageWarning``;
* ``grpo``: GRPO / Dr.GRPO (``grpo_advantages``);
* ``config``: ``FairAdvantageConfig`` and its presets (paper, ``reference()``, ``reference_nd()``);
* ``clustering``: the elbow rule, K-means of reward vectors, the bounded vector history;
* ``scaler``: ``FairAdvantageScaler``, the stateful FairGRPO / FairGRPO_ND advantage;
* ``weights``: the resampling baseline's sampling weights and group-DRO weights;
* ``baselines``: RLOO, REINFORCE++ and REINFORCE++-baseline;
* ``state``: a scaler's or DRO weights' state as versioned JSON.
"""

from __future__ import annotations

from clinfair.trainers.advantage.baselines import (
    VERL_WHITEN_EPS,
    reinforce_pp_advantages,
    rloo_advantages,
    whiten,
)
from clinfair.trainers.advantage.clustering import (
    ClusterResult,
    VectorHistory,
    choose_k_elbow,
    cluster_reward_vectors,
)
from clinfair.trainers.advantage.common import UNK, AdvantageWarning
from clinfair.trainers.advantage.config import (
    DOMAIN_MEANS,
    FEATURES,
    GROUPINGS,
    GUARDS,
    ND_FACTOR_MAX,
    RENORMS,
    TEMPERATURES,
    WINDOWS,
    FairAdvantageConfig,
)
from clinfair.trainers.advantage.grpo import GRPO_SCALES, TRL_GRPO_EPS, grpo_advantages
from clinfair.trainers.advantage.scaler import FairAdvantageScaler, temperature
from clinfair.trainers.advantage.state import (
    ADVANTAGE_STATE_VERSION,
    AdvantageStateError,
    advantage_state_from_json,
    advantage_state_to_json,
)
from clinfair.trainers.advantage.weights import GroupDROWeights, resampling_weights

__all__ = [
    "ADVANTAGE_STATE_VERSION",
    "DOMAIN_MEANS",
    "FEATURES",
    "GROUPINGS",
    "GRPO_SCALES",
    "GUARDS",
    "ND_FACTOR_MAX",
    "RENORMS",
    "TEMPERATURES",
    "TRL_GRPO_EPS",
    "UNK",
    "VERL_WHITEN_EPS",
    "WINDOWS",
    "AdvantageStateError",
    "AdvantageWarning",
    "ClusterResult",
    "FairAdvantageConfig",
    "FairAdvantageScaler",
    "GroupDROWeights",
    "VectorHistory",
    "advantage_state_from_json",
    "advantage_state_to_json",
    "choose_k_elbow",
    "cluster_reward_vectors",
    "grpo_advantages",
    "reinforce_pp_advantages",
    "resampling_weights",
    "rloo_advantages",
    "temperature",
    "whiten",
]
