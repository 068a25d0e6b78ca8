"""Prompt building and the answer parser: round trips and malformed completions."""

from __future__ import annotations

import pytest
from clinfair.tasks.prompts import INSTRUCTION, build_prompt, format_answer, last_boxed, parse_answer
from clinfair.tasks.registry import list_tasks
from hypothesis import given
from hypothesis import strategies as st

SKIN = ["melanoma", "nevus", "basal cell carcinoma", "actinic keratosis", "other"]
CHEX = [c for spec in list_tasks() if spec.key == "chexpert" for c in spec.choices]


def test_prompt_has_question_choices_and_instruction():
    prompt = build_prompt("  What is it? ", SKIN)
    assert prompt.startswith("What is it?\n")
    assert "melanoma, nevus, basal cell carcinoma, actinic keratosis, other" in prompt
    assert "exactly one" in prompt and prompt.endswith(INSTRUCTION)
    assert "all options that apply" in build_prompt("q", CHEX, multi_label=True)


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think>dark</think>\\boxed{melanoma}", ["melanoma"]),
        ("\\boxed{nevus} no wait \\boxed{Melanoma}", ["melanoma"]),  # the last one counts
        ("\\boxed{  Basal   Cell carcinoma. }", ["basal cell carcinoma"]),
        ("\\boxed{\\text{other}}", ["other"]),
        ("\\boxed{'nevus'}", ["nevus"]),
        ("answer: \\boxed{nevus} \\boxed{unclosed", ["nevus"]),  # an unclosed box is ignored
    ],
)
def test_single_label_parsing(completion, expected):
    assert parse_answer(completion, SKIN) == expected


@pytest.mark.parametrize(
    "completion",
    [
        "",
        "melanoma",
        "\\boxed{}",
        "\\boxed{ }",
        "\\boxed{cancer}",
        "\\boxed{melanoma, nevus}",
        "\\boxed{melanoma",
        "\\boxed{mel anoma}",
        None,
        42,
    ],
)
def test_malformed_single_label_answers_are_invalid(completion):
    assert parse_answer(completion, SKIN) is None


@pytest.mark.parametrize(
    ("boxed", "expected"),
    [
        ("Edema, Pleural Effusion", ["Edema", "Pleural Effusion"]),
        ("pleural effusion and edema", ["Edema", "Pleural Effusion"]),  # label-space order
        ("Edema & Fracture,Cardiomegaly", ["Cardiomegaly", "Edema", "Fracture"]),
        ("Edema; edema", ["Edema"]),
        ("Pleural Other", ["Pleural Other"]),
    ],
)
def test_multi_label_parsing(boxed, expected):
    assert parse_answer(f"<think></think>\\boxed{{{boxed}}}", CHEX, multi_label=True) == expected


def test_multi_label_with_one_unknown_part_is_invalid():
    assert parse_answer("\\boxed{Edema, Tumour}", CHEX, multi_label=True) is None
    assert parse_answer("\\boxed{Edema,,}", CHEX, multi_label=True) == ["Edema"]


def test_last_boxed_balances_braces():
    assert last_boxed("x \\boxed{a{b}c} y") == "a{b}c"
    assert last_boxed("no box") is None


@given(st.lists(st.sampled_from(CHEX), min_size=1, max_size=5, unique=True), st.booleans())
def test_round_trip_multi_label(labels, shout):
    text = format_answer([label.upper() if shout else label for label in labels])
    assert parse_answer(f"<think>...</think>{text}", CHEX, multi_label=True) == [
        c for c in CHEX if c in labels
    ]


@given(st.sampled_from(SKIN), st.text(alphabet="abc xyz<>/", max_size=30))
def test_round_trip_single_label_with_noise_before(label, noise):
    assert parse_answer(noise + format_answer([label]), SKIN) == [label]


@given(st.text(max_size=80))
def test_parser_never_raises(text):
    result = parse_answer(text, SKIN)
    assert result is None or (len(result) == 1 and result[0] in SKIN)
