"""GRPO: TRL's ``GRPOTrainer`` as is, behind clinfair's config so every method looks alike.

``GRPOConfig`` adds the names of the two columns the fairness-aware methods read (the
domain and the demographic group, see ``clinfair.trainers.data``); plain GRPO ignores them.
Advantage: A = (r - mean_p) / (std_p + 1e-4) per prompt (TRL's ``scale_rewards="group"``).

``GRPOTrainer`` also carries the inputs of cross-attention VLMs (Mllama, Llama-3.2-Vision)
that TRL 1.16 drops (:data:`CROSS_ATTENTION_KEYS`), so every method trains them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import trl
from trl.trainer.utils import pad

#: Inputs of Mllama (Llama-3.2-Vision) that TRL 1.16's GRPOTrainer does not forward to the policy: its
#: text model reads the image through cross-attention layers, which need the image tiles' aspect
#: ratios and, per token, which images (and tiles) the token may attend to. All are batch-first.
CROSS_ATTENTION_KEYS = ("aspect_ratio_ids", "aspect_ratio_mask", "cross_attention_mask")


@dataclass
class GRPOConfig(trl.GRPOConfig):
    """``trl.GRPOConfig`` plus the dataset columns holding each prompt's domain and group.

    Parameters of ``trl.GRPOConfig``, plus:

    Parameters:
        domain_column (`str`, *optional*, defaults to `"dataset"`):
            Column with each prompt's domain (the dataset / task key).
        group_column (`str`, *optional*, defaults to `"group"`):
            Column with each prompt's demographic group key (e.g. ``"F|A3"``, or ``"UNK"``).
    """

    domain_column: str = field(
        default="dataset",
        metadata={"help": "Column with each prompt's domain (the dataset / task key)."},
    )
    group_column: str = field(
        default="group",
        metadata={"help": "Column with each prompt's demographic group key (e.g. 'F|A3', or 'UNK')."},
    )


def default_config(config_class: type[GRPOConfig], model, method: str) -> GRPOConfig:
    """What TRL builds when a trainer gets no ``args``: output dir ``<model name>-<method>``."""
    name = model if isinstance(model, str) else model.config._name_or_path
    return config_class(f"{str(name).rstrip('/').split('/')[-1]}-{method}")


class GRPOTrainer(trl.GRPOTrainer):
    """``trl.GRPOTrainer``; with ``use_vllm`` and ``vllm_mode="colocate"`` its vLLM engine runs in the
    policy's dtype (:func:`colocated_engine_dtype`)."""

    _tag_names = ["trl", "grpo", "clinfair"]

    def __init__(self, model, *args, **kwargs):
        config = kwargs.get("args", args[1] if len(args) > 1 else None)
        colocated = getattr(config, "use_vllm", False) and getattr(config, "vllm_mode", None) == "colocate"
        dtype = getattr(model, "dtype", None)
        with colocated_engine_dtype(dtype if colocated else None):
            super().__init__(model, *args, **kwargs)
        self._cross_attention_inputs: dict[str, Any] = {}
        input_names = getattr(self.processing_class, "model_input_names", ())
        if "cross_attention_mask" in input_names and self._tokenizer.padding_side != "left":
            # TRL left-pads the prompts, and its forward pass takes the mask of a padded processor call
            raise ValueError(
                f"{type(self.processing_class).__name__} pads on the {self._tokenizer.padding_side}; "
                "cross_attention_mask must line up with TRL's left-padded prompts: set tokenizer.padding_side='left'"
            )

    # -- cross-attention VLMs (Mllama) ---------------------------------------------------------
    # TRL 1.16 generates with all of the processor's outputs, but (1) it left-pads input_ids while
    # Mllama's cross_attention_mask comes from unpadded prompts, (2) its _get_per_token_logps_and_entropies
    # takes a fixed set of keyword arguments (Mllama's three are a TypeError) and (3) the batch it keeps
    # for the loss holds a fixed set of keys. The four overrides below fix those and nothing else.

    def _tokenize_prompts(self, prompts: list):
        prompt_ids, images, multimodal_fields = super()._tokenize_prompts(prompts)
        if "cross_attention_mask" in multimodal_fields:
            # The processor's mask (B, longest prompt, images, tiles) starts each row at position 0, as the
            # unpadded prompt_ids do. As one list per row, TRL left-pads it like input_ids for generate.
            mask = multimodal_fields["cross_attention_mask"]
            multimodal_fields["cross_attention_mask"] = [
                mask[row, : len(ids)].tolist() for row, ids in enumerate(prompt_ids)
            ]
            # kept for the loss (see _generate_and_score_completions): the very inputs the rollouts saw
            self._cross_attention_inputs = {
                key: multimodal_fields[key] for key in CROSS_ATTENTION_KEYS if key in multimodal_fields
            }
        return prompt_ids, images, multimodal_fields

    def _generate_and_score_completions(self, inputs):
        self._cross_attention_inputs = {}
        output = super()._generate_and_score_completions(inputs)
        cross_attention_inputs, self._cross_attention_inputs = self._cross_attention_inputs, {}
        if cross_attention_inputs:
            # batch-first, so TRL's shuffle and split of the buffered batch keep each row's inputs with it
            device = output["prompt_ids"].device
            mask = pad(
                [torch.tensor(row) for row in cross_attention_inputs.pop("cross_attention_mask")],
                padding_value=0,
                padding_side="left",
                pad_to_multiple_of=self.pad_to_multiple_of,
            )  # the left padding of output["prompt_ids"]
            output["cross_attention_mask"] = mask.to(device)
            for key, value in cross_attention_inputs.items():
                output[key] = torch.as_tensor(value).to(device)
        return output

    def _compute_loss(self, model, inputs):
        cross_attention_inputs = {key: inputs[key] for key in CROSS_ATTENTION_KEYS if key in inputs}
        if not cross_attention_inputs:
            return super()._compute_loss(model, inputs)
        # TRL's _compute_loss passes a fixed set of keys to _get_per_token_logps_and_entropies: bind the
        # cross-attention ones to it for this call.
        self._get_per_token_logps_and_entropies = functools.partial(
            self._get_per_token_logps_and_entropies, **cross_attention_inputs
        )
        try:
            return super()._compute_loss(model, inputs)
        finally:
            del self._get_per_token_logps_and_entropies  # back to the method

    def _get_per_token_logps_and_entropies(
        self,
        model,
        input_ids,
        attention_mask,
        logits_to_keep,
        batch_size=None,
        compute_entropy=False,
        compute_aux_loss=False,
        pixel_values=None,
        aspect_ratio_ids=None,
        aspect_ratio_mask=None,
        cross_attention_mask=None,
        **kwargs,
    ):
        if cross_attention_mask is None:
            return super()._get_per_token_logps_and_entropies(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                pixel_values=pixel_values,
                **kwargs,
            )
        # Every Mllama input is batch-first: chunk them all by row, and let TRL's method score each chunk
        # (labels, fused LM head, entropy) with the image inputs bound to the model call.
        cross_attention_mask = full_cross_attention_mask(
            cross_attention_mask, input_ids.size(1) - logits_to_keep, input_ids.size(1)
        )
        batch_size = batch_size or input_ids.size(0)
        chunks = []
        for start in range(0, input_ids.size(0), batch_size):
            rows = slice(start, start + batch_size)
            image_inputs = {
                "pixel_values": pixel_values[rows],
                "aspect_ratio_ids": aspect_ratio_ids[rows],
                "aspect_ratio_mask": aspect_ratio_mask[rows],
                "cross_attention_mask": cross_attention_mask[rows],
            }
            chunks.append(
                super()._get_per_token_logps_and_entropies(
                    functools.partial(model, **image_inputs),
                    input_ids[rows],
                    attention_mask[rows],
                    logits_to_keep,
                    compute_entropy=compute_entropy,
                    compute_aux_loss=compute_aux_loss,
                )
            )
        logps, entropies, aux_losses = zip(*chunks, strict=True)
        return (
            torch.cat(logps),
            torch.cat(entropies) if compute_entropy else None,
            torch.stack(aux_losses).mean() if compute_aux_loss else None,  # TRL's mean over chunks
        )


def full_cross_attention_mask(mask, prompt_length: int, length: int):
    """Mllama's ``cross_attention_mask`` (B, prompt tokens, images, tiles) over the ``length`` tokens
    of prompt and completion.

    A mask shorter than the prompt (TRL's ``pad_to_multiple_of`` pads prompts further) is left-padded
    with zeros; each completion token sees what the last prompt token sees, as transformers' Mllama
    generation extends the mask (``_update_model_kwargs_for_generation``).
    """
    if mask.size(1) < prompt_length:
        mask = torch.cat(
            [mask.new_zeros(mask.size(0), prompt_length - mask.size(1), *mask.shape[2:]), mask], 1
        )
    if mask.size(1) != prompt_length:
        raise ValueError(f"cross_attention_mask covers {mask.size(1)} tokens, the prompts {prompt_length}")
    completion = mask[:, -1:].expand(-1, length - prompt_length, *mask.shape[2:])
    return torch.cat([mask, completion], dim=1)


@contextmanager
def colocated_engine_dtype(dtype) -> Iterator[None]:
    """Start TRL's colocated vLLM engine in ``dtype`` (a torch dtype; None leaves TRL as it is).

    TRL 1.16 builds the engine with vLLM's ``dtype="auto"``, which runs a float32 policy in
    bfloat16: rollouts and the fairness callback's completions would then not be the policy's
    (measured: all 8 of a callback's completions differed from the policy's greedy ones). TRL has
    no setting for it, so the engine constructor it calls gets the dtype for the time TRL builds it.
    """
    import trl.generation.vllm_generation as generation

    if dtype is None or not hasattr(generation, "LLM"):  # no vLLM: TRL refuses use_vllm itself
        yield
        return
    original = generation.LLM
    generation.LLM = functools.partial(original, dtype=str(dtype).removeprefix("torch."))
    try:
        yield
    finally:
        generation.LLM = original
