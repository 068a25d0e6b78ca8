"""Reward functions for GRPO on clinical questions, in TRL's reward-function form.

Every reward is called by ``trl.GRPOTrainer`` as ``reward(prompts, completions, **columns)``
and returns one float (or ``None`` = cannot be scored) per completion. The columns of the
GRPO dataset (``clinfair.trainers.data``) arrive as keyword arguments: ``answer``, ``choices``,
``multi_label``, ``dataset``, ``group``, plus TRL's ``completion_ids``. A completion is a
string or, for conversational prompts, a list of messages; both are accepted.

Several rewards combine through TRL's ``reward_weights`` (the weighted sum is the reward).

==================== ================================================================
``accuracy``          1 if the parsed answer set equals the true set, else 0 (the paper)
``f1``                set-F1 of parsed vs true labels, 2|P∩T| / (|P|+|T|); 0 if invalid
``authors``           the authors' training reward, ``medical_compute_score_batch``
                      (DDVD233/mirl ``examples/reward_function/medical.py``):
                      0.5·set-F1 + 0.3·box IoU + 0.1·JSON-format score, see
                      :func:`authors_reward` (the paper reports binary accuracy)
``authors_f1``        0.5·F1 + 0.1·format with clinfair's parsing and think/boxed format:
                      a simplification; ``authors`` is their function
``format``            1 if the completion reasons inside ``<think>…</think>`` and then
                      gives a ``\\boxed{}`` answer, else 0
``ecr``               length reward (medical-VQA seed, "longer reasoning is rewarded"):
                      min(L / target_length, 1), L = completion length in tokens
``cwr``               correctness-weighted length reward: accuracy · min(L / target_length, 1)
``semantic_judge``    :class:`SemanticJudgeReward`, a local causal LM asked whether the
                      reasoning is clinically coherent; p(Yes) / (p(Yes) + p(No))
``bias``              :class:`BiasRewardModel`, a local sequence classifier; the probability
                      of a configured label (BiasGRPO)
==================== ================================================================

Every reward lies in [0, 1]. ``make_reward(name, **params)`` builds one by name (recipes).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from clinfair.tasks.prompts import is_correct, last_boxed, parse_answer

Completion = str | list[dict[str, Any]]

_THINK_THEN_BOXED = re.compile(r"<think>(.+?)</think>.*\\boxed\{", re.DOTALL)
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


def completion_text(completion: Completion) -> str:
    """The text of a completion or prompt: a string, or the text of a conversation's messages."""
    if isinstance(completion, str):
        return completion
    parts = []
    for message in completion:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):  # structured blocks: keep the text ones
            parts += [block.get("text") or "" for block in content if block.get("type") == "text"]
    return "".join(parts)


def _column(kwargs: dict[str, Any], name: str, reward: str, n: int) -> list[Any]:
    if name not in kwargs or kwargs[name] is None:
        raise ValueError(
            f"the {reward} reward needs the dataset column {name!r}; build the dataset with "
            "clinfair.trainers.data and keep remove_unused_columns=False"
        )
    values = list(kwargs[name])
    if len(values) != n:
        raise ValueError(f"column {name!r} has {len(values)} values for {n} completions")
    return values


def _parsed(completions: Sequence[Completion], kwargs: dict[str, Any], reward: str):
    """(predicted labels or None, true labels or None) per completion."""
    n = len(completions)
    answers = _column(kwargs, "answer", reward, n)
    choices = _column(kwargs, "choices", reward, n)
    multi = kwargs.get("multi_label") or [False] * n
    out = []
    for completion, answer, labels, flag in zip(completions, answers, choices, multi):
        truth = list(answer) if answer else None  # a row without an answer cannot be scored
        out.append((parse_answer(completion_text(completion), labels, bool(flag)), truth))
    return out


def accuracy_reward(prompts: list, completions: list[Completion], **kwargs) -> list[float | None]:
    """1.0 when the parsed answer set equals the ground-truth set, else 0.0 (None: no answer)."""
    return [
        None if truth is None else float(is_correct(pred, truth))
        for pred, truth in _parsed(completions, kwargs, "accuracy")
    ]


def set_f1(predicted: Sequence[str] | None, truth: Sequence[str]) -> float:
    """2|P∩T| / (|P|+|T|); an invalid answer (None) scores 0."""
    if not predicted:
        return 0.0
    p, t = set(predicted), set(truth)
    return 2 * len(p & t) / (len(p) + len(t))


def f1_reward(prompts: list, completions: list[Completion], **kwargs) -> list[float | None]:
    """Set-F1 between parsed and true labels (partial credit on multi-label questions)."""
    return [
        None if truth is None else set_f1(pred, truth) for pred, truth in _parsed(completions, kwargs, "f1")
    ]


def _has_format(text: str) -> bool:
    return bool(_THINK_THEN_BOXED.search(text)) and last_boxed(text) is not None


def format_reward(prompts: list, completions: list[Completion], **kwargs) -> list[float]:
    """1.0 when a non-empty ``<think>…</think>`` is followed by a closed ``\\boxed{…}``, else 0.0."""
    return [float(_has_format(completion_text(c))) for c in completions]


def authors_f1_reward(prompts: list, completions: list[Completion], **kwargs) -> list[float | None]:
    """0.5·F1 + 0.1·format: the classification terms of the authors' medical score."""
    f1 = f1_reward(prompts, completions, **kwargs)
    fmt = format_reward(prompts, completions)
    return [None if a is None else 0.5 * a + 0.1 * b for a, b in zip(f1, fmt)]


# -- the authors' reward (issue 14) ------------------------------------------------------------
# DDVD233/mirl examples/reward_function/medical.py, ``medical_compute_score_batch``, which every
# training script of examples/fairness/ uses. Read from their code, written here without torch,
# mathruler or wandb.

_BOXED_SEPARATORS = (", ", " and ", " & ", ",", "&")  # tried in this order; the first present splits


def authors_conditions(text: str) -> set[str]:
    """Their ``parse_conditions``: strip ``\\boxed{`` and ``}``, split on the first separator
    found (", ", " and ", " & ", ",", "&"), strip each part. Case-sensitive, no label space."""
    text = text.replace("\\boxed{", "").replace("}", "")
    for separator in _BOXED_SEPARATORS:
        if separator in text:
            return {part.strip() for part in text.split(separator)}
    return {text.strip()}


def authors_set_f1(completion: str, truth: Sequence[str]) -> float:
    """Their "standard score": F1 of the last boxed answer's conditions against the true ones.

    No boxed answer (or a boxed "None") scores 0. Unlike ``f1``, labels are compared as
    written (case-sensitive, unknown labels count as false positives), as in their code. The
    boxed content is ``clinfair.tasks.prompts.last_boxed`` (theirs: mathruler's ``extract_boxed_content``).
    """
    answer = last_boxed(completion)
    answer = None if answer is None else answer.strip()
    if answer is None or answer == "None":
        return 0.0
    # their precision/recall F1 is the set F1 2|P∩T| / (|P|+|T|)
    return set_f1(authors_conditions(answer), {label.strip() for label in truth})


def _fenced_json(text: str) -> str:
    """Their ``parse_json``: the text after the first ```json / ``` line, up to the next ```
    (the whole text when there is no such line)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line == "```json" or line.strip() == "```":
            text = "\n".join(lines[i + 1 :])
            return text.split("```")[0] if "```" in text else text
    return text


def authors_json_format_score(text: str) -> float:
    """Their ``evaluate_bbox_format``: how well the completion gives a JSON list of boxes.

    +0.2 for a ``` code block, +0.1 if it is marked ```json; the fenced content parsed as JSON
    +0.2 (or +0.1 when only ``ast.literal_eval`` of it with ' -> " parses: a literal parser,
    no code runs); +0.1 if it is a list; + 0.4 × the share of its items that are objects with
    "label" and a "bbox_2d" of 4 numbers. At most 1.
    """
    score = 0.0
    if "```" in text:
        score += 0.2
        if "```json" in text:
            score += 0.1
    content = _fenced_json(text)
    if not content:
        return score
    try:
        parsed = json.loads(content)
        score += 0.2
    except json.JSONDecodeError:
        try:
            parsed = ast.literal_eval(content.replace("'", '"'))
            score += 0.1
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return score
    if not isinstance(parsed, list):
        return score
    score += 0.1
    valid = sum(
        isinstance(item, dict)
        and "label" in item
        and isinstance(item.get("bbox_2d"), list)
        and len(item["bbox_2d"]) == 4
        and all(isinstance(x, int | float) for x in item["bbox_2d"])
        for item in parsed
    )
    return score + (0.4 * valid / len(parsed) if parsed else 0.0)


def authors_reward(prompts: list, completions: list[Completion], **kwargs) -> list[float | None]:
    """The authors' training reward: 0.5·set-F1 + 0.3·IoU + 0.1·JSON-format score.

    The IoU term is 0: their batch function never passes ground-truth boxes or masks (so
    their IoU is 0 for every task too), and clinfair's tasks have none. In practice the
    reward is 0.5·F1 plus up to 0.1 for a JSON list of boxes, which their prompt does not
    ask for. A row without an answer cannot be scored (None).
    """
    answers = _column(kwargs, "answer", "authors", len(completions))
    iou = 0.0
    out: list[float | None] = []
    for completion, answer in zip(completions, answers):
        if not answer:
            out.append(None)
            continue
        text = completion_text(completion)
        out.append(0.5 * authors_set_f1(text, answer) + 0.3 * iou + 0.1 * authors_json_format_score(text))
    return out


def _length(completion: Completion, ids: Sequence[int] | None) -> int:
    """Tokens of the completion when TRL gives its ids, else whitespace-separated words."""
    return len(ids) if ids is not None else len(completion_text(completion).split())


class LengthReward:
    """ECR (``correct_only=False``) or CWR (``correct_only=True``) length reward.

    r = min(L / target_length, 1), L = completion tokens (``completion_ids``; words when
    called without ids). CWR multiplies by the accuracy reward, so only a correct answer is
    paid for its length. Bounded in [0, 1]: beyond ``target_length`` more text earns nothing,
    which keeps the policy from padding its reasoning without limit.
    """

    def __init__(self, target_length: int = 512, correct_only: bool = False):
        if target_length < 1:
            raise ValueError(f"target_length must be >= 1, got {target_length}")
        self.target_length = int(target_length)
        self.correct_only = correct_only
        self.__name__ = "cwr" if correct_only else "ecr"

    def __call__(self, prompts: list, completions: list[Completion], **kwargs) -> list[float | None]:
        ids = kwargs.get("completion_ids") or [None] * len(completions)
        scores: list[float | None] = [
            min(_length(c, i) / self.target_length, 1.0) for c, i in zip(completions, ids)
        ]
        if self.correct_only:
            correct = accuracy_reward(prompts, completions, **kwargs)
            scores = [None if ok is None else ok * s for ok, s in zip(correct, scores)]
        return scores


def _reasoning(text: str) -> str:
    """The ``<think>`` content when there is one, else the whole completion."""
    match = _THINK.search(text)
    return match.group(1).strip() if match else text.strip()


def _batches(items: Sequence[Any], size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


JUDGE_TEMPLATE = (
    "You are reviewing the reasoning of a model answering a clinical imaging question.\n"
    "Question: {question}\nReasoning: {reasoning}\n"
    "Is this reasoning clinically coherent? Answer Yes or No."
)


class SemanticJudgeReward:
    """A local causal LM judges the reasoning: score = p(Yes) / (p(Yes) + p(No)).

    The judge reads :data:`JUDGE_TEMPLATE` (question + the ``<think>`` content), through its
    chat template when it has one, and the score comes from its next-token distribution:
    the probability mass of the "Yes" tokens (with and without a leading space) against the
    "No" tokens, so the score is in (0, 1) and smooth. Completions are judged in batches of
    ``batch_size`` (left-padded, one forward pass each). Any local path or Hub id works.
    """

    __name__ = "semantic_judge"

    def __init__(
        self,
        model: str,
        batch_size: int = 8,
        device: str | None = None,
        dtype: str = "auto",
        max_length: int = 2048,
        template: str = JUDGE_TEMPLATE,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.tokenizer.padding_side = "left"  # the next token is read at the last position
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype).eval()
        if device:
            self.model.to(device)
        self.batch_size, self.max_length, self.template = batch_size, max_length, template
        self.yes_ids = self._token_ids("Yes")
        self.no_ids = self._token_ids("No")

    def _token_ids(self, word: str) -> list[int]:
        """First token of the word with and without a leading space (tokenisers differ)."""
        ids = {self.tokenizer.encode(variant, add_special_tokens=False)[0] for variant in (word, " " + word)}
        return sorted(ids)

    def judge_texts(self, texts: Sequence[str]) -> list[str]:
        """The judge's input strings, ready to tokenize."""
        if self.tokenizer.chat_template:
            return [
                self.tokenizer.apply_chat_template(
                    [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
                )
                for text in texts
            ]
        return [text + "\nAnswer:" for text in texts]

    def scores(self, texts: Sequence[str]) -> list[float]:
        """p(Yes) / (p(Yes) + p(No)) for each judge input (as built by :meth:`judge_texts`)."""
        import torch

        out: list[float] = []
        for batch in _batches(list(texts), self.batch_size):
            inputs = self.tokenizer(
                batch,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_length,
                add_special_tokens=False,
            )
            inputs = inputs.to(self.model.device)
            # positions count real tokens only, so a left-padded text scores as it would alone
            positions = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = self.model(**inputs, position_ids=positions).logits[:, -1, :].float()
            log_probs = torch.log_softmax(logits, dim=-1)
            yes = torch.logsumexp(log_probs[:, self.yes_ids], dim=-1)
            no = torch.logsumexp(log_probs[:, self.no_ids], dim=-1)
            out += torch.sigmoid(yes - no).tolist()  # = p_yes / (p_yes + p_no)
        return out

    def __call__(self, prompts: list, completions: list[Completion], **kwargs) -> list[float]:
        texts = [
            self.template.format(
                question=completion_text(p).strip(), reasoning=_reasoning(completion_text(c))
            )
            for p, c in zip(prompts, completions)
        ]
        return self.scores(self.judge_texts(texts))


class BiasRewardModel:
    """A local sequence classifier scores each completion: reward = p(``label``).

    As in BiasGRPO, the classifier reads the completion text and the reward is the softmax
    probability of one of its labels (``label``: a name from ``config.id2label`` or an
    index), e.g. the "unbiased" / "neutral" class of a bias detector.
    """

    __name__ = "bias"

    def __init__(
        self,
        model: str,
        label: str | int = 0,
        batch_size: int = 16,
        device: str | None = None,
        max_length: int = 512,
    ):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForSequenceClassification.from_pretrained(model).eval()
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        if device:
            self.model.to(device)
        self.label_index = self._label_index(label)
        self.batch_size, self.max_length = batch_size, max_length

    def _label_index(self, label: str | int) -> int:
        id2label = {int(i): name for i, name in self.model.config.id2label.items()}
        if isinstance(label, int) or str(label).isdigit():
            index = int(label)
            if index not in id2label:
                raise ValueError(f"label index {index} is not one of the classifier's {sorted(id2label)}")
            return index
        by_name = {name.lower(): i for i, name in id2label.items()}
        if str(label).lower() not in by_name:
            raise ValueError(
                f"label {label!r} is not one of the classifier's labels {sorted(id2label.values())}"
            )
        return by_name[str(label).lower()]

    def scores(self, texts: Sequence[str]) -> list[float]:
        import torch

        out: list[float] = []
        for batch in _batches(list(texts), self.batch_size):
            inputs = self.tokenizer(
                batch, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length
            )
            inputs = inputs.to(self.model.device)
            with torch.inference_mode():
                logits = self.model(**inputs).logits.float()
            out += torch.softmax(logits, dim=-1)[:, self.label_index].tolist()
        return out

    def __call__(self, prompts: list, completions: list[Completion], **kwargs) -> list[float]:
        return self.scores([completion_text(c) for c in completions])


#: Reward name -> factory taking the reward's parameters (recipes name rewards this way).
REWARDS: dict[str, Callable[..., Callable]] = {
    "accuracy": lambda: accuracy_reward,
    "f1": lambda: f1_reward,
    "authors_f1": lambda: authors_f1_reward,
    "authors": lambda: authors_reward,
    "format": lambda: format_reward,
    "ecr": lambda target_length=512: LengthReward(target_length, correct_only=False),
    "cwr": lambda target_length=512: LengthReward(target_length, correct_only=True),
    "semantic_judge": SemanticJudgeReward,
    "bias": BiasRewardModel,
}


def make_reward(name: str, **params: Any) -> Callable:
    """The reward called ``name`` (a key of :data:`REWARDS`) built with ``params``."""
    if name not in REWARDS:
        raise ValueError(f"unknown reward {name!r}; known rewards: {', '.join(REWARDS)}")
    try:
        return REWARDS[name](**params)
    except TypeError as error:
        raise ValueError(f"reward {name!r}: {error}") from None
