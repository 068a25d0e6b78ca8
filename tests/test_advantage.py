"""FairGRPO advantage maths: hand-computed batches for every mode, bad input, validation.

Expected numbers are worked out by hand in the comments (not produced by the code under test).
Unless a test says otherwise the base advantage is s = r - mean_p (grpo_scale="none"), so the
numbers stay simple, and the batch is:

    prompt  domain  group  rewards (G = 2)   s
    p0      A       F      [1, 0]            [+.5, -.5]
    p1      A       M      [1, 1]            [0, 0]
    p2      B       F      [0, 1]            [-.5, +.5]
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from clinfair.trainers.advantage import (
    AdvantageWarning,
    FairAdvantageConfig,
    FairAdvantageScaler,
    grpo_advantages,
)
from hypothesis import given, settings
from hypothesis import strategies as st

REWARDS = [1, 0, 1, 1, 0, 1]
DOMAINS = ["A", "A", "A", "A", "B", "B"]
GROUPS = ["F", "F", "M", "M", "F", "F"]


def plain(**overrides) -> FairAdvantageConfig:
    """Batch window, s = r - mean, no re-normalisation, floor out of the way."""
    base = dict(window="batch", grpo_scale="none", renorm="none", min_mean_reward=1e-3)
    return FairAdvantageConfig(**{**base, **overrides})


# --------------------------------------------------------------------------------------------
# Temperatures (batch window)
#   Domain A: N=2, r̄ = 3/4.  Domain B: N=1, r̄ = 1/2.
#   A/F: N=1, r̄ = 1/2.  A/M: N=1, r̄ = 1.  B/F: N=1, r̄ = 1/2.
# --------------------------------------------------------------------------------------------

TEMPERATURE_CASES = {
    # √(N r̄): T_A = √1.5, T_AF = √.5 -> .5/√.75 ; T_B = √.5, T_BF = √.5 -> .5/.5 = 1
    "sqrt_n_times_r": [0.5 / math.sqrt(0.75), 1.0],
    # √N r̄: T_A = √2·.75, T_AF = .5 -> .5/(.75√2·.5) ; T_B = .5, T_BF = .5 -> .5/.25 = 2
    "sqrt_n_times_mean": [0.5 / (0.75 * math.sqrt(2) * 0.5), 2.0],
    # N: T_A = 2, T_AF = 1 -> .25 ; T_B = 1, T_BF = 1 -> .5
    "n": [0.25, 0.5],
    # r̄: T_A = .75, T_AF = .5 -> .5/.375 ; T_B = .5, T_BF = .5 -> 2
    "r": [0.5 / 0.375, 2.0],
}


@pytest.mark.parametrize("kind", sorted(TEMPERATURE_CASES))
def test_every_temperature_by_hand(kind):
    a0, a2 = TEMPERATURE_CASES[kind]
    scaler = FairAdvantageScaler(plain(temperature=kind))
    out = scaler(REWARDS, DOMAINS, GROUPS, 2)
    np.testing.assert_allclose(out, [a0, -a0, 0, 0, -a2, a2], rtol=1e-12)


def test_stats_report_what_was_used():
    scaler = FairAdvantageScaler(plain())
    scaler(REWARDS, DOMAINS, GROUPS, 2)
    st_ = scaler.last_stats
    json.dumps(st_)  # JSON-friendly
    a = st_["domains"]["A"]
    assert (a["N"], a["mean_reward"], a["batch_prompts"]) == (2.0, 0.75, 2)
    assert a["T"] == pytest.approx(math.sqrt(1.5))
    assert a["groups"]["M"]["T"] == pytest.approx(1.0)
    assert st_["domains"]["B"]["groups"]["F"]["N"] == 1.0
    scalars = scaler.log_scalars()
    assert scalars["fair/A/F/mean_reward"] == 0.5
    assert scalars["fair/B/T"] == pytest.approx(math.sqrt(0.5))
    assert all(isinstance(v, float) for v in scalars.values())


# --------------------------------------------------------------------------------------------
# Windows over two batches (temperature √(N r̄)), one domain A:
#   batch 1: p0 F [1, 0], p1 M [1, 1]
#   batch 2: p0 F [1, 0], p1 M [0, 1]        s2 = p0 [+.5, -.5], p1 [-.5, +.5]
# --------------------------------------------------------------------------------------------

B1 = ([1, 0, 1, 1], ["A"] * 4, ["F", "F", "M", "M"])
B2 = ([1, 0, 0, 1], ["A"] * 4, ["F", "F", "M", "M"])

WINDOW_CASES = {
    # batch: A N=2 r̄=.5 -> T=1; F: N=1 r̄=.5, M: N=1 r̄=.5 -> √.5 each -> .5/√.5
    ("batch", 1.0): (0.5 / math.sqrt(0.5), 0.5 / math.sqrt(0.5)),
    # cumulative: A N=4, 5/8 -> √2.5; F N=2, 2/4 -> 1; M N=2, 3/4 -> √1.5
    ("cumulative", 1.0): (0.5 / math.sqrt(2.5), 0.5 / math.sqrt(2.5 * 1.5)),
    # exponential .5: A N=.5·2+2=3, sum .5·3+2=3.5, count .5·4+4=6 -> r̄=7/12 -> T=√1.75
    #   F: N=1.5, sum .5+1=1.5, count 3 -> .5 -> T=√.75 ; M: N=1.5, sum 1+1=2, count 3 -> T=1
    ("exponential", 0.5): (0.5 / math.sqrt(1.75 * 0.75), 0.5 / math.sqrt(1.75)),
}


@pytest.mark.parametrize("window,decay", sorted(WINDOW_CASES))
def test_every_window_by_hand(window, decay):
    f, m = WINDOW_CASES[(window, decay)]
    scaler = FairAdvantageScaler(plain(window=window, decay=decay))
    scaler(*B1, 2)
    out = scaler(*B2, 2)
    np.testing.assert_allclose(out, [f, -f, -m, m], rtol=1e-12)
    assert scaler.last_stats["step"] == 2


def test_reset_forgets_history():
    scaler = FairAdvantageScaler(plain(window="cumulative"))
    scaler(*B1, 2)
    scaler.reset()
    np.testing.assert_allclose(scaler(*B2, 2), FairAdvantageScaler(plain())(*B2, 2))


# --------------------------------------------------------------------------------------------
# Re-normalisation. temperature "n" gives [.25, -.25, 0, 0, -.5, .5]: mean 0, sample variance
# (2·.0625 + 2·.25)/5 = .125 -> std √.125. zscore and std-only agree (every prompt's s sums to 0).
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("renorm", ["zscore", "std"])
def test_renormalisation_by_hand(renorm):
    out = FairAdvantageScaler(plain(temperature="n", renorm=renorm))(REWARDS, DOMAINS, GROUPS, 2)
    sd = math.sqrt(0.125) + 1e-6
    np.testing.assert_allclose(out, np.array([0.25, -0.25, 0, 0, -0.5, 0.5]) / sd, rtol=1e-12)


def test_grpo_base_uses_trl_std_and_eps():
    # G=2, [1, 0]: mean .5, sample std √.5, TRL eps 1e-4: s = ±.5/(√.5 + 1e-4).
    # One domain and one group, temperature n: T_d = T_g = 1 -> a = s.
    cfg = FairAdvantageConfig(window="batch", temperature="n", renorm="none")
    out = FairAdvantageScaler(cfg)([1, 0], ["A", "A"], ["F", "F"], 2)
    s = 0.5 / (math.sqrt(0.5) + 1e-4)
    np.testing.assert_allclose(out, [s, -s], rtol=1e-12)


def test_grpo_batch_scale_by_hand():
    # scale="batch": (r - mean_p) / (sample std of all 4 rewards + eps). Rewards [1,0,1,1]:
    # mean .75, sample var (3·.0625 + .5625)/3 = .25 -> std .5. p0 ±.5/(.5 + 1e-4), p1 0.
    out = grpo_advantages([1, 0, 1, 1], 2, scale="batch")
    x = 0.5 / (0.5 + 1e-4)
    np.testing.assert_allclose(out, [x, -x, 0, 0], rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Guards: a group with mean reward 0 but non-zero s (rewards -1 and 1).
#   p0 A/F [-1, 1], p1 A/M [1, 0]
# --------------------------------------------------------------------------------------------


def test_floor_guard_floors_small_mean_reward():
    # temperature r, floor .2, G = 10.  p0 F: [1, 0×9] (r̄ .1 -> floored .2); p1 M: [1×5, 0×5] (.5)
    # Domain r̄ = 6/20 = .3.  p0 s = [.9, -.1 ×9] / (.3·.2); p1 s = ±.5 / (.3·.5)
    rewards = [1] + [0] * 9 + [1] * 5 + [0] * 5
    cfg = plain(temperature="r", min_mean_reward=0.2)
    scaler = FairAdvantageScaler(cfg)
    out = scaler(rewards, ["A"] * 20, ["F"] * 10 + ["M"] * 10, 10)
    np.testing.assert_allclose(out[:2], [0.9 / 0.06, -0.1 / 0.06], rtol=1e-12)
    np.testing.assert_allclose(out[10:12], [0.5 / 0.15, 0.5 / 0.15], rtol=1e-12)
    assert scaler.last_stats["domains"]["A"]["groups"]["F"]["floored"] is True
    assert scaler.last_stats["domains"]["A"]["groups"]["M"]["floored"] is False


def test_floor_guard_zero_and_negative_mean_stay_finite():
    cfg = plain(min_mean_reward=0.05)
    out = FairAdvantageScaler(cfg)([-1, 1, -2, 0], ["A"] * 4, ["F", "F", "M", "M"], 2)
    # F: r̄ 0 -> .05; M: r̄ -1 -> .05; domain r̄ -.5 -> .05 ; all N: F 1, M 1, A 2
    # T_A = √(2·.05) = √.1, T_F = T_M = √.05 -> divisor √.005; s = ±1
    d = math.sqrt(0.1) * math.sqrt(0.05)
    np.testing.assert_allclose(out, [-1 / d, 1 / d, -1 / d, 1 / d], rtol=1e-12)


def test_authors_guard_leaves_infinite_quotient_unscaled():
    # Reference: s = (r - mean)/(sample std + 1e-6), temperature √N·r̄, T_d floored at 1e-6.
    # p0 F [-1, 1]: s = ∓1/(√2 + 1e-6); group factor √1·0 = 0 -> inf -> left unscaled.
    # p1 M [1, 0]: s = ±.5/(√.5 + 1e-6); A: N=2, r̄ = 1/4 -> T_d = √2/4; M: √1·.5.
    # Then divided by the sample std of all four + 1e-6 (no mean subtraction).
    x0 = 1 / (math.sqrt(2) + 1e-6)
    x1 = 0.5 / (math.sqrt(0.5) + 1e-6) / (math.sqrt(2) / 4 * 0.5)
    sd = math.sqrt((2 * x0**2 + 2 * x1**2) / 3) + 1e-6
    scaler = FairAdvantageScaler(FairAdvantageConfig.reference())
    with pytest.warns(AdvantageWarning, match="authors' guard"):
        out = scaler([-1, 1, 1, 0], ["A"] * 4, ["F", "F", "M", "M"], 2)
    np.testing.assert_allclose(out, np.array([-x0, x0, x1, -x1]) / sd, rtol=1e-9)


# --------------------------------------------------------------------------------------------
# Groupings on one domain A, temperature √(N r̄), batch window:
#   UNK: [1,1] [1,1] [0,0] [1,0]    F: [1,0] [1,1]
#   Domain: N = 6, rewards 8/12 -> T_d = √(6·2/3) = 2.
# --------------------------------------------------------------------------------------------

G_REWARDS = [1, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1]
G_DOMAINS = ["A"] * 12
G_GROUPS = [None] * 8 + ["F"] * 4


def test_explicit_grouping_treats_unk_as_a_group():
    # UNK: N=4, r̄ = 5/8 -> √2.5 ; F: N=2, r̄ = 3/4 -> √1.5
    out = FairAdvantageScaler(plain())(G_REWARDS, G_DOMAINS, G_GROUPS, 2)
    u, f = 0.5 / (2 * math.sqrt(2.5)), 0.5 / (2 * math.sqrt(1.5))
    np.testing.assert_allclose(out, [0, 0, 0, 0, 0, 0, u, -u, f, -f, 0, 0], rtol=1e-12)


def test_explicit_with_clusters_for_unk_by_hand():
    # UNK vectors: 3 distinct -> k_cap 3. Inertia k=1: mean (.75,.5) -> 2(.0625+.25)+(.5625+.25)
    # +(.0625+.25) = 1.75; k=3: 0; k=2 is .5 or .667, either way drop(2->3) >= 10 % of
    # drop(1->2) -> k = 3: c0 = [0,0] (N 1, r̄ 0), c1 = [1,0] (N 1, r̄ .5), c2 = [1,1] (N 2, r̄ 1).
    # UNK [1,0] -> c1: ±.5/(2·√.5);  F [1,0]: F N=2 r̄ .75 -> ±.5/(2·√1.5)
    scaler = FairAdvantageScaler(plain(grouping="explicit_with_clusters_for_unk"))
    out = scaler(G_REWARDS, G_DOMAINS, G_GROUPS, 2)
    u, f = 0.5 / (2 * math.sqrt(0.5)), 0.5 / (2 * math.sqrt(1.5))
    np.testing.assert_allclose(out, [0, 0, 0, 0, 0, 0, u, -u, f, -f, 0, 0], rtol=1e-12)
    info = scaler.last_stats["domains"]["A"]["clustering"]
    assert info["k"] == 3 and info["sizes"] == [1.0, 1.0, 2.0] and info["means"] == [0.0, 0.5, 1.0]
    assert info["inertias"][0] == pytest.approx(1.75)
    assert set(scaler.last_stats["domains"]["A"]["groups"]) == {"UNK/c0", "UNK/c1", "UNK/c2", "F"}


@pytest.mark.parametrize("feature", ["raw", "sorted"])
def test_clusters_grouping_by_hand(feature):
    # All six prompts: [1,1]×3, [0,0], [1,0]×2 (sorted: [0,1]×2), 3 distinct.
    # k=1 inertia: mean (5/6, 4/6) -> 3·(1/36+1/9) + (25/36+4/9) + 2·(1/36+4/9) = 2.5 (raw).
    # Best k=2 leaves >= .667 > 2.5/11, so drop(2->3) is not < 10 % of drop(1->2): k = 3.
    # [1,0] prompts form c1 with N=2, r̄ .5 -> T = 1: ±.5/(2·1) = ±.25
    scaler = FairAdvantageScaler(plain(grouping="clusters", cluster_feature=feature))
    out = scaler(G_REWARDS, G_DOMAINS, G_GROUPS, 2)
    np.testing.assert_allclose(out, [0, 0, 0, 0, 0, 0, 0.25, -0.25, 0.25, -0.25, 0, 0], rtol=1e-12)
    info = scaler.last_stats["domains"]["A"]["clustering"]
    assert info["k"] == 3 and info["sizes"] == [1.0, 2.0, 3.0]


def test_sorted_feature_merges_rollout_orders():
    # Raw [1,0] and [0,1] are 2 distinct vectors (k = 2); sorted both are [0,1] (k = 1).
    rewards = [1, 0, 1, 0, 0, 1, 0, 1]
    for feature, k in (("raw", 2), ("sorted", 1)):
        scaler = FairAdvantageScaler(plain(grouping="clusters", cluster_feature=feature))
        scaler(rewards, ["A"] * 8, [None] * 8, 2)
        assert scaler.last_stats["domains"]["A"]["clustering"]["k"] == k


# --------------------------------------------------------------------------------------------
# Bad input: defined behaviour, warnings, never NaN / inf, never a crash
# --------------------------------------------------------------------------------------------

ALL_CONFIGS = [
    FairAdvantageConfig(),
    FairAdvantageConfig.reference(),
    FairAdvantageConfig(grouping="clusters"),
    FairAdvantageConfig(grouping="explicit_with_clusters_for_unk", window="exponential", decay=0.9),
    FairAdvantageConfig(temperature="r", renorm="std", window="batch"),
]


@pytest.mark.parametrize("cfg", ALL_CONFIGS, ids=lambda c: f"{c.grouping}-{c.guard}-{c.window}")
def test_nan_and_none_rewards_are_excluded(cfg):
    # p0 [None, 1, 0, 1]: its s from the 3 scorable rollouts, the None row 0.
    rewards = [None, 1, 0, 1, float("nan"), float("nan"), float("nan"), float("nan"), 1, 0, 0, 0]
    scaler = FairAdvantageScaler(cfg)
    with pytest.warns(AdvantageWarning, match="None, NaN or infinite"):
        out = scaler(rewards, ["A"] * 12, ["F"] * 4 + ["M"] * 4 + [None] * 4, 4)
    assert np.isfinite(out).all()
    assert out[0] == 0 and (out[4:8] == 0).all()
    assert scaler.last_stats["unscorable_rewards"] == 5
    # the all-NaN prompt contributes nothing to the statistics
    assert scaler.last_stats["domains"]["A"]["N"] == 2.0
    assert scaler.last_stats["domains"]["A"]["mean_reward"] == pytest.approx(3 / 7)


def test_all_rewards_unscorable_gives_zeros():
    scaler = FairAdvantageScaler()
    with pytest.warns(AdvantageWarning):
        out = scaler([None] * 4, ["A"] * 4, ["F"] * 4, 2)
    np.testing.assert_array_equal(out, np.zeros(4))


@pytest.mark.parametrize("cfg", ALL_CONFIGS, ids=lambda c: f"{c.grouping}-{c.guard}-{c.window}")
def test_degenerate_batches_stay_finite(cfg):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AdvantageWarning)
        scaler = FairAdvantageScaler(cfg)
        # all rewards identical -> every advantage 0
        np.testing.assert_array_equal(scaler([1.0] * 6, ["A"] * 6, ["F"] * 6, 2), np.zeros(6))
        # a group with zero mean reward, a domain seen once, missing domain / group
        out = scaler(
            [0, 0, 1, 0, 1, 1, 0, 1],
            ["A", "A", "A", "A", "B", "B", None, None],
            ["F", "F", None, None, "M", "M", "F", "F"],
            2,
        )
        assert np.isfinite(out).all()
        # fewer prompts than clusters: one prompt, then a single row
        assert np.isfinite(scaler([1, 0], ["A", "A"], [None, None], 2)).all()
        assert np.isfinite(FairAdvantageScaler(cfg)([1.0], ["A"], [None], 1)).all()


def test_missing_domain_warns_and_becomes_unk():
    scaler = FairAdvantageScaler(plain())
    with pytest.warns(AdvantageWarning, match="missing domain"):
        scaler([1, 0], [None, None], [None, None], 2)
    assert set(scaler.last_stats["domains"]) == {"UNK"}
    assert set(scaler.last_stats["domains"]["UNK"]["groups"]) == {"UNK"}


def test_single_row_skips_renormalisation_with_warning():
    with pytest.warns(AdvantageWarning, match="fewer than 2"):
        out = FairAdvantageScaler()([1.0], ["A"], ["F"], 1)
    np.testing.assert_array_equal(out, [0.0])


def test_empty_batch():
    assert FairAdvantageScaler()([], [], [], 4).shape == (0,)


def test_layout_errors_are_clear():
    scaler = FairAdvantageScaler()
    with pytest.raises(ValueError, match="num_generations=4"):
        scaler([1, 0, 1], ["A"] * 3, ["F"] * 3, 4)
    with pytest.raises(ValueError, match="domains must be constant.*prompt 1"):
        scaler([1, 0, 1, 0], ["A", "A", "A", "B"], ["F"] * 4, 2)
    with pytest.raises(ValueError, match="groups has 3 entries"):
        scaler([1, 0, 1, 0], ["A"] * 4, ["F"] * 3, 2)


def test_labels_are_compared_after_null_normalisation():
    """None, NaN and pandas.NA are one missing label; 1 and "1" are one label; a real mix is an error."""
    import pandas as pd

    scaler = FairAdvantageScaler()
    with pytest.warns(AdvantageWarning, match="missing domain"):
        scaler([1, 0, 1, 0], [None, float("nan"), "A", "A"], [1, "1", "F", "F"], 2)
    assert set(scaler.last_stats["domains"]) == {"UNK", "A"}
    assert set(scaler.last_stats["domains"]["UNK"]["groups"]) == {"1"}
    scaler([1, 0, 1, 0], ["A"] * 4, [pd.NA, pd.NA, "F", "F"], 2)  # pd.NA has no truth value for !=
    assert set(scaler.last_stats["domains"]["A"]["groups"]) == {"<NA>", "F"}
    with pytest.raises(ValueError, match=r"groups must be constant.*prompt 0 has \['F', 'UNK'\]"):
        scaler([1, 0, 1, 0], ["A"] * 4, ["F", None, "F", "F"], 2)
    with pytest.raises(ValueError, match="groups must be constant.*prompt 1"):
        scaler([1, 0, 1, 0], ["A"] * 4, ["F", "F", pd.NA, "F"], 2)


def test_clustering_history_needs_fixed_g():
    scaler = FairAdvantageScaler(FairAdvantageConfig(grouping="clusters"))
    scaler([1, 0, 1, 1], ["A"] * 4, [None] * 4, 2)
    with pytest.raises(ValueError, match="num_generations changed"):
        scaler([1, 0, 1], ["A"] * 3, [None] * 3, 3)


# --------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field,value",
    [
        ("window", "rolling"),
        ("temperature", "sqrt"),
        ("guard", "none"),
        ("renorm", "minmax"),
        ("grouping", "kmeans"),
        ("cluster_feature", "histogram"),
        ("grpo_scale", "token"),
        ("eps", 0.0),
        ("grpo_eps", -1.0),
        ("min_mean_reward", float("nan")),
        ("elbow_tol", 0),
        ("decay", 0.0),
        ("decay", 1.5),
        ("max_k", 0),
        ("max_history", 0),
        ("random_state", 1.5),
        ("merge_identical", "yes"),
    ],
)
def test_config_rejects_bad_fields_by_name(field, value):
    with pytest.raises(ValueError, match=f"FairAdvantageConfig.{field} "):
        FairAdvantageConfig(**{field: value})


def test_reference_config_is_the_authors_behaviour():
    ref = FairAdvantageConfig.reference()
    assert (ref.window, ref.temperature, ref.guard, ref.renorm) == (
        "cumulative",
        "sqrt_n_times_mean",
        "authors",
        "std",
    )
    assert (ref.eps, ref.grpo_eps, ref.grouping, ref.cluster_feature, ref.max_history) == (
        1e-6,
        1e-6,
        "explicit_with_clusters_for_unk",
        "raw",
        None,
    )
    assert ref.merge_identical is False
    assert FairAdvantageConfig.reference(grouping="clusters").grouping == "clusters"
    assert FairAdvantageConfig.reference().window_decay == 1.0
    assert FairAdvantageConfig(window="batch").window_decay == 0.0


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

reward_values = st.one_of(
    st.none(), st.just(float("nan")), st.floats(-5, 5), st.sampled_from([0.0, 0.5, 1.0])
)
configs = st.builds(
    FairAdvantageConfig,
    window=st.sampled_from(["batch", "cumulative", "exponential"]),
    temperature=st.sampled_from(["sqrt_n_times_r", "sqrt_n_times_mean", "n", "r"]),
    guard=st.sampled_from(["floor", "authors", "authors_nd"]),
    renorm=st.sampled_from(["zscore", "std", "none"]),
    grpo_scale=st.sampled_from(["group", "batch", "none"]),
    grouping=st.sampled_from(["explicit", "clusters", "explicit_with_clusters_for_unk"]),
    cluster_feature=st.sampled_from(["raw", "sorted"]),
) | st.just(FairAdvantageConfig.reference_nd())  # the authors' FairGRPO_ND (cluster-weighted domain mean)


@st.composite
def batches(draw, g=None, max_prompts=8):
    g = draw(st.integers(1, 4)) if g is None else g
    p = draw(st.integers(1, max_prompts))
    rewards = draw(st.lists(reward_values, min_size=p * g, max_size=p * g))
    doms = draw(st.lists(st.sampled_from(["A", "B", None]), min_size=p, max_size=p))
    grps = draw(st.lists(st.sampled_from(["F", "M", None]), min_size=p, max_size=p))
    return rewards, [d for d in doms for _ in range(g)], [x for x in grps for _ in range(g)], g


@settings(max_examples=150, deadline=None)
@given(cfg=configs, steps=st.integers(1, 4).flatmap(lambda g: st.lists(batches(g), min_size=1, max_size=3)))
def test_advantages_always_finite(cfg, steps):
    scaler = FairAdvantageScaler(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AdvantageWarning)
        for rewards, doms, grps, g in steps:
            out = scaler(rewards, doms, grps, g)
            assert out.shape == (len(rewards),) and np.isfinite(out).all()
            json.dumps(scaler.last_stats)


@settings(max_examples=100, deadline=None)
@given(
    cfg=configs.filter(lambda c: c.grouping == "explicit"),
    batch=batches(),
    order=st.randoms(use_true_random=False),
)
def test_permuting_prompts_permutes_advantages(cfg, batch, order):
    rewards, doms, grps, g = batch
    p = len(rewards) // g
    perm = list(range(p))
    order.shuffle(perm)
    rows = np.array([q * g + j for q in perm for j in range(g)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AdvantageWarning)
        out = FairAdvantageScaler(cfg)(rewards, doms, grps, g)
        out_perm = FairAdvantageScaler(cfg)(
            [rewards[i] for i in rows], [doms[i] for i in rows], [grps[i] for i in rows], g
        )
    np.testing.assert_allclose(out_perm, out[rows], rtol=1e-9, atol=1e-12)
