"""The group-shift options of the synthetic task: planted cues, learnability, degradation."""

from __future__ import annotations

import numpy as np
import pytest
from clinfair.tasks import get_task
from clinfair.tasks.builders.synthetic import GROUP_SHIFT, SyntheticBuilder
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def _builder(**options) -> SyntheticBuilder:
    return SyntheticBuilder(get_task("synthetic"), None, **options)


@pytest.fixture(scope="module")
def shifted_rows() -> list[dict]:
    builder = _builder(**GROUP_SHIFT)
    return [builder.draw(i) for i in range(900)]


def _pooled(pixels: np.ndarray) -> np.ndarray:
    """8 x 8 average-pooled RGB: 192 plain image features."""
    return pixels.astype(float).reshape(8, 7, 8, 7, 3).mean(axis=(1, 3)).ravel()


def _read_image(pixels: np.ndarray) -> tuple[bool, float]:
    """An oracle independent of the builder's latent: (centre looks malignant, lesion radius / side)."""
    px = pixels.astype(float)
    centre = px[24:32, 24:32].reshape(-1, 3).mean(axis=0)
    malignant_colour = centre[1] < 95  # green: malignant lesions ~30, benign ~160, skin >= 148
    lesion_rgb = np.array([110, 30, 35]) if malignant_colour else np.array([205, 160, 110])
    lesion = np.linalg.norm(px - lesion_rgb, axis=2) < 25  # pixel noise is 8 per channel
    return malignant_colour, float(np.sqrt(lesion.sum() / np.pi) / px.shape[0])


def test_labels_follow_the_planted_rule_read_from_the_pixels(shifted_rows):
    for row in shifted_rows[:300]:
        malignant_colour, radius = _read_image(row["pixels"])
        if row["group"] in GROUP_SHIFT["group_cues"]:
            assert row["cue"] == "size"
            assert (radius > 0.25) == row["malignant"], (row["group"], radius)
        else:
            assert row["cue"] == "colour" and malignant_colour == row["malignant"]


def test_each_cue_is_learnable_on_its_own_and_neither_transfers(shifted_rows):
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    features, labels = {}, {}
    for cue in ("colour", "size"):
        rows = [r for r in shifted_rows if r["cue"] == cue][:120]
        features[cue] = np.array([_pooled(r["pixels"]) for r in rows])
        labels[cue] = np.array([r["malignant"] for r in rows])
        assert cross_val_score(model, features[cue], labels[cue], cv=4).mean() >= 0.9, cue
    transfer = model.fit(features["colour"], labels["colour"]).score(features["size"], labels["size"])
    assert 0.3 < transfer < 0.7  # the majority's rule is a coin flip for the minority


def test_default_task_has_one_rule_and_degradation_adds_noise():
    plain = _builder().draw(5)
    assert plain["cue"] == "colour" and plain["large"] is None
    degraded = _builder(group_degradation={plain["group"]: 40})

    def corner_noise(pixels: np.ndarray) -> float:  # per-channel std of the background corner
        return float(pixels[:6, :6].astype(float).std(axis=(0, 1)).mean())

    assert corner_noise(plain["pixels"]) == pytest.approx(8, abs=2.5)  # the task's own pixel noise
    assert corner_noise(degraded.draw(5)["pixels"]) > 3 * corner_noise(plain["pixels"])
    np.testing.assert_array_equal(_builder(group_cues={}).draw(5)["pixels"], plain["pixels"])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"group_cues": {"F|A1": "shape"}}, "group_cues takes"),
        ({"group_cues": {"X|A9": "size"}}, "absent from"),
        ({"group_degradation": {"F|A1": -1}}, "group_degradation"),
    ],
)
def test_bad_shift_options_name_the_problem(options, message):
    with pytest.raises(ValueError, match=message):
        _builder(**options)
