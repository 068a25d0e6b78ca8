"""grpo_advantages against TRL 1.16's own computation, and FairGRPO's reduction to GRPO.

TRL 1.16 has no pure advantage function: GRPOTrainer._generate_and_score_completions computes
it inline (``multi_objective_aggregation="sum_then_normalize"`` branch). ``trl_advantages``
below replays those lines with the same torch ops and TRL's own ``nanstd``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from clinfair.trainers.advantage import FairAdvantageConfig, FairAdvantageScaler, grpo_advantages
from trl.trainer.utils import nanstd


def trl_advantages(rewards: torch.Tensor, num_generations: int, scale_rewards: str) -> torch.Tensor:
    """The lines of trl/trainer/grpo_trainer.py (1.16.0) from `mean_grouped_rewards` to nan_to_num."""
    mean_grouped_rewards = torch.nanmean(rewards.view(-1, num_generations), dim=1)
    mean_grouped_rewards = mean_grouped_rewards.repeat_interleave(num_generations, dim=0)
    if scale_rewards in ["group", "none"]:
        if num_generations > 1:
            std_rewards = nanstd(rewards.view(-1, num_generations), dim=1)
            std_rewards = std_rewards.repeat_interleave(num_generations, dim=0)
        else:
            std_rewards = torch.zeros_like(rewards)
    elif scale_rewards == "batch":
        if rewards.numel() > 1:
            std_rewards = nanstd(rewards).expand_as(rewards)
        else:
            std_rewards = torch.zeros_like(rewards)
    advantages = rewards - mean_grouped_rewards
    if scale_rewards != "none":
        advantages = advantages / (std_rewards + 1e-4)
    return torch.nan_to_num(advantages, nan=0.0)


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
@pytest.mark.parametrize("g", [1, 2, 4, 10])
@pytest.mark.parametrize("seed", range(5))
def test_grpo_advantages_equal_trl(scale, g, seed):
    rng = np.random.default_rng(seed)
    prompts = int(rng.integers(1, 12))
    rewards = rng.choice([0.0, 0.25, 1.0, 2.5, -1.0], size=prompts * g)
    rewards[rng.random(rewards.size) < 0.15] = np.nan  # unscorable rows
    if seed == 0:
        rewards[:g] = 1.0  # a prompt with zero std
    expected = trl_advantages(torch.tensor(rewards, dtype=torch.float32), g, scale).numpy()
    got = grpo_advantages(rewards, g, scale=scale)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_grpo_advantages_rejects_bad_arguments():
    with pytest.raises(ValueError, match="scale"):
        grpo_advantages([1, 0], 2, scale="token")
    with pytest.raises(ValueError, match="num_generations=3"):
        grpo_advantages([1, 0], 3)


@pytest.mark.parametrize("temperature", ["sqrt_n_times_r", "sqrt_n_times_mean", "n", "r"])
@pytest.mark.parametrize("window", ["batch", "cumulative", "exponential"])
@pytest.mark.parametrize("grpo_scale", ["group", "batch"])
def test_one_domain_one_group_is_grpo_up_to_renormalisation(temperature, window, grpo_scale):
    # With one domain and one group every prompt shares one factor T_d·T_g, so the z-scored
    # FairGRPO advantage is the z-scored GRPO advantage, batch after batch. (Exactly so only
    # without the + eps of the re-normalisation, which FairGRPO adds after scaling: eps tiny.)
    rng = np.random.default_rng(7)
    cfg = FairAdvantageConfig(temperature=temperature, window=window, grpo_scale=grpo_scale, eps=1e-12)
    scaler = FairAdvantageScaler(cfg)
    for _ in range(3):
        rewards = rng.choice([0.0, 0.5, 1.0], size=8 * 5)
        s = grpo_advantages(rewards, 5, scale=grpo_scale)
        expected = (s - s.mean()) / (s.std(ddof=1) + cfg.eps)
        got = scaler(rewards, ["A"] * 40, ["F"] * 40, 5)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_one_domain_one_group_without_renorm_is_grpo_over_the_temperature():
    # renorm "none", cumulative, √(N r̄): batch 1 (4 prompts, mean .5) -> T_d = T_g = √2 -> a = s/2
    rewards = [1, 0, 1, 0, 1, 0, 1, 0]
    out = FairAdvantageScaler(FairAdvantageConfig(renorm="none"))(rewards, ["A"] * 8, ["F"] * 8, 2)
    np.testing.assert_allclose(out, grpo_advantages(rewards, 2) / 2, rtol=1e-12)
