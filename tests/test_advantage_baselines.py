"""Pure maths of the baselines (resampling, group-DRO, RLOO, REINFORCE++), by hand and against verl."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
import torch
from clinfair.trainers.advantage import (
    GroupDROWeights,
    reinforce_pp_advantages,
    resampling_weights,
    rloo_advantages,
    whiten,
)


def test_resampling_weights_by_hand():
    # cells: A/F twice, A/M once, B/F once -> 1/2, 1/2, 1, 1 -> normalised by 3
    w = resampling_weights(["A", "A", "A", "B"], ["F", "F", "M", "F"])
    np.testing.assert_allclose(w, [1 / 6, 1 / 6, 1 / 3, 1 / 3])


def test_resampling_weights_balance_cells_and_treat_missing_as_unk():
    # None and "UNK" are the same cell (2 rows); every cell gets the same total probability
    domains = ["A", "A", "A", "A", "A", None]
    groups = [None, "UNK", "F", "F", "F", "F"]
    w = resampling_weights(domains, groups)
    cells = {}
    for d, g, p in zip(domains, groups, w):
        key = (d or "UNK", g or "UNK")
        cells[key] = cells.get(key, 0) + p
    np.testing.assert_allclose(sorted(cells.values()), [1 / 3] * 3)
    assert w.sum() == pytest.approx(1.0)


def test_resampling_weights_edge_cases():
    assert resampling_weights([], []).shape == (0,)
    with pytest.raises(ValueError, match="differ in length"):
        resampling_weights(["A"], [])


def test_group_dro_update_by_hand():
    dro = GroupDROWeights(eta=1.0)
    # a: mean 1 -> exp(0); b: mean 0 -> exp(1). q_b = e / (1 + e)
    q = dro.update(["a", "b"], [1.0, 0.0])
    assert q["b"] == pytest.approx(math.e / (1 + math.e))
    assert q["a"] == pytest.approx(1 / (1 + math.e))
    # a: mean 0 (None ignored) -> ·e; b: mean 1 -> ·1  => both e/(1+e) before normalising: equal
    q = dro.update(["a", "a", "b"], [0.0, None, 1.0])
    assert q["a"] == pytest.approx(0.5) and q["b"] == pytest.approx(0.5)
    # a new group enters with the average weight 1/2, reward 1 -> unchanged: all three 1/3
    q = dro.update(["c"], [1.0])
    assert all(v == pytest.approx(1 / 3) for v in q.values())


def test_group_dro_weights_have_mean_one():
    dro = GroupDROWeights(eta=1.0)
    dro.update(["a", "b"], [1.0, 0.0])
    qa, qb = 1 / (1 + math.e), math.e / (1 + math.e)
    w = dro.weights_for(["a", "b", "b"])
    np.testing.assert_allclose(w, np.array([qa, qb, qb]) / ((qa + 2 * qb) / 3))
    assert w.mean() == pytest.approx(1.0)
    # an unknown group counts with the average weight 1/2
    np.testing.assert_allclose(dro.weights_for(["zzz", "a"]), np.array([0.5, qa]) / ((0.5 + qa) / 2))
    # before any update every sample weighs 1
    np.testing.assert_array_equal(GroupDROWeights().weights_for(["a", "b"]), [1.0, 1.0])
    assert GroupDROWeights().weights_for([]).shape == (0,)


def test_group_dro_long_runs_do_not_overflow():
    dro = GroupDROWeights(eta=5.0)
    for _ in range(2_000):
        dro.update(["hard", "easy"], [0.0, 1.0])
    q = dro.q
    assert math.isfinite(q["hard"]) and q["hard"] == pytest.approx(1.0) and q["easy"] >= 0.0
    assert np.isfinite(dro.weights_for(["hard", "easy"])).all()


def test_group_dro_ignores_groups_without_scorable_rewards():
    dro = GroupDROWeights(eta=1.0)
    dro.update(["a", "b"], [1.0, float("nan")])
    assert dro.q == {"a": 1.0}


def test_group_dro_rejects_bad_arguments():
    with pytest.raises(ValueError, match="eta"):
        GroupDROWeights(eta=-1.0)
    with pytest.raises(ValueError, match="differ in length"):
        GroupDROWeights().update(["a"], [1.0, 0.0])


# --------------------------------------------------------------------------------------------
# RLOO, REINFORCE++ and REINFORCE++-baseline (the verl estimators of the authors' table)
# --------------------------------------------------------------------------------------------


def test_rloo_by_hand():
    # prompt 1: 1 - (0 + .5)/2 = .75, 0 - (1 + .5)/2 = -.75, .5 - (1 + 0)/2 = 0; prompt 2: all equal -> 0
    got = rloo_advantages([1.0, 0.0, 0.5, 1.0, 1.0, 1.0], 3)
    np.testing.assert_allclose(got, [0.75, -0.75, 0.0, 0.0, 0.0, 0.0])
    # unscorable rows leave the baseline and get 0; a prompt with one scorable rollout has no baseline
    got = rloo_advantages([1.0, None, 0.0, np.nan, 1.0, np.nan], 3)
    np.testing.assert_allclose(got, [1.0, 0.0, -1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(rloo_advantages([1.0, 0.0], 1), [0.0, 0.0])
    with pytest.raises(ValueError, match="num_generations=4"):
        rloo_advantages([1.0, 0.0], 4)


def test_reinforce_pp_by_hand():
    # mean .5, sample var (4 · .25)/3 = 1/3: ±.5/√(1/3 + 1e-8)
    np.testing.assert_allclose(
        reinforce_pp_advantages([1.0, 0.0, 0.0, 1.0], 2),
        np.array([1, -1, -1, 1]) * 0.5 / math.sqrt(1 / 3 + 1e-8),
    )
    # token weights 3,1,1,1: mean 4/6, var (3·(1/3)² + 2·(2/3)² + (1/3)²)/(6 - 1) = 4/15
    got = reinforce_pp_advantages([1.0, 0.0, 0.0, 1.0], 2, lengths=[3, 1, 1, 1])
    sd = math.sqrt(4 / 15 + 1e-8)
    np.testing.assert_allclose(got, [(1 / 3) / sd, (-2 / 3) / sd, (-2 / 3) / sd, (1 / 3) / sd])


def test_reinforce_pp_baseline_by_hand():
    # centred on the prompt mean: .5, -.5, 0, 0; mean 0, var .5/3: ±.5/√(1/6 + 1e-8)
    got = reinforce_pp_advantages([1.0, 0.0, 1.0, 1.0], 2, baseline=True)
    np.testing.assert_allclose(got, np.array([1, -1, 0, 0]) * 0.5 / math.sqrt(1 / 6 + 1e-8))
    # G = 1: verl's prompt mean is 0, so the baseline version is plain REINFORCE++
    np.testing.assert_allclose(
        reinforce_pp_advantages([1.0, 0.0, 0.5], 1, baseline=True),
        reinforce_pp_advantages([1.0, 0.0, 0.5], 1),
    )
    # an unscorable row: out of the statistics, advantage 0
    got = reinforce_pp_advantages([1.0, None, 1.0, 0.0], 2, baseline=True)
    np.testing.assert_allclose(got, np.array([0, 0, 1, -1]) * 0.5 / math.sqrt(0.5 / 2 + 1e-8))


def test_whiten_degenerate_inputs():
    np.testing.assert_array_equal(whiten(np.array([2.0])), [0.0])  # one unit: centred only
    np.testing.assert_array_equal(whiten(np.array([np.nan, np.nan])), [np.nan, np.nan])
    np.testing.assert_allclose(whiten(np.array([1.0, 1.0, 1.0])), [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="weights"):
        whiten(np.array([1.0, 2.0]), np.array([1.0]))


# verl's definitions (DDVD233/mirl verl/trainer/ppo/core_algos.py and verl/utils/torch_functional.py),
# written here as verl runs them: token-level reward tensors (the outcome reward on the last response
# token), a per-index loop for the prompt statistics, and masked whitening over every response token.


def verl_token_inputs(rewards: np.ndarray, lengths: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    width = int(lengths.max())
    mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).double()
    token_rewards = torch.zeros(len(rewards), width, dtype=torch.float64)
    token_rewards[torch.arange(len(rewards)), torch.tensor(lengths) - 1] = torch.tensor(rewards)
    return token_rewards, mask


def verl_masked_whiten(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    n = mask.sum()
    mean = (values * mask).sum() / (n + 1e-8)
    var = (((values - mean) ** 2) * mask).sum() / (n + 1e-8) * (n / (n - 1))
    return (values - mean) * torch.rsqrt(var + 1e-8)


def verl_prompt_means(scores: torch.Tensor, index: list[int]) -> dict[int, torch.Tensor]:
    by_prompt = defaultdict(list)
    for i, key in enumerate(index):
        by_prompt[key].append(scores[i])
    return {
        k: torch.stack(v).mean() if len(v) > 1 else torch.tensor(0.0, dtype=scores.dtype)
        for k, v in by_prompt.items()
    }


def verl_reinforce_pp(token_rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    returns = torch.zeros_like(token_rewards)
    running = torch.zeros(token_rewards.shape[0], dtype=token_rewards.dtype)
    for t in reversed(range(token_rewards.shape[1])):
        running = token_rewards[:, t] + gamma * running
        returns[:, t] = running
        running = running * mask[:, t]
    return verl_masked_whiten(returns, mask) * mask


def verl_reinforce_pp_baseline(
    token_rewards: torch.Tensor, mask: torch.Tensor, index: list[int]
) -> torch.Tensor:
    scores = token_rewards.sum(-1)
    means = verl_prompt_means(scores, index)
    scores = torch.stack([scores[i] - means[key] for i, key in enumerate(index)])
    tiled = scores[:, None] * mask
    return verl_masked_whiten(tiled, mask) * mask


def verl_rloo(token_rewards: torch.Tensor, mask: torch.Tensor, index: list[int]) -> torch.Tensor:
    scores = token_rewards.sum(-1)
    means = verl_prompt_means(scores, index)
    counts = {key: index.count(key) for key in set(index)}
    out = scores.clone()
    for i, key in enumerate(index):
        n = counts[key]
        if n > 1:
            out[i] = scores[i] * n / (n - 1) - means[key] * n / (n - 1)
    return out[:, None] * mask


def per_sequence(token_values: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """A per-sequence advantage broadcast over tokens: read it at the first token, check it is constant."""
    first = token_values[:, 0]
    assert torch.allclose(token_values * mask, first[:, None] * mask, atol=1e-12)
    return first.numpy()


@pytest.mark.parametrize("g", [2, 5, 10])
@pytest.mark.parametrize("seed", range(4))
def test_baselines_equal_verls_definitions(g, seed):
    rng = np.random.default_rng(seed)
    prompts = int(rng.integers(2, 9))
    rewards = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0], size=prompts * g)
    lengths = rng.integers(1, 30, size=prompts * g)
    index = [p for p in range(prompts) for _ in range(g)]
    token_rewards, mask = verl_token_inputs(rewards, lengths)

    expected = per_sequence(verl_reinforce_pp(token_rewards, mask), mask)
    np.testing.assert_allclose(
        reinforce_pp_advantages(rewards, g, lengths=lengths), expected, rtol=1e-9, atol=1e-9
    )
    expected = per_sequence(verl_reinforce_pp_baseline(token_rewards, mask, index), mask)
    np.testing.assert_allclose(
        reinforce_pp_advantages(rewards, g, baseline=True, lengths=lengths), expected, rtol=1e-9, atol=1e-9
    )
    expected = per_sequence(verl_rloo(token_rewards, mask, index), mask)
    np.testing.assert_allclose(rloo_advantages(rewards, g), expected, rtol=1e-9, atol=1e-12)
