"""Loading vision-language checkpoints, and building tiny random ones offline.

``load_model_and_processor`` is the one way clinfair loads a VLM (eval, training, demo,
``clinfair check-model``). It works around a trap of CPU-only machines: torchvision has
no CPU build beside torch 2.13, and several families' processors (Qwen2/2.5/3-VL and
SmolVLM carry a video processor; Idefics3's image processor is gated behind torchvision)
then cannot be built by ``AutoProcessor``, which either raises or quietly returns only the
tokenizer. :func:`load_processor` then assembles the family's processor from its PIL
image processor and its tokenizer, without the video processor
(:func:`image_only_processor_class`). A family whose image processor exists only in a
torchvision version gets one clear error naming the missing piece.

``build_tiny_vlm`` makes a random Qwen2.5-VL-shaped model, a byte-level BPE tokenizer
trained on a few strings, and that image-only processor, entirely offline: tests and the
demo use it instead of downloading a checkpoint. ``clinfair.benchmark.zoo`` builds one tiny model
per supported family the same way.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinfair.tasks.prompts import INSTRUCTION, build_prompt
from clinfair.tasks.registry import list_tasks

from clinfair.core.errors import ClinfairError, one_line

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
CHAT_TEMPLATE_DIR = Path(__file__).parent / "chat_templates"


class ModelLoadError(ClinfairError):
    """A checkpoint that does not exist or cannot be loaded as an image-text model."""


@functools.cache
def image_only_processor_class(model_type: str) -> type:
    """The processor class of ``model_type`` without its video processor (which needs torchvision).

    Processors whose ``__init__`` has no video processor are returned as they are.
    """

    import transformers
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    name = PROCESSOR_MAPPING_NAMES.get(model_type)
    if name is None:
        raise ModelLoadError(f"transformers has no processor for model type {model_type!r}")
    base = getattr(transformers, name)
    if "video_processor" not in inspect.signature(base.__init__).parameters:
        return base

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        base.__init__(
            self, image_processor, tokenizer, video_processor=None, chat_template=chat_template, **kwargs
        )

    # The family's own arguments (e.g. SmolVLM's image_seq_len): ProcessorMixin saves those its
    # __init__ names.
    signature = inspect.signature(base.__init__)
    __init__.__signature__ = signature.replace(
        parameters=[p for p in signature.parameters.values() if p.name != "video_processor"]
    )

    def get_attributes(cls):
        return [a for a in base.get_attributes() if a != "video_processor"]

    def to_dict(self):
        # Saved under the family's own processor class, as Hub checkpoints are: where torchvision
        # exists (vLLM's environment) the full processor loads, video processor included.
        output = base.to_dict(self)
        output["processor_class"] = name
        return output

    attributes = {
        "__init__": __init__,
        "get_attributes": classmethod(get_attributes),
        "to_dict": to_dict,
        "__doc__": f"{name} without the video processor.",
    }
    if "self.video_processor." in inspect.getsource(base.apply_chat_template):
        # SmolVLM's apply_chat_template reads video_processor.num_frames and .fps to pass them on,
        # even for an image-only conversation; without a video processor there is no video, and
        # ProcessorMixin's template rendering is what it would run.
        from transformers import ProcessorMixin

        attributes["apply_chat_template"] = ProcessorMixin.apply_chat_template
    return type(f"ImageOnly{name}", (base,), attributes)


def _pil_image_processor_class(model_type: str) -> type:
    """The PIL (torchvision-free) image processor class of ``model_type``, imported from its module."""
    from transformers.models.auto.configuration_auto import model_type_to_module_name
    from transformers.models.auto.image_processing_auto import (
        IMAGE_PROCESSOR_MAPPING_NAMES,
        get_image_processor_class_from_name,
    )

    backends = IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type) or {}
    name = backends.get("pil")
    if name is None:
        only = backends.get("torchvision") or "its image processor"
        raise ModelLoadError(
            f"model type {model_type!r}: {only} exists only in a torchvision version, and torchvision is not "
            "installed (it has no CPU build beside torch 2.13); run on a CUDA host with torchvision"
        )
    # Import it from its own module: transformers' lazy top level can hand back a dummy that demands
    # torchvision for a PIL class (Idefics3's in transformers 5.17).
    for owner, names in IMAGE_PROCESSOR_MAPPING_NAMES.items():
        if names.get("pil") != name:
            continue
        module_name = model_type_to_module_name(owner)
        try:
            module = importlib.import_module(
                f"transformers.models.{module_name}.image_processing_pil_{module_name}"
            )
        except ImportError:
            continue
        if hasattr(module, name):
            return getattr(module, name)
    found = get_image_processor_class_from_name(name)
    if found is None:
        raise ModelLoadError(f"model type {model_type!r}: transformers has no {name}")
    return found


def _processor_kwargs(path_or_id: str | Path, processor_class: type, **hub_kwargs: Any) -> dict[str, Any]:
    """The processor's own settings saved with the checkpoint (e.g. ``image_seq_length``)."""

    try:
        saved, _ = processor_class.get_processor_dict(path_or_id, **hub_kwargs)
    except (OSError, ValueError):
        saved = {}
    accepted = set(inspect.signature(processor_class.__mro__[1].__init__).parameters) | set(
        inspect.signature(processor_class.__init__).parameters
    )
    ignored = {"self", "image_processor", "tokenizer", "video_processor", "chat_template", "kwargs"}
    return {key: value for key, value in saved.items() if key in accepted - ignored}


def assemble_processor(path_or_id: str | Path, model_type: str, **hub_kwargs: Any):
    """The family's processor from its tokenizer and PIL image processor, without a video processor."""
    from transformers import AutoTokenizer

    processor_class = image_only_processor_class(model_type)
    image_processor = _pil_image_processor_class(model_type).from_pretrained(path_or_id, **hub_kwargs)
    tokenizer = AutoTokenizer.from_pretrained(path_or_id, **hub_kwargs)
    kwargs = _processor_kwargs(path_or_id, processor_class, **hub_kwargs)
    return processor_class(image_processor, tokenizer, chat_template=tokenizer.chat_template, **kwargs)


def load_processor(path_or_id: str | Path, trust_remote_code: bool = False, **hub_kwargs: Any):
    """``AutoProcessor``, or the family's processor assembled without torchvision where it fails."""
    from transformers import AutoConfig, AutoProcessor, ProcessorMixin

    config = AutoConfig.from_pretrained(path_or_id, trust_remote_code=trust_remote_code, **hub_kwargs)
    try:
        processor = AutoProcessor.from_pretrained(
            path_or_id, trust_remote_code=trust_remote_code, **hub_kwargs
        )
    except (ImportError, ValueError, OSError, TypeError, AttributeError):
        processor = None
    if isinstance(processor, ProcessorMixin) and getattr(processor, "image_processor", None) is not None:
        return processor
    if getattr(config, "vision_config", None) is None:
        raise ModelLoadError(
            f"{path_or_id} is not a vision-language model (model type {config.model_type!r} has no vision "
            "encoder); clinfair evaluates image-text-to-text checkpoints"
        )
    try:
        return assemble_processor(path_or_id, config.model_type, **hub_kwargs)
    except (ImportError, ValueError, OSError, TypeError) as error:
        raise ModelLoadError(
            f"{path_or_id}: no image processor could be built for model type {config.model_type!r}: "
            f"{one_line(error)}"
        ) from None


def load_model_and_processor(
    path_or_id: str | Path,
    *,
    dtype: str = "auto",
    device: str | None = None,
    trust_remote_code: bool = False,
    revision: str | None = None,
):
    """Load an image-text-to-text model and its processor for generation.

    Raises :class:`ModelLoadError` with one clear line when the path or id cannot be
    loaded (missing folder, no Hub access, not a vision-language model).
    """
    import torch
    from transformers import AutoModelForImageTextToText

    hub_kwargs = {"revision": revision} if revision else {}
    local = Path(path_or_id)
    if not local.exists() and (str(path_or_id).startswith((".", "/")) or str(path_or_id).count("/") > 1):
        raise ModelLoadError(f"model path {path_or_id} does not exist")
    try:
        processor = load_processor(path_or_id, trust_remote_code=trust_remote_code, **hub_kwargs)
        torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        model = AutoModelForImageTextToText.from_pretrained(
            path_or_id, dtype=torch_dtype, trust_remote_code=trust_remote_code, **hub_kwargs
        )
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"cannot load {path_or_id}: {one_line(error)}") from None
    if device:
        model.to(device)
    model.eval()
    processor.tokenizer.padding_side = "left"  # generation appends on the right
    return model, processor


@dataclass(frozen=True)
class TinyVLMConfig:
    """Sizes of the tiny random model: small enough for a few CPU training steps a second."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    vision_hidden_size: int = 32
    vision_depth: int = 1
    vocab_size: int = 600
    image_size: int = 112  # pixels per side the processor resizes to: 8x8 patches of 14 -> 16 merged tokens
    seed: int = 0


def _tokenizer_corpus() -> list[str]:

    corpus = [
        INSTRUCTION,
        "<think>",
        "</think>",
        "\\boxed{",
        "}",
        "You are a helpful assistant.",
        "system\n",
        "user\n",
        "assistant\n",
        "The lesion looks dark and red, so it is malignant.",
        "The lesion looks light, so it is benign.",
    ]
    for spec in list_tasks():
        corpus.append(build_prompt(spec.question, spec.choices, spec.multi_label))
        corpus += [f"<think>{c}</think>\\boxed{{{c}}}" for c in spec.choices]
    return corpus


def save_video_processor(out_dir: Path, class_name: str, **settings: Any) -> None:
    """Save the family's video processor settings as its Hub checkpoints do.

    Video processors need torchvision, which clinfair's CPU environment lacks (it loads an
    image-only processor and ignores this file); vLLM loads the family's full processor, video
    processor included, and fails on a checkpoint without one. The file is what
    ``save_pretrained`` writes: the class name and the settings that differ from its defaults.
    """

    config = {"video_processor_type": class_name, "processor_class": class_name.replace("Video", "")}
    (out_dir / "video_preprocessor_config.json").write_text(
        json.dumps({**config, **settings}, indent=2) + "\n"
    )


def build_tiny_tokenizer(
    vocab_size: int = 600,
    *,
    specials: Sequence[str] = SPECIAL_TOKENS,
    eos: str = "<|im_end|>",
    pad: str = "<|endoftext|>",
    bos: str | None = None,
    named: dict[str, str] | None = None,
):
    """A byte-level BPE tokenizer trained on a few strings, with ``specials`` as atomic tokens.

    The defaults are Qwen's special tokens; ``named`` gives a family's named tokens (e.g.
    ``{"image_token": "<image>"}``), which become tokenizer attributes as on the Hub.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_tokenizer_corpus() * 4, trainer)
    others = [token for token in specials if token not in (pad, bos)]
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=eos,
        pad_token=pad,
        bos_token=bos,
        additional_special_tokens=others,
        extra_special_tokens=dict(named or {}),
    )


def clinfair_chat_template(name: str) -> str:
    """A chat template shipped with clinfair (``benchmark/chat_templates/<name>.jinja``)."""
    return (CHAT_TEMPLATE_DIR / f"{name}.jinja").read_text()


def trl_chat_template(name: str = "qwen2_5_vl") -> str:
    """A chat template file shipped with TRL (``trl/chat_templates/<name>.jinja``)."""
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / f"{name}.jinja").read_text()


def build_tiny_vlm(out_dir: str | Path, config: TinyVLMConfig = TinyVLMConfig()) -> Path:
    """Build and save a tiny random Qwen2.5-VL model, tokenizer and image-only processor.

    The folder loads again with :func:`load_model_and_processor`. Nothing is downloaded.
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    out_dir = Path(out_dir)
    tokenizer = build_tiny_tokenizer(config.vocab_size)
    chat_template = trl_chat_template("qwen2_5_vl")
    tokenizer.chat_template = chat_template
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    pixels = config.image_size**2
    image_processor = Qwen2VLImageProcessorPil(
        size={"shortest_edge": pixels, "longest_edge": pixels},
        patch_size=14,
        merge_size=2,
        temporal_patch_size=2,
    )
    processor = image_only_processor_class("qwen2_5_vl")(
        image_processor, tokenizer, chat_template=chat_template
    )
    head_dim = config.hidden_size // config.num_heads
    section = head_dim // 2  # mrope sections (temporal, height, width) must sum to head_dim / 2
    mrope = [section - 2 * (section // 3), section // 3, section // 3]
    model_config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": config.hidden_size,
            "intermediate_size": 2 * config.hidden_size,
            "num_hidden_layers": config.num_layers,
            "num_attention_heads": config.num_heads,
            "num_key_value_heads": config.num_heads,
            "max_position_embeddings": 4096,
            "bos_token_id": None,  # the BPE tokenizer has no BOS
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
            "rope_parameters": {"rope_type": "default", "mrope_section": mrope, "rope_theta": 10000.0},
        },
        vision_config={
            "depth": config.vision_depth,
            "hidden_size": config.vision_hidden_size,
            "intermediate_size": 2 * config.vision_hidden_size,
            "num_heads": 2,
            "out_hidden_size": config.hidden_size,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [0],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(config.seed)
    model = Qwen2_5_VLForConditionalGeneration(model_config)
    model.generation_config = GenerationConfig(
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=None,
        do_sample=False,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    save_video_processor(
        out_dir,
        "Qwen2VLVideoProcessor",
        size={"shortest_edge": pixels, "longest_edge": pixels},
        patch_size=14,
        merge_size=2,
        temporal_patch_size=2,
    )
    return out_dir
