"""Label probabilities from the answer continuation's log-likelihood (``HFBackend.score``)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.checks import probe_rows
from benchmark.generation import GenerationSettings, HFBackend, render_prompt, scoring_context


@pytest.fixture(scope="module")
def backend(tiny_vlm) -> HFBackend:
    from benchmark.models import load_model_and_processor

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
