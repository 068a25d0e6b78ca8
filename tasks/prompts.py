"""Prompts and answer parsing shared by evaluation and training (DESIGN.md section 2).

The prompt is the question, the label space and one format instruction. The parser takes
the *last* ``\\boxed{...}`` of a completion, splits it into labels and maps each to the
label space; anything it cannot map makes the answer **invalid** (``None``), which is
counted and scored as wrong, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from clinfair.tasks.schema import group_key

if TYPE_CHECKING:
    from clinfair.tasks.spec import TaskSpec

INSTRUCTION = (
    "Think about the question step by step inside <think></think> tags, "
    "then give the final answer inside \\boxed{}."
)
_SEPARATORS = re.compile(r"\s*(?:,|&|\band\b|;)\s*", re.IGNORECASE)
_TEXT_WRAPPER = re.compile(r"^\\(?:text|mathrm|textbf)\{(.*)\}$", re.DOTALL)
_BOXED = "\\boxed{"


def build_prompt(question: str, choices: Sequence[str], multi_label: bool = False) -> str:
    """The user turn of the conversation: question, options and answer-format instruction."""
    options = ", ".join(choices)
    how_many = (
        "Select all options that apply, separated by commas." if multi_label else "Select exactly one option."
    )
    return f"{question.strip()}\nOptions: {options}.\n{how_many}\n{INSTRUCTION}"


def last_boxed(completion: str) -> str | None:
    """Content of the last ``\\boxed{...}``, braces balanced; ``None`` if there is none."""
    start = completion.rfind(_BOXED)
    while start != -1:
        depth, i = 1, start + len(_BOXED)
        while i < len(completion) and depth:
            depth += {"{": 1, "}": -1}.get(completion[i], 0)
            i += 1
        if depth == 0:
            return completion[start + len(_BOXED) : i - 1]
        start = completion.rfind(_BOXED, 0, start)  # unclosed: fall back to an earlier one
    return None


def normalize_label(text: str) -> str:
    """Case- and whitespace-insensitive form of a label, without quotes or a final period."""
    text = text.strip()
    match = _TEXT_WRAPPER.match(text)
    if match:
        text = match.group(1)
    text = text.strip().strip("\"'`").rstrip(".").strip()
    return " ".join(text.lower().split())


def is_correct(prediction: Sequence[str] | None, answer: Sequence[str]) -> bool:
    """Exact match: the parsed labels are the ground-truth set (an invalid answer is wrong)."""
    return prediction is not None and set(prediction) == set(answer)


def parse_answer(completion: str, choices: Sequence[str], multi_label: bool = False) -> list[str] | None:
    """Labels named by the last boxed answer, in label-space order; ``None`` if invalid.

    Invalid: no boxed answer, an empty one, a part that is not in the label space, or
    several labels for a single-label question.
    """
    if not isinstance(completion, str):
        return None
    boxed = last_boxed(completion)
    if boxed is None:
        return None
    by_norm = {normalize_label(choice): choice for choice in choices}
    whole = normalize_label(boxed)
    if whole in by_norm:  # a label that itself contains a separator, e.g. "Pleural Other"
        return [by_norm[whole]]
    parts = [normalize_label(part) for part in _SEPARATORS.split(boxed)]
    parts = [part for part in parts if part]
    if not parts or any(part not in by_norm for part in parts):
        return None
    picked = {by_norm[part] for part in parts}
    if len(picked) > 1 and not multi_label:
        return None
    return [choice for choice in choices if choice in picked]


def format_answer(labels: Sequence[str]) -> str:
    """The boxed string a perfect completion would end with (used by rewards and tests)."""
    return _BOXED + ", ".join(labels) + "}"


#: How a stated-demographics prompt words each value (``state_demographics``).
SEX_WORDS = {"F": "female", "M": "male"}
AGE_GROUP_WORDS = {
    "A1": "aged 25 or younger",
    "A2": "aged 26 to 50",
    "A3": "aged 51 to 75",
    "A4": "aged over 75",
}


def state_demographics(question: str, sex: str | None, age_group: str | None) -> str:
    """The question preceded by one clinical sentence stating the patient's sex and age bin.

    An option of the prompt, off by default (clinfair's prompts never state demographics);
    the counterfactual probe (``clinfair probe``) uses it to ask the same question about the
    same images with only the stated demographics changed. A null value is left unsaid.
    """
    parts = [SEX_WORDS[sex]] if sex in SEX_WORDS else []
    parts += [AGE_GROUP_WORDS[age_group]] if age_group in AGE_GROUP_WORDS else []
    if not parts:
        return question
    return f"The patient is {', '.join(parts)}. {question}"


def build_messages(
    question: str, choices: Sequence[str], num_images: int, multi_label: bool = False
) -> list[dict]:
    """The conversation for chat templates and TRL: image placeholders, then the prompt."""
    content: list[dict] = [{"type": "image"} for _ in range(num_images)]
    content.append({"type": "text", "text": build_prompt(question, choices, multi_label)})
    return [{"role": "user", "content": content}]


def prediction_record(
    spec: TaskSpec, index: int, row: dict[str, Any], completion: str, scores: list[float] | None = None
) -> dict[str, Any]:
    """One line of ``predictions``: the row's identity and demographics, and how it was answered
    (``scores``: the label probabilities, aligned with ``choices``, when the run scores labels)."""
    prediction = parse_answer(completion, row["choices"], spec.multi_label)
    attributes = {k: v for k, v in (row.get("attributes") or {}).items() if k != "_"}
    return {
        "id": row["id"],
        "dataset": spec.key,
        "split": row["split"],
        "index": index,
        "sex": row["sex"],
        "age": row["age"],
        "age_group": row["age_group"],
        "group": group_key(row),
        **{name: attributes.get(name) for name in spec.attributes},
        "choices": list(row["choices"]),
        "answer": list(row["answer"]),
        "completion": completion,
        "prediction": prediction,
        "valid": prediction is not None,
        "correct": is_correct(prediction, row["answer"]),
        **({"scores": scores} if scores is not None else {}),
    }
