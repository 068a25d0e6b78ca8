"""The authors' reward preset (``rewards: authors``), by hand from mirl's medical_compute_score_batch."""

from __future__ import annotations

import pytest
from clinfair.trainers.recipes import load_recipe
from clinfair.trainers.rewards import authors_json_format_score, authors_reward, make_reward

FENCED = '```json\n[{"label": "a", "bbox_2d": [1, 2, 3, 4]}, {"label": "b"}]\n```\n'


@pytest.mark.parametrize(
    ("completion", "truth", "expected"),
    [
        # F1 1, no JSON: 0.5·1
        ("<think>looks dark</think> \\boxed{melanoma}", ["melanoma"], 0.5),
        # case-sensitive and no label space: "Melanoma" is a false positive, F1 0
        ("\\boxed{Melanoma, nevus}", ["melanoma"], 0.0),
        # split on " and ": P = {melanoma, nevus}, T = {melanoma, bcc}: precision = recall = 1/2, F1 1/2
        ("\\boxed{melanoma and nevus}", ["melanoma", "bcc"], 0.25),
        # JSON list, one of two items a valid box: .2 + .1 + .2 + .1 + .4·1/2 = .8 -> 0.5·1 + 0.1·.8
        (FENCED + "\\boxed{a}", ["a"], 0.58),
        # no boxed answer, or a boxed "None": F1 0
        ("no answer", ["a"], 0.0),
        ("\\boxed{None}", ["None"], 0.0),
    ],
)
def test_authors_reward_by_hand(completion, truth, expected):
    assert authors_reward([None], [completion], answer=[truth]) == [pytest.approx(expected)]


def test_json_format_score_by_hand():
    # ``` +.2 (not json-marked); JSON fails, literal_eval with ' -> " parses: +.1; list +.1; 1/1 valid +.4
    assert authors_json_format_score("```\n[{'label': 'a', 'bbox_2d': [0, 0, 1, 1]}]\n```") == pytest.approx(
        0.8
    )
    assert authors_json_format_score("```json\n{not json\n```") == pytest.approx(0.3)
    assert authors_json_format_score('```json\n{"label": "a"}\n```') == pytest.approx(0.5)  # not a list
    assert authors_json_format_score("```json\n[]\n```") == pytest.approx(
        0.6
    )  # empty list: no items to score
    assert authors_json_format_score("") == 0.0


def test_authors_reward_is_a_named_preset():
    assert make_reward("authors") is authors_reward
    assert authors_reward([None], ["\\boxed{a}"], answer=[None]) == [None]  # unscorable row
    recipe = load_recipe({"model": "tiny", "rewards": ["authors"], "use_cpu": True, "bf16": False}, "grpo")
    assert recipe.arguments.rewards == ["authors"]
