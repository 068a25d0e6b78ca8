"""Label probabilities from the answer continuation's log-likelihood (``HFBackend.score``)."""

from __future__ import annotations

import numpy as np
import pytest
from clinfair.benchmark.checks import probe_rows
from clinfair.benchmark.generation import GenerationSettings, HFBackend, render_prompt, scoring_context
from conftest import eval_args


@pytest.fixture(scope="module")
def backend(tiny_vlm) -> HFBackend:
    from clinfair.benchmark.models import load_model_and_processor

    model, processor = load_model_and_processor(tiny_vlm, dtype="float32")
    return HFBackend(model, processor, GenerationSettings(max_new_tokens=8))


def _log_likelihood_by_loss(backend: HFBackend, row: dict, context: str, label: str) -> float:
    """transformers' own teacher-forced loss on ``\\boxed{label}`` after ``context`` (the whole text
    processed at once), times the number of tokens it averages over."""
    import torch

    processor = backend.processor
    images = [[image.convert("RGB") for image in row["images"]]]
    whole = processor(text=[context + "\\boxed{" + label + "}"], images=images, return_tensors="pt")
    context_length = processor(text=[context], images=images, return_tensors="pt")["input_ids"].shape[1]
    labels = whole["input_ids"].clone()
    labels[:, :context_length] = -100
    with torch.no_grad():
        loss = backend.model(**whole, labels=labels).loss
    return -float(loss) * (whole["input_ids"].shape[1] - context_length)


@pytest.mark.parametrize("mode", ["direct", "after_reasoning"])
def test_scores_are_the_softmax_of_transformers_own_log_likelihoods(backend, mode):
    rows = probe_rows(2, 1)
    # Scoring tokenizes the continuation on its own (as lm-eval does); the oracle tokenizes the whole text,
    # so the contexts end in a newline, where the two tokenizations agree.
    completions = ["<think>red lesion</think>\n\\boxed{malignant}", "no boxed answer here\n"]
    scores = backend.score(rows, mode=mode, completions=completions)
    for row, completion, row_scores in zip(rows, completions, scores):
        context = scoring_context(render_prompt(backend.processor, row, False), completion, mode)
        totals = np.array([_log_likelihood_by_loss(backend, row, context, label) for label in row["choices"]])
        expected = np.exp(totals - totals.max()) / np.exp(totals - totals.max()).sum()
        np.testing.assert_allclose(row_scores, expected, rtol=1e-4)
        assert abs(sum(row_scores) - 1) < 1e-9


def test_scoring_context_by_hand():
    assert scoring_context("P", "ignored", "direct") == "P"
    assert scoring_context("P", "<think>r</think>\\boxed{a} then \\boxed{b}", "after_reasoning") == (
        "P<think>r</think>\\boxed{a} then "
    )
    assert scoring_context("P", "reasoning only", "after_reasoning") == "Preasoning only"
    with pytest.raises(ValueError, match="unknown scoring mode"):
        scoring_context("P", None, "sideways")


def test_eval_scores_reach_clinfair_metrics_and_equal_sklearn(tiny_vlm, eval_data, tmp_path, capsys):
    """End to end: `clinfair eval --scores direct` on the tiny model, then `clinfair metrics` on its
    predictions: each sex group's AUROC and reliability curve equal scikit-learn's on those rows."""
    import json

    import pandas as pd
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_auc_score

    from clinfair.cli import main

    out = tmp_path / "run"
    settings = ("--limit", 40, "--max-new-tokens", 4, "--scores", "direct", "--n-bootstrap", 0)
    assert main(eval_args(tiny_vlm, eval_data, out, *settings, "--no-progress")) == 0
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert main(["metrics", str(out / "predictions.parquet"), "--out", str(tmp_path / "report.json")]) == 0
    assert "AUROC" in capsys.readouterr().out
    report = json.loads((tmp_path / "report.json").read_text())["scores"]["by_dataset"]["synthetic"]
    checked = 0
    for group, entry in report["attributes"]["sex"]["groups"].items():
        rows = predictions[predictions["sex"] == group]
        y = rows["answer"].map(lambda answer: "malignant" in list(answer)).astype(int).to_numpy()
        p = rows["scores"].map(lambda scores: scores[1]).to_numpy()  # choices are (benign, malignant)
        if len(set(y)) < 2:
            assert entry["metrics"]["auroc"]["value"] is None and entry["metrics"]["auroc"]["reason"]
            continue
        assert entry["metrics"]["auroc"]["value"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        prob_true, prob_pred = calibration_curve(y, p, n_bins=15, strategy="uniform")
        np.testing.assert_allclose(entry["reliability"]["malignant"]["prob_true"], prob_true, atol=1e-12)
        np.testing.assert_allclose(entry["reliability"]["malignant"]["prob_pred"], prob_pred, atol=1e-12)
        checked += 1
    assert checked == 2
