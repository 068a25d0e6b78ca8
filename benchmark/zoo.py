"""A zoo of tiny random vision-language models, one per supported family, built offline.

Each family is built from its transformers config with tiny sizes, a byte-level BPE
tokenizer carrying the family's special tokens, the family's PIL image processor (no
torchvision needed) and its processor, and saved like a Hub checkpoint. The chat template
is TRL's shipped one for the family where TRL has one (``trl/chat_templates``), clinfair's
own where the family's checkpoints ship one that TRL lacks (LLaVA-1.5), and none for
PaliGemma, whose pt/mix checkpoints have none (which exercises the plain-prompt path).

Tests evaluate and train every family of :data:`ZOO` (``tests/test_zoo.py``), so "any VLM"
is a tested contract; the README's support table is checked against this registry.

    from clinfair.benchmark.zoo import build_tiny_family
    build_tiny_family("gemma3", "tiny-gemma3")   # MedGemma's architecture, ~1 MB
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinfair.benchmark.models import (
    SPECIAL_TOKENS,
    TinyVLMConfig,
    build_tiny_tokenizer,
    build_tiny_vlm,
    clinfair_chat_template,
    image_only_processor_class,
    save_video_processor,
    trl_chat_template,
)
from tokenizers import AddedToken

from clinfair.core.errors import ClinfairError

#: Text sizes shared by every family: small enough for a few CPU training steps a second. Two heads
#: give head_dim 32: vLLM's CPU attention takes head sizes of 32, 64, 80 and up (16 is refused).
HIDDEN, LAYERS, HEADS, VOCAB = 64, 2, 2, 600
IMAGE_SIZE = 112  # pixels per side the image processors resize to
#: transformers 5 saves a CLIP or SigLIP tower as ``vision_tower.embeddings...``; the Hub's LLaVA,
#: Gemma3 and PaliGemma checkpoints (and vLLM's loaders) have ``vision_tower.vision_model.embeddings...``.
VISION_TOWER_HUB_NAMES = {"vision_tower.": "vision_tower.vision_model."}


@dataclass(frozen=True)
class ZooFamily:
    """One model family of the zoo: how to build it, and what the support table says."""

    name: str  # the key: build_tiny_family(name, ...)
    label: str  # as the README's support table names it
    model_type: str  # config.model_type of the saved checkpoint
    build: Callable[[Path, int], None]
    notes: str = ""


def _tokenizer(specials: Sequence[str], eos: str, pad: str, bos: str | None = None, **named: str):
    """The tiny BPE tokenizer with ``specials`` as atomic tokens, and their ids by token;
    ``named`` sets e.g. ``image_token``."""
    tokenizer = build_tiny_tokenizer(VOCAB, specials=specials, eos=eos, pad=pad, bos=bos, named=named)
    return tokenizer, {token: tokenizer.convert_tokens_to_ids(token) for token in specials}


def _with_newline_token(tokenizer) -> None:
    """Gemma's real tokenizers have runs of newlines (``"\\n"``, ``"\\n\\n"``, ...) as tokens of their own
    (vLLM's Gemma3 and PaliGemma processors look them up); a byte-level BPE spells them ``Ċ``, so add
    them as Gemma has them."""

    newlines = ["\n" * count for count in range(1, 32)]  # Gemma has runs of 1 to 31 newlines as tokens
    tokenizer.add_tokens([AddedToken(text, normalized=False, special=False) for text in newlines])


def _hub_weight_names(out_dir: Path, renames: dict[str, str]) -> None:
    """Rename weights of the saved ``model.safetensors`` by prefix to the names the family's Hub
    checkpoints use (transformers loads either; vLLM's loaders want the Hub's)."""
    from safetensors.torch import load_file, save_file

    path = out_dir / "model.safetensors"
    tensors = load_file(path)
    renamed = {}
    for name, tensor in tensors.items():
        for old, new in renames.items():
            if name.startswith(old) and not name.startswith(new):
                name = new + name[len(old) :]
                break
        renamed[name] = tensor
    save_file(renamed, path, metadata={"format": "pt"})


def _save(out_dir: Path, model, processor, eos_ids: list[int], pad_id: int, bos_id: int | None) -> None:
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        eos_token_id=eos_ids, pad_token_id=pad_id, bos_token_id=bos_id, do_sample=False
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)


def _text_config(tokenizer, eos_id: int, pad_id: int, bos_id: int | None, **extra: Any) -> dict[str, Any]:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": HEADS,
        "max_position_embeddings": 4096,
        "eos_token_id": eos_id,
        "pad_token_id": pad_id,
        "bos_token_id": bos_id,
        **extra,
    }


def _siglip_vision(image_size: int = IMAGE_SIZE, patch_size: int = 14) -> dict[str, Any]:
    return {
        "vision_use_head": False,  # as Gemma3's and PaliGemma's SigLIP towers (no pooling head weights)
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "image_size": image_size,
        "patch_size": patch_size,
    }


def _model(config, seed: int):
    import torch
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(seed)
    return AutoModelForImageTextToText.from_config(config)


# -- Qwen2-VL and Qwen3-VL (Qwen2.5-VL is clinfair.benchmark.models.build_tiny_vlm) ------------------------------


def _build_qwen(
    out_dir: Path,
    seed: int,
    model_type: str,
    template: str,
    patch_size: int,
    vision_config: dict[str, Any],
    **text_extra: Any,
) -> None:
    """A tiny Qwen-VL of ``model_type``: Qwen's special tokens, 4x4 patches merged 2x2 (4 image tokens)."""
    from transformers import AutoConfig
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tokenizer, ids = _tokenizer(SPECIAL_TOKENS, eos="<|im_end|>", pad="<|endoftext|>")
    image_processor = Qwen2VLImageProcessorPil(**_qwen_pixels(patch_size))
    processor = image_only_processor_class(model_type)(image_processor, tokenizer, chat_template=template)
    section = HIDDEN // HEADS // 2  # mrope sections (temporal, height, width) sum to head_dim / 2
    rope = {
        "rope_type": "default",
        "mrope_section": [section - 2 * (section // 3), section // 3, section // 3],
        "rope_theta": 10000.0,
        **text_extra.pop("rope_extra", {}),
    }
    config = AutoConfig.for_model(
        model_type,
        text_config=_text_config(
            tokenizer, ids["<|im_end|>"], ids["<|endoftext|>"], None, rope_parameters=rope, **text_extra
        ),
        vision_config={
            "depth": 1,
            "num_heads": 2,
            "patch_size": patch_size,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            **vision_config,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    eos = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    _save(out_dir, _model(config, seed), processor, eos, ids["<|endoftext|>"], None)
    video_class = "Qwen3VLVideoProcessor" if model_type == "qwen3_vl" else "Qwen2VLVideoProcessor"
    save_video_processor(out_dir, video_class, **_qwen_pixels(patch_size))


def _qwen_pixels(patch_size: int) -> dict[str, Any]:
    """The Qwen image and video processors' settings: 4x4 patches, merged 2x2 into 4 tokens."""
    pixels = (4 * patch_size) ** 2
    return {
        "size": {"shortest_edge": pixels, "longest_edge": pixels},
        "patch_size": patch_size,
        "merge_size": 2,
        "temporal_patch_size": 2,
    }


def _build_qwen2_vl(out_dir: Path, seed: int) -> None:
    # Qwen2-VL's chat template is Qwen2.5-VL's format
    _build_qwen(
        out_dir,
        seed,
        "qwen2_vl",
        trl_chat_template("qwen2_5_vl"),
        patch_size=14,
        vision_config={"embed_dim": 32, "hidden_size": HIDDEN, "mlp_ratio": 2},
    )


def _build_qwen3_vl(out_dir: Path, seed: int) -> None:
    _build_qwen(
        out_dir,
        seed,
        "qwen3_vl",
        trl_chat_template("qwen3_vl"),
        patch_size=16,
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "out_hidden_size": HIDDEN,
            "num_position_embeddings": 16,
            "deepstack_visual_indexes": [0],
        },
        head_dim=HIDDEN // HEADS,
        rope_extra={"mrope_interleaved": True},
    )


# -- Gemma3 (MedGemma) and PaliGemma ----------------------------------------------------------------------


def _build_gemma3(out_dir: Path, seed: int) -> None:
    from transformers import Gemma3Config, Gemma3Processor
    from transformers.models.gemma3.image_processing_pil_gemma3 import Gemma3ImageProcessorPil

    specials = [
        "<pad>",
        "<eos>",
        "<bos>",
        "<start_of_turn>",
        "<end_of_turn>",
        "<start_of_image>",
        "<end_of_image>",
        "<image_soft_token>",
    ]
    tokenizer, ids = _tokenizer(
        specials,
        eos="<eos>",
        pad="<pad>",
        bos="<bos>",
        boi_token="<start_of_image>",
        eoi_token="<end_of_image>",
        image_token="<image_soft_token>",
    )
    _with_newline_token(tokenizer)
    image_processor = Gemma3ImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    processor = Gemma3Processor(
        image_processor, tokenizer, chat_template=trl_chat_template("gemma3"), image_seq_length=16
    )
    config = Gemma3Config(
        text_config=_text_config(
            tokenizer,
            ids["<eos>"],
            ids["<pad>"],
            ids["<bos>"],
            head_dim=HIDDEN // HEADS,
            query_pre_attn_scalar=HIDDEN // HEADS,
            sliding_window=64,
        ),
        vision_config=_siglip_vision(),
        mm_tokens_per_image=16,  # 8x8 patches pooled to 4x4
        boi_token_index=ids["<start_of_image>"],
        eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
    )
    _save(
        out_dir,
        _model(config, seed),
        processor,
        [ids["<eos>"], ids["<end_of_turn>"]],
        ids["<pad>"],
        ids["<bos>"],
    )
    _hub_weight_names(out_dir, VISION_TOWER_HUB_NAMES)


def _build_paligemma(out_dir: Path, seed: int) -> None:
    from transformers import PaliGemmaConfig, PaliGemmaProcessor
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    specials = ["<pad>", "<eos>", "<bos>", "<image>"]
    tokenizer, ids = _tokenizer(specials, eos="<eos>", pad="<pad>", bos="<bos>", image_token="<image>")
    _with_newline_token(tokenizer)
    image_processor = SiglipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    image_processor.image_seq_length = 64  # 8x8 patches of 14, no pooling
    processor = PaliGemmaProcessor(image_processor, tokenizer)  # pt/mix checkpoints ship no chat template
    config = PaliGemmaConfig(
        text_config=_text_config(
            tokenizer, ids["<eos>"], ids["<pad>"], ids["<bos>"], head_dim=HIDDEN // HEADS, model_type="gemma"
        ),
        vision_config={**_siglip_vision(), "projection_dim": HIDDEN},
        image_token_index=ids["<image>"],
        projection_dim=HIDDEN,
        hidden_size=HIDDEN,
    )
    _save(out_dir, _model(config, seed), processor, [ids["<eos>"]], ids["<pad>"], ids["<bos>"])
    _hub_weight_names(out_dir, VISION_TOWER_HUB_NAMES)


# -- LLaVA-1.5 and LLaVA-NeXT -----------------------------------------------------------------------------

LLAVA_SPECIALS = ["<unk>", "<s>", "</s>", "<image>"]


def _llava_text(tokenizer, ids) -> dict[str, Any]:
    return _text_config(tokenizer, ids["</s>"], ids["<unk>"], ids["<s>"], model_type="llama")


def _clip_vision() -> dict[str, Any]:
    return {
        "model_type": "clip_vision_model",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": IMAGE_SIZE,
        "patch_size": 14,
        "projection_dim": 32,
    }


def _build_llava(out_dir: Path, seed: int) -> None:
    from transformers import LlavaConfig, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer, ids = _tokenizer(LLAVA_SPECIALS, eos="</s>", pad="<unk>", bos="<s>", image_token="<image>")
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    processor = LlavaProcessor(
        image_processor,
        tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=clinfair_chat_template("llava"),
    )
    config = LlavaConfig(
        text_config=_llava_text(tokenizer, ids),
        vision_config=_clip_vision(),
        image_token_index=ids["<image>"],
        image_seq_length=64,
        vision_feature_layer=-1,
    )
    _save(out_dir, _model(config, seed), processor, [ids["</s>"]], ids["<unk>"], ids["<s>"])
    _hub_weight_names(out_dir, VISION_TOWER_HUB_NAMES)


def _build_llava_next(out_dir: Path, seed: int) -> None:
    from transformers import LlavaNextConfig, LlavaNextProcessor
    from transformers.models.llava_next.image_processing_pil_llava_next import LlavaNextImageProcessorPil

    tokenizer, ids = _tokenizer(LLAVA_SPECIALS, eos="</s>", pad="<unk>", bos="<s>", image_token="<image>")
    pinpoints = [[IMAGE_SIZE, IMAGE_SIZE]]  # one tile plus the base image: 2 x 64 tokens at most
    image_processor = LlavaNextImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        image_grid_pinpoints=pinpoints,
    )
    processor = LlavaNextProcessor(
        image_processor,
        tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=trl_chat_template("llava_next"),
    )
    config = LlavaNextConfig(
        text_config=_llava_text(tokenizer, ids),
        vision_config=_clip_vision(),
        image_token_index=ids["<image>"],
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-1,
    )
    _save(out_dir, _model(config, seed), processor, [ids["</s>"]], ids["<unk>"], ids["<s>"])
    _hub_weight_names(out_dir, VISION_TOWER_HUB_NAMES)


# -- Idefics3 (the architecture of SmolVLM's first releases) ----------------------------------------------


IDEFICS_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<end_of_utterance>",
    "<fake_token_around_image>",
    "<image>",
    "<global-img>",
]
IDEFICS_SIDE = 64  # one 64-pixel image of 16-pixel patches, pixel-shuffled by 2: 4 tokens


def _build_idefics(
    out_dir: Path, seed: int, config_class, image_processor_class, processor_class, template: str
) -> None:
    """Idefics3's architecture, as Idefics3 and SmolVLM2 ship it (each with its own classes)."""
    tokenizer, ids = _tokenizer(
        IDEFICS_SPECIALS,
        eos="<end_of_utterance>",
        pad="<|endoftext|>",
        bos="<|im_start|>",
        image_token="<image>",
    )
    side = IDEFICS_SIDE
    image_processor = image_processor_class(
        size={"longest_edge": side}, max_image_size={"longest_edge": side}, do_image_splitting=False
    )
    processor = processor_class(image_processor, tokenizer, image_seq_len=4, chat_template=template)
    config = config_class(
        text_config=_text_config(
            tokenizer,
            ids["<end_of_utterance>"],
            ids["<|endoftext|>"],
            ids["<|im_start|>"],
            model_type="llama",
        ),
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": side,
            "patch_size": 16,
        },
        image_token_id=ids["<image>"],
        scale_factor=2,
        pad_token_id=ids["<|endoftext|>"],
    )
    _save(
        out_dir,
        _model(config, seed),
        processor,
        [ids["<end_of_utterance>"]],
        ids["<|endoftext|>"],
        ids["<|im_start|>"],
    )


def _build_idefics3(out_dir: Path, seed: int) -> None:
    from transformers import Idefics3Config, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    _build_idefics(
        out_dir,
        seed,
        Idefics3Config,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
        trl_chat_template("idefics3"),
    )


def _build_smolvlm(out_dir: Path, seed: int) -> None:
    """SmolVLM2 (``model_type: smolvlm``): Idefics3's architecture with SmolVLM's processor."""
    from transformers import SmolVLMConfig
    from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil

    processor_class = image_only_processor_class("smolvlm")
    _build_idefics(
        out_dir, seed, SmolVLMConfig, SmolVLMImageProcessorPil, processor_class, trl_chat_template("smolvlm")
    )
    save_video_processor(
        out_dir,
        "SmolVLMVideoProcessor",
        size={"longest_edge": IDEFICS_SIDE},
        max_image_size={"longest_edge": IDEFICS_SIDE},
        do_image_splitting=False,
    )


def _build_mllama(out_dir: Path, seed: int) -> None:
    """Llama-3.2-Vision (``model_type: mllama``): images reach the text model through cross-attention."""
    from transformers import MllamaConfig, MllamaProcessor
    from transformers.models.mllama.image_processing_pil_mllama import MllamaImageProcessorPil

    specials = [
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eot_id|>",
        "<|finetune_right_pad_id|>",
        "<|python_tag|>",
        "<|image|>",
    ]
    tokenizer, ids = _tokenizer(
        specials,
        eos="<|eot_id|>",
        pad="<|finetune_right_pad_id|>",
        bos="<|begin_of_text|>",
        image_token="<|image|>",
    )
    image_processor = MllamaImageProcessorPil(size={"height": 56, "width": 56}, max_image_tiles=1)
    processor = MllamaProcessor(image_processor, tokenizer, chat_template=clinfair_chat_template("mllama"))
    text = _text_config(
        tokenizer, ids["<|eot_id|>"], ids["<|finetune_right_pad_id|>"], ids["<|begin_of_text|>"]
    )
    text.update(
        cross_attention_layers=[1], num_hidden_layers=LAYERS + 1
    )  # one self- and one cross-attention layer
    config = MllamaConfig(
        text_config=text,
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_global_layers": 1,
            "attention_heads": 2,
            "vision_output_dim": 64,  # hidden_size x (1 + len(intermediate_layers_indices))
            "intermediate_layers_indices": [0],
            "image_size": 56,
            "patch_size": 14,
            "max_num_tiles": 1,
            "supported_aspect_ratios": [[1, 1]],
        },
        image_token_index=ids["<|image|>"],
    )
    model = _model(config, seed)
    # A fresh Mllama initialises its cross-attention gates to 0 (tanh(0) = 0), which hides the image from
    # the text model; trained checkpoints have them open, so the zoo's do too.
    for name, parameter in model.named_parameters():
        if name.endswith(("cross_attn_attn_gate", "cross_attn_mlp_gate")):
            parameter.data.fill_(1.0)
    _save(
        out_dir,
        model,
        processor,
        [ids["<|eot_id|>"], ids["<|end_of_text|>"]],
        ids["<|finetune_right_pad_id|>"],
        ids["<|begin_of_text|>"],
    )


def _build_qwen2_5_vl(out_dir: Path, seed: int) -> None:

    build_tiny_vlm(out_dir, TinyVLMConfig(num_heads=HEADS, seed=seed))  # the zoo's head_dim (32)


ZOO: dict[str, ZooFamily] = {
    family.name: family
    for family in (
        ZooFamily(
            "gemma3",
            "Gemma3 (MedGemma)",
            "gemma3",
            _build_gemma3,
            "one image list per prompt; the FairGRPO paper's MedGemma-4B-IT",
        ),
        ZooFamily("qwen2_vl", "Qwen2-VL", "qwen2_vl", _build_qwen2_vl, "image-only processor on CPU"),
        ZooFamily(
            "qwen2_5_vl",
            "Qwen2.5-VL",
            "qwen2_5_vl",
            _build_qwen2_5_vl,
            "image-only processor on CPU; the paper's Qwen2.5-VL-7B",
        ),
        ZooFamily(
            "qwen3_vl",
            "Qwen3-VL",
            "qwen3_vl",
            _build_qwen3_vl,
            "image-only processor on CPU; thinking template (base of QoQ-Med3-VL)",
        ),
        ZooFamily(
            "idefics3",
            "Idefics3 / SmolVLM",
            "idefics3",
            _build_idefics3,
            "PIL image processor imported from its module on CPU",
        ),
        ZooFamily(
            "llava", "LLaVA-1.5", "llava", _build_llava, "clinfair's LLaVA-1.5 chat template in the zoo"
        ),
        ZooFamily("llava_next", "LLaVA-NeXT", "llava_next", _build_llava_next, ""),
        ZooFamily(
            "paligemma", "PaliGemma", "paligemma", _build_paligemma, "no chat template: plain-prompt fallback"
        ),
        ZooFamily(
            "smolvlm",
            "SmolVLM2",
            "smolvlm",
            _build_smolvlm,
            "image-only processor on CPU (its video processor needs torchvision)",
        ),
        ZooFamily(
            "mllama",
            "Llama-3.2-Vision (Mllama)",
            "mllama",
            _build_mllama,
            "cross-attention to the image; clinfair's Llama-3 chat template in the zoo",
        ),
    )
}


def build_tiny_family(name: str, out_dir: str | Path, seed: int = 0) -> Path:
    """Build and save the tiny random model of family ``name`` (a key of :data:`ZOO`)."""
    if name not in ZOO:
        raise ClinfairError(f"unknown zoo family {name!r}; choose one of {', '.join(ZOO)}")
    out_dir = Path(out_dir)
    ZOO[name].build(out_dir, seed)
    return out_dir
