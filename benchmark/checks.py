"""Will this checkpoint work? One 2-row batch with images through the real loading and generation path.

:func:`check_model` is what ``clinfair check-model`` prints; :func:`preflight` is the same
batch test run by ``clinfair eval`` and ``clinfair train`` right after loading, on the
task's own rows, so that a processor that cannot take the task's images fails in one clear
line before anything is written, instead of as a traceback mid-run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinfair.benchmark.generation import Backend, GenerationInputError, GenerationSettings, HFBackend
from clinfair.benchmark.models import ModelLoadError
from clinfair.tasks.prepare import task_rows
from clinfair.tasks.prompts import parse_answer
from clinfair.tasks.registry import get_task
from PIL import Image

from clinfair.core.errors import ClinfairError, one_line


class CheckFailed(ClinfairError):
    """The checkpoint cannot run clinfair's batches; the message says why and what to do."""


@dataclass
class ModelCheck:
    """The outcome of :func:`check_model`: a few lines for a person, and whether it works."""

    model: str
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    def render(self) -> str:
        if not self.ok:
            verdict = "FAIL"
        else:
            verdict = "OK: works with clinfair eval and train"
        return "\n".join(
            [f"checking {self.model}", *(f"  {line}" for line in self.lines), f"verdict: {verdict}"]
        )


def probe_rows(rows: int = 2, images_per_row: int = 2) -> list[dict[str, Any]]:
    """Schema rows with generated images of different sizes (nothing is read from disk)."""

    spec = get_task("synthetic")
    colours = [(200, 40, 40), (40, 40, 200), (40, 160, 40), (220, 200, 60)]
    return [
        {
            "id": f"probe-{i}",
            "question": spec.question,
            "choices": list(spec.choices),
            "answer": [spec.choices[0]],
            "images": [
                Image.new("RGB", (64 + 16 * j, 48 + 8 * i), colours[(i + j) % 4])
                for j in range(images_per_row)
            ],
        }
        for i in range(rows)
    ]


def preflight(backend: Backend, rows: Sequence[dict[str, Any]], multi_label: bool = False) -> list[str]:
    """Generate for ``rows`` (one batch); :class:`CheckFailed` with one clear line if the model cannot."""
    from jinja2 import TemplateError

    try:
        completions = backend.generate(list(rows), multi_label)
    except GenerationInputError as error:
        raise CheckFailed(str(error)) from None
    except TemplateError as error:  # a chat template that does not parse, or fails on clinfair's conversation
        raise CheckFailed(f"the chat template failed: {type(error).__name__}: {one_line(error)}") from None
    except (RuntimeError, ValueError, TypeError, IndexError) as error:
        model = getattr(backend, "model_id", "the model")
        raise CheckFailed(f"{model} failed on a batch of {len(rows)} rows: {one_line(error)}") from None
    if len(completions) != len(rows):
        raise CheckFailed(f"the backend returned {len(completions)} completions for {len(rows)} rows")
    return completions


def preflight_tasks(
    backend: Backend, tasks: Sequence[str], data_dir: str | Path, split: str, rows: int = 2
) -> None:
    """:func:`preflight` on the first ``rows`` rows of each task's prepared ``split``: the images
    and prompts the run will really send (a two-image CT row, several ultrasound frames)."""

    for task in tasks:
        spec = get_task(task)
        preflight(backend, list(task_rows(spec, Path(data_dir), split, rows)), spec.multi_label)


def check_model(
    path_or_id: str,
    *,
    images_per_row: int = 2,
    backend: str = "hf",
    chat_template: str | None = None,
    max_new_tokens: int = 16,
    **load_kwargs: Any,
) -> ModelCheck:
    """Load ``path_or_id`` as clinfair does and run one 2-row batch with ``images_per_row`` images each."""
    from clinfair.benchmark.generation import make_backend

    check = ModelCheck(str(path_or_id))
    settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=2)
    try:
        loaded = make_backend(
            backend,
            str(path_or_id),
            settings,
            chat_template=chat_template,
            max_images=max(4, images_per_row),
            **load_kwargs,
        )
    except (ModelLoadError, ImportError) as error:
        check.ok = False
        check.lines.append(f"load: {error}")
        return check
    if isinstance(loaded, HFBackend):  # vLLM's engine hides the model and processor
        model, processor = loaded.model, loaded.processor
        parameters = sum(p.numel() for p in model.parameters())
        check.lines.append(
            f"model: {type(model).__name__} (model type {model.config.model_type}, "
            f"{parameters / 1e6:.1f}M parameters, {str(model.dtype).removeprefix('torch.')})"
        )
        check.lines.append(
            f"processor: {type(processor).__name__} with {type(processor.image_processor).__name__}"
        )
        if loaded.plain_prompt:
            check.lines.append(
                "prompt: no chat template, so the plain prompt (image tokens, then the question); "
                "pass --chat-template FILE to use a conversation format"
            )
        else:
            source = "--chat-template" if chat_template else "the checkpoint's chat template"
            check.lines.append(f"prompt: {source}")
    rows = probe_rows(2, images_per_row)
    start = time.perf_counter()
    try:
        completions = preflight(loaded, rows)
    except CheckFailed as error:
        check.ok = False
        check.lines.append(f"generation: {error}")
        return check
    valid = sum(parse_answer(text, row["choices"]) is not None for text, row in zip(completions, rows))
    check.lines.append(
        f"generation: 2 rows x {images_per_row} image(s) -> 2 completions in "
        f"{time.perf_counter() - start:.1f} s; {valid}/2 parsable answers "
        "(an untrained or random model may write none)"
    )
    return check
