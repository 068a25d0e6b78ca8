"""A short supervised warm start, for models that never produce a valid answer.

A random tiny model (the demo's) never writes ``\\boxed{label}``, so every GRPO reward
is 0 and there is no learning signal. This step trains on targets
``<think>…</think>\\boxed{LABEL}`` (the prompt's tokens are masked), in one of two modes:

* ``true_labels=True``: LABEL is the row's answer, a short supervised fine-tune. This is what
  ``clinfair demo`` and ``clinfair study`` run (``clinfair.study.runner._tiny_warm_start``): the
  warm-started model already reads the images, better for some groups than others, and the
  RL runs are compared with it (the ``warm-start`` row of their tables), not with chance.
* ``true_labels=False`` (the default): LABEL is drawn uniformly at random from the row's
  choices, independent of the image, so the model learns the answer format only and answers
  at chance; any accuracy above chance after RL was then learned by RL.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from clinfair.benchmark.generation import render_prompt
from clinfair.tasks.images import to_rgb
from clinfair.tasks.prompts import format_answer

REASONING = "<think>I look at the lesion in the image.</think>"


def format_warm_start(
    model,
    processor,
    rows: Sequence[dict[str, Any]],
    *,
    steps: int = 100,
    batch_size: int = 16,
    learning_rate: float = 3e-3,
    seed: int = 0,
    multi_label: bool = False,
    true_labels: bool = False,
) -> list[float]:
    """Train ``model`` in place; returns the loss of every step.

    With ``true_labels=False`` (default) the boxed label is random: format only. With
    ``true_labels=True`` it is the row's answer: a short supervised warm start.
    """
    import torch

    if not rows:
        raise ValueError("format warm start needs at least one training row")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    tokenizer = processor.tokenizer
    eos = tokenizer.eos_token or ""
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    losses = []
    previous_side = tokenizer.padding_side
    tokenizer.padding_side = "right"  # so prompt lengths index the start of each target
    try:
        for _ in range(steps):
            batch = [rows[rng.randrange(len(rows))] for _ in range(batch_size)]
            prompts = [render_prompt(processor, r, multi_label) for r in batch]
            labels_shown = [r["answer"] if true_labels else [rng.choice(r["choices"])] for r in batch]
            targets = [REASONING + format_answer(labels) + eos for labels in labels_shown]
            images = [[to_rgb(image) for image in r["images"]] for r in batch]  # one list per row
            inputs = processor(
                text=[p + t for p, t in zip(prompts, targets)],
                images=images,
                return_tensors="pt",
                padding=True,
            )
            prompt_lengths = processor(text=prompts, images=images, return_tensors="pt", padding=True)[
                "attention_mask"
            ].sum(dim=1)
            labels = inputs["input_ids"].clone()
            positions = torch.arange(labels.shape[1]).unsqueeze(0)
            labels[positions < prompt_lengths.unsqueeze(1)] = -100  # learn the answer, not the prompt
            labels[inputs["attention_mask"] == 0] = -100
            loss = model(**inputs, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
    finally:
        tokenizer.padding_side = previous_side
        model.eval()
    return losses
