"""`clinfair simulate`: the advantage-level simulator, and the statistics over seeds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from clinfair.benchmark.seedstats import holm, paired_t_pvalue, t_interval
from clinfair.trainers.simulate import (
    METHODS,
    GroupSpec,
    Training,
    World,
    _policy,
    group_shift,
    run_one,
    run_seeds,
)
from scipy.special import softmax

QUICK = Training(steps=60, optimizer="sgd")  # the world's tests below were calibrated on the SGD rule


def test_t_interval_by_hand():
    interval = t_interval([1.0, 2.0, 3.0])
    assert interval.mean == 2.0
    assert interval.half == pytest.approx(4.3027 * 1.0 / math.sqrt(3), rel=1e-4)  # t(0.975, 2)·s/√n, s = 1
    assert t_interval([5.0]).half is None and not t_interval([5.0]).excludes_zero()


def test_paired_t_pvalue_by_hand():
    # differences 1, 2, 3: t = 2 / (1/√3) = 3.464 on 2 degrees of freedom, two-sided p = 0.0742
    assert paired_t_pvalue([2.0, 4.0, 6.0], [1.0, 2.0, 3.0]) == pytest.approx(0.0742, abs=5e-4)
    assert paired_t_pvalue([1.0, 2.0], [1.0, 2.0]) is None  # no difference at all: no test
    assert paired_t_pvalue([0.1 + 0.2, 0.7], [0.3, 0.7 - 1e-17]) is None  # float noise is no difference
    assert paired_t_pvalue([1.5, 2.5], [1.0, 2.0]) == 0.0  # the same nonzero difference in every pair


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3·0.01, max(0.03, 2·0.03), max(0.06, 1·0.04)
    assert holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert holm([0.6, 0.5]) == [1.0, 1.0]


def test_policy_is_a_softmax_of_linear_logits():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(5, 3)), rng.normal(size=(5, 3, 2))
    expected = softmax(np.einsum("pf,pfk->pk", x, w), axis=1)
    np.testing.assert_allclose(_policy(x, w), expected, rtol=1e-12)


@pytest.mark.parametrize("method", ["grpo", "dro", "fairgrpo"])
def test_a_seed_gives_the_same_result_alone_or_in_a_batch_and_seeds_differ(method):
    world = group_shift(0.1)
    together = run_seeds(world, QUICK, METHODS[method], [3, 4])
    assert run_one(world, QUICK, METHODS[method], 4) == together[1]
    assert run_seeds(world, QUICK, METHODS[method], [3, 4]) == together
    assert together[0] != together[1]


def _signed_gaps(world: World, seeds: int) -> list[float]:
    runs = run_seeds(world, QUICK, METHODS["grpo"], list(range(seeds)))
    return [r["groups"]["majority"] - r["groups"]["minority"] for r in runs]


def test_grpo_leaves_a_minority_gap_only_when_the_minority_reads_another_cue():
    shifted = t_interval(_signed_gaps(group_shift(0.05), 12))
    assert shifted.mean > 0.05 and shifted.excludes_zero()
    same_cue = World(groups=(GroupSpec("majority", 0.95, "a"), GroupSpec("minority", 0.05, "a")))
    control = t_interval(_signed_gaps(same_cue, 12))
    assert not control.excludes_zero() and abs(control.mean) < 0.02


def test_label_noise_caps_the_groups_accuracy_near_one_minus_the_noise():
    world = World(groups=(GroupSpec("clean", 0.5, "a"), GroupSpec("noisy", 0.5, "a", label_noise=0.3)))
    runs = run_seeds(world, QUICK, METHODS["grpo"], list(range(6)))
    noisy = np.mean([r["groups"]["noisy"] for r in runs])
    assert 0.6 < noisy < 0.72  # the Bayes rule scores (1 - 0.3)·Φ(2) + 0.3·(1 - Φ(2)) = 0.690


def test_clustered_methods_report_ari_and_nmi():
    result = run_one(group_shift(0.3), Training(steps=5), METHODS["fairgrpo_nd"], 0)
    assert -1 <= result["ari"] <= 1 and 0 <= result["nmi"] <= 1
    assert "ari" not in run_one(group_shift(0.3), Training(steps=5), METHODS["fairgrpo"], 0)


def test_simulate_command_writes_its_report(tmp_path, capsys):
    from clinfair.cli import main

    out = tmp_path / "sim"
    assert (
        main(
            [
                "simulate",
                "--seeds",
                "3",
                "--nd-seeds",
                "2",
                "--steps",
                "4",
                "--questions",
                "cd",
                "--workers",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "(c) Explicit groups vs K-means clusters" in printed and "30 % label noise" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert [s["question"] for s in summary["settings"]] == ["c", "d", "d"]
    assert (out / "report.md").read_text().startswith("### (c)")
    assert main(["simulate", "--questions", "xz"]) == 2


def test_the_simulated_reference_methods_are_the_authors_presets():
    """Named after the authors' code, so built from its presets (qoq_med3's FairGRPO_ND is
    reference_nd(): its own guard and cluster-weighted domain mean, not reference() + clusters)."""
    from clinfair.trainers.advantage import FairAdvantageConfig

    assert METHODS["fairgrpo_reference"].fair_config() == FairAdvantageConfig.reference()
    assert METHODS["fairgrpo_nd_reference"].fair_config() == FairAdvantageConfig.reference_nd()
    assert FairAdvantageConfig.reference_nd() != FairAdvantageConfig.reference(grouping="clusters")


# -- the method registry drives the simulator ------------------------------------------------------


def test_every_simulated_method_runs_its_registry_estimator():
    from clinfair.trainers.methods import METHODS as REGISTRY

    assert set(REGISTRY) <= set(METHODS)  # every registry method is simulated under its own name
    for method in METHODS.values():
        estimator = method.estimator(Training())
        assert type(estimator) is REGISTRY[method.method].advantage_class(), method.name


def test_grpo_renorm_is_grpo_advantages_z_scored_over_the_batch():
    from clinfair.trainers.advantage import grpo_advantages

    rewards = np.array([1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1], dtype=float)  # 3 prompts x 4
    base = grpo_advantages(rewards, 4)
    expected = (base - base.mean()) / (np.std(base, ddof=1) + 1e-6)
    got = METHODS["grpo_renorm"].estimator(Training(generations=4))(rewards)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert dict(METHODS["grpo_renorm"].options) == {"renorm": "zscore"}  # and no group weights


# -- the learning rule -------------------------------------------------------------------------------


def test_adam_steps_by_hand():
    from clinfair.trainers.simulate import _Optimiser

    w = np.zeros(2)
    training = Training(learning_rate=0.1, optimizer="adam")
    optimiser = _Optimiser(training, (w,))
    optimiser.step((np.array([2.0, -0.5]),))
    # step 1: m̂ = g, v̂ = g², so each weight moves by lr·g/(|g| + ε) ≈ ±lr
    np.testing.assert_allclose(w, [0.1 * 2 / (2 + 1e-8), -0.1 * 0.5 / (0.5 + 1e-8)], rtol=1e-12)
    before = w.copy()
    optimiser.step((np.array([1.0, 1.0]),))
    m = 0.9 * 0.1 * np.array([2.0, -0.5]) + 0.1 * np.array([1.0, 1.0])
    v = 0.999 * 0.001 * np.array([4.0, 0.25]) + 0.001 * np.array([1.0, 1.0])
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    np.testing.assert_allclose(w - before, 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-12)


def test_adam_removes_the_step_size_confound_and_sgd_has_it():
    """Advantages c times larger give c times larger gradients: SGD steps c times further,
    Adam's steps do not change (up to its ε)."""
    from clinfair.trainers.simulate import _Optimiser

    grads = [np.random.default_rng(k).normal(size=(3, 2)) for k in range(5)]
    for optimizer, same in (("adam", True), ("sgd", False)):
        finals = []
        for scale in (1.0, 7.0):
            w = np.zeros((3, 2))
            optimiser = _Optimiser(Training(optimizer=optimizer), (w,))
            for g in grads:
                optimiser.step((scale * g,))
            finals.append(w)
        if same:
            np.testing.assert_allclose(finals[0], finals[1], rtol=1e-6)
        else:
            np.testing.assert_allclose(finals[1], 7.0 * finals[0], rtol=1e-12)


def test_training_refuses_an_unknown_optimizer():
    with pytest.raises(ValueError, match="optimizer"):
        Training(optimizer="rmsprop")
    assert Training().lr == 0.02 and Training(optimizer="sgd").lr == 1.0


# -- multiplicity: Holm over each question's whole family ---------------------------------------------


def test_holm_runs_over_each_questions_whole_family():
    from clinfair.trainers.simulate import comparisons, default_study, report, run_study

    study = default_study(seeds=4, questions="cd", nd_seeds=3)
    study.training = Training(steps=3)
    text, summary = report(study, run_study(study, workers=1))
    expected_sizes = {}
    for setting in study.settings:
        expected_sizes[setting.question] = expected_sizes.get(setting.question, 0) + 2 * len(
            comparisons(setting)
        )
    assert summary["holm_family_sizes"] == expected_sizes == {"c": 2 * (3 + 2), "d": 2 * 2 * (3 + 1)}
    for question, size in expected_sizes.items():
        assert f"Holm over this question's family of {size} tests." in text
        raw, adjusted = [], []
        for entry in summary["settings"]:
            if entry["question"] != question:
                continue
            for stats in entry["methods"].values():
                for suffix in ("grpo", "control"):
                    if f"p_vs_{suffix}" in stats:
                        raw += [stats[f"p_vs_{suffix}"][k] for k in ("accuracy", "gap")]
                        adjusted += [stats[f"holm_p_vs_{suffix}"][k] for k in ("accuracy", "gap")]
        assert len(raw) == size and adjusted == holm(raw)
    fair_vs_control = summary["settings"][0]["methods"]["fairgrpo"]["diff_vs_control"]
    assert set(fair_vs_control) == {"accuracy", "gap", "minority acc"}
    assert len(summary["settings"][0]["per_seed"]["fairgrpo"]["accuracy"]) == 3  # (c) runs nd_seeds


def test_every_registry_method_names_a_pure_estimator_that_imports_no_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from clinfair.trainers.methods import METHODS\n"
        "from clinfair.trainers.advantage.estimators import AdvantageEstimator\n"
        "for m in METHODS.values():\n"
        "    assert m.advantage is not None, m.name\n"
        "    assert issubclass(m.advantage_class(), AdvantageEstimator), m.name\n"
        "loaded = sorted({'torch', 'trl', 'transformers'} & set(sys.modules))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
