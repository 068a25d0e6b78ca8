"""GRPO on Mllama (Llama-3.2-Vision), whose text model sees the image through cross-attention.

TRL 1.16 drops Mllama's ``aspect_ratio_ids``, ``aspect_ratio_mask`` and ``cross_attention_mask``
between the rollouts and the loss (its loss forward then fails: "`aspect_ratio_ids` must be provided
if `pixel_values` is provided"), and generates with a mask that does not line up with its left-padded
prompts. clinfair's ``GRPOTrainer`` carries them (``clinfair.trainers.grpo``); these tests hold it to
an independent oracle: the model called directly on the processor's own left-padded batch, with the
mask over prompt and completion built by transformers' Mllama processing functions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from trainer_helpers import CPU, keyed_reward, load, two_domain_dataset

LONGER = " Look at the border, the colour and the size of the lesion before you answer."


@pytest.fixture(scope="module")
def mllama(tmp_path_factory) -> str:
    """The zoo's tiny Mllama checkpoint folder."""
    from clinfair.benchmark.zoo import build_tiny_family

    return str(build_tiny_family("mllama", tmp_path_factory.mktemp("mllama")))


def rows_of(dataset, images_per_row: int) -> list[dict]:
    """Two prompts x 2 rollouts of ``dataset``, the second prompt longer (so TRL left-pads the first),
    each with ``images_per_row`` images (the second one mirrored)."""
    from clinfair.tasks.prompts import build_messages
    from PIL import ImageOps

    rows = []
    for index, extra in ((0, ""), (1, LONGER)):
        row = dict(dataset[index])
        question = "Is the lesion in the centre of this image benign or malignant?" + extra
        row["prompt"] = build_messages(question, row["choices"], images_per_row, False)
        image = row["images"][0]
        row["images"] = [image, ImageOps.mirror(image)][:images_per_row]
        rows += [row, dict(row)]
    return rows


def trainer_for(mllama, data_dir, tmp_path, **settings):
    from clinfair.trainers.grpo import GRPOConfig, GRPOTrainer

    model, processor = load(mllama)
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, **(CPU | settings))
    dataset = two_domain_dataset(data_dir, limit=4)
    return GRPOTrainer(model, [keyed_reward], args=args, train_dataset=dataset, processing_class=processor)


def oracle_inputs(processor, rows, completion_ids, completion_mask) -> dict[str, torch.Tensor]:
    """The model's inputs for prompt + completion without TRL: the processor's left-padded batch, and
    the cross-attention mask of the whole sequence from transformers' Mllama processing functions."""
    from transformers.models.mllama.processing_mllama import (
        convert_sparse_cross_attention_mask_to_dense,
        get_cross_attention_token_mask,
    )

    texts = [
        processor.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
        for row in rows
    ]
    images = [row["images"] for row in rows]
    batch = processor(text=texts, images=images, padding=True, padding_side="left", return_tensors="pt")
    input_ids = torch.cat([batch["input_ids"], completion_ids], dim=1)
    num_tiles = batch["aspect_ratio_mask"].sum(-1).tolist()  # tiles per image, per row
    sparse = [
        get_cross_attention_token_mask(ids, processor.image_token_id) for ids in batch["input_ids"].tolist()
    ]
    for row in sparse:  # an image attends "until the end of the sequence": prompt and completion
        for span in row:
            span[1] = input_ids.size(1) if span[1] in (-1, batch["input_ids"].size(1)) else span[1]
    dense = convert_sparse_cross_attention_mask_to_dense(
        sparse, num_tiles, processor.image_processor.max_image_tiles, input_ids.size(1)
    )
    return {
        "input_ids": input_ids,
        "attention_mask": torch.cat([batch["attention_mask"], completion_mask], dim=1),
        "pixel_values": batch["pixel_values"],
        "aspect_ratio_ids": batch["aspect_ratio_ids"],
        "aspect_ratio_mask": batch["aspect_ratio_mask"],
        "cross_attention_mask": torch.from_numpy(dense),
        "prompt_ids": batch["input_ids"],
    }


@pytest.mark.parametrize("images_per_row", [1, 2])
def test_mllama_logps_and_loss_use_the_cross_attention_inputs(images_per_row, mllama, data_dir, tmp_path):
    trainer = trainer_for(mllama, data_dir, tmp_path, temperature=0.7)
    model, processor = trainer.model, trainer.processing_class
    model.eval()  # no dropout: the same numbers twice
    rows = rows_of(two_domain_dataset(data_dir, limit=4), images_per_row)
    batch = trainer._generate_and_score_completions(rows)
    completion_ids, completion_mask = batch["completion_ids"], batch["completion_mask"]
    oracle = oracle_inputs(processor, rows, completion_ids, completion_mask)
    assert torch.equal(batch["prompt_ids"], oracle.pop("prompt_ids"))  # TRL's prompts are the processor's
    assert batch["prompt_mask"][0].sum() < batch["prompt_mask"][2].sum()  # the first prompt is left-padded
    for key in ("aspect_ratio_ids", "aspect_ratio_mask"):
        assert torch.equal(batch[key], oracle[key]), key

    with torch.no_grad():
        logits = model(**oracle).logits[:, -completion_ids.size(1) - 1 : -1].double() / 0.7
    expected = logits.log_softmax(-1).gather(-1, completion_ids.unsqueeze(-1)).squeeze(-1)
    probabilities = logits.softmax(-1)
    entropies = -(probabilities * probabilities.clamp_min(1e-300).log()).sum(-1)
    tokens = completion_mask.bool()
    assert tokens.sum() >= 4

    # the override, in chunks of 3 rows (TRL's chunking by batch_size), from the kept batch
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(
            model,
            oracle["input_ids"],
            oracle["attention_mask"],
            completion_ids.size(1),
            batch_size=3,
            pixel_values=batch["pixel_values"],
            num_images=batch["num_images"],
            **{key: batch[key] for key in ("aspect_ratio_ids", "aspect_ratio_mask", "cross_attention_mask")},
        )
    np.testing.assert_allclose(logps[tokens].double(), expected[tokens], atol=1e-5)

    # the loss reads the same inputs: the entropy it logs is the oracle's mean entropy
    with torch.no_grad():
        loss = trainer._compute_loss(model, batch)
    assert torch.isfinite(loss)
    logged = trainer._metrics["eval"]["entropy"][-1]
    assert logged == pytest.approx(entropies[tokens].mean().item(), abs=1e-5)


def test_mllama_rollouts_see_the_processors_left_padded_inputs(mllama, data_dir, tmp_path):
    """TRL left-pads the prompts it generates from; the cross-attention mask must move with them
    (the processor's own mask starts every unpadded prompt at position 0). ``generate`` gets the
    processor's left-padded batch, and greedy rollouts are what it generates from that batch."""
    trainer = trainer_for(mllama, data_dir, tmp_path, generation_kwargs={"do_sample": False})
    model, processor = trainer.model, trainer.processing_class
    model.eval()
    seen = []
    generate = model.generate

    def recording_generate(**inputs):
        seen.append(inputs)
        return generate(**inputs)

    model.generate = recording_generate
    rows = rows_of(two_domain_dataset(data_dir, limit=4), 1)
    batch = trainer._generate_and_score_completions(rows)
    del model.generate
    oracle = oracle_inputs(processor, rows, batch["completion_ids"][:, :0], batch["completion_mask"][:, :0])
    del oracle["prompt_ids"]
    assert len(seen) == 1
    for key, expected in oracle.items():
        assert torch.equal(seen[0][key], expected), key
    with torch.no_grad():
        generated = model.generate(
            **oracle,
            do_sample=False,
            max_new_tokens=trainer.max_completion_length,
            suppress_tokens=[model.config.image_token_id],
            pad_token_id=processor.tokenizer.pad_token_id,
        )[:, oracle["input_ids"].size(1) :]
    for ours, mask, expected in zip(
        batch["completion_ids"], batch["completion_mask"], generated, strict=True
    ):
        assert ours[mask.bool()].tolist() == expected[: int(mask.sum())].tolist()


def test_mllama_trains_two_steps(mllama, data_dir, tmp_path):
    """Two GRPO steps: finite losses and gradients, and the weights move, the image path included
    (vision tower and cross-attention layer get gradients only through cross_attention_mask rows)."""
    trainer = trainer_for(mllama, data_dir, tmp_path, max_steps=2, learning_rate=1e-3)
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logs) == 2
    assert all(math.isfinite(entry["loss"]) and math.isfinite(entry["grad_norm"]) for entry in logs)
    assert any(entry["grad_norm"] > 0 for entry in logs)
    after = dict(trainer.model.named_parameters())
    assert all(torch.isfinite(p).all() for p in after.values())
    changed = {name for name, p in after.items() if not torch.equal(p.detach(), before[name])}
    assert any(name.startswith("model.vision_model.") for name in changed), sorted(changed)
    assert any(".cross_attn." in name for name in changed), sorted(changed)


def test_mllama_prompts_must_pad_on_the_left(mllama, data_dir, tmp_path):
    from clinfair.trainers.grpo import GRPOConfig, GRPOTrainer

    model, processor = load(mllama)
    processor.tokenizer.padding_side = "right"
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, **CPU)
    with pytest.raises(ValueError, match="padding_side='left'"):
        GRPOTrainer(
            model,
            [keyed_reward],
            args=args,
            train_dataset=two_domain_dataset(data_dir, 4),
            processing_class=processor,
        )
