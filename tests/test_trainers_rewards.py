"""Reward functions on hand-written completions: exact numbers, both completion forms."""

from __future__ import annotations

import pytest
from clinfair.trainers.rewards import (
    BiasRewardModel,
    SemanticJudgeReward,
    accuracy_reward,
    authors_f1_reward,
    completion_text,
    f1_reward,
    format_reward,
    make_reward,
)

CHOICES = ["benign", "malignant"]
FINDINGS = ["Edema", "Effusion", "Pneumonia"]


def conv(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def columns(answers, choices, multi=False):
    n = len(answers)
    return {"answer": answers, "choices": [choices] * n, "multi_label": [multi] * n}


def test_completion_text_accepts_strings_messages_and_blocks():
    assert completion_text("plain") == "plain"
    assert completion_text(conv("a message")) == "a message"
    blocks = [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "x"}, {"type": "image"}, {"type": "text", "text": "y"}],
        }
    ]
    assert completion_text(blocks) == "xy"


def test_accuracy_is_exact_set_match():
    completions = [
        "<think>dark lesion</think>\\boxed{malignant}",  # right
        conv("<think>light</think>\\boxed{benign}"),  # wrong, conversational
        "no boxed answer at all",  # invalid -> wrong
        "\\boxed{benign, malignant}",  # two labels on a single-label question -> invalid
        "\\boxed{ Malignant. }",  # normalised
    ]
    answers = [["malignant"]] * 5
    assert accuracy_reward([None] * 5, completions, **columns(answers, CHOICES)) == [1.0, 0.0, 0.0, 0.0, 1.0]


def test_accuracy_multilabel_and_unscorable_rows():
    completions = ["\\boxed{Effusion, Edema}", "\\boxed{Edema}", "\\boxed{Edema}"]
    answers = [["Edema", "Effusion"], ["Edema", "Effusion"], None]  # a row without answer: None
    assert accuracy_reward([None] * 3, completions, **columns(answers, FINDINGS, multi=True)) == [
        1.0,
        0.0,
        None,
    ]


def test_f1_partial_credit():
    completions = ["\\boxed{Edema, Pneumonia}", "\\boxed{Edema}", "garbage", "\\boxed{Edema, Effusion}"]
    answers = [["Edema", "Effusion"]] * 4
    # |P∩T| = 1, |P| = |T| = 2 -> 0.5;  P={Edema}: 2/(1+2);  invalid 0;  exact 1
    assert f1_reward([None] * 4, completions, **columns(answers, FINDINGS, multi=True)) == [
        0.5,
        2 / 3,
        0.0,
        1.0,
    ]


def test_format_needs_reasoning_then_a_closed_box():
    completions = [
        "<think>reasons</think> so \\boxed{benign}",
        conv("<think>reasons</think>\\boxed{benign}"),
        "\\boxed{benign}",  # no reasoning
        "\\boxed{benign}<think>late</think>",  # box before the reasoning
        "<think></think>\\boxed{benign}",  # empty reasoning
        "<think>reasons</think>\\boxed{benign",  # unclosed box
    ]
    assert format_reward([None] * 6, completions) == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def test_authors_f1_is_half_f1_plus_a_tenth_of_format():
    completions = ["<think>r</think>\\boxed{Edema}", "\\boxed{Edema, Effusion}"]
    answers = [["Edema", "Effusion"]] * 2
    got = authors_f1_reward([None] * 2, completions, **columns(answers, FINDINGS, multi=True))
    assert got == pytest.approx([0.5 * 2 / 3 + 0.1, 0.5 * 1.0 + 0.0])


def test_length_rewards_ecr_and_cwr():
    completions = ["<think>a</think>\\boxed{benign}", "\\boxed{malignant}", "\\boxed{benign}"]
    kwargs = columns([["benign"]] * 3, CHOICES) | {"completion_ids": [[1] * 5, [1] * 30, [1] * 10]}
    ecr, cwr = make_reward("ecr", target_length=10), make_reward("cwr", target_length=10)
    assert ecr([None] * 3, completions, **kwargs) == [0.5, 1.0, 1.0]  # min(L/10, 1)
    assert cwr([None] * 3, completions, **kwargs) == [0.5, 0.0, 1.0]  # only correct answers are paid
    # without token ids the length is counted in words
    assert ecr([None], ["one two three four five"]) == [0.5]
    assert (ecr.__name__, cwr.__name__) == ("ecr", "cwr")


def test_missing_answer_column_is_a_clear_error():
    with pytest.raises(ValueError, match="'answer'"):
        accuracy_reward([None], ["\\boxed{benign}"], choices=[CHOICES])


def test_make_reward_rejects_unknown_names_and_parameters():
    with pytest.raises(ValueError, match="unknown reward 'acuracy'"):
        make_reward("acuracy")
    with pytest.raises(ValueError, match="reward 'ecr'"):
        make_reward("ecr", target=3)


# -- model-based rewards, on tiny random models built here ---------------------------------------


@pytest.fixture(scope="module")
def tiny_text_models(tmp_path_factory):
    """A tiny causal LM (judge) and a tiny 2-label sequence classifier, saved locally."""
    import torch
    from clinfair.benchmark.models import build_tiny_tokenizer
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2ForSequenceClassification

    tokenizer = build_tiny_tokenizer()
    root = tmp_path_factory.mktemp("text-models")
    config = dict(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(Qwen2Config(**config)).save_pretrained(root / "judge")
    classifier_config = Qwen2Config(
        **config, num_labels=2, id2label={0: "biased", 1: "unbiased"}, label2id={"biased": 0, "unbiased": 1}
    )
    Qwen2ForSequenceClassification(classifier_config).save_pretrained(root / "bias")
    for name in ("judge", "bias"):
        tokenizer.save_pretrained(root / name)
    return root


def test_semantic_judge_scores_are_yes_over_yes_plus_no(tiny_text_models):
    import torch

    judge = SemanticJudgeReward(str(tiny_text_models / "judge"), batch_size=2)
    prompts = [conv("Is it benign?")] * 3
    completions = [
        conv("<think>the lesion is light and round</think>\\boxed{benign}"),
        "short",
        conv("x " * 20),
    ]
    scores = judge(prompts, completions)

    # oracle: each text alone (no padding), probabilities summed over the Yes / No token ids
    texts = judge.judge_texts(
        [
            judge.template.format(question="Is it benign?", reasoning="the lesion is light and round"),
            judge.template.format(question="Is it benign?", reasoning="short"),
            judge.template.format(question="Is it benign?", reasoning=("x " * 20).strip()),
        ]
    )
    expected = []
    for text in texts:
        ids = judge.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            probs = torch.softmax(judge.model(**ids).logits[0, -1].double(), dim=-1)
        yes, no = probs[judge.yes_ids].sum(), probs[judge.no_ids].sum()
        expected.append(float(yes / (yes + no)))
    assert scores == pytest.approx(expected, rel=1e-5)
    assert all(0 < s < 1 for s in scores)
    assert judge.__name__ == "semantic_judge"


def test_bias_reward_is_the_configured_label_probability(tiny_text_models):
    import torch

    path = str(tiny_text_models / "bias")
    reward = BiasRewardModel(path, label="unbiased", batch_size=2)
    completions = ["a fair answer", conv("another, longer answer about the image"), "x"]
    scores = reward([None] * 3, completions)
    expected = []
    for text in ["a fair answer", "another, longer answer about the image", "x"]:
        ids = reward.tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            expected.append(float(torch.softmax(reward.model(**ids).logits[0].double(), dim=-1)[1]))
    assert scores == pytest.approx(expected, rel=1e-5)
    assert BiasRewardModel(path, label=0)([None], ["x"]) == pytest.approx([1 - expected[2]], rel=1e-5)
    with pytest.raises(ValueError, match="neutral"):
        BiasRewardModel(path, label="neutral")
